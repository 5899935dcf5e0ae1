//! Message boundaries in an mbox file: UW's From_ line check and the one-pass scan.
//!
//! The hard part is deciding which lines starting with `From ` are separators
//! (mbox-format.md §2). UW imapd, mutt and Dovecot accept a line only if its
//! *tail* parses as a date, checked backwards from the end of the line because
//! the sender field may contain spaces. We must accept exactly the set UW
//! accepts: accepting more splits messages UW keeps whole, accepting less merges
//! messages UW splits. [`from_line`] is a faithful restatement of UW's `VALID`
//! macro (`unix.h`): only the positions of spaces, colons and the zone sign are
//! checked, never that the digits are digits.
//!
//! The scan ([`Spans`]) looks only at lines that start with `From ` (memchr's
//! `memmem` over `"\nFrom "`), so its cost is one pass over the bytes plus a
//! look at each candidate line. Everything between two valid From_ lines is the
//! message, minus one trailing empty line (the separator, §1). Content-Length is
//! never used for framing (§5). NULs and binary garbage are just bytes.
//!
//! [`internal_date`] interprets the date fields the check located (§9).

use std::ops::Range;

use memchr::{memchr, memmem, memrchr};
use thiserror::Error;

/// Where the date fields of a valid From_ line are, as offsets from its `F`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateLayout {
    /// Offset of the space in front of `hh:mm[:ss]`. The day field is the two
    /// bytes before it, the month the three bytes before the space before that,
    /// the weekday three more to the left (` www mmm dd hh:mm`).
    time: usize,
    /// `hh:mm:ss` rather than `hh:mm`.
    seconds: bool,
    /// Offset of the four-character year.
    year: usize,
    zone: ZoneField,
}

/// The zone part of a From_ line date, as located by the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ZoneField {
    /// No zone: the server's local time (§9).
    Missing,
    /// Three characters (a zone name such as `PST`) at this offset.
    Name(usize),
    /// `±hhmm`, the sign at this offset.
    Numeric(usize),
}

/// A line that passed the From_ check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FromLine {
    /// Length of the line including its LF.
    pub len: usize,
    /// Where its date fields are.
    pub date: DateLayout,
}

/// Checks whether `bytes` starts with a valid From_ line (mbox-format.md §2),
/// i.e. exactly what UW's `VALID` macro accepts.
///
/// `bytes` starts at the `F` and may extend past the line; the line must end
/// in LF (a last line without LF is never a separator).
pub fn from_line(bytes: &[u8]) -> Option<FromLine> {
    // Step 1: "From " (case-sensitive), LF-terminated; a CR before the LF is
    // not part of the line.
    if !bytes.starts_with(b"From ") {
        return None;
    }
    let lf = memchr(b'\n', bytes)?;
    let line = bytes.get(..lf)?;
    let mut end = lf;
    if line.last() == Some(&b'\r') {
        end -= 1;
    }
    // `at(k)` is UW's `x[-k]`: the byte k positions before the end. Out of the
    // line means "no match"; UW would read bytes before the line there, but
    // every such read is preceded by a check on `From ` itself that fails, so
    // the accepted set is the same.
    let at = |end: usize, k: usize| end.checked_sub(k).and_then(|i| line.get(i)).copied();

    // Step 2: a UUCP ` remote from host` suffix, only on lines of 41+ bytes.
    if end >= 41 {
        // The line has a space at offset 4, so this finds one.
        if let Some(space) = memrchr(b' ', line.get(..end)?) {
            let suffix = space.checked_sub(12).and_then(|s| line.get(s..space));
            if suffix == Some(b" remote from".as_slice()) {
                end = space - 12;
            }
        }
    }
    // Step 3: long enough for the shortest date tail.
    if end < 27 {
        return None;
    }
    // Step 4: classify the tail by fixed positions back from the end. UW's
    // `ti` is `time_end`: the distance back to the space after the time.
    let sign = |b: Option<u8>| b == Some(b'+') || b == Some(b'-');
    let (time_end, year, zone) = if at(end, 5) == Some(b' ') {
        if at(end, 8) == Some(b':') {
            // `hh:mm[:ss] yyyy`
            (5, end - 4, ZoneField::Missing)
        } else if at(end, 9) == Some(b' ') {
            // `hh:mm[:ss] ZZZ yyyy`
            (9, end - 4, ZoneField::Name(end - 8))
        } else if at(end, 11) == Some(b' ') && sign(at(end, 10)) {
            // `hh:mm[:ss] ±hhmm yyyy`
            (11, end - 4, ZoneField::Numeric(end - 10))
        } else {
            return None;
        }
    } else if at(end, 4) == Some(b' ') {
        if at(end, 9) != Some(b' ') {
            return None;
        }
        // `hh:mm[:ss] yyyy ZZZ`
        (9, end - 8, ZoneField::Name(end - 3))
    } else if at(end, 6) == Some(b' ') {
        if !(at(end, 11) == Some(b' ') && sign(at(end, 5))) {
            return None;
        }
        // `hh:mm[:ss] yyyy ±hhmm`
        (11, end - 10, ZoneField::Numeric(end - 5))
    } else {
        return None;
    };
    // Step 5: ` www mmm dd hh:mm[:ss]` with spaces at exactly these places.
    if at(end, time_end + 3) != Some(b':') {
        return None;
    }
    let seconds = at(end, time_end + 6) == Some(b':');
    let time_space = time_end + if seconds { 9 } else { 6 };
    let spaces = [time_space, time_space + 3, time_space + 7, time_space + 11];
    if spaces.iter().any(|&k| at(end, k) != Some(b' ')) {
        return None;
    }
    let date = DateLayout {
        time: end - time_space,
        seconds,
        year,
        zone,
    };
    Some(FromLine { len: lf + 1, date })
}

/// The first line of the file is not a From_ line: this is not an mbox.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("no From_ line at offset {offset}")]
pub struct NotMbox {
    /// Offset of the first non-blank byte.
    pub offset: usize,
}

/// One message as found in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSpan {
    /// Offset of the `F` of its From_ line.
    pub from_line: usize,
    /// Header + body as stored: from after the From_ line to before the
    /// separator blank line (or EOF).
    pub text: Range<usize>,
    /// The date fields of its From_ line.
    pub date: DateLayout,
}

impl MessageSpan {
    /// The From_ line, including its line end.
    pub fn from_line_bytes<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        data.get(self.from_line..self.text.start).unwrap_or(&[])
    }
}

/// Every message in `data` (a whole mbox file), in file order.
pub fn scan(data: &[u8]) -> Result<Vec<MessageSpan>, NotMbox> {
    Ok(Spans::new(data)?.collect())
}

/// Iterator over the messages of an mbox, found lazily in one forward pass.
pub struct Spans<'a> {
    data: &'a [u8],
    /// Offset in `data` that `hits` positions are relative to.
    base: usize,
    /// Every `"\nFrom "` after the current From_ line.
    hits: memmem::FindIter<'a, 'static>,
    /// The From_ line of the next message to yield.
    next: Option<(usize, FromLine)>,
}

impl<'a> Spans<'a> {
    /// Skips leading LF, CR, SP and TAB ("broken MTAs", §1); the first other
    /// byte must start a valid From_ line. An empty or blank file has no messages.
    pub fn new(data: &'a [u8]) -> Result<Spans<'a>, NotMbox> {
        let first = data
            .iter()
            .position(|b| !matches!(b, b'\n' | b'\r' | b' ' | b'\t'));
        let Some(start) = first else {
            return Ok(Spans {
                data,
                base: 0,
                hits: memmem::find_iter(&[], b"\nFrom "),
                next: None,
            });
        };
        let line = data
            .get(start..)
            .and_then(from_line)
            .ok_or(NotMbox { offset: start })?;
        // Search from the LF that ends the first From_ line, so that a From_
        // line right after it is found too.
        let base = start + line.len - 1;
        let rest = data.get(base..).unwrap_or(&[]);
        Ok(Spans {
            data,
            base,
            hits: memmem::find_iter(rest, b"\nFrom "),
            next: Some((start, line)),
        })
    }
}

impl Iterator for Spans<'_> {
    type Item = MessageSpan;

    fn next(&mut self) -> Option<MessageSpan> {
        let (start, line) = self.next.take()?;
        let text_start = start + line.len;
        let mut text_end = self.data.len();
        for hit in self.hits.by_ref() {
            let candidate = self.base + hit + 1;
            if let Some(next) = self.data.get(candidate..).and_then(from_line) {
                text_end = candidate;
                self.next = Some((candidate, next));
                break;
            }
        }
        let text = text_start..drop_separator(self.data, text_start, text_end);
        Some(MessageSpan {
            from_line: start,
            text,
            date: line.date,
        })
    }
}

/// The end of a message's text: `end`, moved back over one trailing empty
/// line (`LF` or `CR LF`) if there is one (§1).
pub fn drop_separator(data: &[u8], start: usize, end: usize) -> usize {
    let Some(text) = data.get(start..end) else {
        return end;
    };
    let Some(before_lf) = text.strip_suffix(b"\n") else {
        return end;
    };
    if before_lf.is_empty() || before_lf.ends_with(b"\n") {
        end - 1
    } else if before_lf == b"\r" || before_lf.ends_with(b"\n\r") {
        end - 2
    } else {
        end
    }
}

/// A From_ line date as INTERNALDATE: seconds since the epoch (UTC) and the
/// zone it was written in, in minutes east of UTC (mbox-format.md §9).
///
/// `line` is the From_ line `date` was found in. A missing zone, or a zone name
/// not in UW's table, means the server's local time: `local_offset_minutes` is
/// the offset in effect *now*, as UW does. `None` if the fields do not make a
/// date (the check does not look at digits or names).
pub fn internal_date(
    line: &[u8],
    date: DateLayout,
    local_offset_minutes: i16,
) -> Option<(i64, i16)> {
    let field = |at: usize, len: usize| line.get(at..at + len);
    let month_name = field(date.time.checked_sub(6)?, 3)?;
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(month_name))? as u32
        + 1;
    let day = number(field(date.time.checked_sub(2)?, 2)?.trim_ascii_start())?;
    let hour = number(field(date.time + 1, 2)?)?;
    let minute = number(field(date.time + 4, 2)?)?;
    let second = if date.seconds {
        number(field(date.time + 7, 2)?)?
    } else {
        0
    };
    let year = number(field(date.year, 4)?)?;
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let zone = match date.zone {
        ZoneField::Missing => local_offset_minutes,
        ZoneField::Name(at) => zone_name(field(at, 3)?).unwrap_or(local_offset_minutes),
        ZoneField::Numeric(at) => numeric_zone(field(at, 5)?)?,
    };
    let day = chrono::NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    // A leap second (":60") is counted as the next second.
    let naive = day.and_hms_opt(hour, minute, second.min(59))?;
    let utc = naive.and_utc().timestamp() + i64::from(second == 60) - i64::from(zone) * 60;
    Some((utc, zone))
}

const MONTHS: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// All-digit field as a number.
fn number(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u32, |n, d| {
        n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })
}

/// `±hhmm` in minutes east of UTC.
fn numeric_zone(field: &[u8]) -> Option<i16> {
    let (sign, digits) = field.split_first()?;
    let hours = number(digits.get(..2)?)?;
    let minutes = number(digits.get(2..4)?)?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    let total = i16::try_from(hours * 60 + minutes).ok()?;
    Some(if *sign == b'-' { -total } else { total })
}

/// UW's three-letter zone names (c-client's date parser, with its non-strict
/// extras; mbox-format.md §9), in minutes east of UTC. UTC is added: it is
/// unambiguous and common. Unknown names are local time.
fn zone_name(name: &[u8]) -> Option<i16> {
    const HOUR: i16 = 60;
    const TABLE: [(&[u8], i16); 20] = [
        (b"GMT", 0),
        (b"UTC", 0),
        (b"EST", -5 * HOUR),
        (b"EDT", -4 * HOUR),
        (b"CST", -6 * HOUR),
        (b"CDT", -5 * HOUR),
        (b"MST", -7 * HOUR),
        (b"MDT", -6 * HOUR),
        (b"PST", -8 * HOUR),
        (b"PDT", -7 * HOUR),
        (b"AST", -4 * HOUR),
        (b"ADT", -3 * HOUR),
        (b"YST", -9 * HOUR),
        (b"YDT", -8 * HOUR),
        (b"HST", -10 * HOUR),
        (b"BST", HOUR),
        (b"MET", HOUR),
        (b"EET", 2 * HOUR),
        (b"JST", 9 * HOUR),
        (b"WET", 0),
    ];
    TABLE
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, z)| z)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(line: &str) -> bool {
        from_line(format!("{line}\n").as_bytes()).is_some()
    }

    /// mbox-format.md §2 and §13.1: each tail layout, with and without
    /// `remote from`, and the near misses UW rejects.
    #[test]
    fn from_line_acceptance_table() {
        let table: &[(&str, bool)] = &[
            // ctime / BSD, with and without seconds
            ("From user Wed Dec  2 05:53:22 1992", true),
            ("From user Wed Dec  2 05:53 1992", true),
            ("From user Wed Dec 12 05:53:22 1992", true),
            ("From user Mon Oct 09 18:50:28 2023", true),
            // SysV: zone name before the year
            ("From user Wed Dec  2 05:53 PST 1992", true),
            ("From user Wed Dec  2 05:53:22 PST 1992", true),
            // emacs: numeric zone before the year
            ("From user Wed Dec  2 05:53:22 -0700 1992", true),
            ("From user Wed Dec  2 05:53 +0100 1992", true),
            // zone name after the year
            ("From user Wed Dec  2 05:53:22 1992 PST", true),
            ("From user Wed Dec  2 05:53 1992 PST", true),
            // Solaris / UW APPEND: numeric zone after the year
            ("From user Wed Dec  2 05:53:22 1992 -0700", true),
            ("From user Wed Dec  2 05:53 1992 +0000", true),
            // Postfix: two spaces after the sender; empty and spaced senders
            ("From sender  Sat Nov 28 10:00:00 2026", true),
            ("From  Sat Nov 28 10:00:00 2026", true),
            ("From a b c Sat Nov 28 10:00:00 2026", true),
            ("From MAILER-DAEMON Sun Nov 29 05:55:40 2026", true),
            // UW checks positions only, not names or digits
            ("From user Xxx Yyy zz aa:bb:cc dddd", true),
            // rejected: one-space day, 4-letter zone, one-digit seconds, ...
            ("From user Wed Dec 2 05:53:22 1992", false),
            ("From user Wed Dec  2 05:53:22 CEST 1992", false),
            ("From user Wed Dec  2 05:53:22 1992 CEST", false),
            ("From user Wed Dec  2 05:53:22 CET DST 1992", false),
            ("From user Wed Dec  2 05:53:2 1992", false),
            ("From user Wed Dec  2 05:53:22 92", false),
            ("From user Wed Dec  2 05:53:22 01992", false),
            ("From user Wed Dec  2 05:53:22 1992 0700", false),
            ("From user Wed Dec  2 05:53:22 0700 1992", false),
            ("From user Dec  2 05:53:22 1992", false),
            ("From here is a body line that is not a separator", false),
            (
                "From the appender, a body line that starts with From.",
                false,
            ),
            ("from user Wed Dec  2 05:53:22 1992", false),
            (">From user Wed Dec  2 05:53:22 1992", false),
            ("From user Wed Dec  2 05:53:22 1992 ", false),
            ("From ", false),
        ];
        for &(line, expected) in table {
            assert_eq!(valid(line), expected, "{line:?}");
            // The UUCP suffix is cut before the check: same verdict with it.
            let remote = format!("{line} remote from uunet");
            if remote.len() >= 41 {
                assert_eq!(valid(&remote), expected, "{remote:?}");
            }
        }
    }

    #[test]
    fn remote_from_needs_41_bytes_and_the_exact_words() {
        // Too short for the suffix rule: the tail `from x` is not a date.
        assert!(!valid("From Wed Dec  2 05:53 1992 remote from x"));
        assert!(valid("From u Wed Dec  2 05:53:22 1992 remote from host"));
        assert!(!valid("From u Wed Dec  2 05:53:22 1992 remote  from host"));
        assert!(!valid("From u Wed Dec  2 05:53:22 1992 Remote from host"));
        assert!(!valid(
            "From u Wed Dec  2 05:53:22 1992 remote from two words"
        ));
    }

    #[test]
    fn crlf_line_end_and_missing_lf() {
        let line = b"From user Wed Dec  2 05:53:22 1992\r\nX";
        assert_eq!(from_line(line).map(|f| f.len), Some(36));
        assert_eq!(from_line(b"From user Wed Dec  2 05:53:22 1992"), None);
        // Only one CR is dropped.
        assert_eq!(from_line(b"From user Wed Dec  2 05:53:22 1992\r\r\n"), None);
    }

    fn texts(data: &[u8]) -> Vec<&[u8]> {
        scan(data)
            .unwrap()
            .iter()
            .map(|s| &data[s.text.clone()])
            .collect()
    }

    #[test]
    fn separator_blank_line_is_dropped_once() {
        let data = b"From a Wed Dec  2 05:53:22 1992\nH: 1\n\nbody\n\n\nFrom b Wed Dec  2 05:53:22 1992\nH: 2\n\nx\n";
        assert_eq!(texts(data), [&b"H: 1\n\nbody\n\n"[..], b"H: 2\n\nx\n"]);
        // CRLF separator; no separator at all; empty messages.
        let data = b"From a Wed Dec  2 05:53:22 1992\r\nH: 1\r\n\r\nb\r\n\r\nFrom b Wed Dec  2 05:53:22 1992\nH: 2\nFrom c Wed Dec  2 05:53:22 1992\n\nFrom d Wed Dec  2 05:53:22 1992\n";
        assert_eq!(
            texts(data),
            [&b"H: 1\r\n\r\nb\r\n"[..], b"H: 2\n", b"", b""]
        );
    }

    #[test]
    fn last_message_without_newline() {
        let data = b"From a Wed Dec  2 05:53:22 1992\nH: 1\n\nno newline";
        assert_eq!(texts(data), [&b"H: 1\n\nno newline"[..]]);
    }

    #[test]
    fn body_from_lines() {
        // §13.2: without a date it stays in the body; with a full date it splits.
        let data = b"From a Wed Dec  2 05:53:22 1992\nH: 1\n\nFrom here on\n>From quoted\n\nFrom b Wed Dec  2 05:53:22 1992\n\nFrom x Wed Dec  2 05:53:22 1992\nmore\n";
        assert_eq!(
            texts(data),
            [&b"H: 1\n\nFrom here on\n>From quoted\n"[..], b"", b"more\n"]
        );
        // A candidate that is not at a line start is nothing.
        let data = b"From a Wed Dec  2 05:53:22 1992\nsay From b Wed Dec  2 05:53:22 1992\n";
        assert_eq!(texts(data).len(), 1);
    }

    #[test]
    fn leading_blank_and_garbage() {
        let data = b"\n\r\n \t\nFrom a Wed Dec  2 05:53:22 1992\nH: 1\n";
        let spans = scan(data).unwrap();
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].from_line, 6);
        assert_eq!(scan(b"").unwrap(), []);
        assert_eq!(scan(b" \n\n\t\r\n").unwrap(), []);
        assert_eq!(
            scan(b"\nSubject: hi\n\nFrom a Wed Dec  2 05:53:22 1992\n"),
            Err(NotMbox { offset: 1 })
        );
        assert_eq!(
            scan(b"From a nodate\nFrom a Wed Dec  2 05:53:22 1992\n"),
            Err(NotMbox { offset: 0 })
        );
    }

    #[test]
    fn binary_bytes_are_just_bytes() {
        let data = b"From a Wed Dec  2 05:53:22 1992\n\0\xff\x80\nFrom\0x\n\r\rFrom b Wed Dec  2 05:53:22 1992\n";
        assert_eq!(
            texts(data),
            [&b"\0\xff\x80\nFrom\0x\n\r\rFrom b Wed Dec  2 05:53:22 1992\n"[..]]
        );
    }

    fn date_of(line: &str, local: i16) -> Option<(i64, i16)> {
        let bytes = format!("{line}\n");
        let found = from_line(bytes.as_bytes())?;
        internal_date(bytes.as_bytes(), found.date, local)
    }

    #[test]
    fn internal_dates() {
        // 1992-12-02 05:53:22 UTC
        let t = 723_275_602;
        // (From_ line, local offset, expected INTERNALDATE and zone)
        type Case = (&'static str, i16, Option<(i64, i16)>);
        let table: &[Case] = &[
            ("From u Wed Dec  2 05:53:22 1992", 0, Some((t, 0))),
            ("From u Wed Dec  2 05:53:22 1992", 60, Some((t - 3600, 60))),
            ("From u Wed Dec  2 05:53 1992", 0, Some((t - 22, 0))),
            (
                "From u Wed Dec 02 05:53:22 1992 -0700",
                0,
                Some((t + 7 * 3600, -420)),
            ),
            (
                "From u Wed Dec  2 05:53:22 +0130 1992",
                0,
                Some((t - 5400, 90)),
            ),
            (
                "From u Wed Dec  2 05:53 PST 1992",
                0,
                Some((t - 22 + 8 * 3600, -480)),
            ),
            ("From u Wed Dec  2 05:53:22 1992 gmt", 120, Some((t, 0))),
            // Unknown zone names are local time.
            (
                "From u Wed Dec  2 05:53:22 1992 XYZ",
                120,
                Some((t - 7200, 120)),
            ),
            (
                "From u Wed Dec  2 05:53:59 1992 +0000",
                0,
                Some((t + 37, 0)),
            ),
            // Valid separators whose fields are not a date.
            ("From u Wed Xyz  2 05:53:22 1992", 0, None),
            ("From u Wed Feb 30 05:53:22 1992", 0, None),
            ("From u Wed Dec  2 25:53:22 1992", 0, None),
            ("From u Wed Dec  2 05:53:22 199x", 0, None),
            ("From u Wed Dec  2 05:53:22 1992 +9999", 0, None),
        ];
        for &(line, local, expected) in table {
            assert_eq!(date_of(line, local), expected, "{line:?}");
        }
    }
}
