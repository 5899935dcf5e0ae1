//! FETCH tests over byte-literal messages (no mailbox needed): RFC 3501
//! examples, BODYSTRUCTURE shapes, section numbering, partial windows,
//! malformed MIME, and imap-codec as a second opinion on the syntax.

use std::num::NonZeroU32;

use imap_codec::ResponseCodec;
use imap_codec::decode::Decoder;

use super::*;
use crate::mime::header;
use crate::parser::ast::{Partial, Section};
use crate::types::{SeqBound, SeqRange, Uid};

/// The six UW status headers (mbox-format.md §6), hidden from clients.
const HIDDEN: [&[u8]; 6] = [
    b"status",
    b"x-status",
    b"x-keywords",
    b"x-uid",
    b"x-imap",
    b"x-imapbase",
];

/// Length of the stored header including its blank line.
fn header_length(raw: &[u8]) -> usize {
    let (_, body) = mime::structure::split_header(raw, 0..raw.len());
    body.start
}

/// A stand-in for `MessageView::visible_header` (implemented in mailstore):
/// the kept fields, then the blank line.
fn visible_header(raw: &[u8]) -> Vec<&[u8]> {
    let len = header_length(raw);
    let (header, _) = mime::structure::split_header(raw, 0..raw.len());
    let mut pieces: Vec<&[u8]> = header::fields(&raw[header.clone()])
        .filter(|f| !HIDDEN.iter().any(|h| f.is(h)))
        .map(|f| f.raw)
        .collect();
    pieces.push(&raw[header.end..len]);
    pieces
}

fn entry(uid: u32) -> MessageEntry {
    MessageEntry {
        uid: Uid::new(uid).unwrap(),
        flags: SystemFlags::default(),
        keywords: 0,
        internal_date: 0,
        zone_minutes: 0,
        rfc822_size: 0,
        offset: 0,
        length: 0,
        header_length: 0,
    }
}

fn render_with(
    raw: &[u8],
    entry: &MessageEntry,
    keywords: &[String],
    items: &[FetchAttribute],
    implicit: Implicit,
) -> Vec<u8> {
    let message = FetchMessage {
        view: MessageView {
            raw,
            header_length: header_length(raw),
        },
        visible_header: visible_header(raw),
    };
    let mut out = ResponseWriter::new(Vec::new());
    let mut cache = Cache::default();
    write_message(
        &mut out, 1, &message, entry, keywords, items, implicit, &mut cache,
    )
    .unwrap();
    out.into_inner().unwrap()
}

fn render(raw: &[u8], items: &[FetchAttribute]) -> String {
    let bytes = render_with(raw, &entry(1), &[], items, Implicit::default());
    String::from_utf8(bytes).unwrap()
}

/// `* 1 FETCH (` … `)\r\n` → the part between.
fn inner(response: &str) -> &str {
    response
        .strip_prefix("* 1 FETCH (")
        .and_then(|r| r.strip_suffix(")\r\n"))
        .unwrap_or(response)
}

fn section(part: &[u32], text: Option<SectionText>) -> FetchAttribute {
    FetchAttribute::BodySection {
        section: Section {
            part: part.to_vec(),
            text,
        },
        partial: None,
        peek: Peek::Peek,
    }
}

fn partial(part: &[u32], text: Option<SectionText>, origin: u32, length: u32) -> FetchAttribute {
    FetchAttribute::BodySection {
        section: Section {
            part: part.to_vec(),
            text,
        },
        partial: Some(Partial { origin, length }),
        peek: Peek::Peek,
    }
}

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

/// LF → CRLF, as the client receives stored text.
fn crlf(s: &str) -> String {
    s.replace('\n', "\r\n")
}

/// imap-codec must parse the whole response as one FETCH.
fn assert_parses(response: &[u8]) {
    match ResponseCodec::default().decode(response) {
        Ok((rest, _)) => assert!(
            rest.is_empty(),
            "trailing bytes after {:?}",
            String::from_utf8_lossy(response)
        ),
        Err(e) => panic!(
            "imap-codec rejects {:?}: {e:?}",
            String::from_utf8_lossy(response)
        ),
    }
}

const PLAIN: &[u8] = b"From: Alice <alice@example.org>\nTo: bob@example.org\nSubject: hi\n\
Date: Mon, 5 Jan 2015 10:00:00 +0000\nStatus: RO\nX-UID: 1\n\nhello\nworld\n";

const ALTERNATIVE: &[u8] = b"From: a@b\nContent-Type: multipart/alternative; boundary=\"XX\"\n\n\
--XX\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n\
caf=C3=A9\n--XX\nContent-Type: text/html; charset=utf-8\n\n<p>caf\xc3\xa9</p>\nline 2\n--XX--\n";

const NESTED: &[u8] = b"From: A <a@example.com>
To: b@example.com
Subject: nested
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"outer\"

preamble
--outer
Content-Type: text/plain; charset=utf-8

Part one.
--outer
Content-Type: multipart/mixed; boundary=\"mid\"

--mid
Content-Type: message/rfc822
Content-Description: forwarded

From: C <c@example.com>
Subject: inner
Content-Type: multipart/alternative; boundary=\"alt\"

--alt
Content-Type: text/plain

inner plain
--alt
Content-Type: text/html

<b>inner</b>
--alt--
--mid
Content-Type: application/pdf; name=\"r.pdf\"
Content-Disposition: attachment; filename=\"r.pdf\"
Content-Transfer-Encoding: base64
Content-Language: en
Content-ID: <pdf@x>

JVBERi0=
--mid--
--outer
Content-Type: message/rfc822

Subject: third
From: d@example.com

third body
--outer--
epilogue
";

#[test]
fn rfc3501_7_4_2_example() {
    // The FETCH example of RFC 3501 §7.4.2: a 92-line text body of 3028 octets.
    let mut raw = b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\n\
From: Terry Gray <gray@cac.washington.edu>\n\
Subject: IMAP4rev1 WG mtg summary and minutes\n\
To: imap@cac.washington.edu\n\
cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\n\
Message-Id: <B27397-0100000@cac.washington.edu>\n\
MIME-Version: 1.0\n\
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\n\n"
        .to_vec();
    for i in 0..92 {
        let width = if i < 84 { 31 } else { 30 };
        raw.extend(std::iter::repeat_n(b'x', width));
        raw.push(b'\n');
    }
    let mut e = entry(1);
    e.flags = SystemFlags::SEEN;
    e.internal_date = 837_596_665; // 1996-07-17 09:44:25 UTC
    e.zone_minutes = -7 * 60;
    e.rfc822_size = 4286;
    let items = [
        FetchAttribute::Flags,
        FetchAttribute::InternalDate,
        FetchAttribute::Rfc822Size,
        FetchAttribute::Envelope,
        FetchAttribute::Body,
    ];
    let mut out = render_with(&raw, &e, &[], &items, Implicit::default());
    out.splice(2..3, *b"12");
    // As in the RFC, except that the RFC's example has a space between the two
    // cc addresses, which its own grammar (`"(" 1*address ")"`) does not allow.
    let want = "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" \
RFC822.SIZE 4286 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \
\"IMAP4rev1 WG mtg summary and minutes\" \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((NIL NIL \"imap\" \"cac.washington.edu\")) \
((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) \
NIL NIL \"<B27397-0100000@cac.washington.edu>\") \
BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n";
    assert_eq!(String::from_utf8_lossy(&out), want);
    assert_parses(&out);
}

#[test]
fn rfc3501_7_4_2_body_example() {
    // The multipart BODY example of RFC 3501 §7.4.2: 23 lines / 1152 octets,
    // then a base64 part of 73 lines / 4554 octets with id and description.
    let lines = |out: &mut Vec<u8>, widths: &[(usize, usize)]| {
        for &(count, width) in widths {
            for _ in 0..count {
                out.extend(std::iter::repeat_n(b'x', width));
                out.push(b'\n');
            }
        }
    };
    let mut raw = b"Content-Type: MULTIPART/MIXED; BOUNDARY=\"b\"\n\n--b\n\
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\n\n"
        .to_vec();
    lines(&mut raw, &[(22, 48), (1, 50)]);
    raw.extend_from_slice(
        b"\n--b\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff\n\
Content-ID: <960723163407.20117h@cac.washington.edu>\n\
Content-Description: Compiler diff\nContent-Transfer-Encoding: BASE64\n\n",
    );
    lines(&mut raw, &[(28, 61), (45, 60)]);
    raw.extend_from_slice(b"\n--b--\n");
    let out = render(&raw, &[FetchAttribute::Body]);
    assert_eq!(
        inner(&out),
        "BODY ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)\
(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") \
\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73) \"MIXED\")"
    );
    assert_parses(out.as_bytes());
}

#[test]
fn bodystructure_plain_text() {
    let out = render(
        PLAIN,
        &[FetchAttribute::BodyStructure, FetchAttribute::Body],
    );
    assert_eq!(
        inner(&out),
        "BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 14 2 NIL NIL NIL NIL) \
BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 14 2)"
    );
    assert_parses(out.as_bytes());
}

#[test]
fn bodystructure_multipart_alternative() {
    let out = render(ALTERNATIVE, &[FetchAttribute::BodyStructure]);
    // Part 1 "caf=C3=A9" (9 octets, 0 lines: its LF belongs to the delimiter);
    // part 2 "<p>café</p>\nline 2" = 12 + 2 + 6 = 20 octets, 1 line.
    assert_eq!(
        inner(&out),
        "BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 9 0 NIL NIL NIL NIL)\
(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 20 1 NIL NIL NIL NIL) \
\"ALTERNATIVE\" (\"BOUNDARY\" \"XX\") NIL NIL NIL)"
    );
    assert_parses(out.as_bytes());
    let out = render(ALTERNATIVE, &[FetchAttribute::Body]);
    assert_eq!(
        inner(&out),
        "BODY ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 9 0)\
(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 20 1) \"ALTERNATIVE\")"
    );
}

#[test]
fn bodystructure_nested_with_attachment_and_message() {
    let out = render(NESTED, &[FetchAttribute::BodyStructure]);
    let inner_plain =
        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 11 0 NIL NIL NIL NIL)";
    let inner_html =
        "(\"TEXT\" \"HTML\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 12 0 NIL NIL NIL NIL)";
    let inner_env = "(NIL \"inner\" ((\"C\" NIL \"c\" \"example.com\")) ((\"C\" NIL \"c\" \"example.com\")) \
((\"C\" NIL \"c\" \"example.com\")) NIL NIL NIL NIL NIL)";
    // The forwarded message: its header (3 lines, 98 octets as CRLF) + blank
    // line + the alternative body.
    let forwarded = format!(
        "(\"MESSAGE\" \"RFC822\" NIL NIL \"forwarded\" \"7BIT\" 199 {inner_env} \
({inner_plain}{inner_html} \"ALTERNATIVE\" (\"BOUNDARY\" \"alt\") NIL NIL NIL) 12 NIL NIL NIL NIL)"
    );
    let pdf = "(\"APPLICATION\" \"PDF\" (\"NAME\" \"r.pdf\") \"<pdf@x>\" NIL \"BASE64\" 8 NIL \
(\"ATTACHMENT\" (\"FILENAME\" \"r.pdf\")) (\"en\") NIL)";
    let third_env = "(NIL \"third\" ((NIL NIL \"d\" \"example.com\")) ((NIL NIL \"d\" \"example.com\")) \
((NIL NIL \"d\" \"example.com\")) NIL NIL NIL NIL NIL)";
    let third = format!(
        "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 49 {third_env} \
(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 10 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)"
    );
    let want = format!(
        "BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 9 0 NIL NIL NIL NIL)\
({forwarded}{pdf} \"MIXED\" (\"BOUNDARY\" \"mid\") NIL NIL NIL)\
{third} \"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL)"
    );
    assert_eq!(inner(&out), want);
    assert_parses(out.as_bytes());

    // The same message stored with CRLF: identical sizes, lines, structure.
    let as_crlf = crlf(std::str::from_utf8(NESTED).unwrap());
    assert_eq!(
        render(as_crlf.as_bytes(), &[FetchAttribute::BodyStructure]),
        out
    );
}

#[test]
fn nested_part_numbering() {
    let cases: Vec<(FetchAttribute, &str, &str)> = vec![
        (section(&[1], None), "BODY[1]", "Part one."),
        (
            section(&[2, 1], None),
            "BODY[2.1]",
            "From: C <c@example.com>\nSubject: inner\nContent-Type: multipart/alternative; boundary=\"alt\"\n\n\
--alt\nContent-Type: text/plain\n\ninner plain\n--alt\nContent-Type: text/html\n\n<b>inner</b>\n--alt--",
        ),
        (section(&[2, 1, 1], None), "BODY[2.1.1]", "inner plain"),
        (section(&[2, 1, 2], None), "BODY[2.1.2]", "<b>inner</b>"),
        (
            section(&[2, 1, 2], Some(SectionText::Mime)),
            "BODY[2.1.2.MIME]",
            "Content-Type: text/html\n\n",
        ),
        (section(&[2, 2], None), "BODY[2.2]", "JVBERi0="),
        (
            section(&[2, 1], Some(SectionText::Header)),
            "BODY[2.1.HEADER]",
            "From: C <c@example.com>\nSubject: inner\nContent-Type: multipart/alternative; boundary=\"alt\"\n\n",
        ),
        (
            section(
                &[2, 1],
                Some(SectionText::HeaderFields(names(&["subject"]))),
            ),
            "BODY[2.1.HEADER.FIELDS (subject)]",
            "Subject: inner\n\n",
        ),
        (
            section(&[3], Some(SectionText::Header)),
            "BODY[3.HEADER]",
            "Subject: third\nFrom: d@example.com\n\n",
        ),
        (
            section(&[3], Some(SectionText::Text)),
            "BODY[3.TEXT]",
            "third body",
        ),
        (section(&[3, 1], None), "BODY[3.1]", "third body"),
        (
            section(&[2], Some(SectionText::Mime)),
            "BODY[2.MIME]",
            "Content-Type: multipart/mixed; boundary=\"mid\"\n\n",
        ),
    ];
    for (item, name, want) in cases {
        let out = render(NESTED, std::slice::from_ref(&item));
        let want = crlf(want);
        assert_eq!(
            inner(&out),
            format!("{name} {{{}}}\r\n{want}", want.len()),
            "{name}"
        );
        assert_parses(out.as_bytes());
    }
    // Nonexistent parts, and HEADER/TEXT of a part that is not a message: "".
    for (item, name) in [
        (section(&[4], None), "BODY[4]"),
        (section(&[1, 1], None), "BODY[1.1]"),
        (section(&[2, 3], None), "BODY[2.3]"),
        (section(&[1], Some(SectionText::Header)), "BODY[1.HEADER]"),
        (section(&[2, 2], Some(SectionText::Text)), "BODY[2.2.TEXT]"),
    ] {
        let out = render(NESTED, &[item]);
        assert_eq!(inner(&out), format!("{name} \"\""));
        assert_parses(out.as_bytes());
    }
}

#[test]
fn top_level_sections_hide_status_headers() {
    let visible = "From: Alice <alice@example.org>\nTo: bob@example.org\nSubject: hi\n\
Date: Mon, 5 Jan 2015 10:00:00 +0000\n\n";
    let body = "hello\nworld\n";
    let cases: Vec<(FetchAttribute, String, String)> = vec![
        (
            section(&[], None),
            "BODY[]".into(),
            format!("{visible}{body}"),
        ),
        (
            section(&[], Some(SectionText::Header)),
            "BODY[HEADER]".into(),
            visible.into(),
        ),
        (
            section(&[], Some(SectionText::Text)),
            "BODY[TEXT]".into(),
            body.into(),
        ),
        (
            FetchAttribute::Rfc822,
            "RFC822".into(),
            format!("{visible}{body}"),
        ),
        (
            FetchAttribute::Rfc822Header,
            "RFC822.HEADER".into(),
            visible.into(),
        ),
        (
            FetchAttribute::Rfc822Text,
            "RFC822.TEXT".into(),
            body.into(),
        ),
        (section(&[1], None), "BODY[1]".into(), body.into()),
        (
            section(&[1], Some(SectionText::Mime)),
            "BODY[1.MIME]".into(),
            visible.into(),
        ),
        (
            section(
                &[],
                Some(SectionText::HeaderFields(names(&["DATE", "from", "X-UID"]))),
            ),
            "BODY[HEADER.FIELDS (DATE from X-UID)]".into(),
            "From: Alice <alice@example.org>\nDate: Mon, 5 Jan 2015 10:00:00 +0000\n\n".into(),
        ),
        (
            section(
                &[],
                Some(SectionText::HeaderFieldsNot(names(&["To", "Subject"]))),
            ),
            "BODY[HEADER.FIELDS.NOT (To Subject)]".into(),
            "From: Alice <alice@example.org>\nDate: Mon, 5 Jan 2015 10:00:00 +0000\n\n".into(),
        ),
        (
            section(&[], Some(SectionText::HeaderFields(names(&["Nothing"])))),
            "BODY[HEADER.FIELDS (Nothing)]".into(),
            "\n".into(),
        ),
    ];
    for (item, name, want) in cases {
        let out = render(PLAIN, std::slice::from_ref(&item));
        let want = crlf(&want);
        assert_eq!(
            inner(&out),
            format!("{name} {{{}}}\r\n{want}", want.len()),
            "{name}"
        );
        assert_parses(out.as_bytes());
    }
}

#[test]
fn partial_fetch_at_every_boundary() {
    let whole = crlf(&String::from_utf8_lossy(
        &[&visible_header(PLAIN).concat()[..], b"hello\nworld\n"].concat(),
    ));
    let text = crlf("hello\nworld\n");
    let fields = crlf("Subject: hi\n\n");
    let cases: [(Vec<u32>, Option<SectionText>, &str, &str); 3] = [
        (vec![], None, "BODY[]", &whole),
        (vec![], Some(SectionText::Text), "BODY[TEXT]", &text),
        (
            vec![],
            Some(SectionText::HeaderFields(names(&["Subject"]))),
            "BODY[HEADER.FIELDS (Subject)]",
            &fields,
        ),
    ];
    for (part, text, name, full) in cases {
        let n = full.len() as u32;
        for origin in 0..=n + 1 {
            for length in 0..=n + 1 {
                let out = render(PLAIN, &[partial(&part, text.clone(), origin, length)]);
                let lo = (origin as usize).min(full.len());
                let hi = ((origin + length) as usize).min(full.len()).max(lo);
                let want = &full[lo..hi];
                let value = if want.is_empty() {
                    "\"\"".to_string()
                } else {
                    format!("{{{}}}\r\n{want}", want.len())
                };
                assert_eq!(
                    inner(&out),
                    format!("{name}<{origin}> {value}"),
                    "<{origin}.{length}>"
                );
            }
        }
    }
    assert_parses(render(PLAIN, &[partial(&[], None, 3, 5)]).as_bytes());
}

#[test]
fn flags_uid_internaldate_and_implicit_items() {
    let mut e = entry(42);
    e.flags = SystemFlags(
        SystemFlags::RECENT.0 | SystemFlags::FLAGGED.0 | SystemFlags::SEEN.0 | SystemFlags::OLD.0,
    );
    e.keywords = 0b101 | (1 << 31);
    e.internal_date = 1_685_690_103; // 2023-06-02 07:15:03 UTC
    e.rfc822_size = 3819;
    let keywords = names(&["Work", "Bad Keyword", "$Forwarded"]);
    let items = [
        FetchAttribute::Flags,
        FetchAttribute::InternalDate,
        FetchAttribute::Rfc822Size,
    ];
    let out = render_with(
        PLAIN,
        &e,
        &keywords,
        &items,
        Implicit {
            uid: true,
            flags: false,
        },
    );
    assert_eq!(
        String::from_utf8_lossy(&out),
        "* 1 FETCH (UID 42 FLAGS (\\Recent \\Seen \\Flagged Work $Forwarded) \
INTERNALDATE \" 2-Jun-2023 07:15:03 +0000\" RFC822.SIZE 3819)\r\n"
    );
    assert_parses(&out);
    // \Seen just set by a BODY[] fetch: FLAGS is appended.
    let out = render_with(
        PLAIN,
        &e,
        &[],
        &[section(&[], Some(SectionText::Text))],
        Implicit {
            uid: false,
            flags: true,
        },
    );
    assert!(String::from_utf8_lossy(&out).ends_with(" FLAGS (\\Recent \\Seen \\Flagged))\r\n"));
    assert_parses(&out);

    assert_eq!(internal_date(0, 0), " 1-Jan-1970 00:00:00 +0000");
    assert_eq!(
        internal_date(837_596_665, 330),
        "17-Jul-1996 15:14:25 +0530"
    );
    assert_eq!(
        internal_date(i64::MAX, i16::MAX),
        " 1-Jan-1970 00:00:00 +0000"
    );
}

#[test]
fn which_items_set_seen() {
    assert!(sets_seen(&FetchAttribute::Rfc822));
    assert!(sets_seen(&FetchAttribute::Rfc822Text));
    assert!(!sets_seen(&FetchAttribute::Rfc822Header));
    assert!(!sets_seen(&section(&[], None)));
    let body = FetchAttribute::BodySection {
        section: Section {
            part: vec![1],
            text: None,
        },
        partial: None,
        peek: Peek::SetSeen,
    };
    assert!(sets_seen(&body));
    assert!(!sets_seen(&FetchAttribute::BodyStructure));
}

fn set(ranges: &[(u32, u32)]) -> SequenceSet {
    // 0 stands for `*`.
    let b = |n: u32| NonZeroU32::new(n).map_or(SeqBound::Largest, SeqBound::Value);
    SequenceSet(
        ranges
            .iter()
            .map(|&(a, c)| SeqRange {
                first: b(a),
                last: b(c),
            })
            .collect(),
    )
}

#[test]
fn sequence_sets_resolve() {
    let entries: Vec<MessageEntry> = [3, 5, 9, 10].iter().map(|&u| entry(u)).collect();
    let seq = |r: &[(u32, u32)]| message_indices(&entries, &set(r), Numbering::Sequence).ok();
    let uid = |r: &[(u32, u32)]| message_indices(&entries, &set(r), Numbering::Uid).ok();
    assert_eq!(seq(&[(1, 0)]), Some(vec![0, 1, 2, 3]));
    assert_eq!(seq(&[(2, 3), (3, 4), (1, 1)]), Some(vec![0, 1, 2, 3]));
    assert_eq!(seq(&[(5, 5)]), None);
    assert_eq!(seq(&[(1, 5)]), None);
    assert_eq!(uid(&[(4, 9)]), Some(vec![1, 2]));
    assert_eq!(uid(&[(1, 2), (11, 20)]), Some(vec![]));
    assert_eq!(
        uid(&[(500, 0)]),
        Some(vec![3]),
        "RFC 3501 §6.4.8: 500:* names the last"
    );
    assert_eq!(uid(&[(1, 0), (1, 0), (5, 5)]), Some(vec![0, 1, 2, 3]));
    assert_eq!(uid(&[(u32::MAX, u32::MAX), (1, 3)]), Some(vec![0]));

    let empty: Vec<MessageEntry> = Vec::new();
    assert!(matches!(
        message_indices(&empty, &set(&[(1, 0)]), Numbering::Sequence),
        Err(CommandError::Bad { .. })
    ));
    assert_eq!(
        message_indices(&empty, &set(&[(1, 0)]), Numbering::Uid).ok(),
        Some(vec![])
    );
}

#[test]
fn envelope_with_groups_and_literals() {
    let raw = b"From: \"J\xc3\xb6rg \\\"Q\\\"\" <j@x.example>\nTo: undisclosed-recipients:;\n\
Cc: Team: a@b, <c@d>;\nSubject: =?utf-8?q?caf=C3=A9?=\n\n";
    let out = render(raw, &[FetchAttribute::Envelope]);
    assert_eq!(
        inner(&out),
        "ENVELOPE (NIL \"=?utf-8?q?caf=C3=A9?=\" \
(({9}\r\nJ\u{f6}rg \"Q\" NIL \"j\" \"x.example\")) \
(({9}\r\nJ\u{f6}rg \"Q\" NIL \"j\" \"x.example\")) \
(({9}\r\nJ\u{f6}rg \"Q\" NIL \"j\" \"x.example\")) \
((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) \
((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")(NIL NIL NIL NIL)) NIL NIL NIL)"
    );
    assert_parses(out.as_bytes());
}

#[test]
fn digest_and_defaults_render() {
    let raw = b"Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nbody one\n\
--d\nContent-Type: text/plain\n\nplain\n--d--\n";
    let out = render(raw, &[FetchAttribute::BodyStructure]);
    assert!(inner(&out).starts_with(
        "BODYSTRUCTURE ((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 24 (NIL \"one\" NIL"
    ));
    assert_parses(out.as_bytes());
    // A multipart without boundary is served as text.
    let out = render(
        b"Content-Type: multipart/mixed\n\nx\n",
        &[FetchAttribute::Body],
    );
    assert_eq!(
        inner(&out),
        "BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3 1)"
    );
}

/// How much of a malformed message's response imap-codec must accept.
#[derive(Clone, Copy, PartialEq)]
enum Check {
    /// Every item.
    All,
    /// ENVELOPE and BODYSTRUCTURE only (the body bytes are sent as stored).
    Structure,
    /// Nothing: only that rendering does not panic.
    NoPanic,
}

#[test]
fn malformed_mime_never_panics_and_stays_parseable() {
    let mut deep = Vec::new();
    for i in 0..40 {
        deep.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n").as_bytes(),
        );
    }
    deep.extend_from_slice(b"\nbottom\n");
    let mut deep_messages = Vec::new();
    for _ in 0..40 {
        deep_messages.extend_from_slice(b"Content-Type: message/rfc822\n\n");
    }
    deep_messages.extend_from_slice(b"Subject: bottom\n\nx\n");
    let cases: Vec<(&[u8], Check)> = vec![
        (b"", Check::All),
        (b"\n", Check::All),
        (b"no header at all", Check::All),
        (
            b"Content-Type: multipart/mixed; boundary=b\n\n--b\n",
            Check::All,
        ),
        (
            b"Content-Type: multipart/mixed; boundary=b\n\n--b--",
            Check::All,
        ),
        (
            b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\n",
            Check::All,
        ),
        (b"Content-Type: message/rfc822\n\n", Check::All),
        (
            b"Content-Type: ;;;===\"\\\nContent-Disposition: ;\nContent-Language: ,,,\n\nx",
            Check::All,
        ),
        (
            b"Content-Type: text/plain; charset=\"\xff\x01\r\"\n\n\r\r\r",
            Check::All,
        ),
        // NUL may not be sent in any string (RFC 3501 CHAR8).
        (
            b"Subject: a\x00b\nContent-Type: text/plain; charset=\"\x00\"\n\nx\x00",
            Check::Structure,
        ),
        (b"From: <<<@>>>, \"\\\n\n", Check::All),
        (
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n--b\r\r\n--b--\r",
            Check::All,
        ),
        // imap-codec limits body nesting to 8 levels.
        (&deep, Check::NoPanic),
        (&deep_messages, Check::NoPanic),
    ];
    let all = [
        FetchAttribute::Envelope,
        FetchAttribute::Body,
        FetchAttribute::BodyStructure,
        section(&[], None),
        section(&[1], None),
        section(&[1], Some(SectionText::Mime)),
        section(&[1, 1], Some(SectionText::Header)),
        section(&[2, 1, 1], Some(SectionText::Text)),
        section(&[1; 45], None),
        partial(&[1], None, 1, 3),
    ];
    let structure = [FetchAttribute::Envelope, FetchAttribute::BodyStructure];
    for (raw, check) in cases {
        let out = render_with(raw, &entry(1), &[], &all, Implicit::default());
        if check == Check::All {
            assert_parses(&out);
        }
        let out = render_with(raw, &entry(1), &[], &structure, Implicit::default());
        if check != Check::NoPanic {
            assert_parses(&out);
        }
    }
}

#[test]
fn binary_items_in_a_fetch_response() {
    let raw = b"Status: RO\nSubject: s\nContent-Transfer-Encoding: base64\n\naGk=\n";
    let binary = |part: &[u32], partial: Option<Partial>, peek| FetchAttribute::Binary {
        part: part.to_vec(),
        partial,
        peek,
    };
    let items = [
        FetchAttribute::BinarySize { part: vec![] },
        FetchAttribute::BinarySize { part: vec![1] },
        binary(
            &[1],
            Some(Partial {
                origin: 1,
                length: 5,
            }),
            Peek::Peek,
        ),
        binary(&[], None, Peek::SetSeen),
    ];
    // BINARY[] is the whole message as clients see it: UW's Status hidden.
    let whole = "Subject: s\r\nContent-Transfer-Encoding: base64\r\n\r\naGk=\r\n";
    let want = format!(
        "BINARY.SIZE[] {} BINARY.SIZE[1] 2 BINARY[1]<1> {{1}}\r\ni BINARY[] {{{}}}\r\n{whole}",
        whole.len(),
        whole.len()
    );
    assert_eq!(inner(&render(raw, &items)), want);
    let seen: Vec<bool> = items.iter().map(sets_seen).collect();
    assert_eq!(seen, [false, false, false, true]);
    assert!(items.iter().all(|i| binary_part(i).is_some()));
    let hides: Vec<bool> = items.iter().map(needs_visible_header).collect();
    assert_eq!(hides, [true, false, false, true]);
}
