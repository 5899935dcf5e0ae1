//! SEARCHRES (RFC 5182): `SEARCH RETURN (SAVE)` keeps its result, and `$`
//! names it in any later command of the session that takes a sequence set.
//!
//! The result is kept as UIDs, so it names the same messages whatever is
//! expunged meanwhile (an expunged message simply drops out, §2.1). Before a
//! command runs, [`resolve`] replaces every `$` in it with the saved
//! messages: as sequence numbers or UIDs, as the command numbers them, and
//! inside search keys as a `UID` set (`SEARCH $` means the same messages as
//! `UID SEARCH UID $`). A command that sees no `$` is untouched. The result
//! starts empty and is forgotten when another mailbox is selected (it lives
//! in [`Selected`]).

use super::{Selected, SeqNumbers};
use crate::parser::ast::{CommandBody, SearchKey, SearchReturn};
use crate::types::{Numbering, SequenceSet};

/// Replaces `$` in `body` with the saved result.
pub fn resolve(body: &mut CommandBody, selected: &Selected) {
    use CommandBody as C;
    match body {
        C::Fetch { set, numbering, .. }
        | C::Store { set, numbering, .. }
        | C::Copy { set, numbering, .. }
        | C::Move { set, numbering, .. }
            if set.is_saved() =>
        {
            *set = numbers(selected, *numbering);
        }
        C::UidExpunge(set) if set.is_saved() => {
            *set = numbers(selected, Numbering::Uid);
        }
        C::Search { criteria, .. } => resolve_key(criteria, selected),
        C::Sort { search, .. } | C::Thread { search, .. } => resolve_key(search, selected),
        _ => {}
    }
}

/// The saved messages as the numbers a command uses.
fn numbers(selected: &Selected, numbering: Numbering) -> SequenceSet {
    let saved = &selected.saved_result;
    match numbering {
        Numbering::Uid => SequenceSet::of_ascending(saved.iter().copied()),
        Numbering::Sequence => {
            let mailbox = &selected.mailbox;
            let seq = SeqNumbers::of(mailbox);
            let mut numbers: Vec<u32> = saved
                .iter()
                .filter_map(|&uid| mailbox.index_of_uid(uid).ok())
                .filter_map(|index| seq.seq(index))
                .collect();
            numbers.sort_unstable();
            SequenceSet::of_ascending(numbers)
        }
    }
}

fn resolve_key(key: &mut SearchKey, selected: &Selected) {
    match key {
        SearchKey::SequenceSet(set) | SearchKey::Uid(set) if set.is_saved() => {
            *key = SearchKey::Uid(numbers(selected, Numbering::Uid));
        }
        SearchKey::Not(inner) => resolve_key(inner, selected),
        SearchKey::Or(a, b) => {
            resolve_key(a, selected);
            resolve_key(b, selected);
        }
        SearchKey::And(keys) => {
            for k in keys {
                resolve_key(k, selected);
            }
        }
        _ => {}
    }
}

/// What `SAVE` keeps of a result (RFC 5182 §2.4): with MIN and/or MAX and
/// neither ALL nor COUNT, only those messages; otherwise all of them.
/// `uids` are in the order the command reports (mailbox order, or sort
/// order for SORT, whose MIN and MAX are the first and last sorted).
pub fn saved_part(options: &[SearchReturn], uids: &[u32]) -> Vec<u32> {
    let wants = |o| options.contains(&o);
    let mut kept: Vec<u32> = if !wants(SearchReturn::All)
        && !wants(SearchReturn::Count)
        && (wants(SearchReturn::Min) || wants(SearchReturn::Max))
    {
        let mut some = Vec::new();
        if wants(SearchReturn::Min) {
            some.extend(uids.first());
        }
        if wants(SearchReturn::Max) {
            some.extend(uids.last());
        }
        some
    } else {
        uids.to_vec()
    };
    kept.sort_unstable();
    kept.dedup();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use SearchReturn::*;

    #[test]
    fn save_keeps_what_rfc5182_says() {
        let uids = [7, 3, 9, 5];
        assert_eq!(saved_part(&[Save], &uids), [3, 5, 7, 9]);
        assert_eq!(saved_part(&[Save, Min], &uids), [7]);
        assert_eq!(saved_part(&[Save, Max], &uids), [5]);
        assert_eq!(saved_part(&[Min, Save, Max], &uids), [5, 7]);
        assert_eq!(saved_part(&[Save, Min, Count], &uids), [3, 5, 7, 9]);
        assert_eq!(saved_part(&[Save, All], &uids), [3, 5, 7, 9]);
        assert_eq!(saved_part(&[Save, Min], &[]), Vec::<u32>::new());
    }
}
