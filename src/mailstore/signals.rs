//! The signals the mail store depends on: SIGBUS, SIGUSR2 and SIGXFSZ.
//!
//! The hard part is that two of them arrive at arbitrary instants and their
//! handlers may do almost nothing (only async-signal-safe calls):
//!
//! * **SIGBUS**: another program truncated the mailbox while we had it
//!   mapped, and we touched a page past the new end. Returning would fault
//!   again; there is no way to resume the interrupted copy. The handler writes
//!   a fixed `* BYE Mailbox was truncated by another program` line to fd 1
//!   (the client) and `_exit(1)`s. That is safe for the mailbox: we write
//!   nothing at that point, and a rewrite in progress (impossible here: we
//!   never read the map while writing) would be finished by its journal.
//! * **SIGUSR2**: UW's kiss of death (locking.md §4.1): a UW-family program
//!   (UW imapd, ipop3d, alpine) wants the mailbox. The handler only sets a
//!   flag; the session polls [`kiss_of_death_received`] and then checkpoints,
//!   answers `* BYE Killed (lost mailbox lock)` and leaves. The handler is
//!   installed without SA_RESTART so that a blocking read of the client
//!   returns EINTR and the session gets to look at the flag.
//! * **SIGXFSZ** is ignored, so that passing RLIMIT_FSIZE makes write(2) fail
//!   with EFBIG (a clean "no space" answer) instead of killing the process.
//!
//! This file holds the crate's only `unsafe` besides the mmap call: installing
//! handlers and the two libc calls of the SIGBUS handler.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::libc;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// Set by the SIGUSR2 handler.
static KISS_OF_DEATH: AtomicBool = AtomicBool::new(false);

/// The line the SIGBUS handler sends before exiting.
pub const TRUNCATED_BYE: &[u8] = b"* BYE Mailbox was truncated by another program\r\n";

/// Installs the SIGBUS and SIGUSR2 handlers and ignores SIGXFSZ. Call once,
/// early in `main` (before any mailbox is mapped).
pub fn install_signal_handlers() -> nix::Result<()> {
    let bus = SigAction::new(
        SigHandler::Handler(on_sigbus),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // No SA_RESTART: a blocked read of the client returns EINTR.
    let kod = SigAction::new(
        SigHandler::Handler(on_sigusr2),
        SaFlags::empty(),
        SigSet::empty(),
    );
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    install(Signal::SIGBUS, &bus)?;
    install(Signal::SIGUSR2, &kod)?;
    install(Signal::SIGXFSZ, &ignore)
}

/// Ignores SIGXFSZ only (tools and tests that do not serve a client).
pub fn ignore_file_size_signal() -> nix::Result<()> {
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    install(Signal::SIGXFSZ, &ignore)
}

/// Whether UW's kiss of death (SIGUSR2) arrived since the start or the last
/// [`clear_kiss_of_death`].
pub fn kiss_of_death_received() -> bool {
    KISS_OF_DEATH.load(Ordering::SeqCst)
}

pub fn clear_kiss_of_death() {
    KISS_OF_DEATH.store(false, Ordering::SeqCst);
}

#[allow(unsafe_code)]
fn install(signal: Signal, action: &SigAction) -> nix::Result<()> {
    // SAFETY: the handlers installed here are `on_sigbus`, which calls only
    // the async-signal-safe write(2) and _exit(2), and `on_sigusr2`, which
    // only stores to an atomic; SIG_IGN needs no argument. No handler touches
    // memory that the interrupted code could be modifying.
    unsafe { sigaction(signal, action) }.map(drop)
}

extern "C" fn on_sigusr2(_: libc::c_int) {
    KISS_OF_DEATH.store(true, Ordering::SeqCst);
}

#[allow(unsafe_code)]
extern "C" fn on_sigbus(_: libc::c_int) {
    // SAFETY: write(2) and _exit(2) are async-signal-safe (signal-safety(7));
    // the buffer is a static of the length passed.
    unsafe {
        libc::write(1, TRUNCATED_BYE.as_ptr().cast(), TRUNCATED_BYE.len());
        libc::_exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigusr2_sets_the_flag() {
        install_signal_handlers().unwrap();
        clear_kiss_of_death();
        assert!(!kiss_of_death_received());
        nix::sys::signal::raise(Signal::SIGUSR2).unwrap();
        assert!(kiss_of_death_received());
        clear_kiss_of_death();
        // SIGXFSZ is ignored: raising it does not kill the test.
        nix::sys::signal::raise(Signal::SIGXFSZ).unwrap();
    }
}
