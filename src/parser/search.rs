//! SEARCH arguments (RFC 3501 §6.4.4): the optional CHARSET and the
//! search-key tree.
//!
//! Two things are hard here.
//!
//! **Recursion is client-controlled.** `NOT`, `OR` and parentheses nest
//! without limit in the ABNF; `SEARCH ((((...` ten thousand deep would
//! overflow the stack of a naive recursive-descent parser. Every nested key
//! costs one level of `depth`, and past [`MAX_SEARCH_DEPTH`] the command is
//! rejected before the next recursive call.
//!
//! **Strings are in the declared charset.** The AST carries search strings as
//! `String`, so they are decoded here: without CHARSET (or with US-ASCII /
//! UTF-8) they must be UTF-8 (a superset of the US-ASCII default), otherwise
//! the command is BAD; a charset `encoding_rs` knows (ISO-8859-x,
//! windows-125x, ...) is decoded with it. For a charset it does not know the
//! bytes are kept as lossy UTF-8 only so the command still parses: the SEARCH
//! handler must answer `NO [BADCHARSET]` for it (RFC 3501 §6.4.4), and it can
//! tell by the same test, `encoding_rs::Encoding::for_label`.

use std::borrow::Cow;

use encoding_rs::Encoding;

use super::ast::{
    CommandBody, PartialRange, SearchKey, SearchReturn, SortCriterion, SortKey, ThreadAlgorithm,
};
use super::core::{
    PResult, SyntaxError, arg, astring, atom, commit, fail, mismatch, number, nz_number, printable,
    utf8,
};
use super::datetime::date;
use super::sequence::sequence_set;
use crate::types::Numbering;

/// How deep search keys may nest (`NOT`, `OR`, parentheses; the top level is 1).
/// Real clients nest a handful of levels; 64 keeps recursion far from the
/// stack limit.
pub(crate) const MAX_SEARCH_DEPTH: usize = 64;

/// `search = "SEARCH" [SP "CHARSET" SP astring] 1*(SP search-key)`
///
/// Several top-level keys become [`SearchKey::And`]; a single key is returned
/// as itself.
pub(crate) fn search(input: &[u8], numbering: Numbering) -> PResult<'_, CommandBody> {
    let (input, ret) = search_return_opts(input)?;
    let (input, charset) = charset(input)?;
    let (input, criteria) = search_keys(input, charset.as_deref())?;
    Ok((
        input,
        CommandBody::Search {
            charset,
            criteria,
            numbering,
            ret,
        },
    ))
}

/// `sort = ["UID" SP] "SORT" [search-return-opts] SP sort-criteria SP
/// search-criteria` (RFC 5256 §4 with RFC 5267 §3's `RETURN`), where
/// `search-criteria = charset 1*(SP search-key)`: the charset is required.
pub(crate) fn sort(input: &[u8], numbering: Numbering) -> PResult<'_, CommandBody> {
    let (input, ret) = search_return_opts(input)?;
    let (input, criteria) = arg(input, "sort criteria", sort_criteria)?;
    let (input, charset) = arg(input, "charset", search_charset)?;
    let (input, search) = search_keys(input, Some(&charset))?;
    Ok((
        input,
        CommandBody::Sort {
            criteria,
            charset,
            search,
            numbering,
            ret,
        },
    ))
}

/// `thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria`
/// (RFC 5256 §4).
pub(crate) fn thread(input: &[u8], numbering: Numbering) -> PResult<'_, CommandBody> {
    let (input, algorithm) = arg(input, "threading algorithm", thread_alg)?;
    let (input, charset) = arg(input, "charset", search_charset)?;
    let (input, search) = search_keys(input, Some(&charset))?;
    Ok((
        input,
        CommandBody::Thread {
            algorithm,
            charset,
            search,
            numbering,
        },
    ))
}

/// `sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"`,
/// `sort-criterion = ["REVERSE" SP] sort-key` (RFC 5256 §4).
fn sort_criteria(input: &[u8]) -> PResult<'_, Vec<SortCriterion>> {
    let Some(mut rest) = input.strip_prefix(b"(") else {
        return mismatch();
    };
    let mut criteria = Vec::new();
    loop {
        if !criteria.is_empty() {
            if let Some(tail) = rest.strip_prefix(b")") {
                return Ok((tail, criteria));
            }
            rest = match rest.strip_prefix(b" ") {
                Some(tail) => tail,
                None => return fail("Invalid sort criteria"),
            };
        }
        let (tail, word) = atom(rest).or_else(|_| fail("Invalid sort criteria"))?;
        let (tail, reverse, word) = if word.eq_ignore_ascii_case(b"REVERSE") {
            let Some(after) = tail.strip_prefix(b" ") else {
                return fail("Missing sort key after REVERSE");
            };
            let (after, key) = atom(after).or_else(|_| fail("Missing sort key after REVERSE"))?;
            (after, true, key)
        } else {
            (tail, false, word)
        };
        let Some(key) = sort_key(word) else {
            return fail(format!("Unknown sort key {}", printable(word)));
        };
        criteria.push(SortCriterion { reverse, key });
        rest = tail;
    }
}

/// `sort-key = "ARRIVAL" / "CC" / "DATE" / "FROM" / "SIZE" / "SUBJECT" /
/// "TO"` (RFC 5256 §4), `/ "DISPLAYFROM" / "DISPLAYTO"` (RFC 5957 §3.1).
fn sort_key(word: &[u8]) -> Option<SortKey> {
    Some(match word.to_ascii_uppercase().as_slice() {
        b"ARRIVAL" => SortKey::Arrival,
        b"CC" => SortKey::Cc,
        b"DATE" => SortKey::Date,
        b"FROM" => SortKey::From,
        b"SIZE" => SortKey::Size,
        b"SUBJECT" => SortKey::Subject,
        b"TO" => SortKey::To,
        b"DISPLAYFROM" => SortKey::DisplayFrom,
        b"DISPLAYTO" => SortKey::DisplayTo,
        _ => return None,
    })
}

/// `thread-alg = "ORDEREDSUBJECT" / "REFERENCES" / thread-alg-ext`
/// (RFC 5256 §4); an extension algorithm we do not offer is BAD.
fn thread_alg(input: &[u8]) -> PResult<'_, ThreadAlgorithm> {
    let (rest, word) = atom(input)?;
    match word.to_ascii_uppercase().as_slice() {
        b"ORDEREDSUBJECT" => Ok((rest, ThreadAlgorithm::OrderedSubject)),
        b"REFERENCES" => Ok((rest, ThreadAlgorithm::References)),
        _ => fail(format!("Unknown threading algorithm {}", printable(word))),
    }
}

/// The `charset` of `search-criteria` (RFC 5256 §4: `astring`, required).
fn search_charset(input: &[u8]) -> PResult<'_, String> {
    let (rest, name) = astring(input)?;
    Ok((rest, utf8(name, "Charset name")?))
}

/// `1*(SP search-key)`, the strings decoded from `charset`. Several keys
/// become [`SearchKey::And`]; a single key is returned as itself.
fn search_keys<'a>(input: &'a [u8], charset: Option<&str>) -> PResult<'a, SearchKey> {
    let decoder = TextDecoder::for_charset(charset);
    let (mut input, first) = arg(input, "search criteria", |i| search_key(i, decoder, 1))?;
    let mut keys = vec![first];
    while input.starts_with(b" ") {
        let (rest, key) = arg(input, "search key", |i| search_key(i, decoder, 1))?;
        keys.push(key);
        input = rest;
    }
    let criteria = match keys.pop() {
        Some(key) if keys.is_empty() => key,
        Some(key) => {
            keys.push(key);
            SearchKey::And(keys)
        }
        // Unreachable: `keys` started with one element. Kept total anyway.
        None => return fail("Missing search criteria"),
    };
    Ok((input, criteria))
}

/// `search-return-opts = SP "RETURN" SP "(" [search-return-opt
/// *(SP search-return-opt)] ")"` (RFC 4731 §3), with RFC 5182's `SAVE` and
/// RFC 5267 §5's `search-return-opt =/ modifier-context / modifier-partial /
/// modifier-update`. Each option once (repeats of the same one are
/// ignored), unknown ones BAD; at most one of PARTIAL and ALL (RFC 5267 §4.4).
fn search_return_opts(input: &[u8]) -> PResult<'_, Option<Vec<SearchReturn>>> {
    const RETURN: &[u8] = b" RETURN (";
    let Some(head) = input.get(..RETURN.len()) else {
        return Ok((input, None));
    };
    if !head.eq_ignore_ascii_case(RETURN) {
        return Ok((input, None));
    }
    let mut rest = input.get(RETURN.len()..).unwrap_or_default();
    let mut options = Vec::new();
    loop {
        if let Some(tail) = rest.strip_prefix(b")") {
            return Ok((tail, Some(options)));
        }
        if !options.is_empty() {
            rest = match rest.strip_prefix(b" ") {
                Some(tail) => tail,
                None => return fail("Invalid RETURN options"),
            };
        }
        let (tail, option) = search_return_opt(rest)?;
        let windowed = |o: &SearchReturn| matches!(o, SearchReturn::All | SearchReturn::Partial(_));
        if windowed(&option) && options.iter().any(|o| windowed(o) && *o != option) {
            return fail("RETURN may hold one PARTIAL or ALL, not both");
        }
        if !options.contains(&option) {
            options.push(option);
        }
        rest = tail;
    }
}

/// `search-return-opt = "MIN" / "MAX" / "ALL" / "COUNT"` (RFC 4731),
/// `/ "SAVE"` (RFC 5182), `/ modifier-context / modifier-partial /
/// modifier-update` (RFC 5267: `"CONTEXT"`, `"PARTIAL" SP partial-range`,
/// `"UPDATE"`).
fn search_return_opt(input: &[u8]) -> PResult<'_, SearchReturn> {
    let (rest, word) = atom(input).or_else(|_| fail("Invalid RETURN options"))?;
    let option = match word.to_ascii_uppercase().as_slice() {
        b"MIN" => SearchReturn::Min,
        b"MAX" => SearchReturn::Max,
        b"ALL" => SearchReturn::All,
        b"COUNT" => SearchReturn::Count,
        b"SAVE" => SearchReturn::Save,
        b"CONTEXT" => SearchReturn::Context,
        b"UPDATE" => SearchReturn::Update,
        b"PARTIAL" => {
            let Some(after) = rest.strip_prefix(b" ") else {
                return fail("PARTIAL needs a range");
            };
            let (after, range) = partial_range(after)?;
            return Ok((after, SearchReturn::Partial(range)));
        }
        _ => return fail(format!("Unknown RETURN option {}", printable(word))),
    };
    Ok((rest, option))
}

/// `partial-range = nz-number ":" nz-number` (RFC 5267 §5); no `*`, and the
/// two ends in either order.
fn partial_range(input: &[u8]) -> PResult<'_, PartialRange> {
    let invalid = || fail("Invalid PARTIAL range");
    let Ok((rest, a)) = nz_number(input) else {
        return invalid();
    };
    let Some(rest) = rest.strip_prefix(b":") else {
        return invalid();
    };
    let Ok((rest, b)) = nz_number(rest) else {
        return invalid();
    };
    match PartialRange::new(a.get(), b.get()) {
        Some(range) => Ok((rest, range)),
        None => invalid(),
    }
}

/// `[SP "CHARSET" SP astring]`
fn charset(input: &[u8]) -> PResult<'_, Option<String>> {
    let Some(rest) = input.strip_prefix(b" ") else {
        return Ok((input, None));
    };
    match atom(rest) {
        Ok((after, word)) if word.eq_ignore_ascii_case(b"CHARSET") => {
            let (rest, name) = arg(after, "charset name", astring)?;
            Ok((rest, Some(utf8(name, "Charset name")?)))
        }
        _ => Ok((input, None)),
    }
}

/// How search strings become `String`s (see the module doc).
#[derive(Debug, Clone, Copy)]
enum TextDecoder {
    /// No CHARSET, US-ASCII or UTF-8: strict UTF-8.
    Utf8,
    /// A charset encoding_rs knows.
    Charset(&'static Encoding),
    /// Unknown charset: the handler answers `NO [BADCHARSET]`; keep the parse total.
    Unknown,
}

impl TextDecoder {
    fn for_charset(charset: Option<&str>) -> Self {
        let Some(name) = charset else {
            return TextDecoder::Utf8;
        };
        if name.eq_ignore_ascii_case("US-ASCII") || name.eq_ignore_ascii_case("UTF-8") {
            return TextDecoder::Utf8;
        }
        match Encoding::for_label(name.as_bytes()) {
            Some(encoding) => TextDecoder::Charset(encoding),
            None => TextDecoder::Unknown,
        }
    }

    fn decode(self, bytes: Cow<'_, [u8]>) -> Result<String, nom::Err<SyntaxError>> {
        match self {
            TextDecoder::Utf8 => utf8(bytes, "Search string"),
            TextDecoder::Charset(encoding) => {
                Ok(encoding.decode_without_bom_handling(&bytes).0.into_owned())
            }
            // Never written back: only compared, and the handler rejects the charset.
            TextDecoder::Unknown => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }
}

/// `search-key = "ALL" / "ANSWERED" / "BCC" SP astring / "BEFORE" SP date /
///   "BODY" SP astring / "CC" SP astring / "DELETED" / "FLAGGED" /
///   "FROM" SP astring / "KEYWORD" SP flag-keyword / "NEW" / "OLD" /
///   "ON" SP date / "RECENT" / "SEEN" / "SINCE" SP date / "SUBJECT" SP astring /
///   "TEXT" SP astring / "TO" SP astring / "UNANSWERED" / "UNDELETED" /
///   "UNFLAGGED" / "UNKEYWORD" SP flag-keyword / "UNSEEN" /
///   "DRAFT" / "HEADER" SP header-fld-name SP astring / "LARGER" SP number /
///   "NOT" SP search-key / "OR" SP search-key SP search-key /
///   "SENTBEFORE" SP date / "SENTON" SP date / "SENTSINCE" SP date /
///   "SMALLER" SP number / "UID" SP sequence-set / "UNDRAFT" / sequence-set /
///   "(" search-key *(SP search-key) ")"`
fn search_key(input: &[u8], decoder: TextDecoder, depth: usize) -> PResult<'_, SearchKey> {
    use SearchKey as K;

    if depth > MAX_SEARCH_DEPTH {
        return fail(format!("Search keys nested deeper than {MAX_SEARCH_DEPTH}"));
    }
    match input.first() {
        Some(b'(') => return search_key_list(input, decoder, depth),
        Some(b'*' | b'0'..=b'9' | b'$') => {
            let (rest, set) = commit(sequence_set(input), || "Invalid sequence set".into())?;
            return Ok((rest, K::SequenceSet(set)));
        }
        _ => {}
    }
    let (rest, word) = atom(input)?;
    let name = word.to_ascii_uppercase();
    // Valid key names are ASCII letters, so `printable` is the name itself.
    let label = printable(&name);
    let text = |rest| {
        let (rest, s) = arg(rest, &format!("string after {label}"), astring)?;
        Ok((rest, decoder.decode(s)?))
    };
    let on_date = |rest| arg(rest, &format!("date after {label}"), date);
    let nested = |rest| {
        arg(rest, &format!("search key after {label}"), |i| {
            search_key(i, decoder, depth + 1)
        })
    };
    let keyword = |rest| {
        let (rest, k) = arg(rest, &format!("keyword after {label}"), atom)?;
        Ok((rest, utf8(Cow::Borrowed(k), "Keyword")?))
    };
    let size = |rest| arg(rest, &format!("number after {label}"), number);
    let interval = |rest| match size(rest) {
        Ok((_, 0)) => fail(format!("{label} needs an interval of at least 1 second")),
        other => other,
    };

    let key = match name.as_slice() {
        b"ALL" => (rest, K::All),
        b"ANSWERED" => (rest, K::Answered),
        b"DELETED" => (rest, K::Deleted),
        b"DRAFT" => (rest, K::Draft),
        b"FLAGGED" => (rest, K::Flagged),
        b"NEW" => (rest, K::New),
        b"OLD" => (rest, K::Old),
        b"RECENT" => (rest, K::Recent),
        b"SEEN" => (rest, K::Seen),
        b"UNANSWERED" => (rest, K::Unanswered),
        b"UNDELETED" => (rest, K::Undeleted),
        b"UNDRAFT" => (rest, K::Undraft),
        b"UNFLAGGED" => (rest, K::Unflagged),
        b"UNSEEN" => (rest, K::Unseen),
        b"BCC" => with(text(rest)?, K::Bcc),
        b"BODY" => with(text(rest)?, K::Body),
        b"CC" => with(text(rest)?, K::Cc),
        b"FROM" => with(text(rest)?, K::From),
        b"SUBJECT" => with(text(rest)?, K::Subject),
        b"TEXT" => with(text(rest)?, K::Text),
        b"TO" => with(text(rest)?, K::To),
        b"BEFORE" => with(on_date(rest)?, K::Before),
        b"ON" => with(on_date(rest)?, K::On),
        b"SINCE" => with(on_date(rest)?, K::Since),
        b"SENTBEFORE" => with(on_date(rest)?, K::SentBefore),
        b"SENTON" => with(on_date(rest)?, K::SentOn),
        b"SENTSINCE" => with(on_date(rest)?, K::SentSince),
        b"KEYWORD" => with(keyword(rest)?, K::Keyword),
        b"UNKEYWORD" => with(keyword(rest)?, K::Unkeyword),
        // RFC 9051: `"LARGER" SP number64`; RFC 3501: `number`.
        b"LARGER" | b"SMALLER" if super::core::rev2_grammar() => {
            let (rest, n) = arg(
                rest,
                &format!("number after {label}"),
                super::core::number64_saturated,
            )?;
            (
                rest,
                if name.as_slice() == b"LARGER" {
                    K::Larger(n)
                } else {
                    K::Smaller(n)
                },
            )
        }
        b"LARGER" => with(size(rest)?, K::Larger),
        b"SMALLER" => with(size(rest)?, K::Smaller),
        // RFC 5032 WITHIN: "OLDER" SP nz-number / "YOUNGER" SP nz-number.
        b"OLDER" => with(interval(rest)?, K::Older),
        b"YOUNGER" => with(interval(rest)?, K::Younger),
        b"UID" => with(arg(rest, "sequence set after UID", sequence_set)?, K::Uid),
        b"NOT" => with(nested(rest)?, |k| K::Not(Box::new(k))),
        b"OR" => {
            let (rest, a) = nested(rest)?;
            let (rest, b) = nested(rest)?;
            (rest, K::Or(Box::new(a), Box::new(b)))
        }
        b"HEADER" => {
            let (rest, field) = arg(rest, "header field name after HEADER", astring)?;
            let field = utf8(field, "Header field name")?;
            let (rest, value) = arg(rest, "string after HEADER field name", astring)?;
            (rest, K::Header(field, decoder.decode(value)?))
        }
        _ => return fail(format!("Unknown search key {}", printable(word))),
    };
    Ok(key)
}

/// `"(" search-key *(SP search-key) ")"`: always an [`SearchKey::And`], even of one key.
fn search_key_list(input: &[u8], decoder: TextDecoder, depth: usize) -> PResult<'_, SearchKey> {
    let Some(mut rest) = input.strip_prefix(b"(") else {
        return mismatch();
    };
    let mut keys = Vec::new();
    loop {
        let (tail, key) = commit(search_key(rest, decoder, depth + 1), || {
            "Invalid search key".into()
        })?;
        keys.push(key);
        match tail {
            [b' ', t @ ..] => rest = t,
            [b')', t @ ..] => return Ok((t, SearchKey::And(keys))),
            _ => return fail("Missing ')' after search keys"),
        }
    }
}

/// Wraps a parsed argument into its key.
fn with<T, U>((rest, value): (&[u8], T), wrap: impl FnOnce(T) -> U) -> (&[u8], U) {
    (rest, wrap(value))
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::{Datelike, NaiveDate};

    use super::*;
    use crate::parser::sequence::tests::random_set;
    use crate::parser::tests::Rng;

    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];

    /// The test-only encoder: a key in wire form. `And` is always parenthesised,
    /// so `SEARCH <render(k)>` parses back to exactly `k`.
    pub(crate) fn render_key(key: &SearchKey) -> Vec<u8> {
        use SearchKey as K;
        let word = |w: &str| w.as_bytes().to_vec();
        let with_string = |w: &str, s: &str| [word(w), b" ".to_vec(), render_string(s)].concat();
        let with_date = |w: &str, d: &NaiveDate| {
            let month = MONTHS.get(d.month0() as usize).copied().unwrap_or("Jan");
            format!("{w} {}-{month}-{:04}", d.day(), d.year()).into_bytes()
        };
        match key {
            K::All => word("ALL"),
            K::Answered => word("ANSWERED"),
            K::Deleted => word("DELETED"),
            K::Draft => word("DRAFT"),
            K::Flagged => word("FLAGGED"),
            K::New => word("NEW"),
            K::Old => word("OLD"),
            K::Recent => word("RECENT"),
            K::Seen => word("SEEN"),
            K::Unanswered => word("UNANSWERED"),
            K::Undeleted => word("UNDELETED"),
            K::Undraft => word("UNDRAFT"),
            K::Unflagged => word("UNFLAGGED"),
            K::Unseen => word("UNSEEN"),
            K::Bcc(s) => with_string("BCC", s),
            K::Body(s) => with_string("BODY", s),
            K::Cc(s) => with_string("CC", s),
            K::From(s) => with_string("FROM", s),
            K::Subject(s) => with_string("SUBJECT", s),
            K::Text(s) => with_string("TEXT", s),
            K::To(s) => with_string("TO", s),
            K::Before(d) => with_date("BEFORE", d),
            K::On(d) => with_date("ON", d),
            K::Since(d) => with_date("SINCE", d),
            K::SentBefore(d) => with_date("SENTBEFORE", d),
            K::SentOn(d) => with_date("SENTON", d),
            K::SentSince(d) => with_date("SENTSINCE", d),
            K::Keyword(k) => format!("KEYWORD {k}").into_bytes(),
            K::Unkeyword(k) => format!("UNKEYWORD {k}").into_bytes(),
            K::Larger(n) => format!("LARGER {n}").into_bytes(),
            K::Smaller(n) => format!("SMALLER {n}").into_bytes(),
            K::Older(n) => format!("OLDER {n}").into_bytes(),
            K::Younger(n) => format!("YOUNGER {n}").into_bytes(),
            K::Uid(set) => format!("UID {set}").into_bytes(),
            K::SequenceSet(set) => set.to_string().into_bytes(),
            K::Header(f, v) => [with_string("HEADER", f), b" ".to_vec(), render_string(v)].concat(),
            K::Not(k) => [word("NOT "), render_key(k)].concat(),
            K::Or(a, b) => [word("OR "), render_key(a), b" ".to_vec(), render_key(b)].concat(),
            K::And(keys) => {
                let inner: Vec<Vec<u8>> = keys.iter().map(render_key).collect();
                [b"(".to_vec(), inner.join(&b' '), b")".to_vec()].concat()
            }
        }
    }

    /// Quoted when every byte is a quotable TEXT-CHAR, a literal otherwise.
    fn render_string(s: &str) -> Vec<u8> {
        if s.bytes()
            .all(|b| matches!(b, 0x01..=0x7f) && b != b'\r' && b != b'\n')
        {
            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")).into_bytes()
        } else {
            [
                format!("{{{}}}\r\n", s.len()).into_bytes(),
                s.as_bytes().to_vec(),
            ]
            .concat()
        }
    }

    pub(crate) fn random_key(rng: &mut Rng, depth: u32) -> SearchKey {
        use SearchKey as K;
        const STRINGS: [&str; 7] = [
            "",
            "Smith",
            "a \"b\" \\c",
            "f\u{fc}r",
            "two\r\nlines",
            "x",
            "]%*",
        ];
        const KEYWORDS: [&str; 3] = ["$Forwarded", "Junk", "a.b-c"];
        let s = |rng: &mut Rng| STRINGS[rng.below(STRINGS.len() as u32) as usize].to_string();
        let d = |rng: &mut Rng| {
            NaiveDate::from_ymd_opt(
                1900 + rng.below(200) as i32,
                1 + rng.below(12),
                1 + rng.below(28),
            )
            .unwrap_or_default()
        };
        let leaves = 35;
        let choice = if depth >= 4 {
            rng.below(leaves)
        } else {
            rng.below(leaves + 3)
        };
        match choice {
            0 => K::All,
            1 => K::Answered,
            2 => K::Deleted,
            3 => K::Draft,
            4 => K::Flagged,
            5 => K::New,
            6 => K::Old,
            7 => K::Recent,
            8 => K::Seen,
            9 => K::Unanswered,
            10 => K::Undeleted,
            11 => K::Undraft,
            12 => K::Unflagged,
            13 => K::Unseen,
            14 => K::Bcc(s(rng)),
            15 => K::Body(s(rng)),
            16 => K::Cc(s(rng)),
            17 => K::From(s(rng)),
            18 => K::Subject(s(rng)),
            19 => K::Text(s(rng)),
            20 => K::To(s(rng)),
            21 => K::Before(d(rng)),
            22 => K::On(d(rng)),
            23 => K::Since(d(rng)),
            24 => K::SentBefore(d(rng)),
            25 => K::SentOn(d(rng)),
            26 => K::SentSince(d(rng)),
            27 => K::Keyword(KEYWORDS[rng.below(3) as usize].into()),
            28 => K::Unkeyword(KEYWORDS[rng.below(3) as usize].into()),
            29 => K::Larger(rng.below(u32::MAX)),
            30 => K::Smaller(rng.below(u32::MAX)),
            31 => K::Uid(random_set(rng)),
            32 => K::Header(
                ["Subject", "X-Spam", "List-Id"][rng.below(3) as usize].into(),
                s(rng),
            ),
            33 => K::Older(1 + rng.below(u32::MAX - 1)),
            34 => K::Younger(1 + rng.below(u32::MAX - 1)),
            35 => K::Not(Box::new(random_key(rng, depth + 1))),
            36 => K::Or(
                Box::new(random_key(rng, depth + 1)),
                Box::new(random_key(rng, depth + 1)),
            ),
            _ => {
                if rng.below(3) == 0 {
                    return K::SequenceSet(random_set(rng));
                }
                K::And(
                    (0..1 + rng.below(3))
                        .map(|_| random_key(rng, depth + 1))
                        .collect(),
                )
            }
        }
    }

    /// Parses `rest` as the arguments of SEARCH (starting with its SP).
    fn parse(args: &[u8]) -> Result<(Option<String>, SearchKey), Option<String>> {
        match search(args, Numbering::Sequence) {
            Ok((
                b"",
                CommandBody::Search {
                    charset, criteria, ..
                },
            )) => Ok((charset, criteria)),
            Ok((rest, _)) => Err(Some(format!("left over: {}", printable(rest)))),
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e.reason.map(|r| r.into_owned())),
            Err(nom::Err::Incomplete(_)) => Err(None),
        }
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    #[test]
    fn known_answers() {
        use SearchKey as K;
        let set = |s: &str| {
            sequence_set(s.as_bytes())
                .map(|(_, s)| s)
                .expect("valid test set")
        };
        let cases: Vec<(&[u8], SearchKey)> = vec![
            (b" ALL", K::All),
            (b" all", K::All),
            (
                b" FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
                K::And(vec![
                    K::Flagged,
                    K::Since(ymd(1994, 2, 1)),
                    K::Not(Box::new(K::From("Smith".into()))),
                ]),
            ),
            (b" (FLAGGED)", K::And(vec![K::Flagged])),
            (
                b" OR SEEN (DELETED DRAFT)",
                K::Or(
                    Box::new(K::Seen),
                    Box::new(K::And(vec![K::Deleted, K::Draft])),
                ),
            ),
            (
                b" 1:5,7 UID 10:*",
                K::And(vec![K::SequenceSet(set("1:5,7")), K::Uid(set("10:*"))]),
            ),
            (b" BEFORE \"01-Jan-2000\"", K::Before(ymd(2000, 1, 1))),
            (b" SENTON 9-Sep-2009", K::SentOn(ymd(2009, 9, 9))),
            (b" SENTBEFORE 1-Jan-2001", K::SentBefore(ymd(2001, 1, 1))),
            (b" SENTSINCE 1-Jan-2001", K::SentSince(ymd(2001, 1, 1))),
            (b" ON 1-Jan-2001", K::On(ymd(2001, 1, 1))),
            // RFC 5032 §4: search-key =/ ( "OLDER" / "YOUNGER" ) SP nz-number
            (b" OLDER 3600", K::Older(3600)),
            (b" younger 1", K::Younger(1)),
            (
                b" LARGER 1000 SMALLER 0",
                K::And(vec![K::Larger(1000), K::Smaller(0)]),
            ),
            (
                b" HEADER Message-ID \"<a@b>\"",
                K::Header("Message-ID".into(), "<a@b>".into()),
            ),
            (
                b" HEADER X-Spam \"\"",
                K::Header("X-Spam".into(), String::new()),
            ),
            (
                b" KEYWORD $Forwarded UNKEYWORD Junk",
                K::And(vec![
                    K::Keyword("$Forwarded".into()),
                    K::Unkeyword("Junk".into()),
                ]),
            ),
            (
                b" BCC a CC b TO c BODY d TEXT e SUBJECT f",
                K::And(vec![
                    K::Bcc("a".into()),
                    K::Cc("b".into()),
                    K::To("c".into()),
                    K::Body("d".into()),
                    K::Text("e".into()),
                    K::Subject("f".into()),
                ]),
            ),
            (
                b" NEW OLD RECENT SEEN",
                K::And(vec![K::New, K::Old, K::Recent, K::Seen]),
            ),
            (
                b" ANSWERED UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN",
                K::And(vec![
                    K::Answered,
                    K::Unanswered,
                    K::Undeleted,
                    K::Undraft,
                    K::Unflagged,
                    K::Unseen,
                ]),
            ),
            (
                b" SUBJECT {4}\r\nf\xc3\xbcr ALL",
                K::And(vec![K::Subject("f\u{fc}r".into()), K::All]),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input), Ok((None, expected)), "{}", printable(input));
        }
    }

    #[test]
    fn charsets_decode_strings() {
        assert_eq!(
            parse(b" CHARSET UTF-8 TEXT {2}\r\n\xc3\xa9"),
            Ok((Some("UTF-8".into()), SearchKey::Text("\u{e9}".into())))
        );
        assert_eq!(
            parse(b" charset \"ISO-8859-1\" TEXT {1}\r\n\xe9"),
            Ok((Some("ISO-8859-1".into()), SearchKey::Text("\u{e9}".into())))
        );
        // Unknown charset: parsed, and the handler answers NO [BADCHARSET].
        assert_eq!(
            parse(b" CHARSET X-MARTIAN ALL"),
            Ok((Some("X-MARTIAN".into()), SearchKey::All))
        );
        assert_eq!(
            parse(b" TEXT {1}\r\n\xe9"),
            Err(Some("Search string is not valid UTF-8".into()))
        );
        assert_eq!(parse(b" CHARSET"), Err(Some("Missing charset name".into())));
        assert_eq!(
            parse(b" CHARSET UTF-8"),
            Err(Some("Missing search criteria".into()))
        );
    }

    #[test]
    fn malformed_searches() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "Missing search criteria"),
            (b" FOO", "Unknown search key FOO"),
            (b" FLAGGED FOO", "Unknown search key FOO"),
            (b" FROM", "Missing string after FROM"),
            (b" (FROM)", "Missing string after FROM"),
            (b" SINCE 1-Foo-1994", "Invalid date after SINCE"),
            (b" SINCE 31-Feb-1994", "Invalid date after SINCE"),
            (b" LARGER x", "Invalid number after LARGER"),
            (b" OLDER 0", "OLDER needs an interval of at least 1 second"),
            (b" YOUNGER", "Missing number after YOUNGER"),
            (b" LARGER 4294967296", "Number 4294967296 is too large"),
            (b" UID 0", "Invalid sequence set after UID"),
            (b" 0", "Invalid sequence set"),
            (b" 1,", "Invalid sequence set"),
            (b" KEYWORD \\Seen", "Invalid keyword after KEYWORD"),
            (b" OR SEEN", "Missing search key after OR"),
            (b" NOT", "Missing search key after NOT"),
            (b" ()", "Invalid search key"),
            (b" (SEEN", "Missing ')' after search keys"),
            (b" (SEEN DELETED", "Missing ')' after search keys"),
            (b" HEADER Subject", "Missing string after HEADER field name"),
            (
                b" SUBJECT {9}\r\nshort",
                "Literal is shorter than its announced length",
            ),
            (b" FLAGGED  SEEN", "Invalid search key"),
            (b" FL\xc3\xa4GGED", "Unknown search key FL"),
        ];
        for &(input, reason) in cases {
            assert_eq!(
                parse(input),
                Err(Some(reason.to_string())),
                "{}",
                printable(input)
            );
        }
    }

    /// RFC 5267 §5 `partial-range = nz-number ":" nz-number`: either order
    /// (`500:400` is `400:500`), no `*`, no 0.
    #[test]
    fn partial_range_rule() {
        let range = |first, last| PartialRange { first, last };
        assert_eq!(partial_range(b"1:1)"), Ok((&b")"[..], range(1, 1))));
        assert_eq!(partial_range(b"500:400 "), Ok((&b" "[..], range(400, 500))));
        assert_eq!(
            partial_range(b"4294967295:1"),
            Ok((&b""[..], range(1, u32::MAX)))
        );
        for bad in [
            &b"1"[..],
            b"1:",
            b":1",
            b"1:*",
            b"*:1",
            b"0:1",
            b"1:0",
            b"01:2",
            b"4294967296:1",
            b"1,2:3",
        ] {
            assert!(partial_range(bad).is_err(), "{}", printable(bad));
        }
    }

    /// RFC 5267 §5 `search-return-opt =/ modifier-context / modifier-partial
    /// / modifier-update`, beside RFC 4731's and RFC 5182's options.
    #[test]
    fn search_return_opt_rule() {
        let one = |input: &[u8]| search_return_opt(input).map(|(rest, o)| (rest.to_vec(), o));
        assert_eq!(one(b"context)"), Ok((b")".to_vec(), SearchReturn::Context)));
        assert_eq!(one(b"UPDATE "), Ok((b" ".to_vec(), SearchReturn::Update)));
        assert_eq!(
            one(b"Partial 2:4)"),
            Ok((
                b")".to_vec(),
                SearchReturn::Partial(PartialRange { first: 2, last: 4 })
            ))
        );
        assert!(one(b"PARTIAL").is_err());
        assert!(one(b"PARTIAL(1:2)").is_err());
        assert!(one(b"UPDATES").is_err());
    }

    /// `search-return-opts` with every option, rendered and parsed back.
    #[test]
    fn round_trip_return_options() {
        let mut rng = Rng::new(0x5eed_0267);
        for _ in 0..300 {
            let mut options = Vec::new();
            for _ in 0..rng.below(6) {
                let option = match rng.below(8) {
                    0 => SearchReturn::Min,
                    1 => SearchReturn::Max,
                    2 => SearchReturn::All,
                    3 => SearchReturn::Count,
                    4 => SearchReturn::Save,
                    5 => SearchReturn::Context,
                    6 => SearchReturn::Update,
                    _ => {
                        let a = rng.below(1000) + 1;
                        let b = rng.below(1000) + 1;
                        SearchReturn::Partial(
                            PartialRange::new(a, b).unwrap_or(PartialRange { first: 1, last: 1 }),
                        )
                    }
                };
                let windowed =
                    |o: &SearchReturn| matches!(o, SearchReturn::All | SearchReturn::Partial(_));
                let clash = windowed(&option) && options.iter().any(windowed);
                if !(options.contains(&option) || clash) {
                    options.push(option);
                }
            }
            let words: Vec<String> = options
                .iter()
                .map(|o| match o {
                    SearchReturn::Partial(r) if rng.below(2) == 0 => {
                        format!("PARTIAL {}:{}", r.last, r.first)
                    }
                    SearchReturn::Partial(r) => format!("PARTIAL {}:{}", r.first, r.last),
                    other => format!("{other:?}").to_ascii_uppercase(),
                })
                .collect();
            let text = format!(" RETURN ({}) ALL", words.join(" "));
            let parsed = search_return_opts(text.as_bytes()).map(|(rest, o)| (rest.to_vec(), o));
            assert_eq!(parsed, Ok((b" ALL".to_vec(), Some(options))), "{text}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |n: usize, open: &str, close: &str| {
            format!(" {}ALL{}", open.repeat(n), close.repeat(n)).into_bytes()
        };
        // The top level is depth 1, each "(" one more: 63 parentheses are fine.
        assert!(parse(&nested(MAX_SEARCH_DEPTH - 1, "(", ")")).is_ok());
        assert!(parse(&nested(MAX_SEARCH_DEPTH - 1, "NOT ", "")).is_ok());
        let too_deep = Err(Some(format!(
            "Search keys nested deeper than {MAX_SEARCH_DEPTH}"
        )));
        assert_eq!(parse(&nested(MAX_SEARCH_DEPTH, "(", ")")), too_deep);
        assert_eq!(parse(&nested(MAX_SEARCH_DEPTH, "NOT ", "")), too_deep);
        assert_eq!(parse(&nested(10_000, "(", ")")), too_deep);
        assert_eq!(parse(&nested(10_000, "(", "")), too_deep);
        assert_eq!(parse(&nested(10_000, "OR ALL ", "")), too_deep);
    }

    #[test]
    fn round_trip_random_keys() {
        let mut rng = Rng::new(0x5eed_0003);
        for _ in 0..2000 {
            let key = random_key(&mut rng, 1);
            let text = [b" ".to_vec(), render_key(&key)].concat();
            assert_eq!(
                parse(&text),
                Ok((None, key)),
                "{}",
                String::from_utf8_lossy(&text)
            );
        }
    }
}
