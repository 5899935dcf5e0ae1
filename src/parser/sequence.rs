//! `sequence-set` (RFC 3501 §9), as FETCH, STORE, COPY, SEARCH and
//! UID EXPUNGE use it.
//!
//! The hard part is bounding it: the grammar is recursive and unbounded, and a
//! client could send `1,1,1,...` for as long as the line limit allows, which the
//! handlers would then expand. We parse it iteratively and refuse more than
//! [`MAX_SEQUENCE_SET_ELEMENTS`] elements. Numbers are `nz-number`s: zero and
//! anything past `u32::MAX` are malformed. RFC 5182's `$` (the saved search
//! result) stands alone: `sequence-set =/ seq-last-command`.

use std::num::NonZeroU32;

use super::core::{PResult, fail, mismatch, nz_number};
use crate::types::{SeqBound, SeqRange, SequenceSet};

/// Most elements (numbers or ranges) one sequence set may hold. Real clients
/// send a few hundred at most (a UID list after a search); 100,000 keeps the
/// parsed set under 2 MB.
pub(crate) const MAX_SEQUENCE_SET_ELEMENTS: usize = 100_000;

/// `sequence-set = (seq-number / seq-range) *("," sequence-set)`
///
/// The set must end at a delimiter (SP, `)`, line end or end of input), so
/// `1:3x` is malformed rather than a set followed by garbage.
pub(crate) fn sequence_set(input: &[u8]) -> PResult<'_, SequenceSet> {
    // RFC 5182 §3: `seq-last-command = "$"`, never inside a list or range.
    if let Some(rest) = input.strip_prefix(b"$") {
        if !matches!(rest.first(), None | Some(b' ' | b')' | b'\r' | b'\n')) {
            return fail("$ stands alone in a sequence set");
        }
        return Ok((rest, SequenceSet::saved()));
    }
    let (mut rest, first) = seq_range(input)?;
    let mut ranges = vec![first];
    while let Some(after_comma) = rest.strip_prefix(b",") {
        if ranges.len() >= MAX_SEQUENCE_SET_ELEMENTS {
            return fail(format!(
                "Sequence set has more than {MAX_SEQUENCE_SET_ELEMENTS} elements"
            ));
        }
        let (tail, range) = seq_range(after_comma)?;
        ranges.push(range);
        rest = tail;
    }
    if !matches!(rest.first(), None | Some(b' ' | b')' | b'\r' | b'\n')) {
        return mismatch();
    }
    Ok((rest, SequenceSet(ranges)))
}

/// `seq-range = seq-number ":" seq-number`, or a single `seq-number`
/// (stored as a range whose two ends are equal).
fn seq_range(input: &[u8]) -> PResult<'_, SeqRange> {
    let (rest, first) = seq_number(input)?;
    let Some(after_colon) = rest.strip_prefix(b":") else {
        return Ok((rest, SeqRange { first, last: first }));
    };
    let (rest, last) = seq_number(after_colon)?;
    Ok((rest, SeqRange { first, last }))
}

/// `seq-number = nz-number / "*"`
fn seq_number(input: &[u8]) -> PResult<'_, SeqBound> {
    if let Some(rest) = input.strip_prefix(b"*") {
        return Ok((rest, SeqBound::Largest));
    }
    let (rest, n): (_, NonZeroU32) = nz_number(input)?;
    Ok((rest, SeqBound::Value(n)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::parser::tests::Rng;

    /// A random set of 1..=8 elements, with `*` and reversed ranges.
    pub(crate) fn random_set(rng: &mut Rng) -> SequenceSet {
        let bound = |rng: &mut Rng| match rng.below(6) {
            0 => SeqBound::Largest,
            1 => SeqBound::Value(NonZeroU32::MAX),
            _ => SeqBound::Value(NonZeroU32::MIN.saturating_add(rng.below(5000))),
        };
        let len = 1 + rng.below(8);
        SequenceSet(
            (0..len)
                .map(|_| {
                    let first = bound(rng);
                    let last = if rng.below(2) == 0 { first } else { bound(rng) };
                    SeqRange { first, last }
                })
                .collect(),
        )
    }

    #[test]
    fn known_answers() {
        let cases: &[(&[u8], &str)] = &[
            (b"1", "1"),
            (b"*", "*"),
            (b"2:4", "2:4"),
            (b"4:2", "4:2"),
            (b"1:*", "1:*"),
            (b"*:3", "*:3"),
            (b"4827313:4828442", "4827313:4828442"),
            (b"1,3:5,7,9:*", "1,3:5,7,9:*"),
            (b"4294967295", "4294967295"),
        ];
        for &(input, rendered) in cases {
            let (rest, set) = sequence_set(input).unwrap_or_else(|e| panic!("{input:?}: {e:?}"));
            assert!(rest.is_empty(), "{input:?}");
            assert_eq!(set.to_string(), rendered);
        }
        assert_eq!(
            sequence_set(b"1:2 FLAGS").map(|(r, _)| r),
            Ok(&b" FLAGS"[..])
        );
        assert_eq!(sequence_set(b"1)").map(|(r, _)| r), Ok(&b")"[..]));
    }

    #[test]
    fn malformed_sets() {
        let cases: &[&[u8]] = &[
            b"",
            b"0",
            b"0:5",
            b"5:0",
            b"01",
            b"1,",
            b",1",
            b"1:",
            b":1",
            b"1::2",
            b"1,,2",
            b"4294967296",
            b"1:3x",
            b"-1",
            b"1.5",
            b"$1",
            b"$:3",
            b"**",
        ];
        for input in cases {
            assert!(sequence_set(input).is_err(), "{input:?} should be rejected");
        }
    }

    #[test]
    fn element_count_is_bounded() {
        let at_limit = vec!["1"; MAX_SEQUENCE_SET_ELEMENTS].join(",");
        let (_, set) = sequence_set(at_limit.as_bytes()).expect("at the limit is fine");
        assert_eq!(set.0.len(), MAX_SEQUENCE_SET_ELEMENTS);

        let over = vec!["1"; MAX_SEQUENCE_SET_ELEMENTS + 1].join(",");
        let Err(nom::Err::Failure(e)) = sequence_set(over.as_bytes()) else {
            panic!("over the limit must fail");
        };
        assert!(e.reason.is_some_and(|r| r.contains("more than 100000")));
    }

    #[test]
    fn round_trip_random_sets() {
        let mut rng = Rng::new(0x5eed_0001);
        for _ in 0..2000 {
            let set = random_set(&mut rng);
            let text = set.to_string();
            let parsed = sequence_set(text.as_bytes()).map(|(rest, s)| (rest.len(), s));
            // A single-number range renders as `n`, parses back as `n:n`: equal.
            assert_eq!(parsed, Ok((0, set)), "{text}");
        }
    }
}
