//! UW's per-mailbox session lock, `/tmp/.<dev>.<ino>`, and the kiss of death
//! (locking.md §4, §7.1).
//!
//! The hard part is being a good citizen toward UW-family programs (UW imapd,
//! ipop3d, alpine) that assume one read-write session per mailbox, while
//! letting several of *our* sessions share one:
//!
//! * Our sessions hold the lock file **shared** (`flock LOCK_SH`): they
//!   coexist, and a UW program trying `LOCK_EX|LOCK_NB` finds the mailbox in
//!   use, reads the PID in the file and sends it SIGUSR2. The PID there is the
//!   newest of our sessions; the file also lists the others after a NUL (UW
//!   reads the first number only), so that the session that gets the signal
//!   can pass it on ([`SessionLock::forward_kiss_of_death`]) and all of ours
//!   checkpoint and leave: UW then gets its exclusive lock.
//! * When a UW program holds the lock exclusively, we do what UW does: send
//!   SIGUSR2 to the PID in the file, retry once a second for up to 15 s, and
//!   otherwise open read-only (`Mailbox is open by another process, access is
//!   readonly`).
//! * The lock file is refused if it is a symlink or has other hard links
//!   (UW: "SECURITY PROBLEM"), created 0666 as UW does, and after locking we
//!   check that the path still names the file we locked (another process may
//!   have unlinked it meanwhile).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, fcntl};
use nix::libc;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::Mailbox;

/// How long UW keeps retrying after sending a kiss of death (KODRETRY).
const KOD_WAIT: Duration = Duration::from_secs(15);

/// Where and how to take the lock.
#[derive(Debug, Clone)]
pub struct SessionLockSettings {
    /// `/tmp` (UW's default); tests use their own directory.
    pub dir: PathBuf,
    /// Send SIGUSR2 to a UW-family holder (admins may turn this off).
    pub send_kiss_of_death: bool,
    /// How long to wait for a holder to let go.
    pub wait: Duration,
}

impl Default for SessionLockSettings {
    fn default() -> Self {
        SessionLockSettings {
            dir: PathBuf::from("/tmp"),
            send_kiss_of_death: true,
            wait: KOD_WAIT,
        }
    }
}

/// The outcome of [`SessionLock::acquire`].
#[derive(Debug)]
pub struct SessionLockAttempt {
    /// The lock, held for the session; `None` when there is none to hold
    /// (the mailbox file does not exist yet) or it could not be had.
    pub lock: Option<SessionLock>,
    /// The session must be read-only (another program holds the mailbox
    /// exclusively, or the lock file is unsafe).
    pub read_only: bool,
    /// Untagged `* NO` texts for the client, in order (UW's wording).
    pub notices: Vec<String>,
}

/// A held session lock; released (and the file removed when no one else
/// holds it) when dropped.
#[derive(Debug)]
pub struct SessionLock {
    file: File,
    path: PathBuf,
}

impl SessionLock {
    /// Takes the lock for a read-write session on `mailbox` in `/tmp`,
    /// signalling a UW-family holder and waiting up to 15 s, as UW does.
    pub fn acquire(mailbox: &Mailbox) -> SessionLockAttempt {
        Self::acquire_with(mailbox, &SessionLockSettings::default(), &mut |_| {})
    }

    /// [`SessionLock::acquire`] with explicit settings; `notify` is called
    /// with each notice as it happens (so that the client hears about the
    /// wait before it starts), and the notices are also returned.
    pub fn acquire_with(
        mailbox: &Mailbox,
        settings: &SessionLockSettings,
        notify: &mut dyn FnMut(&str),
    ) -> SessionLockAttempt {
        let mut attempt = SessionLockAttempt {
            lock: None,
            read_only: false,
            notices: Vec::new(),
        };
        let Some((dev, ino)) = mailbox.file_id() else {
            return attempt;
        };
        let path = settings.dir.join(format!(".{dev:x}.{ino:x}"));
        let mut say = |attempt: &mut SessionLockAttempt, text: String| {
            notify(&text);
            attempt.notices.push(text);
        };
        let deadline = Instant::now() + settings.wait;
        let mut signalled = false;
        loop {
            let file = match open_lock_file(&path) {
                Ok(f) => f,
                Err(e) => {
                    log::error!("{}: cannot use the session lock: {e}", path.display());
                    attempt.read_only = true;
                    say(
                        &mut attempt,
                        "Can't lock mailbox for write, access is readonly".into(),
                    );
                    return attempt;
                }
            };
            match file.try_lock_shared() {
                Ok(()) => {
                    // The path must still be the file we locked.
                    let same = std::fs::symlink_metadata(&path)
                        .ok()
                        .zip(file.metadata().ok())
                        .is_some_and(|(p, f)| (p.dev(), p.ino()) == (f.dev(), f.ino()));
                    if !same {
                        continue;
                    }
                    let lock = SessionLock { file, path };
                    if let Err(e) = lock.update_registry(Registry::Add) {
                        log::warn!("{}: cannot record our PID: {e}", lock.path.display());
                    }
                    attempt.lock = Some(lock);
                    return attempt;
                }
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(e) => {
                    log::error!("{}: flock: {e}", path.display());
                    attempt.read_only = true;
                    say(
                        &mut attempt,
                        "Can't lock mailbox for write, access is readonly".into(),
                    );
                    return attempt;
                }
            }
            // A UW-family process holds it exclusively.
            let mut give_up = Instant::now() >= deadline;
            if !signalled {
                signalled = true;
                let holder = read_pids(&file).ok().and_then(|(primary, _)| primary);
                match holder {
                    Some(pid)
                        if settings.send_kiss_of_death
                            && kill(Pid::from_raw(pid), Signal::SIGUSR2).is_ok() =>
                    {
                        log::info!("{}: sent kiss of death to process {pid}", path.display());
                        say(
                            &mut attempt,
                            format!("Trying to get mailbox lock from process {pid}"),
                        );
                    }
                    _ => give_up = true,
                }
            }
            if give_up {
                attempt.read_only = true;
                say(
                    &mut attempt,
                    "Mailbox is open by another process, access is readonly".into(),
                );
                return attempt;
            }
            drop(file);
            std::thread::sleep(
                Duration::from_secs(1).min(deadline.saturating_duration_since(Instant::now())),
            );
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// After this process received a kiss of death: passes it on to the other
    /// sessions of ours that share the lock (live processes running this same
    /// program), so that all of them leave and the sender gets its lock.
    pub fn forward_kiss_of_death(&self) {
        let Ok((_, pids)) = read_pids(&self.file) else {
            return;
        };
        let me = std::process::id() as i32;
        for pid in pids.into_iter().filter(|&p| p != me) {
            if same_program(pid) && kill(Pid::from_raw(pid), Signal::SIGUSR2).is_ok() {
                log::info!(
                    "{}: passed the kiss of death on to {pid}",
                    self.path.display()
                );
            }
        }
    }

    /// Whether another live session of ours holds this lock too: then flag
    /// changes are written when the command that made them completes, so that
    /// the other session sees them at its next CHECK/NOOP/IDLE.
    pub fn has_company(&self) -> bool {
        let Ok((_, pids)) = read_pids(&self.file) else {
            return false;
        };
        let me = std::process::id() as i32;
        pids.into_iter()
            .filter(|&p| p != me)
            .any(|p| kill(Pid::from_raw(p), None).is_ok() && same_program(p))
    }

    /// Adds or removes our PID, under a short fcntl lock on the lock file
    /// (our sessions only; UW programs do not modify a file they cannot flock).
    fn update_registry(&self, change: Registry) -> io::Result<()> {
        let _guard = RegistryLock::take(&self.file)?;
        let (_, mut pids) = read_pids(&self.file)?;
        let me = std::process::id() as i32;
        pids.retain(|&p| p != me && kill(Pid::from_raw(p), None) != Err(Errno::ESRCH));
        if change == Registry::Add {
            pids.insert(0, me);
        }
        let mut contents = Vec::new();
        if let Some(primary) = pids.first() {
            // UW reads the PID with atol(): the first number is the one it signals.
            contents.extend_from_slice(format!("{primary}\0").as_bytes());
            let all: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
            contents.extend_from_slice(all.join(" ").as_bytes());
            contents.push(b'\n');
        }
        let mut file = &self.file;
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&contents)?;
        file.sync_data()
    }
}

impl Drop for SessionLock {
    fn drop(&mut self) {
        if let Err(e) = self.update_registry(Registry::Remove) {
            log::warn!("{}: cannot remove our PID: {e}", self.path.display());
        }
        // Remove the file only if nobody else holds it (as UW does on close).
        if self.file.try_lock().is_ok() {
            let _ = std::fs::remove_file(&self.path);
        }
        let _ = self.file.unlock();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Registry {
    Add,
    Remove,
}

/// Opens (creating 0666) the lock file, refusing symlinks and files with
/// other hard links.
fn open_lock_file(path: &Path) -> io::Result<File> {
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && meta.file_type().is_symlink()
    {
        log::error!(
            "SECURITY PROBLEM: lock file {} is a symbolic link",
            path.display()
        );
        return Err(io::Error::other("lock file is a symbolic link"));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o666)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() || meta.nlink() > 1 {
        log::error!(
            "SECURITY PROBLEM: lock file {} has {} links",
            path.display(),
            meta.nlink()
        );
        return Err(io::Error::other("lock file has other links"));
    }
    // "so that others can break the lock" (UW); the umask would narrow it.
    if meta.uid() == nix::unistd::getuid().as_raw() {
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o666));
    }
    Ok(file)
}

/// The PID UW would read (leading digits) and our list after the NUL.
fn read_pids(file: &File) -> io::Result<(Option<i32>, Vec<i32>)> {
    let mut contents = Vec::new();
    let mut reader = file;
    reader.seek(SeekFrom::Start(0))?;
    reader.take(4096).read_to_end(&mut contents)?;
    let digits: Vec<u8> = contents
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    let primary = std::str::from_utf8(&digits)
        .ok()
        .and_then(|d| d.parse::<i32>().ok())
        .filter(|&p| p > 0);
    let list = match contents.iter().position(|&b| b == 0) {
        Some(nul) => contents
            .get(nul + 1..)
            .unwrap_or(&[])
            .split(|b| b.is_ascii_whitespace())
            .filter_map(|w| std::str::from_utf8(w).ok()?.parse::<i32>().ok())
            .filter(|&p| p > 0)
            .collect(),
        None => primary.into_iter().collect(),
    };
    Ok((primary, list))
}

/// Whether process `pid` runs the same executable as this one.
fn same_program(pid: i32) -> bool {
    let exe = |p: &str| std::fs::read_link(format!("/proc/{p}/exe")).ok();
    match (exe(&pid.to_string()), exe("self")) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// A whole-file fcntl write lock on the lock file, held while our registry
/// is rewritten (non-blocking tries for up to a second).
struct RegistryLock<'f> {
    file: &'f File,
}

impl<'f> RegistryLock<'f> {
    fn take(file: &'f File) -> io::Result<RegistryLock<'f>> {
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            match fcntl(file.as_raw_fd(), FcntlArg::F_SETLK(&whole(libc::F_WRLCK))) {
                Ok(_) => return Ok(RegistryLock { file }),
                Err(Errno::EAGAIN | Errno::EACCES) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Drop for RegistryLock<'_> {
    fn drop(&mut self) {
        let _ = fcntl(
            self.file.as_raw_fd(),
            FcntlArg::F_SETLK(&whole(libc::F_UNLCK)),
        );
    }
}

fn whole(kind: libc::c_int) -> libc::flock {
    libc::flock {
        l_type: kind as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailstore::{Access, LockSettings};

    fn setup() -> (tempfile::TempDir, Mailbox, SessionLockSettings) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box");
        std::fs::write(&path, b"From a Wed Dec  2 05:53:22 1992\n\nx\n").unwrap();
        let mailbox = Mailbox::open(&path, Access::ReadWrite, &LockSettings::default()).unwrap();
        let settings = SessionLockSettings {
            dir: dir.path().to_owned(),
            send_kiss_of_death: true,
            wait: Duration::from_secs(2),
        };
        (dir, mailbox, settings)
    }

    #[test]
    fn our_sessions_share_it_and_uw_sees_it_in_use() {
        let (_dir, mailbox, settings) = setup();
        let a = SessionLock::acquire_with(&mailbox, &settings, &mut |_| {});
        let b = SessionLock::acquire_with(&mailbox, &settings, &mut |_| {});
        let (a, b) = (a.lock.unwrap(), b.lock.unwrap());
        let (dev, ino) = mailbox.file_id().unwrap();
        assert_eq!(
            a.path().file_name().unwrap().to_str().unwrap(),
            format!(".{dev:x}.{ino:x}")
        );
        // What UW does: LOCK_EX|LOCK_NB on its own open fails; atol() of the
        // contents is our PID.
        let uw = File::open(a.path()).unwrap();
        assert!(uw.try_lock().is_err());
        let contents = std::fs::read(a.path()).unwrap();
        let me = std::process::id().to_string();
        assert!(
            contents.starts_with(format!("{me}\0").as_bytes()),
            "{contents:?}"
        );
        drop(b);
        assert!(a.path().exists(), "still held by a");
        let path = a.path().to_owned();
        drop(a);
        assert!(!path.exists());
    }

    #[test]
    fn exclusive_holder_gets_the_kiss_of_death_then_read_only() {
        let (_dir, mailbox, settings) = setup();
        let (dev, ino) = mailbox.file_id().unwrap();
        let path = settings.dir.join(format!(".{dev:x}.{ino:x}"));
        // A "UW process": holds LOCK_EX and names a process that ignores nothing.
        let mut sleeper = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let holder = open_lock_file(&path).unwrap();
        holder.try_lock().unwrap();
        std::fs::write(&path, format!("{}\0", sleeper.id())).unwrap();
        let mut heard = Vec::new();
        let attempt =
            SessionLock::acquire_with(&mailbox, &settings, &mut |t| heard.push(t.to_owned()));
        assert!(attempt.lock.is_none() && attempt.read_only);
        assert_eq!(
            attempt.notices,
            [
                format!("Trying to get mailbox lock from process {}", sleeper.id()),
                "Mailbox is open by another process, access is readonly".to_owned()
            ]
        );
        assert_eq!(heard, attempt.notices);
        // The signal reached it (SIGUSR2 terminates `sleep`).
        let status = sleeper.wait().unwrap();
        assert!(!status.success());
        // The holder lets go: we get it.
        drop(holder);
        assert!(
            SessionLock::acquire_with(&mailbox, &settings, &mut |_| {})
                .lock
                .is_some()
        );
    }

    #[test]
    fn symlink_is_refused() {
        let (dir, mailbox, settings) = setup();
        let (dev, ino) = mailbox.file_id().unwrap();
        let path = settings.dir.join(format!(".{dev:x}.{ino:x}"));
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &path).unwrap();
        let attempt = SessionLock::acquire_with(&mailbox, &settings, &mut |_| {});
        assert!(attempt.read_only && attempt.lock.is_none());
        assert!(!dir.path().join("elsewhere").exists());
    }

    #[test]
    fn pid_list_parsing() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"123\x00123 456 789\n").unwrap();
        assert_eq!(read_pids(&file).unwrap(), (Some(123), vec![123, 456, 789]));
        file.set_len(0).unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.write_all(b"4242").unwrap();
        assert_eq!(read_pids(&file).unwrap(), (Some(4242), vec![4242]));
    }
}
