//! The mail store: the only module that opens, maps, locks or rewrites a mail file.
//!
//! STUB: the interface commands use. Being implemented.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::types::{SystemFlags, Uid, UidValidity};

/// Read-only (EXAMINE, or no write access) or read-write (SELECT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// Which locks to take and how long to wait for them (locking.md §7).
#[derive(Debug, Clone)]
pub struct LockSettings {
    pub dotlock: bool,
    pub fcntl: bool,
    pub flock: bool,
    /// How long to keep retrying a busy lock before giving up.
    pub timeout: std::time::Duration,
}

impl Default for LockSettings {
    fn default() -> Self {
        LockSettings { dotlock: true, fcntl: true, flock: true, timeout: std::time::Duration::from_secs(60) }
    }
}

/// What went wrong in the store. Paths and errno go to the log, never to the client.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: mailbox is locked by another program")]
    Locked { path: PathBuf },
    #[error("{path}: not a mailbox: {reason}")]
    NotMailbox { path: PathBuf, reason: String },
    #[error("{path}: no such mailbox")]
    Missing { path: PathBuf },
}

/// One message as the index keeps it. Kept small: 100,000 of these must fit in
/// a few MB (BENCHMARKS.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEntry {
    pub uid: Uid,
    /// System flags plus the OLD and RECENT bits.
    pub flags: SystemFlags,
    /// Bit i set = keyword `Mailbox::keywords()[i]`.
    pub keywords: u32,
    /// INTERNALDATE from the From_ line: seconds since the epoch (UTC) ...
    pub internal_date: i64,
    /// ... and the zone it was written in, minutes east of UTC.
    pub zone_minutes: i16,
    /// RFC822.SIZE: CRLF octets, hidden status headers excluded.
    pub rfc822_size: u32,
    /// Start of the message's header (after the From_ line) in the file.
    pub offset: u64,
    /// Length of header + body as stored (excluding the separator blank line).
    pub length: u32,
    /// Length of the header including the blank line that ends it.
    pub header_length: u32,
}

/// One message's bytes, as stored, with what must be hidden from clients.
#[derive(Debug, Clone, Copy)]
pub struct MessageView<'a> {
    /// Header + body as stored (LF line ends), no From_ line, no separator.
    pub raw: &'a [u8],
    /// Length of the header including its terminating blank line (0 if none).
    pub header_length: usize,
}

impl<'a> MessageView<'a> {
    /// The header as stored, including the blank line that ends it.
    pub fn header(&self) -> &'a [u8] {
        self.raw.get(..self.header_length).unwrap_or(self.raw)
    }

    /// The body as stored.
    pub fn body(&self) -> &'a [u8] {
        self.raw.get(self.header_length..).unwrap_or(&[])
    }

    /// The header as clients see it: the stored header minus UW's status headers
    /// (Status, X-Status, X-Keywords, X-UID, X-IMAP, X-IMAPbase, any case, with
    /// their continuation lines), as consecutive slices of the stored bytes.
    /// Includes the terminating blank line. Its CRLF length plus the body's is
    /// RFC822.SIZE.
    pub fn visible_header(&self) -> Vec<&'a [u8]> {
        todo!("MessageView::visible_header")
    }
}

/// An open mailbox.
pub struct Mailbox {
    path: PathBuf,
}

impl Mailbox {
    /// Opens and indexes the mbox at `path`.
    pub fn open(path: &Path, access: Access, locking: &LockSettings) -> Result<Mailbox, StoreError> {
        let _ = (access, locking);
        Err(StoreError::Missing { path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Messages visible to clients (the UW pseudo-message is not one).
    pub fn len(&self) -> usize {
        todo!()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Index entries in sequence order: `entries()[seq - 1]`.
    pub fn entries(&self) -> &[MessageEntry] {
        todo!()
    }

    /// For in-session flag changes (\Seen on a body fetch, STORE).
    pub fn entry_mut(&mut self, index: usize) -> Option<&mut MessageEntry> {
        let _ = index;
        todo!()
    }

    /// The bytes of message `index` (0-based).
    pub fn message(&self, index: usize) -> Option<MessageView<'_>> {
        let _ = index;
        todo!()
    }

    /// The 0-based index of `uid`, or where it would be (binary search).
    pub fn index_of_uid(&self, uid: u32) -> Result<usize, usize> {
        self.entries().binary_search_by_key(&uid, |e| e.uid.get())
    }

    pub fn uid_validity(&self) -> UidValidity {
        todo!()
    }

    /// The next UID this mailbox will assign (RFC 3501 UIDNEXT).
    pub fn uid_next(&self) -> Uid {
        todo!()
    }

    /// Keywords declared in the mailbox (X-IMAP / X-IMAPbase), in declaration order.
    pub fn keywords(&self) -> &[String] {
        todo!()
    }

    pub fn access(&self) -> Access {
        todo!()
    }
}
