//! The two small state files: the last UIDVALIDITY issued, and the
//! subscription list.
//!
//! * `<mail dir>/.mbox-imapd-uidvalidity` holds one decimal number, the last
//!   UIDVALIDITY this server wrote into a new or moved mailbox (see the
//!   folders module doc for why). Dotfiles are never listed or accepted as
//!   mailbox names, so it cannot collide with a mailbox.
//! * `~/.mailboxlist` is UW imapd's subscription list (c-client `sm_*`): one
//!   mailbox name per line, as the client sent it. Using UW's file means a
//!   swap of servers keeps everyone's subscriptions.
//!
//! Both are read, changed and replaced whole (a temporary file, fsync,
//! rename, fsync of the directory), under an exclusive flock on the
//! directory that holds them, so two sessions of the same user never lose
//! each other's update and a crash leaves the old or the new file, never a
//! torn one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::FolderError;

/// The UIDVALIDITY record, in the mail directory.
pub const UID_STATE_FILE: &str = ".mbox-imapd-uidvalidity";
/// UW's subscription list, in the home directory.
const SUBSCRIPTIONS_FILE: &str = ".mailboxlist";
/// More subscriptions than this are ignored (a bound on a hostile file).
const MAX_SUBSCRIPTIONS: usize = 100_000;

/// Issues a UIDVALIDITY no mailbox of this user has had from us:
/// `max(now, last + 1)`, and records it.
pub fn issue_uid_validity(mail_dir: &Path) -> Result<u32, FolderError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
    update_uid_state(mail_dir, |last| {
        let next = now.max(last.saturating_add(1));
        if next == u32::MAX {
            log::error!("UIDVALIDITY exhausted (2^32 - 1 reached)");
        }
        Some(next)
    })
}

/// Records that `seen` is (or was) in use, so that no later value is <= it.
pub fn note_uid_validity(mail_dir: &Path, seen: u32) -> Result<(), FolderError> {
    update_uid_state(mail_dir, |last| (seen > last).then_some(seen)).map(drop)
}

/// Reads the record, lets `next` compute the new value (`None` = keep),
/// writes it; returns the value now recorded.
fn update_uid_state(
    mail_dir: &Path,
    next: impl FnOnce(u32) -> Option<u32>,
) -> Result<u32, FolderError> {
    let path = mail_dir.join(UID_STATE_FILE);
    let _lock = DirLock::exclusive(mail_dir);
    let last = match fs::read(&path) {
        Ok(bytes) => parse_number(&bytes).unwrap_or_else(|| {
            log::warn!("{}: not a number, starting from the clock", path.display());
            0
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(FolderError::io(&path)(e)),
    };
    let Some(value) = next(last) else {
        return Ok(last);
    };
    replace_file(&path, format!("{value}\n").as_bytes(), 0o600)?;
    Ok(value)
}

/// The subscribed names, in file order (blank lines skipped, a CR before
/// the LF ignored). A missing file is an empty list.
pub fn subscriptions(home: &Path) -> Result<Vec<Vec<u8>>, FolderError> {
    let path = home.join(SUBSCRIPTIONS_FILE);
    match fs::read(&path) {
        Ok(bytes) => Ok(parse_subscriptions(&bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(FolderError::io(&path)(e)),
    }
}

/// Adds `name` (UW appends it at the end); already subscribed is success.
pub fn subscribe(home: &Path, name: &[u8]) -> Result<(), FolderError> {
    let path = subscriptions_path(home);
    let _lock = DirLock::exclusive(path.parent().unwrap_or(home));
    let mut names = subscriptions(home)?;
    if names.iter().any(|n| same_name(n, name)) {
        return Ok(());
    }
    names.push(name.to_vec());
    write_subscriptions(&path, &names)
}

/// Removes `name`; `false` if it was not subscribed.
pub fn unsubscribe(home: &Path, name: &[u8]) -> Result<bool, FolderError> {
    let path = subscriptions_path(home);
    let _lock = DirLock::exclusive(path.parent().unwrap_or(home));
    let mut names = subscriptions(home)?;
    let before = names.len();
    names.retain(|n| !same_name(n, name));
    if names.len() == before {
        return Ok(false);
    }
    write_subscriptions(&path, &names)?;
    Ok(true)
}

/// `INBOX` in any case is one name; every other name is compared exactly.
fn same_name(a: &[u8], b: &[u8]) -> bool {
    a == b || (a.eq_ignore_ascii_case(b"INBOX") && b.eq_ignore_ascii_case(b"INBOX"))
}

/// The real file behind `~/.mailboxlist` (users symlink dotfiles; replacing
/// the link by a file would cut it off).
fn subscriptions_path(home: &Path) -> PathBuf {
    let path = home.join(SUBSCRIPTIONS_FILE);
    fs::canonicalize(&path).unwrap_or(path)
}

fn write_subscriptions(path: &Path, names: &[Vec<u8>]) -> Result<(), FolderError> {
    let mut bytes = Vec::new();
    for name in names {
        bytes.extend_from_slice(name);
        bytes.push(b'\n');
    }
    replace_file(path, &bytes, 0o600)
}

fn parse_subscriptions(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.is_empty())
        .take(MAX_SUBSCRIPTIONS)
        .map(<[u8]>::to_vec)
        .collect()
}

/// Leading/trailing blanks around a decimal number that fits in u32.
fn parse_number(bytes: &[u8]) -> Option<u32> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

/// Replaces `path` by a file holding `bytes`: temporary file in the same
/// directory, fsync, rename, fsync of the directory. Keeps the old file's
/// permission bits; a new file gets `mode`.
fn replace_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FolderError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mode = fs::metadata(path).map_or(mode, |m| m.permissions().mode() & 0o7777);
    let mut temp_name = path.file_name().unwrap_or_default().to_owned();
    temp_name.push(format!(".mbox-imapd-tmp.{}", std::process::id()));
    let temp = dir.join(temp_name);
    let _ = fs::remove_file(&temp); // a leftover of ours
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            // The umask may have narrowed the mode.
            f.set_permissions(fs::Permissions::from_mode(mode))?;
            f.sync_all()
        })
        .and_then(|()| fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(FolderError::io(path)(e));
    }
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        log::warn!("{}: fsync of the directory failed: {e}", dir.display());
    }
    Ok(())
}

/// An exclusive flock on a directory, released when dropped. Best effort:
/// if the directory cannot be opened the update goes ahead unlocked (and
/// that is logged), since refusing would help no one.
struct DirLock(Option<File>);

impl DirLock {
    fn exclusive(dir: &Path) -> DirLock {
        match File::open(dir).and_then(|f| fs2::FileExt::lock_exclusive(&f).map(|()| f)) {
            Ok(f) => DirLock(Some(f)),
            Err(e) => {
                log::warn!("{}: cannot lock the directory: {e}", dir.display());
                DirLock(None)
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        if let Some(f) = &self.0 {
            let _ = fs2::FileExt::unlock(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_validity_strictly_increases_and_survives_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let a = issue_uid_validity(dir.path()).unwrap();
        let b = issue_uid_validity(dir.path()).unwrap();
        let c = issue_uid_validity(dir.path()).unwrap();
        assert!(a < b && b < c, "{a} {b} {c}");
        let stored = fs::read_to_string(dir.path().join(UID_STATE_FILE)).unwrap();
        assert_eq!(stored, format!("{c}\n"));
        // A value seen in a deleted file that is ahead of ours raises the floor.
        note_uid_validity(dir.path(), c + 1000).unwrap();
        assert_eq!(issue_uid_validity(dir.path()).unwrap(), c + 1001);
        note_uid_validity(dir.path(), 5).unwrap();
        assert_eq!(issue_uid_validity(dir.path()).unwrap(), c + 1002);
        fs::write(dir.path().join(UID_STATE_FILE), b"garbage").unwrap();
        assert!(issue_uid_validity(dir.path()).unwrap() >= a);
        // No temporary files are left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn subscriptions_in_uws_format() {
        let home = tempfile::tempdir().unwrap();
        assert!(subscriptions(home.path()).unwrap().is_empty());
        // A list UW wrote (with a name it stored in 8-bit, and a CRLF line).
        fs::write(
            home.path().join(".mailboxlist"),
            b"INBOX\nArchive\r\n\nLists/rust\nEntw\xfcrfe\n",
        )
        .unwrap();
        assert_eq!(
            subscriptions(home.path()).unwrap(),
            [&b"INBOX"[..], b"Archive", b"Lists/rust", b"Entw\xfcrfe"]
        );
        let list = home.path().join(".mailboxlist");
        fs::set_permissions(&list, fs::Permissions::from_mode(0o640)).unwrap();
        subscribe(home.path(), b"&ZeVnLIqe-").unwrap();
        subscribe(home.path(), b"Archive").unwrap(); // already there: no change
        assert!(unsubscribe(home.path(), b"inbox").unwrap());
        assert!(!unsubscribe(home.path(), b"Nope").unwrap());
        assert_eq!(
            fs::read(&list).unwrap(),
            b"Archive\nLists/rust\nEntw\xfcrfe\n&ZeVnLIqe-\n"
        );
        // The file was replaced, and kept its mode.
        let mode = fs::metadata(&list).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o640);
        // A new list is private to the user.
        let other = tempfile::tempdir().unwrap();
        subscribe(other.path(), b"X").unwrap();
        let mode = fs::metadata(other.path().join(".mailboxlist"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_symlinked_list_stays_a_symlink() {
        let home = tempfile::tempdir().unwrap();
        let real = home.path().join("dotfiles-mailboxlist");
        fs::write(&real, b"A\n").unwrap();
        std::os::unix::fs::symlink(&real, home.path().join(".mailboxlist")).unwrap();
        subscribe(home.path(), b"B").unwrap();
        assert!(
            fs::symlink_metadata(home.path().join(".mailboxlist"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"A\nB\n");
    }
}
