//! Command execution: one file per command family.
//!
//! A handler gets the parsed command and the session's state it needs, writes
//! untagged responses to the `ResponseWriter`, and returns the tagged
//! completion. Which commands are allowed in which state was decided before a
//! handler runs (session/state.rs), so handlers never check again.

pub mod any;
pub mod append;
pub mod contexts;
pub mod copy;
pub mod counters;
pub mod expunge;
pub mod fetch;
pub mod folder;
pub mod idle;
pub mod list;
pub mod mailbox;
pub mod search;
pub mod searchres;
pub mod sort;
pub mod status;
pub mod store;
pub mod thread;
pub mod updates;

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::mailstore::{LockSettings, Mailbox, StoreError};
use crate::response::Code;

/// What the handlers need to know about the user and the server.
#[derive(Debug, Clone)]
pub struct Context {
    /// The user being served (login name).
    pub user: String,
    /// Host name for greetings and BYE texts.
    pub host: String,
    /// The INBOX file (normally `/var/mail/USER`).
    pub inbox: PathBuf,
    /// The directory that holds the user's other mailboxes (normally `~/mail`).
    pub mail_dir: PathBuf,
    /// The user's home directory: where UW's subscription list `.mailboxlist` is.
    pub home: PathBuf,
    pub locking: LockSettings,
    /// Which mailbox names are special-use (RFC 6154), from the configuration.
    pub special_use: crate::special_use::SpecialUses,
}

/// The state of a selected mailbox in this session.
pub struct Selected {
    /// The mailbox name as the client sees it (UTF-7 on the wire), e.g. `INBOX`.
    pub name: String,
    pub mailbox: Mailbox,
    /// EXAMINE, or SELECT of a mailbox we may not write.
    pub read_only: bool,
    /// Parsed MIME trees of recently fetched messages (bounded).
    pub cache: crate::mime::Cache,
    /// Header keys SORT and THREAD have read.
    pub sort_keys: sort::KeyCache,
    /// RFC 5182's `$`: the UIDs the last `RETURN (SAVE)` kept, ascending.
    pub saved_result: Vec<u32>,
    /// RFC 5267 `RETURN (UPDATE)`: the live search results.
    pub contexts: contexts::Contexts,
    /// The number of \Recent messages the client was last told (SELECT's
    /// `* n RECENT`, then every change, RFC 3501 §7.3.2).
    pub recent_reported: usize,
    /// UW's `/tmp/.<dev>.<ino>` lock, held shared for a read-write session so
    /// that UW imapd, ipop3d and alpine see the mailbox in use (locking.md §4).
    pub session_lock: Option<crate::mailstore::SessionLock>,
}

/// Sequence numbers as the client knows them (RFC 3501 §2.3.1.2): the
/// index's positions, or, while changes folded in by a checkpoint are not yet
/// reported, positions in the list of UIDs last reported. Messages expunged
/// meanwhile keep their numbers (and answer nothing); new ones have none yet.
#[derive(Clone, Copy)]
pub struct SeqNumbers<'a> {
    view: Option<&'a [u32]>,
    entries: &'a [crate::mailstore::MessageEntry],
}

impl<'a> SeqNumbers<'a> {
    pub fn of(mailbox: &'a Mailbox) -> Self {
        SeqNumbers {
            view: mailbox.client_view(),
            entries: mailbox.entries(),
        }
    }

    /// How many messages the client counts (its EXISTS).
    pub fn count(&self) -> usize {
        self.view.map_or(self.entries.len(), <[u32]>::len)
    }

    /// The sequence number of index entry `index`, if the client knows it.
    pub fn seq(&self, index: usize) -> Option<u32> {
        let position = match self.view {
            None => index,
            Some(view) => {
                let uid = self.entries.get(index)?.uid.get();
                view.binary_search(&uid).ok()?
            }
        };
        u32::try_from(position).ok()?.checked_add(1)
    }

    /// The index entry the client means by `seq`, if it still exists.
    pub fn index(&self, seq: u32) -> Option<usize> {
        let position = usize::try_from(seq).ok()?.checked_sub(1)?;
        match self.view {
            None => (position < self.entries.len()).then_some(position),
            Some(view) => {
                let uid = *view.get(position)?;
                self.entries
                    .binary_search_by_key(&uid, |e| e.uid.get())
                    .ok()
            }
        }
    }
}

/// A successful tagged completion: `tag OK [code] text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub code: Option<Code>,
    pub text: String,
}

impl Completion {
    /// `OK <NAME> completed`.
    pub fn done(name: &str) -> Self {
        Completion {
            code: None,
            text: format!("{name} completed"),
        }
    }

    pub fn with_code(code: Code, text: impl Into<String>) -> Self {
        Completion {
            code: Some(code),
            text: text.into(),
        }
    }
}

/// A failed command: the tagged NO or BAD, or a broken output stream.
#[derive(Debug, Error)]
pub enum CommandError {
    /// `tag NO [code] text`: the command was valid but could not be done.
    #[error("NO {text}")]
    No { code: Option<Code>, text: String },
    /// `tag BAD text`: the command was not valid here.
    #[error("BAD {text}")]
    Bad { text: String },
    /// The selected mailbox can no longer be served (another program changed
    /// it beyond repair): the session answers `* BYE text`, then the tagged
    /// NO, and ends without writing to the mailbox.
    #[error("BYE {text}")]
    Fatal { text: String },
    /// Writing to the client failed: the session must end.
    #[error("output: {0}")]
    Output(#[from] io::Error),
}

impl CommandError {
    pub fn no(text: impl Into<String>) -> Self {
        CommandError::No {
            code: None,
            text: text.into(),
        }
    }

    pub fn no_code(code: Code, text: impl Into<String>) -> Self {
        CommandError::No {
            code: Some(code),
            text: text.into(),
        }
    }

    pub fn bad(text: impl Into<String>) -> Self {
        CommandError::Bad { text: text.into() }
    }
}

/// The one place a store error becomes a client answer. The detail (path,
/// errno) is logged here; the client gets a short reason.
impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        log::warn!("mailbox error: {e}");
        match e {
            StoreError::Missing { .. } => {
                CommandError::no_code(Code::Nonexistent, "No such mailbox")
            }
            StoreError::Locked { .. } => CommandError::no_code(
                Code::InUse,
                "Mailbox is locked by another program, try again later",
            ),
            StoreError::NotMailbox { .. } => {
                CommandError::no_code(Code::Cannot, "Not a mailbox in a format this server reads")
            }
            StoreError::Io { .. } => {
                CommandError::no_code(Code::ServerBug, "Mailbox could not be read")
            }
            StoreError::Changed { .. } => {
                CommandError::no_code(Code::ServerBug, "Mailbox was changed by another program")
            }
            StoreError::NoDotlock { .. } => CommandError::no_code(
                Code::ContactAdmin,
                "Can't create the mailbox lock file, nothing was written",
            ),
            StoreError::NoSpace { .. } => CommandError::no_code(
                Code::OverQuota,
                "Not enough disk space or quota; nothing was changed",
            ),
            StoreError::Limit { reason, .. } => CommandError::no_code(Code::Limit, reason),
            StoreError::ReadOnly { .. } => {
                CommandError::no_code(Code::Cannot, "Mailbox is read-only")
            }
        }
    }
}

/// Result of a handler.
pub type CommandResult = Result<Completion, CommandError>;
