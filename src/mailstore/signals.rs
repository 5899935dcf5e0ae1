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
//!   The write goes behind the stream's layers (ResponseWriter's buffer,
//!   DEFLATE, TLS), so the layers say what fd 1 can take at each instant
//!   ([`set_client_stream`]): plaintext takes the line; a DEFLATE stream
//!   right after a sync flush takes it as a final block of its own
//!   ([`TRUNCATED_BYE_DEFLATE`]); TLS (records need rustls's keys and
//!   sequence numbers) or DEFLATE mid-block take nothing, and the handler
//!   only exits: a closed connection is better than a corrupt stream.
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

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use nix::libc;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// Set by the SIGUSR2 handler.
static KISS_OF_DEATH: AtomicBool = AtomicBool::new(false);

/// The line the SIGBUS handler sends before exiting.
pub const TRUNCATED_BYE: &[u8] = b"* BYE Mailbox was truncated by another program\r\n";

/// [`TRUNCATED_BYE`] as one final raw DEFLATE block (RFC 1951) that refers
/// to nothing before it: appended at a sync point of any DEFLATE stream it
/// decodes to the line and ends the stream (tests check both).
pub const TRUNCATED_BYE_DEFLATE: &[u8] = &[
    0xd3, 0x52, 0x70, 0x8a, 0x74, 0x55, 0xf0, 0x4d, 0xcc, 0xcc, 0x49, 0xca, 0xaf, 0x50, 0x28, 0x4f,
    0x2c, 0x56, 0x28, 0x29, 0x2a, 0xcd, 0x4b, 0x4e, 0x2c, 0x49, 0x4d, 0x51, 0x48, 0xaa, 0x54, 0x48,
    0xcc, 0xcb, 0x2f, 0xc9, 0x48, 0x2d, 0x52, 0x28, 0x28, 0xca, 0x4f, 0x2f, 0x4a, 0xcc, 0xe5, 0xe5,
    0x02, 0x00,
];

/// How the client's stream on fd 1 is layered right now: what the SIGBUS
/// handler may write there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ClientStream {
    /// Plain IMAP: [`TRUNCATED_BYE`].
    Plain = 0,
    /// COMPRESS=DEFLATE with a sync flush last on the wire:
    /// [`TRUNCATED_BYE_DEFLATE`].
    DeflateAtSyncPoint = 1,
    /// TLS, or DEFLATE in the middle of a block: nothing.
    Opaque = 2,
}

/// The current [`ClientStream`], as a `u8` the handler can load.
static CLIENT_STREAM: AtomicU8 = AtomicU8::new(ClientStream::Plain as u8);

/// Called by the stream's layers (transport.rs) whenever what fd 1 can take
/// changes.
pub fn set_client_stream(stream: ClientStream) {
    CLIENT_STREAM.store(stream as u8, Ordering::SeqCst);
}

/// What the SIGBUS handler writes for a stream in `state` (a [`ClientStream`]).
fn truncated_bye(state: u8) -> &'static [u8] {
    match state {
        0 => TRUNCATED_BYE,
        1 => TRUNCATED_BYE_DEFLATE,
        _ => &[],
    }
}

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
    // A lock-free atomic load: async-signal-safe.
    let bye = truncated_bye(CLIENT_STREAM.load(Ordering::SeqCst));
    // SAFETY: write(2) and _exit(2) are async-signal-safe (signal-safety(7));
    // the buffer is a static of the length passed.
    unsafe {
        if !bye.is_empty() {
            libc::write(1, bye.as_ptr().cast(), bye.len());
        }
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

    /// Inflates `wire` whole; `(octets, whether a final block ended it)`.
    fn inflate(wire: &[u8]) -> (Vec<u8>, bool) {
        let mut d = flate2::Decompress::new(false);
        let mut out = Vec::with_capacity(64 * 1024);
        let status = d
            .decompress_vec(wire, &mut out, flate2::FlushDecompress::Finish)
            .unwrap();
        assert_eq!(d.total_in() as usize, wire.len(), "all input taken");
        (out, status == flate2::Status::StreamEnd)
    }

    #[test]
    fn the_deflate_bye_decodes_alone_and_after_a_sync_point() {
        assert_eq!(
            inflate(TRUNCATED_BYE_DEFLATE),
            (TRUNCATED_BYE.to_vec(), true)
        );
        // After responses that refer back into their own window.
        let mut c = flate2::Compress::new(flate2::Compression::new(1), false);
        let text = b"* 1 FETCH (BODY[] {20}\r\nMailbox was truncat)\r\n".repeat(50);
        let mut wire = Vec::with_capacity(64 * 1024);
        c.compress_vec(&text, &mut wire, flate2::FlushCompress::Sync)
            .unwrap();
        assert!(wire.ends_with(&[0, 0, 0xff, 0xff]));
        wire.extend_from_slice(TRUNCATED_BYE_DEFLATE);
        let (out, ended) = inflate(&wire);
        assert!(ended);
        assert_eq!(out, [&text[..], TRUNCATED_BYE].concat());
    }

    #[test]
    fn the_bye_follows_the_client_stream() {
        // (The global itself is set by transport tests running in parallel.)
        assert!(truncated_bye(ClientStream::Opaque as u8).is_empty());
        assert_eq!(
            truncated_bye(ClientStream::DeflateAtSyncPoint as u8),
            TRUNCATED_BYE_DEFLATE
        );
        assert_eq!(truncated_bye(ClientStream::Plain as u8), TRUNCATED_BYE);
    }
}
