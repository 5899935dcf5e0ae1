//! The MIME tree of a message as byte ranges (RFC 2045, RFC 2046 §5).
//!
//! The hard part is where a part ends. RFC 2046 §5.1.1 puts the line break
//! *before* a boundary delimiter into the delimiter: in
//! `"...text\n--b\n"` the part body is `"...text"`, and with CRLF mail the
//! CR goes too. So a delimiter is found with one memmem search for
//! `"\n--boundary"` (plus a check for a delimiter on the very first line of the
//! body), then confirmed: after `--boundary` comes either `--` (the close
//! delimiter) or optional blanks and a line end. Anything else (a longer
//! boundary that merely starts with ours) is not a delimiter.
//!
//! Leniency, as in mail-parser and UW imapd: the preamble and epilogue are
//! ignored; a missing close delimiter means the last part runs to the end of
//! the enclosing body; a multipart without a `boundary` parameter, or whose
//! boundary never occurs, is a leaf (served as text). Depth is bounded by
//! [`MAX_NESTING`] and the total number of parts by [`MAX_PARTS`], so hostile
//! mail costs bounded stack and memory. Nothing is copied: every part is a
//! pair of ranges into the message.

use std::ops::Range;

use memchr::{memchr, memmem};

use super::header::{self, DefaultType};
use super::{BodyPart, MAX_NESTING, PartKind};

/// Most parts one message may have; past this the current part simply runs
/// to the end of its multipart. Bounds memory on mail made of nothing but
/// boundary lines (each part costs ~60 bytes of tree).
pub const MAX_PARTS: usize = 10_000;

/// Parses the entity `message[start..end]` (header, blank line, body).
pub(super) fn parse_entity(
    message: &[u8],
    span: Range<usize>,
    depth: usize,
    default: DefaultType,
    budget: &mut usize,
) -> BodyPart {
    let (header, body) = split_header(message, span);
    let leaf = |header, body| BodyPart {
        header,
        body,
        kind: PartKind::Leaf,
    };
    if depth >= MAX_NESTING || *budget == 0 {
        return leaf(header, body);
    }
    let header_bytes = message.get(header.clone()).unwrap_or_default();
    let ct = header::content_type(header_bytes, default);
    if ct.is_type(b"multipart") {
        let Some(boundary) = ct.param(b"boundary").filter(|b| !b.is_empty()) else {
            return leaf(header, body);
        };
        let child_default = if ct.sub.eq_ignore_ascii_case(b"digest") {
            DefaultType::MessageRfc822
        } else {
            DefaultType::TextPlain
        };
        let spans = split_multipart(message, body.clone(), boundary, budget);
        if spans.is_empty() {
            return leaf(header, body);
        }
        let children = spans
            .into_iter()
            .map(|s| parse_entity(message, s, depth + 1, child_default, budget))
            .collect();
        return BodyPart {
            header,
            body,
            kind: PartKind::Multipart(children),
        };
    }
    if ct.is(b"message", b"rfc822") || ct.is(b"message", b"global") {
        // Parsed whatever its Content-Transfer-Encoding claims, as UW does
        // ("Ignoring nested encoding of message contents").
        let inner = parse_entity(
            message,
            body.clone(),
            depth + 1,
            DefaultType::TextPlain,
            budget,
        );
        return BodyPart {
            header,
            body,
            kind: PartKind::Message(Box::new(inner)),
        };
    }
    leaf(header, body)
}

/// Splits an entity into header (without the blank line) and body. The header
/// ends at the first empty line (LF or CRLF); with no empty line at all the
/// whole entity is header and the body is empty.
pub fn split_header(message: &[u8], span: Range<usize>) -> (Range<usize>, Range<usize>) {
    let end = span.end.min(message.len());
    let start = span.start.min(end);
    let mut pos = start;
    while pos < end {
        // Invariant: start <= pos < end <= message.len().
        let rest = &message[pos..end];
        let Some(lf) = memchr(b'\n', rest) else { break };
        if lf == 0 || (lf == 1 && rest.first() == Some(&b'\r')) {
            return (start..pos, pos + lf + 1..end);
        }
        pos += lf + 1;
    }
    (start..end, end..end)
}

/// A confirmed boundary delimiter line.
struct Delimiter {
    /// Where the preceding part's content ends (before the CR/LF that belongs
    /// to the delimiter).
    content_end: usize,
    /// Just after the delimiter line (its LF), where the next part starts.
    next_start: usize,
    /// `--boundary--`: nothing follows.
    close: bool,
}

/// The spans of the parts of a multipart body, preamble and epilogue dropped.
/// Empty when no delimiter occurs.
fn split_multipart(
    message: &[u8],
    body: Range<usize>,
    boundary: &[u8],
    budget: &mut usize,
) -> Vec<Range<usize>> {
    let end = body.end.min(message.len());
    let start = body.start.min(end);
    let mut needle = Vec::with_capacity(boundary.len() + 3);
    needle.extend_from_slice(b"\n--");
    needle.extend_from_slice(boundary);
    let finder = memmem::Finder::new(&needle);
    let mut parts = Vec::new();
    let Some(first) = next_delimiter(message, start, end, &finder) else {
        return parts;
    };
    if first.close {
        return parts;
    }
    let mut part_start = first.next_start;
    loop {
        *budget = budget.saturating_sub(1);
        let next = if *budget == 0 {
            None
        } else {
            next_delimiter(message, part_start, end, &finder)
        };
        match next {
            None => {
                parts.push(part_start..end);
                return parts;
            }
            Some(d) => {
                parts.push(part_start..d.content_end);
                if d.close {
                    return parts;
                }
                part_start = d.next_start;
            }
        }
    }
}

/// The first delimiter line at or after `from` (which is at a line start) and
/// before `end`. `finder` searches for `"\n--boundary"`.
fn next_delimiter(
    message: &[u8],
    from: usize,
    end: usize,
    finder: &memmem::Finder<'_>,
) -> Option<Delimiter> {
    // Length of "--boundary": the needle without its leading LF.
    let dash_len = finder.needle().len() - 1;
    let region = message.get(from..end)?;
    // A delimiter on the very first line: no line break precedes it.
    if region.get(..dash_len) == finder.needle().get(1..)
        && let Some(d) = confirm(message, from, from + dash_len, end)
    {
        return Some(d);
    }
    for i in finder.find_iter(region) {
        let lf = from + i;
        // The CR of a CRLF before the delimiter belongs to it as well.
        let content_end = if lf > from && message.get(lf - 1) == Some(&b'\r') {
            lf - 1
        } else {
            lf
        };
        if let Some(d) = confirm(message, content_end, lf + 1 + dash_len, end) {
            return Some(d);
        }
    }
    None
}

/// Checks what follows `--boundary` (ending at `after`): `--` closes; else
/// optional blanks then a line end (or the end of the body).
fn confirm(message: &[u8], content_end: usize, after: usize, end: usize) -> Option<Delimiter> {
    let tail = message.get(after..end)?;
    if tail.starts_with(b"--") {
        return Some(Delimiter {
            content_end,
            next_start: end,
            close: true,
        });
    }
    let blanks = tail
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let next_start = match tail.get(blanks..) {
        None | Some([]) => end,
        Some([b'\n', ..]) => after + blanks + 1,
        Some([b'\r', b'\n', ..]) => after + blanks + 2,
        Some([b'\r']) => end,
        Some(_) => return None,
    };
    Some(Delimiter {
        content_end,
        next_start,
        close: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::parse;

    /// The body bytes of each leaf, depth-first, as strings.
    fn leaves(message: &[u8], part: &BodyPart, out: &mut Vec<String>) {
        match &part.kind {
            PartKind::Leaf => {
                out.push(String::from_utf8_lossy(&message[part.body.clone()]).into_owned())
            }
            PartKind::Multipart(children) => children.iter().for_each(|c| leaves(message, c, out)),
            PartKind::Message(inner) => leaves(message, inner, out),
        }
    }

    fn leaf_bodies(message: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        leaves(message, &parse(message), &mut out);
        out
    }

    #[test]
    fn split_header_variants() {
        let cases: [(&[u8], Range<usize>, Range<usize>); 6] = [
            (b"A: 1\n\nbody", 0..5, 6..10),
            (b"A: 1\r\n\r\nbody", 0..6, 8..12),
            (b"A: 1\n\r\nbody", 0..5, 7..11),
            (b"\nbody", 0..0, 1..5),
            (b"A: 1\nB: 2", 0..9, 9..9),
            (b"", 0..0, 0..0),
        ];
        for (m, h, b) in cases {
            assert_eq!(
                split_header(m, 0..m.len()),
                (h, b),
                "{:?}",
                String::from_utf8_lossy(m)
            );
        }
    }

    #[test]
    fn line_break_before_delimiter_belongs_to_it() {
        let lf = b"Content-Type: multipart/mixed; boundary=b\n\npre\n--b\n\none\n--b\nX: y\n\ntwo\n\n--b--\nepi\n";
        assert_eq!(leaf_bodies(lf), vec!["one", "two\n"]);
        let crlf = b"Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\n\r\none\r\n--b \t\r\n\r\ntwo\r\n\r\n--b--\r\n";
        assert_eq!(leaf_bodies(crlf), vec!["one", "two\r\n"]);
    }

    #[test]
    fn delimiter_on_first_body_line_and_adjacent_delimiters() {
        let m = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\nx\n--b--";
        let root = parse(m);
        let PartKind::Multipart(children) = &root.kind else {
            panic!("{root:?}")
        };
        assert_eq!(children.len(), 2);
        assert_eq!(children[0].body, 47..47);
        assert_eq!(leaf_bodies(m), vec!["", "x"]);
    }

    #[test]
    fn longer_boundary_is_not_a_delimiter() {
        let m = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--bc\nstill one\n--b--\n";
        assert_eq!(leaf_bodies(m), vec!["--bc\nstill one"]);
    }

    #[test]
    fn missing_close_runs_to_the_end() {
        let m = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n";
        assert_eq!(leaf_bodies(m), vec!["one", "two\n"]);
    }

    #[test]
    fn no_boundary_or_no_delimiter_is_a_leaf() {
        for m in [
            &b"Content-Type: multipart/mixed\n\n--b\n\nx\n"[..],
            b"Content-Type: multipart/mixed; boundary=\"\"\n\nx\n",
            b"Content-Type: multipart/mixed; boundary=zz\n\n--b\n\nx\n",
            b"Content-Type: multipart/mixed; boundary=zz\n\n--zz--\n",
        ] {
            assert_eq!(parse(m).kind, PartKind::Leaf);
        }
    }

    #[test]
    fn digest_children_default_to_message() {
        let m = b"Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: inner\n\nhi\n--d\nContent-Type: text/plain\n\nplain\n--d--\n";
        let root = parse(m);
        let PartKind::Multipart(children) = &root.kind else {
            panic!()
        };
        let PartKind::Message(inner) = &children[0].kind else {
            panic!("{:?}", children[0])
        };
        assert_eq!(&m[inner.header.clone()], b"Subject: inner\n");
        assert_eq!(&m[inner.body.clone()], b"hi");
        assert_eq!(children[1].kind, PartKind::Leaf);
    }

    #[test]
    fn part_budget_bounds_the_tree() {
        let mut m = b"Content-Type: multipart/mixed; boundary=b\n\n".to_vec();
        for _ in 0..MAX_PARTS + 50 {
            m.extend_from_slice(b"--b\n\nx\n");
        }
        let root = parse(&m);
        let PartKind::Multipart(children) = &root.kind else {
            panic!()
        };
        assert_eq!(children.len(), MAX_PARTS);
        assert_eq!(children.last().map(|c| c.body.end), Some(m.len()));
    }
}
