//! SORT and UID SORT (RFC 5256 §3), SORT=DISPLAY (RFC 5957) and ESORT's
//! `RETURN (...)` (RFC 5267 §3), with CONTEXT=SORT's PARTIAL and UPDATE (§4).
//!
//! SORT is SEARCH followed by an ordering of the hits. The keys that need
//! the header (sent date, base subject, addresses) come from the session's
//! [`KeyCache`], so a client that re-sorts (Alpine on every new message,
//! Roundcube on every page) reads no header twice, and the sort itself
//! compares cached columns without allocating per message. Every comparison
//! falls back to the sequence number (RFC 5256 §3: the order in the mailbox
//! breaks ties), and REVERSE reverses its key only, not the tie-break:
//! imaptest's `sort-addresses` pins that.

mod keys;

use std::cmp::Ordering;
use std::io::Write;

pub use keys::{Field, KeyCache, Subject};

use super::contexts::Query;
use super::search::{self, Hit};
use super::{CommandResult, Completion, Selected};
use crate::mailstore::Mailbox;
use crate::parser::ast::{SearchKey, SearchReturn, SortCriterion, SortKey};
use crate::response::ResponseWriter;
use crate::types::Numbering;

/// Runs SORT: `* SORT n...` (or `* ESEARCH` for `RETURN (...)`).
pub fn sort<W: Write>(
    selected: &mut Selected,
    criteria: &[SortCriterion],
    charset: &str,
    search: &SearchKey,
    numbering: Numbering,
    ret: Option<(&str, &[SearchReturn])>,
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    let update = ret
        .filter(|(_, options)| options.contains(&SearchReturn::Update))
        .map(|(tag, _)| tag);
    if let Some(tag) = update {
        selected.contexts.check_tag(tag)?;
    }
    let mut hits = search::matching(selected, Some(charset), search)?;
    order(selected, criteria, &mut hits);
    match ret {
        None => {
            out.raw(b"* SORT")?;
            for hit in &hits {
                out.sp()?;
                out.number(hit.number(numbering).into())?;
            }
            out.end_line()?;
        }
        Some((tag, options)) => {
            let numbers: Vec<u32> = hits.iter().map(|h| h.number(numbering)).collect();
            let uids: Vec<u32> = hits.iter().map(|h| h.uid).collect();
            search::answer_esearch(selected, out, tag, numbering, options, &numbers, &uids)?;
        }
    }
    if let Some(tag) = update {
        let program = Query::Sort {
            criteria: criteria.to_vec(),
            charset: charset.to_owned(),
            search: search.clone(),
        };
        let uids = hits.iter().map(|h| h.uid).collect();
        let Selected {
            contexts, mailbox, ..
        } = selected;
        contexts.open(tag, numbering, program, uids, mailbox, out)?;
    }
    Ok(Completion::done("SORT"))
}

/// Sorts `hits` by `criteria`, ties by sequence number.
pub fn order(selected: &mut Selected, criteria: &[SortCriterion], hits: &mut [Hit]) {
    let Selected {
        mailbox, sort_keys, ..
    } = selected;
    sort_keys.sync(mailbox);
    // Read every key once (filling the cache), then compare cached values.
    for c in criteria {
        for hit in hits.iter() {
            fill(sort_keys, mailbox, hit.index, c.key);
        }
    }
    let keys = &*sort_keys;
    hits.sort_by(|a, b| {
        criteria
            .iter()
            .map(|c| {
                let o = compare(keys, mailbox, c.key, a.index, b.index);
                if c.reverse { o.reverse() } else { o }
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
            .then(a.seq.cmp(&b.seq))
    });
}

/// The address field behind a string sort key.
fn field(key: SortKey) -> Option<Field> {
    Some(match key {
        SortKey::From => Field::From,
        SortKey::To => Field::To,
        SortKey::Cc => Field::Cc,
        SortKey::DisplayFrom => Field::DisplayFrom,
        SortKey::DisplayTo => Field::DisplayTo,
        SortKey::Arrival | SortKey::Size | SortKey::Date | SortKey::Subject => return None,
    })
}

/// Makes sure `key` of message `index` is in the cache.
fn fill(cache: &mut KeyCache, mailbox: &Mailbox, index: usize, key: SortKey) {
    match key {
        SortKey::Arrival | SortKey::Size => {}
        SortKey::Date => {
            cache.sent(mailbox, index);
        }
        SortKey::Subject => {
            cache.subject(mailbox, index);
        }
        _ => {
            if let Some(f) = field(key) {
                cache.address(mailbox, index, f);
            }
        }
    }
}

/// Compares two messages on one key, from the index and the filled cache.
fn compare(cache: &KeyCache, mailbox: &Mailbox, key: SortKey, a: usize, b: usize) -> Ordering {
    let entries = mailbox.entries();
    let (ea, eb) = (entries.get(a), entries.get(b));
    let text = |id_a: u32, id_b: u32| {
        if id_a == id_b {
            Ordering::Equal
        } else {
            cache.text(id_a).cmp(cache.text(id_b))
        }
    };
    match key {
        SortKey::Arrival => ea
            .map(|e| e.internal_date)
            .cmp(&eb.map(|e| e.internal_date)),
        SortKey::Size => ea.map(|e| e.rfc822_size).cmp(&eb.map(|e| e.rfc822_size)),
        SortKey::Date => cache.cached_sent(a).cmp(&cache.cached_sent(b)),
        SortKey::Subject => match (cache.cached_subject(a), cache.cached_subject(b)) {
            (Some(x), Some(y)) => text(x.id, y.id),
            (x, y) => x.map(|s| s.id).cmp(&y.map(|s| s.id)),
        },
        _ => {
            let Some(f) = field(key) else {
                return Ordering::Equal;
            };
            match (cache.cached_address(a, f), cache.cached_address(b, f)) {
                (Some(x), Some(y)) => text(x, y),
                (x, y) => x.cmp(&y),
            }
        }
    }
}
