//! Shared vocabulary: sequence numbers, UIDs, flags and sequence sets.
//!
//! These are the values that cross module boundaries (parser -> command ->
//! mailstore -> response). They are checked when built ("parse, don't
//! validate"), so a `Uid` can never be passed where a `SeqNum` is meant.

use std::fmt;
use std::num::NonZeroU32;

/// A message sequence number (RFC 3501 §2.3.1.2), 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeqNum(pub NonZeroU32);

/// A unique identifier (RFC 3501 §2.3.1.1), 1-based, strictly ascending in a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uid(pub NonZeroU32);

/// UIDVALIDITY (RFC 3501 §2.3.1.1): non-zero, never reused for a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UidValidity(pub NonZeroU32);

macro_rules! number_type {
    ($t:ident) => {
        impl $t {
            /// Builds the value; `None` for zero.
            pub fn new(n: u32) -> Option<Self> {
                NonZeroU32::new(n).map(Self)
            }
            /// The plain number.
            pub fn get(self) -> u32 {
                self.0.get()
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}
number_type!(SeqNum);
number_type!(Uid);
number_type!(UidValidity);

/// Whether numbers in a command are sequence numbers or UIDs (the `UID` prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbering {
    Sequence,
    Uid,
}

/// One end of a range in a sequence set: a number or `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqBound {
    /// An explicit, non-zero number.
    Value(NonZeroU32),
    /// `*`: the largest number in use (RFC 3501 §6.4.8 / §9 `seq-number`).
    Largest,
}

/// One element of a sequence set: `n` or `a:b` (either order, RFC 3501 §9 `seq-range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    pub first: SeqBound,
    pub last: SeqBound,
}

/// `sequence-set` (RFC 3501 §9), or RFC 5182's `$`, the saved search result.
///
/// A set as parsed is never empty (the grammar requires an element), so the
/// empty set stands for `$` until the session replaces it with the saved
/// messages (command/searchres.rs); a saved result that is empty stays
/// empty, and names no message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceSet(pub Vec<SeqRange>);

impl SeqBound {
    fn resolve(self, largest: u32) -> u32 {
        match self {
            SeqBound::Value(n) => n.get(),
            SeqBound::Largest => largest,
        }
    }
}

impl SequenceSet {
    /// `$` (RFC 5182 `seq-last-command`).
    pub fn saved() -> Self {
        SequenceSet(Vec::new())
    }

    /// Whether this is `$` (or the empty result it stood for).
    pub fn is_saved(&self) -> bool {
        self.0.is_empty()
    }

    /// A set holding the single number `n` (`n` must be non-zero to be useful).
    pub fn single(n: NonZeroU32) -> Self {
        SequenceSet(vec![SeqRange {
            first: SeqBound::Value(n),
            last: SeqBound::Value(n),
        }])
    }

    /// The set of `numbers` (ascending; zeros are skipped), one range per run
    /// of consecutive numbers, so that membership tests stay cheap.
    pub fn of_ascending(numbers: impl IntoIterator<Item = u32>) -> Self {
        let mut ranges: Vec<SeqRange> = Vec::new();
        for n in numbers.into_iter().filter_map(NonZeroU32::new) {
            match ranges.last_mut() {
                Some(SeqRange {
                    last: SeqBound::Value(last),
                    ..
                }) if last.get().checked_add(1) == Some(n.get()) => *last = n,
                _ => ranges.push(SeqRange {
                    first: SeqBound::Value(n),
                    last: SeqBound::Value(n),
                }),
            }
        }
        SequenceSet(ranges)
    }

    /// Each range as inclusive `(low, high)` with `*` replaced by `largest` and the two
    /// ends put in order ("2:4" and "4:2" are the same, RFC 3501 §9).
    ///
    /// For UIDs, `largest` is the highest UID in use; a range such as `100:*` whose
    /// `100` is past it then becomes `largest:100` and still matches the last message,
    /// as RFC 3501 §6.4.8 requires. When the mailbox is empty, pass 0: ranges are then
    /// `(0, n)` and match nothing real.
    pub fn ranges(&self, largest: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.0.iter().map(move |r| {
            let a = r.first.resolve(largest);
            let b = r.last.resolve(largest);
            if a <= b { (a, b) } else { (b, a) }
        })
    }

    /// Whether `n` is in the set, given the largest number in use.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        self.ranges(largest).any(|(a, b)| a <= n && n <= b)
    }

    /// The sequence numbers `1..=count` this set names, ascending and without
    /// duplicates. Numbers past `count` are dropped; callers that must reject them
    /// (sequence numbers, RFC 3501 §9: "invalid") check with [`Self::max_value`].
    pub fn sequence_numbers(&self, count: u32) -> Vec<u32> {
        let mut ranges: Vec<(u32, u32)> = self
            .ranges(count)
            .map(|(a, b)| (a.max(1), b.min(count)))
            .filter(|(a, b)| a <= b)
            .collect();
        ranges.sort_unstable();
        let mut out = Vec::new();
        let mut next = 1u32;
        for (a, b) in ranges {
            let start = a.max(next);
            if start > b {
                continue;
            }
            out.extend(start..=b);
            next = b.saturating_add(1);
        }
        out
    }

    /// The largest explicit number in the set (ignoring `*`).
    pub fn max_value(&self) -> Option<u32> {
        self.0
            .iter()
            .flat_map(|r| [r.first, r.last])
            .filter_map(|b| match b {
                SeqBound::Value(n) => Some(n.get()),
                SeqBound::Largest => None,
            })
            .max()
    }
}

impl fmt::Display for SequenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write_bound(f, r.first)?;
            if r.first != r.last {
                f.write_str(":")?;
                write_bound(f, r.last)?;
            }
        }
        Ok(())
    }
}

fn write_bound(f: &mut fmt::Formatter<'_>, b: SeqBound) -> fmt::Result {
    match b {
        SeqBound::Value(n) => write!(f, "{n}"),
        SeqBound::Largest => f.write_str("*"),
    }
}

/// A message flag as clients name it (RFC 3501 §2.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag {
    Seen,
    Answered,
    Flagged,
    Deleted,
    Draft,
    /// `\Recent`: only ever sent by the server; a client may name it in SEARCH.
    Recent,
    /// A keyword (an `atom`), e.g. `$Forwarded` or `Work`. Compared case-insensitively.
    Keyword(String),
    /// Any other `\Name` a client sent (`flag-extension`); stored nowhere.
    Extension(String),
}

impl Flag {
    /// The wire form, e.g. `\Seen` or `$Forwarded`.
    pub fn as_wire(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Flag::Seen => "\\Seen".into(),
            Flag::Answered => "\\Answered".into(),
            Flag::Flagged => "\\Flagged".into(),
            Flag::Deleted => "\\Deleted".into(),
            Flag::Draft => "\\Draft".into(),
            Flag::Recent => "\\Recent".into(),
            Flag::Keyword(k) => k.as_str().into(),
            Flag::Extension(e) => format!("\\{e}").into(),
        }
    }
}

/// The five permanent system flags as a bit set, as the index stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct SystemFlags(pub u8);

impl SystemFlags {
    pub const SEEN: SystemFlags = SystemFlags(1);
    pub const ANSWERED: SystemFlags = SystemFlags(2);
    pub const FLAGGED: SystemFlags = SystemFlags(4);
    pub const DELETED: SystemFlags = SystemFlags(8);
    pub const DRAFT: SystemFlags = SystemFlags(16);
    /// Not a flag clients set: the message is "old" (UW's `O`), i.e. not \Recent.
    pub const OLD: SystemFlags = SystemFlags(32);
    /// Session-only: \Recent in this session (RFC 3501 §2.3.2). Never written to disk.
    pub const RECENT: SystemFlags = SystemFlags(64);

    /// Each client-visible flag with its bit, in UW's FLAGS order.
    pub const ALL: [(SystemFlags, Flag); 5] = [
        (SystemFlags::ANSWERED, Flag::Answered),
        (SystemFlags::FLAGGED, Flag::Flagged),
        (SystemFlags::DELETED, Flag::Deleted),
        (SystemFlags::DRAFT, Flag::Draft),
        (SystemFlags::SEEN, Flag::Seen),
    ];

    pub fn contains(self, other: SystemFlags) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn insert(&mut self, other: SystemFlags) {
        self.0 |= other.0;
    }
    pub fn remove(&mut self, other: SystemFlags) {
        self.0 &= !other.0;
    }
    /// The bit for a system flag, `None` for keywords, `\Recent` and extensions.
    pub fn from_flag(flag: &Flag) -> Option<SystemFlags> {
        Some(match flag {
            Flag::Seen => SystemFlags::SEEN,
            Flag::Answered => SystemFlags::ANSWERED,
            Flag::Flagged => SystemFlags::FLAGGED,
            Flag::Deleted => SystemFlags::DELETED,
            Flag::Draft => SystemFlags::DRAFT,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn of_ascending_merges_runs() {
        let set = super::SequenceSet::of_ascending([0, 1, 2, 3, 7, 9, 10]);
        assert_eq!(set.to_string(), "1:3,7,9:10");
        assert_eq!(set.sequence_numbers(20), [1, 2, 3, 7, 9, 10]);
        assert!(super::SequenceSet::of_ascending([]).0.is_empty());
    }

    use super::*;

    fn set(ranges: &[(u32, u32)]) -> SequenceSet {
        let b = |n: u32| match NonZeroU32::new(n) {
            Some(v) => SeqBound::Value(v),
            None => SeqBound::Largest,
        };
        SequenceSet(
            ranges
                .iter()
                .map(|&(a, c)| SeqRange {
                    first: b(a),
                    last: b(c),
                })
                .collect(),
        )
    }

    #[test]
    fn ranges_in_any_order_and_star() {
        // 0 stands for `*` in this helper.
        assert_eq!(set(&[(4, 2)]).sequence_numbers(10), vec![2, 3, 4]);
        assert_eq!(set(&[(8, 0)]).sequence_numbers(10), vec![8, 9, 10]);
        assert_eq!(set(&[(0, 8)]).sequence_numbers(10), vec![8, 9, 10]);
        assert_eq!(
            set(&[(1, 3), (2, 5), (9, 9)]).sequence_numbers(10),
            vec![1, 2, 3, 4, 5, 9]
        );
        assert_eq!(set(&[(12, 15)]).sequence_numbers(10), Vec::<u32>::new());
    }

    #[test]
    fn uid_range_past_the_end_matches_last() {
        // RFC 3501 §6.4.8: "UID range of 559:*" with largest 500 still includes 500.
        assert!(set(&[(559, 0)]).contains(500, 500));
        assert!(!set(&[(559, 0)]).contains(499, 500));
    }

    #[test]
    fn display_round_trip_form() {
        assert_eq!(set(&[(1, 1), (3, 0), (7, 5)]).to_string(), "1,3:*,7:5");
    }
}
