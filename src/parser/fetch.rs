//! FETCH arguments (RFC 3501 §6.4.5): the attribute list, the macros, and
//! `BODY[section]<partial>`.
//!
//! The hard part is the section grammar: `1.2.MIME` and `2.HEADER` mix
//! part numbers and text specifiers separated by the same `.`, part numbers
//! must be non-zero (`BODY[1.0]` is malformed), and `MIME` is only valid after
//! a part number (`BODY[MIME]` is malformed, RFC 3501 §9 `section-text`).
//! Keywords are read as a run of letters, digits and `.` and compared
//! case-insensitively, so `body.peek[text]` is `BODY.PEEK[TEXT]`.

use nom::bytes::complete::take_while1;

use super::ast::{CommandBody, FetchAttribute, Partial, Peek, Section, SectionText};
use super::core::{
    PResult, arg, astring, commit, fail, mismatch, number, nz_number, printable, utf8,
};
use super::sequence::sequence_set;
use crate::types::Numbering;

/// `fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
///          "(" fetch-att *(SP fetch-att) ")")`
pub(crate) fn fetch(input: &[u8], numbering: Numbering) -> PResult<'_, CommandBody> {
    let (input, set) = arg(input, "sequence set", sequence_set)?;
    let (input, items) = arg(input, "fetch attributes", fetch_items)?;
    Ok((
        input,
        CommandBody::Fetch {
            set,
            items,
            numbering,
        },
    ))
}

/// The part after the sequence set: a macro, one `fetch-att`, or a list.
///
/// RFC 3501 §6.4.5: `ALL` = `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)`,
/// `FAST` = `(FLAGS INTERNALDATE RFC822.SIZE)`, `FULL` = `ALL` plus `BODY`.
/// Macros stand alone; `(ALL)` is malformed.
fn fetch_items(input: &[u8]) -> PResult<'_, Vec<FetchAttribute>> {
    use FetchAttribute::{Body, Envelope, Flags, InternalDate, Rfc822Size};

    if let Some(mut rest) = input.strip_prefix(b"(") {
        let mut items = Vec::new();
        loop {
            let (tail, att) = commit(fetch_att(rest), || "Invalid fetch attribute".into())?;
            items.push(att);
            match tail {
                [b' ', t @ ..] => rest = t,
                [b')', t @ ..] => return Ok((t, items)),
                _ => return fail("Missing ')' after fetch attributes"),
            }
        }
    }
    let (rest, word) = keyword(input)?;
    let items = match word.to_ascii_uppercase().as_slice() {
        b"ALL" => vec![Flags, InternalDate, Rfc822Size, Envelope],
        b"FAST" => vec![Flags, InternalDate, Rfc822Size],
        b"FULL" => vec![Flags, InternalDate, Rfc822Size, Envelope, Body],
        _ => {
            let (rest, att) = fetch_att(input)?;
            return Ok((rest, vec![att]));
        }
    };
    Ok((rest, items))
}

/// `fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" /
///              "RFC822" [".HEADER" / ".SIZE" / ".TEXT"] /
///              "BODY" ["STRUCTURE"] / "UID" /
///              "BODY" section ["<" number "." nz-number ">"] /
///              "BODY.PEEK" section ["<" number "." nz-number ">"]`
///
/// RFC 3516 §6 adds
/// `fetch-att =/ "BINARY" [".PEEK"] section-binary [partial] /
///               "BINARY.SIZE" section-binary`
pub(crate) fn fetch_att(input: &[u8]) -> PResult<'_, FetchAttribute> {
    let (rest, word) = keyword(input)?;
    let upper = word.to_ascii_uppercase();
    let att = match upper.as_slice() {
        b"ENVELOPE" => FetchAttribute::Envelope,
        b"FLAGS" => FetchAttribute::Flags,
        b"INTERNALDATE" => FetchAttribute::InternalDate,
        b"RFC822" => FetchAttribute::Rfc822,
        b"RFC822.HEADER" => FetchAttribute::Rfc822Header,
        b"RFC822.SIZE" => FetchAttribute::Rfc822Size,
        b"RFC822.TEXT" => FetchAttribute::Rfc822Text,
        b"BODYSTRUCTURE" => FetchAttribute::BodyStructure,
        b"UID" => FetchAttribute::Uid,
        b"BODY" | b"BODY.PEEK" if rest.starts_with(b"[") => {
            let (rest, section) = section(rest)?;
            let (rest, partial) = partial(rest)?;
            let peek = peek_of(&upper);
            let att = FetchAttribute::BodySection {
                section,
                partial,
                peek,
            };
            return Ok((rest, att));
        }
        b"BODY" => FetchAttribute::Body,
        b"BINARY" | b"BINARY.PEEK" => {
            let (rest, part) = section_binary(rest)?;
            let (rest, partial) = partial(rest)?;
            let peek = peek_of(&upper);
            return Ok((
                rest,
                FetchAttribute::Binary {
                    part,
                    partial,
                    peek,
                },
            ));
        }
        b"BINARY.SIZE" => {
            let (rest, part) = section_binary(rest)?;
            if rest.starts_with(b"<") {
                return fail("BINARY.SIZE takes no partial range");
            }
            return Ok((rest, FetchAttribute::BinarySize { part }));
        }
        _ => return fail(format!("Unknown fetch attribute {}", printable(word))),
    };
    Ok((rest, att))
}

/// `BODY.PEEK` and `BINARY.PEEK` leave \Seen alone; `BODY` and `BINARY` set it.
fn peek_of(keyword: &[u8]) -> Peek {
    if keyword.ends_with(b".PEEK") {
        Peek::Peek
    } else {
        Peek::SetSeen
    }
}

/// `section = "[" [section-spec] "]"`
fn section(input: &[u8]) -> PResult<'_, Section> {
    let Some(rest) = input.strip_prefix(b"[") else {
        return mismatch();
    };
    let (rest, section) = commit(section_spec(rest), || "Invalid section".into())?;
    match rest.strip_prefix(b"]") {
        Some(rest) => Ok((rest, section)),
        None => fail("Missing ']' after section"),
    }
}

/// `section-spec = section-msgtext / (section-part ["." section-text])`
///
/// Also the empty spec of `BODY[]` (the whole message).
pub(crate) fn section_spec(input: &[u8]) -> PResult<'_, Section> {
    if input.starts_with(b"]") {
        return Ok((
            input,
            Section {
                part: Vec::new(),
                text: None,
            },
        ));
    }
    if !input.first().is_some_and(u8::is_ascii_digit) {
        let (rest, text) = section_text(input)?;
        if text == SectionText::Mime {
            return fail("MIME section requires a part number");
        }
        return Ok((
            rest,
            Section {
                part: Vec::new(),
                text: Some(text),
            },
        ));
    }
    let (rest, part) = section_part(input)?;
    let Some(after_dot) = rest.strip_prefix(b".") else {
        return Ok((rest, Section { part, text: None }));
    };
    let (rest, text) = section_text(after_dot)?;
    Ok((
        rest,
        Section {
            part,
            text: Some(text),
        },
    ))
}

/// `section-binary = "[" [section-part] "]"` (RFC 3516 §6): part numbers
/// only, no HEADER/TEXT/MIME; `[]` is the whole message.
fn section_binary(input: &[u8]) -> PResult<'_, Vec<u32>> {
    let Some(rest) = input.strip_prefix(b"[") else {
        return fail("BINARY requires a section");
    };
    if let Some(rest) = rest.strip_prefix(b"]") {
        return Ok((rest, Vec::new()));
    }
    let (rest, part) = section_part(rest)?;
    match rest.strip_prefix(b"]") {
        Some(rest) => Ok((rest, part)),
        None => fail("Invalid binary section: part numbers only"),
    }
}

/// `section-part = nz-number *("." nz-number)` ; body part nesting
///
/// A `.` followed by a digit continues the part; followed by a letter it
/// starts the `section-text`.
fn section_part(input: &[u8]) -> PResult<'_, Vec<u32>> {
    let invalid = || "Invalid section part number".to_string();
    let (mut rest, first) = commit(nz_number(input), invalid)?;
    let mut part = vec![first.get()];
    while let [b'.', tail @ ..] = rest {
        if !tail.first().is_some_and(u8::is_ascii_digit) {
            break;
        }
        let (t, n) = commit(nz_number(tail), invalid)?;
        part.push(n.get());
        rest = t;
    }
    Ok((rest, part))
}

/// `section-text = section-msgtext / "MIME"`
/// `section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"`
fn section_text(input: &[u8]) -> PResult<'_, SectionText> {
    let (rest, word) = take_while1(|b: u8| b.is_ascii_alphabetic() || b == b'.')(input)?;
    let text = match word.to_ascii_uppercase().as_slice() {
        b"HEADER" => SectionText::Header,
        b"TEXT" => SectionText::Text,
        b"MIME" => SectionText::Mime,
        b"HEADER.FIELDS" => {
            let (rest, fields) = arg(rest, "header field list", header_list)?;
            return Ok((rest, SectionText::HeaderFields(fields)));
        }
        b"HEADER.FIELDS.NOT" => {
            let (rest, fields) = arg(rest, "header field list", header_list)?;
            return Ok((rest, SectionText::HeaderFieldsNot(fields)));
        }
        _ => return fail(format!("Unknown section {}", printable(word))),
    };
    Ok((rest, text))
}

/// `header-list = "(" header-fld-name *(SP header-fld-name) ")"`
/// `header-fld-name = astring`
fn header_list(input: &[u8]) -> PResult<'_, Vec<String>> {
    let Some(mut rest) = input.strip_prefix(b"(") else {
        return mismatch();
    };
    let mut fields = Vec::new();
    loop {
        let (tail, name) = commit(astring(rest), || "Invalid header field name".into())?;
        fields.push(utf8(name, "Header field name")?);
        match tail {
            [b' ', t @ ..] => rest = t,
            [b')', t @ ..] => return Ok((t, fields)),
            _ => return fail("Missing ')' after header field names"),
        }
    }
}

/// `partial = "<" number "." nz-number ">"` (the rule is named in RFC 3516
/// §6; RFC 3501 writes it inline in `fetch-att`): the optional range.
fn partial(input: &[u8]) -> PResult<'_, Option<Partial>> {
    let Some(rest) = input.strip_prefix(b"<") else {
        return Ok((input, None));
    };
    let range = |i| {
        let (i, origin) = number(i)?;
        let Some(i) = i.strip_prefix(b".") else {
            return mismatch();
        };
        let (i, length) = nz_number(i)?;
        let Some(i) = i.strip_prefix(b">") else {
            return mismatch();
        };
        Ok((
            i,
            Some(Partial {
                origin,
                length: length.get(),
            }),
        ))
    };
    commit(range(rest), || "Invalid partial range".into())
}

/// A fetch keyword: letters, digits and `.` (`RFC822.SIZE`, `BODY.PEEK`).
fn keyword(input: &[u8]) -> PResult<'_, &[u8]> {
    take_while1(|b: u8| b.is_ascii_alphanumeric() || b == b'.')(input)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::parser::tests::Rng;

    /// The test-only encoder: one attribute in its canonical wire form.
    pub(crate) fn render_att(att: &FetchAttribute) -> String {
        match att {
            FetchAttribute::Envelope => "ENVELOPE".into(),
            FetchAttribute::Flags => "FLAGS".into(),
            FetchAttribute::InternalDate => "INTERNALDATE".into(),
            FetchAttribute::Rfc822 => "RFC822".into(),
            FetchAttribute::Rfc822Header => "RFC822.HEADER".into(),
            FetchAttribute::Rfc822Size => "RFC822.SIZE".into(),
            FetchAttribute::Rfc822Text => "RFC822.TEXT".into(),
            FetchAttribute::Body => "BODY".into(),
            FetchAttribute::BodyStructure => "BODYSTRUCTURE".into(),
            FetchAttribute::Uid => "UID".into(),
            FetchAttribute::BodySection {
                section,
                partial,
                peek,
            } => {
                let mut out = String::from(match peek {
                    Peek::SetSeen => "BODY[",
                    Peek::Peek => "BODY.PEEK[",
                });
                out.push_str(&render_part(&section.part));
                if let Some(text) = &section.text {
                    if !section.part.is_empty() {
                        out.push('.');
                    }
                    let list = |f: &[String]| {
                        let names: Vec<String> = f.iter().map(|n| quote(n)).collect();
                        names.join(" ")
                    };
                    match text {
                        SectionText::Header => out.push_str("HEADER"),
                        SectionText::Text => out.push_str("TEXT"),
                        SectionText::Mime => out.push_str("MIME"),
                        SectionText::HeaderFields(f) => {
                            out.push_str(&format!("HEADER.FIELDS ({})", list(f)));
                        }
                        SectionText::HeaderFieldsNot(f) => {
                            out.push_str(&format!("HEADER.FIELDS.NOT ({})", list(f)));
                        }
                    }
                }
                out.push(']');
                out.push_str(&render_partial(partial.as_ref()));
                out
            }
            FetchAttribute::Binary {
                part,
                partial,
                peek,
            } => {
                let name = match peek {
                    Peek::SetSeen => "BINARY",
                    Peek::Peek => "BINARY.PEEK",
                };
                let partial = render_partial(partial.as_ref());
                format!("{name}[{}]{partial}", render_part(part))
            }
            FetchAttribute::BinarySize { part } => {
                format!("BINARY.SIZE[{}]", render_part(part))
            }
        }
    }

    fn render_part(part: &[u32]) -> String {
        let parts: Vec<String> = part.iter().map(u32::to_string).collect();
        parts.join(".")
    }

    fn render_partial(partial: Option<&Partial>) -> String {
        partial.map_or(String::new(), |p| format!("<{}.{}>", p.origin, p.length))
    }

    /// Field names rendered as atoms when possible, quoted otherwise.
    fn quote(name: &str) -> String {
        if !name.is_empty() && name.bytes().all(crate::parser::core::is_astring_char) {
            name.to_string()
        } else {
            format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
        }
    }

    fn random_att(rng: &mut Rng) -> FetchAttribute {
        const SIMPLE: [FetchAttribute; 10] = [
            FetchAttribute::Envelope,
            FetchAttribute::Flags,
            FetchAttribute::InternalDate,
            FetchAttribute::Rfc822,
            FetchAttribute::Rfc822Header,
            FetchAttribute::Rfc822Size,
            FetchAttribute::Rfc822Text,
            FetchAttribute::Body,
            FetchAttribute::BodyStructure,
            FetchAttribute::Uid,
        ];
        if rng.below(3) > 0 {
            return SIMPLE[rng.below(SIMPLE.len() as u32) as usize].clone();
        }
        let part: Vec<u32> = (0..rng.below(4)).map(|_| 1 + rng.below(30)).collect();
        let partial = (rng.below(2) == 0).then(|| Partial {
            origin: rng.below(u32::MAX),
            length: 1 + rng.below(1 << 20),
        });
        let peek = if rng.below(2) == 0 {
            Peek::Peek
        } else {
            Peek::SetSeen
        };
        match rng.below(4) {
            0 => {
                return FetchAttribute::Binary {
                    part,
                    partial,
                    peek,
                };
            }
            1 => return FetchAttribute::BinarySize { part },
            _ => {}
        }
        let fields = |rng: &mut Rng| -> Vec<String> {
            const NAMES: [&str; 6] = ["DATE", "From", "x-spam]", "a b", "q\"\\", ""];
            (0..1 + rng.below(3))
                .map(|_| NAMES[rng.below(6) as usize].to_string())
                .collect()
        };
        let text = match rng.below(6) {
            0 => None,
            1 => Some(SectionText::Header),
            2 => Some(SectionText::Text),
            3 => Some(SectionText::HeaderFields(fields(rng))),
            4 => Some(SectionText::HeaderFieldsNot(fields(rng))),
            _ if part.is_empty() => None,
            _ => Some(SectionText::Mime),
        };
        FetchAttribute::BodySection {
            section: Section { part, text },
            partial,
            peek,
        }
    }

    fn parse_items(input: &[u8]) -> Result<Vec<FetchAttribute>, Option<String>> {
        match fetch_items(input) {
            Ok((b"", items)) => Ok(items),
            Ok((rest, _)) => Err(Some(format!("left over: {}", printable(rest)))),
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e.reason.map(|r| r.into_owned())),
            Err(nom::Err::Incomplete(_)) => Err(None),
        }
    }

    fn body(
        part: &[u32],
        text: Option<SectionText>,
        partial: Option<(u32, u32)>,
    ) -> FetchAttribute {
        FetchAttribute::BodySection {
            section: Section {
                part: part.to_vec(),
                text,
            },
            partial: partial.map(|(origin, length)| Partial { origin, length }),
            peek: Peek::SetSeen,
        }
    }

    #[test]
    fn known_answers() {
        use FetchAttribute::*;
        let fields = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let cases: Vec<(&[u8], Vec<FetchAttribute>)> = vec![
            (b"FLAGS", vec![Flags]),
            (b"flags", vec![Flags]),
            (b"ALL", vec![Flags, InternalDate, Rfc822Size, Envelope]),
            (b"fast", vec![Flags, InternalDate, Rfc822Size]),
            (
                b"FULL",
                vec![Flags, InternalDate, Rfc822Size, Envelope, Body],
            ),
            (b"(UID RFC822.SIZE FLAGS)", vec![Uid, Rfc822Size, Flags]),
            (
                b"(RFC822 RFC822.HEADER RFC822.TEXT)",
                vec![Rfc822, Rfc822Header, Rfc822Text],
            ),
            (
                b"(BODY BODYSTRUCTURE ENVELOPE INTERNALDATE)",
                vec![Body, BodyStructure, Envelope, InternalDate],
            ),
            (b"BODY[]", vec![body(&[], None, None)]),
            (
                b"BODY[TEXT]",
                vec![body(&[], Some(SectionText::Text), None)],
            ),
            (
                b"body[header]",
                vec![body(&[], Some(SectionText::Header), None)],
            ),
            (
                b"BODY[1.2.MIME]",
                vec![body(&[1, 2], Some(SectionText::Mime), None)],
            ),
            (
                b"BODY[2.HEADER]",
                vec![body(&[2], Some(SectionText::Header), None)],
            ),
            (b"BODY[3]", vec![body(&[3], None, None)]),
            (
                b"BODY[4.2.2.1.TEXT]",
                vec![body(&[4, 2, 2, 1], Some(SectionText::Text), None)],
            ),
            (b"BODY[]<0.100>", vec![body(&[], None, Some((0, 100)))]),
            (
                b"BODY[1]<4294967295.1>",
                vec![body(&[1], None, Some((u32::MAX, 1)))],
            ),
            (
                b"(FLAGS BODY[HEADER.FIELDS (DATE FROM)])",
                vec![
                    Flags,
                    body(
                        &[],
                        Some(SectionText::HeaderFields(fields(&["DATE", "FROM"]))),
                        None,
                    ),
                ],
            ),
            (
                b"BODY[HEADER.FIELDS.NOT (\"Received\" {4}\r\nX-Me)]",
                vec![body(
                    &[],
                    Some(SectionText::HeaderFieldsNot(fields(&["Received", "X-Me"]))),
                    None,
                )],
            ),
            (
                b"BODY.PEEK[1.HEADER.FIELDS (Subject)]<10.20>",
                vec![BodySection {
                    section: Section {
                        part: vec![1],
                        text: Some(SectionText::HeaderFields(fields(&["Subject"]))),
                    },
                    partial: Some(Partial {
                        origin: 10,
                        length: 20,
                    }),
                    peek: Peek::Peek,
                }],
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_items(input), Ok(expected), "{}", printable(input));
        }
    }

    /// RFC 3516 §6 `section-binary = "[" [section-part] "]"`.
    #[test]
    fn section_binary_rule() {
        let cases: &[(&[u8], &[u32], &[u8])] = &[
            (b"[]", &[], b""),
            (b"[1]", &[1], b""),
            (b"[4.2.2.1] x", &[4, 2, 2, 1], b" x"),
            (b"[4294967295]<", &[u32::MAX], b"<"),
        ];
        for &(input, part, rest) in cases {
            assert_eq!(
                section_binary(input),
                Ok((rest, part.to_vec())),
                "{}",
                printable(input)
            );
        }
        for input in [
            &b"[1.]"[..],
            b"[.1]",
            b"[01x]",
            b"[TEXT]",
            b"[1.TEXT]",
            b"1]",
        ] {
            assert!(
                matches!(section_binary(input), Err(nom::Err::Failure(_))),
                "{}",
                printable(input)
            );
        }
    }

    /// RFC 3516 §6 `partial = "<" number "." nz-number ">"`.
    #[test]
    fn partial_rule() {
        let range = |origin, length| Some(Partial { origin, length });
        assert_eq!(partial(b"<0.1>"), Ok((&b""[..], range(0, 1))));
        assert_eq!(partial(b"<7.30>)"), Ok((&b")"[..], range(7, 30))));
        assert_eq!(
            partial(b"<4294967295.4294967295>"),
            Ok((&b""[..], range(u32::MAX, u32::MAX)))
        );
        assert_eq!(partial(b" <0.1>"), Ok((&b" <0.1>"[..], None)));
        for input in [&b"<0.0>"[..], b"<1>", b"<.1>", b"<1.>", b"<-1.2>", b"<1.2"] {
            assert!(
                matches!(partial(input), Err(nom::Err::Failure(_))),
                "{}",
                printable(input)
            );
        }
    }

    /// RFC 3516 §6 `fetch-att =/ "BINARY" [".PEEK"] section-binary [partial]
    /// / "BINARY.SIZE" section-binary`, including RFC 3516 §4.2's examples.
    #[test]
    fn fetch_att_binary() {
        use FetchAttribute::{Binary, BinarySize, Flags, Uid};
        let binary = |part: &[u32], partial: Option<(u32, u32)>, peek| Binary {
            part: part.to_vec(),
            partial: partial.map(|(origin, length)| Partial { origin, length }),
            peek,
        };
        let size = |part: &[u32]| BinarySize {
            part: part.to_vec(),
        };
        let cases: Vec<(&[u8], Vec<FetchAttribute>)> = vec![
            (b"BINARY[]", vec![binary(&[], None, Peek::SetSeen)]),
            (b"binary.peek[1]", vec![binary(&[1], None, Peek::Peek)]),
            (
                b"BINARY.PEEK[1.2]<0.1024>",
                vec![binary(&[1, 2], Some((0, 1024)), Peek::Peek)],
            ),
            (
                b"BINARY[3]<5.10>",
                vec![binary(&[3], Some((5, 10)), Peek::SetSeen)],
            ),
            (b"Binary.Size[]", vec![size(&[])]),
            (
                b"(UID BINARY.SIZE[1] BINARY.PEEK[1] FLAGS)",
                vec![Uid, size(&[1]), binary(&[1], None, Peek::Peek), Flags],
            ),
            (
                b"(BINARY.SIZE[2.1] BINARY[2.1]<0.7>)",
                vec![size(&[2, 1]), binary(&[2, 1], Some((0, 7)), Peek::SetSeen)],
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_items(input), Ok(expected), "{}", printable(input));
        }
    }

    #[test]
    fn malformed_attributes() {
        let cases: &[(&[u8], &str)] = &[
            (b"BODY[1.0]", "Invalid section part number"),
            (b"BODY[0]", "Invalid section part number"),
            (b"BODY[MIME]", "MIME section requires a part number"),
            (b"BODY[1.FOO]", "Unknown section FOO"),
            (b"BODY[HEADER", "Missing ']' after section"),
            (b"BODY[HEADER.FIELDS ()]", "Invalid header field name"),
            (b"BODY[HEADER.FIELDS]", "Invalid header field list"),
            (
                b"BODY[HEADER.FIELDS (DATE]",
                "Missing ')' after header field names",
            ),
            (b"BODY[]<0.0>", "Invalid partial range"),
            (b"BODY[]<5>", "Invalid partial range"),
            (b"BODY[]<1.99999999999>", "Number 99999999999 is too large"),
            (b"BODY.PEEK", "Unknown fetch attribute BODY.PEEK"),
            (b"BINARY", "BINARY requires a section"),
            (b"BINARY.PEEK 1", "BINARY requires a section"),
            (b"BINARY.SIZE", "BINARY requires a section"),
            (b"BINARY[TEXT]", "Invalid section part number"),
            (b"BINARY[0]", "Invalid section part number"),
            (b"BINARY[1.0]", "Invalid section part number"),
            (
                b"BINARY[1.MIME]",
                "Invalid binary section: part numbers only",
            ),
            (
                b"BINARY[1.HEADER]",
                "Invalid binary section: part numbers only",
            ),
            (b"BINARY[1 2]", "Invalid binary section: part numbers only"),
            (b"BINARY[1", "Invalid binary section: part numbers only"),
            (b"BINARY[]<0.0>", "Invalid partial range"),
            (b"BINARY.PEEK[1]<1>", "Invalid partial range"),
            (
                b"BINARY.SIZE[1]<0.10>",
                "BINARY.SIZE takes no partial range",
            ),
            (
                b"BINARY.SIZE.PEEK[1]",
                "Unknown fetch attribute BINARY.SIZE.PEEK",
            ),
            (b"(BINARY.SIZE[2] BINARY[", "Invalid section part number"),
            (b"(FLAGS", "Missing ')' after fetch attributes"),
            (b"(FLAGS UID", "Missing ')' after fetch attributes"),
            (b"()", "Invalid fetch attribute"),
            (b"(ALL)", "Unknown fetch attribute ALL"),
            (b"((FLAGS))", "Invalid fetch attribute"),
            (b"FOO", "Unknown fetch attribute FOO"),
        ];
        for &(input, reason) in cases {
            assert_eq!(
                parse_items(input),
                Err(Some(reason.to_string())),
                "{}",
                printable(input)
            );
        }
    }

    #[test]
    fn round_trip_random_attributes() {
        let mut rng = Rng::new(0x5eed_0002);
        for _ in 0..2000 {
            let atts: Vec<FetchAttribute> = (0..1 + rng.below(5))
                .map(|_| random_att(&mut rng))
                .collect();
            let rendered: Vec<String> = atts.iter().map(render_att).collect();
            let text = format!("({})", rendered.join(" "));
            assert_eq!(parse_items(text.as_bytes()), Ok(atts), "{text}");
        }
    }
}
