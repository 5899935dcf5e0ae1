//! Binary parts an mbox cannot hold byte for byte, re-encoded as base64
//! before APPEND stores them.
//!
//! A Berkeley mbox keeps text lines: the server stores LF line ends and
//! sends CRLF, quotes lines that start with `From `, and sends NUL as 0x80
//! in plain FETCH. That is lossless for text and for 7bit, 8bit, base64 and
//! quoted-printable parts, but not for a part whose
//! Content-Transfer-Encoding is `binary` (RFC 3516 lets a client APPEND
//! one): its bare CRs, bare LFs and `From ` lines would come back changed.
//! So such a part, when its octets would not survive, is stored as base64
//! instead, with its Content-Transfer-Encoding header changed to match (RFC
//! 3516 §4.1 expects servers that cannot store binary to do this). FETCH
//! BINARY then decodes it back to exactly the octets the client sent, and
//! BODY[] shows a valid base64 part. Nothing else in the message changes.

use std::borrow::Cow;
use std::ops::Range;

use base64::Engine;

use super::{PartKind, header};

/// `message` (as the client sent it, CRLF line ends) with every `binary`
/// part that would not survive storage re-encoded as base64; borrowed
/// unchanged when there is none.
pub fn protect_binary_parts(message: &[u8]) -> Cow<'_, [u8]> {
    let tree = super::parse(message);
    let mut edits: Vec<(Range<usize>, Vec<u8>)> = Vec::new();
    let mut stack = vec![&tree];
    while let Some(part) = stack.pop() {
        match &part.kind {
            PartKind::Multipart(children) => stack.extend(children.iter()),
            PartKind::Message(inner) => stack.push(inner),
            PartKind::Leaf => {
                let head = message.get(part.header.clone()).unwrap_or_default();
                let binary = header::first_value(head, b"content-transfer-encoding")
                    .is_some_and(|v| header::unfold(v).eq_ignore_ascii_case(b"binary"));
                let body = message.get(part.body.clone()).unwrap_or_default();
                if !binary || survives(body) {
                    continue;
                }
                if let Some(field) = field_range(message, part.header.clone()) {
                    edits.push((field, b"Content-Transfer-Encoding: base64\r\n".to_vec()));
                    edits.push((part.body.clone(), base64_lines(body)));
                }
            }
        }
    }
    if edits.is_empty() {
        return Cow::Borrowed(message);
    }
    edits.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    let mut out = message.to_vec();
    for (range, text) in edits {
        if range.end <= out.len() && range.start <= range.end {
            out.splice(range, text);
        }
    }
    Cow::Owned(out)
}

/// Whether `body` comes back unchanged through mbox storage: CRLF line ends
/// only, no NUL, no line starting with `From `.
fn survives(body: &[u8]) -> bool {
    if body.contains(&0) {
        return false;
    }
    let mut line_start = true;
    for (i, &b) in body.iter().enumerate() {
        if line_start && body.get(i..i + 5) == Some(b"From ") {
            return false;
        }
        line_start = false;
        match b {
            b'\r' if body.get(i + 1) != Some(&b'\n') => return false,
            b'\n' if i == 0 || body.get(i - 1) != Some(&b'\r') => return false,
            b'\n' => line_start = true,
            _ => {}
        }
    }
    true
}

/// The Content-Transfer-Encoding field (with its continuation lines and
/// line end) inside the header at `header` of `message`.
fn field_range(message: &[u8], header: Range<usize>) -> Option<Range<usize>> {
    const NAME: &[u8] = b"content-transfer-encoding";
    let head = message.get(header.clone())?;
    let mut at = 0;
    while at < head.len() {
        let line_end = memchr::memchr(b'\n', &head[at..]).map_or(head.len(), |i| at + i + 1);
        let line = &head[at..line_end];
        let is_field = line
            .get(..NAME.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(NAME))
            && line
                .get(NAME.len()..)
                .is_some_and(|rest| rest.trim_ascii_start().starts_with(b":"));
        if is_field {
            let mut end = line_end;
            while matches!(head.get(end), Some(b' ' | b'\t')) {
                end = memchr::memchr(b'\n', &head[end..]).map_or(head.len(), |i| end + i + 1);
            }
            // The header range stops before the blank line, so the field's
            // own line end is inside it and the replacement supplies one.
            return Some(header.start + at..header.start + end);
        }
        at = line_end;
    }
    None
}

/// `bytes` as base64 in lines of 76 characters, CRLF between them.
fn base64_lines(bytes: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = Vec::with_capacity(encoded.len() + encoded.len() / 38 + 2);
    for (i, chunk) in encoded.as_bytes().chunks(76).enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(chunk);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::decode::decode_base64;

    const HEAD: &[u8] = b"From: a@b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n";

    #[test]
    fn a_binary_body_that_would_change_becomes_base64() {
        // imaptest append-binary's message: NUL, bare LF, CRLF, bare LF.
        let body = b"\0-\xe4\n\r\n\n";
        let message = [HEAD, &body[..]].concat();
        let out = protect_binary_parts(&message);
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.contains("Content-Transfer-Encoding: base64\r\n\r\n"),
            "{text}"
        );
        assert!(!text.contains("binary"), "{text}");
        let at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
        assert_eq!(decode_base64(&out[at..]), body);
    }

    #[test]
    fn text_safe_binary_and_other_encodings_are_untouched() {
        let safe = [HEAD, b"line one\r\nline two\r\n"].concat();
        assert!(matches!(protect_binary_parts(&safe), Cow::Borrowed(_)));
        let eight = b"Content-Transfer-Encoding: 8bit\r\n\r\na\nb\rc\r\n";
        assert!(matches!(protect_binary_parts(eight), Cow::Borrowed(_)));
        let from_line = [HEAD, b"x\r\nFrom here\r\n"].concat();
        assert!(matches!(protect_binary_parts(&from_line), Cow::Owned(_)));
    }

    #[test]
    fn only_the_binary_part_of_a_multipart_changes() {
        let message = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/x\r\nContent-Transfer-Encoding: BINARY\r\n\r\n\x01\n\x02\r\n--b--\r\n";
        let out = protect_binary_parts(message);
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.contains("--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Content-Transfer-Encoding: base64\r\n\r\nAQoC\r\n--b--\r\n"),
            "{text}"
        );
    }

    #[test]
    fn survives_checks_line_ends() {
        assert!(survives(b""));
        assert!(survives(b"a\r\nb\r\n"));
        assert!(!survives(b"a\nb"));
        assert!(!survives(b"a\rb"));
        assert!(!survives(b"\n"));
        assert!(!survives(b"From x"));
        assert!(!survives(b"a\r\nFrom x"));
        assert!(survives(b"a From x"));
    }
}
