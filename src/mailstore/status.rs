//! STATUS without an index: the counts of RFC 3501 §6.3.10 (and RFC 8438
//! SIZE) from one pass over a mailbox file that nobody has selected.
//!
//! The hard part is giving exactly the numbers a SELECT would give while
//! doing much less than a SELECT. [`count`] finds the message boundaries with
//! the same scan ([`Spans`]) and applies the same UID rules (index.rs:
//! `UidAssigner`, `first_message_meta`) as the index, but
//! for each message it only walks the header for `Status`, `X-Status` and
//! `X-UID`: no per-message entry is kept, no From_ date is parsed, and the
//! body is not looked at unless SIZE was asked for (RFC822.SIZE needs the
//! CRLF length of every line). The file is read under the read locks only, so
//! a mailbox another session (ours, UW's, mutt's) holds open can be counted,
//! and it is opened with `O_NOATIME` where the kernel allows, so a STATUS does
//! not turn LIST's `\Marked` (new mail) into `\Unmarked`.

use std::fs::File;
use std::path::Path;

use super::headers::{self, UwHeader};
use super::index::{self, Clock, UidAssigner, XUid};
use super::lock::{self, LockMode};
use super::mmap::{MailData, Source};
use super::scan::{NotMbox, Spans};
use super::{LockSettings, StoreError, folders};
use crate::response::crlf::crlf_len;
use crate::types::SystemFlags;

/// The STATUS counts of one mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxStatus {
    /// Client-visible messages (UW's pseudo-message is not one).
    pub messages: u32,
    /// Messages without the `O` (old) status letter: \Recent to the next session.
    pub recent: u32,
    /// Messages without \Seen.
    pub unseen: u32,
    /// Messages with \Deleted (RFC 9051 §6.3.11 STATUS DELETED).
    pub deleted: u32,
    pub uid_next: u32,
    pub uid_validity: u32,
    /// Sum of RFC822.SIZE (RFC 8438), when asked for.
    pub size: Option<u64>,
}

/// Whether the (more expensive) SIZE item is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Skip,
    Count,
}

/// Counts the mailbox file at `path` under the read locks, without changing
/// it (not even its access time, where `O_NOATIME` is allowed).
///
/// Errors as [`super::Mailbox::open`]: `Missing`, `NotMailbox` (a directory,
/// a special file, a file that is not an mbox), `Locked`, `Io`.
pub fn read(path: &Path, locking: &LockSettings, size: Size) -> Result<MailboxStatus, StoreError> {
    let io_error = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    folders::check_regular_file(path)?;
    let file: File = super::open_regular(path, folders::open_quietly)?;
    // The bytes are read while the locks are held: nobody rewrites them under us.
    let _locks = lock::acquire(path, &file, LockMode::Read, locking)?;
    let len = file.metadata().map_err(io_error)?.len();
    let data = MailData::load(&file, len, Source::Map).map_err(io_error)?;
    count(data.bytes(), Clock::system().now, size, path).map_err(|e| StoreError::NotMailbox {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// The counts for the mbox bytes `data`, by the index's rules (index.rs):
/// the same UIDVALIDITY and UIDNEXT a SELECT at time `now` would report.
/// `name` is used in log lines only.
pub fn count(data: &[u8], now: u32, size: Size, name: &Path) -> Result<MailboxStatus, NotMbox> {
    let mut spans = Spans::new(data)?.peekable();
    let first = spans
        .peek()
        .map(|s| data.get(s.text.clone()).unwrap_or(&[]));
    let meta = first.map(index::first_message_meta).unwrap_or_default();
    if meta.pseudo_message {
        spans.next();
    }
    let mut uids = UidAssigner::new(meta.uid_validity.map(|_| meta.last_uid));
    let (mut messages, mut recent, mut unseen, mut total_size) = (0u32, 0u32, 0u32, 0u64);
    let mut deleted = 0u32;
    for span in spans {
        messages = messages.saturating_add(1);
        let text = data.get(span.text.clone()).unwrap_or(&[]);
        let header = text.get(..headers::header_length(text)).unwrap_or(text);
        let mut flags = SystemFlags::default();
        let mut x_uid = XUid::Missing;
        let mut hidden = 0u64;
        for field in headers::uw_fields(header) {
            if size == Size::Count {
                hidden += crlf_len(header.get(field.span.clone()).unwrap_or(&[]));
            }
            if !field.exact_case {
                continue;
            }
            match field.header {
                UwHeader::Status | UwHeader::XStatus => {
                    flags.insert(headers::flag_letters(field.value))
                }
                UwHeader::XUid => {
                    x_uid = match x_uid {
                        XUid::Missing => {
                            headers::uid_value(field.value).map_or(XUid::Missing, XUid::Value)
                        }
                        _ => XUid::Repeated,
                    }
                }
                _ => {}
            }
        }
        if !flags.contains(SystemFlags::OLD) {
            recent += 1;
        }
        if !flags.contains(SystemFlags::SEEN) {
            unseen += 1;
        }
        if flags.contains(SystemFlags::DELETED) {
            deleted += 1;
        }
        if size == Size::Count {
            total_size += crlf_len(text).saturating_sub(hidden);
        }
        // Once the UIDs are found unusable this is a no-op (the index renumbers).
        let _ = uids.next(x_uid, messages as usize, name);
    }
    let (uid_validity, uid_next) = match (meta.uid_validity, uids.finish()) {
        (Some(validity), Some(next)) => (validity.get(), next.get()),
        // No usable UIDs: 1..n under a new UIDVALIDITY (index::build).
        (Some(old), _) => (now.max(old.get().saturating_add(1)), messages + 1),
        (None, _) => (now, messages + 1),
    };
    Ok(MailboxStatus {
        messages,
        recent,
        unseen,
        deleted,
        uid_next,
        uid_validity: uid_validity.max(1),
        size: (size == Size::Count).then_some(total_size),
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::mailstore::{Access, Mailbox};

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/mbox")
            .join(name)
    }

    /// What a SELECT would say, from the full index.
    fn from_index(m: &Mailbox) -> MailboxStatus {
        let count = |f: &dyn Fn(&crate::mailstore::MessageEntry) -> bool| {
            m.entries().iter().filter(|e| f(e)).count() as u32
        };
        MailboxStatus {
            messages: m.len() as u32,
            recent: m.recent_count() as u32,
            unseen: count(&|e| !e.flags.contains(SystemFlags::SEEN)),
            deleted: count(&|e| e.flags.contains(SystemFlags::DELETED)),
            uid_next: m.uid_next().get(),
            uid_validity: m.uid_validity().get(),
            size: Some(m.entries().iter().map(|e| u64::from(e.rfc822_size)).sum()),
        }
    }

    #[test]
    fn agrees_with_the_index_on_every_fixture() {
        let fixtures = [
            "spool-plain.mbox",
            "uw-session.mbox",
            "uw-archive.mbox",
            "uw-emptied.mbox",
            "uw-expunged-all.mbox",
            "dovecot-session.mbox",
            "dovecot-archive.mbox",
            "mutt-rewritten.mbox",
        ];
        for name in fixtures {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(name);
            std::fs::copy(fixture(name), &path).unwrap();
            let m = Mailbox::open(&path, Access::ReadOnly, &LockSettings::default()).unwrap();
            let mut expected = from_index(&m);
            let got = read(&path, &LockSettings::default(), Size::Count).unwrap();
            // Files without stored metadata get "now" at each open.
            if !m.pseudo_message()
                && m.metadata_unsaved()
                && got.uid_validity != expected.uid_validity
            {
                assert!(
                    got.uid_validity.abs_diff(expected.uid_validity) <= 2,
                    "{name}"
                );
                expected.uid_validity = got.uid_validity;
            }
            assert_eq!(got, expected, "{name}");
            let quick = read(&path, &LockSettings::default(), Size::Skip).unwrap();
            assert_eq!(quick.size, None);
            assert_eq!(quick.messages, expected.messages, "{name}");
        }
    }

    #[test]
    fn uw_session_numbers() {
        let data = std::fs::read(fixture("uw-session.mbox")).unwrap();
        let s = count(&data, 1, Size::Skip, Path::new("t")).unwrap();
        assert_eq!(
            (s.messages, s.recent, s.unseen, s.uid_next, s.uid_validity),
            (30, 0, 28, 32, 1_795_932_911)
        );
    }

    #[test]
    fn broken_uids_renumber_under_a_larger_validity() {
        let m = |h: &str| format!("From a Wed Dec  2 05:53:22 1992\n{h}\nbody\n\n");
        let data = [
            m("X-IMAPbase: 500 9\nX-UID: 5\nStatus: RO\n"),
            m("X-UID: 3\n"),
            m(""),
        ]
        .concat();
        let s = count(data.as_bytes(), 100, Size::Count, Path::new("t")).unwrap();
        assert_eq!((s.messages, s.uid_next, s.uid_validity), (3, 4, 501));
        assert_eq!((s.recent, s.unseen, s.deleted), (2, 2, 0));
        let d = m("Status: RO\nX-Status: D\n");
        let s = count(d.as_bytes(), 100, Size::Skip, Path::new("t")).unwrap();
        assert_eq!((s.messages, s.deleted, s.unseen), (1, 1, 0));
        let s = count(data.as_bytes(), 1000, Size::Skip, Path::new("t")).unwrap();
        assert_eq!(s.uid_validity, 1000);
        // Empty and blank files are empty mailboxes; garbage is not a mailbox.
        let s = count(b"", 7, Size::Count, Path::new("t")).unwrap();
        assert_eq!(
            (s.messages, s.uid_next, s.uid_validity, s.size),
            (0, 1, 7, Some(0))
        );
        assert!(count(b"\n\n", 7, Size::Skip, Path::new("t")).is_ok());
        assert!(count(b"garbage\n", 7, Size::Skip, Path::new("t")).is_err());
    }

    #[test]
    fn works_while_another_reader_holds_the_locks_and_leaves_atime() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box");
        std::fs::copy(fixture("uw-archive.mbox"), &path).unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        let times = std::fs::FileTimes::new().set_accessed(old);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_times(times)
            .unwrap();
        let other = File::open(&path).unwrap();
        let settings = LockSettings {
            dotlock: false,
            ..LockSettings::default()
        };
        let _held = lock::acquire(&path, &other, LockMode::Read, &settings).unwrap();
        let s = read(&path, &settings, Size::Skip).unwrap();
        assert_eq!((s.messages, s.uid_next), (3, 4));
        let atime = std::fs::metadata(&path).unwrap().accessed().unwrap();
        assert_eq!(atime, old, "STATUS must not update the access time");
    }

    #[test]
    fn errors() {
        let dir = tempfile::tempdir().unwrap();
        let settings = LockSettings::default();
        assert!(matches!(
            read(&dir.path().join("none"), &settings, Size::Skip),
            Err(StoreError::Missing { .. })
        ));
        assert!(matches!(
            read(dir.path(), &settings, Size::Skip),
            Err(StoreError::NotMailbox { .. })
        ));
        let bin = dir.path().join("bin");
        std::fs::write(&bin, b"\x7fELF\x02\x01\x01\0\0\0").unwrap();
        assert!(matches!(
            read(&bin, &settings, Size::Skip),
            Err(StoreError::NotMailbox { .. })
        ));
        assert_eq!(std::fs::read(&bin).unwrap(), b"\x7fELF\x02\x01\x01\0\0\0");
    }
}
