//! Lexical rules every command shares (RFC 3501 §9): characters classes,
//! atoms, strings and literals, numbers, flags and mailbox names; plus the
//! error type and the helpers that turn "this did not match" into a reason
//! the client can read.
//!
//! Two things are subtle here.
//!
//! **Literals are already inline.** The framer has collected every literal, so
//! `{5}` CRLF is followed by the five octets in the same buffer. We still
//! never trust the announced length: it is checked against the bytes that are
//! really there (tests and fuzzers call us without a framer), and a literal that
//! claims more than is present is a syntax error, not a slice panic.
//!
//! **Errors: mismatch versus malformed.** A nom `Error` means "this alternative
//! does not match, the caller may try another"; it carries no reason. A nom
//! `Failure` means "the command is malformed": the parse stops and the reason
//! becomes the tagged BAD text. [`arg`] and [`commit`] convert the first kind
//! into the second once the grammar has no alternative left, keeping the
//! innermost (most precise) reason if one was already given.

use std::borrow::Cow;
use std::cell::Cell;
use std::num::NonZeroU32;

use nom::IResult;
use nom::branch::alt;
use nom::bytes::complete::{tag as exact, tag_no_case, take_while1};
use nom::combinator::value;
use nom::error::{ErrorKind, ParseError as NomParseError};

use super::ast::MailboxName;
use crate::types::Flag;

/// What every rule returns: the rest of the input and the value, or an error.
pub(crate) type PResult<'a, T> = IResult<&'a [u8], T, SyntaxError>;

/// A parse error. `reason` is set only on `nom::Err::Failure` (see module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub reason: Option<Cow<'static, str>>,
}

impl NomParseError<&[u8]> for SyntaxError {
    fn from_error_kind(_input: &[u8], _kind: ErrorKind) -> Self {
        SyntaxError { reason: None }
    }

    fn append(_input: &[u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }

    fn or(self, other: Self) -> Self {
        if other.reason.is_none() && self.reason.is_some() {
            self
        } else {
            other
        }
    }
}

/// Stops the parse: the command is malformed for `reason`.
pub(crate) fn fail<'a, T>(reason: impl Into<Cow<'static, str>>) -> PResult<'a, T> {
    Err(nom::Err::Failure(SyntaxError {
        reason: Some(reason.into()),
    }))
}

/// "Does not match": lets the caller try another alternative.
pub(crate) fn mismatch<'a, T>() -> PResult<'a, T> {
    Err(nom::Err::Error(SyntaxError { reason: None }))
}

/// Commits to `result`: a mismatch becomes a failure with `reason`, unless an
/// inner rule already gave a more precise one.
pub(crate) fn commit<'a, T>(
    result: PResult<'a, T>,
    reason: impl FnOnce() -> String,
) -> PResult<'a, T> {
    match result {
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(nom::Err::Failure(SyntaxError {
            reason: e.reason.or_else(|| Some(reason().into())),
        })),
        other => other,
    }
}

/// `SP <what>`: one required argument of a command. At the end of the line
/// (or of a parenthesised list) the reason is "Missing {what}", otherwise
/// "Invalid {what}" unless `rule` says something more precise.
pub(crate) fn arg<'a, T>(
    input: &'a [u8],
    what: &str,
    rule: impl FnOnce(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, T> {
    if at_argument_end(input) {
        return fail(format!("Missing {what}"));
    }
    match input.strip_prefix(b" ") {
        Some(rest) => commit(rule(rest), || format!("Invalid {what}")),
        None => fail(format!("Invalid {what}")),
    }
}

/// Whether no further argument follows: end of input, a line end, or the `)`
/// closing the enclosing list.
pub(crate) fn at_argument_end(input: &[u8]) -> bool {
    matches!(input, [] | [b'\r', b'\n', ..] | [b'\n', ..] | [b')', ..])
}

/// `CRLF`; a bare LF is accepted too (the one leniency in line ends).
pub(crate) fn line_end(input: &[u8]) -> PResult<'_, ()> {
    value((), alt((exact("\r\n"), exact("\n"))))(input)
}

/// Text for a reason that quotes client bytes: printable ASCII only, at most
/// 40 characters, so a BAD line never carries control or 8-bit bytes.
pub(crate) fn printable(bytes: &[u8]) -> String {
    const MAX_QUOTED_CHARS: usize = 40;
    let mut text: String = bytes
        .iter()
        .take(MAX_QUOTED_CHARS)
        .map(|&b| {
            if b.is_ascii_graphic() {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect();
    if bytes.len() > MAX_QUOTED_CHARS {
        text.push_str("...");
    }
    text
}

/// Bytes that must be text (field names, charset names, ID values): UTF-8 or
/// the command is malformed.
pub(crate) fn utf8(bytes: Cow<'_, [u8]>, what: &str) -> Result<String, nom::Err<SyntaxError>> {
    String::from_utf8(bytes.into_owned()).map_err(|_| {
        nom::Err::Failure(SyntaxError {
            reason: Some(format!("{what} is not valid UTF-8").into()),
        })
    })
}

// --- character classes

/// `CHAR = %x01-7F`, `CTL = %x00-1F / %x7F`.
///
/// `ATOM-CHAR = <any CHAR except atom-specials>`
/// `atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials`
pub(crate) fn is_atom_char(b: u8) -> bool {
    matches!(b, 0x21..=0x7e) && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// `ASTRING-CHAR = ATOM-CHAR / resp-specials`
pub(crate) fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// `list-char = ATOM-CHAR / list-wildcards / resp-specials`
fn is_list_char(b: u8) -> bool {
    is_atom_char(b) || matches!(b, b'%' | b'*' | b']')
}

/// `TEXT-CHAR = <any CHAR except CR and LF>`
fn is_text_char(b: u8) -> bool {
    matches!(b, 0x01..=0x7f) && b != b'\r' && b != b'\n'
}

// --- tokens

/// `tag = 1*<any ASTRING-CHAR except "+">`
pub(crate) fn tag(input: &[u8]) -> PResult<'_, &[u8]> {
    take_while1(|b| is_astring_char(b) && b != b'+')(input)
}

/// `atom = 1*ATOM-CHAR`
pub(crate) fn atom(input: &[u8]) -> PResult<'_, &[u8]> {
    take_while1(is_atom_char)(input)
}

/// `nil = "NIL"`
pub(crate) fn nil(input: &[u8]) -> PResult<'_, ()> {
    value((), tag_no_case("NIL"))(input)
}

/// `number = 1*DIGIT` ; Unsigned 32-bit integer (0 <= n < 4,294,967,296)
///
/// Overflow is a failure, not a wrap: `4294967296` is malformed.
pub(crate) fn number(input: &[u8]) -> PResult<'_, u32> {
    let (rest, n) = decimal(input, u64::from(u32::MAX))?;
    Ok((rest, u32::try_from(n).unwrap_or(u32::MAX)))
}

/// `number64 = 1*DIGIT` (RFC 9051 §9: 0 to 2^63-1), saturated to `u32::MAX`:
/// the sizes it is compared with (RFC822.SIZE) are 32-bit here.
pub(crate) fn number64_saturated(input: &[u8]) -> PResult<'_, u32> {
    let (rest, n) = decimal(input, i64::MAX as u64)?;
    Ok((rest, u32::try_from(n).unwrap_or(u32::MAX)))
}

/// `1*DIGIT` as a number no larger than `max`; a larger one is a failure.
fn decimal(input: &[u8], max: u64) -> PResult<'_, u64> {
    let (rest, digits) = take_while1(|b: u8| b.is_ascii_digit())(input)?;
    let mut n: u64 = 0;
    for &d in digits {
        n = match n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .filter(|&n| n <= max)
        {
            Some(n) => n,
            None => return fail(format!("Number {} is too large", printable(digits))),
        };
    }
    Ok((rest, n))
}

/// `nz-number = digit-nz *DIGIT` ; Non-zero unsigned 32-bit integer
pub(crate) fn nz_number(input: &[u8]) -> PResult<'_, NonZeroU32> {
    if !matches!(input.first(), Some(b'1'..=b'9')) {
        return mismatch();
    }
    let (rest, n) = number(input)?;
    match NonZeroU32::new(n) {
        Some(n) => Ok((rest, n)),
        // Unreachable: the first digit is non-zero. Treated as a mismatch anyway.
        None => mismatch(),
    }
}

// --- strings

thread_local! {
    /// Whether IMAP4rev2's grammar applies (UTF-8 in `quoted`, `number64`
    /// in LARGER/SMALLER); set only while [`with_utf8_quoted`] runs a parse,
    /// so the grammar stays one set of plain functions and IMAP4rev1 parsing
    /// is untouched.
    static UTF8_QUOTED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `parse` with RFC 9051's `quoted`, which also takes UTF-8
/// (`QUOTED-CHAR =/ UTF8-2 / UTF8-3 / UTF8-4`, RFC 9051 §9).
pub(crate) fn with_utf8_quoted<T>(parse: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            UTF8_QUOTED.set(self.0);
        }
    }
    let _reset = Reset(UTF8_QUOTED.replace(true));
    parse()
}

/// Whether the parse under way uses IMAP4rev2's grammar.
pub(crate) fn rev2_grammar() -> bool {
    UTF8_QUOTED.get()
}

/// The length of the well-formed UTF-8 sequence of 2 to 4 octets that
/// `input` starts with (RFC 3629 `UTF8-2 / UTF8-3 / UTF8-4`), if any.
fn utf8_sequence(input: &[u8]) -> Option<usize> {
    let len = match input.first()? {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    std::str::from_utf8(input.get(..len)?).ok().map(|_| len)
}

/// `quoted = DQUOTE *QUOTED-CHAR DQUOTE`
/// `QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> / "\" quoted-specials`
///
/// Strict RFC 3501: 8-bit octets are not TEXT-CHARs and must be sent as a
/// literal. IMAP4rev2 adds `/ UTF8-2 / UTF8-3 / UTF8-4` ([`with_utf8_quoted`]).
pub(crate) fn quoted(input: &[u8]) -> PResult<'_, Vec<u8>> {
    let Some(mut rest) = input.strip_prefix(b"\"") else {
        return mismatch();
    };
    let mut out = Vec::new();
    loop {
        match rest {
            [b'"', tail @ ..] => return Ok((tail, out)),
            [b'\\', c @ (b'"' | b'\\'), tail @ ..] => {
                out.push(*c);
                rest = tail;
            }
            [c, tail @ ..] if is_text_char(*c) && *c != b'\\' => {
                out.push(*c);
                rest = tail;
            }
            [0x80..=0xff, ..] if UTF8_QUOTED.get() => {
                let Some(len) = utf8_sequence(rest) else {
                    return mismatch();
                };
                let (sequence, tail) = rest.split_at(len);
                out.extend_from_slice(sequence);
                rest = tail;
            }
            _ => return mismatch(),
        }
    }
}

/// `literal = "{" number ["+"] "}" CRLF *CHAR8` ; Number represents the number of CHAR8s
///
/// `{n+}` is RFC 7888 LITERAL+ / LITERAL- (a non-synchronizing literal): the
/// same bytes once framed. `CHAR8 = %x01-ff`: a NUL octet is malformed.
pub(crate) fn literal(input: &[u8]) -> PResult<'_, &[u8]> {
    let Some(rest) = input.strip_prefix(b"{") else {
        return mismatch();
    };
    let (rest, data) = literal_body(rest)?;
    if data.contains(&0) {
        return fail("NUL octet in literal");
    }
    Ok((rest, data))
}

/// `literal8 = "~{" number ["+"] "}" CRLF *OCTET` (RFC 3516 / RFC 4466): may hold NUL.
pub(crate) fn literal8(input: &[u8]) -> PResult<'_, &[u8]> {
    match input.strip_prefix(b"~{") {
        Some(rest) => literal_body(rest),
        None => mismatch(),
    }
}

/// The part of a literal after its `{`: `number ["+"] "}" CRLF` then the octets.
fn literal_body(input: &[u8]) -> PResult<'_, &[u8]> {
    let header = |i| {
        let (i, n) = number(i)?;
        let i = i.strip_prefix(b"+").unwrap_or(i);
        let (i, _) = exact("}")(i)?;
        let (i, ()) = line_end(i)?;
        Ok((i, n))
    };
    let (data, len) = commit(header(input), || "Invalid literal".into())?;
    let Ok(len) = usize::try_from(len) else {
        return fail("Literal too large");
    };
    match (data.get(..len), data.get(len..)) {
        (Some(octets), Some(rest)) => Ok((rest, octets)),
        _ => fail("Literal is shorter than its announced length"),
    }
}

/// `string = quoted / literal`
pub(crate) fn string(input: &[u8]) -> PResult<'_, Cow<'_, [u8]>> {
    if input.starts_with(b"{") {
        let (rest, data) = literal(input)?;
        return Ok((rest, Cow::Borrowed(data)));
    }
    let (rest, data) = quoted(input)?;
    Ok((rest, Cow::Owned(data)))
}

/// `astring = 1*ASTRING-CHAR / string`
pub(crate) fn astring(input: &[u8]) -> PResult<'_, Cow<'_, [u8]>> {
    if matches!(input.first(), Some(b'"' | b'{')) {
        return string(input);
    }
    let (rest, chars) = take_while1(is_astring_char)(input)?;
    Ok((rest, Cow::Borrowed(chars)))
}

/// `nstring = string / nil`
pub(crate) fn nstring(input: &[u8]) -> PResult<'_, Option<Cow<'_, [u8]>>> {
    if let Ok((rest, ())) = nil(input) {
        return Ok((rest, None));
    }
    let (rest, s) = string(input)?;
    Ok((rest, Some(s)))
}

// --- mailboxes and flags

/// `mailbox = "INBOX" / astring` ; INBOX is case-insensitive; the handlers decide.
pub(crate) fn mailbox(input: &[u8]) -> PResult<'_, MailboxName> {
    let (rest, name) = astring(input)?;
    Ok((rest, MailboxName(name.into_owned())))
}

/// `list-mailbox = 1*list-char / string`
pub(crate) fn list_mailbox(input: &[u8]) -> PResult<'_, MailboxName> {
    if matches!(input.first(), Some(b'"' | b'{')) {
        let (rest, name) = string(input)?;
        return Ok((rest, MailboxName(name.into_owned())));
    }
    let (rest, chars) = take_while1(is_list_char)(input)?;
    Ok((rest, MailboxName(chars.to_vec())))
}

/// `flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" / flag-keyword / flag-extension`
/// `flag-keyword = atom`, `flag-extension = "\" atom`
///
/// System flag names are case-insensitive. `\Recent` is not a `flag` in the
/// ABNF (only a `flag-fetch`), but clients name it; it maps to [`Flag::Recent`]
/// and the handlers decide what to do with it.
pub(crate) fn flag(input: &[u8]) -> PResult<'_, Flag> {
    let Some(after_backslash) = input.strip_prefix(b"\\") else {
        let (rest, keyword) = atom(input)?;
        return Ok((rest, Flag::Keyword(utf8(Cow::Borrowed(keyword), "Flag")?)));
    };
    let (rest, name) = atom(after_backslash)?;
    let upper = name.to_ascii_uppercase();
    let flag = match upper.as_slice() {
        b"SEEN" => Flag::Seen,
        b"ANSWERED" => Flag::Answered,
        b"FLAGGED" => Flag::Flagged,
        b"DELETED" => Flag::Deleted,
        b"DRAFT" => Flag::Draft,
        b"RECENT" => Flag::Recent,
        _ => Flag::Extension(utf8(Cow::Borrowed(name), "Flag")?),
    };
    Ok((rest, flag))
}

/// `flag-list = "(" [flag *(SP flag)] ")"`
pub(crate) fn flag_list(input: &[u8]) -> PResult<'_, Vec<Flag>> {
    let Some(mut rest) = input.strip_prefix(b"(") else {
        return mismatch();
    };
    let mut flags = Vec::new();
    if let Some(tail) = rest.strip_prefix(b")") {
        return Ok((tail, flags));
    }
    loop {
        let (tail, f) = commit(flag(rest), || "Invalid flag".into())?;
        flags.push(f);
        match tail {
            [b' ', t @ ..] => rest = t,
            [b')', t @ ..] => return Ok((t, flags)),
            _ => return fail("Missing ')' after flags"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason<T: std::fmt::Debug>(r: PResult<'_, T>) -> Option<String> {
        match r {
            Err(nom::Err::Failure(e)) => e.reason.map(|r| r.into_owned()),
            other => panic!("expected failure, got {other:?}"),
        }
    }

    #[test]
    fn astring_forms() {
        let cases: &[(&[u8], &[u8], &[u8])] = &[
            (b"alice rest", b"alice", b" rest"),
            (b"INBOX]x)", b"INBOX]x", b")"),
            (b"\"a b\\\"c\\\\\" x", b"a b\"c\\", b" x"),
            (b"\"\" x", b"", b" x"),
            (b"{5}\r\nal ce x", b"al ce", b" x"),
            (b"{3+}\r\npwd\r\n", b"pwd", b"\r\n"),
            (b"{0}\r\n)", b"", b")"),
            (b"{2}\n\xc3\xa9 ", b"\xc3\xa9", b" "),
        ];
        for &(input, value, rest) in cases {
            let (r, v) = astring(input).unwrap_or_else(|e| panic!("{input:?}: {e:?}"));
            assert_eq!((&*v, r), (value, rest), "{input:?}");
        }
    }

    #[test]
    fn astring_rejects() {
        let cases: &[&[u8]] = &[
            b"",
            b" x",
            b"(x",
            b"\"unterminated",
            b"\"bad \\x escape\"",
            b"\"cr\rin\"",
            b"\"8bit \xe9\"",
            b"\"nul \x00\"",
            b"\xe9t\xe9",
            b"%x",
        ];
        for input in cases {
            assert!(astring(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn literal_failures_have_reasons() {
        assert_eq!(
            reason(literal(b"{10}\r\nshort")).as_deref(),
            Some("Literal is shorter than its announced length")
        );
        assert_eq!(
            reason(literal(b"{3}\r\na\x00b")).as_deref(),
            Some("NUL octet in literal")
        );
        assert_eq!(
            reason(literal(b"{3}xyz")).as_deref(),
            Some("Invalid literal")
        );
        assert_eq!(
            reason(literal(b"{-1}\r\n")).as_deref(),
            Some("Invalid literal")
        );
        assert!(reason(literal(b"{99999999999}\r\n")).is_some_and(|r| r.contains("too large")));
        // literal8 may carry NUL.
        assert_eq!(literal8(b"~{3}\r\na\x00b"), Ok((&b""[..], &b"a\x00b"[..])));
    }

    #[test]
    fn numbers_reject_overflow() {
        assert_eq!(number(b"4294967295 "), Ok((&b" "[..], u32::MAX)));
        assert!(matches!(number(b"4294967296"), Err(nom::Err::Failure(_))));
        assert!(matches!(
            number(b"99999999999999999999999"),
            Err(nom::Err::Failure(_))
        ));
        assert!(nz_number(b"0").is_err());
        assert!(nz_number(b"01").is_err());
        assert_eq!(
            nz_number(b"10:"),
            Ok((&b":"[..], NonZeroU32::MIN.saturating_add(9)))
        );
    }

    #[test]
    fn flags_map_to_variants() {
        let cases: &[(&[u8], Flag)] = &[
            (b"\\Seen", Flag::Seen),
            (b"\\SEEN", Flag::Seen),
            (b"\\answered", Flag::Answered),
            (b"\\Flagged", Flag::Flagged),
            (b"\\Deleted", Flag::Deleted),
            (b"\\Draft", Flag::Draft),
            (b"\\Recent", Flag::Recent),
            (b"\\Important", Flag::Extension("Important".into())),
            (b"$Forwarded", Flag::Keyword("$Forwarded".into())),
            (b"Work", Flag::Keyword("Work".into())),
        ];
        for (input, expected) in cases {
            assert_eq!(
                flag(input).map(|(_, f)| f).as_ref(),
                Ok(expected),
                "{input:?}"
            );
        }
        assert!(flag(b"\\").is_err());
        assert!(flag(b"\\*").is_err());
        assert!(flag(b"k\xe9").is_ok_and(|(rest, _)| rest == b"\xe9"));
    }

    #[test]
    fn flag_lists() {
        assert_eq!(flag_list(b"()x"), Ok((&b"x"[..], vec![])));
        assert_eq!(
            flag_list(b"(\\Seen foo)"),
            Ok((&b""[..], vec![Flag::Seen, Flag::Keyword("foo".into())]))
        );
        assert_eq!(
            reason(flag_list(b"(\\Seen foo")).as_deref(),
            Some("Missing ')' after flags")
        );
        assert_eq!(
            reason(flag_list(b"(\\Seen  foo)")).as_deref(),
            Some("Invalid flag")
        );
    }

    #[test]
    fn tags_and_list_mailboxes() {
        assert_eq!(tag(b"A001 NOOP"), Ok((&b" NOOP"[..], &b"A001"[..])));
        assert_eq!(tag(b"a]b "), Ok((&b" "[..], &b"a]b"[..])));
        assert_eq!(tag(b"a+b "), Ok((&b"+b "[..], &b"a"[..])));
        assert!(tag(b"+a").is_err());
        assert!(tag(b"*").is_err());
        assert_eq!(
            list_mailbox(b"%/foo*]\r\n"),
            Ok((&b"\r\n"[..], MailboxName(b"%/foo*]".to_vec())))
        );
    }

    #[test]
    fn printable_quotes_safely() {
        assert_eq!(printable(b"FOO"), "FOO");
        assert_eq!(printable(b"A\x00\xff"), "A??");
        assert_eq!(printable(&[b'x'; 50]), format!("{}...", "x".repeat(40)));
    }
}
