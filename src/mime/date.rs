//! Date: header values, read leniently: the calendar date for SENTBEFORE /
//! SENTON / SENTSINCE, and the instant for SORT DATE and threading.
//!
//! RFC 3501 §6.4.4 compares "the Date: header (disregarding time and
//! timezone)", so there only day, month and year matter, as written by the
//! sender. RFC 5256 §2.2's sent date is the full date-time in UTC: a missing
//! time counts as midnight, a missing or unknown zone as UTC (§2.2 says an
//! invalid zone is treated as UTC).
//! The hard part is that real Date headers are often not RFC 5322 §3.3
//! syntax: missing weekday, asctime order (`Mon Jan  1 10:00:00 2024`), two-digit
//! years, comments, dashes (`1-Jan-2024`). The parser looks for a month name and
//! takes the day and year around it; anything it cannot read gives `None`, and
//! the caller falls back to INTERNALDATE.

use chrono::NaiveDate;

use chrono::{NaiveTime, TimeZone, Utc};

use crate::mime::decode;

const MONTHS: [&[u8; 3]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

/// The date a raw Date: header value names, or `None` if it is unreadable.
pub fn header_date(raw: &[u8]) -> Option<NaiveDate> {
    parse(raw).map(|p| p.date)
}

/// The instant a raw Date: header value names, in seconds since the epoch
/// (UTC), or `None` if its date is unreadable (RFC 5256 §2.2: the caller
/// then uses INTERNALDATE).
pub fn header_instant(raw: &[u8]) -> Option<i64> {
    let p = parse(raw)?;
    let local = p.date.and_time(p.time.unwrap_or(NaiveTime::MIN));
    let utc = Utc.from_utc_datetime(&local).timestamp();
    Some(utc - i64::from(p.zone_minutes.unwrap_or(0)) * 60)
}

/// What a Date: value says, each part as written.
struct Parsed {
    date: NaiveDate,
    time: Option<NaiveTime>,
    /// Minutes east of UTC.
    zone_minutes: Option<i32>,
}

fn parse(raw: &[u8]) -> Option<Parsed> {
    let value = decode::unfold(raw);
    let without_comments = strip_comments(&value);
    // Dashes separate `1-Jan-2024`, but a `-hhmm` zone keeps its sign.
    let tokens: Vec<&[u8]> = without_comments
        .split(|&b| matches!(b, b' ' | b'\t' | b','))
        .flat_map(|word| {
            let signed_zone = word.len() == 5 && word.first() == Some(&b'-');
            word.split(move |&b| b == b'-' && !signed_zone)
        })
        .filter(|t| !t.is_empty())
        .collect();
    let (at, month) = tokens
        .iter()
        .enumerate()
        .find_map(|(i, t)| Some((i, month_number(t)?)))?;
    let before = at
        .checked_sub(1)
        .and_then(|i| tokens.get(i))
        .copied()
        .and_then(day_number);
    let (day, rest) = match before {
        // RFC 5322: `day month year`.
        Some(day) => (day, tokens.get(at + 1..)?),
        // asctime: `month day time year`.
        None => (day_number(tokens.get(at + 1)?)?, tokens.get(at + 2..)?),
    };
    let year = rest
        .iter()
        .copied()
        .find(|t| is_digits(t, 2..=4))
        .and_then(year_number)?;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    // The time and the zone follow the month, in either order of the two
    // layouts; the zone is whatever comes right after the time.
    let after = tokens.get(at + 1..).unwrap_or_default();
    let time_at = after.iter().position(|t| time_of_day(t).is_some());
    let time = time_at.and_then(|i| time_of_day(after.get(i)?));
    let zone_minutes = time_at
        .and_then(|i| after.get(i + 1..))
        .and_then(|rest| rest.iter().find_map(|t| zone(t)));
    Some(Parsed {
        date,
        time,
        zone_minutes,
    })
}

/// `hh:mm[:ss]` (RFC 5322 §3.3 time-of-day); a leap second reads as :59.
fn time_of_day(token: &[u8]) -> Option<NaiveTime> {
    let mut parts = token.split(|&b| b == b':');
    let mut field = |max: u32| {
        parts
            .next()
            .filter(|p| is_digits(p, 1..=2))
            .and_then(number)
            .filter(|n| *n <= max)
    };
    let hour = field(23)?;
    let minute = field(59)?;
    let second = match parts.next() {
        None => 0,
        Some(p) if is_digits(p, 1..=2) => number(p)?.min(59),
        Some(_) => return None,
    };
    if parts.next().is_some() {
        return None;
    }
    NaiveTime::from_hms_opt(hour, minute, second)
}

/// A zone: `+hhmm` / `-hhmm`, or an RFC 5322 §4.3 obsolete name. Military
/// one-letter zones were used inconsistently, and RFC 5322 says to read them
/// as `-0000` (unknown), so they count as UTC.
fn zone(token: &[u8]) -> Option<i32> {
    if let [sign @ (b'+' | b'-'), digits @ ..] = token {
        if !is_digits(digits, 4..=4) {
            return None;
        }
        let n = i32::try_from(number(digits)?).ok()?;
        let minutes = (n / 100) * 60 + n % 100;
        return Some(if *sign == b'-' { -minutes } else { minutes });
    }
    let hours = match token.to_ascii_uppercase().as_slice() {
        b"UT" | b"UTC" | b"GMT" | b"Z" => 0,
        b"EDT" => -4,
        b"EST" | b"CDT" => -5,
        b"CST" | b"MDT" => -6,
        b"MST" | b"PDT" => -7,
        b"PST" => -8,
        [letter] if letter.is_ascii_alphabetic() => 0,
        _ => return None,
    };
    Some(hours * 60)
}

/// Removes `( ... )` comments, nested (RFC 5322 §3.2.2); the result is only
/// tokenised, so escapes need no care beyond not ending a comment.
fn strip_comments(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut depth = 0usize;
    let mut escaped = false;
    for &b in value {
        if depth > 0 {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'(' => depth += 1,
                b')' => depth -= 1,
                _ => {}
            }
            continue;
        }
        if b == b'(' {
            depth = 1;
            out.push(b' ');
        } else {
            out.push(b);
        }
    }
    out
}

/// `Jan`, `january`, `JAN.`: the first three letters name the month.
fn month_number(token: &[u8]) -> Option<u32> {
    let token = token.strip_suffix(b".").unwrap_or(token);
    if token.len() < 3 || !token.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let head = token.get(..3)?.to_ascii_lowercase();
    let index = MONTHS.iter().position(|m| m[..] == head[..])?;
    u32::try_from(index).ok().map(|i| i + 1)
}

fn day_number(token: &[u8]) -> Option<u32> {
    is_digits(token, 1..=2)
        .then(|| number(token))
        .flatten()
        .filter(|d| (1..=31).contains(d))
}

/// RFC 5322 §4.3: two-digit years below 50 are 20xx, others 19xx; three-digit
/// years are offsets from 1900.
fn year_number(token: &[u8]) -> Option<i32> {
    let n = i32::try_from(number(token)?).ok()?;
    Some(match token.len() {
        2 if n < 50 => 2000 + n,
        2 | 3 => 1900 + n,
        _ => n,
    })
}

fn is_digits(token: &[u8], lengths: std::ops::RangeInclusive<usize>) -> bool {
    lengths.contains(&token.len()) && token.iter().all(u8::is_ascii_digit)
}

fn number(token: &[u8]) -> Option<u32> {
    std::str::from_utf8(token).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        let cases: &[(&str, Option<NaiveDate>)] = &[
            ("Fri, 21 Nov 1997 09:55:06 -0600", d(1997, 11, 21)),
            (" 21 Nov 1997 09:55:06 GMT", d(1997, 11, 21)),
            ("Thu,\n 13 Feb 1969 23:32:54 -0330", d(1969, 2, 13)),
            // The date as written, whatever the zone says.
            ("Mon, 1 Jan 2024 23:59:59 -1200", d(2024, 1, 1)),
            ("Tue, 1 Jul 2003 10:52:37 +0200 (CEST)", d(2003, 7, 1)),
            (
                "(comment (nested) 1 Feb 2000) 2 Mar 2001 10:00",
                d(2001, 3, 2),
            ),
            ("Mon Jan  1 10:00:00 2024", d(2024, 1, 1)),
            ("Wed, 02-Oct-02 08:00:00 EST", d(2002, 10, 2)),
            ("3 December 99 12:00", d(1999, 12, 3)),
            ("3 dec 103", d(2003, 12, 3)),
            ("31 Feb 2024", None),
            ("garbage", None),
            ("", None),
            ("Mon, 99 Jan 2024", None),
            ("1 Jan", None),
        ];
        for (raw, want) in cases {
            assert_eq!(header_date(raw.as_bytes()), *want, "{raw:?}");
        }
    }

    #[test]
    fn instants() {
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.timestamp())
                .ok()
        };
        let cases: &[(&str, Option<i64>)] = &[
            (
                "Fri, 22 Feb 2008 02:00:00 +0200",
                at("2008-02-22T00:00:00Z"),
            ),
            (
                "Fri, 22 Feb 2008 00:00:00 +0200",
                at("2008-02-21T22:00:00Z"),
            ),
            (
                "Thu,\n 13 Feb 1969 23:32:54 -0330",
                at("1969-02-14T03:02:54Z"),
            ),
            ("21 Nov 1997 09:55 GMT", at("1997-11-21T09:55:00Z")),
            ("21 Nov 1997 09:55:06 EST", at("1997-11-21T14:55:06Z")),
            (
                "Tue, 1 Jul 2003 10:52:37 +0200 (CEST)",
                at("2003-07-01T08:52:37Z"),
            ),
            // asctime order: the zone (if any) after the time.
            ("Mon Jan  1 10:00:00 2024", at("2024-01-01T10:00:00Z")),
            // No time: midnight. Unknown zone: UTC.
            ("1 Jan 2024", at("2024-01-01T00:00:00Z")),
            ("1 Jan 2024 12:00 XYZ", at("2024-01-01T12:00:00Z")),
            ("1 Jan 2024 25:00 +0000", at("2024-01-01T00:00:00Z")),
            ("1 Jan 2024 23:59:60 +0000", at("2024-01-01T23:59:59Z")),
            ("garbage", None),
        ];
        for (raw, want) in cases {
            assert_eq!(header_instant(raw.as_bytes()), *want, "{raw:?}");
        }
    }
}
