//! IMAP URLs (RFC 5092) naming a message or a part of one, as CATENATE's
//! `URL` parts use them (RFC 4469 §5): the absolute form
//! `imap://user@host/INBOX;UIDVALIDITY=n/;UID=n/;SECTION=1.2/;PARTIAL=0.10`
//! and the path-absolute relative form `/INBOX/;UID=n...`.
//!
//! Only what names one message is accepted (`imessagepart`); a message
//! list, a search, a bare mailbox or a URLAUTH-authorized URL is not, and the
//! caller answers `NO [BADURL]`. Parameter names are case-insensitive (ABNF
//! strings are), percent-escapes are decoded, and the section is parsed with
//! FETCH's `section-spec` grammar, which RFC 5092's `enc-section` encodes.
//! Whether the URL points at *this* server and user is the caller's question.

use super::ast::Section;
use super::fetch::section_spec;

/// The parts of an IMAP URL that name one message (or part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageUrl {
    /// `enc-user` of an absolute URL, decoded; `None` in a relative URL.
    pub user: Option<Vec<u8>>,
    /// `host` of an absolute URL (without port), as written.
    pub host: Option<String>,
    /// The mailbox name, percent-decoded (UTF-8, RFC 5092 §5).
    pub mailbox: Vec<u8>,
    /// `;UIDVALIDITY=`: the mailbox must have this UIDVALIDITY.
    pub uid_validity: Option<u32>,
    pub uid: u32,
    /// `;SECTION=`; `None` is the whole message.
    pub section: Option<Section>,
    /// `;PARTIAL=offset[.length]`: octets of the section from `offset`.
    pub partial: Option<(u32, Option<u32>)>,
}

/// Parses `url` (the decoded `astring` of a CATENATE `URL` part).
/// `None` when it is not an IMAP URL naming one message.
///
/// ```text
/// imapurl       = "imap://" iserver ipath-query
/// iserver       = [iuserinfo "@"] host [":" port]
/// iuserinfo     = enc-user [iauth] / [enc-user] iauth
/// imessagepart  = imailbox-ref iuid [isection] [ipartial] [iurlauth]
/// imailbox-ref  = enc-mailbox [uidvalidity]
/// uidvalidity   = ";UIDVALIDITY=" nz-number
/// iuid          = "/" iuid-only        ; iuid-only = ";UID=" nz-number
/// isection      = "/" isection-only    ; isection-only = ";SECTION=" enc-section
/// ipartial      = "/" ipartial-only    ; ipartial-only = ";PARTIAL=" partial-range
/// partial-range = number ["." nz-number]
/// ```
pub fn message_url(url: &[u8]) -> Option<MessageUrl> {
    let (user, host, path) = match strip_prefix_ignore_case(url, b"imap://") {
        Some(rest) => {
            let slash = rest.iter().position(|&b| b == b'/')?;
            let (server, path) = rest.split_at(slash);
            let (user, host) = iserver(server)?;
            (user, Some(host), path)
        }
        None => (None, None, url),
    };
    let path = path.strip_prefix(b"/")?;
    let mut segments = path.split(|&b| b == b'/');
    let (mailbox, uid_validity) = imailbox_ref(segments.next()?)?;
    let uid = nz_number(param(segments.next()?, b";UID=")?)?;
    let mut section = None;
    let mut partial = None;
    let mut next = segments.next();
    if let Some(value) = next.and_then(|s| param(s, b";SECTION=")) {
        let decoded = percent_decode(value)?;
        section = Some(match section_spec(&decoded) {
            Ok((&[], s)) => s,
            _ => return None,
        });
        next = segments.next();
    }
    if let Some(value) = next.and_then(|s| param(s, b";PARTIAL=")) {
        partial = Some(partial_range(value)?);
        next = segments.next();
    }
    // Anything else (;URLAUTH=, a trailing segment) is not for us.
    if next.is_some() {
        return None;
    }
    Some(MessageUrl {
        user,
        host,
        mailbox,
        uid_validity,
        uid,
        section,
        partial,
    })
}

/// `iserver = [iuserinfo "@"] host [":" port]`; `;AUTH=` is accepted and
/// ignored (the session is already authenticated).
fn iserver(server: &[u8]) -> Option<(Option<Vec<u8>>, String)> {
    let (userinfo, hostport) = match server.iter().rposition(|&b| b == b'@') {
        Some(at) => (Some(server.get(..at)?), server.get(at + 1..)?),
        None => (None, server),
    };
    let user = match userinfo {
        None => None,
        Some(info) => {
            let name = match find_ignore_case(info, b";AUTH=") {
                Some(at) => info.get(..at)?,
                None => info,
            };
            (!name.is_empty()).then(|| percent_decode(name)).flatten()
        }
    };
    let host = match hostport.iter().rposition(|&b| b == b':') {
        // An IPv6 literal holds colons; only a colon after `]` ends it.
        Some(colon)
            if !hostport.contains(&b']')
                || colon.checked_sub(1).and_then(|i| hostport.get(i)) == Some(&b']') =>
        {
            let port = hostport.get(colon + 1..)?;
            if !port.iter().all(u8::is_ascii_digit) {
                return None;
            }
            hostport.get(..colon)?
        }
        _ => hostport,
    };
    if host.is_empty() || !host.iter().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    Some((user, String::from_utf8(host.to_vec()).ok()?))
}

/// `imailbox-ref = enc-mailbox [";UIDVALIDITY=" nz-number]`
fn imailbox_ref(segment: &[u8]) -> Option<(Vec<u8>, Option<u32>)> {
    let (name, validity) = match find_ignore_case(segment, b";UIDVALIDITY=") {
        Some(at) => {
            let value = segment.get(at + b";UIDVALIDITY=".len()..)?;
            (segment.get(..at)?, Some(nz_number(value)?))
        }
        None => (segment, None),
    };
    if name.is_empty() || name.contains(&b';') {
        return None;
    }
    Some((percent_decode(name)?, validity))
}

/// `partial-range = number ["." nz-number]`
fn partial_range(value: &[u8]) -> Option<(u32, Option<u32>)> {
    match value.iter().position(|&b| b == b'.') {
        Some(dot) => Some((
            number(value.get(..dot)?)?,
            Some(nz_number(value.get(dot + 1..)?)?),
        )),
        None => Some((number(value)?, None)),
    }
}

/// The value of `;NAME=value` when `segment` is that parameter.
fn param<'a>(segment: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    strip_prefix_ignore_case(segment, name)
}

/// `number`: 1*DIGIT fitting in 32 bits.
fn number(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// `nz-number`: a `number` other than 0, without a leading zero.
fn nz_number(digits: &[u8]) -> Option<u32> {
    if digits.first() == Some(&b'0') {
        return None;
    }
    number(digits).filter(|&n| n > 0)
}

/// Decodes `%XX` escapes (RFC 3986 §2.1). Control octets, decoded or not,
/// make the URL invalid.
fn percent_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some((&b, tail)) = rest.split_first() {
        let octet = if b == b'%' {
            let hex = tail.get(..2)?;
            rest = tail.get(2..)?;
            u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?
        } else {
            rest = tail;
            b
        };
        if octet < 0x20 || octet == 0x7f {
            return None;
        }
        out.push(octet);
    }
    Some(out)
}

fn strip_prefix_ignore_case<'a>(text: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

fn find_ignore_case(text: &[u8], needle: &[u8]) -> Option<usize> {
    text.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::ast::SectionText;

    fn url(text: &str) -> Option<MessageUrl> {
        message_url(text.as_bytes())
    }

    fn relative(mailbox: &str, uid: u32) -> MessageUrl {
        MessageUrl {
            user: None,
            host: None,
            mailbox: mailbox.as_bytes().to_vec(),
            uid_validity: None,
            uid,
            section: None,
            partial: None,
        }
    }

    #[test]
    fn imessagepart_relative_forms() {
        assert_eq!(url("/INBOX/;UID=20"), Some(relative("INBOX", 20)));
        // Parameter names in any case, as imaptest sends them.
        assert_eq!(
            url("/Drafts;uidvalidity=385759045/;uid=20/;section=header"),
            Some(MessageUrl {
                uid_validity: Some(385_759_045),
                section: Some(Section {
                    part: vec![],
                    text: Some(SectionText::Header),
                }),
                ..relative("Drafts", 20)
            })
        );
        assert_eq!(
            url("/a%20b/;UID=3/;SECTION=1.2.MIME/;PARTIAL=100.20"),
            Some(MessageUrl {
                section: Some(Section {
                    part: vec![1, 2],
                    text: Some(SectionText::Mime),
                }),
                partial: Some((100, Some(20))),
                ..relative("a b", 3)
            })
        );
        assert_eq!(
            url("/x/;UID=3/;SECTION=HEADER.FIELDS%20(From%20To)/;partial=0"),
            Some(MessageUrl {
                section: Some(Section {
                    part: vec![],
                    text: Some(SectionText::HeaderFields(vec!["From".into(), "To".into()])),
                }),
                partial: Some((0, None)),
                ..relative("x", 3)
            })
        );
        // Hierarchy in the mailbox name (enc-mailbox keeps `/` unescaped
        // only as %2F here: a bare `/` would start the next segment).
        assert_eq!(url("/a%2Fb/;UID=1"), Some(relative("a/b", 1)));
    }

    #[test]
    fn imapurl_absolute_forms() {
        assert_eq!(
            url("imap://alice@mail.example.org/INBOX/;UID=7"),
            Some(MessageUrl {
                user: Some(b"alice".to_vec()),
                host: Some("mail.example.org".into()),
                ..relative("INBOX", 7)
            })
        );
        assert_eq!(
            url("IMAP://al%40ice;AUTH=*@[::1]:143/INBOX/;UID=7"),
            Some(MessageUrl {
                user: Some(b"al@ice".to_vec()),
                host: Some("[::1]".into()),
                ..relative("INBOX", 7)
            })
        );
        assert_eq!(
            url("imap://host:993/INBOX/;UID=7"),
            Some(MessageUrl {
                host: Some("host".into()),
                ..relative("INBOX", 7)
            })
        );
    }

    #[test]
    fn what_does_not_name_one_message() {
        for bad in [
            "",
            "INBOX/;UID=1",
            "/INBOX",
            "/INBOX/",
            "/INBOX/;UID=0",
            "/INBOX/;UID=01",
            "/INBOX/;UID=4294967296",
            "/INBOX;UIDVALIDITY=0/;UID=1",
            "/INBOX;UIDVALIDITY=x/;UID=1",
            "/INBOX?SUBJECT%20x",
            "/INBOX/;UID=1/;SECTION=",
            "/INBOX/;UID=1/;SECTION=FROB",
            "/INBOX/;UID=1/;SECTION=0",
            "/INBOX/;UID=1/;SECTION=1.MIME.TEXT",
            "/INBOX/;UID=1/;PARTIAL=1.0",
            "/INBOX/;UID=1/;PARTIAL=x",
            "/INBOX/;UID=1/;URLAUTH=anonymous:internal:91354a",
            "/INBOX/;UID=1/extra",
            "/IN%0ABOX/;UID=1",
            "/IN%zzBOX/;UID=1",
            "/IN%4/;UID=1",
            "/;UID=1",
            "imap://host",
            "imap:///INBOX/;UID=1",
            "imap://host:ab/INBOX/;UID=1",
            "imap://a b/INBOX/;UID=1",
            "http://host/INBOX/;UID=1",
        ] {
            assert_eq!(url(bad), None, "{bad:?}");
        }
    }

    /// Random bytes and mutations of a valid URL: never a panic.
    #[test]
    fn arbitrary_input_never_panics() {
        let mut rng = crate::parser::tests::Rng::new(0x5eed_5092);
        let seed = b"imap://u;AUTH=*@h:1/a%20b;UIDVALIDITY=9/;UID=3/;SECTION=1.HEADER.FIELDS%20(A)/;PARTIAL=1.2";
        for len in 0..=seed.len() {
            let _ = message_url(&seed[..len]);
        }
        for _ in 0..2000 {
            let mut mutated = seed.to_vec();
            for _ in 0..=rng.below(3) {
                let at = rng.below(mutated.len() as u32) as usize;
                let pool = b"%/;:@=.[]0aZ\0\xff";
                mutated[at] = pool[rng.below(pool.len() as u32) as usize];
            }
            let _ = message_url(&mutated);
        }
    }
}
