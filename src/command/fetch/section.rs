//! `BODY[section]<partial>`, `BODY.PEEK[...]` and `RFC822`, `RFC822.HEADER`,
//! `RFC822.TEXT` (RFC 3501 §6.4.5, §7.4.2).
//!
//! A section resolves to [`Content`]: slices of the stored message (streamed
//! LF→CRLF, never copied) or, for `HEADER.FIELDS[.NOT]`, a small buffer of the
//! chosen fields. The hard parts are where the bytes come from and how the
//! partial window counts:
//! - Top level: `[]`, `[HEADER]` and `[HEADER.FIELDS ...]` use the visible
//!   header (UW's status headers hidden); `[TEXT]` is the stored body.
//! - `[n]` is part n's body; `[n.MIME]` its header with the blank line;
//!   `[n.HEADER]`, `[n.TEXT]`, `[n.HEADER.FIELDS ...]` apply to the message
//!   inside a message/rfc822 part n. A part that does not exist, or a
//!   HEADER/TEXT of a part that is not a message, is sent as `""` (as UW and
//!   Dovecot do; RFC 3501 allows that or NIL).
//! - `<origin.length>` counts octets of the CRLF form (what the client
//!   receives), so the window is applied while converting
//!   ([`CrlfWindow`]); the literal's length is `min(length, size - origin)`.

use std::io::{self, Write};
use std::ops::Range;

use super::FetchMessage;
use crate::mime::{self, BodyPart, PartKind, header};
use crate::parser::ast::{Partial, Section, SectionText};
use crate::response::ResponseWriter;
use crate::response::crlf::{CrlfWindow, crlf_len};

/// What a section's bytes are.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Content<'a> {
    /// Consecutive pieces of stored bytes (LF line ends), sent as CRLF.
    Stored(Vec<&'a [u8]>),
    /// Bytes assembled here (HEADER.FIELDS), also sent through LF→CRLF.
    Built(Vec<u8>),
    /// No such part: sent as the empty string.
    Missing,
}

/// Which header fields HEADER.FIELDS keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldFilter {
    /// `HEADER.FIELDS (names)`.
    Only,
    /// `HEADER.FIELDS.NOT (names)`.
    Except,
}

/// The whole message as clients see it: `RFC822`, `BODY[]`.
pub(super) fn whole_message<'a>(message: &FetchMessage<'a>) -> Content<'a> {
    let mut pieces = message.visible_header.clone();
    pieces.push(message.view.body());
    Content::Stored(pieces)
}

/// Resolves `section` against the message. `tree` is the message's MIME tree;
/// it is needed (and looked at) only when the section names a part.
pub(super) fn content<'a>(
    message: &FetchMessage<'a>,
    tree: Option<&BodyPart>,
    section: &Section,
) -> Content<'a> {
    let raw = message.view.raw;
    let slice = |r: Range<usize>| raw.get(r).unwrap_or_default();
    if section.part.is_empty() {
        let header = &message.visible_header;
        return match &section.text {
            None => whole_message(message),
            Some(SectionText::Header) => Content::Stored(header.clone()),
            Some(SectionText::HeaderFields(names)) => fields_of(header, names, FieldFilter::Only),
            Some(SectionText::HeaderFieldsNot(names)) => {
                fields_of(header, names, FieldFilter::Except)
            }
            Some(SectionText::Text) => Content::Stored(vec![message.view.body()]),
            // The grammar has no top-level MIME (the parser rejects it).
            Some(SectionText::Mime) => Content::Missing,
        };
    }
    let Some(tree) = tree else {
        return Content::Missing;
    };
    let Some(part) = mime::find_part(tree, &section.part) else {
        return Content::Missing;
    };
    let text = match &section.text {
        None => return Content::Stored(vec![slice(part.body.clone())]),
        Some(SectionText::Mime) if std::ptr::eq(part, tree) => {
            // Part 1 of a single-part message: its MIME header is the message
            // header, of which clients see only the visible part.
            return Content::Stored(message.visible_header.clone());
        }
        Some(SectionText::Mime) => {
            return Content::Stored(vec![slice(part.header_with_blank_line())]);
        }
        Some(text) => text,
    };
    // HEADER, HEADER.FIELDS[.NOT], TEXT: only for a message/rfc822 part.
    let PartKind::Message(inner) = &part.kind else {
        return Content::Missing;
    };
    let header = slice(inner.header_with_blank_line());
    match text {
        SectionText::Header => Content::Stored(vec![header]),
        SectionText::HeaderFields(names) => fields_of(&[header], names, FieldFilter::Only),
        SectionText::HeaderFieldsNot(names) => fields_of(&[header], names, FieldFilter::Except),
        SectionText::Text => Content::Stored(vec![slice(inner.body.clone())]),
        SectionText::Mime => Content::Missing,
    }
}

/// Writes the section's response name: `BODY[2.HEADER.FIELDS (DATE FROM)]<0>`.
/// Field names are echoed as the client gave them.
pub(super) fn write_name<W: Write>(
    out: &mut ResponseWriter<W>,
    section: &Section,
    partial: Option<&Partial>,
) -> io::Result<()> {
    out.raw(b"BODY[")?;
    write_part_path(out, &section.part)?;
    if let Some(text) = &section.text {
        if !section.part.is_empty() {
            out.raw(b".")?;
        }
        let (keyword, names): (&[u8], Option<&[String]>) = match text {
            SectionText::Header => (b"HEADER", None),
            SectionText::HeaderFields(names) => (b"HEADER.FIELDS", Some(names)),
            SectionText::HeaderFieldsNot(names) => (b"HEADER.FIELDS.NOT", Some(names)),
            SectionText::Text => (b"TEXT", None),
            SectionText::Mime => (b"MIME", None),
        };
        out.raw(keyword)?;
        if let Some(names) = names {
            out.raw(b" (")?;
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    out.sp()?;
                }
                out.astring(name.as_bytes())?;
            }
            out.close()?;
        }
    }
    out.raw(b"]")?;
    write_origin(out, partial)
}

/// `1.2.3`: a section's part numbers.
pub(super) fn write_part_path<W: Write>(
    out: &mut ResponseWriter<W>,
    part: &[u32],
) -> io::Result<()> {
    for (i, n) in part.iter().enumerate() {
        if i > 0 {
            out.raw(b".")?;
        }
        out.number(u64::from(*n))?;
    }
    Ok(())
}

/// `<origin>` after a partial fetch's name (RFC 3501 §7.4.2; RFC 3516 §6
/// for BINARY).
pub(super) fn write_origin<W: Write>(
    out: &mut ResponseWriter<W>,
    partial: Option<&Partial>,
) -> io::Result<()> {
    if let Some(p) = partial {
        out.raw(b"<")?;
        out.number(u64::from(p.origin))?;
        out.raw(b">")?;
    }
    Ok(())
}

/// Sends `content` (cut by `partial`) as a literal, or `""` when it is empty.
pub(super) fn write_content<W: Write>(
    out: &mut ResponseWriter<W>,
    content: Content<'_>,
    partial: Option<&Partial>,
) -> io::Result<()> {
    let built;
    let pieces: Vec<&[u8]> = match content {
        Content::Missing => return out.raw(b"\"\""),
        Content::Stored(pieces) => pieces,
        Content::Built(bytes) => {
            built = bytes;
            vec![built.as_slice()]
        }
    };
    let total: u64 = pieces.iter().map(|p| crlf_len(p)).sum();
    let (window, len) = match partial {
        Some(p) => {
            let (origin, length) = (u64::from(p.origin), u64::from(p.length));
            (
                CrlfWindow::new(origin, length),
                length.min(total.saturating_sub(origin)),
            )
        }
        None => (CrlfWindow::all(), total),
    };
    if len == 0 {
        return out.raw(b"\"\"");
    }
    out.literal_crlf(len, &pieces, window)
}

/// The CRLF octets `content` stands for, cut by `partial`: what a FETCH of
/// the section would send, as a buffer. `None` when the part does not exist.
pub(super) fn bytes_of(content: Content<'_>, partial: Option<&Partial>) -> Option<Vec<u8>> {
    let built;
    let pieces: Vec<&[u8]> = match content {
        Content::Missing => return None,
        Content::Stored(pieces) => pieces,
        Content::Built(bytes) => {
            built = bytes;
            vec![built.as_slice()]
        }
    };
    let mut window = match partial {
        Some(p) => CrlfWindow::new(u64::from(p.origin), u64::from(p.length)),
        None => CrlfWindow::all(),
    };
    let mut out = Vec::new();
    for piece in pieces {
        // Writing to a Vec cannot fail.
        window.write(piece, &mut out).ok()?;
    }
    Some(out)
}

/// The fields of `header` kept by `filter`, raw (folding kept), in header
/// order, then the blank line (RFC 3501 §6.4.5: the result includes it).
fn fields_of(header: &[&[u8]], names: &[String], filter: FieldFilter) -> Content<'static> {
    let mut out = Vec::new();
    for field in header.iter().flat_map(|&h| header::fields(h)) {
        let listed = names.iter().any(|n| field.is(n.as_bytes()));
        if listed == (filter == FieldFilter::Only) {
            out.extend_from_slice(field.raw);
            if !field.raw.ends_with(b"\n") {
                out.push(b'\n');
            }
        }
    }
    out.push(b'\n');
    Content::Built(out)
}
