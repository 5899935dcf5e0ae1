//! Writes BODY and BODYSTRUCTURE (RFC 3501 §7.4.2, §9 `body`).
//!
//! The tree comes from [`crate::mime::parse`] (byte ranges); each part's
//! `Content-*` fields are read from its header here, as the tree is walked.
//! The shapes:
//! - multipart: `(child child ... "SUBTYPE" [params dsp lang loc])`, children
//!   with no space between them;
//! - text: `("TEXT" "SUB" params id desc enc octets lines [md5 dsp lang loc])`;
//! - message/rfc822: `(... octets envelope body lines [md5 dsp lang loc])`;
//! - anything else: `(type sub params id desc enc octets [md5 dsp lang loc])`.
//!
//! The bracketed extension data is BODYSTRUCTURE only. Sizes are octets of
//! the CRLF form ([`crlf_len`]) and line counts are LF counts, as UW imapd
//! reports them. Types, subtypes, encodings, parameter names and disposition
//! types are upper-cased like UW's; values are sent raw. A text part with no
//! parameters gets `("CHARSET" "US-ASCII")` (RFC 2045 §5.2). A part the tree
//! holds as a leaf although its header says multipart (no boundary) or
//! message/rfc822 (nesting limit) is described as text/plain, which is what
//! its bytes are served as.

use std::borrow::Cow;
use std::io::{self, Write};

use memchr::memchr_iter;

use super::envelope::write_envelope;
use super::{header_nstring, header_string};
use crate::mime::envelope::Envelope;
use crate::mime::header::{ContentType, DefaultType, MimeFields, Param};
use crate::mime::{BodyPart, PartKind};
use crate::response::ResponseWriter;
use crate::response::crlf::crlf_len;

/// BODY or BODYSTRUCTURE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    /// `BODY`: no extension data.
    Body,
    /// `BODYSTRUCTURE`: with extension data.
    BodyStructure,
}

/// Writes the body structure of `part` (a whole message's tree) of `raw`.
pub(super) fn write_body<W: Write>(
    out: &mut ResponseWriter<W>,
    raw: &[u8],
    part: &BodyPart,
    form: Form,
) -> io::Result<()> {
    write_part(out, raw, part, DefaultType::TextPlain, form)
}

/// One part; recursion depth is bounded by the tree's (`mime::MAX_NESTING`).
fn write_part<W: Write>(
    out: &mut ResponseWriter<W>,
    raw: &[u8],
    part: &BodyPart,
    default: DefaultType,
    form: Form,
) -> io::Result<()> {
    let header = raw.get(part.header.clone()).unwrap_or_default();
    let mime = MimeFields::parse(header, default);
    match &part.kind {
        PartKind::Multipart(children) if !children.is_empty() => {
            let ct = &mime.content_type;
            let child_default = if ct.sub.eq_ignore_ascii_case(b"digest") {
                DefaultType::MessageRfc822
            } else {
                DefaultType::TextPlain
            };
            out.open()?;
            for child in children {
                write_part(out, raw, child, child_default, form)?;
            }
            out.sp()?;
            upper_string(out, &ct.sub)?;
            if form == Form::BodyStructure {
                out.sp()?;
                write_params(out, &ct.params)?;
                write_extension_tail(out, &mime)?;
            }
            out.close()
        }
        _ => write_single(out, raw, part, &mime, form),
    }
}

/// A non-multipart part (`body-type-1part`).
fn write_single<W: Write>(
    out: &mut ResponseWriter<W>,
    raw: &[u8],
    part: &BodyPart,
    mime: &MimeFields<'_>,
    form: Form,
) -> io::Result<()> {
    let declared = &mime.content_type;
    let served_as_text = match &part.kind {
        PartKind::Leaf => declared.is_type(b"multipart") || declared.is(b"message", b"rfc822"),
        // An empty multipart cannot be described as one (`1*body`).
        PartKind::Multipart(_) => true,
        PartKind::Message(_) => false,
    };
    let text_plain;
    let ct: &ContentType<'_> = if served_as_text {
        text_plain = ContentType::default_for(DefaultType::TextPlain);
        &text_plain
    } else {
        declared
    };
    let body = raw.get(part.body.clone()).unwrap_or_default();

    out.open()?;
    upper_string(out, &ct.main)?;
    out.sp()?;
    upper_string(out, &ct.sub)?;
    out.sp()?;
    if ct.params.is_empty() && ct.is_type(b"text") {
        out.raw(b"(\"CHARSET\" \"US-ASCII\")")?;
    } else {
        write_params(out, &ct.params)?;
    }
    out.sp()?;
    header_nstring(out, mime.id.as_deref())?;
    out.sp()?;
    header_nstring(out, mime.description.as_deref())?;
    out.sp()?;
    match &mime.encoding {
        Some(enc) => upper_string(out, enc)?,
        None => out.raw(b"\"7BIT\"")?,
    }
    out.sp()?;
    out.number(crlf_len(body))?;
    match &part.kind {
        PartKind::Message(inner) if ct.is(b"message", b"rfc822") => {
            out.sp()?;
            let inner_header = raw.get(inner.header.clone()).unwrap_or_default();
            write_envelope(out, &Envelope::parse(&[inner_header]))?;
            out.sp()?;
            write_part(out, raw, inner, DefaultType::TextPlain, form)?;
            out.sp()?;
            out.number(line_count(body))?;
        }
        _ if ct.is_type(b"text") => {
            out.sp()?;
            out.number(line_count(body))?;
        }
        _ => {}
    }
    if form == Form::BodyStructure {
        out.sp()?;
        header_nstring(out, mime.md5.as_deref())?;
        write_extension_tail(out, mime)?;
    }
    out.close()
}

/// ` dsp lang loc`, shared by single parts and multiparts.
fn write_extension_tail<W: Write>(
    out: &mut ResponseWriter<W>,
    mime: &MimeFields<'_>,
) -> io::Result<()> {
    out.sp()?;
    match &mime.disposition {
        Some(d) => {
            out.open()?;
            upper_string(out, &d.kind)?;
            out.sp()?;
            write_params(out, &d.params)?;
            out.close()?;
        }
        None => out.nil()?,
    }
    out.sp()?;
    if mime.language.is_empty() {
        out.nil()?;
    } else {
        out.open()?;
        for (i, tag) in mime.language.iter().enumerate() {
            if i > 0 {
                out.sp()?;
            }
            header_string(out, tag)?;
        }
        out.close()?;
    }
    out.sp()?;
    header_nstring(out, mime.location.as_deref())
}

/// `body-fld-param`: `("NAME" "value" ...)` or NIL.
fn write_params<W: Write>(out: &mut ResponseWriter<W>, params: &[Param<'_>]) -> io::Result<()> {
    if params.is_empty() {
        return out.nil();
    }
    out.open()?;
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.sp()?;
        }
        upper_string(out, name)?;
        out.sp()?;
        header_string(out, value)?;
    }
    out.close()
}

fn upper_string<W: Write>(out: &mut ResponseWriter<W>, s: &[u8]) -> io::Result<()> {
    let upper: Cow<'_, [u8]> = if s.iter().any(u8::is_ascii_lowercase) {
        Cow::Owned(s.to_ascii_uppercase())
    } else {
        Cow::Borrowed(s)
    };
    header_string(out, &upper)
}

/// `body-fld-lines`: the LFs in the part's stored body.
fn line_count(body: &[u8]) -> u64 {
    memchr_iter(b'\n', body).count() as u64
}
