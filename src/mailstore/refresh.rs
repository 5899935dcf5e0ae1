//! Re-syncing an open mailbox with its file after others changed it, and
//! telling the session what changed.
//!
//! The hard part is trusting UIDs across changes we did not make
//! (mbox-format.md §11, rewrite.md "Several of our sessions"). Two paths:
//!
//! * **Nothing moved** (the usual case: the MTA appended, or another session
//!   of ours changed flags in place): every From_ line we indexed is still at
//!   its offset and the bytes after our old end start with a From_ line. Only
//!   the headers are re-read (flags), sizes are kept, the new tail is scanned.
//!   Messages keep their positions, so their UIDs must come out the same.
//! * **Anything else** (a rewrite by another session, mutt, alpine; the file
//!   shrank or was replaced): a full rescan, then old messages are matched to
//!   new ones by UID, and a match must be the same message (same From_ date
//!   and size). UIDs can be believed only as far as the file records them: a
//!   message whose UID was computed (no X-UID yet) and that now has another
//!   one, a known UID that vanished while above the new UIDNEXT (it could be
//!   handed out again), a new message with a UID below our UIDNEXT, or a new
//!   UIDVALIDITY all end the session with [`StoreError::Changed`]: never
//!   guess, never write from a stale index.

use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::fs::MetadataExt;

use super::index::{self, Index, MAX_KEYWORDS};
use super::mmap::MailData;
use super::plan::{self, OnDisk, STORED};
use super::scan::{self, MessageSpan};
use super::write::{self, Refresh, Stamp, VISIBLE, disk_states, metadata_unsaved};
use super::{Mailbox, StoreError, open_file};
use crate::types::SystemFlags;

impl Mailbox {
    /// Whether the file may have changed since the last sync: one stat and
    /// one fstat. Switches to the file now at the path if it was replaced
    /// (or created, for a mailbox that did not exist).
    pub(crate) fn file_changed(&mut self) -> Result<bool, StoreError> {
        if self.reopen_if_replaced()? {
            return Ok(true);
        }
        let Some(file) = &self.file else {
            return Ok(false);
        };
        let meta = file.metadata().map_err(|source| StoreError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(self.state.stamp != Some(Stamp::of(&meta)))
    }

    /// If the path now names another file (renamed over ours, as mailutils
    /// does) or the mailbox file appeared, opens it. Returns whether it did.
    pub(crate) fn reopen_if_replaced(&mut self) -> Result<bool, StoreError> {
        let path_meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.file.is_none() {
                    return Ok(false);
                }
                return Err(StoreError::Changed {
                    path: self.path.clone(),
                    reason: "the mailbox file was removed".into(),
                });
            }
            Err(source) => {
                return Err(StoreError::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let same = self
            .file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .is_some_and(|m| (m.dev(), m.ino()) == (path_meta.dev(), path_meta.ino()));
        if same {
            return Ok(false);
        }
        if !path_meta.is_file() {
            return Err(StoreError::Changed {
                path: self.path.clone(),
                reason: "the mailbox is no longer a regular file".into(),
            });
        }
        let file = open_file(&self.path, self.access).map_err(|source| StoreError::Io {
            path: self.path.clone(),
            source,
        })?;
        if self.file.is_some() {
            log::warn!(
                "{}: the file was replaced; re-reading it",
                self.path.display()
            );
        }
        self.file = Some(file);
        self.state.stamp = None;
        Ok(true)
    }

    /// Brings the index up to date with `file` (the mailbox's file, taken
    /// out of `self`), under at least the read locks.
    pub(crate) fn sync_locked(&mut self, file: &File) -> Result<(), StoreError> {
        let io_error = |source| StoreError::Io {
            path: self.path.clone(),
            source,
        };
        let meta = file.metadata().map_err(io_error)?;
        let stamp = Stamp::of(&meta);
        if self.state.stamp == Some(stamp) {
            return Ok(());
        }
        let data = MailData::load(file, meta.len(), self.source).map_err(io_error)?;
        let old_len = self.data.bytes().len();
        let same_file = self
            .state
            .stamp
            .is_some_and(|s| (s.dev, s.ino) == (stamp.dev, stamp.ino));
        let own = match self.state.stamp {
            Some(old) if same_file => write::own_append(old, stamp),
            _ => None,
        };
        let after_own = match own {
            Some(patches) => self.reindex_after_own_append(data.bytes(), old_len, &patches)?,
            None => None,
        };
        let intact = after_own.is_some()
            || (same_file
                && data.bytes().len() >= old_len
                && self.layout_intact(data.bytes(), old_len));
        let new = if let Some(new) = after_own {
            new
        } else if intact {
            self.reindex_in_place(data.bytes(), old_len)?
        } else {
            log::info!(
                "{}: changed by another program, rescanning",
                self.path.display()
            );
            let spans = scan::Spans::new(data.bytes()).map_err(|e| StoreError::Changed {
                path: self.path.clone(),
                reason: format!("not a mailbox any more: {e}"),
            })?;
            index::build_streaming(data.bytes(), spans, self.clock(), &self.path).map_err(|e| {
                StoreError::Changed {
                    path: self.path.clone(),
                    reason: e.to_string(),
                }
            })?
        };
        self.adopt(new, data, stamp, intact)
    }

    /// The index of `new` after our own append took the file from what we
    /// indexed to `new` (see [`write::OwnAppend`]): no byte we indexed
    /// changed except in `patches`, which lie in message 1's metadata run (or
    /// in the pseudo-message), so only that message's metadata and the new
    /// tail are read; every other message is taken from what we know of it,
    /// without touching its bytes. `None` if that does not hold (the caller
    /// then checks and re-reads everything).
    fn reindex_after_own_append(
        &self,
        new: &[u8],
        old_len: usize,
        patches: &[std::ops::Range<u64>],
    ) -> Result<Option<Index>, StoreError> {
        let changed = |reason: String| StoreError::Changed {
            path: self.path.clone(),
            reason,
        };
        let index = &self.index;
        let count = index.entries.len();
        let (Some(first), Some(last)) = (index.entries.first(), index.entries.last()) else {
            return Ok(None);
        };
        let declared = index.file_meta.keywords.len();
        let mask = if declared >= 32 {
            u32::MAX
        } else {
            (1u32 << declared) - 1
        };
        // Only a file whose UIDs we trust, whose per-message state we hold
        // completely, and whose keyword bits mean the file's declaration.
        if new.len() < old_len
            || index.file_meta.uid_validity != Some(index.uid_validity)
            || index.recorded.len() != count
            || index.meta_runs.len() != count
            || self.state.disk.len() != count
            || self.state.disk.iter().any(|d| d.keywords & !mask != 0)
        {
            return Ok(None);
        }
        let first_from = plan::from_line_start(new, first.offset as usize);
        let in_first = |p: &std::ops::Range<u64>| {
            if index.pseudo_message {
                p.end <= first_from as u64
            } else {
                p.start >= first.offset && p.end <= first.offset + u64::from(first.header_length)
            }
        };
        if !patches.iter().all(in_first) {
            return Ok(None);
        }
        let tail_start = new
            .get(old_len..)
            .and_then(|rest| {
                rest.iter()
                    .position(|b| !matches!(b, b'\n' | b'\r' | b' ' | b'\t'))
            })
            .map_or(new.len(), |at| old_len + at);
        // The spans that are read: the pseudo-message, message 1, and the
        // last message (which may have grown by what follows it).
        let span_at = |text: usize, end: usize| -> Result<MessageSpan, StoreError> {
            let from = plan::from_line_start(new, text);
            let line = new
                .get(from..)
                .and_then(scan::from_line)
                .filter(|l| from + l.len == text)
                .ok_or_else(|| changed("From_ line moved".into()))?;
            Ok(MessageSpan {
                from_line: from,
                text: text..end,
                date: line.date,
            })
        };
        let pseudo = if index.pseudo_message {
            let at = new
                .iter()
                .position(|b| !matches!(b, b'\n' | b'\r' | b' ' | b'\t'))
                .ok_or_else(|| changed("pseudo-message moved".into()))?;
            let line = new
                .get(at..)
                .and_then(scan::from_line)
                .ok_or_else(|| changed("pseudo-message moved".into()))?;
            Some(MessageSpan {
                from_line: at,
                text: at + line.len..scan::drop_separator(new, at + line.len, first_from),
                date: line.date,
            })
        } else {
            None
        };
        let last_span = {
            let text = last.offset as usize;
            let mut end = text + last.length as usize;
            // As in `reindex_in_place`: blank bytes before the first new
            // From_ line stay out of the last old message.
            let full_end = scan::drop_separator(new, text, tail_start);
            let extra = new.get(end.min(full_end)..full_end).unwrap_or(&[]);
            if !extra.iter().all(|b| matches!(b, b'\n' | b'\r')) {
                end = full_end;
            }
            span_at(text, end)?
        };
        let first_span = if count == 1 {
            last_span.clone()
        } else {
            span_at(
                first.offset as usize,
                first.offset as usize + first.length as usize,
            )?
        };
        let tail = match new.get(tail_start..).filter(|r| !r.is_empty()) {
            Some(rest) => Some(
                scan::Spans::new(rest)
                    .map_err(|e| changed(format!("unexpected data after the old end: {e}")))?,
            ),
            None => None,
        };
        // Messages between the first and the last are not read: their spans
        // are only positions (with a hint, `index::build_reusing` reads
        // neither their From_ line nor their header).
        let date = first_span.date;
        let middle = index
            .entries
            .iter()
            .take(count.saturating_sub(1))
            .skip(1)
            .map(move |e| MessageSpan {
                from_line: e.offset as usize,
                text: e.offset as usize..e.offset as usize + e.length as usize,
                date,
            });
        let old_last = (count > 1).then_some(last_span.clone());
        let lengths_match = last_span.text.len() == last.length as usize;
        let spans = pseudo
            .into_iter()
            .chain(std::iter::once(first_span))
            .chain(middle)
            .chain(old_last)
            .chain(tail.into_iter().flatten().map(|s| MessageSpan {
                from_line: s.from_line + tail_start,
                text: s.text.start + tail_start..s.text.end + tail_start,
                date: s.date,
            }));
        let entries = &index.entries;
        let disk = &self.state.disk;
        let known = |i: usize| {
            let entry = entries.get(i)?;
            if i + 1 == count && !lengths_match {
                return None;
            }
            let state = disk.get(i)?;
            let recorded = index.recorded.get(i).copied().unwrap_or(false);
            Some(index::Hint {
                rfc822_size: entry.rfc822_size,
                internal_date: entry.internal_date,
                zone_minutes: entry.zone_minutes,
                header_length: entry.header_length,
                meta_run: index.meta_runs.get(i).copied().unwrap_or((0, 0)),
                // Message 1 holds the patched declaration: read again.
                stored: (i > 0 || index.pseudo_message).then_some(index::Stored {
                    flags: SystemFlags(state.flags.0 & STORED.0),
                    keywords: state.keywords,
                    uid: recorded.then_some(entry.uid.get()),
                }),
            })
        };
        let built = index::build_reusing(new, spans, self.clock(), &self.path, &known)
            .map_err(|e| changed(e.to_string()))?;
        Ok(Some(built))
    }

    /// Every From_ line we indexed is where it was, and what follows our old
    /// end (if anything) starts, after blank bytes, with a From_ line.
    fn layout_intact(&self, new: &[u8], old_len: usize) -> bool {
        let old = self.data.bytes();
        let first = |d: &[u8]| {
            d.iter()
                .position(|b| !matches!(b, b'\n' | b'\r' | b' ' | b'\t'))
        };
        let old_first = first(old);
        if old_first.is_some() && old_first != first(new) {
            return false;
        }
        // The pseudo-message's From_ line, and each message's, unchanged.
        if let Some(at) = old_first {
            let line = |d: &[u8]| d.get(at..).and_then(scan::from_line).map(|l| l.len);
            if line(old).is_none() || line(old) != line(new) {
                return false;
            }
        }
        for entry in &self.index.entries {
            let text = entry.offset as usize;
            let from = plan::from_line_start(new, text);
            let valid = new
                .get(from..)
                .and_then(scan::from_line)
                .is_some_and(|l| from + l.len == text);
            if !valid || old.get(from..text) != new.get(from..text) {
                return false;
            }
        }
        match new.get(old_len..) {
            None => false,
            Some(rest) => match first(rest) {
                None => true,
                Some(at) => rest.get(at..).and_then(scan::from_line).is_some(),
            },
        }
    }

    /// The index of `new` when nothing we indexed moved: old messages keep
    /// their spans and sizes (only their headers are read again), the bytes
    /// after `old_len` are scanned.
    fn reindex_in_place(&self, new: &[u8], old_len: usize) -> Result<Index, StoreError> {
        let changed = |reason: String| StoreError::Changed {
            path: self.path.clone(),
            reason,
        };
        let tail_start = new
            .get(old_len..)
            .and_then(|rest| {
                rest.iter()
                    .position(|b| !matches!(b, b'\n' | b'\r' | b' ' | b'\t'))
            })
            .map_or(new.len(), |at| old_len + at);
        let mut spans: Vec<MessageSpan> = Vec::with_capacity(self.index.entries.len() + 1);
        let first_from = new
            .iter()
            .position(|b| !matches!(b, b'\n' | b'\r' | b' ' | b'\t'));
        let first_entry_from = self
            .index
            .entries
            .first()
            .map(|e| plan::from_line_start(new, e.offset as usize));
        if self.index.pseudo_message
            && let Some(at) = first_from
        {
            let line = new
                .get(at..)
                .and_then(scan::from_line)
                .ok_or_else(|| changed("pseudo-message moved".into()))?;
            let end = first_entry_from.unwrap_or(tail_start);
            spans.push(MessageSpan {
                from_line: at,
                text: at + line.len..scan::drop_separator(new, at + line.len, end),
                date: line.date,
            });
        }
        let count = self.index.entries.len();
        for (i, entry) in self.index.entries.iter().enumerate() {
            let text = entry.offset as usize;
            let from = plan::from_line_start(new, text);
            let line = new
                .get(from..)
                .and_then(scan::from_line)
                .ok_or_else(|| changed("From_ line moved".into()))?;
            let mut end = text + entry.length as usize;
            if i + 1 == count {
                // The last old message: bytes an appender put between its
                // end and the first new From_ line are kept out of it when
                // they are blank (as UW does), else it grew: re-measured.
                let next = tail_start;
                let full_end = scan::drop_separator(new, text, next);
                let extra = new.get(end.min(full_end)..full_end).unwrap_or(&[]);
                if !extra.iter().all(|b| matches!(b, b'\n' | b'\r')) {
                    end = full_end;
                }
            }
            spans.push(MessageSpan {
                from_line: from,
                text: text..end,
                date: line.date,
            });
        }
        if let Some(rest) = new.get(tail_start..).filter(|r| !r.is_empty()) {
            let tail = scan::scan(rest)
                .map_err(|e| changed(format!("unexpected data after the old end: {e}")))?;
            spans.extend(tail.into_iter().map(|s| MessageSpan {
                from_line: s.from_line + tail_start,
                text: s.text.start + tail_start..s.text.end + tail_start,
                date: s.date,
            }));
        }
        let offset = usize::from(self.index.pseudo_message && first_from.is_some());
        let entries = &self.index.entries;
        let runs = &self.index.meta_runs;
        let known = |i: usize| {
            let entry = entries.get(i)?;
            let span = spans.get(i + offset)?;
            (span.text.len() == entry.length as usize).then_some(index::Hint {
                rfc822_size: entry.rfc822_size,
                internal_date: entry.internal_date,
                zone_minutes: entry.zone_minutes,
                header_length: entry.header_length,
                meta_run: runs.get(i).copied().unwrap_or((0, 0)),
                stored: None,
            })
        };
        index::build_reusing(new, spans.iter().cloned(), self.clock(), &self.path, &known)
            .map_err(|e| changed(e.to_string()))
    }

    /// Replaces the index by `new` (the file as it is now), keeping UIDs,
    /// pending changes and what the session has been told consistent.
    fn adopt(
        &mut self,
        mut new: Index,
        data: MailData,
        stamp: Stamp,
        in_place: bool,
    ) -> Result<(), StoreError> {
        let changed = |reason: String| StoreError::Changed {
            path: self.path.clone(),
            reason,
        };
        let old = &self.index;
        // The UIDVALIDITY the file does not decide (none recorded, or one
        // whose UIDs are broken the same way as before) stays ours.
        let file_decides = new
            .file_meta
            .uid_validity
            .is_some_and(|v| v == new.uid_validity);
        if !file_decides && new.file_meta.uid_validity == old.file_meta.uid_validity {
            new.uid_validity = old.uid_validity;
        }
        // An empty mailbox's UIDVALIDITY is provisional (nothing records it):
        // the first one the file records is taken, as no UID was ever
        // announced under the old one. (The session sees the change in
        // `uid_validity()` and may send `* OK [UIDVALIDITY n]`.)
        let nothing_known = old.entries.is_empty()
            && self.state.reported.as_ref().is_none_or(|r| r.is_empty())
            && old.file_meta.uid_validity.is_none();
        if new.uid_validity != old.uid_validity && !nothing_known {
            return Err(changed(format!(
                "UIDVALIDITY changed from {} to {}",
                old.uid_validity, new.uid_validity
            )));
        }
        // Map each new message to the old one it is.
        let mut mapping: Vec<Option<usize>> = Vec::with_capacity(new.entries.len());
        if in_place {
            for (j, e) in new.entries.iter().enumerate() {
                match old.entries.get(j) {
                    Some(o) if o.uid == e.uid => {
                        if o.rfc822_size != e.rfc822_size {
                            return Err(changed(format!("message UID {} changed size", e.uid)));
                        }
                        mapping.push(Some(j));
                    }
                    Some(o) => {
                        return Err(changed(format!("UID {} became {}", o.uid, e.uid)));
                    }
                    None => mapping.push(None),
                }
            }
        } else {
            for e in &new.entries {
                match old.entries.binary_search_by_key(&e.uid, |o| o.uid) {
                    Ok(i) => {
                        let o = old.entries.get(i).ok_or_else(|| changed("index".into()))?;
                        if (o.internal_date, o.rfc822_size) != (e.internal_date, e.rfc822_size) {
                            return Err(changed(format!(
                                "UID {} now names another message",
                                e.uid
                            )));
                        }
                        mapping.push(Some(i));
                    }
                    Err(_) if e.uid >= old.uid_next => mapping.push(None),
                    Err(_) => {
                        return Err(changed(format!(
                            "a message with UID {} below UIDNEXT {} appeared",
                            e.uid, old.uid_next
                        )));
                    }
                }
            }
            let kept: BTreeSet<usize> = mapping.iter().flatten().copied().collect();
            for (i, o) in old.entries.iter().enumerate() {
                let was_recorded = self.state.disk.get(i).is_some_and(|d| d.recorded);
                if !kept.contains(&i) && !was_recorded && o.uid >= new.uid_next {
                    return Err(changed(format!(
                        "message UID {} was removed before its UID was recorded",
                        o.uid
                    )));
                }
            }
        }

        // Keywords: the file's list, then ours that it lacks.
        let mut keywords = new.keywords.clone();
        for k in &old.keywords {
            if !keywords.iter().any(|n| n.eq_ignore_ascii_case(k)) && keywords.len() < MAX_KEYWORDS
            {
                keywords.push(k.clone());
            }
        }
        let old_bit_to_new: Vec<Option<usize>> = old
            .keywords
            .iter()
            .map(|k| keywords.iter().position(|n| n.eq_ignore_ascii_case(k)))
            .collect();
        let remap = |mask: u32| -> u32 {
            old_bit_to_new
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .filter_map(|(_, n)| *n)
                .fold(0, |m, n| m | (1 << n))
        };
        if keywords != old.keywords {
            self.state.keywords_changed = true;
        }

        // Pending deltas of messages that still exist, in the new bit numbering.
        let mut pending = std::mem::take(&mut self.state.pending);
        pending.retain(|uid, _| {
            new.entries
                .binary_search_by_key(uid, |e| e.uid.get())
                .is_ok()
        });
        if keywords != old.keywords {
            for delta in pending.values_mut() {
                delta.remap(&remap);
            }
        }

        let disk = disk_states(&new);
        let old_uids: Vec<u32> = old.entries.iter().map(|e| e.uid.get()).collect();
        let mut flags_dirty = Vec::new();
        for (j, entry) in new.entries.iter_mut().enumerate() {
            let on_disk = disk.get(j).copied().unwrap_or(OnDisk {
                flags: SystemFlags::default(),
                keywords: 0,
                recorded: false,
            });
            let (visible, kw) = match pending.get(&entry.uid.get()) {
                Some(delta) => {
                    delta.apply(SystemFlags(on_disk.flags.0 & VISIBLE.0), on_disk.keywords)
                }
                None => (SystemFlags(on_disk.flags.0 & VISIBLE.0), on_disk.keywords),
            };
            let old_entry = mapping
                .get(j)
                .copied()
                .flatten()
                .and_then(|i| old.entries.get(i));
            let recent = match old_entry {
                Some(o) => o.flags.contains(SystemFlags::RECENT),
                None => !on_disk.flags.contains(SystemFlags::OLD),
            };
            if let Some(o) = old_entry
                && (SystemFlags(o.flags.0 & VISIBLE.0), remap(o.keywords)) != (visible, kw)
            {
                flags_dirty.push(entry.uid.get());
            }
            entry.flags = SystemFlags(
                visible.0
                    | (on_disk.flags.0 & SystemFlags::OLD.0 & STORED.0)
                    | if recent { SystemFlags::RECENT.0 } else { 0 },
            );
            entry.keywords = kw;
        }
        let new_uids: Vec<u32> = new.entries.iter().map(|e| e.uid.get()).collect();
        if new_uids != old_uids && self.state.reported.is_none() {
            self.state.reported = Some(old_uids);
        }
        self.state.flags_dirty.extend(flags_dirty);
        new.keywords = keywords;
        new.uid_next = new.uid_next.max(old.uid_next);
        new.metadata_unsaved = metadata_unsaved(&new);
        self.index = new;
        self.state.disk = disk;
        self.state.pending = pending;
        self.data = data;
        self.state.stamp = Some(stamp);
        Ok(())
    }

    /// What changed for the session since the last report (see [`Refresh`]).
    pub(crate) fn take_report(&mut self) -> Refresh {
        let current: Vec<u32> = self.index.entries.iter().map(|e| e.uid.get()).collect();
        let mut report = Refresh {
            keywords_changed: std::mem::take(&mut self.state.keywords_changed),
            ..Refresh::default()
        };
        let known_max = match self.state.reported.take() {
            None => current.last().copied().unwrap_or(0),
            Some(reported) => {
                let present: BTreeSet<u32> = current.iter().copied().collect();
                report.expunged = reported
                    .iter()
                    .enumerate()
                    .filter(|(_, uid)| !present.contains(uid))
                    .map(|(i, _)| i)
                    .collect();
                let known_max = reported.last().copied().unwrap_or(0);
                report.appended = current.iter().filter(|&&u| u > known_max).count();
                known_max
            }
        };
        let dirty = std::mem::take(&mut self.state.flags_dirty);
        report.flags_changed = current
            .iter()
            .enumerate()
            .filter(|(_, uid)| **uid <= known_max && dirty.contains(uid))
            .map(|(i, _)| i)
            .collect();
        report
    }
}
