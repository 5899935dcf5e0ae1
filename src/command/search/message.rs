//! What the text keys of SEARCH see of one message (RFC 3501 §6.4.4): the
//! header clients see, its fields decoded, and the decoded text of the body.
//!
//! The hard part is cost. A SEARCH over 100,000 messages must not copy or
//! decode what no key looks at, so everything here is lazy: the visible header
//! is assembled only when a header key runs, the MIME tree is parsed only when a
//! BODY or TEXT key runs, and only fields with the wanted name are decoded.
//! The hidden UW status headers (Status, X-UID, ...) are never searched: header
//! keys read [`MessageView::visible_header`], not the stored header.
//!
//! BODY searches every textual leaf (`text/*`, `message/*` leaves such as
//! delivery reports, and leaves without a Content-Type, which RFC 2045 §5.2 makes
//! text/plain) and the bodies of encapsulated message/rfc822 messages, as Dovecot
//! does; TEXT adds the top-level header and the headers of encapsulated messages.

use std::borrow::Cow;
use std::cell::OnceCell;

use crate::mailstore::MessageView;
use crate::mime::decode::{self, TextNeedle, TransferEncoding};
use crate::mime::{self, BodyPart, PartKind};

/// One message, for the text keys. Built cheaply per message; the expensive
/// parts are computed on first use and kept for the other keys.
pub struct MessageText<'a> {
    /// Header + body as stored (LF line ends, no From_ line).
    raw: &'a [u8],
    source: HeaderSource<'a>,
    /// The visible header, once assembled.
    header: OnceCell<Cow<'a, [u8]>>,
    /// The MIME tree of `raw`, once parsed.
    tree: OnceCell<BodyPart>,
}

enum HeaderSource<'a> {
    View(MessageView<'a>),
    Given(&'a [u8]),
}

/// Whether a body walk also searches the headers of encapsulated messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NestedHeaders {
    Skip,
    Search,
}

impl<'a> MessageText<'a> {
    pub fn from_view(view: MessageView<'a>) -> Self {
        Self::new(view.raw, HeaderSource::View(view))
    }

    /// A message given as its stored bytes and the header a client sees (for
    /// callers and tests without a mailbox).
    pub fn from_parts(raw: &'a [u8], visible_header: &'a [u8]) -> Self {
        Self::new(raw, HeaderSource::Given(visible_header))
    }

    fn new(raw: &'a [u8], source: HeaderSource<'a>) -> Self {
        MessageText {
            raw,
            source,
            header: OnceCell::new(),
            tree: OnceCell::new(),
        }
    }

    /// Supplies an already parsed MIME tree of `raw` (e.g. from the FETCH cache).
    pub fn with_tree(self, tree: BodyPart) -> Self {
        // A fresh cell: setting it cannot fail, and if it could, the lazily
        // parsed tree would be the same.
        let _ = self.tree.set(tree);
        self
    }

    /// Whether the visible header has been assembled (tests check laziness).
    pub fn header_loaded(&self) -> bool {
        self.header.get().is_some()
    }

    /// Whether the MIME tree has been parsed (tests check laziness).
    pub fn tree_loaded(&self) -> bool {
        self.tree.get().is_some()
    }

    /// The header clients see, including its blank line.
    fn header(&self) -> &[u8] {
        self.header.get_or_init(|| match &self.source {
            HeaderSource::Given(header) => Cow::Borrowed(*header),
            HeaderSource::View(view) => match view.visible_header().as_slice() {
                [one] => Cow::Borrowed(*one),
                segments => Cow::Owned(segments.concat()),
            },
        })
    }

    fn tree(&self) -> &BodyPart {
        self.tree.get_or_init(|| mime::parse(self.raw))
    }

    /// `HEADER name string` (RFC 3501 §6.4.4): a visible field of that name
    /// whose decoded value contains the string; the empty string matches any
    /// message that has the field.
    pub fn header_matches(&self, name: &str, needle: &TextNeedle) -> bool {
        fields_match(mime::header_fields(self.header()), name.as_bytes(), needle)
    }

    /// FROM / TO / CC / BCC (RFC 3501 §6.4.4): like [`Self::header_matches`],
    /// and also a match on the parsed addresses, so that
    /// `<user (comment)@ (comment) domain.org>` is found as
    /// `user@domain.org`, and a group's name as itself.
    pub fn address_matches(&self, name: &str, needle: &TextNeedle) -> bool {
        mime::header_fields(self.header())
            .filter(|(field, _)| trim(field).eq_ignore_ascii_case(name.as_bytes()))
            .any(|(_, value)| {
                needle.is_empty()
                    || value_matches(value, needle)
                    || address_forms(value)
                        .iter()
                        .any(|form| needle.matches_str(form))
            })
    }

    /// The raw value of the first visible field called `name`.
    pub fn first_field(&self, name: &str) -> Option<&[u8]> {
        mime::header_fields(self.header())
            .find(|(field, _)| trim(field).eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, value)| value)
    }

    /// `BODY string`: the decoded text of the body's textual parts.
    pub fn body_matches(&self, needle: &TextNeedle) -> bool {
        needle.is_empty() || body_matches(self.raw, self.tree(), needle, NestedHeaders::Skip, 0)
    }

    /// `TEXT string`: the visible header (decoded) or the body text, including
    /// the headers of encapsulated messages.
    pub fn text_matches(&self, needle: &TextNeedle) -> bool {
        needle.is_empty()
            || header_text_matches(mime::header_fields(self.header()), needle)
            || body_matches(self.raw, self.tree(), needle, NestedHeaders::Search, 0)
    }
}

/// Whether any field called `name` (case-insensitive) contains `needle`.
fn fields_match<'h>(
    fields: impl Iterator<Item = (&'h [u8], &'h [u8])>,
    name: &[u8],
    needle: &TextNeedle,
) -> bool {
    fields
        .filter(|(field, _)| trim(field).eq_ignore_ascii_case(name))
        .any(|(_, value)| needle.is_empty() || value_matches(value, needle))
}

/// The searchable forms of the addresses in an address-list value: each
/// `mailbox@host`, each decoded display name, each group name.
fn address_forms(value: &[u8]) -> Vec<String> {
    let mut forms = Vec::new();
    for address in mime::envelope::address_list(value) {
        if let Some(name) = &address.name {
            forms.push(decode::decode_header_value(name));
        }
        match (&address.mailbox, &address.host) {
            (Some(mailbox), Some(host)) => forms.push(format!(
                "{}@{}",
                String::from_utf8_lossy(mailbox),
                String::from_utf8_lossy(host)
            )),
            (Some(group), None) => forms.push(String::from_utf8_lossy(group).into_owned()),
            _ => {}
        }
    }
    forms
}

fn value_matches(raw: &[u8], needle: &TextNeedle) -> bool {
    // Fast path: ASCII value without encoded words, ASCII needle. Unfolding
    // still applies so the answer equals the decoded path's.
    if needle.is_ascii() && raw.is_ascii() && memchr::memmem::find(raw, b"=?").is_none() {
        return needle.matches_ascii_bytes(trim(&decode::unfold(raw)));
    }
    needle.matches_str(&decode::decode_header_value(raw))
}

/// Header fields as `Name: decoded value` lines, searched as one text.
fn header_text_matches<'h>(
    fields: impl Iterator<Item = (&'h [u8], &'h [u8])>,
    needle: &TextNeedle,
) -> bool {
    let mut text = String::new();
    for (name, value) in fields {
        text.push_str(&String::from_utf8_lossy(trim(name)));
        text.push_str(": ");
        text.push_str(&decode::decode_header_value(value));
        text.push('\n');
    }
    needle.matches_str(&text)
}

/// Walks the MIME tree. Depth is bounded by the parser (`mime::MAX_NESTING`);
/// the explicit bound here keeps that true whatever tree we are given.
fn body_matches(
    raw: &[u8],
    part: &BodyPart,
    needle: &TextNeedle,
    nested: NestedHeaders,
    depth: usize,
) -> bool {
    if depth > mime::MAX_NESTING {
        return false;
    }
    match &part.kind {
        PartKind::Leaf => {
            let header = raw.get(part.header.clone()).unwrap_or(&[]);
            let info = PartInfo::from_fields(mime::header_fields(header));
            let body = raw.get(part.body.clone()).unwrap_or(&[]);
            info.textual
                && decode::body_text_matches(body, info.encoding, info.charset.as_deref(), needle)
        }
        PartKind::Multipart(children) => children
            .iter()
            .any(|child| body_matches(raw, child, needle, nested, depth + 1)),
        PartKind::Message(inner) => {
            let header = raw.get(inner.header.clone()).unwrap_or(&[]);
            (nested == NestedHeaders::Search
                && header_text_matches(mime::header_fields(header), needle))
                || body_matches(raw, inner, needle, nested, depth + 1)
        }
    }
}

/// What decoding a leaf needs from its header (RFC 2045 §5, §6).
#[derive(Debug, Clone, PartialEq, Eq)]
struct PartInfo {
    /// text/*, message/*, or no (or an unparseable) Content-Type.
    textual: bool,
    /// The `charset` parameter, unquoted.
    charset: Option<String>,
    encoding: TransferEncoding,
}

impl PartInfo {
    fn from_fields<'h>(fields: impl Iterator<Item = (&'h [u8], &'h [u8])>) -> Self {
        let mut info = PartInfo {
            textual: true,
            charset: None,
            encoding: TransferEncoding::Identity,
        };
        let mut seen_type = false;
        for (name, value) in fields {
            let name = trim(name);
            if name.eq_ignore_ascii_case(b"content-transfer-encoding") {
                info.encoding = TransferEncoding::from_header_value(&decode::unfold(value));
            } else if name.eq_ignore_ascii_case(b"content-type") && !seen_type {
                seen_type = true;
                let value = decode::unfold(value);
                let mut params = value.split(|&b| b == b';');
                let media_type = trim(params.next().unwrap_or(&[]));
                // RFC 2045 §5.2: a syntactically bad type is text/plain.
                info.textual = !media_type.contains(&b'/')
                    || starts_with_ignore_case(media_type, b"text/")
                    || starts_with_ignore_case(media_type, b"message/");
                info.charset = params.find_map(charset_param);
            }
        }
        info
    }
}

/// The value of a `charset=...` parameter, quotes removed.
fn charset_param(param: &[u8]) -> Option<String> {
    let eq = memchr::memchr(b'=', param)?;
    let name = trim(param.get(..eq)?);
    if !name.eq_ignore_ascii_case(b"charset") {
        return None;
    }
    let value = trim(param.get(eq + 1..)?);
    let value = value.strip_prefix(b"\"").unwrap_or(value);
    let value = value.strip_suffix(b"\"").unwrap_or(value);
    let value = trim(value);
    (!value.is_empty()).then(|| String::from_utf8_lossy(value).into_owned())
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'h>(list: &'h [(&'h str, &'h str)]) -> impl Iterator<Item = (&'h [u8], &'h [u8])> {
        list.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes()))
    }

    #[test]
    fn field_matching() {
        let header: &[(&str, &str)] = &[
            (
                "From",
                " =?ISO-8859-1?Q?Andr=E9?= Pirard <pirard@example.org>",
            ),
            ("Subject", " Quarterly\n budget review"),
            ("X-Empty", ""),
            ("subject", " second subject"),
        ];
        let cases: &[(&str, &str, bool)] = &[
            ("from", "andré", true),
            ("FROM", "PIRARD@EXAMPLE", true),
            ("From", "andre", false),
            ("subject", "quarterly budget", true),
            ("subject", "quarterly\nbudget", false),
            ("Subject", "second", true),
            ("x-empty", "", true),
            ("x-empty", "a", false),
            ("to", "", false),
            ("To", "pirard", false),
        ];
        for (name, needle, want) in cases {
            let got = fields_match(fields(header), name.as_bytes(), &TextNeedle::new(needle));
            assert_eq!(got, *want, "{name} {needle:?}");
        }
    }

    #[test]
    fn header_text_is_decoded_lines() {
        let header: &[(&str, &str)] = &[
            ("From", " a@b"),
            ("Subject", " =?utf-8?q?Gr=C3=BC=C3=9Fe?="),
        ];
        for (needle, want) in [
            ("subject: grüße", true),
            ("a@b\nsubject", true),
            ("=?utf-8", false),
        ] {
            assert_eq!(
                header_text_matches(fields(header), &TextNeedle::new(needle)),
                want,
                "{needle:?}"
            );
        }
    }

    #[test]
    fn part_info_from_fields() {
        let cases: &[(&[(&str, &str)], PartInfo)] = &[
            (
                &[],
                PartInfo {
                    textual: true,
                    charset: None,
                    encoding: TransferEncoding::Identity,
                },
            ),
            (
                &[
                    ("Content-Type", " text/plain;\n charset=\"ISO-8859-1\""),
                    ("Content-Transfer-Encoding", " quoted-printable"),
                ],
                PartInfo {
                    textual: true,
                    charset: Some("ISO-8859-1".into()),
                    encoding: TransferEncoding::QuotedPrintable,
                },
            ),
            (
                &[
                    ("content-type", " image/png; name=x.png"),
                    ("Content-Transfer-Encoding", "base64"),
                ],
                PartInfo {
                    textual: false,
                    charset: None,
                    encoding: TransferEncoding::Base64,
                },
            ),
            (
                &[("Content-Type", " Message/Delivery-Status")],
                PartInfo {
                    textual: true,
                    charset: None,
                    encoding: TransferEncoding::Identity,
                },
            ),
            (
                &[("Content-Type", " garbage"), ("Content-Type", " image/gif")],
                PartInfo {
                    textual: true,
                    charset: None,
                    encoding: TransferEncoding::Identity,
                },
            ),
            (
                &[("Content-Type", " TEXT/HTML; format=flowed; CHARSET=utf-8")],
                PartInfo {
                    textual: true,
                    charset: Some("utf-8".into()),
                    encoding: TransferEncoding::Identity,
                },
            ),
        ];
        for (header, want) in cases {
            assert_eq!(PartInfo::from_fields(fields(header)), *want, "{header:?}");
        }
    }

    /// A message whose tree is built by hand, so the walk is tested without
    /// the MIME parser. With no Content-Type fields (as the stub
    /// `mime::header_fields` reports) every leaf is text/plain US-ASCII.
    fn multipart_message() -> (&'static [u8], BodyPart) {
        let raw: &'static [u8] = b"H: 1\n\npreamble\n--b\n\nfirst part\n--b\n\nInner-Header: x\n\nforwarded body\n--b--\n";
        let find = |s: &[u8]| {
            memchr::memmem::find(raw, s)
                .map(|i| i..i + s.len())
                .unwrap_or(0..0)
        };
        let inner = BodyPart {
            header: find(b"Inner-Header: x"),
            body: find(b"forwarded body\n"),
            kind: PartKind::Leaf,
        };
        let tree = BodyPart {
            header: find(b"H: 1"),
            body: find(b"\npreamble"),
            kind: PartKind::Multipart(vec![
                BodyPart {
                    header: 0..0,
                    body: find(b"first part\n"),
                    kind: PartKind::Leaf,
                },
                BodyPart {
                    header: 0..0,
                    body: find(b"Inner-Header: x\n\nforwarded body\n"),
                    kind: PartKind::Message(Box::new(inner)),
                },
            ]),
        };
        (raw, tree)
    }

    #[test]
    fn body_walk_searches_leaves_not_preamble() {
        let (raw, tree) = multipart_message();
        let text = MessageText::from_parts(raw, b"H: 1\n\n").with_tree(tree);
        assert!(text.body_matches(&TextNeedle::new("FIRST PART")));
        assert!(text.body_matches(&TextNeedle::new("forwarded")));
        assert!(!text.body_matches(&TextNeedle::new("preamble")));
        assert!(!text.body_matches(&TextNeedle::new("--b")));
        assert!(!text.header_loaded());
    }

    #[test]
    fn walk_is_bounded() {
        let mut part = BodyPart {
            header: 0..0,
            body: 0..1,
            kind: PartKind::Leaf,
        };
        for _ in 0..mime::MAX_NESTING + 2 {
            part = BodyPart {
                header: 0..0,
                body: 0..1,
                kind: PartKind::Message(Box::new(part)),
            };
        }
        assert!(!body_matches(
            b"x",
            &part,
            &TextNeedle::new("x"),
            NestedHeaders::Skip,
            0
        ));
    }
}
