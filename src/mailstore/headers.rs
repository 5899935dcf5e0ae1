//! UW's metadata headers inside stored messages: finding, hiding, reading them.
//!
//! UW imapd keeps per-message and per-mailbox state in six header fields
//! (`Status`, `X-Status`, `X-Keywords`, `X-UID`, `X-IMAP`, `X-IMAPbase`;
//! mbox-format.md §6-§8). Two rules make this subtle:
//!
//! * **Hiding is case-insensitive, honouring is not.** A field whose name
//!   equals one of the six in any case is hidden from clients (FETCH of
//!   headers, RFC822.SIZE) together with its folded continuation lines, but
//!   only the exact spelling is believed: `status: RO` is a forgery UW logs as
//!   "bogus" and drops at the next rewrite.
//! * **Stored mail is hostile and huge.** A header can be megabytes long and
//!   need not end in a blank line. Every function here walks lines with memchr
//!   once, so the cost is linear in the header size.
//!
//! The index keeps no per-message allocation for the hidden fields: their
//! positions are found again by [`uw_fields`] whenever a header is served.

use std::ops::Range;

use memchr::{memchr, memchr_iter};

use crate::types::SystemFlags;

/// One of UW's six metadata header names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UwHeader {
    /// `Status:` flag letters (R, O; any letter of the table is honoured).
    Status,
    /// `X-Status:` flag letters (D, F, A, T; any letter is honoured).
    XStatus,
    /// `X-Keywords:` the message's keywords.
    XKeywords,
    /// `X-UID:` the message's UID.
    XUid,
    /// `X-IMAP:` mailbox metadata; marks the pseudo-message.
    XImap,
    /// `X-IMAPbase:` mailbox metadata in the first real message.
    XImapBase,
}

/// A UW metadata field found in a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UwField<'a> {
    pub header: UwHeader,
    /// The name is spelt exactly as UW writes it: only then is the value believed.
    pub exact_case: bool,
    /// Everything after the colon up to the end of the field, continuation
    /// lines included (so it may contain CR, LF, SP and TAB).
    pub value: &'a [u8],
    /// The whole field as stored: name line and continuation lines with their LFs.
    pub span: Range<usize>,
}

/// The length of the header at the start of `text`: up to and including the
/// first empty line (`LF` or `CR LF`). A message without one is all header.
pub fn header_length(text: &[u8]) -> usize {
    let blank_after = |at: usize| match text.get(at..) {
        Some([b'\n', ..]) => Some(at + 1),
        Some([b'\r', b'\n', ..]) => Some(at + 2),
        _ => None,
    };
    if let Some(end) = blank_after(0) {
        return end;
    }
    memchr_iter(b'\n', text)
        .find_map(|lf| blank_after(lf + 1))
        .unwrap_or(text.len())
}

/// The UW metadata fields of `header`, in order. Stops at the blank line.
pub fn uw_fields(header: &[u8]) -> UwFields<'_> {
    UwFields { header, pos: 0 }
}

/// Iterator returned by [`uw_fields`].
pub struct UwFields<'a> {
    header: &'a [u8],
    /// Start of the next line to look at.
    pos: usize,
}

impl<'a> Iterator for UwFields<'a> {
    type Item = UwField<'a>;

    fn next(&mut self) -> Option<UwField<'a>> {
        while self.pos < self.header.len() {
            let start = self.pos;
            let line = self.header.get(start..)?;
            let line_end = start + memchr(b'\n', line).map_or(line.len(), |i| i + 1);
            self.pos = line_end;
            if matches!(line, [b'\n', ..] | [b'\r', b'\n', ..]) {
                // The blank line that ends the header.
                self.pos = self.header.len();
                return None;
            }
            let Some((header, exact_case, name_len)) = uw_name(line) else {
                continue;
            };
            // Folded continuation lines (RFC 5322 §2.2.3) belong to the field.
            let mut end = line_end;
            while let Some([b' ' | b'\t', ..]) = self.header.get(end..) {
                let rest = self.header.get(end..)?;
                end += memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
            }
            self.pos = end;
            let value = self.header.get(start + name_len + 1..end)?;
            return Some(UwField {
                header,
                exact_case,
                value,
                span: start..end,
            });
        }
        None
    }
}

/// The header as clients see it: `header` minus every UW field, as consecutive
/// slices of `header`.
pub fn visible_segments(header: &[u8]) -> Vec<&[u8]> {
    let mut segments = Vec::new();
    let mut kept_from = 0;
    for field in uw_fields(header) {
        if let Some(kept) = header
            .get(kept_from..field.span.start)
            .filter(|s| !s.is_empty())
        {
            segments.push(kept);
        }
        kept_from = field.span.end;
    }
    if let Some(kept) = header.get(kept_from..).filter(|s| !s.is_empty()) {
        segments.push(kept);
    }
    segments
}

/// Flags from a `Status:` or `X-Status:` value. UW reads both headers with
/// the same letter table (§6.1); unknown letters are ignored.
pub fn flag_letters(value: &[u8]) -> SystemFlags {
    let mut flags = SystemFlags::default();
    for b in value {
        match b {
            b'R' => flags.insert(SystemFlags::SEEN),
            b'O' => flags.insert(SystemFlags::OLD),
            b'D' => flags.insert(SystemFlags::DELETED),
            b'F' => flags.insert(SystemFlags::FLAGGED),
            b'A' => flags.insert(SystemFlags::ANSWERED),
            b'T' => flags.insert(SystemFlags::DRAFT),
            _ => {}
        }
    }
    flags
}

/// The number in an `X-UID:` value: leading blanks skipped, then digits
/// (Dovecot pads after them). `None` if absent, zero or too large.
pub fn uid_value(value: &[u8]) -> Option<u32> {
    let (n, _) = leading_number(value)?;
    (n != 0).then_some(n)
}

/// The space-separated words of a value (keywords).
pub fn words(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
}

/// Mailbox metadata from `X-IMAP:` / `X-IMAPbase:` (§7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxMeta<'a> {
    /// Non-zero.
    pub uid_validity: u32,
    /// The last UID assigned (UW and Dovecot; mailutils writes UIDNEXT here).
    pub last_uid: u32,
    /// Declared keywords, in declaration order, unvalidated.
    pub keywords: Vec<&'a [u8]>,
}

/// Parses `<uidvalidity> <lastuid>[ <kw>...]`; numbers may be zero-padded or
/// space-padded. `None` (header ignored) unless UIDVALIDITY is non-zero and
/// followed by a last-UID digit string.
pub fn mailbox_meta(value: &[u8]) -> Option<MailboxMeta<'_>> {
    let (uid_validity, rest) = leading_number(value)?;
    if uid_validity == 0 || !rest.first().is_some_and(u8::is_ascii_whitespace) {
        return None;
    }
    let (last_uid, rest) = leading_number(rest)?;
    if rest.first().is_some_and(|b| !b.is_ascii_whitespace()) {
        return None;
    }
    Some(MailboxMeta {
        uid_validity,
        last_uid,
        keywords: words(rest).collect(),
    })
}

/// Blanks, then a run of digits as a u32; returns the rest after the digits.
fn leading_number(value: &[u8]) -> Option<(u32, &[u8])> {
    let value = value.trim_ascii_start();
    let digits = value.iter().take_while(|b| b.is_ascii_digit()).count();
    let (number, rest) = value.split_at_checked(digits)?;
    if number.is_empty() {
        return None;
    }
    let n = number.iter().try_fold(0u32, |n, d| {
        n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })?;
    Some((n, rest))
}

/// Whether `line` starts with one of the six names, in any case, followed
/// directly by a colon: which one, whether spelt exactly, and the name length.
fn uw_name(line: &[u8]) -> Option<(UwHeader, bool, usize)> {
    const NAMES: [(&[u8], UwHeader); 6] = [
        (b"Status", UwHeader::Status),
        (b"X-Status", UwHeader::XStatus),
        (b"X-Keywords", UwHeader::XKeywords),
        (b"X-UID", UwHeader::XUid),
        (b"X-IMAP", UwHeader::XImap),
        (b"X-IMAPbase", UwHeader::XImapBase),
    ];
    // Cheap first test: every name starts with S or X.
    if !matches!(line.first(), Some(b'S' | b's' | b'X' | b'x')) {
        return None;
    }
    NAMES.iter().find_map(|&(name, header)| {
        let candidate = line.get(..name.len())?;
        (line.get(name.len()) == Some(&b':') && candidate.eq_ignore_ascii_case(name)).then_some((
            header,
            candidate == name,
            name.len(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_length_finds_the_blank_line() {
        let table: &[(&[u8], usize)] = &[
            (b"A: 1\nB: 2\n\nbody\n", 11),
            (b"A: 1\r\n\r\nbody", 8),
            (b"\nbody\n", 1),
            (b"\r\nbody\n", 2),
            (b"A: 1\nB: 2\n", 10),
            (b"A: 1\n \nB\n\nx", 10),
            (b"", 0),
        ];
        for &(text, len) in table {
            assert_eq!(
                header_length(text),
                len,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn finds_fields_in_any_case_with_continuations() {
        let header = b"Subject: x\nStatus: RO\nX-Status: F\nstatus: D\nX-Keywords: a\n b\nX-UID: 7\nX-UIDx: 1\nX-IMAPbase: 5 6 k\nX-IMAP: 1 2\nStatus : R\nTo: y\n\nStatus: A\n";
        let fields: Vec<_> = uw_fields(header).collect();
        let summary: Vec<_> = fields
            .iter()
            .map(|f| (f.header, f.exact_case, f.value))
            .collect();
        assert_eq!(
            summary,
            [
                (UwHeader::Status, true, &b" RO\n"[..]),
                (UwHeader::XStatus, true, b" F\n"),
                (UwHeader::Status, false, b" D\n"),
                (UwHeader::XKeywords, true, b" a\n b\n"),
                (UwHeader::XUid, true, b" 7\n"),
                (UwHeader::XImapBase, true, b" 5 6 k\n"),
                (UwHeader::XImap, true, b" 1 2\n"),
            ]
        );
        assert_eq!(&header[fields[3].span.clone()], b"X-Keywords: a\n b\n");
    }

    #[test]
    fn visible_header_drops_uw_fields_only() {
        let header = b"Subject: x\nX-UID: 1\n  folded\nTo: y\nX-Status: \nx-keywords: w\nContent-Length: 3\n\n";
        let visible: Vec<u8> = visible_segments(header).concat();
        assert_eq!(visible, b"Subject: x\nTo: y\nContent-Length: 3\n\n");
        assert_eq!(visible_segments(b"A: 1\n\n"), [&b"A: 1\n\n"[..]]);
        assert_eq!(visible_segments(b"Status: O\n"), Vec::<&[u8]>::new());
    }

    #[test]
    fn huge_header_is_linear() {
        // 10 MB of header lines, many of them UW fields: must take milliseconds.
        let mut header = Vec::new();
        while header.len() < 10_000_000 {
            header.extend_from_slice(b"X-Keywords: a b c\n continued\nReceived: from somewhere\n");
        }
        header.extend_from_slice(b"\n");
        let started = std::time::Instant::now();
        assert_eq!(header_length(&header), header.len());
        let visible: usize = visible_segments(&header).iter().map(|s| s.len()).sum();
        assert!(visible < header.len() / 2);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn values() {
        assert_eq!(
            flag_letters(b" RO"),
            SystemFlags(SystemFlags::SEEN.0 | SystemFlags::OLD.0)
        );
        assert_eq!(flag_letters(b" FOR x"), SystemFlags(1 | 4 | 32));
        assert_eq!(flag_letters(b" DFAT"), SystemFlags(8 | 4 | 2 | 16));
        assert_eq!(flag_letters(b" ro"), SystemFlags::default());
        assert_eq!(uid_value(b" 31   \n"), Some(31));
        assert_eq!(uid_value(b" 0\n"), None);
        assert_eq!(uid_value(b" x\n"), None);
        assert_eq!(uid_value(b" 99999999999\n"), None);
        let meta = mailbox_meta(b" 1795932911 0000000031 Work $Forwarded\n").unwrap();
        assert_eq!((meta.uid_validity, meta.last_uid), (1795932911, 31));
        assert_eq!(meta.keywords, [&b"Work"[..], b"$Forwarded"]);
        let meta = mailbox_meta(b"           1795931592                    4\n").unwrap();
        assert_eq!(
            (meta.uid_validity, meta.last_uid, meta.keywords.len()),
            (1795931592, 4, 0)
        );
        assert_eq!(mailbox_meta(b" 0 5\n"), None);
        assert_eq!(mailbox_meta(b" 5\n"), None);
        assert_eq!(mailbox_meta(b" 5x 6\n"), None);
        assert_eq!(mailbox_meta(b" 5 6x\n"), None);
    }
}
