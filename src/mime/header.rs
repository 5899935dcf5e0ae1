//! Header fields of a MIME entity, and the `Content-*` fields interpreted
//! (RFC 5322 §2.2, RFC 2045 §5-§8, RFC 2183, RFC 3282, RFC 2557, RFC 1864).
//!
//! The hard part is leniency without copying. A header block is split into
//! fields by looking at line starts only: a line beginning with SP or TAB
//! continues the previous field (RFC 5322 §2.2.3 folding), a line with no colon
//! (or a name containing blanks) is junk and is skipped, and the first empty
//! line ends the block. Values stay folded slices of the message; they are
//! unfolded (line breaks removed) only when a field is interpreted. Both LF and
//! CRLF line ends are accepted, even mixed in one header.
//!
//! `Content-Type` and `Content-Disposition` values are parsed the way old mail
//! needs: comments are skipped, quoted strings are unescaped, a parameter
//! without `=` is dropped, an unquoted value runs to the next `;` (so
//! `name=my file.pdf` keeps its space), and a syntactically hopeless type
//! falls back to `text/plain` (RFC 2045 §5.2). RFC 2231 continuations
//! (`name*0=`, `name*1=`) are kept as separate raw parameters.

use std::borrow::Cow;

use memchr::memchr;

/// One header field: its name, its value (folded, leading blanks of the first
/// line removed, final line break excluded) and the whole field as stored
/// (name through the line break of its last continuation line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
    pub raw: &'a [u8],
}

impl Field<'_> {
    /// Whether the field's name is `name` (ASCII case-insensitive).
    pub fn is(&self, name: &[u8]) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// The fields of a header block, in order. Stops at the first empty line, so
/// the block may be passed with or without its terminating blank line (or
/// even with the body after it).
pub fn fields(header: &[u8]) -> Fields<'_> {
    Fields { rest: header }
}

/// Iterator returned by [`fields`].
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        loop {
            let rest = self.rest;
            let first_len = line_len(rest);
            if first_len == 0 {
                return None;
            }
            // Invariant: `first_len <= rest.len()` (line_len never exceeds its input).
            let first = &rest[..first_len];
            if is_blank_line(first) {
                // The empty line that ends the header.
                self.rest = &[];
                return None;
            }
            // A field runs over every following line that starts with SP or TAB.
            let mut end = first_len;
            while let Some(&b) = rest.get(end) {
                if b != b' ' && b != b'\t' {
                    break;
                }
                end += line_len(&rest[end..]);
            }
            // Invariant: `end <= rest.len()` (sum of line lengths within `rest`).
            let raw = &rest[..end];
            self.rest = &rest[end..];
            if let Some(field) = split_field(raw) {
                return Some(field);
            }
            // Junk line (no colon, blank-started orphan, bad name): skipped.
        }
    }
}

/// The first field named `name` (case-insensitive), its value still folded.
pub fn first_value<'a>(header: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    fields(header).find(|f| f.is(name)).map(|f| f.value)
}

/// A header value unfolded (RFC 5322 §2.2.3: every CR and LF removed, the
/// blanks that followed them kept) and trimmed of surrounding blanks.
/// Borrows when there was nothing to remove.
pub fn unfold(value: &[u8]) -> Cow<'_, [u8]> {
    let trimmed = trim(value);
    if memchr::memchr2(b'\r', b'\n', trimmed).is_none() {
        return Cow::Borrowed(trimmed);
    }
    let joined: Vec<u8> = trimmed
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    Cow::Owned(trim(&joined).to_vec())
}

/// The `Content-*` fields of one entity, interpreted (RFC 2045 §5-§8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimeFields<'a> {
    pub content_type: ContentType<'a>,
    /// `Content-Transfer-Encoding` as given (no comments, trimmed); `None` = 7bit.
    pub encoding: Option<Cow<'a, [u8]>>,
    pub id: Option<Cow<'a, [u8]>>,
    pub description: Option<Cow<'a, [u8]>>,
    pub disposition: Option<Disposition<'a>>,
    /// `Content-Language` tags (RFC 3282), in order.
    pub language: Vec<Cow<'a, [u8]>>,
    /// `Content-Location` (RFC 2557).
    pub location: Option<Cow<'a, [u8]>>,
    /// `Content-MD5` (RFC 1864).
    pub md5: Option<Cow<'a, [u8]>>,
}

/// Which type an entity without a usable `Content-Type` has (RFC 2046 §5.1.5:
/// inside `multipart/digest` it is `message/rfc822`, elsewhere `text/plain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultType {
    TextPlain,
    MessageRfc822,
}

/// A parsed `Content-Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType<'a> {
    /// The top-level type as written (compare with [`ContentType::is_type`]).
    pub main: Cow<'a, [u8]>,
    pub sub: Cow<'a, [u8]>,
    /// `(attribute, value)` pairs in order, values unquoted.
    pub params: Vec<Param<'a>>,
}

/// One `attribute=value` parameter; the value is unquoted, otherwise raw.
pub type Param<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// A parsed `Content-Disposition` (RFC 2183).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition<'a> {
    pub kind: Cow<'a, [u8]>,
    pub params: Vec<Param<'a>>,
}

impl<'a> ContentType<'a> {
    /// The type an entity has without a (usable) `Content-Type`.
    pub fn default_for(default: DefaultType) -> Self {
        let (main, sub): (&'static [u8], &'static [u8]) = match default {
            DefaultType::TextPlain => (b"text", b"plain"),
            DefaultType::MessageRfc822 => (b"message", b"rfc822"),
        };
        ContentType {
            main: Cow::Borrowed(main),
            sub: Cow::Borrowed(sub),
            params: Vec::new(),
        }
    }

    /// Parses a `Content-Type` value (RFC 2045 §5.1), leniently. `None` when no
    /// `type/subtype` can be made of it (the caller then uses the default).
    pub fn parse(value: &'a [u8]) -> Option<Self> {
        let mut lex = Lexer { s: value, pos: 0 };
        lex.skip_cfws();
        let main = lex.token();
        if main.is_empty() {
            return None;
        }
        lex.skip_cfws();
        let sub = if lex.eat(b'/') {
            lex.skip_cfws();
            lex.token()
        } else {
            &[]
        };
        let sub: &'a [u8] = if sub.is_empty() {
            // "a no-no, but regrettably necessary" (UW imapd): a missing subtype
            // gets the type's usual default; an unknown bare type is unusable.
            default_subtype(main)?
        } else {
            sub
        };
        Some(ContentType {
            main: Cow::Borrowed(main),
            sub: Cow::Borrowed(sub),
            params: lex.params(),
        })
    }

    pub fn is_type(&self, main: &[u8]) -> bool {
        self.main.eq_ignore_ascii_case(main)
    }

    pub fn is(&self, main: &[u8], sub: &[u8]) -> bool {
        self.is_type(main) && self.sub.eq_ignore_ascii_case(sub)
    }

    /// The first parameter named `name` (case-insensitive).
    pub fn param(&self, name: &[u8]) -> Option<&[u8]> {
        self.params
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

impl<'a> Disposition<'a> {
    /// Parses a `Content-Disposition` value; `None` without a disposition type.
    pub fn parse(value: &'a [u8]) -> Option<Self> {
        let mut lex = Lexer { s: value, pos: 0 };
        lex.skip_cfws();
        let kind = lex.token();
        if kind.is_empty() {
            return None;
        }
        Some(Disposition {
            kind: Cow::Borrowed(kind),
            params: lex.params(),
        })
    }
}

impl<'a> MimeFields<'a> {
    /// Interprets the `Content-*` fields of `header` (the first of each kind
    /// counts), with `default` as the type when `Content-Type` is missing or
    /// unusable.
    pub fn parse(header: &'a [u8], default: DefaultType) -> Self {
        let mut m = MimeFields {
            content_type: ContentType::default_for(default),
            encoding: None,
            id: None,
            description: None,
            disposition: None,
            language: Vec::new(),
            location: None,
            md5: None,
        };
        let mut seen_type = false;
        for f in fields(header) {
            let Some(rest) = strip_prefix_ignore_case(f.name, b"content-") else {
                continue;
            };
            let value = f.value;
            match rest.to_ascii_lowercase().as_slice() {
                b"type" if !seen_type => {
                    seen_type = true;
                    if let Some(ct) = ContentType::parse(value) {
                        m.content_type = ct;
                    } else {
                        // RFC 2045 §5.2: an invalid Content-Type means text/plain;
                        // charset=us-ascii, whatever the context default.
                        m.content_type = ContentType::default_for(DefaultType::TextPlain);
                    }
                }
                b"transfer-encoding" if m.encoding.is_none() => {
                    let mut lex = Lexer { s: value, pos: 0 };
                    lex.skip_cfws();
                    let token = lex.token();
                    if !token.is_empty() {
                        m.encoding = Some(Cow::Borrowed(token));
                    }
                }
                b"id" if m.id.is_none() => m.id = Some(unfold(value)),
                b"description" if m.description.is_none() => m.description = Some(unfold(value)),
                b"disposition" if m.disposition.is_none() => {
                    m.disposition = Disposition::parse(value)
                }
                b"language" if m.language.is_empty() => m.language = language_tags(value),
                b"location" if m.location.is_none() => m.location = Some(unfold(value)),
                b"md5" if m.md5.is_none() => m.md5 = Some(unfold(value)),
                _ => {}
            }
        }
        m
    }
}

/// The content type alone (what the structure parser needs).
pub fn content_type(header: &[u8], default: DefaultType) -> ContentType<'_> {
    match fields(header).find(|f| f.is(b"content-type")) {
        Some(f) => ContentType::parse(f.value)
            .unwrap_or_else(|| ContentType::default_for(DefaultType::TextPlain)),
        None => ContentType::default_for(default),
    }
}

/// Length of the first line of `s`, including its LF (all of `s` if none).
fn line_len(s: &[u8]) -> usize {
    memchr(b'\n', s).map_or(s.len(), |i| i + 1)
}

/// An empty line: `LF`, `CR LF`, or a lone `CR` at the very end.
fn is_blank_line(line: &[u8]) -> bool {
    matches!(line, b"\n" | b"\r\n" | b"\r")
}

/// Splits `name: value` out of a whole field; `None` for junk lines.
fn split_field(raw: &[u8]) -> Option<Field<'_>> {
    let colon = memchr(b':', raw)?;
    // Invariant: `colon < raw.len()`.
    let name = trim_end(&raw[..colon]);
    // RFC 5322 §3.6.8 ftext: printable US-ASCII except colon. A blank inside the
    // name means this is not a field (e.g. a stray "From " line).
    if name.is_empty() || !name.iter().all(|&b| (0x21..0x7f).contains(&b)) {
        return None;
    }
    let mut value = &raw[colon + 1..];
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    let value = value
        .strip_suffix(b"\n")
        .map(|v| v.strip_suffix(b"\r").unwrap_or(v))
        .unwrap_or(value);
    Some(Field { name, value, raw })
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_blank(b)).unwrap_or(s.len());
    // Invariant: `start <= s.len()`.
    trim_end(&s[start..])
}

fn trim_end(s: &[u8]) -> &[u8] {
    let end = s.iter().rposition(|&b| !is_blank(b)).map_or(0, |i| i + 1);
    // Invariant: `end <= s.len()`.
    &s[..end]
}

fn strip_prefix_ignore_case<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// UW imapd's subtype defaults for a `Content-Type` without one.
fn default_subtype(main: &[u8]) -> Option<&'static [u8]> {
    Some(match main.to_ascii_lowercase().as_slice() {
        b"text" => b"plain",
        b"multipart" => b"mixed",
        b"message" => b"rfc822",
        b"application" => b"octet-stream",
        b"audio" => b"basic",
        _ => return None,
    })
}

/// `Content-Language: en, fr (comment)` → `["en", "fr"]`.
fn language_tags(value: &[u8]) -> Vec<Cow<'_, [u8]>> {
    let mut lex = Lexer { s: value, pos: 0 };
    let mut tags = Vec::new();
    loop {
        lex.skip_cfws();
        if lex.at_end() {
            return tags;
        }
        let tag = lex.token();
        if tag.is_empty() {
            // A stray special: skip it.
            lex.pos += 1;
        } else {
            tags.push(Cow::Borrowed(tag));
        }
    }
}

/// A cursor over a MIME structured value (RFC 2045 §5.1 tokens, quoted
/// strings, RFC 822 comments).
struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips blanks, line breaks and (nested) comments.
    fn skip_cfws(&mut self) {
        while let Some(b) = self.peek() {
            if is_blank(b) {
                self.pos += 1;
            } else if b == b'(' {
                self.skip_comment();
            } else {
                return;
            }
        }
    }

    /// Skips a comment starting at `(`; an unterminated one runs to the end.
    fn skip_comment(&mut self) {
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'\\' => self.pos += 1,
                b'(' => depth += 1,
                b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    /// A run of RFC 2045 token characters (may be empty).
    fn token(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(is_token_char) {
            self.pos += 1;
        }
        self.s.get(start..self.pos).unwrap_or_default()
    }

    /// A quoted string starting at `"`, unescaped and unfolded; an
    /// unterminated one runs to the end.
    fn quoted(&mut self) -> Cow<'a, [u8]> {
        self.pos += 1;
        let start = self.pos;
        let mut owned: Option<Vec<u8>> = None;
        while let Some(b) = self.peek() {
            match b {
                b'"' => {
                    let end = self.pos;
                    self.pos += 1;
                    return match owned {
                        Some(v) => Cow::Owned(v),
                        None => Cow::Borrowed(self.s.get(start..end).unwrap_or_default()),
                    };
                }
                b'\\' | b'\r' | b'\n' => {
                    let v = owned.get_or_insert_with(|| {
                        self.s.get(start..self.pos).unwrap_or_default().to_vec()
                    });
                    self.pos += 1;
                    if b == b'\\'
                        && let Some(escaped) = self.peek()
                    {
                        v.push(escaped);
                        self.pos += 1;
                    }
                }
                _ => {
                    if let Some(v) = owned.as_mut() {
                        v.push(b);
                    }
                    self.pos += 1;
                }
            }
        }
        match owned {
            Some(v) => Cow::Owned(v),
            None => Cow::Borrowed(self.s.get(start..).unwrap_or_default()),
        }
    }

    /// `*(";" attribute "=" value)`, leniently (see the module doc).
    fn params(&mut self) -> Vec<Param<'a>> {
        let mut params = Vec::new();
        loop {
            // Skip to the next ';' (ignoring junk such as a second subtype).
            self.skip_cfws();
            while let Some(b) = self.peek() {
                if b == b';' {
                    break;
                }
                if b == b'"' {
                    self.quoted();
                } else {
                    self.pos += 1;
                }
            }
            if !self.eat(b';') {
                return params;
            }
            self.skip_cfws();
            let attribute = self.token();
            self.skip_cfws();
            if attribute.is_empty() || !self.eat(b'=') {
                continue;
            }
            self.skip_cfws();
            let value = if self.peek() == Some(b'"') {
                self.quoted()
            } else {
                self.bare_value()
            };
            params.push((Cow::Borrowed(attribute), value));
        }
    }

    /// An unquoted parameter value: up to `;`, or a comment that follows a
    /// blank, trimmed and unfolded.
    fn bare_value(&mut self) -> Cow<'a, [u8]> {
        let start = self.pos;
        let mut end = self.pos;
        while let Some(b) = self.peek() {
            if b == b';' {
                break;
            }
            if b == b'('
                && self.pos > start
                && self.s.get(self.pos - 1).is_some_and(|&p| is_blank(p))
            {
                break;
            }
            self.pos += 1;
            if !is_blank(b) {
                end = self.pos;
            }
        }
        let v = self.s.get(start..end).unwrap_or_default();
        if memchr::memchr2(b'\r', b'\n', v).is_some() {
            Cow::Owned(
                v.iter()
                    .copied()
                    .filter(|&b| b != b'\r' && b != b'\n')
                    .collect(),
            )
        } else {
            Cow::Borrowed(v)
        }
    }
}

/// RFC 2045 §5.1 `token`: CHAR except SPACE, CTLs and tspecials. 8-bit bytes
/// are accepted (lenient).
fn is_token_char(b: u8) -> bool {
    b > 0x20
        && b != 0x7f
        && !matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b'@'
                | b','
                | b';'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'='
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_values(header: &[u8]) -> Vec<(&[u8], &[u8])> {
        fields(header).map(|f| (f.name, f.value)).collect()
    }

    #[test]
    fn fields_fold_skip_junk_and_stop_at_blank_line() {
        let h = b"From nobody Mon Jan  5 10:00:00 2015\nSubject: one\n two\r\n\tthree\nX-Bad Name: z\n \
                  orphan\nTo : a@b\nEmpty:\n\nBody: not a field\n";
        assert_eq!(
            names_values(h),
            vec![
                (&b"Subject"[..], &b"one\n two\r\n\tthree"[..]),
                (b"To", b"a@b"),
                (b"Empty", b""),
            ]
        );
        let raw: Vec<&[u8]> = fields(h).map(|f| f.raw).collect();
        assert_eq!(raw[0], b"Subject: one\n two\r\n\tthree\n");
        assert_eq!(raw[1], b"To : a@b\n");
    }

    #[test]
    fn fields_crlf_and_no_final_newline() {
        let h = b"A: 1\r\nB: 2\r\n\r\nC: 3";
        assert_eq!(names_values(h), vec![(&b"A"[..], &b"1"[..]), (b"B", b"2")]);
        assert_eq!(
            names_values(b"A: 1\r\nB:  2"),
            vec![(&b"A"[..], &b"1"[..]), (b"B", b"2")]
        );
        assert_eq!(names_values(b""), vec![]);
        assert_eq!(names_values(b"\n\nA: 1\n"), vec![]);
    }

    #[test]
    fn unfold_removes_line_breaks_only() {
        assert_eq!(unfold(b"a\r\n b\n\tc  ").as_ref(), b"a b\tc");
        assert!(matches!(unfold(b"  plain "), Cow::Borrowed(b"plain")));
        assert_eq!(unfold(b"\r\n").as_ref(), b"");
    }

    #[test]
    fn content_type_table() {
        type P<'a> = Vec<(&'a [u8], &'a [u8])>;
        /// (type, subtype, parameters), or None for "use the default".
        type Parsed<'a> = Option<(&'a [u8], &'a [u8], P<'a>)>;
        let cases: Vec<(&[u8], Parsed)> = vec![
            (b"text/plain", Some((b"text", b"plain", vec![]))),
            (
                b"TEXT/HTML; charset=\"iso-8859-1\"",
                Some((b"TEXT", b"HTML", vec![(b"charset", b"iso-8859-1")])),
            ),
            (
                b"text/plain; charset=us-ascii (Plain text)",
                Some((b"text", b"plain", vec![(b"charset", b"us-ascii")])),
            ),
            (
                b"multipart/mixed;\n boundary=\"==a\\\"b==\"; junk; x=",
                Some((
                    b"multipart",
                    b"mixed",
                    vec![(b"boundary", b"==a\"b=="), (b"x", b"")],
                )),
            ),
            (
                b"application/pdf; name=my file(1).pdf ; name*0=\"a\"",
                Some((
                    b"application",
                    b"pdf",
                    vec![(b"name", b"my file(1).pdf"), (b"name*0", b"a")],
                )),
            ),
            (
                b" (c) text (c) / (c) plain",
                Some((b"text", b"plain", vec![])),
            ),
            (
                b"multipart; boundary=x",
                Some((b"multipart", b"mixed", vec![(b"boundary", b"x")])),
            ),
            (
                b"text/plain; charset=\"unterminated",
                Some((b"text", b"plain", vec![(b"charset", b"unterminated")])),
            ),
            (b"", None),
            (b"/plain", None),
            (b"bogus", None),
            (b";;;", None),
        ];
        for (input, want) in cases {
            let got = ContentType::parse(input);
            let got = got.as_ref().map(|ct| {
                let params: P = ct
                    .params
                    .iter()
                    .map(|(a, v)| (a.as_ref(), v.as_ref()))
                    .collect();
                (ct.main.as_ref(), ct.sub.as_ref(), params)
            });
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn mime_fields_defaults_and_values() {
        let h = b"Content-Type: garbage\nContent-Transfer-Encoding: (x) Base64 \n\
                  Content-ID: <id@x>\nContent-Description: a\n b\n\
                  Content-Disposition: attachment; filename=\"r.pdf\"\n\
                  Content-Language: en, de-CH\nContent-Location: http://x/\nContent-MD5: abc==\n\n";
        let m = MimeFields::parse(h, DefaultType::MessageRfc822);
        assert!(m.content_type.is(b"text", b"plain"));
        assert_eq!(m.encoding.as_deref(), Some(&b"Base64"[..]));
        assert_eq!(m.id.as_deref(), Some(&b"<id@x>"[..]));
        assert_eq!(m.description.as_deref(), Some(&b"a b"[..]));
        let d = m.disposition.unwrap();
        assert_eq!(d.kind.as_ref(), b"attachment");
        assert_eq!(
            d.params,
            vec![(
                Cow::Borrowed(&b"filename"[..]),
                Cow::Borrowed(&b"r.pdf"[..])
            )]
        );
        assert_eq!(
            m.language,
            vec![Cow::Borrowed(&b"en"[..]), Cow::Borrowed(&b"de-CH"[..])]
        );
        assert_eq!(m.location.as_deref(), Some(&b"http://x/"[..]));
        assert_eq!(m.md5.as_deref(), Some(&b"abc=="[..]));

        let m = MimeFields::parse(b"Subject: x\n", DefaultType::MessageRfc822);
        assert!(m.content_type.is(b"message", b"rfc822"));
        assert_eq!(m.encoding, None);
        assert!(
            content_type(b"Content-type: Multipart/Digest\n", DefaultType::TextPlain)
                .is(b"multipart", b"digest")
        );
    }
}
