//! The write path's interface: what commands may ask of an open mailbox
//! (flag changes, checkpoint, expunge, re-sync with the file) and of any
//! mailbox file (append, in [`super::append`]).
//!
//! The hard part is that several writers share the file: other sessions of
//! ours (a phone, a laptop and a webmail on one INBOX), the MTA, mutt, UW
//! imapd. The rules that keep everyone's changes:
//!
//! * **Pending changes are deltas, not states.** A STORE records "+\Seen on
//!   UID 7" ([`Delta`]); at a checkpoint, under the write locks, the index is
//!   first re-synced with the file and the deltas are re-applied on top of
//!   what the file says *now*. Session B never writes session A's flags back
//!   with a stale copy. `STORE FLAGS` is a replace, and last writer wins, as
//!   RFC 3501 §6.4.6 implies.
//! * **What the session was told is tracked apart from the index.** A sync
//!   under a checkpoint may fold in expunges made by others; the session
//!   learns about them from the next [`Mailbox::refresh`] (or from
//!   [`Mailbox::expunge`]'s result), in its own numbering, so that EXPUNGE
//!   responses are only sent where RFC 3501 §7.4.1 allows them.
//! * **When changes reach the file.** Flag changes at CHECK, CLOSE, EXPUNGE,
//!   LOGOUT, a quiet period, a kiss of death ([`Mailbox::checkpoint`]) — as
//!   UW does. UIDs of new messages, and `O` for every message this
//!   read-write session has seen (UW semantics: it is no longer \Recent for
//!   anyone), are written at the first [`Mailbox::refresh`] that finds them,
//!   *before* the session reports them: a UID a client has seen is always
//!   recorded in the file, so it can never be handed out again, even if the
//!   process is killed right after, and exactly one session (the one whose
//!   write recorded the `O`) sees a new message as \Recent.
//! * **UIDs are written with the mailbox's last UID.** `X-IMAPbase` (or the
//!   pseudo-message's `X-IMAP`) is updated in the same journaled operation as
//!   any `X-UID` beyond it, so the file never holds a UID above its recorded
//!   last UID, whatever instant a crash happens at.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};

use super::index::{FileMeta, Index, MAX_KEYWORD_OCTETS, MAX_KEYWORDS};
use super::journal::{Plan, PlanKind};
use super::lock::{self, LockMode};
use super::mmap::MailData;
use super::plan::{self, OnDisk, STORED, Target};
use super::render::{self, MetaLine};
use super::rewrite::{self, WriteError};
use super::{Access, LockSettings, Mailbox, StoreError};
use crate::types::{SequenceSet, SystemFlags, Uid, UidValidity};

/// How STORE combines the given flags with the message's (RFC 3501 §6.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagChange {
    Replace,
    Add,
    Remove,
}

/// What changed in the file since this session last looked (another session
/// of ours, the MTA, procmail, mutt...). Indices are 0-based.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refresh {
    /// Messages that are gone, as indices in the numbering *before* this
    /// refresh, ascending. (Send `* n EXPUNGE` for them in descending order, or
    /// ascending while renumbering, per RFC 3501 §7.4.1.)
    pub expunged: Vec<usize>,
    /// How many messages were added at the end (after the expunges).
    pub appended: usize,
    /// Messages whose flags or keywords changed on disk, as indices *after*
    /// the expunges, ascending.
    pub flags_changed: Vec<usize>,
    /// New keywords were declared: FLAGS / PERMANENTFLAGS must be sent again.
    pub keywords_changed: bool,
}

impl Refresh {
    pub fn is_empty(&self) -> bool {
        self.expunged.is_empty()
            && self.appended == 0
            && self.flags_changed.is_empty()
            && !self.keywords_changed
    }
}

/// A message to append: the client's bytes (CRLF or LF; converted to LF and
/// From-quoted when written), its flags and keywords, and its INTERNALDATE
/// (`None` = now).
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub bytes: &'a [u8],
    pub flags: SystemFlags,
    pub keywords: Vec<String>,
    pub internal_date: Option<DateTime<FixedOffset>>,
}

/// Where appended messages went (RFC 4315 APPENDUID / COPYUID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub uid_validity: UidValidity,
    /// One UID per message, in order.
    pub uids: Vec<Uid>,
}

pub use super::append::{append, create};

/// The client-visible system flags (what deltas and STORE deal with).
pub(crate) const VISIBLE: SystemFlags = SystemFlags(
    SystemFlags::SEEN.0
        | SystemFlags::ANSWERED.0
        | SystemFlags::FLAGGED.0
        | SystemFlags::DELETED.0
        | SystemFlags::DRAFT.0,
);

/// How long [`Mailbox::refresh`] waits for a lock before it gives up for
/// this round (it runs before every tagged response; a busy lock must not
/// stall a NOOP for the full write timeout).
const REFRESH_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// A file's identity and change stamp: any write changes size, mtime or
/// ctime (our writers make mtime strictly increase, see rewrite.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: i128,
    pub ctime: i128,
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Stamp {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime: ns(meta.mtime(), meta.mtime_nsec()),
            ctime: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// This process's last append (APPEND and COPY go through
/// [`append`], which knows nothing of the session's open mailbox): the
/// file's stamp just before and just after it, and the same-length patches
/// it made (message 1's metadata). The session's next re-sync uses it to
/// read only what the append touched (refresh.rs); any other writer in
/// between changes the stamp (our writers make mtime strictly increase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnAppend {
    pub(crate) before: Stamp,
    pub(crate) after: Stamp,
    /// File ranges patched in place.
    pub(crate) patches: Vec<std::ops::Range<u64>>,
}

static LAST_APPEND: std::sync::Mutex<Option<OwnAppend>> = std::sync::Mutex::new(None);

/// Remembers `append` as this process's last one.
pub(crate) fn record_own_append(append: Option<OwnAppend>) {
    if let Ok(mut last) = LAST_APPEND.lock() {
        *last = append;
    }
}

/// The patches of our own last append, if it took the file from `before`
/// to `after` with nothing else in between.
pub(crate) fn own_append(before: Stamp, after: Stamp) -> Option<Vec<std::ops::Range<u64>>> {
    let last = LAST_APPEND.lock().ok()?;
    last.as_ref()
        .filter(|a| a.before == before && a.after == after)
        .map(|a| a.patches.clone())
}

/// A pending change of one message's flags and keywords.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Delta {
    /// `STORE FLAGS`: start from these instead of the file's.
    replace: Option<(SystemFlags, u32)>,
    add: SystemFlags,
    remove: SystemFlags,
    add_keywords: u32,
    remove_keywords: u32,
}

impl Delta {
    fn record(&mut self, change: FlagChange, flags: SystemFlags, keywords: u32) {
        match change {
            FlagChange::Replace => {
                *self = Delta {
                    replace: Some((flags, keywords)),
                    ..Delta::default()
                }
            }
            FlagChange::Add => {
                self.add.insert(flags);
                self.remove.remove(flags);
                self.add_keywords |= keywords;
                self.remove_keywords &= !keywords;
            }
            FlagChange::Remove => {
                self.remove.insert(flags);
                self.add.remove(flags);
                self.remove_keywords |= keywords;
                self.add_keywords &= !keywords;
            }
        }
    }

    /// The visible flags and keywords after this delta, given the file's.
    pub(crate) fn apply(&self, flags: SystemFlags, keywords: u32) -> (SystemFlags, u32) {
        let (base, base_keywords) = self.replace.unwrap_or((flags, keywords));
        let flags = SystemFlags(((base.0 | self.add.0) & !self.remove.0) & VISIBLE.0);
        let keywords = (base_keywords | self.add_keywords) & !self.remove_keywords;
        (flags, keywords)
    }

    /// Renumbers keyword bits (after the keyword list was merged with the file's).
    pub(crate) fn remap(&mut self, map: &dyn Fn(u32) -> u32) {
        if let Some((_, k)) = &mut self.replace {
            *k = map(*k);
        }
        self.add_keywords = map(self.add_keywords);
        self.remove_keywords = map(self.remove_keywords);
    }
}

/// The write path's per-mailbox state (see the module doc).
#[derive(Debug, Default)]
pub struct WriteState {
    /// Per index entry: what the file records.
    pub(crate) disk: Vec<OnDisk>,
    /// Pending changes by UID.
    pub(crate) pending: BTreeMap<u32, Delta>,
    /// The UIDs the session knows, in its numbering, when they differ from
    /// the index (expunges or appends not yet reported).
    pub(crate) reported: Option<Vec<u32>>,
    /// Known messages whose flags changed in the file, not yet reported.
    pub(crate) flags_dirty: BTreeSet<u32>,
    pub(crate) keywords_changed: bool,
    /// The file as last synced.
    pub(crate) stamp: Option<Stamp>,
    /// An operation could not be finished: the file is mid-rewrite until the
    /// next recovery; this session must not go on.
    pub(crate) poisoned: Option<String>,
}

impl WriteState {
    pub(crate) fn new(index: &Index, stamp: Stamp) -> WriteState {
        WriteState {
            disk: disk_states(index),
            stamp: Some(stamp),
            ..WriteState::default()
        }
    }
}

/// What the file records for each entry of `index`.
pub(crate) fn disk_states(index: &Index) -> Vec<OnDisk> {
    index
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| OnDisk {
            flags: SystemFlags(e.flags.0 & STORED.0),
            keywords: e.keywords,
            recorded: index.recorded.get(i).copied().unwrap_or(false),
        })
        .collect()
}

impl Mailbox {
    /// Looks for changes made to the file by others, and folds them into the
    /// index. Cheap when nothing changed (one fstat). Errors with
    /// [`StoreError::Changed`] when the file changed in a way that cannot be
    /// reconciled (the session must end with `* BYE`).
    ///
    /// In a read-write session this is also when the UIDs of new messages and
    /// their `O` are written (see the module doc), together with any pending
    /// flag changes; if that write cannot be done now, the UIDs are still
    /// reported (computed, as UW does) and written at the next try.
    pub fn refresh(&mut self) -> Result<Refresh, StoreError> {
        self.fail_if_poisoned()?;
        self.absorb_direct_edits();
        let settings = LockSettings {
            timeout: self.locking.timeout.min(REFRESH_LOCK_TIMEOUT),
            ..self.locking.clone()
        };
        if self.file_changed()? {
            match self.with_file(|mailbox, file| {
                let _locks = lock::acquire(&mailbox.path, file, LockMode::Read, &settings)?;
                mailbox.sync_locked(file)
            }) {
                Ok(()) => {}
                Err(StoreError::Locked { .. }) => {
                    log::info!("{}: busy, new mail is looked at later", self.path.display());
                }
                Err(e) => return Err(e),
            }
        }
        if self.access == Access::ReadWrite && self.claim_needed() {
            match self.write_changes(None, &settings) {
                Ok(_) => {}
                Err(e @ StoreError::Changed { .. }) => return Err(e),
                Err(e) => log::info!("{}: new UIDs not written yet: {e}", self.path.display()),
            }
        }
        Ok(self.take_report())
    }

    /// Changes message `index`'s flags in memory, recorded as a pending change
    /// for the next checkpoint. Keywords not yet declared in the mailbox are
    /// declared (UW's limit: 30 per mailbox; past it, `StoreError::Limit`).
    /// Returns whether the message's flags changed.
    pub fn change_flags(
        &mut self,
        index: usize,
        change: FlagChange,
        flags: SystemFlags,
        keywords: &[String],
    ) -> Result<bool, StoreError> {
        if self.access == Access::ReadOnly {
            return Err(StoreError::ReadOnly {
                path: self.path.clone(),
            });
        }
        let Some(uid) = self.index.entries.get(index).map(|e| e.uid.get()) else {
            return Ok(false);
        };
        let mut bits = 0u32;
        for keyword in keywords {
            bits |= 1 << self.declare_keyword(keyword)?;
        }
        let flags = SystemFlags(flags.0 & VISIBLE.0);
        let Some(entry) = self.index.entries.get_mut(index) else {
            return Ok(false);
        };
        let before = (SystemFlags(entry.flags.0 & VISIBLE.0), entry.keywords);
        let mut op = Delta::default();
        op.record(change, flags, bits);
        let after = op.apply(before.0, before.1);
        entry.flags = SystemFlags(after.0.0 | (entry.flags.0 & !VISIBLE.0));
        entry.keywords = after.1;
        self.state
            .pending
            .entry(uid)
            .or_default()
            .record(change, flags, bits);
        Ok(before != after)
    }

    /// Whether a checkpoint has anything to write.
    pub fn has_pending_changes(&self) -> bool {
        if self.access == Access::ReadOnly || self.file.is_none() {
            return false;
        }
        !self.state.pending.is_empty() || self.claim_needed() || self.has_direct_edits()
    }

    /// Writes pending flag changes (and UIDs not yet in the file) to the file:
    /// CHECK, CLOSE, LOGOUT, a quiet period, before an expunge.
    ///
    /// Changes made by others are folded in first; expunges among them are
    /// reported by the next [`Mailbox::refresh`], which the caller must call
    /// before it uses sequence numbers again.
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        if self.access == Access::ReadOnly {
            return Ok(());
        }
        self.fail_if_poisoned()?;
        self.absorb_direct_edits();
        if !self.has_pending_changes() {
            return Ok(());
        }
        let settings = self.locking.clone();
        self.write_changes(None, &settings).map(drop)
    }

    /// Removes the messages flagged \Deleted — only those whose UIDs are in
    /// `uids` when given (UID EXPUNGE). Returns their indices before removal,
    /// ascending.
    ///
    /// The indices are in the session's numbering (what the last refresh
    /// reported) and also cover messages another program removed meanwhile:
    /// every message that left the session's view during the call, so that
    /// one `* n EXPUNGE` per index (descending) brings the client up to date.
    /// Messages added meanwhile are reported by the next refresh.
    pub fn expunge(&mut self, uids: Option<&SequenceSet>) -> Result<Vec<usize>, StoreError> {
        if self.access == Access::ReadOnly {
            return Err(StoreError::ReadOnly {
                path: self.path.clone(),
            });
        }
        self.fail_if_poisoned()?;
        self.absorb_direct_edits();
        let settings = self.locking.clone();
        self.write_changes(Some(uids), &settings)?;
        let Some(reported) = self.state.reported.take() else {
            return Ok(Vec::new());
        };
        let current: BTreeSet<u32> = self.index.entries.iter().map(|e| e.uid.get()).collect();
        let mut removed = Vec::new();
        let mut remaining = Vec::with_capacity(reported.len());
        for (i, uid) in reported.iter().enumerate() {
            if current.contains(uid) {
                remaining.push(*uid);
            } else {
                removed.push(i);
            }
        }
        let same = remaining.len() == self.index.entries.len()
            && remaining
                .iter()
                .zip(&self.index.entries)
                .all(|(u, e)| *u == e.uid.get());
        if !same {
            self.state.reported = Some(remaining);
        }
        Ok(removed)
    }

    // ---- internals shared with refresh.rs and append.rs ----

    fn fail_if_poisoned(&self) -> Result<(), StoreError> {
        match &self.state.poisoned {
            Some(reason) => Err(StoreError::Changed {
                path: self.path.clone(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The bit of `keyword` in this mailbox, declaring it if it is new.
    fn declare_keyword(&mut self, keyword: &str) -> Result<usize, StoreError> {
        if let Some(i) = self
            .index
            .keywords
            .iter()
            .position(|k| k.eq_ignore_ascii_case(keyword))
        {
            return Ok(i);
        }
        let limit = |reason: String| StoreError::Limit {
            path: self.path.clone(),
            reason,
        };
        if keyword.len() > MAX_KEYWORD_OCTETS || keyword.is_empty() {
            return Err(limit(format!(
                "Keyword too long (at most {MAX_KEYWORD_OCTETS} octets)"
            )));
        }
        if keyword.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(limit("Keyword is not an atom".into()));
        }
        if self.index.keywords.len() >= MAX_KEYWORDS {
            return Err(limit(format!(
                "Too many keywords in this mailbox (at most {MAX_KEYWORDS})"
            )));
        }
        self.index.keywords.push(keyword.to_owned());
        self.state.keywords_changed = true;
        Ok(self.index.keywords.len() - 1)
    }

    /// The flags and keywords the session should see for entry `i`: the
    /// file's with the pending delta applied.
    fn expected(&self, i: usize) -> Option<(SystemFlags, u32)> {
        let entry = self.index.entries.get(i)?;
        let disk = self.state.disk.get(i)?;
        let base = (SystemFlags(disk.flags.0 & VISIBLE.0), disk.keywords);
        Some(match self.state.pending.get(&entry.uid.get()) {
            Some(delta) => delta.apply(base.0, base.1),
            None => base,
        })
    }

    fn has_direct_edits(&self) -> bool {
        self.index.entries.iter().enumerate().any(|(i, e)| {
            self.expected(i)
                .is_some_and(|x| x != (SystemFlags(e.flags.0 & VISIBLE.0), e.keywords))
        })
    }

    /// Flags set through [`Mailbox::entry_mut`] (e.g. the implicit \Seen of a
    /// body fetch) become deltas like any STORE.
    fn absorb_direct_edits(&mut self) {
        for i in 0..self.index.entries.len() {
            let (Some(expected), Some(entry)) = (self.expected(i), self.index.entries.get(i))
            else {
                continue;
            };
            let actual = (SystemFlags(entry.flags.0 & VISIBLE.0), entry.keywords);
            if actual == expected {
                continue;
            }
            let uid = entry.uid.get();
            let delta = self.state.pending.entry(uid).or_default();
            let added = SystemFlags(actual.0.0 & !expected.0.0);
            let removed = SystemFlags(expected.0.0 & !actual.0.0);
            delta.record(FlagChange::Add, added, actual.1 & !expected.1);
            delta.record(FlagChange::Remove, removed, expected.1 & !actual.1);
        }
    }

    /// Some message lacks its `O` or its recorded UID, or the mailbox
    /// metadata is not what the file says: a read-write session writes them.
    fn claim_needed(&self) -> bool {
        self.file.is_some()
            && !self.index.entries.is_empty()
            && (self.index.metadata_unsaved
                || self
                    .state
                    .disk
                    .iter()
                    .any(|d| !d.recorded || !d.flags.contains(SystemFlags::OLD)))
    }

    /// Runs `work` with the file taken out of `self` (so that a lock guard
    /// borrowing it can live alongside `&mut self`), and puts it back unless
    /// `work` replaced it.
    pub(crate) fn with_file<T>(
        &mut self,
        work: impl FnOnce(&mut Mailbox, &std::fs::File) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Some(file) = self.file.take() else {
            return Err(StoreError::Missing {
                path: self.path.clone(),
            });
        };
        let result = work(self, &file);
        if self.file.is_none() {
            self.file = Some(file);
        }
        result
    }

    /// Writes everything pending (and expunges if `expunge` is given) under
    /// the write locks. Returns whether anything was written.
    fn write_changes(
        &mut self,
        expunge: Option<Option<&SequenceSet>>,
        settings: &LockSettings,
    ) -> Result<bool, StoreError> {
        self.reopen_if_replaced()?;
        if self.file.is_none() {
            return Ok(false);
        }
        self.with_file(|mailbox, file| mailbox.write_changes_with(file, expunge, settings))
    }

    fn write_changes_with(
        &mut self,
        file: &std::fs::File,
        expunge: Option<Option<&SequenceSet>>,
        settings: &LockSettings,
    ) -> Result<bool, StoreError> {
        let path = self.path.clone();
        let io_error = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        let mut guard = lock::acquire(&path, file, LockMode::Write, settings)?;
        // Another session's crash is finished first (it may have left this
        // very file mid-rewrite).
        rewrite::recover(&self.path, file, &mut || guard.touch()).map_err(io_error)?;
        self.sync_locked(file)?;
        let targets = self.targets(expunge);
        let clock = self.clock();
        let meta_keywords = self.index.keywords.clone();
        let meta = MetaLine {
            uid_validity: self.index.uid_validity.get(),
            last_uid: self.index.uid_next.get().saturating_sub(1),
            keywords: &meta_keywords,
        };
        let host = hostname();
        let now = now_local(clock);
        let new_pseudo = |m: &MetaLine<'_>| render::pseudo_message(now, &host, m);
        let mut built = plan::build(&plan::Input {
            data: self.data.bytes(),
            entries: &self.index.entries,
            disk: &self.state.disk,
            targets: &targets,
            meta,
            file_meta: &self.index.file_meta,
            pseudo: self.index.pseudo_message,
            new_pseudo: &new_pseudo,
        });
        if built.is_empty() {
            // Nothing differs from the file: the deltas are all in it already.
            self.state.pending.clear();
            return Ok(false);
        }
        let file_meta = file.metadata().map_err(io_error)?;
        let old_len = self.data.bytes().len() as u64;
        let (check_head, check_tail) =
            rewrite::check_bytes(self.data.bytes(), built.start, old_len);
        let plan = Plan {
            kind: PlanKind::Rewrite,
            dev: file_meta.dev(),
            ino: file_meta.ino(),
            old_len,
            start: built.start,
            new_len: built.new_len,
            // Moved, not copied: the rendered blocks of a first claim of a
            // large mailbox are megabytes (after_write needs only the layout).
            patches: std::mem::take(&mut built.patches),
            pieces: std::mem::take(&mut built.pieces),
            literals: std::mem::take(&mut built.literals),
            check_head,
            check_tail,
        };
        log::debug!(
            "{}: writing {} patches, tail from {} ({} -> {} bytes)",
            self.path.display(),
            plan.patches.len(),
            plan.start,
            plan.old_len,
            plan.new_len
        );
        match rewrite::execute(&self.path, file, plan, &mut || guard.touch()) {
            Ok(()) => {}
            Err(WriteError::NotStarted(e)) => return Err(self.write_error(e)),
            Err(WriteError::Unfinished(e)) => {
                let reason = format!("a rewrite could not be finished: {e}");
                self.state.poisoned = Some(reason);
                return Err(io_error(e));
            }
        }
        self.after_write(file, &built, &targets, &meta_keywords)?;
        drop(guard);
        drop(built);
        drop(targets);
        super::mmap::release_free_memory();
        Ok(true)
    }

    /// ENOSPC, EDQUOT and EFBIG are "no space" (nothing was changed); other
    /// errors are plain I/O errors.
    pub(crate) fn write_error(&self, e: std::io::Error) -> StoreError {
        match e.raw_os_error() {
            Some(nix::libc::ENOSPC | nix::libc::EDQUOT | nix::libc::EFBIG) => StoreError::NoSpace {
                path: self.path.clone(),
                source: e,
            },
            _ => StoreError::Io {
                path: self.path.clone(),
                source: e,
            },
        }
    }

    /// What each message must look like: the file's flags with the deltas
    /// applied, `O` set (this read-write session has seen it), removed if
    /// expunging and \Deleted (and in `uids` for UID EXPUNGE).
    fn targets(&self, expunge: Option<Option<&SequenceSet>>) -> Vec<Target> {
        let largest = self.index.entries.last().map_or(0, |e| e.uid.get());
        (0..self.index.entries.len())
            .map(|i| {
                let (flags, keywords) = self.expected(i).unwrap_or_default();
                let uid = self.index.entries.get(i).map_or(0, |e| e.uid.get());
                let remove = match expunge {
                    Some(set) => {
                        flags.contains(SystemFlags::DELETED)
                            && set.is_none_or(|s| s.contains(uid, largest))
                    }
                    None => false,
                };
                Target {
                    flags: SystemFlags(flags.0 | SystemFlags::OLD.0),
                    keywords,
                    remove,
                }
            })
            .collect()
    }

    /// The index after a successful write: new offsets, flags as written,
    /// removed messages gone, the new bytes mapped.
    fn after_write(
        &mut self,
        file: &std::fs::File,
        built: &plan::Built,
        targets: &[Target],
        keywords: &[String],
    ) -> Result<(), StoreError> {
        let io_error = |source| StoreError::Io {
            path: self.path.clone(),
            source,
        };
        let old_uids: Vec<u32> = self.index.entries.iter().map(|e| e.uid.get()).collect();
        let mut entries = Vec::with_capacity(self.index.entries.len());
        let mut disk = Vec::with_capacity(entries.capacity());
        let mut recorded = Vec::with_capacity(entries.capacity());
        let mut runs = Vec::with_capacity(entries.capacity());
        let mut rewritten = Vec::new();
        for (i, entry) in self.index.entries.iter().enumerate() {
            let (Some(Some((offset, header_length, length))), Some(target), Some(old)) =
                (built.layout.get(i), targets.get(i), self.state.disk.get(i))
            else {
                continue;
            };
            let written = built.written.get(i).copied().unwrap_or(false);
            let now = if written {
                OnDisk {
                    flags: target.flags,
                    keywords: target.keywords,
                    recorded: true,
                }
            } else {
                *old
            };
            let session_only = SystemFlags(entry.flags.0 & SystemFlags::RECENT.0);
            let mut e = entry.clone();
            e.offset = *offset;
            e.header_length = *header_length;
            e.length = *length;
            e.flags = SystemFlags(
                (target.flags.0 & VISIBLE.0) | (now.flags.0 & SystemFlags::OLD.0) | session_only.0,
            );
            e.keywords = target.keywords;
            if written {
                rewritten.push(entries.len());
            }
            entries.push(e);
            disk.push(now);
            recorded.push(now.recorded);
            runs.push(self.index.meta_runs.get(i).copied().unwrap_or((0, 0)));
        }
        if entries.len() != old_uids.len() && self.state.reported.is_none() {
            self.state.reported = Some(old_uids);
        }
        self.index.entries = entries;
        self.index.recorded = recorded;
        self.index.meta_runs = runs;
        self.state.disk = disk;
        self.state.pending.clear();
        self.index.pseudo_message = built.pseudo_after;
        if built.meta_written {
            self.index.file_meta = FileMeta {
                uid_validity: Some(self.index.uid_validity),
                last_uid: self.index.uid_next.get().saturating_sub(1),
                keywords: keywords.to_vec(),
            };
        }
        self.index.metadata_unsaved = metadata_unsaved(&self.index);
        let meta = file.metadata().map_err(io_error)?;
        self.data = MailData::load(file, meta.len(), self.source).map_err(io_error)?;
        self.state.stamp = Some(Stamp::of(&meta));
        // Where the rewritten blocks are now.
        for i in rewritten {
            let Some(entry) = self.index.entries.get(i) else {
                continue;
            };
            let start = entry.offset as usize;
            let header = self
                .data
                .bytes()
                .get(start..start + entry.header_length as usize)
                .unwrap_or(&[]);
            if let Some(run) = self.index.meta_runs.get_mut(i) {
                *run = super::index::meta_run(header);
            }
        }
        Ok(())
    }
}

/// Some UID, the UIDVALIDITY, the last UID or a keyword is not (yet) what the
/// file records.
pub(crate) fn metadata_unsaved(index: &Index) -> bool {
    if index.entries.is_empty() {
        return false;
    }
    index.recorded.iter().any(|r| !r)
        || index.file_meta.uid_validity != Some(index.uid_validity)
        || index.file_meta.last_uid < index.uid_next.get().saturating_sub(1)
        || index.file_meta.keywords != index.keywords
}

/// The local time now (or the fixed clock's), for the pseudo-message.
fn now_local(clock: super::index::Clock) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(i32::from(clock.local_offset_minutes) * 60)
        .unwrap_or_else(|| chrono::Offset::fix(&chrono::Utc));
    let utc = DateTime::from_timestamp(i64::from(clock.now), 0).unwrap_or_default();
    utc.with_timezone(&offset)
}

pub(crate) fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_compose_like_store() {
        let s = SystemFlags::SEEN;
        let f = SystemFlags::FLAGGED;
        let d = SystemFlags::DELETED;
        let mut delta = Delta::default();
        delta.record(FlagChange::Add, s, 0b01);
        delta.record(FlagChange::Remove, f, 0b10);
        // Applied on top of whatever the file says now.
        assert_eq!(
            delta.apply(SystemFlags(f.0 | d.0), 0b10),
            (SystemFlags(s.0 | d.0), 0b01)
        );
        delta.record(FlagChange::Remove, s, 0);
        assert_eq!(
            delta.apply(SystemFlags(s.0), 0),
            (SystemFlags::default(), 0b01)
        );
        delta.record(FlagChange::Replace, f, 0b100);
        assert_eq!(delta.apply(SystemFlags(s.0 | d.0), 0b11), (f, 0b100));
        delta.record(FlagChange::Add, d, 0);
        assert_eq!(
            delta.apply(SystemFlags::default(), 0),
            (SystemFlags(f.0 | d.0), 0b100)
        );
        // OLD and RECENT never come out of a delta.
        assert_eq!(
            Delta::default()
                .apply(SystemFlags(SystemFlags::OLD.0 | SystemFlags::RECENT.0), 0)
                .0,
            SystemFlags::default()
        );
    }
}
