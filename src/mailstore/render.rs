//! The bytes the write path puts into a mailbox, exactly as UW imapd writes
//! them: the per-message metadata block, the pseudo-message, and an appended
//! message with its From_ line (mbox-format.md §3, §6.2, §7.3, §10.1).
//!
//! The hard part is byte-exactness with UW (so that UW imapd, alpine, mutt and
//! Dovecot read what we wrote as they read UW's files, and the §12 example
//! matches byte for byte) while keeping later flag changes cheap:
//!
//! * The block is `[X-IMAPbase]`, `Status`, `X-Status`, `X-Keywords`,
//!   `X-UID`, and UW pads the `X-Keywords` line with spaces so that the block
//!   up to there is at least 50 bytes (80 with `X-IMAPbase`). That padding is
//!   what lets a later flag change be written *in place*: [`Block::render`]
//!   with [`Width::Exactly`] renders the new flags padded to the length of the
//!   block already in the file, or says that they do not fit.
//! * The pseudo-message text and its date formats are UW's (`unix_pseudo`:
//!   a ctime From_ line, an `rfc822_fixed_date` Date, zero-padded numbers in
//!   `X-IMAP`), as in fixtures/mbox/uw-expunged-all.mbox.
//! * An APPENDed message is stored as UW's `unix_append_msgs` stores it: CRs
//!   squeezed out, every line starting `From ` quoted with `>`, and the six
//!   metadata header names in the client's header renamed `X-Original-…` so
//!   that a forged `X-UID` cannot confuse anyone. One difference, on purpose:
//!   NUL octets are kept, where UW writes 0x80. A `literal` cannot carry NUL
//!   (RFC 3501 §4.3), so only a `literal8` (RFC 3516) or a COPY of delivered
//!   mail has any, and changing them would corrupt the message: FETCH BINARY
//!   must give back what APPEND got, a copy must equal its source. Readers
//!   cope, since mail delivered by the MTA can hold NUL anyway (UW and we
//!   send it as 0x80 in a plain FETCH).
//!
//! Everything here is pure: bytes in, bytes out.

use chrono::{DateTime, Datelike, FixedOffset, Timelike};

use super::headers;
use crate::types::SystemFlags;

/// The mailbox metadata UW keeps in message 1 (`X-IMAPbase`) or in the
/// pseudo-message (`X-IMAP`): UIDVALIDITY, last UID assigned, keywords.
#[derive(Debug, Clone, Copy)]
pub struct MetaLine<'a> {
    pub uid_validity: u32,
    pub last_uid: u32,
    /// Declared keywords, in declaration order.
    pub keywords: &'a [String],
}

/// One message's metadata block.
#[derive(Debug, Clone, Copy)]
pub struct Block<'a> {
    /// `X-IMAPbase` goes first in the block of the first real message when
    /// the mailbox has no pseudo-message.
    pub base: Option<MetaLine<'a>>,
    /// Flags as stored: SEEN, OLD, DELETED, FLAGGED, ANSWERED, DRAFT.
    pub flags: SystemFlags,
    /// The message's keywords (bit i = `keywords[i]`, written in bit order).
    pub keyword_bits: u32,
    /// All declared keywords, to name the bits.
    pub keywords: &'a [String],
    pub uid: u32,
}

/// How long the rendered block must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// UW's rule: pad `X-Keywords` to reach 50 bytes (80 with `X-IMAPbase`).
    Uw,
    /// Exactly this many bytes (the length of the block being replaced in
    /// place); fails if the block does not fit.
    Exactly(usize),
}

/// UW's padding targets (`unix_xstatus`).
const PAD: usize = 50;
const PAD_WITH_BASE: usize = 80;

impl Block<'_> {
    /// The block, each line ending in LF, without the blank line that ends
    /// the header. `None` only for [`Width::Exactly`] when it does not fit.
    pub fn render(&self, width: Width) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(128);
        if let Some(base) = &self.base {
            meta_line(&mut out, b"X-IMAPbase: ", base, false);
        }
        out.extend_from_slice(b"Status: ");
        letters(
            &mut out,
            self.flags,
            &[(SystemFlags::SEEN, b'R'), (SystemFlags::OLD, b'O')],
        );
        out.extend_from_slice(b"\nX-Status: ");
        letters(
            &mut out,
            self.flags,
            &[
                (SystemFlags::DELETED, b'D'),
                (SystemFlags::FLAGGED, b'F'),
                (SystemFlags::ANSWERED, b'A'),
                (SystemFlags::DRAFT, b'T'),
            ],
        );
        out.extend_from_slice(b"\nX-Keywords:");
        for (i, keyword) in self.keywords.iter().enumerate() {
            if i < 32 && self.keyword_bits & (1 << i) != 0 {
                out.push(b' ');
                out.extend_from_slice(keyword.as_bytes());
            }
        }
        let uid_line = format!("\nX-UID: {}\n", self.uid);
        let padding = match width {
            Width::Uw => {
                let target = if self.base.is_some() {
                    PAD_WITH_BASE
                } else {
                    PAD
                };
                target.saturating_sub(out.len())
            }
            Width::Exactly(total) => total.checked_sub(out.len() + uid_line.len())?,
        };
        out.resize(out.len() + padding, b' ');
        out.extend_from_slice(uid_line.as_bytes());
        Some(out)
    }
}

/// `R`/`O` or `D F A T` letters of `flags`, in UW's fixed order.
fn letters(out: &mut Vec<u8>, flags: SystemFlags, table: &[(SystemFlags, u8)]) {
    out.extend(
        table
            .iter()
            .filter(|(flag, _)| flags.contains(*flag))
            .map(|&(_, letter)| letter),
    );
}

/// `<name><validity> <last>[ kw...]\n`; zero-padded to 10 digits in the
/// pseudo-message (`%010lu`), unpadded in `X-IMAPbase`.
fn meta_line(out: &mut Vec<u8>, name: &[u8], meta: &MetaLine<'_>, padded: bool) {
    out.extend_from_slice(name);
    let numbers = if padded {
        format!("{:010} {:010}", meta.uid_validity, meta.last_uid)
    } else {
        format!("{} {}", meta.uid_validity, meta.last_uid)
    };
    out.extend_from_slice(numbers.as_bytes());
    for keyword in meta.keywords {
        out.push(b' ');
        out.extend_from_slice(keyword.as_bytes());
    }
    out.push(b'\n');
}

/// The `X-IMAP:` line of the pseudo-message (what an in-place update of the
/// pseudo-message replaces).
pub fn pseudo_meta_line(meta: &MetaLine<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    meta_line(&mut out, b"X-IMAP: ", meta, true);
    out
}

/// UW's fixed body text of the pseudo-message.
const PSEUDO_TEXT: &str = "This text is part of the internal format of your mail folder, and is not\n\
a real message.  It is created automatically by the mail system software.\n\
If deleted, important folder data will be lost, and it will be re-created\n\
with the data reset to initial values.";

/// The whole pseudo-message (From_ line to separator) UW writes when a
/// rewrite would leave the file empty (mbox-format.md §7.3): `now` is the
/// local time of writing, `host` this host's name.
pub fn pseudo_message(now: DateTime<FixedOffset>, host: &str, meta: &MetaLine<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(700);
    out.extend_from_slice(format!("From MAILER-DAEMON {}\n", ctime(now)).as_bytes());
    out.extend_from_slice(format!("Date: {}\n", fixed_date(now)).as_bytes());
    out.extend_from_slice(
        format!(
            "From: Mail System Internal Data <MAILER-DAEMON@{host}>\n\
             Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n\
             Message-ID: <{}@{host}>\n",
            now.timestamp()
        )
        .as_bytes(),
    );
    meta_line(&mut out, b"X-IMAP: ", meta, true);
    out.extend_from_slice(b"Status: RO\n\n");
    out.extend_from_slice(PSEUDO_TEXT.as_bytes());
    out.extend_from_slice(b"\n\n");
    out
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn month_name(date: &DateTime<FixedOffset>) -> &'static str {
    MONTHS.get(date.month0() as usize).copied().unwrap_or("Jan")
}

/// C's `ctime()` without the newline: `Sun Nov 29 06:15:11 2026` (day
/// space-padded).
pub fn ctime(date: DateTime<FixedOffset>) -> String {
    let weekday = WEEKDAYS
        .get(date.weekday().num_days_from_monday() as usize)
        .copied()
        .unwrap_or("Mon");
    format!(
        "{weekday} {} {:2} {:02}:{:02}:{:02} {}",
        month_name(&date),
        date.day(),
        date.hour(),
        date.minute(),
        date.second(),
        date.year()
    )
}

/// `±hhmm` of a date's offset.
fn numeric_zone(date: &DateTime<FixedOffset>) -> String {
    let minutes = date.offset().local_minus_utc() / 60;
    let sign = if minutes < 0 { '-' } else { '+' };
    format!("{sign}{:02}{:02}", minutes.abs() / 60, minutes.abs() % 60)
}

/// c-client's `rfc822_fixed_date`: `29 Nov 2026 06:15:11 +0000`.
fn fixed_date(date: DateTime<FixedOffset>) -> String {
    format!(
        "{:02} {} {:4} {:02}:{:02}:{:02} {}",
        date.day(),
        month_name(&date),
        date.year(),
        date.hour(),
        date.minute(),
        date.second(),
        numeric_zone(&date)
    )
}

/// The From_ line UW's APPEND writes: `From user@host <ctime> ±hhmm` in the
/// message's own zone (mbox-format.md §2, "what UW APPEND writes").
pub fn append_from_line(user: &str, host: &str, date: DateTime<FixedOffset>) -> Vec<u8> {
    format!(
        "From {user}@{host} {} {}\n",
        ctime(date),
        numeric_zone(&date)
    )
    .into_bytes()
}

/// A client's message as UW stores it (`unix_append_msgs`): CRs removed (NUL
/// kept: see the module doc), `>` before every line that starts with `From `,
/// metadata headers of the client's header renamed `X-Original-…`, and the
/// last line LF-terminated. Returns the text (header + body, no From_ line,
/// no separator).
pub fn append_text(client: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(client.len() + client.len() / 64 + 2);
    let mut in_header = true;
    for raw_line in client.split_inclusive(|&b| b == b'\n') {
        let line: Vec<u8> = raw_line.iter().filter(|&&b| b != b'\r').copied().collect();
        if line.is_empty() {
            continue;
        }
        if line.starts_with(b"From ") {
            out.push(b'>');
        } else if in_header && line == b"\n" {
            in_header = false;
        } else if in_header && is_metadata_field(&line) {
            out.extend_from_slice(b"X-Original-");
        }
        out.extend_from_slice(&line);
    }
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    out
}

/// Whether `line` starts one of the six metadata fields, in any case.
fn is_metadata_field(line: &[u8]) -> bool {
    headers::uw_fields(line)
        .next()
        .is_some_and(|f| f.span.start == 0)
}

/// Inserts `block` into the message `text` where UW keeps it: before the
/// blank line that ends the header, or (for a message that has no blank
/// line) at the very start. Returns the new text.
pub fn with_block(text: &[u8], block: &[u8]) -> Vec<u8> {
    let at = header_insertion_point(text);
    let mut out = Vec::with_capacity(text.len() + block.len());
    out.extend_from_slice(text.get(..at).unwrap_or(&[]));
    out.extend_from_slice(block);
    out.extend_from_slice(text.get(at..).unwrap_or(&[]));
    out
}

/// Where the metadata block goes in `text` (a message without its From_
/// line): the start of the blank line that ends the header, or 0 if the
/// message has none.
pub fn header_insertion_point(text: &[u8]) -> usize {
    let header_length = headers::header_length(text);
    let header = text.get(..header_length).unwrap_or(text);
    if header.ends_with(b"\r\n")
        && (header.len() == 2
            || header
                .get(..header.len() - 2)
                .is_some_and(|h| h.ends_with(b"\n")))
    {
        header_length - 2
    } else if header.ends_with(b"\n")
        && (header.len() == 1
            || header
                .get(..header.len() - 1)
                .is_some_and(|h| h.ends_with(b"\n")))
    {
        header_length - 1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn keywords() -> Vec<String> {
        vec!["Work".into(), "$Forwarded".into()]
    }

    fn flags(list: &[SystemFlags]) -> SystemFlags {
        SystemFlags(list.iter().map(|f| f.0).sum())
    }

    /// mbox-format.md §12, "After, UW imapd": both blocks byte for byte.
    #[test]
    fn uw_blocks_of_the_worked_example() {
        let kw = keywords();
        let first = Block {
            base: Some(MetaLine {
                uid_validity: 1_795_931_746,
                last_uid: 3,
                keywords: &kw,
            }),
            flags: flags(&[SystemFlags::SEEN, SystemFlags::OLD, SystemFlags::FLAGGED]),
            keyword_bits: 0,
            keywords: &kw,
            uid: 1,
        };
        assert_eq!(
            first.render(Width::Uw).unwrap(),
            b"X-IMAPbase: 1795931746 3 Work $Forwarded\nStatus: RO\nX-Status: F\nX-Keywords:     \nX-UID: 1\n"
        );
        let third = Block {
            base: None,
            flags: SystemFlags::OLD,
            keyword_bits: 0b11,
            keywords: &kw,
            uid: 3,
        };
        assert_eq!(
            third.render(Width::Uw).unwrap(),
            b"Status: O\nX-Status: \nX-Keywords: Work $Forwarded  \nX-UID: 3\n"
        );
        // The lab example of §6.2: 32 bytes before the padding, 18 spaces.
        let plain = Block {
            keyword_bits: 0,
            ..third
        };
        let rendered = plain.render(Width::Uw).unwrap();
        assert_eq!(
            rendered,
            [
                &b"Status: O\nX-Status: \nX-Keywords:"[..],
                &[b' '; 18],
                b"\nX-UID: 3\n"
            ]
            .concat()
        );
    }

    #[test]
    fn exact_width_pads_or_refuses() {
        let kw = keywords();
        let block = Block {
            base: None,
            flags: flags(&[SystemFlags::SEEN, SystemFlags::OLD, SystemFlags::DELETED]),
            keyword_bits: 0b01,
            keywords: &kw,
            uid: 12345,
        };
        let uw = block.render(Width::Uw).unwrap();
        let exact = block.render(Width::Exactly(uw.len() + 7)).unwrap();
        assert_eq!(exact.len(), uw.len() + 7);
        assert!(exact.ends_with(b"\nX-UID: 12345\n"));
        let minimal = b"Status: RO\nX-Status: D\nX-Keywords: Work\nX-UID: 12345\n".len();
        assert_eq!(
            block.render(Width::Exactly(minimal)).unwrap().len(),
            minimal
        );
        assert_eq!(block.render(Width::Exactly(minimal - 1)), None);
    }

    #[test]
    fn pseudo_message_matches_uw() {
        // fixtures/mbox/uw-expunged-all.mbox, written by UW imapd 2007f.
        let expected = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/mbox/uw-expunged-all.mbox"
        ))
        .unwrap();
        let now = FixedOffset::east_opt(0)
            .unwrap()
            .timestamp_opt(1_795_932_911, 0)
            .unwrap();
        let meta = MetaLine {
            uid_validity: 1_795_932_911,
            last_uid: 3,
            keywords: &[],
        };
        assert_eq!(
            String::from_utf8(pseudo_message(now, "vm", &meta)).unwrap(),
            String::from_utf8(expected).unwrap()
        );
        let kw = keywords();
        let meta = MetaLine {
            keywords: &kw,
            ..meta
        };
        assert_eq!(
            pseudo_meta_line(&meta),
            b"X-IMAP: 1795932911 0000000003 Work $Forwarded\n"
        );
    }

    #[test]
    fn dates() {
        let zone = FixedOffset::west_opt(7 * 3600).unwrap();
        let date = zone.with_ymd_and_hms(1992, 12, 2, 5, 53, 22).unwrap();
        assert_eq!(
            append_from_line("u", "h", date),
            b"From u@h Wed Dec  2 05:53:22 1992 -0700\n"
        );
        assert_eq!(fixed_date(date), "02 Dec 1992 05:53:22 -0700");
        let half = FixedOffset::east_opt(-(3 * 3600 + 1800)).unwrap();
        let date = half.with_ymd_and_hms(2026, 11, 29, 6, 15, 11).unwrap();
        assert_eq!(ctime(date), "Sun Nov 29 06:15:11 2026");
        assert_eq!(numeric_zone(&date), "-0330");
        // The From_ line we write is one the scanner accepts, with its date.
        let line = append_from_line("user", "host", date);
        let parsed = crate::mailstore::scan::from_line(&line).unwrap();
        assert_eq!(
            crate::mailstore::scan::internal_date(&line, parsed.date, 0),
            Some((date.timestamp(), -210))
        );
    }

    #[test]
    fn append_text_like_uw() {
        let table: &[(&[u8], &[u8])] = &[
            (b"Subject: a\r\n\r\nbody\r\n", b"Subject: a\n\nbody\n"),
            (b"From: x\nFrom y\n\nFrom here\n>From there\n", b"From: x\n>From y\n\n>From here\n>From there\n"),
            (
                b"Status: RO\nx-uid: 7\nX-IMAPbase: 1 2\nX-Keywords: a\nX-Status: F\nX-UIDs: 1\n\nStatus: body\n",
                b"X-Original-Status: RO\nX-Original-x-uid: 7\nX-Original-X-IMAPbase: 1 2\nX-Original-X-Keywords: a\nX-Original-X-Status: F\nX-UIDs: 1\n\nStatus: body\n",
            ),
            (b"A: b\n\nno newline", b"A: b\n\nno newline\n"),
            (b"A: \0\n\nx\0y\n", b"A: \0\n\nx\0y\n"),
            (b"A: b\r\n\r\nbare\rcr\n", b"A: b\n\nbarecr\n"),
        ];
        for &(input, expected) in table {
            assert_eq!(
                String::from_utf8_lossy(&append_text(input)),
                String::from_utf8_lossy(expected)
            );
        }
    }

    #[test]
    fn block_goes_before_the_blank_line() {
        let table: &[(&[u8], usize)] = &[
            (b"A: b\n\nbody\n", 5),
            (b"A: b\r\n\r\nbody\n", 6),
            (b"A: b\nC: d\n", 0),
            (b"\nbody\n", 0),
            (b"A: b\n\n", 5),
        ];
        for &(text, at) in table {
            assert_eq!(
                header_insertion_point(text),
                at,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
        assert_eq!(
            with_block(b"A: b\n\nbody\n", b"X: y\n"),
            b"A: b\nX: y\n\nbody\n"
        );
    }
}
