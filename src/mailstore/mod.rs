//! The mail store: the only module that opens, maps, locks or rewrites a mail file.
//!
//! [`Mailbox::open`] is the read path: open the file (read-write for a
//! read-write session), finish any rewrite a crash interrupted, take the read
//! locks (locking.md §7), fstat, map, scan and index, and release the locks
//! again, keeping the fd and the map. The hard part is that the file is shared
//! with the MTA, procmail, mutt, UW imapd and our other sessions: locks are
//! held only for a scan or a write, never across a client round trip; the map
//! covers exactly the bytes indexed; and every write goes through a journal,
//! in place, so that a crash, a full disk or another writer never costs a
//! message (rewrite.rs).
//!
//! Layout:
//! - read path (pure): [`scan`] finds message boundaries, [`headers`] reads
//!   and hides UW's metadata headers, [`index`] builds the per-message index;
//! - write path: [`write`] is the interface the commands use (refresh, flag
//!   changes as deltas, checkpoint, expunge), `refresh` re-syncs with the file,
//!   [`plan`] decides what to write (pure), [`render`] renders UW's exact bytes
//!   (pure), [`journal`] and [`rewrite`] make it crash-safe, [`append`] adds
//!   messages;
//! - sharing: [`lock`] (dotlock + fcntl + flock), [`session_lock`] (UW's
//!   `/tmp/.<dev>.<ino>` and the kiss of death), [`signals`] (SIGBUS,
//!   SIGUSR2, SIGXFSZ);
//! - syscalls: [`mmap`], [`lock`], [`sys`] (every write, with fault
//!   injection), [`session_lock`] and [`signals`];
//! - around the mailboxes: [`folders`] owns the tree (directories, created,
//!   deleted and renamed files, the UIDVALIDITY record, the subscription
//!   list) and [`status`] counts a mailbox for STATUS without indexing it.

pub mod append;
pub mod folders;
pub mod headers;
pub mod index;
pub mod journal;
pub mod lock;
pub mod mmap;
pub mod plan;
mod refresh;
pub mod render;
pub mod rewrite;
pub mod scan;
pub mod session_lock;
pub mod signals;
pub mod status;
pub mod sys;
pub mod write;

pub use session_lock::{SessionLock, SessionLockAttempt};
pub use signals::{install_signal_handlers, kiss_of_death_received};
pub use sys::bytes_written;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::libc;
use nix::unistd::{AccessFlags, access as access_check};
use thiserror::Error;

use self::index::{Clock, Index};
use self::lock::LockMode;
use self::mmap::{MailData, Source};
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
        LockSettings {
            dotlock: true,
            fcntl: true,
            flock: true,
            timeout: std::time::Duration::from_secs(60),
        }
    }
}

/// What went wrong in the store. Paths and errno go to the log, never to the client.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: mailbox is locked by another program")]
    Locked { path: PathBuf },
    #[error("{path}: not a mailbox: {reason}")]
    NotMailbox { path: PathBuf, reason: String },
    #[error("{path}: no such mailbox")]
    Missing { path: PathBuf },
    /// Another program changed the file in a way we cannot reconcile (it shrank,
    /// was replaced, or our indexed bytes moved): the session must end.
    #[error("{path}: changed by another program: {reason}")]
    Changed { path: PathBuf, reason: String },
    /// The dotlock cannot be created (no write access to the mailbox's
    /// directory, locking.md §2.3) and locking is configured to use it:
    /// writing without it would be unsafe, so nothing was written.
    #[error("{path}: cannot create the dotlock for writing: {reason}")]
    NoDotlock { path: PathBuf, reason: String },
    /// A write failed for lack of space (ENOSPC, EDQUOT) or the file-size limit
    /// (EFBIG); nothing was lost and the file is as it was.
    #[error("{path}: no space: {source}")]
    NoSpace {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A limit of the format (e.g. 30 keywords per mailbox).
    #[error("{path}: {reason}")]
    Limit { path: PathBuf, reason: String },
    /// The mailbox is open read-only.
    #[error("{path}: read-only")]
    ReadOnly { path: PathBuf },
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
        headers::visible_segments(self.header())
    }
}

/// An open mailbox.
pub struct Mailbox {
    path: PathBuf,
    access: Access,
    /// The open file (read-write for [`Access::ReadWrite`]), kept for size
    /// checks, locks and writes; `None` for a mailbox that does not exist yet
    /// ([`Mailbox::empty`]).
    file: Option<File>,
    /// The bytes indexed: exactly the file's size when it was last synced.
    data: MailData,
    index: Index,
    /// How `data` is obtained (tests run both ways).
    source: Source,
    locking: LockSettings,
    /// A fixed clock (tests); `None` = the system clock.
    clock: Option<Clock>,
    /// The write path's state: what the file says, pending flag changes,
    /// what the session has been told.
    state: write::WriteState,
}

impl Mailbox {
    /// Opens and indexes the mbox at `path`.
    ///
    /// Never modifies the file. Errors: [`StoreError::Missing`] if it does not
    /// exist (the caller decides whether that is an empty INBOX,
    /// [`Mailbox::empty`]), [`StoreError::NotMailbox`] for a directory, a
    /// special file or a file that does not start with a From_ line,
    /// [`StoreError::Locked`] if the locks could not be had in time.
    pub fn open(
        path: &Path,
        access: Access,
        locking: &LockSettings,
    ) -> Result<Mailbox, StoreError> {
        Self::open_from(path, access, locking, Source::Map, None)
    }

    /// [`Mailbox::open`] with a fixed clock: the UIDVALIDITY given to a
    /// mailbox that has none, and the local time zone (tests, tools).
    pub fn open_with_clock(
        path: &Path,
        access: Access,
        locking: &LockSettings,
        clock: Clock,
    ) -> Result<Mailbox, StoreError> {
        Self::open_from(path, access, locking, Source::Map, Some(clock))
    }

    /// An empty mailbox for a file that does not exist (a spool INBOX before
    /// the first delivery). Its UIDVALIDITY is the current time. Access is
    /// read-write: delivery will create the file; EXAMINE is read-only by mode.
    /// [`Mailbox::refresh`] notices when the file appears.
    pub fn empty(path: &Path) -> Mailbox {
        Mailbox {
            path: path.to_owned(),
            access: Access::ReadWrite,
            file: None,
            data: MailData::Empty,
            index: Index::empty(Clock::system()),
            source: Source::Map,
            locking: LockSettings::default(),
            clock: None,
            state: write::WriteState::default(),
        }
    }

    /// [`Mailbox::open`] with the bytes obtained from `source`.
    fn open_from(
        path: &Path,
        access: Access,
        locking: &LockSettings,
        source: Source,
        clock: Option<Clock>,
    ) -> Result<Mailbox, StoreError> {
        let io_error = |source| StoreError::Io {
            path: path.to_owned(),
            source,
        };
        let not_mailbox = |reason: String| StoreError::NotMailbox {
            path: path.to_owned(),
            reason,
        };
        // UW: "Can't get write access to mailbox, access is readonly".
        let access = match access {
            Access::ReadWrite if access_check(path, AccessFlags::W_OK).is_err() => {
                log::info!("{}: no write access, opening read-only", path.display());
                Access::ReadOnly
            }
            other => other,
        };
        let file = open_regular(path, |p| open_file(p, access))?;
        recover_at_open(path, &file, access, locking)?;
        let the_clock = clock.unwrap_or_else(Clock::system);
        let (data, index, stamp) = {
            let _locks = lock::acquire(path, &file, LockMode::Read, locking)?;
            // The size under the lock is the size we index and map.
            let meta = file.metadata().map_err(io_error)?;
            let data = MailData::load(&file, meta.len(), source).map_err(io_error)?;
            // Streamed: the spans of 100,000 messages are never all held.
            let spans = scan::Spans::new(data.bytes()).map_err(|e| not_mailbox(e.to_string()))?;
            let index = index::build_streaming(data.bytes(), spans, the_clock, path)
                .map_err(|e| not_mailbox(e.to_string()))?;
            (data, index, write::Stamp::of(&meta))
        };
        log::debug!(
            "{}: {} messages, {} bytes, UIDVALIDITY {}, UIDNEXT {}",
            path.display(),
            index.entries.len(),
            data.bytes().len(),
            index.uid_validity,
            index.uid_next
        );
        let state = write::WriteState::new(&index, stamp);
        Ok(Mailbox {
            path: path.to_owned(),
            access,
            file: Some(file),
            data,
            index,
            source,
            locking: locking.clone(),
            clock,
            state,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Messages visible to clients (the UW pseudo-message is not one).
    pub fn len(&self) -> usize {
        self.index.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The UIDs the client numbers 1..n, when that differs from the index:
    /// changes folded in by a checkpoint (another session's expunge or new
    /// mail) that no refresh has reported yet. `None` when the index is the
    /// client's numbering.
    pub fn client_view(&self) -> Option<&[u32]> {
        self.state.reported.as_deref()
    }

    /// Index entries in sequence order: `entries()[seq - 1]`.
    pub fn entries(&self) -> &[MessageEntry] {
        &self.index.entries
    }

    /// For in-session flag changes (\Seen on a body fetch, STORE).
    pub fn entry_mut(&mut self, index: usize) -> Option<&mut MessageEntry> {
        self.index.entries.get_mut(index)
    }

    /// The bytes of message `index` (0-based).
    pub fn message(&self, index: usize) -> Option<MessageView<'_>> {
        let entry = self.index.entries.get(index)?;
        let start = usize::try_from(entry.offset).ok()?;
        let raw = self
            .data
            .bytes()
            .get(start..start.checked_add(entry.length as usize)?)?;
        Some(MessageView {
            raw,
            header_length: entry.header_length as usize,
        })
    }

    /// The 0-based index of `uid`, or where it would be (binary search).
    pub fn index_of_uid(&self, uid: u32) -> Result<usize, usize> {
        self.entries().binary_search_by_key(&uid, |e| e.uid.get())
    }

    pub fn uid_validity(&self) -> UidValidity {
        self.index.uid_validity
    }

    /// The next UID this mailbox will assign (RFC 3501 UIDNEXT).
    pub fn uid_next(&self) -> Uid {
        self.index.uid_next
    }

    /// Keywords declared in the mailbox (X-IMAP / X-IMAPbase), in declaration order.
    pub fn keywords(&self) -> &[String] {
        &self.index.keywords
    }

    pub fn access(&self) -> Access {
        self.access
    }

    /// Makes an open mailbox read-only (e.g. when UW's session lock could not
    /// be had: "access is readonly"). Nothing is written from then on.
    pub fn set_read_only(&mut self) {
        self.access = Access::ReadOnly;
    }

    /// The number of file bytes indexed (the file's size when it was scanned).
    pub fn size(&self) -> u64 {
        self.data.bytes().len() as u64
    }

    /// Whether the file starts with UW's hidden pseudo-message (X-IMAP).
    pub fn pseudo_message(&self) -> bool {
        self.index.pseudo_message
    }

    /// The 0-based index of the first message without \Seen (RFC 3501
    /// `UNSEEN` response code, which is its sequence number).
    pub fn first_unseen(&self) -> Option<usize> {
        self.index
            .entries
            .iter()
            .position(|e| !e.flags.contains(SystemFlags::SEEN))
    }

    /// Messages with \Recent in this session (RFC 3501 `RECENT` response).
    pub fn recent_count(&self) -> usize {
        self.index
            .entries
            .iter()
            .filter(|e| e.flags.contains(SystemFlags::RECENT))
            .count()
    }

    /// Some UID or the UIDVALIDITY is not yet recorded in the file (messages
    /// without X-UID, renumbering, no metadata): the next checkpoint must
    /// write them, as UW does at the next command.
    pub fn metadata_unsaved(&self) -> bool {
        self.index.metadata_unsaved
    }

    /// The device and inode of the open file (UW's session lock is named by them).
    pub fn file_id(&self) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        let meta = self.file.as_ref()?.metadata().ok()?;
        Some((meta.dev(), meta.ino()))
    }

    fn clock(&self) -> Clock {
        self.clock.unwrap_or_else(Clock::system)
    }
}

/// Opens the mailbox file: read-write for [`Access::ReadWrite`] (fcntl
/// F_WRLCK and the rewrite need it), else read-only. O_NONBLOCK so that
/// opening a FIFO does not hang; it changes nothing for files.
/// Opens the mailbox file at `path` with `open` and checks that it is a
/// regular file: a missing file is [`StoreError::Missing`], a directory or
/// special file [`StoreError::NotMailbox`], anything else [`StoreError::Io`].
/// Every path that opens a mailbox to read or write it goes through here.
pub(crate) fn open_regular(
    path: &Path,
    open: impl FnOnce(&Path) -> std::io::Result<File>,
) -> Result<File, StoreError> {
    let io_error = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    let file = match open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::Missing {
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(io_error(e)),
    };
    if !file.metadata().map_err(io_error)?.is_file() {
        return Err(StoreError::NotMailbox {
            path: path.to_owned(),
            reason: "not a regular file".into(),
        });
    }
    Ok(file)
}

fn open_file(path: &Path, access: Access) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(access == Access::ReadWrite)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// A journal left by a crashed writer is finished before the file is read
/// (rewrite.md "Recovery"), under the write locks. A read-only session
/// still recovers if the user may write the file; otherwise it can only
/// warn and read what is there.
fn recover_at_open(
    path: &Path,
    file: &File,
    access: Access,
    locking: &LockSettings,
) -> Result<(), StoreError> {
    let io_error = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    if journal::find(path, file).map_err(io_error)?.is_none() {
        return Ok(());
    }
    let writable;
    let target = match access {
        Access::ReadWrite => file,
        Access::ReadOnly => match open_file(path, Access::ReadWrite) {
            Ok(f) => {
                writable = f;
                &writable
            }
            Err(e) => {
                log::error!(
                    "{}: an interrupted rewrite needs recovery, but the file is not writable: {e}",
                    path.display()
                );
                return Ok(());
            }
        },
    };
    let mut guard = lock::acquire(path, target, LockMode::Write, locking)?;
    let outcome = rewrite::recover(path, target, &mut || guard.touch()).map_err(io_error)?;
    log::warn!("{}: recovery at open: {outcome:?}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant, SystemTime};

    use super::*;

    fn fixture_path(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/mbox")
            .join(name)
    }

    /// Opens a copy of a fixture (so lock files land in a temp dir), with
    /// the bytes from `source`.
    fn open_fixture(name: &str, source: Source) -> (tempfile::TempDir, Mailbox) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::copy(fixture_path(name), &path).unwrap();
        let mailbox = Mailbox::open_from(
            &path,
            Access::ReadOnly,
            &LockSettings::default(),
            source,
            None,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        (dir, mailbox)
    }

    /// Runs `check` on the fixture read through both the map and read().
    fn each_source(name: &str, check: impl Fn(&Mailbox)) {
        for source in [Source::Map, Source::Read] {
            let (_dir, mailbox) = open_fixture(name, source);
            check(&mailbox);
        }
    }

    fn uids(m: &Mailbox) -> Vec<u32> {
        m.entries().iter().map(|e| e.uid.get()).collect()
    }

    fn sizes(m: &Mailbox) -> Vec<u32> {
        m.entries().iter().map(|e| e.rfc822_size).collect()
    }

    fn flags(list: &[SystemFlags]) -> SystemFlags {
        SystemFlags(list.iter().map(|f| f.0).sum())
    }

    /// UIDs 1, 3, 4, ..., 31 after UW's session (uw-session.transcript a9).
    fn session_uids() -> Vec<u32> {
        std::iter::once(1).chain(3..=31).collect()
    }

    #[test]
    fn entry_is_at_most_48_bytes() {
        assert!(std::mem::size_of::<MessageEntry>() <= 48);
    }

    #[test]
    fn spool_plain_sizes_and_dates_match_uw() {
        each_source("spool-plain.mbox", |m| {
            assert_eq!(m.len(), 30);
            assert!(!m.pseudo_message());
            // uw-session.transcript a2: FETCH 1:5 before UW rewrote the file.
            assert_eq!(sizes(m)[..5], [1566, 3819, 9063, 1347, 1479]);
            assert_eq!(uids(m), (1..=30).collect::<Vec<_>>());
            assert_eq!(m.uid_next().get(), 31);
            assert_eq!(m.recent_count(), 30);
            assert_eq!(m.first_unseen(), Some(0));
            assert!(m.metadata_unsaved());
            // "26-Mar-2023 11:10:13 +0000", " 2-Jun-2023 07:15:03 +0000" (TZ of the test
            // machine is irrelevant only if it is UTC, so compare through the zone).
            let e = &m.entries()[0];
            assert_eq!(
                e.internal_date + i64::from(e.zone_minutes) * 60,
                1_679_829_013
            );
            let e = &m.entries()[1];
            assert_eq!(
                e.internal_date + i64::from(e.zone_minutes) * 60,
                1_685_690_103
            );
            assert_eq!(m.size(), 215_610);
        });
    }

    #[test]
    fn uw_session_metadata() {
        each_source("uw-session.mbox", |m| {
            assert_eq!(m.len(), 30);
            assert_eq!(m.uid_validity().get(), 1_795_932_911);
            assert_eq!(uids(m), session_uids());
            assert_eq!(m.uid_next().get(), 32);
            assert_eq!(m.keywords(), ["Work", "$Forwarded"]);
            use SystemFlags as S;
            let e = m.entries();
            assert_eq!(e[0].flags, flags(&[S::SEEN, S::FLAGGED, S::OLD]));
            assert_eq!(e[1].flags, flags(&[S::ANSWERED, S::OLD]));
            assert_eq!(e[3].keywords, 0b11);
            assert_eq!(e[29].flags, flags(&[S::SEEN, S::OLD]));
            assert_eq!(e.iter().map(|e| e.keywords).sum::<u32>(), 3);
            assert_eq!(m.recent_count(), 0);
            assert_eq!(m.first_unseen(), Some(1));
            assert!(!m.metadata_unsaved());
            // Hidden headers do not count: the same sizes as in spool-plain.
            assert_eq!(sizes(m)[..4], [1566, 9063, 1347, 1479]);
            // The appended message: From_ line with a numeric zone after the year.
            let last = &e[29];
            assert_eq!((last.internal_date, last.zone_minutes), (1_793_610_000, 0));
        });
    }

    #[test]
    fn uw_session_sizes_equal_spool_plain_sizes() {
        let (_a, plain) = open_fixture("spool-plain.mbox", Source::Map);
        let (_b, session) = open_fixture("uw-session.mbox", Source::Map);
        let mut expected = sizes(&plain);
        expected.remove(1); // message 2 was expunged
        assert_eq!(sizes(&session)[..29], expected[..]);
        // And the visible header plus body is exactly that many CRLF octets.
        for i in 0..session.len() {
            let view = session.message(i).unwrap();
            let visible: u64 = view
                .visible_header()
                .iter()
                .map(|s| crate::response::crlf::crlf_len(s))
                .sum::<u64>()
                + crate::response::crlf::crlf_len(view.body());
            assert_eq!(
                visible,
                u64::from(session.entries()[i].rfc822_size),
                "message {}",
                i + 1
            );
            let header = view.visible_header().concat();
            assert!(
                !header.windows(7).any(|w| w == b"\nX-UID:"),
                "message {}",
                i + 1
            );
        }
    }

    #[test]
    fn dovecot_session_gives_the_same_uids_and_flags() {
        let (_a, uw) = open_fixture("uw-session.mbox", Source::Map);
        each_source("dovecot-session.mbox", |m| {
            assert_eq!(m.uid_validity().get(), 1_795_932_911);
            assert_eq!(uids(m), session_uids());
            assert_eq!(m.uid_next().get(), 32);
            assert_eq!(m.keywords(), ["Work", "$Forwarded"]);
            let f = |m: &Mailbox| {
                m.entries()
                    .iter()
                    .map(|e| (e.flags, e.keywords))
                    .collect::<Vec<_>>()
            };
            assert_eq!(f(m), f(&uw));
            // The unquoted "From the appender" body line is not a separator.
            let last = m.message(29).unwrap();
            assert!(last.body().starts_with(b"From the appender"));
        });
    }

    #[test]
    fn uw_archive_hides_the_pseudo_message() {
        each_source("uw-archive.mbox", |m| {
            assert!(m.pseudo_message());
            assert_eq!(m.len(), 3);
            assert_eq!(uids(m), [1, 2, 3]);
            assert_eq!(
                (m.uid_validity().get(), m.uid_next().get()),
                (1_795_932_911, 4)
            );
            assert_eq!(sizes(m), [1566, 9063, 1347]);
            assert!(
                m.message(0)
                    .unwrap()
                    .header()
                    .starts_with(b"Return-Path: <ivan.russo47@")
            );
        });
    }

    #[test]
    fn dovecot_archive_matches_uw_archive() {
        each_source("dovecot-archive.mbox", |m| {
            assert!(!m.pseudo_message());
            assert_eq!(uids(m), [1, 2, 3]);
            assert_eq!(
                (m.uid_validity().get(), m.uid_next().get()),
                (1_795_932_911, 4)
            );
            use SystemFlags as S;
            assert_eq!(
                m.entries()[0].flags,
                flags(&[S::SEEN, S::FLAGGED, S::RECENT])
            );
            assert_eq!(m.entries()[1].flags, flags(&[S::ANSWERED, S::RECENT]));
            assert_eq!(m.recent_count(), 3);
        });
    }

    #[test]
    fn uw_emptied_and_expunged_all() {
        each_source("uw-emptied.mbox", |m| {
            assert!(m.pseudo_message());
            assert_eq!(uids(m), [1]);
            assert_eq!(
                (m.uid_validity().get(), m.uid_next().get()),
                (1_795_932_911, 2)
            );
            // `Status: ` without O: still \Recent.
            assert_eq!(m.entries()[0].flags, SystemFlags::RECENT);
        });
        each_source("uw-expunged-all.mbox", |m| {
            assert!(m.pseudo_message());
            assert!(m.is_empty());
            assert_eq!(
                (m.uid_validity().get(), m.uid_next().get()),
                (1_795_932_911, 4)
            );
            assert_eq!(m.first_unseen(), None);
            assert!(m.message(0).is_none());
        });
    }

    #[test]
    fn mutt_rewritten_has_old_messages_and_no_uids() {
        each_source("mutt-rewritten.mbox", |m| {
            assert_eq!(m.len(), 30);
            assert_eq!(m.recent_count(), 0);
            assert_eq!(uids(m), (1..=30).collect::<Vec<_>>());
            assert!(m.metadata_unsaved());
        });
    }

    fn write_temp(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    #[test]
    fn open_never_modifies_the_file() {
        let original = std::fs::read(fixture_path("spool-plain.mbox")).unwrap();
        let (dir, path) = write_temp(&original);
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let mailbox = Mailbox::open(&path, Access::ReadWrite, &LockSettings::default()).unwrap();
        assert_eq!(mailbox.len(), 30);
        assert_eq!(mailbox.access(), Access::ReadWrite);
        drop(mailbox);
        assert_eq!(std::fs::read(&path).unwrap(), original);
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), old);
        // The lock file is gone again.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn message_view_and_visible_header() {
        let (_dir, path) = write_temp(
            b"From a Wed Dec  2 05:53:22 1992\nSubject: s\nX-UID: 5\nStatus: O\n\nbody\n\n",
        );
        let m = Mailbox::open(&path, Access::ReadOnly, &LockSettings::default()).unwrap();
        let view = m.message(0).unwrap();
        assert_eq!(view.raw, b"Subject: s\nX-UID: 5\nStatus: O\n\nbody\n");
        assert_eq!(view.header(), b"Subject: s\nX-UID: 5\nStatus: O\n\n");
        assert_eq!(view.body(), b"body\n");
        assert_eq!(view.visible_header(), [&b"Subject: s\n"[..], b"\n"]);
        assert_eq!(m.entries()[0].rfc822_size, 20);
        assert_eq!(m.size(), 69);
    }

    #[test]
    fn open_errors() {
        let settings = LockSettings::default();
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nothing");
        assert!(matches!(
            Mailbox::open(&missing, Access::ReadOnly, &settings),
            Err(StoreError::Missing { .. })
        ));
        assert!(matches!(
            Mailbox::open(dir.path(), Access::ReadOnly, &settings),
            Err(StoreError::NotMailbox { .. })
        ));
        let (_d, garbage) =
            write_temp(b"Subject: not an mbox\n\nFrom a Wed Dec  2 05:53:22 1992\n");
        assert!(matches!(
            Mailbox::open(&garbage, Access::ReadOnly, &settings),
            Err(StoreError::NotMailbox { .. })
        ));
        let (_e, empty) = write_temp(b"");
        let m = Mailbox::open(&empty, Access::ReadOnly, &settings).unwrap();
        assert!(m.is_empty());
        assert_eq!(m.uid_next().get(), 1);
        let m = Mailbox::empty(&missing);
        assert!(m.is_empty() && !m.pseudo_message());
        assert_eq!((m.uid_next().get(), m.size(), m.recent_count()), (1, 0, 0));
    }

    #[test]
    fn live_dotlock_makes_open_fail_with_locked() {
        let (_dir, path) = write_temp(b"From a Wed Dec  2 05:53:22 1992\n\nx\n");
        let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
        // Pid 1 is alive, on this host: a lock that must be respected.
        std::fs::write(format!("{}.lock", path.display()), format!("1 {host}\n")).unwrap();
        let settings = LockSettings {
            timeout: Duration::from_millis(300),
            ..LockSettings::default()
        };
        let started = Instant::now();
        let result = Mailbox::open(&path, Access::ReadOnly, &settings);
        assert!(matches!(result, Err(StoreError::Locked { .. })));
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[test]
    fn entry_mut_changes_flags() {
        let (_dir, path) = write_temp(b"From a Wed Dec  2 05:53:22 1992\n\nx\n");
        let mut m = Mailbox::open(&path, Access::ReadWrite, &LockSettings::default()).unwrap();
        m.entry_mut(0).unwrap().flags.insert(SystemFlags::SEEN);
        assert_eq!(m.first_unseen(), None);
        assert!(m.entry_mut(1).is_none());
        assert_eq!(m.index_of_uid(1), Ok(0));
        assert_eq!(m.index_of_uid(2), Err(1));
    }
}
