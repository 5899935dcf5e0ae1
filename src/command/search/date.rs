//! The calendar date of a Date: header, for SENTBEFORE / SENTON / SENTSINCE.
//!
//! RFC 3501 §6.4.4 compares "the Date: header (disregarding time and
//! timezone)", so only day, month and year matter, as written by the sender.
//! The hard part is that real Date headers are often not RFC 5322 §3.3
//! syntax: missing weekday, asctime order (`Mon Jan  1 10:00:00 2024`), two-digit
//! years, comments, dashes (`1-Jan-2024`). The parser looks for a month name and
//! takes the day and year around it; anything it cannot read gives `None`, and
//! the caller falls back to INTERNALDATE.

use chrono::NaiveDate;

use crate::mime::decode;

const MONTHS: [&[u8; 3]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

/// The date a raw Date: header value names, or `None` if it is unreadable.
pub fn header_date(raw: &[u8]) -> Option<NaiveDate> {
    let value = decode::unfold(raw);
    let without_comments = strip_comments(&value);
    let tokens: Vec<&[u8]> = without_comments
        .split(|&b| matches!(b, b' ' | b'\t' | b',' | b'-'))
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
    NaiveDate::from_ymd_opt(year, month, day)
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
}
