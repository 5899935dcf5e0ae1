//! MIME structure of a stored message, parsed leniently from its bytes.
//!
//! Pure functions over `&[u8]` (the message as stored: LF line ends, no From_
//! line). Nothing here allocates per byte of body: a part is a pair of byte
//! ranges into the message, found by scanning for boundaries with memchr. Broken
//! mail (missing boundaries, bad headers, absurd nesting) still gives a best-effort
//! tree: FETCH must never fail because an old message is malformed.
//!
//! STUB: the structure types below are the interface; the implementation is
//! being written.

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

/// Parses the MIME tree of `message` (header + body as stored).
pub fn parse(message: &[u8]) -> BodyPart {
    let _ = message;
    todo!("mime::parse")
}

/// The part a section path names (`[]` is the root; RFC 3501 §6.4.5 part
/// numbering: a non-multipart message has only part 1, which is its body; the
/// parts of a message/rfc822 are numbered inside it).
pub fn find_part<'a>(root: &'a BodyPart, path: &[u32]) -> Option<&'a BodyPart> {
    let _ = (root, path);
    todo!("mime::find_part")
}

/// Iterates the header fields of a header block: `(name, raw value)` with the
/// value still folded (continuation lines included, CR/LF kept).
pub fn header_fields(header: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let _ = header;
    std::iter::empty()
}

/// A small cache of parsed MIME trees keyed by UID, so that a FETCH of several
/// items (or BODYSTRUCTURE then BODY[1]) parses a message once. Bounded: it
/// holds at most a few entries, so 100,000 messages cost nothing here.
#[derive(Debug, Default)]
pub struct Cache {
    entries: Vec<(u32, BodyPart)>,
}
