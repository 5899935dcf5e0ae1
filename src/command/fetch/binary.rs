//! `BINARY[part]<partial>`, `BINARY.PEEK[...]` and `BINARY.SIZE[part]`
//! (RFC 3516 §4.2, §4.3; RFC 9051 §6.4.5, §7.5.2).
//!
//! A section resolves to a [`Source`]: stored bytes and the transfer encoding
//! to remove. What is decoded, and how:
//! - a leaf part: its body, with its Content-Transfer-Encoding removed:
//!   base64 to the exact octets, quoted-printable with hard line breaks as
//!   CRLF (RFC 2045 §6.7 canonical form), 7bit/8bit/binary as `BODY[part]`
//!   sends them (LF→CRLF, RFC 3516 §4.3 asks textual sections in CRLF);
//! - `[]` (the whole message), a multipart part, a message/rfc822 part: as
//!   `BODY[...]` sends them. Their own encoding can only be an identity
//!   (RFC 2045 §6.4), so there is nothing to remove; the parts inside keep
//!   their encodings and the Content-Transfer-Encoding headers that say so;
//! - an encoding we cannot remove (x-uuencode, a typo), or a composite part
//!   that claims base64/quoted-printable, makes the whole FETCH `NO
//!   [UNKNOWN-CTE]` (RFC 3516 §4.3), checked before the message's response
//!   starts ([`check`]) so nothing half-written goes out.
//!
//! The hard part is size: `{n}` comes before the content, and `n` is the
//! decoded length (cut by `<origin.length>`, which counts decoded octets).
//! Nothing builds the decoded part. [`Source::for_each_chunk`] decodes
//! through one buffer of about [`DECODE_CHUNK_OCTETS`]; a first pass counts
//! (stopping at the window's end) and looks for NUL in the window, which
//! decides `~{n}` (literal8) over `{n}` (RFC 3516 §4.3: a string SHOULD be
//! used when there is no NUL), and a second pass sends the window. So a
//! 40 MB attachment costs two decoding passes and a 64 KiB buffer, and a
//! `<0.1024>` peek stops decoding after 1 KiB. An identity section without
//! NUL is exactly what `BODY[...]` sends, and goes out the same way: sized
//! by `crlf_len`, streamed by `literal_crlf`, no buffer at all.

use std::io::{self, Write};
use std::ops::ControlFlow;

use super::FetchMessage;
use super::section::{self, write_origin, write_part_path};
use crate::mime::decode::{
    Base64Decoder, LineBreak, TransferEncoding, decode_quoted_printable_into,
    quoted_printable_piece_len,
};
use crate::mime::{self, BodyPart, PartKind, header};
use crate::parser::ast::Partial;
use crate::response::ResponseWriter;
use crate::response::crlf::{CrlfWindow, crlf_len};
use crate::response::writer::LiteralKind;

/// Stored octets decoded per step: the buffer a BINARY fetch costs (decoded
/// quoted-printable can be up to twice as long, LF→CRLF identity too).
const DECODE_CHUNK_OCTETS: usize = 64 * 1024;

/// A section's bytes, still encoded, and what removes the encoding.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Source<'a> {
    /// Consecutive pieces of stored bytes under one encoding.
    Part {
        pieces: Vec<&'a [u8]>,
        encoding: TransferEncoding,
    },
    /// No such part: sent as `""`, size 0 (as `BODY[...]` sends it).
    Missing,
}

/// The section's Content-Transfer-Encoding is one BINARY cannot remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct UnknownCte;

/// Resolves `BINARY[part]` against the message; `tree` is needed (and looked
/// at) only for a non-empty `part`.
pub(super) fn source<'a>(
    message: &FetchMessage<'a>,
    tree: Option<&BodyPart>,
    part: &[u32],
) -> Result<Source<'a>, UnknownCte> {
    if part.is_empty() {
        let section::Content::Stored(pieces) = section::whole_message(message) else {
            return Ok(Source::Missing);
        };
        return Ok(Source::Part {
            pieces,
            encoding: TransferEncoding::Identity,
        });
    }
    let raw = message.view.raw;
    let Some(found) = tree.and_then(|t| mime::find_part(t, part)) else {
        return Ok(Source::Missing);
    };
    let header_bytes = raw.get(found.header.clone()).unwrap_or_default();
    let encoding = match header::first_value(header_bytes, b"content-transfer-encoding") {
        Some(value) => TransferEncoding::known(&header::unfold(value)).ok_or(UnknownCte)?,
        None => TransferEncoding::Identity,
    };
    let composite = !matches!(found.kind, PartKind::Leaf);
    if composite && encoding != TransferEncoding::Identity {
        return Err(UnknownCte);
    }
    Ok(Source::Part {
        pieces: vec![raw.get(found.body.clone()).unwrap_or_default()],
        encoding,
    })
}

/// Whether every BINARY item of `parts` can be served for this message.
pub(super) fn check(
    message: &FetchMessage<'_>,
    tree: Option<&BodyPart>,
    parts: &[&[u32]],
) -> Result<(), UnknownCte> {
    parts
        .iter()
        .try_for_each(|part| source(message, tree, part).map(drop))
}

/// `BINARY[1.2]<origin>` or `BINARY.SIZE[1.2]`: the item's response name.
pub(super) fn write_name<W: Write>(
    out: &mut ResponseWriter<W>,
    item: &'static [u8],
    part: &[u32],
    partial: Option<&Partial>,
) -> io::Result<()> {
    out.raw(item)?;
    out.raw(b"[")?;
    write_part_path(out, part)?;
    out.raw(b"]")?;
    write_origin(out, partial)
}

/// The decoded size, as `BINARY.SIZE` reports it: what `BINARY[part]`
/// without a partial range sends.
pub(super) fn decoded_size(source: &Source<'_>) -> u64 {
    match source {
        Source::Part {
            pieces,
            encoding: TransferEncoding::Identity,
        } => pieces.iter().map(|p| crlf_len(p)).sum(),
        _ => scan(source, u64::MAX, 0..0).len,
    }
}

/// Sends the decoded section cut by `partial`: a `literal8` if the octets
/// sent contain NUL, else a `literal`, or `""` when there are none.
pub(super) fn write_content<W: Write>(
    out: &mut ResponseWriter<W>,
    source: &Source<'_>,
    partial: Option<&Partial>,
) -> io::Result<()> {
    let (origin, end) = match partial {
        Some(p) => {
            let origin = u64::from(p.origin);
            (origin, origin + u64::from(p.length))
        }
        None => (0, u64::MAX),
    };
    if let Source::Part {
        pieces,
        encoding: TransferEncoding::Identity,
    } = source
        && pieces.iter().all(|p| memchr::memchr(0, p).is_none())
    {
        // The octets BODY[...] sends: streamed the same way, one pass.
        let len = decoded_size(source).min(end).saturating_sub(origin);
        if len == 0 {
            return out.raw(b"\"\"");
        }
        return out.literal_crlf(len, pieces, CrlfWindow::new(origin, end - origin));
    }
    let scanned = scan(source, end, origin..end);
    let len = scanned.len.saturating_sub(origin);
    if len == 0 {
        return out.raw(b"\"\"");
    }
    let kind = if scanned.nul {
        LiteralKind::Literal8
    } else {
        LiteralKind::Literal
    };
    out.literal_start(kind, len)?;
    let mut position = 0u64;
    let mut sent = 0u64;
    let mut result = Ok(());
    source.for_each_chunk(|chunk| {
        let chunk_len = chunk.len() as u64;
        let from = origin.saturating_sub(position).min(chunk_len);
        let to = (origin + len).saturating_sub(position).min(chunk_len);
        position += chunk_len;
        // Invariant: from <= to <= chunk.len(), so the range is in bounds.
        if let Some(bytes) = chunk.get(from as usize..to as usize) {
            result = out.raw(bytes);
            sent += bytes.len() as u64;
        }
        if result.is_err() || sent >= len {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    result?;
    // Defensive, as in `literal_crlf`: keep the promised length (decoding is
    // deterministic, so both passes see the same octets).
    while sent < len {
        let n = (len - sent).min(64);
        out.raw(&[b' '; 64][..n as usize])?;
        sent += n;
    }
    Ok(())
}

/// What a counting pass found.
struct Scanned {
    /// Decoded octets seen: all of them, or `stop_at` if there were more.
    len: u64,
    /// Whether a NUL lies in the decoded octets of the searched range.
    nul: bool,
}

/// Decodes up to `stop_at` octets, counting them and looking for NUL in
/// `nul_range` (decoded positions).
fn scan(source: &Source<'_>, stop_at: u64, nul_range: std::ops::Range<u64>) -> Scanned {
    let mut scanned = Scanned { len: 0, nul: false };
    source.for_each_chunk(|chunk| {
        let start = scanned.len;
        scanned.len += chunk.len() as u64;
        if !scanned.nul {
            let from = nul_range
                .start
                .saturating_sub(start)
                .min(chunk.len() as u64);
            let to = nul_range.end.saturating_sub(start).min(chunk.len() as u64);
            scanned.nul = chunk
                .get(from as usize..to as usize)
                .is_some_and(|bytes| memchr::memchr(0, bytes).is_some());
        }
        if scanned.len >= stop_at {
            scanned.len = stop_at;
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    scanned
}

impl Source<'_> {
    /// Calls `f` with the decoded octets in order, one buffer at a time,
    /// until it breaks or the section ends.
    fn for_each_chunk(&self, mut f: impl FnMut(&[u8]) -> ControlFlow<()>) {
        let Source::Part { pieces, encoding } = self else {
            return;
        };
        let mut buf = Vec::with_capacity(2 * DECODE_CHUNK_OCTETS);
        let mut base64 = Base64Decoder::default();
        for piece in pieces {
            let mut rest: &[u8] = piece;
            while !rest.is_empty() {
                let n = match encoding {
                    TransferEncoding::QuotedPrintable => {
                        quoted_printable_piece_len(rest, DECODE_CHUNK_OCTETS)
                    }
                    _ => DECODE_CHUNK_OCTETS,
                };
                // `rest` is not empty, so the clamp's bounds are ordered and
                // the cut lies inside `rest`; at least one octet is consumed.
                let (chunk, tail) = rest.split_at(n.clamp(1, rest.len()));
                rest = tail;
                buf.clear();
                match encoding {
                    TransferEncoding::Identity => {
                        // Writing to a Vec cannot fail.
                        let _ = CrlfWindow::all().keeping_nul().write(chunk, &mut buf);
                    }
                    TransferEncoding::QuotedPrintable => {
                        decode_quoted_printable_into(chunk, LineBreak::CrLf, &mut buf);
                    }
                    TransferEncoding::Base64 => base64.push(chunk, &mut buf),
                }
                if !buf.is_empty() && f(&buf).is_break() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;
    use crate::mailstore::MessageView;

    /// imaptest's fetch-binary-mime-base64 message (its five parts), stored
    /// with LF line ends as an mbox holds it.
    const BASE64_PARTS: &[u8] = b"From: user@domain.org\n\
Mime-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=\"foo\n bar\"\n\
\n\
--foo bar\n\
Content-Transfer-Encoding: base64\n\
\n\
\n\
aGVs\n\
bG8gd29y\n\
bGQ=\n\
\n\
--foo bar\n\
Content-Transfer-Encoding: base64\n\
\n\
  aGVs    \n\
 bG8g  \n\
   d29y  \t \n\
    bGQ= \n\
\n\
\n\
--foo bar\n\
Content-Transfer-Encoding: base64\n\
\n\
aGVsbG8g\n\
dG8geW91IHRv\n\
bw==\n\
\n\
--foo bar\n\
Content-Transfer-Encoding: base64\n\
\n\
aGVsbG8gdG8gZXZlcnlvbmUh\n\
--foo bar\n\
Content-Transfer-Encoding: base64\n\
\n\
YWJjZGVmZw1oaWprbA0KbW5vCnBxcnN0dXZxeHl6\n\
\n\
--foo bar--\n";

    /// imaptest's fetch-binary-mime-qp part: soft breaks, trailing blanks.
    const QP_PART: &[u8] = b"Content-Type: multipart/mixed; boundary=b\n\
\n\
--b\n\
Content-Transfer-Encoding: quoted-printable\n\
\n\
hello  \n\
bar=\n\
\n\
foo\t=\n\
bar\n\
foo\t \t= \n\
=62\n\
foo = \t\n\
bar\n\
foo =\n\
=62\n\
foo  \n\
bar=\n\
\n\
foo_bar\n\
\n\
--b--\n";

    fn message(raw: &[u8]) -> FetchMessage<'_> {
        let (_, body) = mime::structure::split_header(raw, 0..raw.len());
        let view = MessageView {
            raw,
            header_length: body.start,
        };
        FetchMessage {
            visible_header: vec![raw.get(..body.start).unwrap()],
            view,
        }
    }

    fn resolve<'a>(raw: &'a [u8], part: &[u32]) -> Result<Source<'a>, UnknownCte> {
        let tree = mime::parse(raw);
        source(&message(raw), Some(&tree), part)
    }

    /// What `BINARY[part]<partial>` sends after its name and space.
    fn fetched(raw: &[u8], part: &[u32], partial: Option<(u32, u32)>) -> Vec<u8> {
        let source = resolve(raw, part).unwrap();
        let partial = partial.map(|(origin, length)| Partial { origin, length });
        let mut out = ResponseWriter::new(Vec::new());
        write_content(&mut out, &source, partial.as_ref()).unwrap();
        out.into_inner().unwrap()
    }

    fn size(raw: &[u8], part: &[u32]) -> u64 {
        decoded_size(&resolve(raw, part).unwrap())
    }

    #[test]
    fn base64_parts_decode_exactly() {
        let sizes: Vec<u64> = (1..=5).map(|n| size(BASE64_PARTS, &[n])).collect();
        assert_eq!(sizes, [11, 11, 16, 18, 30]);
        assert_eq!(fetched(BASE64_PARTS, &[1], None), b"{11}\r\nhello world");
        assert_eq!(fetched(BASE64_PARTS, &[2], None), b"{11}\r\nhello world");
        assert_eq!(
            fetched(BASE64_PARTS, &[4], None),
            b"{18}\r\nhello to everyone!"
        );
        // Bare CR and bare LF survive: base64 content is octets, not lines.
        assert_eq!(
            fetched(BASE64_PARTS, &[5], None),
            b"{30}\r\nabcdefg\rhijkl\r\nmno\npqrstuvqxyz"
        );
    }

    #[test]
    fn partial_windows_count_decoded_octets() {
        let cases: &[((u32, u32), &[u8])] = &[
            ((0, 7), b"{7}\r\nabcdefg"),
            ((0, 8), b"{8}\r\nabcdefg\r"),
            ((10, 10), b"{10}\r\njkl\r\nmno\np"),
            ((15, 100), b"{15}\r\nmno\npqrstuvqxyz"),
            ((29, 1), b"{1}\r\nz"),
            ((30, 1), b"\"\""),
            ((u32::MAX, u32::MAX), b"\"\""),
        ];
        for &(window, want) in cases {
            assert_eq!(
                fetched(BASE64_PARTS, &[5], Some(window)),
                want,
                "{window:?}"
            );
        }
    }

    #[test]
    fn quoted_printable_in_canonical_form() {
        let decoded: &[u8] =
            b"hello\r\nbar\r\nfoo\tbar\r\nfoo\t \tb\r\nfoo bar\r\nfoo b\r\nfoo\r\nbar\r\nfoo_bar\r\n";
        assert_eq!(size(QP_PART, &[1]), 65);
        assert_eq!(
            fetched(QP_PART, &[1], None),
            [&b"{65}\r\n"[..], decoded].concat()
        );
        assert_eq!(
            fetched(QP_PART, &[1], Some((15, 10))),
            b"{10}\r\n\tbar\r\nfoo\t"
        );
        assert_eq!(
            fetched(QP_PART, &[1], Some((40, 100))),
            [&b"{25}\r\n"[..], &decoded[40..]].concat()
        );
    }

    #[test]
    fn nul_octets_need_literal8_only_where_sent() {
        // base64 of "a\0b\r\nc".
        let raw = b"Content-Transfer-Encoding: base64\n\nYQBiDQpj\n";
        assert_eq!(size(raw, &[1]), 6);
        assert_eq!(fetched(raw, &[1], None), b"~{6}\r\na\0b\r\nc");
        assert_eq!(fetched(raw, &[1], Some((1, 1))), b"~{1}\r\n\0");
        // The window leaves the NUL out: an ordinary literal.
        assert_eq!(fetched(raw, &[1], Some((2, 10))), b"{4}\r\nb\r\nc");
        assert_eq!(fetched(raw, &[1], Some((0, 1))), b"{1}\r\na");
        // Quoted-printable =00 and an 8bit body's stored NUL are NUL too, not
        // the 0x80 that BODY[] substitutes.
        let qp = b"Content-Transfer-Encoding: quoted-printable\n\nx=00y\n";
        assert_eq!(fetched(qp, &[1], None), b"~{5}\r\nx\0y\r\n");
        let stored = b"Content-Transfer-Encoding: binary\n\nx\0y\n";
        assert_eq!(fetched(stored, &[1], None), b"~{5}\r\nx\0y\r\n");
        assert_eq!(fetched(stored, &[], None).first(), Some(&b'~'));
    }

    #[test]
    fn identity_parts_are_sent_as_body_sends_them() {
        let raw = b"Subject: plain\nContent-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9\nline\n";
        assert_eq!(fetched(raw, &[1], None), b"{13}\r\ncaf\xc3\xa9\r\nline\r\n");
        assert_eq!(size(raw, &[]), crate::response::crlf::crlf_len(raw));
        assert_eq!(fetched(raw, &[], Some((0, 8))), b"{8}\r\nSubject:");
        // No Content-Transfer-Encoding at all: 7bit.
        assert_eq!(fetched(b"A: b\n\nx\n", &[1], None), b"{3}\r\nx\r\n");
    }

    /// Identity sections without NUL take `literal_crlf`; the decoding path
    /// must give the same octets (it serves identity sections with NUL).
    #[test]
    fn identity_fast_path_agrees_with_the_decoding_path() {
        let raw = b"A: b\n\nline\r\nbare\rcr\n\nend";
        let source = resolve(raw, &[1]).unwrap();
        let mut decoded = Vec::new();
        source.for_each_chunk(|chunk| {
            decoded.extend_from_slice(chunk);
            ControlFlow::Continue(())
        });
        assert_eq!(decoded, b"line\r\nbarecr\r\n\r\nend");
        assert_eq!(decoded_size(&source), decoded.len() as u64);
        assert_eq!(scan(&source, u64::MAX, 0..0).len, decoded.len() as u64);
        for origin in 0..=decoded.len() as u32 {
            for length in 1..=decoded.len() as u32 + 1 {
                let got = fetched(raw, &[1], Some((origin, length)));
                let from = (origin as usize).min(decoded.len());
                let to = (origin + length).min(decoded.len() as u32) as usize;
                let want = match &decoded[from..to] {
                    [] => b"\"\"".to_vec(),
                    bytes => [format!("{{{}}}\r\n", bytes.len()).as_bytes(), bytes].concat(),
                };
                assert_eq!(got, want, "<{origin}.{length}>");
            }
        }
    }

    #[test]
    fn composite_parts_and_unknown_encodings() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\n\n\
--b\nContent-Type: message/rfc822\n\nSubject: in\nContent-Transfer-Encoding: base64\n\naGk=\n\
--b\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 f\n\
--b\nContent-Type: multipart/alternative; boundary=c\nContent-Transfer-Encoding: base64\n\n\
--c\n\nx\n--c--\n\
--b\nContent-Type: multipart/alternative; boundary=d\nContent-Transfer-Encoding: 7bit\n\n\
--d\n\ny\n--d--\n\
--b--\n";
        // message/rfc822 (identity): the encapsulated message as stored; its
        // own part 1 is decoded.
        assert_eq!(
            fetched(raw, &[1], None),
            b"{54}\r\nSubject: in\r\nContent-Transfer-Encoding: base64\r\n\r\naGk="
        );
        assert_eq!(fetched(raw, &[1, 1], None), b"{2}\r\nhi");
        assert_eq!(resolve(raw, &[2]), Err(UnknownCte));
        // A multipart cannot be base64 (RFC 2045 §6.4); a 7bit one is as is.
        assert_eq!(resolve(raw, &[3]), Err(UnknownCte));
        assert_eq!(fetched(raw, &[3, 1], None), b"{1}\r\nx");
        assert_eq!(fetched(raw, &[4], None), b"{15}\r\n--d\r\n\r\ny\r\n--d--");
        // No such part: "" and size 0, as BODY[] does.
        assert_eq!(resolve(raw, &[9]), Ok(Source::Missing));
        assert_eq!(fetched(raw, &[9], None), b"\"\"");
        assert_eq!(size(raw, &[9]), 0);
        let tree = mime::parse(raw);
        let parts: [&[u32]; 2] = [&[1], &[2]];
        assert_eq!(check(&message(raw), Some(&tree), &parts), Err(UnknownCte));
        assert_eq!(check(&message(raw), Some(&tree), &parts[..1]), Ok(()));
    }

    /// Random bodies (base64 and QP alphabets, blanks, `=`, CR, LF, NUL, 8-bit)
    /// under each encoding, random windows: every answer is a well-formed
    /// literal (or `""`) of the announced length, `~{n}` exactly when a NUL is
    /// sent, and each window is the slice of the whole at that place.
    #[test]
    fn random_bodies_and_windows_agree_with_the_whole() {
        const ALPHABET: &[u8] = b"aZ09+/==  \t\t\r\n\n\n\0\xffQ=3D=0";
        let mut rng = crate::parser::tests::Rng::new(0x5eed_b1a7);
        for round in 0..300 {
            let len = rng.below(200) as usize;
            let body: Vec<u8> = (0..len)
                .map(|_| ALPHABET[rng.below(ALPHABET.len() as u32) as usize])
                .collect();
            let cte = ["base64", "quoted-printable", "binary"][round % 3];
            let raw = [
                format!("Content-Transfer-Encoding: {cte}\n\n").as_bytes(),
                &body,
            ]
            .concat();
            let source = resolve(&raw, &[1]).unwrap();
            let mut whole = Vec::new();
            source.for_each_chunk(|chunk| {
                whole.extend_from_slice(chunk);
                ControlFlow::Continue(())
            });
            assert_eq!(decoded_size(&source), whole.len() as u64, "{cte} {body:?}");
            for _ in 0..8 {
                let origin = rng.below(whole.len() as u32 + 2);
                let length = 1 + rng.below(whole.len() as u32 + 2);
                let got = fetched(&raw, &[1], Some((origin, length)));
                let from = (origin as usize).min(whole.len());
                let to = (origin as usize + length as usize).min(whole.len());
                let want = &whole[from..to];
                if want.is_empty() {
                    assert_eq!(got, b"\"\"");
                    continue;
                }
                let prefix = if want.contains(&0) { "~" } else { "" };
                let head = format!("{prefix}{{{}}}\r\n", want.len());
                assert_eq!(
                    got,
                    [head.as_bytes(), want].concat(),
                    "{cte} <{origin}.{length}> of {body:?}"
                );
            }
        }
    }

    /// Parts larger than the decoding buffer: the pieces join seamlessly,
    /// every window agrees with the whole, and a small window stops early.
    #[test]
    fn large_parts_cross_chunk_boundaries() {
        let data: Vec<u8> = (0..3 * DECODE_CHUNK_OCTETS + 17)
            .map(|i| (i * 7 + i / 251) as u8)
            .collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&data);
        let mut raw = b"Content-Transfer-Encoding: base64\n\n".to_vec();
        for line in encoded.as_bytes().chunks(76) {
            raw.extend_from_slice(line);
            raw.push(b'\n');
        }
        assert_eq!(size(&raw, &[1]), data.len() as u64);
        let whole = fetched(&raw, &[1], None);
        assert_eq!(&whole[whole.len() - data.len()..], &data[..]);
        let edge = DECODE_CHUNK_OCTETS as u32 / 4 * 3;
        for (origin, length) in [(0, 1), (edge - 3, 7), (edge, 2 * edge + 5), (1, u32::MAX)] {
            let got = fetched(&raw, &[1], Some((origin, length)));
            let from = (origin as usize).min(data.len());
            let to = (origin as usize)
                .saturating_add(length as usize)
                .min(data.len());
            let body = &got[got.len() - (to - from)..];
            assert_eq!(body, &data[from..to], "<{origin}.{length}>");
        }

        // Quoted-printable with lines longer than the buffer.
        let line = "a=3Db \t".repeat(DECODE_CHUNK_OCTETS / 5);
        let mut raw = b"Content-Transfer-Encoding: quoted-printable\n\n".to_vec();
        raw.extend_from_slice(format!("{line}=\n{line}\nend\n").as_bytes());
        let mut want = Vec::new();
        decode_quoted_printable_into(raw.get(45..).unwrap(), LineBreak::CrLf, &mut want);
        assert_eq!(size(&raw, &[1]), want.len() as u64);
        let got = fetched(&raw, &[1], None);
        assert_eq!(&got[got.len() - want.len()..], &want[..]);
    }
}
