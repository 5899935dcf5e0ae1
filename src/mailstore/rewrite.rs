//! Carrying out a [`Plan`] on the mailbox file, in place and crash-safe, and
//! finishing (or undoing) one that a crash interrupted.
//!
//! The hard part is that the file is rewritten *in place* (inode, owner, mode
//! and other programs' open fds must survive; locking.md §7.5), so there is
//! no old copy to fall back on, and yet a kill -9, a power loss or a full disk
//! at any instant must leave every message present exactly once. The rules:
//!
//! 1. **Nothing in the mailbox changes before the journal is durable.** The
//!    plan (patches, and the new tail as copy/literal pieces) is written to
//!    the journal, fsynced, and the journal's directory fsynced.
//! 2. **Space is reserved first.** A plan that grows the file extends it
//!    (fallocate) and fsyncs before any byte is overwritten, so ENOSPC,
//!    EDQUOT and EFBIG (RLIMIT_FSIZE; SIGXFSZ is ignored) end the operation
//!    with nothing changed; the extension is then cut off again.
//! 3. **The tail is written in windows, forward.** Before window k (a range
//!    of destination offsets) is written, a WINDOW record is made durable
//!    saying that windows `< k` are complete and holding every old byte that
//!    window k overwrites but that window k or a later one still has to read.
//!    A moved message is thus always readable from either its old place, the
//!    journal, or its new place. When the data only moves toward the start
//!    by at least a window (an expunge after a few MB have been removed),
//!    nothing needs saving: compaction costs one write of the tail, and only
//!    the first, small shifts are written twice.
//! 4. **Only then truncate**, after writing and fsyncing a NUL at the new end
//!    and recording that (MARKED): after a crash, that NUL tells "not yet
//!    truncated" apart from "truncated, then another program appended".
//!
//! Recovery ([`recover`]) runs under the write locks whenever a journal is
//! found (every open, every write): it re-applies the patches (each byte must
//! be its old or its new value, else the file was changed by someone else and
//! the journal is dropped), redoes the last window that may be incomplete
//! using the saved bytes, and finishes. Mail delivered by another program
//! after the crash (once our stale dotlock was broken) is kept: it sits after
//! the old end, and is moved down to the new end by a follow-up plan instead
//! of being cut off. An APPEND is undone rather than finished (the client
//! never got its OK and will retry), patches included, again keeping later
//! deliveries.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::time::TimeSpec;

use super::journal::{self, Journal, Piece, Plan, PlanKind, Saved};
use super::sys;

/// The default window: small shifts are saved to the journal window by window.
const WINDOW: u64 = 8 << 20;
/// Once data moves toward the start by at least this much, a window is as
/// large as the shift (up to [`MAX_WINDOW`]) and needs no saving.
const BIG_SHIFT: u64 = 1 << 20;
const MAX_WINDOW: u64 = 8 << 20;
/// How much of the old bytes at the tail's start and at the old end a plan
/// keeps for checking, before resuming, that the file is still the one planned.
pub const CHECK_BYTES: u64 = 256;

/// Why a write did not happen or did not finish.
#[derive(Debug)]
pub enum WriteError {
    /// Nothing in the mailbox was changed (no journal could be written, the
    /// file could not be extended, ...).
    NotStarted(io::Error),
    /// The mailbox is part-way through the operation; its journal remains and
    /// the next recovery finishes it.
    Unfinished(io::Error),
}

impl WriteError {
    pub fn io(&self) -> &io::Error {
        match self {
            WriteError::NotStarted(e) | WriteError::Unfinished(e) => e,
        }
    }
}

/// What [`recover`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovered {
    /// No journal.
    Nothing,
    /// A journal whose operation never touched the file, or that does not
    /// belong to this file: removed.
    Discarded,
    /// An interrupted rewrite was completed.
    Completed,
    /// An interrupted append was undone.
    RolledBack,
}

/// Runs a rewrite `plan` on `file` (the mailbox at `path`, under the write
/// locks). `touch` is called between windows (to keep the dotlock fresh).
pub fn execute(
    path: &Path,
    file: &File,
    plan: Plan,
    touch: &mut dyn FnMut(),
) -> Result<(), WriteError> {
    check_plan(&plan).map_err(WriteError::NotStarted)?;
    check_file_size_limit(plan.new_len).map_err(WriteError::NotStarted)?;
    let mtime_before = file
        .metadata()
        .map_err(WriteError::NotStarted)?
        .mtime_nsec_total();
    let journal = Journal::create(path, &plan).map_err(WriteError::NotStarted)?;
    let mut run = Run::new(file, journal, plan, Vec::new());
    run.mtime_before = mtime_before;
    // All the space the operation needs, in the mailbox and in the journal,
    // is reserved before the mailbox is touched.
    if let Err(e) = run.reserve_journal(0).and_then(|()| run.extend()) {
        run.abandon();
        return Err(WriteError::NotStarted(e));
    }
    if let Err(e) = run.apply(0, false, touch) {
        log::error!(
            "{}: rewrite interrupted ({e}); completing it from the journal",
            path.display()
        );
        return match recover(path, file, touch) {
            Ok(_) => Ok(()),
            Err(again) => {
                log::error!("{}: recovery failed too: {again}", path.display());
                Err(WriteError::Unfinished(e))
            }
        };
    }
    Ok(())
}

/// Appends `data` at the end of `file` (length `plan.old_len`) and applies the
/// plan's patches, journaled so that a crash undoes both.
pub fn execute_append(path: &Path, file: &File, plan: Plan, data: &[u8]) -> Result<(), WriteError> {
    debug_assert_eq!(plan.kind, PlanKind::Append);
    check_plan(&plan).map_err(WriteError::NotStarted)?;
    check_file_size_limit(plan.new_len).map_err(WriteError::NotStarted)?;
    let mtime_before = file
        .metadata()
        .map_err(WriteError::NotStarted)?
        .mtime_nsec_total();
    let journal = Journal::create(path, &plan).map_err(WriteError::NotStarted)?;
    let mut run = Run::new(file, journal, plan, Vec::new());
    run.mtime_before = mtime_before;
    if let Err(e) = run.extend() {
        run.abandon();
        return Err(WriteError::NotStarted(e));
    }
    let written = run
        .apply_patches()
        .and_then(|()| sys::write_all_at(file, data, run.plan.old_len))
        .and_then(|()| sys::sync(file));
    if let Err(e) = written {
        log::error!("{}: append failed ({e}); undoing it", path.display());
        return match recover(path, file, &mut || {}) {
            Ok(_) => Err(WriteError::NotStarted(e)),
            Err(again) => {
                log::error!("{}: undoing the append failed: {again}", path.display());
                Err(WriteError::Unfinished(e))
            }
        };
    }
    run.set_times(TimesAfter::Append);
    match run.journal.take().map_or(Ok(()), Journal::finish) {
        Ok(()) => Ok(()),
        Err(e) => {
            // The journal is still there, so the append is not committed:
            // undo it now rather than have a later recovery undo it after
            // the client was told it worked.
            log::error!(
                "{}: cannot remove the append journal ({e}); undoing",
                path.display()
            );
            match recover(path, file, &mut || {}) {
                Ok(_) => Err(WriteError::NotStarted(e)),
                Err(_) => Err(WriteError::Unfinished(e)),
            }
        }
    }
}

/// Finishes or undoes the operation of a journal left for the mailbox at
/// `path` (open as `file`, under the write locks), if there is one.
pub fn recover(path: &Path, file: &File, touch: &mut dyn FnMut()) -> io::Result<Recovered> {
    let Some(journal_path) = journal::find(path, file)? else {
        return Ok(Recovered::Nothing);
    };
    let Some((state, valid_len)) = journal::read(&journal_path)? else {
        log::warn!(
            "{}: removing an incomplete journal (nothing was changed)",
            journal_path.display()
        );
        sys::remove(&journal_path)?;
        return Ok(Recovered::Discarded);
    };
    let meta = file.metadata()?;
    let plan = &state.plan;
    let discard = |why: &str| -> io::Result<Recovered> {
        log::error!(
            "{}: journal {} dropped: {why}",
            path.display(),
            journal_path.display()
        );
        sys::remove(&journal_path)?;
        Ok(Recovered::Discarded)
    };
    if (meta.dev(), meta.ino()) != (plan.dev, plan.ino) {
        return discard("it belongs to another file");
    }
    if let Err(e) = check_plan(plan) {
        return discard(&e.to_string());
    }
    if !patches_consistent(file, plan)? {
        return discard("the file was changed by another program");
    }
    let mut journal = Journal::reopen(&journal_path)?;
    journal.cut_to(valid_len)?;
    let resume_window = state.window.unwrap_or(0);
    let cur = meta.len();
    log::warn!(
        "{}: recovering an interrupted {} from {}",
        path.display(),
        match plan.kind {
            PlanKind::Rewrite => "rewrite",
            PlanKind::Append => "append",
        },
        journal_path.display()
    );
    // Is the region after the old end ours (zeros or tail from our
    // extension), and where does mail delivered after the crash start?
    let grows = plan.new_len > plan.old_len;
    let extended =
        state.extended || (grows && cur > plan.old_len && byte_at(file, plan.old_len)? == Some(0));
    match plan.kind {
        PlanKind::Append => {
            let (ours_end, foreign_from) = if extended {
                (plan.new_len, plan.new_len)
            } else {
                (plan.old_len, plan.old_len)
            };
            if extended && cur < plan.new_len {
                return discard("the file is shorter than our extension");
            }
            let mut run = Run::new(file, journal, state.plan.clone(), state.saved);
            // All or nothing: the patches (the new last UID) are undone too;
            // no UID of this append was ever reported.
            run.revert_patches()?;
            sys::sync(file)?;
            if ours_end > plan.old_len && cur > foreign_from {
                // Delivered after the crash, behind our partial append:
                // move it down over our bytes.
                let follow = follow_up(&run.plan, plan.old_len, foreign_from, cur);
                run.replace_plan(follow)?;
                run.extend()?;
                run.apply(0, false, touch)?;
            } else {
                if ours_end > plan.old_len {
                    sys::set_len(file, plan.old_len)?;
                    sys::sync(file)?;
                }
                run.set_times(TimesAfter::Rewrite);
                if let Some(j) = run.journal.take() {
                    j.finish()?;
                }
            }
            Ok(Recovered::RolledBack)
        }
        PlanKind::Rewrite => {
            if grows && !extended {
                if state.window.is_some() {
                    return discard("windows recorded without an extension");
                }
                if cur > plan.old_len {
                    // Another program appended after the crash, where our
                    // extension would have gone; nothing of ours was written
                    // (patches come after the extension). Give up the plan.
                    return discard(
                        "mail was appended before the rewrite started; it is abandoned",
                    );
                }
            }
            if grows && extended && cur < plan.new_len {
                return discard("the file is shorter than our extension");
            }
            let shrinks = plan.new_len < plan.old_len;
            // Truncated already: after MARKED the new end holds our NUL until
            // the truncation; afterwards EOF or mail delivered since.
            let truncated = shrinks
                && state.marked
                && (cur <= plan.new_len || byte_at(file, plan.new_len)? != Some(0));
            if truncated {
                let run = Run::new(file, journal, state.plan.clone(), state.saved);
                run.set_times(TimesAfter::Rewrite);
                if let Some(j) = run.journal {
                    j.finish()?;
                }
                return Ok(Recovered::Completed);
            }
            if !grows && cur < plan.old_len {
                return discard("the file shrank below the planned length");
            }
            // Mail delivered after the crash, after the old end of a plan
            // that does not grow (after a growing plan's extension it is
            // already where it belongs).
            let foreign = (!grows && cur > plan.old_len).then_some((plan.old_len, cur));
            if state.window.is_none() && !state.marked && !head_and_tail_match(file, plan)? {
                return discard("the file no longer holds what the plan was made for");
            }
            let mut run = Run::new(file, journal, state.plan.clone(), state.saved);
            run.mtime_before = meta.mtime_nsec_total();
            run.foreign = foreign;
            run.reserve_journal(resume_window + u64::from(state.window.is_some()))?;
            if grows && !extended {
                run.extend()?;
            }
            run.apply(resume_window, state.window.is_some(), touch)?;
            Ok(Recovered::Completed)
        }
    }
}

/// The file times to set when an operation is complete (locking.md §5).
#[derive(Debug, Clone, Copy)]
enum TimesAfter {
    /// atime = now, mtime = now - 1 s: "no new mail" (UW `unix_rewrite`).
    Rewrite,
    /// atime = now - 1 s, mtime = now: "new mail" (UW after an append).
    Append,
}

/// One operation being carried out.
struct Run<'a> {
    file: &'a File,
    journal: Option<Journal>,
    plan: Plan,
    /// Destination offset of each piece.
    dest: Vec<u64>,
    /// Indices of the copy pieces (in source order, which is also dest order).
    copies: Vec<usize>,
    windows: Vec<(u64, u64)>,
    /// Saved old ranges, sorted by position.
    saved: Vec<Saved>,
    /// Mail another program appended after a crash: `[from, to)`.
    foreign: Option<(u64, u64)>,
    /// The file's mtime (ns since the epoch) before the operation: the new
    /// one must differ so that other sessions notice the change.
    mtime_before: i128,
}

impl<'a> Run<'a> {
    fn new(file: &'a File, journal: Journal, plan: Plan, saved: Vec<Saved>) -> Run<'a> {
        let mut run = Run {
            file,
            journal: Some(journal),
            plan,
            dest: Vec::new(),
            copies: Vec::new(),
            windows: Vec::new(),
            saved,
            foreign: None,
            mtime_before: 0,
        };
        run.layout();
        run
    }

    /// Destination offsets, copy index and window schedule of the plan.
    fn layout(&mut self) {
        self.dest.clear();
        self.copies.clear();
        let mut at = self.plan.start;
        for (i, piece) in self.plan.pieces.iter().enumerate() {
            self.dest.push(at);
            if matches!(piece, Piece::Copy { .. }) {
                self.copies.push(i);
            }
            at += piece.len();
        }
        self.windows = windows(&self.plan, &self.dest);
    }

    /// Reserves (and checks against RLIMIT_FSIZE) the journal space that the
    /// windows from `first` on will need for their saved bytes.
    fn reserve_journal(&mut self, first: u64) -> io::Result<()> {
        let mut need = 0u64;
        for k in first..self.windows.len() as u64 {
            let (a, b) = self.windows.get(k as usize).copied().unwrap_or((0, 0));
            let ranges = self.saved_ranges(a, b);
            need += journal::WINDOW_RECORD_OVERHEAD
                + ranges.iter().map(|(lo, hi)| 16 + hi - lo).sum::<u64>();
        }
        // The final "all windows done" and MARKED records.
        need += 2 * journal::WINDOW_RECORD_OVERHEAD;
        let journal = self.journal()?;
        check_file_size_limit(journal.len() + need)?;
        journal.reserve(need)
    }

    fn journal(&mut self) -> io::Result<&mut Journal> {
        self.journal
            .as_mut()
            .ok_or_else(|| io::Error::other("journal already closed"))
    }

    /// Reserves the space of a growing plan and records that.
    fn extend(&mut self) -> io::Result<()> {
        let (old, new) = (self.plan.old_len, self.plan.new_len);
        if new <= old {
            return Ok(());
        }
        let current = self.file.metadata()?.len();
        if current < new {
            sys::allocate(self.file, current.max(old), new - current.max(old))?;
        }
        sys::sync(self.file)?;
        self.journal()?.extended()
    }

    /// Gives up an operation that has changed nothing but the file's length.
    fn abandon(&mut self) {
        if let Ok(meta) = self.file.metadata()
            && meta.len() > self.plan.old_len
        {
            let _ = sys::set_len(self.file, self.plan.old_len).and_then(|()| sys::sync(self.file));
        }
        if let Some(journal) = self.journal.take() {
            journal.discard();
        }
    }

    /// Patches, the windows from `first` on (the first one's saved bytes are
    /// already in the journal when `resuming`), then the end of the file.
    fn apply(&mut self, first: u64, resuming: bool, touch: &mut dyn FnMut()) -> io::Result<()> {
        self.apply_patches()?;
        let count = self.windows.len() as u64;
        for k in first..count {
            let (a, b) = self.windows.get(k as usize).copied().unwrap_or((0, 0));
            if !(resuming && k == first) {
                let ranges = self.saved_ranges(a, b);
                let mut saved = Vec::with_capacity(ranges.len());
                for (lo, hi) in ranges {
                    let mut bytes = vec![0u8; (hi - lo) as usize];
                    self.file.read_exact_at(&mut bytes, lo)?;
                    saved.push((lo, bytes));
                }
                let offsets = self.journal()?.window(k, &saved)?;
                self.saved.extend(offsets);
            }
            let data = self.assemble(a, b)?;
            sys::write_all_at(self.file, &data, a)?;
            // The file was extended (and that fsynced) before: its size
            // does not change here.
            sys::sync_data(self.file)?;
            touch();
        }
        if count > 0 && first < count {
            // Every window is done: recovery must not redo the last one (its
            // sources beyond the new end are about to be overwritten by the
            // truncation mark).
            self.journal()?.window(count, &[])?;
        }
        if self.plan.pieces.is_empty() {
            // Patches only.
            sys::sync(self.file)?;
        }
        self.finish_length()?;
        self.set_times(TimesAfter::Rewrite);
        match self.journal.take() {
            Some(journal) => journal.finish(),
            None => Ok(()),
        }
    }

    fn revert_patches(&mut self) -> io::Result<()> {
        for patch in &self.plan.patches {
            sys::write_all_at(self.file, &patch.old, patch.offset)?;
        }
        Ok(())
    }

    fn apply_patches(&mut self) -> io::Result<()> {
        for patch in &self.plan.patches {
            sys::write_all_at(self.file, &patch.new, patch.offset)?;
        }
        Ok(())
    }

    /// Cuts the file to its new length (MARKED first), or hands mail that
    /// another program appended after a crash to a follow-up plan.
    fn finish_length(&mut self) -> io::Result<()> {
        let (old, new) = (self.plan.old_len, self.plan.new_len);
        if let Some((from, to)) = self.foreign.take()
            && new < from
        {
            let follow = follow_up(&self.plan, new, from, to);
            log::warn!("moving {} bytes delivered after the crash", to - from);
            self.replace_plan(follow)?;
            return self.apply(0, false, &mut || {});
        }
        if new >= old || self.file.metadata()?.len() <= new {
            return Ok(());
        }
        sys::write_all_at(self.file, &[0], new)?;
        sys::sync(self.file)?;
        self.journal()?.marked()?;
        sys::set_len(self.file, new)?;
        sys::sync(self.file)
    }

    /// Continues with `plan` instead of the current one (atomically in the
    /// journal).
    fn replace_plan(&mut self, plan: Plan) -> io::Result<()> {
        let journal = self
            .journal
            .take()
            .ok_or_else(|| io::Error::other("journal already closed"))?;
        self.journal = Some(journal.replace(&plan)?);
        self.plan = plan;
        self.saved.clear();
        self.layout();
        Ok(())
    }

    /// Old ranges inside `[a, b)` that window `[a, b)` overwrites and that
    /// are copied to a destination at or after `a`.
    fn saved_ranges(&self, a: u64, b: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        // Copies are sorted by source: start at the first that ends after a.
        let first = self
            .copies
            .partition_point(|&i| match self.plan.pieces.get(i) {
                Some(Piece::Copy { src, len }) => src + len <= a,
                _ => true,
            });
        for &i in self.copies.get(first..).unwrap_or(&[]) {
            let (Some(&Piece::Copy { src, len }), Some(&dest)) =
                (self.plan.pieces.get(i), self.dest.get(i))
            else {
                continue;
            };
            if src >= b {
                break;
            }
            let lo = a.max(src + a.saturating_sub(dest));
            let hi = b.min(src + len).min(self.plan.old_len);
            if lo < hi {
                out.push((lo, hi));
            }
        }
        out
    }

    /// The new bytes of destination range `[a, b)`.
    fn assemble(&self, a: u64, b: u64) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity((b - a) as usize);
        let first = self.dest.partition_point(|&d| d <= a).saturating_sub(1);
        for (i, piece) in self.plan.pieces.iter().enumerate().skip(first) {
            let Some(&start) = self.dest.get(i) else {
                break;
            };
            if start >= b {
                break;
            }
            let lo = a.max(start);
            let hi = b.min(start + piece.len());
            if lo >= hi {
                continue;
            }
            match *piece {
                Piece::Copy { src, .. } => self.read_old(src + (lo - start), hi - lo, &mut out)?,
                Piece::Literal { at, .. } => {
                    let from = (at + (lo - start)) as usize;
                    let bytes = self
                        .plan
                        .literals
                        .get(from..from + (hi - lo) as usize)
                        .ok_or_else(|| io::Error::other("literal out of range"))?;
                    out.extend_from_slice(bytes);
                }
            }
        }
        if out.len() as u64 != b - a {
            return Err(io::Error::other("plan does not cover its window"));
        }
        Ok(out)
    }

    /// Appends old bytes `[pos, pos + len)`: from the journal where saved,
    /// else from the file (where they are still intact).
    fn read_old(&self, mut pos: u64, len: u64, out: &mut Vec<u8>) -> io::Result<()> {
        let end = pos + len;
        let mut i = self.saved.partition_point(|s| s.pos + s.len <= pos);
        while pos < end {
            let next_saved = self.saved.get(i).filter(|s| s.pos < end);
            match next_saved {
                Some(s) if s.pos <= pos => {
                    let upto = end.min(s.pos + s.len);
                    let at = out.len();
                    out.resize(at + (upto - pos) as usize, 0);
                    let journal = self
                        .journal
                        .as_ref()
                        .ok_or_else(|| io::Error::other("journal already closed"))?;
                    journal.read_at(
                        out.get_mut(at..).unwrap_or(&mut []),
                        s.journal_offset + (pos - s.pos),
                    )?;
                    pos = upto;
                    i += 1;
                }
                other => {
                    let upto = other.map_or(end, |s| s.pos);
                    let at = out.len();
                    out.resize(at + (upto - pos) as usize, 0);
                    self.file
                        .read_exact_at(out.get_mut(at..).unwrap_or(&mut []), pos)?;
                    pos = upto;
                }
            }
        }
        Ok(())
    }

    fn set_times(&self, after: TimesAfter) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let now_ns = now.as_nanos() as i128;
        let second = 1_000_000_000i128;
        // Strictly after the old mtime, so that (size, mtime) always changes.
        let (atime, mtime) = match after {
            TimesAfter::Rewrite => (now_ns, (now_ns - second).max(self.mtime_before + 1)),
            TimesAfter::Append => (now_ns - second, now_ns.max(self.mtime_before + 1)),
        };
        let spec = |ns: i128| {
            TimeSpec::new(
                i64::try_from(ns.div_euclid(second)).unwrap_or(0),
                i64::try_from(ns.rem_euclid(second)).unwrap_or(0),
            )
        };
        if let Err(e) = nix::sys::stat::futimens(self.file.as_raw_fd(), &spec(atime), &spec(mtime))
        {
            log::warn!("cannot set mailbox times: {e}");
        }
    }
}

/// The plan that moves `[from, to)` (mail delivered after a crash) down to
/// `at` and cuts the file there.
fn follow_up(plan: &Plan, at: u64, from: u64, to: u64) -> Plan {
    Plan {
        kind: PlanKind::Rewrite,
        dev: plan.dev,
        ino: plan.ino,
        old_len: to,
        start: at,
        new_len: at + (to - from),
        patches: Vec::new(),
        pieces: vec![Piece::Copy {
            src: from,
            len: to - from,
        }],
        literals: Vec::new(),
        check_head: Vec::new(),
        check_tail: Vec::new(),
    }
}

/// The window schedule of a plan: consecutive destination ranges covering
/// `[start, new_len)`. A pure function of the plan, so that recovery finds the
/// same windows the interrupted run used.
fn windows(plan: &Plan, dest: &[u64]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut a = plan.start;
    let end = plan.new_len;
    let mut i = 0;
    while a < end {
        while i + 1 < dest.len() && dest.get(i + 1).is_some_and(|&d| d <= a) {
            i += 1;
        }
        let shift = match (plan.pieces.get(i), dest.get(i)) {
            (Some(&Piece::Copy { src, .. }), Some(&d)) => (src + (a - d)).saturating_sub(a),
            _ => 0,
        };
        let size = if shift >= BIG_SHIFT {
            shift.min(MAX_WINDOW)
        } else {
            WINDOW
        };
        let b = end.min(a + size);
        out.push((a, b));
        a = b;
    }
    out
}

/// Rejects plans that are not internally consistent (a corrupt or forged
/// journal must not make recovery write nonsense).
fn check_plan(plan: &Plan) -> io::Result<()> {
    let bad = |why: &str| Err(io::Error::new(io::ErrorKind::InvalidData, why.to_owned()));
    if plan.start > plan.old_len || plan.start > plan.new_len {
        return bad("tail starts past the file");
    }
    let mut total = 0u64;
    let mut last_src_end = plan.start;
    for piece in &plan.pieces {
        match *piece {
            Piece::Copy { src, len } => {
                if src < last_src_end || src.checked_add(len).is_none_or(|e| e > plan.old_len) {
                    return bad("copy pieces out of order or out of the file");
                }
                last_src_end = src + len;
            }
            Piece::Literal { at, len } => {
                if at
                    .checked_add(len)
                    .is_none_or(|e| e > plan.literals.len() as u64)
                {
                    return bad("literal out of range");
                }
            }
        }
        total = total
            .checked_add(piece.len())
            .ok_or_else(|| io::Error::other("overflow"))?;
    }
    if plan.kind == PlanKind::Rewrite && plan.start + total != plan.new_len {
        return bad("pieces do not add up to the new length");
    }
    if plan.kind == PlanKind::Append && (!plan.pieces.is_empty() || plan.new_len < plan.old_len) {
        return bad("malformed append");
    }
    let patch_limit = match plan.kind {
        PlanKind::Rewrite => plan.start,
        PlanKind::Append => plan.old_len,
    };
    for patch in &plan.patches {
        if patch.old.len() != patch.new.len()
            || patch
                .offset
                .checked_add(patch.new.len() as u64)
                .is_none_or(|e| e > patch_limit)
        {
            return bad("patch out of range");
        }
    }
    Ok(())
}

/// Each patch location holds, byte by byte, its old or its new value (a torn
/// patch mixes them); anything else means someone else changed the file.
fn patches_consistent(file: &File, plan: &Plan) -> io::Result<bool> {
    for patch in &plan.patches {
        let mut now = vec![0u8; patch.new.len()];
        match file.read_exact_at(&mut now, patch.offset) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(e) => return Err(e),
        }
        let ok = now
            .iter()
            .zip(patch.old.iter().zip(&patch.new))
            .all(|(b, (o, n))| b == o || b == n);
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Before any window was written: the old bytes the plan recorded are still there.
fn head_and_tail_match(file: &File, plan: &Plan) -> io::Result<bool> {
    let matches = |offset: u64, expected: &[u8]| -> io::Result<bool> {
        let mut now = vec![0u8; expected.len()];
        match file.read_exact_at(&mut now, offset) {
            Ok(()) => Ok(now == expected),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(e),
        }
    };
    let Some(tail_at) = plan.old_len.checked_sub(plan.check_tail.len() as u64) else {
        return Ok(false);
    };
    Ok(matches(plan.start, &plan.check_head)? && matches(tail_at, &plan.check_tail)?)
}

fn byte_at(file: &File, offset: u64) -> io::Result<Option<u8>> {
    let mut b = [0u8; 1];
    match file.read_at(&mut b, offset)? {
        0 => Ok(None),
        _ => Ok(b.first().copied()),
    }
}

/// EFBIG now rather than halfway: the file-size limit (RLIMIT_FSIZE) is
/// checked against the planned length before anything is written.
fn check_file_size_limit(len: u64) -> io::Result<()> {
    match nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_FSIZE) {
        Ok((soft, _)) if soft != nix::sys::resource::RLIM_INFINITY && len > soft => {
            Err(io::Error::from_raw_os_error(nix::libc::EFBIG))
        }
        _ => Ok(()),
    }
}

/// Nanoseconds of a file's mtime.
trait MtimeNs {
    fn mtime_nsec_total(&self) -> i128;
}

impl MtimeNs for std::fs::Metadata {
    fn mtime_nsec_total(&self) -> i128 {
        i128::from(self.mtime()) * 1_000_000_000 + i128::from(self.mtime_nsec())
    }
}

/// The check bytes of a plan over `data` (the whole old file).
pub fn check_bytes(data: &[u8], start: u64, old_len: u64) -> (Vec<u8>, Vec<u8>) {
    if start >= old_len {
        return (Vec::new(), Vec::new());
    }
    let s = start as usize;
    let l = old_len as usize;
    let head = data
        .get(s..l.min(s + CHECK_BYTES as usize))
        .unwrap_or(&[])
        .to_vec();
    let tail_from = l.saturating_sub(CHECK_BYTES as usize).max(s);
    let tail = data.get(tail_from..l).unwrap_or(&[]).to_vec();
    (head, tail)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;
    use crate::mailstore::journal::Patch;

    /// A file with `content` in a temp dir: (dir, path, file).
    fn setup(content: &[u8]) -> (tempfile::TempDir, std::path::PathBuf, File) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box");
        std::fs::write(&path, content).unwrap();
        let file = File::options().read(true).write(true).open(&path).unwrap();
        (dir, path, file)
    }

    fn plan_for(file: &File, data: &[u8], start: u64, pieces: Vec<Piece>, literals: &[u8]) -> Plan {
        let meta = file.metadata().unwrap();
        let new_len = start + pieces.iter().map(Piece::len).sum::<u64>();
        let (check_head, check_tail) = check_bytes(data, start, data.len() as u64);
        Plan {
            kind: PlanKind::Rewrite,
            dev: meta.dev(),
            ino: meta.ino(),
            old_len: data.len() as u64,
            start,
            new_len,
            patches: Vec::new(),
            pieces,
            literals: literals.to_vec(),
            check_head,
            check_tail,
        }
    }

    /// Removes every 7th 1000-byte block of a 3 MB file and inserts literals:
    /// the result equals the same edit done in memory.
    #[test]
    fn execute_matches_the_edit_in_memory() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let (_dir, path, file) = setup(&data);
        let mut pieces = Vec::new();
        let mut expected = data[..1000].to_vec();
        let mut literals = Vec::new();
        for block in 1..3000u64 {
            if block % 7 == 0 {
                let lit = format!("<{block}>");
                pieces.push(Piece::Literal {
                    at: literals.len() as u64,
                    len: lit.len() as u64,
                });
                literals.extend_from_slice(lit.as_bytes());
                expected.extend_from_slice(lit.as_bytes());
                continue;
            }
            pieces.push(Piece::Copy {
                src: block * 1000,
                len: 1000,
            });
            expected.extend_from_slice(&data[block as usize * 1000..][..1000]);
        }
        let mut plan = plan_for(&file, &data, 1000, pieces, &literals);
        plan.patches.push(Patch {
            offset: 10,
            old: data[10..13].to_vec(),
            new: b"XYZ".to_vec(),
        });
        expected[10..13].copy_from_slice(b"XYZ");
        let ino = file.metadata().unwrap().ino();
        execute(&path, &file, plan, &mut || {}).unwrap();
        let after = std::fs::read(&path).unwrap();
        assert_eq!(after.len(), expected.len());
        assert!(after == expected);
        assert_eq!(std::fs::metadata(&path).unwrap().ino(), ino);
        assert!(journal::find(&path, &file).unwrap().is_none());
    }

    #[test]
    fn growing_plan_moves_data_right() {
        let data: Vec<u8> = (0..20_000_000u32).map(|i| (i % 253) as u8).collect();
        let (_dir, path, file) = setup(&data);
        // Insert 5 bytes at 100 and at 10 MB: everything after moves right.
        let pieces = vec![
            Piece::Copy {
                src: 100,
                len: 9_999_900,
            },
            Piece::Literal { at: 0, len: 5 },
            Piece::Copy {
                src: 10_000_000,
                len: 10_000_000,
            },
            Piece::Literal { at: 5, len: 3 },
        ];
        let plan = plan_for(&file, &data, 100, pieces, b"AAAAABBB");
        execute(&path, &file, plan, &mut || {}).unwrap();
        let after = std::fs::read(&path).unwrap();
        let expected = [&data[..10_000_000], b"AAAAA", &data[10_000_000..], b"BBB"].concat();
        assert!(after == expected);
    }

    #[test]
    fn windows_cover_the_tail_and_grow_with_the_shift() {
        let plan = Plan {
            kind: PlanKind::Rewrite,
            dev: 0,
            ino: 0,
            old_len: 100 << 20,
            start: 0,
            new_len: 60 << 20,
            patches: Vec::new(),
            pieces: vec![
                Piece::Copy {
                    src: 1,
                    len: 20 << 20,
                },
                Piece::Copy {
                    src: (60 << 20) + 1,
                    len: (40 << 20) - 1,
                },
                Piece::Literal { at: 0, len: 1 },
            ],
            literals: vec![b'x'],
            check_head: Vec::new(),
            check_tail: Vec::new(),
        };
        let dest = vec![0, 20 << 20, (60 << 20) - 1];
        let w = windows(&plan, &dest);
        assert_eq!(w.first(), Some(&(0, WINDOW)));
        assert_eq!(w.last().map(|w| w.1), Some(60 << 20));
        assert!(w.windows(2).all(|p| p[0].1 == p[1].0));
        // Where the shift is 40 MB, windows are the maximum size.
        assert!(w.iter().any(|&(a, b)| b - a == MAX_WINDOW));
        assert!(check_plan(&plan).is_ok());
    }

    #[test]
    fn check_plan_rejects_nonsense() {
        let base = Plan {
            kind: PlanKind::Rewrite,
            dev: 0,
            ino: 0,
            old_len: 100,
            start: 10,
            new_len: 30,
            patches: Vec::new(),
            pieces: vec![Piece::Copy { src: 50, len: 20 }],
            literals: Vec::new(),
            check_head: Vec::new(),
            check_tail: Vec::new(),
        };
        assert!(check_plan(&base).is_ok());
        let bad = [
            Plan {
                pieces: vec![Piece::Copy { src: 90, len: 20 }],
                ..base.clone()
            },
            Plan {
                new_len: 31,
                ..base.clone()
            },
            Plan {
                pieces: vec![Piece::Copy { src: 5, len: 20 }],
                ..base.clone()
            },
            Plan {
                pieces: vec![Piece::Literal { at: 0, len: 20 }],
                ..base.clone()
            },
        ];
        for plan in bad {
            assert!(check_plan(&plan).is_err(), "{plan:?}");
        }
    }
}
