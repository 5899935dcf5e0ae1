//! The write path's interface: what commands may ask of an open mailbox
//! (flag changes, checkpoint, expunge, re-sync with the file) and of any
//! mailbox file (append).
//!
//! STUB: the signatures are the contract between the command handlers and the
//! mailstore; the implementation (journal, in-place flag blocks, tail rewrite,
//! recovery) is being written.

use std::path::Path;

use chrono::{DateTime, FixedOffset};

use super::{LockSettings, Mailbox, StoreError};
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

impl Mailbox {
    /// Looks for changes made to the file by others, and folds them into the
    /// index. Cheap when nothing changed (one fstat). Errors with
    /// [`StoreError::Changed`] when the file changed in a way that cannot be
    /// reconciled (the session must end with `* BYE`).
    pub fn refresh(&mut self) -> Result<Refresh, StoreError> {
        todo!("Mailbox::refresh")
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
        let _ = (index, change, flags, keywords);
        todo!("Mailbox::change_flags")
    }

    /// Whether a checkpoint has anything to write.
    pub fn has_pending_changes(&self) -> bool {
        todo!("Mailbox::has_pending_changes")
    }

    /// Writes pending flag changes (and UIDs not yet in the file) to the file:
    /// CHECK, CLOSE, LOGOUT, a quiet period, before an expunge.
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        todo!("Mailbox::checkpoint")
    }

    /// Removes the messages flagged \Deleted — only those whose UIDs are in
    /// `uids` when given (UID EXPUNGE). Returns their indices before removal,
    /// ascending.
    pub fn expunge(&mut self, uids: Option<&SequenceSet>) -> Result<Vec<usize>, StoreError> {
        let _ = uids;
        todo!("Mailbox::expunge")
    }
}

/// Appends `messages` to the mbox file at `path` (which must exist; it may be
/// open in this or another session), under the write locks, assigning UIDs.
/// All or nothing: on any error the file is cut back to its old length.
pub fn append(
    path: &Path,
    messages: &[NewMessage<'_>],
    locking: &LockSettings,
) -> Result<Appended, StoreError> {
    let _ = (path, messages, locking);
    todo!("mailstore::append")
}

/// STUB (added by the protocol half, h-writecmds; the engine owns the real
/// one): whether a UW-family program sent us the kiss of death (SIGUSR2 for
/// the `/tmp/.<dev>.<ino>` lock, locking.md §4.1). The session checks it
/// before each command and on each timer tick, then checkpoints and ends with
/// `* BYE Killed (lost mailbox lock)`.
pub fn kod_requested() -> bool {
    false
}
