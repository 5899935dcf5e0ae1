//! Live search results: RFC 5267 §4 `RETURN (UPDATE)` on SEARCH and SORT.
//!
//! A context is the searching command kept: its tag, its criteria (with `$`
//! already resolved) and its current result as UIDs, in the order the
//! client keeps it (mailbox order for SEARCH, sort order for SORT). Where
//! untagged updates may be sent (after a command, during IDLE) the criteria
//! run again and the difference goes out as
//! `* ESEARCH (TAG "t") [UID] REMOVEFROM (...) ADDTO (...)`.
//!
//! The hard part is numbering, as for EXPUNGE (updates.rs). Sequence numbers
//! are the client's: a REMOVEFROM for an expunged message must come *before*
//! its `* n EXPUNGE`, in the numbering before it (RFC 5267 §4.3.4), and an
//! ADDTO for new mail *after* its EXISTS (§4.3.3). So the contexts keep the
//! client's numbering as they last saw it (`known`, UIDs by sequence number),
//! the expunge paths call [`Contexts::before_expunge`] with the old indices
//! before they write EXPUNGE, and [`sync`] runs after EXISTS.
//!
//! Positions (§4.3.3, §4.3.4): a SEARCH context is unordered, so its updates
//! carry position 0 and the set in mailbox order. A SORT context carries one
//! position/set pair per run of adjacent messages, meant to be applied in
//! the order written: removals first, each position counted in the list as
//! it stands once the earlier runs are gone, then additions, each position
//! being where the run's first message stands in the new result. Sort keys
//! never change for a message, so the messages kept keep their order.
//!
//! Cost: message text never changes, so when the mailbox changed only the
//! messages that are new or whose flags or keywords changed are tested
//! again (a `Snapshot` of UIDs, flags and keywords, 12 bytes a message,
//! tells which); criteria that depend on the numbering or the clock
//! (sequence sets, UID sets, OLDER/YOUNGER) run again in full. At most
//! [`MAX_CONTEXTS`] live at once, each holding its criteria and one UID per
//! matching message.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, Write};

use super::search::{self, Hit};
use super::{CommandError, Selected, sort};
use crate::mailstore::Mailbox;
use crate::parser::ast::{SearchKey, SortCriterion};
use crate::response::{Code, ResponseWriter, Status};
use crate::types::Numbering;

/// Live contexts per session; one more is refused with `NOUPDATE`
/// (RFC 5267 §4.3.1: at least one must be offered).
pub const MAX_CONTEXTS: usize = 10;

/// What a context runs again.
#[derive(Debug, Clone)]
pub enum Query {
    Search {
        charset: Option<String>,
        criteria: SearchKey,
    },
    Sort {
        criteria: Vec<SortCriterion>,
        charset: String,
        search: SearchKey,
    },
}

impl Query {
    fn ordered(&self) -> bool {
        matches!(self, Query::Sort { .. })
    }

    fn key(&self) -> &SearchKey {
        match self {
            Query::Search { criteria, .. } => criteria,
            Query::Sort { search, .. } => search,
        }
    }

    fn charset(&self) -> Option<&str> {
        match self {
            Query::Search { charset, .. } => charset.as_deref(),
            Query::Sort { charset, .. } => Some(charset),
        }
    }

    fn depends_on_mailbox(&self) -> bool {
        depends_on_mailbox(self.key())
    }

    /// The result now, from the last one (`old`, context order) and what
    /// changed since: the changed messages are tested again, the others
    /// keep their answer.
    fn rerun(
        &self,
        selected: &mut Selected,
        old: &[u32],
        changes: &Changes,
    ) -> Result<Vec<u32>, CommandError> {
        let retested =
            search::matching_among(selected, self.charset(), self.key(), Some(&changes.changed))?;
        let mut members: Vec<u32> = old
            .iter()
            .copied()
            .filter(|u| !changes.gone.contains(u) && !changes.changed.contains(u))
            .chain(retested.iter().map(|h| h.uid))
            .collect();
        let Query::Sort { criteria, .. } = self else {
            // Mailbox order is UID order.
            members.sort_unstable();
            return Ok(members);
        };
        let mailbox = &selected.mailbox;
        let numbers = super::SeqNumbers::of(mailbox);
        let mut hits: Vec<Hit> = members
            .into_iter()
            .filter_map(|uid| {
                let index = mailbox.index_of_uid(uid).ok()?;
                let seq = numbers.seq(index)?;
                Some(Hit { index, seq, uid })
            })
            .collect();
        sort::order(selected, criteria, &mut hits);
        Ok(hits.iter().map(|h| h.uid).collect())
    }

    /// The result now, as UIDs in context order.
    fn run(&self, selected: &mut Selected) -> Result<Vec<u32>, CommandError> {
        let hits = match self {
            Query::Search { charset, criteria } => {
                search::matching(selected, charset.as_deref(), criteria)?
            }
            Query::Sort {
                criteria,
                charset,
                search,
            } => {
                let mut hits = search::matching(selected, Some(charset), search)?;
                sort::order(selected, criteria, &mut hits);
                hits
            }
        };
        Ok(hits.iter().map(|h: &Hit| h.uid).collect())
    }
}

#[derive(Debug)]
struct Live {
    tag: String,
    numbering: Numbering,
    program: Query,
    /// UIDs, in context order.
    result: Vec<u32>,
}

/// The session's live contexts on the selected mailbox.
#[derive(Debug, Default)]
pub struct Contexts {
    live: Vec<Live>,
    /// The client's numbering when last looked at: `known[seq - 1]` is that
    /// message's UID. Kept only while a context lives.
    known: Vec<u32>,
    /// The mailbox when the contexts last ran.
    ran_on: Option<Snapshot>,
}

impl Contexts {
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// RFC 5267 §4.3: UPDATE with a tag already naming a live context is BAD.
    pub fn check_tag(&self, tag: &str) -> Result<(), CommandError> {
        if self.live.iter().any(|l| l.tag == tag) {
            return Err(CommandError::bad(format!(
                "Tag {tag} already names an updating context"
            )));
        }
        Ok(())
    }

    /// Keeps a searching command's result live; `uids` is what it just
    /// reported, in context order. Past [`MAX_CONTEXTS`] the client is told
    /// `* NO [NOUPDATE "tag"]` and the command otherwise stands (§4.3.1).
    pub fn open<W: Write>(
        &mut self,
        tag: &str,
        numbering: Numbering,
        program: Query,
        uids: Vec<u32>,
        mailbox: &Mailbox,
        out: &mut ResponseWriter<W>,
    ) -> io::Result<()> {
        if self.live.len() >= MAX_CONTEXTS {
            return out.untagged_status(
                Status::No,
                Some(&Code::NoUpdate(tag.to_owned())),
                "Too many updating contexts, no updates for this one",
            );
        }
        self.live.push(Live {
            tag: tag.to_owned(),
            numbering,
            program,
            result: uids,
        });
        self.known = client_uids(mailbox);
        // With other contexts live, the snapshot they last ran on stays:
        // what changed since is tested again for all of them (the new one
        // gets the same answers again, and so says nothing).
        if self.ran_on.is_none() {
            self.ran_on = Some(Snapshot::of(mailbox));
        }
        Ok(())
    }

    /// CANCELUPDATE (§4.3.5): all the named contexts end, or, if one of the
    /// tags names none, none does (BAD).
    pub fn cancel(&mut self, tags: &[String]) -> Result<(), CommandError> {
        if let Some(unknown) = tags
            .iter()
            .find(|t| !self.live.iter().any(|l| &l.tag == *t))
        {
            return Err(CommandError::bad(format!(
                "No updating context has tag {unknown}"
            )));
        }
        self.live.retain(|l| !tags.contains(&l.tag));
        if self.live.is_empty() {
            self.known = Vec::new();
            self.ran_on = None;
        }
        Ok(())
    }

    /// Before `* n EXPUNGE` is written for the messages at 0-based `indices`
    /// (the client's numbering before any of them goes): REMOVEFROM for the
    /// contexts that held them, numbered as the client still numbers them.
    pub fn before_expunge<W: Write>(
        &mut self,
        out: &mut ResponseWriter<W>,
        indices: &[usize],
    ) -> io::Result<()> {
        if self.live.is_empty() || indices.is_empty() {
            return Ok(());
        }
        let gone: HashSet<u32> = indices
            .iter()
            .filter_map(|&i| self.known.get(i).copied())
            .collect();
        for live in &mut self.live {
            let new: Vec<u32> = live
                .result
                .iter()
                .copied()
                .filter(|u| !gone.contains(u))
                .collect();
            write_changes(out, live, &new, &self.known)?;
            live.result = new;
        }
        let mut sorted = indices.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        for &i in sorted.iter().rev() {
            if i < self.known.len() {
                self.known.remove(i);
            }
        }
        Ok(())
    }

    /// After a batch of untagged updates has brought the client's numbering
    /// up to the mailbox's.
    pub fn renumbered(&mut self, mailbox: &Mailbox) {
        if !self.live.is_empty() {
            self.known = client_uids(mailbox);
        }
    }
}

/// Runs the live contexts again if the mailbox changed since they last ran,
/// and writes what changed in each result.
pub fn sync<W: Write>(selected: &mut Selected, out: &mut ResponseWriter<W>) -> io::Result<()> {
    if selected.contexts.is_empty() {
        return Ok(());
    }
    let mut contexts = std::mem::take(&mut selected.contexts);
    contexts.known = client_uids(&selected.mailbox);
    let now = Snapshot::of(&selected.mailbox);
    let written = match contexts.ran_on.take() {
        Some(before) if before == now => Ok(()),
        before => {
            let changes = before.as_ref().and_then(|b| b.changes(&now));
            rerun(&mut contexts, selected, changes.as_ref(), out)
        }
    };
    contexts.ran_on = Some(now);
    selected.contexts = contexts;
    written
}

/// Runs every context again: in full, or, given the `changes` since the
/// last run, over the changed messages only where the criteria allow.
fn rerun<W: Write>(
    contexts: &mut Contexts,
    selected: &mut Selected,
    changes: Option<&Changes>,
    out: &mut ResponseWriter<W>,
) -> io::Result<()> {
    for live in &mut contexts.live {
        let new = match changes.filter(|_| !live.program.depends_on_mailbox()) {
            Some(changes) => live.program.rerun(selected, &live.result, changes),
            None => live.program.run(selected),
        };
        let new = match new {
            Ok(new) => new,
            Err(e) => {
                // It ran once with these criteria; keep the old result.
                log::warn!("context {}: search failed again: {e}", live.tag);
                continue;
            }
        };
        write_changes(out, live, &new, &contexts.known)?;
        live.result = new;
    }
    Ok(())
}

/// `* ESEARCH (TAG "t") [UID] [REMOVEFROM (...)] [ADDTO (...)]` for the
/// change from `live.result` to `new`; nothing if they hold the same
/// messages. `known` numbers the messages (UID at `seq - 1`).
fn write_changes<W: Write>(
    out: &mut ResponseWriter<W>,
    live: &Live,
    new: &[u32],
    known: &[u32],
) -> io::Result<()> {
    let kept: HashSet<u32> = new.iter().copied().collect();
    let had: HashSet<u32> = live.result.iter().copied().collect();
    let ordered = live.program.ordered();
    let number = |uid: u32| match live.numbering {
        Numbering::Uid => Some(uid),
        Numbering::Sequence => known
            .binary_search(&uid)
            .ok()
            .and_then(|i| u32::try_from(i + 1).ok()),
    };
    let render = |runs: Vec<(usize, Vec<u32>)>| -> Vec<(usize, Vec<u32>)> {
        let runs = if ordered { runs } else { unordered(runs) };
        runs.into_iter()
            .map(|(pos, uids)| (pos, uids.into_iter().filter_map(number).collect()))
            .filter(|(_, numbers): &(usize, Vec<u32>)| !numbers.is_empty())
            .collect()
    };
    let removed = render(removed_runs(&live.result, &kept));
    let added = render(added_runs(new, &had));
    if removed.is_empty() && added.is_empty() {
        return Ok(());
    }
    out.raw(b"* ESEARCH (TAG ")?;
    out.string(live.tag.as_bytes())?;
    out.raw(b")")?;
    if live.numbering == Numbering::Uid {
        out.raw(b" UID")?;
    }
    for (word, runs) in [(&b" REMOVEFROM ("[..], removed), (&b" ADDTO ("[..], added)] {
        if runs.is_empty() {
            continue;
        }
        out.raw(word)?;
        for (i, (pos, numbers)) in runs.into_iter().enumerate() {
            if i > 0 {
                out.sp()?;
            }
            out.number(pos as u64)?;
            out.sp()?;
            out.raw(super::updates::number_set(numbers).as_bytes())?;
        }
        out.raw(b")")?;
    }
    out.end_line()
}

/// The runs of `old` that are not in `kept`, as (position, UIDs): the
/// 1-based position of the run's first message in the list as it stands
/// when the run is taken out, the runs before it being gone already.
pub fn removed_runs(old: &[u32], kept: &HashSet<u32>) -> Vec<(usize, Vec<u32>)> {
    runs_outside(old, kept, true)
}

/// The runs of `new` that were not in `had`, as (position, UIDs): the
/// 1-based position of the run's first message in `new`.
pub fn added_runs(new: &[u32], had: &HashSet<u32>) -> Vec<(usize, Vec<u32>)> {
    runs_outside(new, had, false)
}

/// The runs of adjacent messages of `list` outside `set`, each with the
/// 1-based position of its first message in `list`, less the messages of
/// the runs before it when `earlier_gone`.
fn runs_outside(list: &[u32], set: &HashSet<u32>, earlier_gone: bool) -> Vec<(usize, Vec<u32>)> {
    let mut runs: Vec<(usize, Vec<u32>)> = Vec::new();
    let mut outside = 0;
    let mut in_run = false;
    for (i, &uid) in list.iter().enumerate() {
        if set.contains(&uid) {
            in_run = false;
            continue;
        }
        match runs.last_mut() {
            Some((_, run)) if in_run => run.push(uid),
            _ => runs.push((i + 1 - if earlier_gone { outside } else { 0 }, vec![uid])),
        }
        in_run = true;
        outside += 1;
    }
    runs
}

/// An unordered (SEARCH) context's update: one pair, position 0 (§4.3.3,
/// §4.3.4: "MAY be zero"), the messages in mailbox order.
fn unordered(runs: Vec<(usize, Vec<u32>)>) -> Vec<(usize, Vec<u32>)> {
    let mut all: Vec<u32> = runs.into_iter().flat_map(|(_, uids)| uids).collect();
    if all.is_empty() {
        return Vec::new();
    }
    all.sort_unstable();
    vec![(0, all)]
}

/// The client's numbering: UIDs by sequence number.
fn client_uids(mailbox: &Mailbox) -> Vec<u32> {
    match mailbox.client_view() {
        Some(view) => view.to_vec(),
        None => mailbox.entries().iter().map(|e| e.uid.get()).collect(),
    }
}

/// What a search can see change in a mailbox whose texts never change:
/// the UID, flags and keywords of every message the client knows of
/// (ascending by UID, as the index is), and, hashed, the keyword names and
/// the client's numbering.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    messages: Vec<(u32, u8, u32)>,
    shape: u64,
}

/// What changed between two snapshots (same keyword names): the UIDs that
/// are new or whose flags or keywords changed, and the UIDs gone.
#[derive(Debug, Default, PartialEq, Eq)]
struct Changes {
    changed: HashSet<u32>,
    gone: HashSet<u32>,
}

impl Snapshot {
    fn of(mailbox: &Mailbox) -> Snapshot {
        let mut h = DefaultHasher::new();
        mailbox.keywords().hash(&mut h);
        mailbox.client_view().hash(&mut h);
        // Only what the client has been told of: mail folded in but not yet
        // announced is new when it is (a search does not see it before).
        let numbers = super::SeqNumbers::of(mailbox);
        let messages = mailbox
            .entries()
            .iter()
            .enumerate()
            .filter(|(index, _)| numbers.seq(*index).is_some())
            .map(|(_, e)| (e.uid.get(), e.flags.0, e.keywords))
            .collect();
        Snapshot {
            messages,
            shape: h.finish(),
        }
    }

    /// The changes from `self` to `now`; `None` when the keyword names or
    /// the numbering changed too (then everything runs again).
    fn changes(&self, now: &Snapshot) -> Option<Changes> {
        if self.shape != now.shape {
            return None;
        }
        let mut changes = Changes::default();
        let (mut old, mut new) = (
            self.messages.iter().peekable(),
            now.messages.iter().peekable(),
        );
        loop {
            match (old.peek(), new.peek()) {
                (None, None) => return Some(changes),
                (Some(a), Some(b)) if a.0 == b.0 => {
                    if a != b {
                        changes.changed.insert(b.0);
                    }
                    old.next();
                    new.next();
                }
                (Some(a), Some(b)) if a.0 > b.0 => {
                    changes.changed.insert(b.0);
                    new.next();
                }
                (Some(a), _) => {
                    changes.gone.insert(a.0);
                    old.next();
                }
                (None, Some(b)) => {
                    changes.changed.insert(b.0);
                    new.next();
                }
            }
        }
    }
}

/// Whether `key`'s answer for a message can change without the message
/// changing: sequence numbers and UID sets (`*`) move with the mailbox,
/// OLDER and YOUNGER with the clock.
fn depends_on_mailbox(key: &SearchKey) -> bool {
    match key {
        SearchKey::SequenceSet(_)
        | SearchKey::Uid(_)
        | SearchKey::Older(_)
        | SearchKey::Younger(_) => true,
        SearchKey::Not(inner) => depends_on_mailbox(inner),
        SearchKey::Or(a, b) => depends_on_mailbox(a) || depends_on_mailbox(b),
        SearchKey::And(keys) => keys.iter().any(depends_on_mailbox),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(uids: &[u32]) -> HashSet<u32> {
        uids.iter().copied().collect()
    }

    #[test]
    fn removed_runs_count_positions_after_earlier_removals() {
        // 10 20 30 40 50 60: take out 20 30 and 50.
        let old = [10, 20, 30, 40, 50, 60];
        let runs = removed_runs(&old, &set(&[10, 40, 60]));
        // 20 30 start at 2; then the list is 10 40 50 60, 50 at 3.
        assert_eq!(runs, vec![(2, vec![20, 30]), (3, vec![50])]);
        assert_eq!(removed_runs(&old, &set(&old)), vec![]);
        assert_eq!(removed_runs(&old, &set(&[])), vec![(1, old.to_vec())]);
        assert_eq!(removed_runs(&[], &set(&[])), vec![]);
    }

    #[test]
    fn added_runs_are_positions_in_the_new_result() {
        let new = [5, 10, 7, 40, 8, 9];
        let runs = added_runs(&new, &set(&[10, 40]));
        assert_eq!(runs, vec![(1, vec![5]), (3, vec![7]), (5, vec![8, 9])]);
        assert_eq!(added_runs(&new, &set(&new)), vec![]);
    }

    /// Applying the runs in order, as RFC 5267 §4.3.2 says a client must,
    /// turns the old result into the new one.
    #[test]
    fn runs_applied_in_order_rebuild_the_new_result() {
        let mut rng = 0x5eed_u64;
        let mut next = |n: u64| {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (rng >> 33) % n
        };
        for _ in 0..300 {
            // A "sort order" over 1..=12: a shuffled list; old and new are
            // subsets of it, so kept messages keep their relative order.
            let mut order: Vec<u32> = (1..=12).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, next(i as u64 + 1) as usize);
            }
            let old: Vec<u32> = order.iter().copied().filter(|_| next(2) == 0).collect();
            let new: Vec<u32> = order.iter().copied().filter(|_| next(2) == 0).collect();
            let mut list = old.clone();
            for (pos, run) in removed_runs(&old, &set(&new)) {
                assert_eq!(list.get(pos - 1..pos - 1 + run.len()), Some(&run[..]));
                list.drain(pos - 1..pos - 1 + run.len());
            }
            for (pos, run) in added_runs(&new, &set(&old)) {
                for (k, uid) in run.into_iter().enumerate() {
                    list.insert(pos - 1 + k, uid);
                }
            }
            assert_eq!(list, new, "old {old:?}");
        }
    }

    #[test]
    fn snapshot_changes_name_new_changed_and_gone_messages() {
        let snap = |messages: &[(u32, u8, u32)], shape| Snapshot {
            messages: messages.to_vec(),
            shape,
        };
        let before = snap(&[(1, 0, 0), (2, 1, 0), (4, 0, 0), (5, 0, 2)], 7);
        let now = snap(&[(1, 0, 0), (2, 3, 0), (3, 0, 0), (5, 0, 1), (6, 0, 0)], 7);
        assert_eq!(
            before.changes(&now),
            Some(Changes {
                changed: set(&[2, 3, 5, 6]),
                gone: set(&[4]),
            })
        );
        assert_eq!(before.changes(&before), Some(Changes::default()));
        assert_eq!(
            snap(&[(1, 0, 0)], 7).changes(&snap(&[], 7)),
            Some(Changes {
                changed: set(&[]),
                gone: set(&[1]),
            })
        );
        // Other keyword names or another numbering: everything again.
        assert_eq!(before.changes(&snap(&before.messages, 8)), None);
    }

    #[test]
    fn keys_that_move_without_the_message_run_in_full() {
        use crate::types::SequenceSet;
        let set = SequenceSet::single(std::num::NonZeroU32::MIN);
        assert!(!depends_on_mailbox(&SearchKey::And(vec![
            SearchKey::Seen,
            SearchKey::Not(Box::new(SearchKey::Subject("x".into()))),
        ])));
        for key in [
            SearchKey::SequenceSet(set.clone()),
            SearchKey::Uid(set.clone()),
            SearchKey::Older(5),
            SearchKey::Younger(5),
        ] {
            let nested = SearchKey::Or(
                Box::new(SearchKey::Seen),
                Box::new(SearchKey::Not(Box::new(key.clone()))),
            );
            assert!(
                depends_on_mailbox(&key) && depends_on_mailbox(&nested),
                "{key:?}"
            );
        }
    }

    #[test]
    fn unordered_updates_are_one_pair_at_position_zero_in_mailbox_order() {
        let runs = vec![(3, vec![9, 4]), (1, vec![2])];
        assert_eq!(unordered(runs), vec![(0, vec![2, 4, 9])]);
        assert_eq!(unordered(vec![]), vec![]);
    }

    fn live(numbering: Numbering, sorted: bool, result: &[u32]) -> Live {
        let criteria = SearchKey::All;
        Live {
            tag: "t".into(),
            numbering,
            program: if sorted {
                Query::Sort {
                    criteria: vec![],
                    charset: "UTF-8".into(),
                    search: criteria,
                }
            } else {
                Query::Search {
                    charset: None,
                    criteria,
                }
            },
            result: result.to_vec(),
        }
    }

    fn changes(live: &Live, new: &[u32], known: &[u32]) -> String {
        let mut buf = Vec::new();
        let mut out = ResponseWriter::new(&mut buf);
        write_changes(&mut out, live, new, known).unwrap();
        drop(out);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn search_changes_are_numbered_as_the_client_numbers() {
        let known = [10, 20, 30, 40, 50];
        let l = live(Numbering::Sequence, false, &[10, 20]);
        assert_eq!(
            changes(&l, &[20, 30, 40, 50], &known),
            "* ESEARCH (TAG \"t\") REMOVEFROM (0 1) ADDTO (0 3:5)\r\n"
        );
        let l = live(Numbering::Uid, false, &[10, 20]);
        assert_eq!(
            changes(&l, &[10, 30], &known),
            "* ESEARCH (TAG \"t\") UID REMOVEFROM (0 20) ADDTO (0 30)\r\n"
        );
        assert_eq!(changes(&l, &[10, 20], &known), "");
    }

    #[test]
    fn sort_changes_carry_positions() {
        let known = [10, 20, 30, 40, 50];
        // Sorted 50 30 10; becomes 50 40 20 10.
        let l = live(Numbering::Sequence, true, &[50, 30, 10]);
        assert_eq!(
            changes(&l, &[50, 40, 20, 10], &known),
            "* ESEARCH (TAG \"t\") REMOVEFROM (2 3) ADDTO (2 4,2)\r\n"
        );
    }
}
