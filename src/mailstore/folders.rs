//! The folder tree: mailbox files and directories under the mail directory,
//! and the operations that change it (CREATE, DELETE, RENAME; RFC 3501
//! §6.3.3-§6.3.5).
//!
//! The tree is UW imapd's: a mailbox is an mbox file, a directory is a
//! `\Noselect` folder that holds folders, and a name's modified UTF-7 form is
//! the file name. The hard parts:
//!
//! * **Confinement.** A name is a relative path, checked component by
//!   component by the command layer; [`escape`] then makes sure no symbolic
//!   link on the way leads outside the mail directory (the one exception: a
//!   link to the INBOX file, an old UW habit).
//! * **Never reuse a UIDVALIDITY.** RFC 3501 §2.3.1.1: a name must never come
//!   back with a UIDVALIDITY it had before while its UIDs mean other messages.
//!   UIDVALIDITY is the creation time, as UW and Dovecot make it, but two
//!   CREATEs of one name within a second would get the same second. So every
//!   value we put in a file comes from [`state::issue_uid_validity`]: the
//!   mail directory's `.mbox-imapd-uidvalidity` holds the last value issued,
//!   and the next is `max(now, last + 1)`. DELETE raises that record to the
//!   deleted file's own UIDVALIDITY first (it may have been made by UW, or by
//!   a clock that ran ahead), and RENAME gives the mailboxes it moves a fresh
//!   value, so a name moved away and back never shows an older number.
//! * **Atomic creation.** A new mailbox file is written complete under a
//!   temporary name and then hard-linked to its name, which fails if the name
//!   exists: no one ever sees a half-written pseudo-message, and two sessions
//!   creating the same name cannot both win.
//! * **Not every file is a mailbox.** Lock files, dotfiles, sockets and files
//!   that do not start with a From_ line are never listed and never deleted
//!   or renamed as mailboxes ([`probe_mbox`]).

mod inbox;
mod state;
mod walk;

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::libc;
use thiserror::Error;

pub use self::inbox::{patch_uid_validity, pseudo_message, rename_inbox};
pub use self::state::{
    UID_STATE_FILE, issue_uid_validity, note_uid_validity, subscribe, subscriptions, unsubscribe,
};
pub use self::walk::{Entry, Kind, Tree, is_marked_file};
use super::lock::{self, LockMode};
use super::{LockSettings, StoreError};

/// Mode of new mailbox files (UW's default `mbx_protection`).
const MAILBOX_MODE: u32 = 0o600;
/// Mode of new folders (UW's default `dir_protection`).
const FOLDER_MODE: u32 = 0o700;
/// How much of a file's start is read to tell an mbox from anything else.
const PROBE_OCTETS: usize = 1024;
/// ... and how much at most when it starts with many blank lines or a long line.
const PROBE_MAX_OCTETS: usize = 16 * 1024;

/// What went wrong with a folder operation. Paths are for the log only.
#[derive(Debug, Error)]
pub enum FolderError {
    #[error("{path}: already exists")]
    Exists { path: PathBuf },
    #[error("{path}: does not exist")]
    Missing { path: PathBuf },
    /// RFC 3501 §6.3.4: a `\Noselect` name with inferiors cannot be deleted.
    #[error("{path}: folder has inferior mailboxes")]
    HasChildren { path: PathBuf },
    /// The directory holds files that are not mailboxes (so rmdir fails).
    #[error("{path}: folder holds files that are not mailboxes")]
    NotEmpty { path: PathBuf },
    /// A superior name is a mailbox file, which cannot hold mailboxes.
    #[error("{path}: a superior name is a mailbox, not a folder")]
    ParentNotFolder { path: PathBuf },
    #[error("{path}: not a mailbox: {reason}")]
    NotMailbox { path: PathBuf, reason: String },
    /// RENAME of a folder into itself.
    #[error("{path}: cannot move a folder into itself")]
    IntoItself { path: PathBuf },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

impl FolderError {
    fn io(path: &Path) -> impl FnOnce(io::Error) -> FolderError + '_ {
        move |source| FolderError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Why `path` (under `mail_dir`) is not confined to the mail directory, if
/// it is not: an existing part of it is, or leads through a symbolic link
/// to, something outside `mail_dir` other than the INBOX file itself.
pub fn escape(mail_dir: &Path, inbox: &Path, path: &Path) -> Option<&'static str> {
    // No mail directory yet: nothing below it exists, so nothing can lead out.
    let root = fs::canonicalize(mail_dir).ok()?;
    for part in path.ancestors() {
        if part == mail_dir || !part.starts_with(mail_dir) {
            return None;
        }
        let Ok(meta) = fs::symlink_metadata(part) else {
            continue; // not there yet: look at its parent
        };
        let Ok(real) = fs::canonicalize(part) else {
            return Some(if meta.file_type().is_symlink() {
                "a symbolic link that leads nowhere"
            } else {
                "a path that cannot be resolved"
            });
        };
        if real.starts_with(&root) {
            return None;
        }
        if fs::canonicalize(inbox).is_ok_and(|i| i == real) {
            return None;
        }
        return Some("a symbolic link that leads outside your mail directory");
    }
    None
}

/// Refuses, without opening it, a path that exists but is not a regular
/// file: a folder, a socket, a device, a FIFO (whose open would block). A
/// missing path is left to the caller (`Ok`).
pub fn check_regular_file(path: &Path) -> Result<(), StoreError> {
    match fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(m) => Err(StoreError::NotMailbox {
            path: path.to_owned(),
            reason: if m.is_dir() {
                "a folder (\\Noselect)".into()
            } else {
                "not a regular file".into()
            },
        }),
        Err(_) => Ok(()),
    }
}

/// Opens `path` read-only without updating its access time where the kernel
/// allows (`O_NOATIME` needs ownership): atime > mtime is how LIST tells
/// `\Marked` from `\Unmarked`, so looking must not change it.
pub(super) fn open_quietly(path: &Path) -> io::Result<File> {
    let quiet = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOATIME | libc::O_NONBLOCK)
        .open(path);
    match quiet {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => File::open(path),
        other => other,
    }
}

/// What the start of a file says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Empty, blank, or its first non-blank line is a From_ line.
    Mbox,
    NotMbox,
    /// The bytes seen do not decide it yet.
    NeedMore,
}

/// Classifies a file by its first bytes `prefix`; `complete` = that is the
/// whole file. The rule is `scan::Spans::new`'s (mbox-format.md §1).
pub fn probe(prefix: &[u8], complete: bool) -> Probe {
    let undecided = if complete {
        Probe::NotMbox
    } else {
        Probe::NeedMore
    };
    let Some(start) = prefix
        .iter()
        .position(|b| !matches!(b, b'\n' | b'\r' | b' ' | b'\t'))
    else {
        return if complete {
            Probe::Mbox
        } else {
            Probe::NeedMore
        };
    };
    let rest = prefix.get(start..).unwrap_or(&[]);
    let shown = rest.len().min(5);
    if rest.get(..shown) != b"From ".get(..shown) {
        return Probe::NotMbox;
    }
    if !rest.contains(&b'\n') {
        return undecided;
    }
    if super::scan::from_line(rest).is_some() {
        Probe::Mbox
    } else {
        Probe::NotMbox
    }
}

/// Whether the regular file `path` is an mbox, by its first bytes
/// ([`probe`]); read without touching its access time.
pub fn is_mbox_file(path: &Path) -> io::Result<bool> {
    let mut file = open_quietly(path)?;
    probe_mbox(&mut file)
}

/// [`is_mbox_file`] on an open file (read from its current offset, the start).
pub fn probe_mbox(file: &mut File) -> io::Result<bool> {
    let mut buf = Vec::with_capacity(PROBE_OCTETS);
    let mut limit = PROBE_OCTETS;
    loop {
        let want = limit.saturating_sub(buf.len()) as u64;
        let got = Read::by_ref(file).take(want).read_to_end(&mut buf)?;
        let complete = got < want as usize;
        match probe(&buf, complete) {
            Probe::Mbox => return Ok(true),
            Probe::NotMbox => return Ok(false),
            Probe::NeedMore if limit < PROBE_MAX_OCTETS => limit = PROBE_MAX_OCTETS,
            Probe::NeedMore => return Ok(false),
        }
    }
}

/// CREATE of a mailbox (RFC 3501 §6.3.3): creates the superior folders as
/// needed and a new mbox file at `path` holding UW's pseudo-message with a
/// fresh UIDVALIDITY, which is returned. `host` goes into the pseudo-message.
pub fn create_mailbox(mail_dir: &Path, path: &Path, host: &str) -> Result<u32, FolderError> {
    create_parents(path)?;
    if fs::symlink_metadata(path).is_ok() {
        return Err(FolderError::Exists {
            path: path.to_owned(),
        });
    }
    let validity = issue_uid_validity(mail_dir)?;
    let bytes = pseudo_message(&chrono::Local::now(), host, validity, 0, &[]);
    install_new_file(path, |file| {
        file.write_all(&bytes)?;
        // Nothing in it is unread: equal times make it `\Unmarked` (UW's
        // rule, mtime > atime) however the clock ticked between the
        // file's creation and this write.
        let now = std::time::SystemTime::now();
        file.set_times(fs::FileTimes::new().set_accessed(now).set_modified(now))
    })?;
    log::info!(
        "created mailbox {} (UIDVALIDITY {validity})",
        path.display()
    );
    Ok(validity)
}

/// CREATE of a name with a trailing delimiter: a folder that holds folders.
pub fn create_folder(path: &Path) -> Result<(), FolderError> {
    create_parents(path)?;
    match DirBuilder::new().mode(FOLDER_MODE).create(path) {
        Ok(()) => {
            sync_parent(path);
            log::info!("created folder {}", path.display());
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(FolderError::Exists {
            path: path.to_owned(),
        }),
        Err(e) => Err(parent_error(path, e)),
    }
}

/// DELETE (RFC 3501 §6.3.4). A mailbox file is removed under its write locks
/// (so no one is writing it), after its UIDVALIDITY is recorded as used. A
/// folder is removed only if it holds nothing: with inferior mailboxes it is
/// `HasChildren`, with other files in it `NotEmpty`. A symbolic link is
/// removed itself, never its target.
pub fn delete(tree: &Tree, path: &Path, locking: &LockSettings) -> Result<(), FolderError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(FolderError::Missing {
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(FolderError::io(path)(e)),
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        fs::remove_file(path).map_err(FolderError::io(path))?;
    } else if kind.is_dir() {
        if tree.has_children(path) {
            return Err(FolderError::HasChildren {
                path: path.to_owned(),
            });
        }
        fs::remove_dir(path).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOTEMPTY | libc::EEXIST) => FolderError::NotEmpty {
                path: path.to_owned(),
            },
            _ => FolderError::io(path)(e),
        })?;
    } else if kind.is_file() {
        let file = open_mailbox_for_writing(path)?;
        let _locks = lock::acquire(path, &file, LockMode::Write, locking)?;
        if let Some(v) = inbox::declared_uid_validity(&file) {
            note_uid_validity(tree.mail_dir(), v)?;
        }
        fs::remove_file(path).map_err(FolderError::io(path))?;
    } else {
        return Err(FolderError::NotMailbox {
            path: path.to_owned(),
            reason: "not a regular file or directory".into(),
        });
    }
    sync_parent(path);
    log::info!("deleted {}", path.display());
    Ok(())
}

/// RENAME of anything but INBOX (RFC 3501 §6.3.5): rename(2), which moves a
/// folder's inferiors with it; superior folders of `to` are created as
/// needed. The mailboxes moved get a fresh UIDVALIDITY (module doc). A
/// mailbox file is renamed under its write locks.
pub fn rename(
    tree: &Tree,
    from: &Path,
    to: &Path,
    locking: &LockSettings,
) -> Result<(), FolderError> {
    let meta = match fs::symlink_metadata(from) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(FolderError::Missing {
                path: from.to_owned(),
            });
        }
        Err(e) => return Err(FolderError::io(from)(e)),
    };
    if fs::symlink_metadata(to).is_ok() {
        return Err(FolderError::Exists {
            path: to.to_owned(),
        });
    }
    if to.starts_with(from) {
        return Err(FolderError::IntoItself {
            path: from.to_owned(),
        });
    }
    create_parents(to)?;
    let kind = meta.file_type();
    if kind.is_file() {
        let file = open_mailbox_for_writing(from)?;
        let _locks = lock::acquire(from, &file, LockMode::Write, locking)?;
        rename_no_replace(from, to)?;
    } else if kind.is_dir() || kind.is_symlink() {
        rename_no_replace(from, to)?;
    } else {
        return Err(FolderError::NotMailbox {
            path: from.to_owned(),
            reason: "not a regular file or directory".into(),
        });
    }
    sync_parent(from);
    sync_parent(to);
    log::info!("renamed {} to {}", from.display(), to.display());
    if !kind.is_symlink() {
        renew_uid_validity(tree, to, locking);
    }
    Ok(())
}

/// Gives every mailbox at or under `path` a fresh UIDVALIDITY (one value for
/// all: UIDVALIDITY is per name, it need not differ between names). Failures
/// are logged: the rename itself has happened.
fn renew_uid_validity(tree: &Tree, path: &Path, locking: &LockSettings) {
    let files = if path.is_dir() {
        tree.mailbox_files(path)
    } else {
        vec![path.to_owned()]
    };
    if files.is_empty() {
        return;
    }
    let validity = match issue_uid_validity(tree.mail_dir()) {
        Ok(v) => v,
        Err(e) => {
            log::warn!("cannot issue a new UIDVALIDITY after rename: {e}");
            return;
        }
    };
    for file in files {
        match patch_uid_validity(&file, validity, locking) {
            Ok(true) => log::info!("{}: UIDVALIDITY now {validity}", file.display()),
            Ok(false) => {}
            Err(e) => log::warn!("{}: UIDVALIDITY not renewed: {e}", file.display()),
        }
    }
}

/// Opens a mailbox file read-write (the write locks need it) and checks that
/// it is an mbox; both without touching its times.
fn open_mailbox_for_writing(path: &Path) -> Result<File, FolderError> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOATIME)
        .open(path)
        .or_else(|e| match e.raw_os_error() {
            Some(libc::EPERM) => OpenOptions::new().read(true).write(true).open(path),
            _ => Err(e),
        })
        .map_err(FolderError::io(path))?;
    if !probe_mbox(&mut file).map_err(FolderError::io(path))? {
        return Err(FolderError::NotMailbox {
            path: path.to_owned(),
            reason: "does not start with a From_ line".into(),
        });
    }
    Ok(file)
}

/// Creates the superior folders of `path` (RFC 3501 §6.3.3 SHOULD).
fn create_parents(path: &Path) -> Result<(), FolderError> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    DirBuilder::new()
        .recursive(true)
        .mode(FOLDER_MODE)
        .create(parent)
        .map_err(|e| parent_error(path, e))
}

/// A superior name that exists as a file shows up as EEXIST or ENOTDIR.
fn parent_error(path: &Path, e: io::Error) -> FolderError {
    match e.raw_os_error() {
        Some(libc::ENOTDIR | libc::EEXIST) => FolderError::ParentNotFolder {
            path: path.to_owned(),
        },
        _ => FolderError::io(path)(e),
    }
}

/// Writes a new file completely under a temporary name in the same
/// directory, fsyncs it, then links it to `path` (failing with `Exists` if
/// the name was taken meanwhile) and fsyncs the directory.
fn install_new_file(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(), FolderError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = dir.join(format!(
        ".mbox-imapd-new.{}.{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    ));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(MAILBOX_MODE)
        .open(&temp)
        .and_then(|mut file| {
            write(&mut file)?;
            file.sync_all()
        });
    let linked = written.and_then(|()| match fs::hard_link(&temp, path) {
        // No hard links on this filesystem: rename, which must not replace.
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EOPNOTSUPP)) => {
            rename_no_replace(&temp, path).map_err(|e| match e {
                FolderError::Exists { .. } => io::Error::from(io::ErrorKind::AlreadyExists),
                FolderError::Io { source, .. } => source,
                other => io::Error::other(other.to_string()),
            })
        }
        other => other,
    });
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            sync_parent(path);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(FolderError::Exists {
            path: path.to_owned(),
        }),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOSPC | libc::EDQUOT | libc::EFBIG)
            ) =>
        {
            Err(FolderError::Store(StoreError::NoSpace {
                path: path.to_owned(),
                source: e,
            }))
        }
        Err(e) => Err(FolderError::io(path)(e)),
    }
}

/// rename(2) that fails with `Exists` rather than replace `to`.
fn rename_no_replace(from: &Path, to: &Path) -> Result<(), FolderError> {
    use nix::fcntl::{RenameFlags, renameat2};
    match renameat2(None, from, None, to, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EEXIST) => Err(FolderError::Exists {
            path: to.to_owned(),
        }),
        // Filesystems without RENAME_NOREPLACE: check, then rename (a race
        // only with the user's own programs).
        Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOSYS) if !to.starts_with(from) => {
            if fs::symlink_metadata(to).is_ok() {
                return Err(FolderError::Exists {
                    path: to.to_owned(),
                });
            }
            fs::rename(from, to).map_err(FolderError::io(from))
        }
        Err(e) => Err(FolderError::io(from)(e.into())),
    }
}

/// fsync of the directory holding `path`, so a new, removed or renamed name
/// survives a crash. Best effort: logged, not fatal.
fn sync_parent(path: &Path) {
    let Some(dir) = path.parent() else { return };
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        log::warn!("{}: fsync of the directory failed: {e}", dir.display());
    }
}

#[cfg(test)]
mod tests;
