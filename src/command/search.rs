//! SEARCH and UID SEARCH (RFC 3501 §6.4.4).
//!
//! The criteria are compiled once into a [`Program`]: strings become
//! [`TextNeedle`]s, keyword names become bit positions, header names are fixed.
//! The program then runs over every message.
//!
//! The hard part is cost: a flag test reads a few bytes of the index, a header
//! test assembles and scans the header, a BODY test parses the MIME tree and may
//! decode base64. So the children of every AND are sorted cheapest first and
//! evaluation short-circuits (an OR tries its cheaper side first), and the
//! message text is loaded lazily ([`MessageText`]): `UID SEARCH UNSEEN FROM x
//! SUBJECT y` reads no header of a seen message and never decodes a body.
//!
//! Evaluation needs no [`crate::mailstore::Mailbox`]: [`Program::matches`]
//! takes one message's index entry and text, so it is tested on hand-built
//! entries and bytes.

mod message;

use std::io::Write;

use chrono::{DateTime, NaiveDate};

use super::contexts::Query;
use super::{CommandError, CommandResult, Completion, Selected, SeqNumbers};
use crate::mailstore::MessageEntry;
use crate::mime::decode::TextNeedle;
use crate::parser::ast::{PartialRange, SearchKey, SearchReturn};
use crate::response::{Code, ResponseWriter};
use crate::types::{Numbering, SequenceSet, SystemFlags};

pub use message::MessageText;

/// Deepest nesting of NOT / OR / parentheses evaluated. The parser bounds it
/// too; this keeps evaluation's recursion bounded whatever AST it is given.
const MAX_KEY_DEPTH: usize = 64;

/// The charsets SEARCH accepts (RFC 3501 §6.4.4: US-ASCII must be supported);
/// also the list sent in `[BADCHARSET (...)]`.
const CHARSETS: [&str; 2] = ["US-ASCII", "UTF-8"];

/// How the hits are reported.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    /// `* SEARCH n n n` (RFC 3501 §7.2.5).
    Search,
    /// `* ESEARCH (TAG "t") [UID] MIN n MAX n COUNT n ALL set` (RFC 4731 §3)
    /// for `RETURN (options)`; no options means ALL.
    Esearch {
        tag: &'a str,
        options: &'a [SearchReturn],
    },
}

/// Runs SEARCH: `* SEARCH n...` (or `* ESEARCH`) then the completion. With
/// `RETURN (UPDATE)` the result stays live (RFC 5267 §4.3, contexts.rs).
pub fn search<W: Write>(
    selected: &mut Selected,
    charset: Option<&str>,
    criteria: &SearchKey,
    numbering: Numbering,
    answer: Answer<'_>,
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    let update = answer.update_tag();
    if let Some(tag) = update {
        selected.contexts.check_tag(tag)?;
    }
    let found = matching(selected, charset, criteria)?;
    let hits: Vec<u32> = found.iter().map(|hit| hit.number(numbering)).collect();
    let uids: Vec<u32> = found.iter().map(|hit| hit.uid).collect();
    match answer {
        Answer::Search => write_search(out, &hits)?,
        Answer::Esearch { tag, options } => {
            answer_esearch(selected, out, tag, numbering, options, &hits, &uids)?;
        }
    }
    if let Some(tag) = update {
        let program = Query::Search {
            charset: charset.map(str::to_owned),
            criteria: criteria.clone(),
        };
        let Selected {
            contexts, mailbox, ..
        } = selected;
        contexts.open(tag, numbering, program, uids, mailbox, out)?;
    }
    Ok(Completion::done("SEARCH"))
}

impl Answer<'_> {
    /// The tag of a `RETURN (UPDATE)` search: the context to keep.
    pub fn update_tag(&self) -> Option<&str> {
        match self {
            Answer::Esearch { tag, options } if options.contains(&SearchReturn::Update) => {
                Some(tag)
            }
            _ => None,
        }
    }
}

/// The `RETURN (...)` answer of SEARCH or SORT: SAVE keeps its part of the
/// result as `$` (RFC 5182) and, alone, asks for no ESEARCH response; the
/// other options are answered by `* ESEARCH`. `hits` and `uids` are in the
/// order reported.
pub(super) fn answer_esearch<W: Write>(
    selected: &mut Selected,
    out: &mut ResponseWriter<W>,
    tag: &str,
    numbering: Numbering,
    options: &[SearchReturn],
    hits: &[u32],
    uids: &[u32],
) -> std::io::Result<()> {
    if !options.contains(&SearchReturn::Save) {
        return write_esearch(out, tag, numbering, options, hits);
    }
    selected.saved_result = super::searchres::saved_part(options, uids);
    let rest: Vec<SearchReturn> = options
        .iter()
        .copied()
        .filter(|o| *o != SearchReturn::Save)
        .collect();
    if rest.is_empty() {
        return Ok(());
    }
    write_esearch(out, tag, numbering, &rest, hits)
}

/// One message that matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Its position in the mailbox index.
    pub index: usize,
    /// Its sequence number as the client knows it.
    pub seq: u32,
    pub uid: u32,
}

impl Hit {
    /// The number the client asked for: sequence number or UID.
    pub fn number(&self, numbering: Numbering) -> u32 {
        match numbering {
            Numbering::Sequence => self.seq,
            Numbering::Uid => self.uid,
        }
    }
}

/// The messages that match `criteria`, in mailbox order (SEARCH, and the
/// set SORT and THREAD order).
pub fn matching(
    selected: &Selected,
    charset: Option<&str>,
    criteria: &SearchKey,
) -> Result<Vec<Hit>, CommandError> {
    matching_among(selected, charset, criteria, None)
}

/// [`matching`] over the messages whose UIDs are in `only` (all if `None`):
/// a live result (contexts.rs) tests again just the messages that changed.
pub fn matching_among(
    selected: &Selected,
    charset: Option<&str>,
    criteria: &SearchKey,
    only: Option<&std::collections::HashSet<u32>>,
) -> Result<Vec<Hit>, CommandError> {
    check_charset(charset)?;
    let mailbox = &selected.mailbox;
    let program = Program::compile(criteria, mailbox.keywords())?;
    let entries = mailbox.entries();
    let numbers = SeqNumbers::of(mailbox);
    let scope = Scope {
        count: u32::try_from(numbers.count()).unwrap_or(u32::MAX),
        ..Scope::of(entries)
    };
    let mut hits = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        // The client's sequence number; a message it has not been told of
        // yet (new mail folded in by a checkpoint) is not searched.
        let Some(seq) = numbers.seq(index) else {
            continue;
        };
        if only.is_some_and(|uids| !uids.contains(&entry.uid.get())) {
            continue;
        }
        let text = match mailbox.message(index) {
            Some(view) => MessageText::from_view(view),
            None => MessageText::from_parts(&[], &[]),
        };
        if program.matches(
            &Candidate {
                seq,
                entry,
                text: &text,
            },
            &scope,
        ) {
            hits.push(Hit {
                index,
                seq,
                uid: entry.uid.get(),
            });
        }
    }
    Ok(hits)
}

/// `* ESEARCH (TAG "t") [UID] ...` (RFC 4731 §3.1): MIN, MAX and ALL only
/// when something matched, COUNT always; the data in the order MIN MAX COUNT
/// ALL whatever order the client asked in. `hits` are ascending for SEARCH;
/// for SORT (RFC 5267 §3.2) they are in sort order, MIN and MAX are the first
/// and last sorted, and ALL keeps that order (ranges only for ascending runs).
pub(super) fn write_esearch<W: Write>(
    out: &mut ResponseWriter<W>,
    tag: &str,
    numbering: Numbering,
    options: &[SearchReturn],
    hits: &[u32],
) -> std::io::Result<()> {
    let wants =
        |o: SearchReturn| options.contains(&o) || (options.is_empty() && o == SearchReturn::All);
    out.raw(b"* ESEARCH (TAG ")?;
    out.string(tag.as_bytes())?;
    out.raw(b")")?;
    if numbering == Numbering::Uid {
        out.raw(b" UID")?;
    }
    if let (true, Some(min)) = (wants(SearchReturn::Min), hits.first()) {
        out.raw(b" MIN ")?;
        out.number(u64::from(*min))?;
    }
    if let (true, Some(max)) = (wants(SearchReturn::Max), hits.last()) {
        out.raw(b" MAX ")?;
        out.number(u64::from(*max))?;
    }
    if wants(SearchReturn::Count) {
        out.raw(b" COUNT ")?;
        out.number(hits.len() as u64)?;
    }
    if wants(SearchReturn::All) && !hits.is_empty() {
        out.raw(b" ALL ")?;
        out.raw(super::updates::number_set(hits.iter().copied()).as_bytes())?;
    }
    for option in options {
        if let SearchReturn::Partial(range) = option {
            write_partial(out, *range, hits)?;
        }
    }
    out.end_line()
}

/// `PARTIAL (first:last set)`, or `NIL` for the set when no result lies in
/// the range (RFC 5267 §4.4): the range as asked, in order; the results at
/// those 1-based positions of `hits`, in the order reported.
fn write_partial<W: Write>(
    out: &mut ResponseWriter<W>,
    range: PartialRange,
    hits: &[u32],
) -> std::io::Result<()> {
    out.raw(b" PARTIAL (")?;
    out.number(u64::from(range.first))?;
    out.raw(b":")?;
    out.number(u64::from(range.last))?;
    out.sp()?;
    let part = range.slice(hits);
    if part.is_empty() {
        out.raw(b"NIL")?;
    } else {
        out.raw(super::updates::number_set(part.iter().copied()).as_bytes())?;
    }
    out.raw(b")")
}

/// `* SEARCH n n n` (RFC 3501 §7.2.5), one line even when nothing matched.
fn write_search<W: Write>(out: &mut ResponseWriter<W>, hits: &[u32]) -> std::io::Result<()> {
    out.raw(b"* SEARCH")?;
    for &n in hits {
        out.sp()?;
        out.number(n.into())?;
    }
    out.end_line()
}

/// `CHARSET x`: only US-ASCII and UTF-8 (the parser hands us UTF-8 strings);
/// anything else is `NO [BADCHARSET (US-ASCII UTF-8)]` (RFC 3501 §6.4.4).
fn check_charset(charset: Option<&str>) -> Result<(), CommandError> {
    match charset {
        Some(name) if !CHARSETS.iter().any(|c| c.eq_ignore_ascii_case(name)) => {
            Err(CommandError::no_code(
                Code::BadCharset(CHARSETS.iter().map(|c| c.to_string()).collect()),
                "Unsupported character set",
            ))
        }
        _ => Ok(()),
    }
}

/// What `*` means in this mailbox.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    /// Number of messages: `*` in a sequence set.
    pub count: u32,
    /// Highest UID in use (0 if empty): `*` in a UID set (RFC 3501 §6.4.8).
    pub max_uid: u32,
}

impl Scope {
    pub fn of(entries: &[MessageEntry]) -> Self {
        Scope {
            count: u32::try_from(entries.len()).unwrap_or(u32::MAX),
            max_uid: entries.last().map_or(0, |e| e.uid.get()),
        }
    }
}

/// One message being tested.
pub struct Candidate<'c, 'a> {
    /// Its sequence number (1-based).
    pub seq: u32,
    pub entry: &'c MessageEntry,
    pub text: &'c MessageText<'a>,
}

/// Compiled search criteria.
#[derive(Debug)]
pub struct Program {
    root: Test,
}

impl Program {
    /// Compiles `criteria` against the mailbox's keyword list (for KEYWORD).
    pub fn compile(criteria: &SearchKey, keywords: &[String]) -> Result<Program, CommandError> {
        Ok(Program {
            root: Test::compile(criteria, keywords, 0)?,
        })
    }

    pub fn matches(&self, message: &Candidate<'_, '_>, scope: &Scope) -> bool {
        self.root.matches(message, scope)
    }
}

/// A compiled search key.
#[derive(Debug)]
enum Test {
    All,
    /// A system flag (incl. \Recent) is set (`set`) or not.
    Flag {
        flag: SystemFlags,
        set: bool,
    },
    /// NEW: \Recent and not \Seen.
    New,
    /// KEYWORD / UNKEYWORD; `bit` is `None` for a keyword the mailbox does not
    /// have (no message has it: KEYWORD matches nothing, UNKEYWORD everything).
    Keyword {
        bit: Option<u32>,
        set: bool,
    },
    Larger(u32),
    /// WITHIN: INTERNALDATE (UTC seconds) at or before this instant (OLDER),
    /// or after it (YOUNGER, `older: false`).
    Age {
        cutoff: i64,
        older: bool,
    },
    Smaller(u32),
    /// BEFORE / ON / SINCE on INTERNALDATE.
    Internal(DateTest, NaiveDate),
    Uid(SequenceSet),
    Seq(SequenceSet),
    /// SENTBEFORE / SENTON / SENTSINCE on the Date: header.
    Sent(DateTest, NaiveDate),
    Header {
        name: String,
        needle: TextNeedle,
    },
    /// FROM / TO / CC / BCC: the field's text, or any address in it in the
    /// forms the envelope gives (`mailbox@host` with comments and quoting
    /// gone, the decoded display name, a group's name).
    Address {
        name: String,
        needle: TextNeedle,
    },
    Body(TextNeedle),
    Text(TextNeedle),
    Not(Box<Test>),
    Or(Box<Test>, Box<Test>),
    /// Sorted cheapest first.
    And(Vec<Test>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateTest {
    /// Strictly earlier than the date.
    Before,
    On,
    /// On or after the date.
    Since,
}

/// What evaluating a test costs, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cost {
    /// Index entry only.
    Index,
    /// The visible header.
    Header,
    /// The MIME tree and decoded bodies.
    Body,
}

impl Test {
    fn compile(key: &SearchKey, keywords: &[String], depth: usize) -> Result<Test, CommandError> {
        if depth > MAX_KEY_DEPTH {
            return Err(CommandError::bad("Search criteria nested too deeply"));
        }
        let flag = |flag, set| Test::Flag { flag, set };
        let header = |name: &str, needle: &str| Test::Header {
            name: name.to_owned(),
            needle: TextNeedle::new(needle),
        };
        let address = |name: &str, needle: &str| Test::Address {
            name: name.to_owned(),
            needle: TextNeedle::new(needle),
        };
        Ok(match key {
            SearchKey::All => Test::All,
            SearchKey::Answered => flag(SystemFlags::ANSWERED, true),
            SearchKey::Deleted => flag(SystemFlags::DELETED, true),
            SearchKey::Draft => flag(SystemFlags::DRAFT, true),
            SearchKey::Flagged => flag(SystemFlags::FLAGGED, true),
            SearchKey::Recent => flag(SystemFlags::RECENT, true),
            SearchKey::Seen => flag(SystemFlags::SEEN, true),
            SearchKey::Unanswered => flag(SystemFlags::ANSWERED, false),
            SearchKey::Undeleted => flag(SystemFlags::DELETED, false),
            SearchKey::Undraft => flag(SystemFlags::DRAFT, false),
            SearchKey::Unflagged => flag(SystemFlags::FLAGGED, false),
            SearchKey::Unseen => flag(SystemFlags::SEEN, false),
            // RFC 3501: OLD = NOT RECENT; NEW = RECENT UNSEEN.
            SearchKey::Old => flag(SystemFlags::RECENT, false),
            SearchKey::New => Test::New,
            SearchKey::Keyword(name) => Test::Keyword {
                bit: keyword_bit(keywords, name),
                set: true,
            },
            SearchKey::Unkeyword(name) => Test::Keyword {
                bit: keyword_bit(keywords, name),
                set: false,
            },
            SearchKey::Larger(n) => Test::Larger(*n),
            SearchKey::Older(n) => Test::Age {
                cutoff: chrono::Utc::now().timestamp() - i64::from(*n),
                older: true,
            },
            SearchKey::Younger(n) => Test::Age {
                cutoff: chrono::Utc::now().timestamp() - i64::from(*n),
                older: false,
            },
            SearchKey::Smaller(n) => Test::Smaller(*n),
            SearchKey::Before(d) => Test::Internal(DateTest::Before, *d),
            SearchKey::On(d) => Test::Internal(DateTest::On, *d),
            SearchKey::Since(d) => Test::Internal(DateTest::Since, *d),
            SearchKey::SentBefore(d) => Test::Sent(DateTest::Before, *d),
            SearchKey::SentOn(d) => Test::Sent(DateTest::On, *d),
            SearchKey::SentSince(d) => Test::Sent(DateTest::Since, *d),
            SearchKey::Uid(set) => Test::Uid(set.clone()),
            SearchKey::SequenceSet(set) => Test::Seq(set.clone()),
            SearchKey::Header(name, value) => header(name.trim(), value),
            SearchKey::Bcc(s) => address("Bcc", s),
            SearchKey::Cc(s) => address("Cc", s),
            SearchKey::From(s) => address("From", s),
            SearchKey::Subject(s) => header("Subject", s),
            SearchKey::To(s) => address("To", s),
            SearchKey::Body(s) => Test::Body(TextNeedle::new(s)),
            SearchKey::Text(s) => Test::Text(TextNeedle::new(s)),
            SearchKey::Not(inner) => {
                Test::Not(Box::new(Test::compile(inner, keywords, depth + 1)?))
            }
            SearchKey::Or(a, b) => {
                let a = Test::compile(a, keywords, depth + 1)?;
                let b = Test::compile(b, keywords, depth + 1)?;
                // OR is commutative: try the cheaper side first.
                if b.cost() < a.cost() {
                    Test::Or(Box::new(b), Box::new(a))
                } else {
                    Test::Or(Box::new(a), Box::new(b))
                }
            }
            SearchKey::And(keys) => {
                let mut tests = Vec::with_capacity(keys.len());
                for key in keys {
                    match Test::compile(key, keywords, depth + 1)? {
                        Test::And(inner) => tests.extend(inner),
                        test => tests.push(test),
                    }
                }
                // Stable: equal-cost keys keep the client's order.
                tests.sort_by_key(Test::cost);
                match tests.len() {
                    0 => Test::All,
                    _ => Test::And(tests),
                }
            }
        })
    }

    fn cost(&self) -> Cost {
        match self {
            Test::All
            | Test::Flag { .. }
            | Test::New
            | Test::Keyword { .. }
            | Test::Larger(_)
            | Test::Age { .. }
            | Test::Smaller(_)
            | Test::Internal(..)
            | Test::Uid(_)
            | Test::Seq(_) => Cost::Index,
            Test::Sent(..) | Test::Header { .. } | Test::Address { .. } => Cost::Header,
            Test::Body(_) | Test::Text(_) => Cost::Body,
            Test::Not(inner) => inner.cost(),
            Test::Or(a, b) => a.cost().max(b.cost()),
            Test::And(tests) => tests.iter().map(Test::cost).max().unwrap_or(Cost::Index),
        }
    }

    fn matches(&self, m: &Candidate<'_, '_>, scope: &Scope) -> bool {
        let flags = m.entry.flags;
        match self {
            Test::All => true,
            Test::Flag { flag, set } => flags.contains(*flag) == *set,
            Test::New => flags.contains(SystemFlags::RECENT) && !flags.contains(SystemFlags::SEEN),
            Test::Keyword { bit: None, set } => !*set,
            Test::Keyword {
                bit: Some(bit),
                set,
            } => {
                let has = 1u32
                    .checked_shl(*bit)
                    .is_some_and(|mask| m.entry.keywords & mask != 0);
                has == *set
            }
            // RFC 3501: LARGER/SMALLER compare RFC822.SIZE strictly.
            Test::Larger(n) => m.entry.rfc822_size > *n,
            Test::Age { cutoff, older } => (m.entry.internal_date <= *cutoff) == *older,
            Test::Smaller(n) => m.entry.rfc822_size < *n,
            Test::Internal(test, date) => {
                internal_day(m.entry).is_some_and(|d| test.holds(d, *date))
            }
            Test::Sent(test, date) => {
                sent_day(m.text.first_field("Date"), m.entry).is_some_and(|d| test.holds(d, *date))
            }
            Test::Uid(set) => set.contains(m.entry.uid.get(), scope.max_uid),
            Test::Seq(set) => set.contains(m.seq, scope.count),
            Test::Header { name, needle } => m.text.header_matches(name, needle),
            Test::Address { name, needle } => m.text.address_matches(name, needle),
            Test::Body(needle) => m.text.body_matches(needle),
            Test::Text(needle) => m.text.text_matches(needle),
            Test::Not(inner) => !inner.matches(m, scope),
            Test::Or(a, b) => a.matches(m, scope) || b.matches(m, scope),
            Test::And(tests) => tests.iter().all(|t| t.matches(m, scope)),
        }
    }
}

impl DateTest {
    fn holds(self, day: NaiveDate, date: NaiveDate) -> bool {
        match self {
            DateTest::Before => day < date,
            DateTest::On => day == date,
            DateTest::Since => day >= date,
        }
    }
}

/// The bit of keyword `name` (case-insensitive, RFC 3501 §2.3.2) in
/// `MessageEntry::keywords`; `None` if the mailbox has no such keyword or it
/// lies past the 32 bits an entry holds.
fn keyword_bit(keywords: &[String], name: &str) -> Option<u32> {
    let index = keywords.iter().position(|k| k.eq_ignore_ascii_case(name))?;
    u32::try_from(index).ok().filter(|&i| i < u32::BITS)
}

/// INTERNALDATE's calendar date in the zone it was recorded in (RFC 3501
/// §6.4.4 "disregarding time and timezone": the date as the From_ line shows it).
fn internal_day(entry: &MessageEntry) -> Option<NaiveDate> {
    let local = entry
        .internal_date
        .checked_add(i64::from(entry.zone_minutes) * 60)?;
    DateTime::from_timestamp(local, 0).map(|t| t.date_naive())
}

/// The date SENT* keys compare: the Date: header's. When there is no Date:
/// header or it cannot be read, INTERNALDATE's date is used instead, as Dovecot
/// does (UW would treat the message as dated 0 and never match SENTSINCE).
fn sent_day(date_field: Option<&[u8]>, entry: &MessageEntry) -> Option<NaiveDate> {
    date_field
        .and_then(crate::mime::date::header_date)
        .or_else(|| internal_day(entry))
}

#[cfg(test)]
mod tests;
