//! The ENVELOPE of a message (RFC 3501 §7.4.2) from its header, and RFC 5322
//! §3.4 address lists parsed leniently.
//!
//! The hard part is addresses. Real headers mix every form RFC 5322 and its
//! obsolete syntax allow: `Name <a@b>`, `a@b (Name)`, quoted local parts,
//! source routes (`<@r1,@r2:a@b>`), groups (`undisclosed-recipients:;`), and
//! plain junk. The parser here never fails: it tokenizes (atoms, quoted
//! strings, domain literals, specials; comments and folding skipped) and turns
//! each comma-separated item into the four ENVELOPE address fields. A group
//! becomes the RFC 3501 markers: `(NIL NIL "name" NIL)` before its members
//! and `(NIL NIL NIL NIL)` after. A missing host becomes UW imapd's
//! `.MISSING-HOST-NAME.` (a NIL host would read as a group marker), a missing
//! mailbox `MISSING_MAILBOX`. Encoded words (RFC 2047) are left as they are:
//! IMAP sends header text raw.

use std::borrow::Cow;

use super::header::{fields, unfold};

/// Host name given to an address that has none (UW imapd's `BADHOST`).
pub const MISSING_HOST: &[u8] = b".MISSING-HOST-NAME.";
/// Mailbox name given to an address that has none.
pub const MISSING_MAILBOX: &[u8] = b"MISSING_MAILBOX";

/// The ten ENVELOPE fields. Text fields are unfolded raw header values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope<'a> {
    pub date: Option<Cow<'a, [u8]>>,
    pub subject: Option<Cow<'a, [u8]>>,
    pub from: Vec<Address>,
    pub sender: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub in_reply_to: Option<Cow<'a, [u8]>>,
    pub message_id: Option<Cow<'a, [u8]>>,
}

/// One RFC 3501 `address`: `(name adl mailbox host)`. Group markers use
/// `mailbox` for the group name with `host: None` (start), or are all `None`
/// (end).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub name: Option<Vec<u8>>,
    pub adl: Option<Vec<u8>>,
    pub mailbox: Option<Vec<u8>>,
    pub host: Option<Vec<u8>>,
}

impl<'a> Envelope<'a> {
    /// Builds the envelope from header blocks (several slices, as a header
    /// with hidden fields removed comes; one slice is fine). The first `Date`,
    /// `Subject`, `In-Reply-To` and `Message-ID` count; repeated address
    /// fields are concatenated (as UW imapd does). Sender and Reply-To default
    /// to From when absent or empty (RFC 3501 §7.4.2).
    pub fn parse(header: &[&'a [u8]]) -> Self {
        let mut env = Envelope::default();
        for f in header.iter().flat_map(|&h| fields(h)) {
            let lower = f.name.to_ascii_lowercase();
            match lower.as_slice() {
                b"date" if env.date.is_none() => env.date = Some(unfold(f.value)),
                b"subject" if env.subject.is_none() => env.subject = Some(unfold(f.value)),
                b"in-reply-to" if env.in_reply_to.is_none() => {
                    env.in_reply_to = Some(unfold(f.value))
                }
                b"message-id" if env.message_id.is_none() => env.message_id = Some(unfold(f.value)),
                b"from" => env.from.extend(address_list(f.value)),
                b"sender" => env.sender.extend(address_list(f.value)),
                b"reply-to" => env.reply_to.extend(address_list(f.value)),
                b"to" => env.to.extend(address_list(f.value)),
                b"cc" => env.cc.extend(address_list(f.value)),
                b"bcc" => env.bcc.extend(address_list(f.value)),
                _ => {}
            }
        }
        if env.sender.is_empty() {
            env.sender = env.from.clone();
        }
        if env.reply_to.is_empty() {
            env.reply_to = env.from.clone();
        }
        env
    }
}

/// Parses an address-list header value. Never fails; junk gives junk
/// addresses, never a panic.
pub fn address_list(value: &[u8]) -> Vec<Address> {
    let mut lex = Lexer {
        s: value,
        pos: 0,
        comment: None,
    };
    let mut out = Vec::new();
    let mut in_group = false;
    loop {
        let mut item = Item::default();
        lex.comment = None;
        let ended_by = loop {
            match lex.next() {
                Token::Word(w) => {
                    if item.at_seen {
                        item.domain.push(w)
                    } else {
                        item.words.push(w)
                    }
                }
                Token::Special(b'@') if !item.at_seen => item.at_seen = true,
                Token::Special(b'<') => item.angle = Some(angle_addr(&mut lex)),
                Token::Special(b':') if !item.at_seen && item.angle.is_none() => {
                    if in_group {
                        out.push(Address::default());
                    }
                    out.push(Address {
                        mailbox: Some(join(&item.words, b" ")),
                        ..Address::default()
                    });
                    in_group = true;
                    item = Item::default();
                    lex.comment = None;
                }
                Token::Special(b',') => break Some(b','),
                Token::Special(b';') => break Some(b';'),
                Token::Special(_) => {}
                Token::End => break None,
            }
        };
        if let Some(address) = item.into_address(lex.comment.take()) {
            out.push(address);
        }
        match ended_by {
            Some(b';') if in_group => {
                out.push(Address::default());
                in_group = false;
            }
            Some(_) => {}
            None => {
                if in_group {
                    out.push(Address::default());
                }
                return out;
            }
        }
    }
}

/// What was collected for one comma-separated item.
#[derive(Default)]
struct Item {
    /// Words before `@` (or all words, for a phrase).
    words: Vec<Vec<u8>>,
    at_seen: bool,
    /// Words after `@`.
    domain: Vec<Vec<u8>>,
    /// `<...>`: (route, local part, domain).
    angle: Option<AngleAddr>,
}

impl Item {
    fn into_address(self, comment: Option<Vec<u8>>) -> Option<Address> {
        let or_missing =
            |v: Vec<u8>, missing: &[u8]| if v.is_empty() { missing.to_vec() } else { v };
        if let Some((route, local, domain)) = self.angle {
            let name = Some(join(&self.words, b" "))
                .filter(|n| !n.is_empty())
                .or(comment);
            if local.is_empty() && domain.is_none() && name.is_none() {
                return None; // `<>`: nobody.
            }
            return Some(Address {
                name,
                adl: route,
                mailbox: Some(or_missing(local, MISSING_MAILBOX)),
                host: Some(or_missing(domain.unwrap_or_default(), MISSING_HOST)),
            });
        }
        if self.at_seen {
            return Some(Address {
                name: comment,
                adl: None,
                mailbox: Some(or_missing(join(&self.words, b""), MISSING_MAILBOX)),
                host: Some(or_missing(join(&self.domain, b""), MISSING_HOST)),
            });
        }
        if self.words.is_empty() {
            return None;
        }
        // A bare word (local user) or junk: a mailbox without a host.
        Some(Address {
            name: comment,
            adl: None,
            mailbox: Some(join(&self.words, b" ")),
            host: Some(MISSING_HOST.to_vec()),
        })
    }
}

/// `<[route:]local@domain>` taken apart: (route, local part, domain).
type AngleAddr = (Option<Vec<u8>>, Vec<u8>, Option<Vec<u8>>);

/// After `<`: `[route ":"] local "@" domain ">"`, leniently.
fn angle_addr(lex: &mut Lexer<'_>) -> AngleAddr {
    let mut route: Vec<u8> = Vec::new();
    let mut in_route = false;
    let mut local: Vec<Vec<u8>> = Vec::new();
    let mut domain: Option<Vec<Vec<u8>>> = None;
    let mut first = true;
    loop {
        let token = lex.next();
        match token {
            Token::Special(b'@') if first => {
                in_route = true;
                route.push(b'@');
            }
            Token::Word(w) if in_route => route.extend_from_slice(&w),
            Token::Special(b @ (b',' | b'@')) if in_route => route.push(b),
            Token::Special(b':') if in_route => in_route = false,
            Token::Word(w) => match domain.as_mut() {
                Some(d) => d.push(w),
                None => local.push(w),
            },
            Token::Special(b'@') if domain.is_none() => domain = Some(Vec::new()),
            Token::Special(b'>') | Token::End => break,
            Token::Special(_) => {}
        }
        first = false;
    }
    let route = if route.is_empty() { None } else { Some(route) };
    (route, join(&local, b""), domain.map(|d| join(&d, b"")))
}

fn join(words: &[Vec<u8>], sep: &[u8]) -> Vec<u8> {
    words.join(sep)
}

enum Token {
    /// An atom (dots included), a quoted string (unquoted) or a domain literal.
    Word(Vec<u8>),
    Special(u8),
    End,
}

/// Address tokenizer. Skips blanks, line breaks and comments; remembers the
/// first comment of the current item (a name, in `a@b (Name)`).
struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
    comment: Option<Vec<u8>>,
}

impl Lexer<'_> {
    fn next(&mut self) -> Token {
        loop {
            let Some(&b) = self.s.get(self.pos) else {
                return Token::End;
            };
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'(' => {
                    let c = self.comment_text();
                    if self.comment.is_none() && !c.is_empty() {
                        self.comment = Some(c);
                    }
                }
                b'"' => return Token::Word(self.quoted()),
                b'[' => return Token::Word(self.domain_literal()),
                b'<' | b'>' | b'@' | b',' | b';' | b':' | b')' | b']' | b'\\' => {
                    self.pos += 1;
                    return Token::Special(b);
                }
                // A control octet (VT, FF, NUL, DEL, ...) is neither an atom
                // octet nor a special: skipped like white space. (Returning an
                // empty word for it, without advancing, looped for ever.)
                _ if !is_atom_char(b) => self.pos += 1,
                _ => {
                    let start = self.pos;
                    while self.s.get(self.pos).is_some_and(|&c| is_atom_char(c)) {
                        self.pos += 1;
                    }
                    return Token::Word(self.s.get(start..self.pos).unwrap_or_default().to_vec());
                }
            }
        }
    }

    /// The text of a (nested) comment, outer parentheses removed, escapes
    /// resolved, line breaks removed, trimmed.
    fn comment_text(&mut self) -> Vec<u8> {
        let mut depth = 0usize;
        let mut text = Vec::new();
        while let Some(&b) = self.s.get(self.pos) {
            self.pos += 1;
            match b {
                b'\\' => {
                    if let Some(&e) = self.s.get(self.pos) {
                        text.push(e);
                        self.pos += 1;
                    }
                }
                b'(' => {
                    if depth > 0 {
                        text.push(b);
                    }
                    depth += 1;
                }
                b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                    text.push(b);
                }
                b'\r' | b'\n' => {}
                _ => text.push(b),
            }
        }
        unfold(&text).into_owned()
    }

    /// A quoted string, unquoted and unescaped, line breaks removed.
    fn quoted(&mut self) -> Vec<u8> {
        self.pos += 1;
        let mut text = Vec::new();
        while let Some(&b) = self.s.get(self.pos) {
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(&e) = self.s.get(self.pos) {
                        text.push(e);
                        self.pos += 1;
                    }
                }
                b'\r' | b'\n' => {}
                _ => text.push(b),
            }
        }
        text
    }

    /// `[...]` kept with its brackets, line breaks and blanks removed.
    fn domain_literal(&mut self) -> Vec<u8> {
        let mut text = Vec::new();
        while let Some(&b) = self.s.get(self.pos) {
            self.pos += 1;
            if !matches!(b, b'\r' | b'\n' | b' ' | b'\t') {
                text.push(b);
            }
            if b == b']' {
                break;
            }
        }
        text
    }
}

/// Bytes of an atom. Unlike RFC 5322 `atext`, `.` is included (dot-atoms and
/// obsolete phrases such as `John Q. Public` stay one word) and 8-bit bytes
/// are accepted (raw UTF-8 names).
fn is_atom_char(b: u8) -> bool {
    b > 0x20
        && b != 0x7f
        && !matches!(
            b,
            b'(' | b')' | b'<' | b'>' | b'@' | b',' | b';' | b':' | b'\\' | b'"' | b'[' | b']'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compact rendering for table tests: `name|adl|mailbox|host`, `-` for None.
    fn show(list: &[Address]) -> Vec<String> {
        let f = |v: &Option<Vec<u8>>| match v {
            Some(v) => String::from_utf8_lossy(v).into_owned(),
            None => "-".into(),
        };
        list.iter()
            .map(|a| {
                format!(
                    "{}|{}|{}|{}",
                    f(&a.name),
                    f(&a.adl),
                    f(&a.mailbox),
                    f(&a.host)
                )
            })
            .collect()
    }

    #[test]
    fn address_forms() {
        let cases: Vec<(&[u8], Vec<&str>)> = vec![
            (b"alice@example.org", vec!["-|-|alice|example.org"]),
            (
                b"Alice Smith <alice@example.org>",
                vec!["Alice Smith|-|alice|example.org"],
            ),
            (
                b"\"Smith, Alice\" <alice@example.org>",
                vec!["Smith, Alice|-|alice|example.org"],
            ),
            (
                b"alice@example.org (Alice Smith)",
                vec!["Alice Smith|-|alice|example.org"],
            ),
            (
                b"<@r1.example,@r2.example:bob@example.com>",
                vec!["-|@r1.example,@r2.example|bob|example.com"],
            ),
            (
                b"\"john doe\"@example.com",
                vec!["-|-|john doe|example.com"],
            ),
            (
                b"John Q. Public <jqp@[192.0.2.1]>",
                vec!["John Q. Public|-|jqp|[192.0.2.1]"],
            ),
            (
                b"a@b, \"C\" <c@d>,,\r\n\tE <e@f>",
                vec!["-|-|a|b", "C|-|c|d", "E|-|e|f"],
            ),
            (
                b"undisclosed-recipients:;",
                vec!["-|-|undisclosed-recipients|-", "-|-|-|-"],
            ),
            (
                b"Team: a@b, Bob <c@d>; x@y",
                vec!["-|-|Team|-", "-|-|a|b", "Bob|-|c|d", "-|-|-|-", "-|-|x|y"],
            ),
            (b"Open: a@b", vec!["-|-|Open|-", "-|-|a|b", "-|-|-|-"]),
            (b"root", vec!["-|-|root|.MISSING-HOST-NAME."]),
            (b"Bob <bob>", vec!["Bob|-|bob|.MISSING-HOST-NAME."]),
            (b"@example.com", vec!["-|-|MISSING_MAILBOX|example.com"]),
            (b"<>", vec![]),
            (b"", vec![]),
            (b" (just a comment) ", vec![]),
            (
                b"=?utf-8?q?J=C3=B6rg?= <j@x>",
                vec!["=?utf-8?q?J=C3=B6rg?=|-|j|x"],
            ),
            (b"J\xc3\xb6rg <j@x>", vec!["J\u{f6}rg|-|j|x"]),
            (
                b"\"unterminated <a@b>",
                vec!["-|-|unterminated <a@b>|.MISSING-HOST-NAME."],
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                show(&address_list(input)),
                want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn hostile_address_bytes_never_panic() {
        let junk: [&[u8]; 8] = [
            b"<<<<>>>>",
            b"(((((",
            b"\\",
            b"a@",
            b"@",
            b":;:;:;",
            b"<@",
            b"\"\\",
        ];
        for j in junk {
            let _ = address_list(j);
        }
    }

    /// Found by the `mailbox` fuzz target (fuzz/): a vertical tab inside an
    /// address list made the lexer return an empty word without advancing,
    /// and FETCH ENVELOPE never finished. Every control octet now passes.
    #[test]
    fn control_octets_in_address_lists_terminate() {
        assert_eq!(
            show(&address_list(b"bob@example.org\x0bSubject: two")),
            vec!["-|-|bob|example.orgSubjecttwo"]
        );
        for b in (0u8..0x20).chain([0x7f]) {
            let value = [b"a@b".as_slice(), &[b], b" c@d"].concat();
            let list = address_list(&value);
            assert!(!list.is_empty(), "octet {b:#04x}");
        }
        let header: &[u8] = b"To: bob@example.org\x0bSubject: two\n\n";
        let env = Envelope::parse(&[header]);
        assert_eq!(env.to.len(), 1);
    }

    #[test]
    fn envelope_fields_and_defaults() {
        let h: &[u8] = b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\n\
Subject: multi\n line\n\
From: Terry Gray <gray@cac.washington.edu>\n\
To: imap@cac.washington.edu\n\
cc: minutes@CNRI.Reston.VA.US,\n   John Klensin <KLENSIN@MIT.EDU>\n\
Message-Id: <B27397-0100000@cac.washington.edu>\n\n";
        let env = Envelope::parse(&[h]);
        assert_eq!(
            env.date.as_deref(),
            Some(&b"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)"[..])
        );
        assert_eq!(env.subject.as_deref(), Some(&b"multi line"[..]));
        assert_eq!(
            show(&env.from),
            vec!["Terry Gray|-|gray|cac.washington.edu"]
        );
        assert_eq!(env.sender, env.from);
        assert_eq!(env.reply_to, env.from);
        assert_eq!(
            show(&env.cc),
            vec![
                "-|-|minutes|CNRI.Reston.VA.US",
                "John Klensin|-|KLENSIN|MIT.EDU"
            ]
        );
        assert!(env.bcc.is_empty());
        assert_eq!(env.in_reply_to, None);
        assert_eq!(
            env.message_id.as_deref(),
            Some(&b"<B27397-0100000@cac.washington.edu>"[..])
        );

        // Present but empty Sender defaults too; split header slices are joined.
        let env = Envelope::parse(&[b"From: a@b\nSender:\n", b"Reply-To: r@s\n\n"]);
        assert_eq!(show(&env.sender), vec!["-|-|a|b"]);
        assert_eq!(show(&env.reply_to), vec!["-|-|r|s"]);
    }
}
