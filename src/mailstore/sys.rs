//! Every call by which the write path changes a file: pwrite, fsync,
//! ftruncate, fallocate, unlink, rename and a directory fsync, each behind one
//! small function.
//!
//! The hard part is proving crash safety, and that is why these wrappers
//! exist. With the cargo feature `fault-injection`, each call is counted and
//! the N-th one can be made to fail: abort the process before the call, abort
//! after writing only half of a buffer (a torn write), or return an error
//! (ENOSPC by default) as a full disk would. The fault-injection test
//! (tests/fault_injection.rs) runs an operation once to count its calls, then
//! once for every N, and checks the mailbox after each crash. Without the
//! feature the checks compile to nothing.
//!
//! The wrappers also count the bytes they write (always, one relaxed atomic
//! add), so tests and the write-cost benchmark can measure what an operation
//! costs without strace.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;

/// Bytes passed to pwrite (and zero-filled by a fallocate fallback) since
/// the process started.
static BYTES_WRITTEN: AtomicU64 = AtomicU64::new(0);

/// Bytes the write path has written to any file since the process started
/// (mailboxes and journals). Differences around an operation give its cost.
pub fn bytes_written() -> u64 {
    BYTES_WRITTEN.load(Ordering::Relaxed)
}

/// `pwrite` the whole buffer at `offset`.
pub(crate) fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    match fault::check("pwrite")? {
        fault::Action::Proceed => {}
        fault::Action::Torn => {
            // Half the buffer reaches the file, then the process dies.
            let half = buf.get(..buf.len() / 2).unwrap_or(&[]);
            let _ = file.write_all_at(half, offset);
            fault::die();
        }
    }
    BYTES_WRITTEN.fetch_add(buf.len() as u64, Ordering::Relaxed);
    file.write_all_at(buf, offset)
}

/// `fsync`: data and metadata reach the disk.
pub(crate) fn sync(file: &File) -> io::Result<()> {
    fault::check_call("fsync")?;
    file.sync_all()
}

/// `fdatasync`: the data (and the metadata needed to read it back, such as
/// block allocation) reach the disk; used where the file size does not change.
pub(crate) fn sync_data(file: &File) -> io::Result<()> {
    fault::check_call("fdatasync")?;
    file.sync_data()
}

/// `ftruncate`.
pub(crate) fn set_len(file: &File, len: u64) -> io::Result<()> {
    fault::check_call("ftruncate")?;
    file.set_len(len)
}

/// Extends the file to `offset + len` with allocated zero bytes, so that a
/// full disk or the file-size limit shows up now (ENOSPC, EDQUOT, EFBIG) and
/// not halfway through a rewrite. Falls back to writing zeros where the
/// filesystem has no fallocate.
pub(crate) fn allocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    fault::check_call("fallocate")?;
    let (Ok(start), Ok(size)) = (i64::try_from(offset), i64::try_from(len)) else {
        return Err(io::Error::from_raw_os_error(nix::libc::EFBIG));
    };
    match nix::fcntl::fallocate(
        file.as_raw_fd(),
        nix::fcntl::FallocateFlags::empty(),
        start,
        size,
    ) {
        Ok(()) => return Ok(()),
        Err(Errno::EOPNOTSUPP | Errno::ENOSYS) => {}
        Err(e) => return Err(e.into()),
    }
    const CHUNK: usize = 1 << 20;
    let zeros = vec![0u8; CHUNK.min(usize::try_from(len).unwrap_or(CHUNK))];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(zeros.len() as u64) as usize;
        let chunk = zeros.get(..n).unwrap_or(&[]);
        BYTES_WRITTEN.fetch_add(n as u64, Ordering::Relaxed);
        file.write_all_at(chunk, offset + done)?;
        done += n as u64;
    }
    Ok(())
}

/// `unlink`.
pub(crate) fn remove(path: &Path) -> io::Result<()> {
    fault::check_call("unlink")?;
    std::fs::remove_file(path)
}

/// `rename`.
pub(crate) fn rename(from: &Path, to: &Path) -> io::Result<()> {
    fault::check_call("rename")?;
    std::fs::rename(from, to)
}

/// fsync of a directory, so that a file created or removed in it stays
/// created or removed after a power loss.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    fault::check_call("fsync-dir")?;
    File::open(dir)?.sync_all()
}

/// Fault injection (feature `fault-injection`): see the module doc.
#[cfg(feature = "fault-injection")]
pub mod fault {
    use std::io;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// What the faulting call does.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Mode {
        /// `std::process::abort()` before the call.
        Abort,
        /// A write: half the buffer, then abort; any other call: abort before it.
        Torn,
        /// The call fails with this errno (ENOSPC = a full disk).
        Error(i32),
    }

    pub(crate) enum Action {
        Proceed,
        Torn,
    }

    static CALLS: AtomicU64 = AtomicU64::new(0);
    /// 0 = disarmed; else the call number (1-based) that faults.
    static FAULT_AT: AtomicU64 = AtomicU64::new(0);
    /// 0 abort, 1 torn, else 2 + errno.
    static MODE: AtomicU64 = AtomicU64::new(0);

    /// Arms the fault for call number `at` (1-based; 0 disarms) counted from
    /// now, and resets the call counter.
    pub fn arm(at: u64, mode: Mode) {
        let code = match mode {
            Mode::Abort => 0,
            Mode::Torn => 1,
            Mode::Error(errno) => 2 + u64::from(errno.unsigned_abs()),
        };
        MODE.store(code, Ordering::SeqCst);
        CALLS.store(0, Ordering::SeqCst);
        FAULT_AT.store(at, Ordering::SeqCst);
    }

    /// Calls made since the last [`arm`].
    pub fn calls() -> u64 {
        CALLS.load(Ordering::SeqCst)
    }

    /// Reads `MBOX_IMAPD_FAULT_AT` and `MBOX_IMAPD_FAULT_MODE`
    /// (`abort`, `torn`, `enospc`, `eio`) and arms accordingly.
    pub fn arm_from_env() {
        let at = std::env::var("MBOX_IMAPD_FAULT_AT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mode = match std::env::var("MBOX_IMAPD_FAULT_MODE").as_deref() {
            Ok("torn") => Mode::Torn,
            Ok("enospc") => Mode::Error(nix::libc::ENOSPC),
            Ok("eio") => Mode::Error(nix::libc::EIO),
            _ => Mode::Abort,
        };
        arm(at, mode);
    }

    pub(crate) fn check(what: &str) -> io::Result<Action> {
        let n = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
        if n != FAULT_AT.load(Ordering::SeqCst) {
            return Ok(Action::Proceed);
        }
        match MODE.load(Ordering::SeqCst) {
            0 => {
                log::warn!("fault injection: abort at call {n} ({what})");
                die()
            }
            1 => Ok(Action::Torn),
            code => {
                log::warn!("fault injection: error at call {n} ({what})");
                let errno = i32::try_from(code - 2).unwrap_or(nix::libc::EIO);
                Err(io::Error::from_raw_os_error(errno))
            }
        }
    }

    pub(crate) fn die() -> ! {
        std::process::abort()
    }

    /// [`check`] for a call that writes no buffer: a torn fault aborts before it.
    pub(crate) fn check_call(what: &str) -> io::Result<()> {
        match check(what)? {
            Action::Proceed => Ok(()),
            Action::Torn => die(),
        }
    }
}

/// Without the feature: nothing to check, nothing to count.
#[cfg(not(feature = "fault-injection"))]
mod fault {
    use std::io;

    pub(crate) enum Action {
        Proceed,
        #[allow(dead_code, reason = "only the fault-injection build tears writes")]
        Torn,
    }

    #[inline(always)]
    pub(crate) fn check(_what: &str) -> io::Result<Action> {
        Ok(Action::Proceed)
    }

    pub(crate) fn die() -> ! {
        std::process::abort()
    }

    #[inline(always)]
    pub(crate) fn check_call(_what: &str) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(feature = "fault-injection")]
pub use fault::{
    Mode as FaultMode, arm as arm_fault, arm_from_env as arm_fault_from_env, calls as fault_calls,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_counted_and_land() {
        let file = tempfile::tempfile().unwrap();
        let before = bytes_written();
        write_all_at(&file, b"hello", 3).unwrap();
        assert!(bytes_written() >= before + 5);
        let mut buf = [0u8; 8];
        file.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"\0\0\0hello");
        allocate(&file, 8, 100).unwrap();
        assert_eq!(file.metadata().unwrap().len(), 108);
        set_len(&file, 4).unwrap();
        sync(&file).unwrap();
        assert_eq!(file.metadata().unwrap().len(), 4);
    }
}
