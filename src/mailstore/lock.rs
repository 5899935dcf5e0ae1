//! The three mailbox locks as one RAII guard: dotlock, fcntl, flock.
//!
//! The hard part is that no single lock is seen by every other mail program
//! (locking.md §1, §3): procmail, Postfix and mutt use the dotlock and fcntl,
//! UW imapd and alpine the dotlock and flock, and on Linux fcntl and flock do
//! not see each other. So we take all three, in UW's order (dotlock, fcntl,
//! flock; §7.1), and to avoid deadlocking with programs that use the opposite
//! order we never wait for one lock while holding another: each is tried
//! without blocking, and if any is busy everything taken so far is released,
//! we sleep a short, growing, slightly random interval and start again, until
//! the configured timeout.
//!
//! The dotlock is created NFS-safely (§2.1): a unique "hitching post" file in
//! the same directory is linked to `<mailbox>.lock`, and success is judged by
//! the hitching post's link count, because NFS may report a link() that
//! succeeded as failed. Our lock files contain `"<pid> <host>\n"`, so a lock
//! left by a crashed process on this host is broken at once rather than after
//! the usual five minutes (rewrite.md "Stale locks").
//!
//! Locks are held only while the file is read or written, never across a
//! client round trip (§7.2): hold the guard in a block.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, fcntl};
use nix::libc;

use super::{LockSettings, StoreError};

/// Whether the locks are taken for reading (shared) or writing (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Read,
    Write,
}

/// A dotlock older than this (by ctime) is broken, as UW does (locking.md §2.2).
const STALE_AFTER: Duration = Duration::from_secs(5 * 60);
/// First pause between attempts; it grows by half each time up to the maximum.
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_millis(250);

/// The held locks; released in reverse order when dropped.
#[derive(Debug)]
pub struct LockGuard<'f> {
    file: &'f File,
    dotlock: Option<DotLock>,
    fcntl: bool,
    flock: bool,
}

/// Takes the locks `settings` asks for on `file` (opened from `path`),
/// retrying until `settings.timeout`; then [`StoreError::Locked`].
pub fn acquire<'f>(
    path: &Path,
    file: &'f File,
    mode: LockMode,
    settings: &LockSettings,
) -> Result<LockGuard<'f>, StoreError> {
    let io_error = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    let deadline = Instant::now() + settings.timeout;
    let mut use_dotlock = settings.dotlock;
    // UW skips flock on NFS, where Linux emulates it with fcntl locks (§6).
    let use_flock = settings.flock && !on_nfs(file);
    let mut pause = FIRST_PAUSE;
    loop {
        let mut guard = LockGuard {
            file,
            dotlock: None,
            fcntl: false,
            flock: false,
        };
        let mut busy = None;
        if use_dotlock {
            match DotLock::create(path) {
                Ok(Some(lock)) => guard.dotlock = Some(lock),
                Ok(None) => busy = Some("dotlock"),
                Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EROFS)) => {
                    if mode == LockMode::Write {
                        // Writing the spool without the lock every MTA honours
                        // is unsafe: refuse unless the admin turned dotlocks
                        // off (locking.md §2.3).
                        return Err(StoreError::NoDotlock {
                            path: path.to_owned(),
                            reason: e.to_string(),
                        });
                    }
                    // A user process often may not create files in /var/mail
                    // (locking.md §2.3). Reading without the dotlock is what
                    // UW does then; fcntl and flock still exclude writers.
                    log::info!("{}: reading without a dotlock: {e}", path.display());
                    use_dotlock = false;
                }
                // Not even the lock file fits: a full disk, as for the write.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOSPC | libc::EDQUOT | libc::EFBIG)
                    ) =>
                {
                    return Err(StoreError::NoSpace {
                        path: path.to_owned(),
                        source: e,
                    });
                }
                Err(e) => return Err(io_error(e)),
            }
        }
        if busy.is_none() && settings.fcntl {
            match set_fcntl(file, mode) {
                Ok(()) => guard.fcntl = true,
                Err(Errno::EAGAIN | Errno::EACCES) => busy = Some("fcntl lock"),
                Err(e) => return Err(io_error(e.into())),
            }
        }
        if busy.is_none() && use_flock {
            let taken = match mode {
                LockMode::Read => fs2::FileExt::try_lock_shared(file),
                LockMode::Write => fs2::FileExt::try_lock_exclusive(file),
            };
            match taken {
                Ok(()) => guard.flock = true,
                Err(e) if e.raw_os_error() == fs2::lock_contended_error().raw_os_error() => {
                    busy = Some("flock");
                }
                Err(e) => return Err(io_error(e)),
            }
        }
        let Some(what) = busy else {
            return Ok(guard);
        };
        // Release everything before sleeping: never wait while holding a lock.
        drop(guard);
        let now = Instant::now();
        if now >= deadline {
            log::info!(
                "{}: {what} busy, giving up after {:?}",
                path.display(),
                settings.timeout
            );
            return Err(StoreError::Locked {
                path: path.to_owned(),
            });
        }
        std::thread::sleep(jitter(pause).min(deadline - now));
        pause = (pause * 3 / 2).min(MAX_PAUSE);
    }
}

/// A held dotlock is touched at most this often during a long write, so that
/// other programs do not take it for stale (UW: 5 minutes, Dovecot: 2).
const TOUCH_EVERY: Duration = Duration::from_secs(30);

impl LockGuard<'_> {
    /// Keeps the dotlock fresh during a long operation: updates its times if
    /// the last update is [`TOUCH_EVERY`] old. Cheap to call often.
    pub fn touch(&mut self) {
        let Some(lock) = self.dotlock.as_mut() else {
            return;
        };
        if lock.touched.elapsed() < TOUCH_EVERY {
            return;
        }
        lock.touched = Instant::now();
        let now = SystemTime::now();
        let times = fs::FileTimes::new().set_accessed(now).set_modified(now);
        let result = OpenOptions::new()
            .write(true)
            .open(&lock.path)
            .and_then(|f| f.set_times(times));
        if let Err(e) = result {
            log::warn!("{}: cannot touch our lock: {e}", lock.path.display());
        }
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        if self.flock
            && let Err(e) = fs2::FileExt::unlock(self.file)
        {
            log::warn!("flock unlock failed: {e}");
        }
        let unlock = whole_file(libc::F_UNLCK);
        if self.fcntl
            && let Err(e) = fcntl(self.file.as_raw_fd(), FcntlArg::F_SETLK(&unlock))
        {
            log::warn!("fcntl unlock failed: {e}");
        }
        if let Some(lock) = self.dotlock.take() {
            lock.release();
        }
    }
}

/// `F_SETLK` on the whole file: `F_RDLCK` needs only read access to the fd.
fn set_fcntl(file: &File, mode: LockMode) -> Result<(), Errno> {
    let kind = match mode {
        LockMode::Read => libc::F_RDLCK,
        LockMode::Write => libc::F_WRLCK,
    };
    fcntl(file.as_raw_fd(), FcntlArg::F_SETLK(&whole_file(kind))).map(drop)
}

fn whole_file(kind: libc::c_int) -> libc::flock {
    // Start 0, length 0 = the whole file, however it grows.
    libc::flock {
        l_type: kind as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    }
}

fn on_nfs(file: &File) -> bool {
    nix::sys::statfs::fstatfs(file)
        .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::NFS_SUPER_MAGIC)
}

/// `pause` plus up to a fifth more, varied per process and attempt, so that
/// two waiting processes do not retry in lockstep.
fn jitter(pause: Duration) -> Duration {
    let noise = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
        ^ std::process::id().wrapping_mul(2_654_435_761);
    let fifth = pause.as_micros() as u64 / 5;
    pause + Duration::from_micros(u64::from(noise) % fifth.max(1))
}

/// A dotlock we created: `<mailbox>.lock`, remembered by device and inode so
/// that we never delete a lock someone else made after breaking ours.
#[derive(Debug)]
struct DotLock {
    path: PathBuf,
    dev: u64,
    ino: u64,
    /// When its times were last updated (see [`LockGuard::touch`]).
    touched: Instant,
}

impl DotLock {
    /// One attempt: `Some` if we now hold the lock, `None` if another live
    /// holder has it. Breaks a stale lock first.
    fn create(mailbox: &Path) -> io::Result<Option<DotLock>> {
        let mut path = mailbox.as_os_str().to_owned();
        path.push(".lock");
        let path = PathBuf::from(path);
        let host = hostname();
        let contents = format!("{} {host}\n", std::process::id());
        if let Some(lock) = Self::link_hitching_post(&path, &host, contents.as_bytes())? {
            return Ok(Some(lock));
        }
        if !is_stale(&path, &host) {
            return Ok(None);
        }
        match fs::remove_file(&path) {
            Ok(()) => log::warn!("{}: broke a stale lock", path.display()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Self::link_hitching_post(&path, &host, contents.as_bytes())
    }

    /// The NFS-safe creation of locking.md §2.1: hitching post, link(), then
    /// the hitching post's link count decides. `None` if the lock exists.
    fn link_hitching_post(path: &Path, host: &str, contents: &[u8]) -> io::Result<Option<DotLock>> {
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut hitch = path.as_os_str().to_owned();
        // A host name could contain '/'; it must stay one file name.
        hitch.push(format!(
            ".{time}.{}.{}",
            std::process::id(),
            host.replace('/', "_")
        ));
        let hitch = PathBuf::from(hitch);
        let _ = fs::remove_file(&hitch); // a leftover of ours from a crash
        match write_lock_file(&hitch, contents) {
            Ok(()) => {}
            // A mailbox name near NAME_MAX leaves no room for the suffix.
            Err(e) if e.raw_os_error() == Some(libc::ENAMETOOLONG) => {
                return Self::create_exclusive(path, contents);
            }
            Err(e) => return Err(e),
        }
        // The result of link() is not trusted: NFS may report failure after
        // succeeding. The link count is.
        let linked = fs::hard_link(&hitch, path);
        let links = fs::metadata(&hitch).map(|m| m.nlink());
        let _ = fs::remove_file(&hitch);
        match (linked, links) {
            (_, Ok(2)) => Self::held(path).map(Some),
            // No hard links on this filesystem (e.g. FAT): plain O_EXCL.
            (Err(e), _) if e.raw_os_error() == Some(libc::EPERM) => {
                Self::create_exclusive(path, contents)
            }
            (_, Ok(_)) => Ok(None),
            (_, Err(e)) => Err(e),
        }
    }

    /// The local-filesystem method: `O_CREAT|O_EXCL` on the lock itself.
    fn create_exclusive(path: &Path, contents: &[u8]) -> io::Result<Option<DotLock>> {
        match write_lock_file(path, contents) {
            Ok(()) => Self::held(path).map(Some),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn held(path: &Path) -> io::Result<DotLock> {
        let meta = fs::metadata(path)?;
        Ok(DotLock {
            path: path.to_owned(),
            dev: meta.dev(),
            ino: meta.ino(),
            touched: Instant::now(),
        })
    }

    /// Deletes the lock file if it is still the one we created.
    fn release(self) {
        match fs::metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => {
                if let Err(e) = fs::remove_file(&self.path) {
                    log::warn!("{}: cannot remove our lock: {e}", self.path.display());
                }
            }
            _ => log::warn!(
                "{}: our lock was broken by another program",
                self.path.display()
            ),
        }
    }
}

/// Creates `path` exclusively, mode 0666 like UW "so that others can break
/// the lock" (locking.md §2.1), containing `contents`.
fn write_lock_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(path)?;
    // The umask would narrow the mode; UW clears it for lock files.
    let _ = file.set_permissions(fs::Permissions::from_mode(0o666));
    file.write_all(contents)
}

/// A lock is stale when its ctime is at least five minutes old (UW's rule), or
/// when it names this host and a process that no longer exists.
fn is_stale(path: &Path, host: &str) -> bool {
    let Ok(meta) = fs::metadata(path) else {
        // Gone already: the next attempt will tell.
        return false;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let age = now.saturating_sub(u64::try_from(meta.ctime()).unwrap_or(0));
    if age >= STALE_AFTER.as_secs() {
        return true;
    }
    let mut contents = Vec::new();
    let read = File::open(path).and_then(|f| f.take(256).read_to_end(&mut contents));
    read.is_ok() && names_dead_local_process(&contents, host)
}

/// `"<pid> <host>"` with `host` = this host and no process `pid` here.
fn names_dead_local_process(contents: &[u8], host: &str) -> bool {
    let mut words = contents
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    let (Some(pid), Some(their_host)) = (words.next(), words.next()) else {
        return false;
    };
    let pid = std::str::from_utf8(pid)
        .ok()
        .and_then(|p| p.parse::<i32>().ok());
    let Some(pid) = pid.filter(|&p| p > 0) else {
        return false;
    };
    // kill(pid, 0): ESRCH = no such process; EPERM = exists, another user's.
    their_host == host.as_bytes()
        && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) == Err(Errno::ESRCH)
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(timeout_ms: u64) -> LockSettings {
        LockSettings {
            timeout: Duration::from_millis(timeout_ms),
            ..LockSettings::default()
        }
    }

    fn mailbox() -> (tempfile::TempDir, PathBuf, File) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box");
        fs::write(&path, b"").unwrap();
        let file = File::open(&path).unwrap();
        (dir, path, file)
    }

    fn lock_path(path: &Path) -> PathBuf {
        PathBuf::from(format!("{}.lock", path.display()))
    }

    #[test]
    fn takes_and_releases_all_three() {
        let (dir, path, file) = mailbox();
        {
            let guard = acquire(&path, &file, LockMode::Read, &settings(1000)).unwrap();
            assert!(guard.fcntl && guard.flock && guard.dotlock.is_some());
            let contents = fs::read_to_string(lock_path(&path)).unwrap();
            assert_eq!(contents, format!("{} {}\n", std::process::id(), hostname()));
            // A second exclusive flock on another open file description is refused.
            let other = File::open(&path).unwrap();
            assert!(fs2::FileExt::try_lock_exclusive(&other).is_err());
            // No hitching posts left behind.
            assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
        }
        assert!(!lock_path(&path).exists());
        let other = File::open(&path).unwrap();
        assert!(fs2::FileExt::try_lock_exclusive(&other).is_ok());
    }

    #[test]
    fn live_dotlock_blocks_until_timeout() {
        let (_dir, path, file) = mailbox();
        // Pid 1 always exists.
        fs::write(lock_path(&path), format!("1 {}\n", hostname())).unwrap();
        let started = Instant::now();
        let result = acquire(&path, &file, LockMode::Read, &settings(300));
        assert!(
            matches!(result, Err(StoreError::Locked { .. })),
            "{result:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(lock_path(&path).exists(), "someone else's lock must stay");
    }

    #[test]
    fn dead_local_pid_lock_is_broken_at_once() {
        let (_dir, path, file) = mailbox();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        fs::write(lock_path(&path), format!("{dead} {}\n", hostname())).unwrap();
        let started = Instant::now();
        let guard = acquire(&path, &file, LockMode::Read, &settings(5000)).unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(guard.dotlock.is_some());
        // The same pid on another host is not ours to judge.
        drop(guard);
        assert!(!names_dead_local_process(
            format!("{dead} elsewhere").as_bytes(),
            &hostname()
        ));
        assert!(names_dead_local_process(
            format!("{dead} {}", hostname()).as_bytes(),
            &hostname()
        ));
        assert!(!names_dead_local_process(b"garbage", &hostname()));
        assert!(!names_dead_local_process(b"", &hostname()));
    }

    #[test]
    fn disabled_locks_are_not_taken() {
        let (_dir, path, file) = mailbox();
        let none = LockSettings {
            dotlock: false,
            fcntl: false,
            flock: false,
            timeout: Duration::ZERO,
        };
        let guard = acquire(&path, &file, LockMode::Read, &none).unwrap();
        assert!(!guard.fcntl && !guard.flock && guard.dotlock.is_none());
        assert!(!lock_path(&path).exists());
    }

    #[test]
    fn busy_flock_is_retried_then_locked() {
        let (_dir, path, file) = mailbox();
        let other = File::open(&path).unwrap();
        fs2::FileExt::try_lock_exclusive(&other).unwrap();
        let result = acquire(&path, &file, LockMode::Read, &settings(200));
        assert!(matches!(result, Err(StoreError::Locked { .. })));
        // Everything taken before the busy flock was released again.
        assert!(!lock_path(&path).exists());
    }
}
