//! Dates in commands: the SEARCH `date` (RFC 3501 §6.4.4) and the APPEND
//! `date-time` (§6.3.11).
//!
//! The two look alike but differ: a SEARCH date has a 1- or 2-digit day and
//! may be quoted; an APPEND date-time is always quoted, has a fixed-width day
//! (`" 1"` or `"01"`), a time and a numeric zone. Both must name a real
//! calendar day (`30-Feb-2024` is malformed, not clamped), which chrono checks.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};
use nom::bytes::complete::{tag as exact, take_while_m_n};

use super::core::{PResult, mismatch};

/// `date = date-text / DQUOTE date-text DQUOTE`
pub(crate) fn date(input: &[u8]) -> PResult<'_, NaiveDate> {
    let Some(inner) = input.strip_prefix(b"\"") else {
        return date_text(input);
    };
    let (rest, d) = date_text(inner)?;
    let (rest, _) = exact("\"")(rest)?;
    Ok((rest, d))
}

/// `date-text = date-day "-" date-month "-" date-year`
/// `date-day = 1*2DIGIT` ; Day of month
fn date_text(input: &[u8]) -> PResult<'_, NaiveDate> {
    let (rest, day) = digits(1, 2)(input)?;
    let (rest, _) = exact("-")(rest)?;
    let (rest, month) = date_month(rest)?;
    let (rest, _) = exact("-")(rest)?;
    let (rest, year) = digits(4, 4)(rest)?;
    let (rest, _) = end_of_token(rest)?;
    match NaiveDate::from_ymd_opt(year as i32, month, day) {
        Some(d) => Ok((rest, d)),
        None => mismatch(),
    }
}

/// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE`
/// `date-day-fixed = (SP DIGIT) / 2DIGIT` ; Fixed-format version of date-day
/// `time = 2DIGIT ":" 2DIGIT ":" 2DIGIT` ; Hours minutes seconds
/// `zone = ("+" / "-") 4DIGIT` ; Signed four-digit value of hhmm
pub(crate) fn date_time(input: &[u8]) -> PResult<'_, DateTime<FixedOffset>> {
    let (rest, _) = exact("\"")(input)?;
    let (rest, day) = match rest.strip_prefix(b" ") {
        Some(r) => digits(1, 1)(r)?,
        None => digits(2, 2)(rest)?,
    };
    let (rest, _) = exact("-")(rest)?;
    let (rest, month) = date_month(rest)?;
    let (rest, _) = exact("-")(rest)?;
    let (rest, year) = digits(4, 4)(rest)?;
    let (rest, _) = exact(" ")(rest)?;
    let (rest, hour) = digits(2, 2)(rest)?;
    let (rest, _) = exact(":")(rest)?;
    let (rest, minute) = digits(2, 2)(rest)?;
    let (rest, _) = exact(":")(rest)?;
    let (rest, second) = digits(2, 2)(rest)?;
    let (rest, _) = exact(" ")(rest)?;
    let (rest, sign) = match rest {
        [b'+', r @ ..] => (r, 1),
        [b'-', r @ ..] => (r, -1),
        _ => return mismatch(),
    };
    let (rest, zone_hours) = digits(2, 2)(rest)?;
    let (rest, zone_minutes) = digits(2, 2)(rest)?;
    let (rest, _) = exact("\"")(rest)?;

    let Some(date) = NaiveDate::from_ymd_opt(year as i32, month, day) else {
        return mismatch();
    };
    // A leap second (ss = 60) is valid in the ABNF; chrono spells it as 59 s + 1000 ms.
    let time = if second == 60 {
        NaiveTime::from_hms_milli_opt(hour, minute, 59, 1000)
    } else {
        NaiveTime::from_hms_opt(hour, minute, second)
    };
    let Some(time) = time else {
        return mismatch();
    };
    if zone_minutes >= 60 {
        return mismatch();
    }
    // At most 99 * 3600 + 59 * 60 seconds: fits i32; east_opt rejects a day or more.
    let offset_seconds = sign * (zone_hours as i32 * 3600 + zone_minutes as i32 * 60);
    let Some(zone) = FixedOffset::east_opt(offset_seconds) else {
        return mismatch();
    };
    match date.and_time(time).and_local_timezone(zone).single() {
        Some(dt) => Ok((rest, dt)),
        None => mismatch(),
    }
}

/// `date-month = "Jan" / "Feb" / "Mar" / "Apr" / "May" / "Jun" / "Jul" / "Aug" / "Sep" / "Oct" / "Nov" / "Dec"`
///
/// ABNF strings are case-insensitive, so `jan` and `JAN` are accepted too.
fn date_month(input: &[u8]) -> PResult<'_, u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"JAN", b"FEB", b"MAR", b"APR", b"MAY", b"JUN", b"JUL", b"AUG", b"SEP", b"OCT", b"NOV",
        b"DEC",
    ];
    let (Some(name), Some(rest)) = (input.get(..3), input.get(3..)) else {
        return mismatch();
    };
    let upper = name.to_ascii_uppercase();
    match MONTHS.iter().position(|m| m.as_slice() == upper.as_slice()) {
        // position < 12, so + 1 is 1..=12.
        Some(i) => Ok((rest, i as u32 + 1)),
        None => mismatch(),
    }
}

/// `min..=max` ASCII digits as a number (at most 4 digits: no overflow).
fn digits(min: usize, max: usize) -> impl Fn(&[u8]) -> PResult<'_, u32> {
    move |input| {
        let (rest, ds) = take_while_m_n(min, max, |b: u8| b.is_ascii_digit())(input)?;
        let n = ds.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
        Ok((rest, n))
    }
}

/// A SEARCH date ends the token: `1-Feb-19945` is not a date.
fn end_of_token(input: &[u8]) -> PResult<'_, ()> {
    match input.first() {
        Some(b) if b.is_ascii_digit() => mismatch(),
        _ => Ok((input, ())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    #[test]
    fn search_dates() {
        let cases: &[(&[u8], NaiveDate)] = &[
            (b"1-Feb-1994", ymd(1994, 2, 1)),
            (b"01-Feb-1994", ymd(1994, 2, 1)),
            (b"17-jul-1996", ymd(1996, 7, 17)),
            (b"\"31-DEC-2023\"", ymd(2023, 12, 31)),
            (b"29-Feb-2024", ymd(2024, 2, 29)),
        ];
        for &(input, expected) in cases {
            assert_eq!(date(input), Ok((&b""[..], expected)), "{input:?}");
        }
        let bad: &[&[u8]] = &[
            b"",
            b"1-Feb-94",
            b"123-Feb-1994",
            b"1-Fbr-1994",
            b"30-Feb-2024",
            b"29-Feb-2023",
            b"0-Jan-2000",
            b"1 Feb 1994",
            b"\"1-Feb-1994",
            b"1-Feb-19945",
            b"1-Fe",
        ];
        for input in bad {
            assert!(date(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn append_date_times() {
        let dt = |s: &str| DateTime::parse_from_rfc3339(s).expect("valid test date");
        let cases: &[(&[u8], &str)] = &[
            (
                b"\"17-Jul-1996 02:44:25 -0700\"",
                "1996-07-17T02:44:25-07:00",
            ),
            (
                b"\" 7-Jul-1996 02:44:25 +0000\"",
                "1996-07-07T02:44:25+00:00",
            ),
            (
                b"\"07-jul-1996 23:59:59 +0530\"",
                "1996-07-07T23:59:59+05:30",
            ),
        ];
        for &(input, expected) in cases {
            assert_eq!(date_time(input), Ok((&b""[..], dt(expected))), "{input:?}");
        }
        let leap = date_time(b"\"31-Dec-2016 23:59:60 +0000\"").map(|(_, d)| d.to_rfc3339());
        assert_eq!(leap.as_deref(), Ok("2016-12-31T23:59:60+00:00"));

        let bad: &[&[u8]] = &[
            b"17-Jul-1996 02:44:25 -0700",
            b"\"7-Jul-1996 02:44:25 -0700\"",
            b"\"17-Jul-1996 2:44:25 -0700\"",
            b"\"17-Jul-1996 24:00:00 -0700\"",
            b"\"17-Jul-1996 02:60:00 -0700\"",
            b"\"17-Jul-1996 02:44:25 0700\"",
            b"\"17-Jul-1996 02:44:25 -07\"",
            b"\"17-Jul-1996 02:44:25 +0060\"",
            b"\"17-Jul-1996 02:44:25 +2400\"",
            b"\"32-Jul-1996 02:44:25 -0700\"",
            b"\"17-Jul-1996 02:44:25\"",
        ];
        for input in bad {
            assert!(date_time(input).is_err(), "{input:?}");
        }
    }
}
