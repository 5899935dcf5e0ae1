//! MIME structure of a stored message, parsed leniently from its bytes.
//!
//! Pure functions over `&[u8]` (the message as stored: LF line ends, no From_
//! line). Nothing here allocates per byte of body: a part is a pair of byte
//! ranges into the message, found by scanning for boundaries with memchr. Broken
//! mail (missing boundaries, bad headers, absurd nesting) still gives a best-effort
//! tree: FETCH must never fail because an old message is malformed.
//!
//! - [`structure`]: the tree of byte ranges (boundaries, nesting limits).
//! - [`header`]: header fields, unfolding, `Content-*` interpretation.
//! - [`envelope`]: the RFC 3501 §7.4.2 ENVELOPE fields and address lists.
//! - [`date`]: Date: header values, read leniently.
//! - [`subject`]: RFC 5256's base subject.
//! - [`protect`]: binary parts re-encoded as base64 before APPEND stores them.

pub mod date;
pub mod envelope;
pub mod header;
pub mod protect;
pub mod structure;
pub mod subject;

pub mod decode;

use std::ops::Range;

/// How deep multipart / message/rfc822 nesting is followed; deeper parts are
/// treated as opaque leaves (bounds recursion on hostile mail).
pub const MAX_NESTING: usize = 32;

/// One MIME entity: the top-level message, a multipart child, or the message
/// inside a message/rfc822 part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyPart {
    /// This entity's header, relative to the message start, *without* the blank
    /// line that ends it. Empty for a part that has no header.
    pub header: Range<usize>,
    /// This entity's body, relative to the message start.
    pub body: Range<usize>,
    pub kind: PartKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartKind {
    /// Any non-multipart, non-message/rfc822 entity.
    Leaf,
    /// `multipart/*`: the children, in order.
    Multipart(Vec<BodyPart>),
    /// `message/rfc822` (and `message/global`): the encapsulated message, whose
    /// ranges lie inside this part's body.
    Message(Box<BodyPart>),
}

impl BodyPart {
    /// The header including the blank line that ends it (what `BODY[HEADER]`
    /// and `BODY[n.MIME]` return): from the header start to the body start.
    pub fn header_with_blank_line(&self) -> Range<usize> {
        self.header.start..self.body.start.max(self.header.start)
    }
}

/// Parses the MIME tree of `message` (header + body as stored).
pub fn parse(message: &[u8]) -> BodyPart {
    let mut budget = structure::MAX_PARTS;
    structure::parse_entity(
        message,
        0..message.len(),
        0,
        header::DefaultType::TextPlain,
        &mut budget,
    )
}

/// The part a section path names (`[]` is the root; RFC 3501 §6.4.5 part
/// numbering: a non-multipart message has only part 1, which is its body; the
/// parts of a message/rfc822 are numbered inside it).
pub fn find_part<'a>(root: &'a BodyPart, path: &[u32]) -> Option<&'a BodyPart> {
    let Some((&first, rest)) = path.split_first() else {
        return Some(root);
    };
    let mut part = message_child(root, first)?;
    for &n in rest {
        part = match &part.kind {
            PartKind::Multipart(children) => nth(children, n)?,
            PartKind::Message(inner) => message_child(inner, n)?,
            PartKind::Leaf => return None,
        };
    }
    Some(part)
}

/// Part `n` of a whole message (the root or an encapsulated one): a child of a
/// multipart message, or for any other message only `1`, the message itself
/// (whose body is the part's content).
fn message_child(message: &BodyPart, n: u32) -> Option<&BodyPart> {
    match &message.kind {
        PartKind::Multipart(children) => nth(children, n),
        _ if n == 1 => Some(message),
        _ => None,
    }
}

fn nth(children: &[BodyPart], n: u32) -> Option<&BodyPart> {
    children.get(usize::try_from(n).ok()?.checked_sub(1)?)
}

/// Iterates the header fields of a header block: `(name, raw value)` with the
/// value still folded (continuation lines included, CR/LF kept; the blanks
/// after the colon and the field's final line break are not part of it).
pub fn header_fields(header: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    header::fields(header).map(|f| (f.name, f.value))
}

/// A small cache of parsed MIME trees keyed by UID, so that a FETCH of several
/// items (or BODYSTRUCTURE then `BODY[1]`) parses a message once. Bounded: it
/// holds at most a few entries, so 100,000 messages cost nothing here.
///
/// An entry is reused only if the message still has the same length and the
/// same header end, so a mailbox rewrite that changed the stored bytes (status
/// headers added) cannot serve stale ranges. (Stale ranges could not panic
/// anyway: every user slices with `.get()`.)
#[derive(Debug, Default)]
pub struct Cache {
    /// Most recently used last.
    entries: Vec<CacheEntry>,
}

#[derive(Debug)]
struct CacheEntry {
    uid: u32,
    len: usize,
    tree: BodyPart,
}

impl Cache {
    /// How many trees are kept.
    pub const CAPACITY: usize = 4;

    /// The MIME tree of `message` (the message whose UID is `uid`), parsed on
    /// a miss.
    pub fn tree(&mut self, uid: u32, message: &[u8]) -> &BodyPart {
        let found = self.entries.iter().position(|e| {
            e.uid == uid
                && e.len == message.len()
                && e.tree.body.start == structure::split_header(message, 0..message.len()).1.start
        });
        match found {
            Some(i) => {
                let hit = self.entries.remove(i);
                self.entries.push(hit);
            }
            None => {
                if self.entries.len() >= Self::CAPACITY {
                    self.entries.remove(0);
                }
                self.entries.push(CacheEntry {
                    uid,
                    len: message.len(),
                    tree: parse(message),
                });
            }
        }
        // Invariant: an entry was pushed just above in both arms.
        let last = self.entries.len() - 1;
        &self.entries[last].tree
    }

    /// Forgets everything (a new mailbox, or new UIDs).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NESTED: &[u8] = b"Subject: top\n\
Content-Type: multipart/mixed; boundary=outer\n\
\n\
--outer\n\
Content-Type: text/plain\n\
\n\
part one\n\
--outer\n\
Content-Type: message/rfc822\n\
\n\
Subject: inner\n\
Content-Type: multipart/alternative; boundary=inner\n\
\n\
--inner\n\
\n\
inner text\n\
--inner\n\
Content-Type: text/html\n\
\n\
<p>inner</p>\n\
--inner--\n\
--outer\n\
Content-Type: application/octet-stream\n\
\n\
AAAA\n\
--outer--\n";

    fn body_of<'a>(m: &'a [u8], root: &BodyPart, path: &[u32]) -> Option<&'a [u8]> {
        find_part(root, path).map(|p| &m[p.body.clone()])
    }

    #[test]
    fn find_part_numbering() {
        let root = parse(NESTED);
        assert_eq!(body_of(NESTED, &root, &[1]), Some(&b"part one"[..]));
        assert_eq!(body_of(NESTED, &root, &[2, 1]), Some(&b"inner text"[..]));
        assert_eq!(body_of(NESTED, &root, &[2, 2]), Some(&b"<p>inner</p>"[..]));
        assert_eq!(body_of(NESTED, &root, &[3]), Some(&b"AAAA"[..]));
        assert!(find_part(&root, &[4]).is_none());
        assert!(find_part(&root, &[0]).is_none());
        assert!(find_part(&root, &[1, 1]).is_none());
        assert!(find_part(&root, &[2, 3]).is_none());
        assert!(matches!(
            find_part(&root, &[2]).map(|p| &p.kind),
            Some(PartKind::Message(_))
        ));
        assert_eq!(find_part(&root, &[]), Some(&root));

        // A non-multipart message: part 1 is its body.
        let plain = b"Subject: x\n\nhello\n";
        let root = parse(plain);
        assert_eq!(body_of(plain, &root, &[1]), Some(&b"hello\n"[..]));
        assert!(find_part(&root, &[2]).is_none());
        assert!(find_part(&root, &[1, 1]).is_none());
    }

    #[test]
    fn message_rfc822_with_single_part_inner() {
        let m = b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nSubject: in\n\nbody\n--b--\n";
        let root = parse(m);
        assert_eq!(body_of(m, &root, &[1, 1]), Some(&b"body"[..]));
        let inner = find_part(&root, &[1, 1]).unwrap();
        assert_eq!(&m[inner.header_with_blank_line()], b"Subject: in\n\n");
    }

    #[test]
    fn header_fields_interface() {
        let got: Vec<_> = header_fields(b"A: 1\n b\nB:2\n\nC: 3\n").collect();
        assert_eq!(got, vec![(&b"A"[..], &b"1\n b"[..]), (b"B", b"2")]);
    }

    #[test]
    fn deep_nesting_is_bounded() {
        // 40 levels of multipart, then 40 of message/rfc822: no panic, depth capped.
        let mut m = Vec::new();
        for i in 0..40 {
            m.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n").as_bytes(),
            );
        }
        for _ in 0..40 {
            m.extend_from_slice(b"Content-Type: message/rfc822\n\n");
        }
        m.extend_from_slice(b"\nbottom\n");
        let root = parse(&m);
        fn depth(p: &BodyPart) -> usize {
            match &p.kind {
                PartKind::Leaf => 0,
                PartKind::Multipart(c) => 1 + c.iter().map(depth).max().unwrap_or(0),
                PartKind::Message(inner) => 1 + depth(inner),
            }
        }
        assert_eq!(depth(&root), MAX_NESTING);
        let path = vec![1u32; 80];
        let _ = find_part(&root, &path);
    }

    #[test]
    fn cache_parses_once_and_is_bounded() {
        let mut cache = Cache::default();
        let a = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n";
        let t1 = cache.tree(7, a).clone();
        assert_eq!(cache.entries.len(), 1);
        assert_eq!(cache.tree(7, a), &t1);
        assert_eq!(cache.entries.len(), 1);
        for uid in 100..110 {
            cache.tree(uid, b"A: b\n\nc");
        }
        assert_eq!(cache.entries.len(), Cache::CAPACITY);
        // Same UID, different bytes (a rewrite): parsed again, not served stale.
        let b = b"Subject: x\n\nplain";
        let mut cache = Cache::default();
        cache.tree(7, a);
        assert_eq!(cache.tree(7, b).kind, PartKind::Leaf);
        cache.clear();
        assert!(cache.entries.is_empty());
    }
}
