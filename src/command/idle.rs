//! IDLE (RFC 2177): the client waits and the server reports changes as they
//! happen, until the client sends `DONE`.
//!
//! IDLE is the one command that spans many reads, so most of it lives in the
//! session (which owns the framer and the timer ticks); this file holds the
//! pieces with rules of their own:
//! - The continuation `+ idling` opens IDLE; the updates found at that moment
//!   are sent before it, like any command's.
//! - While idling, the next thing the client sends is not a command: the
//!   framer delivers `DONE` as a line, and [`is_done`] recognises it
//!   (case-insensitively, CRLF or a bare LF). Anything else ends IDLE with a
//!   tagged BAD, as Dovecot does, and is not run.
//! - Each tick of the connection loop (about twice a second) checks the file
//!   and sends EXISTS, EXPUNGE, RECENT and FETCH FLAGS at once: RFC 2177 lets
//!   the server send EXPUNGE while idling, since a command is in progress.
//! - Pending flag changes are written after a quiet period
//!   ([`QUIET_CHECKPOINT`]), so other programs see them although the client
//!   may idle for half an hour.

use std::time::{Duration, Instant};

/// Text of the continuation that starts IDLE (RFC 2177 §3 example).
pub const CONTINUATION: &str = "idling";

/// How long a selected session must be quiet (no command, no input) before
/// pending flag changes are written on a tick.
pub const QUIET_CHECKPOINT: Duration = Duration::from_secs(5);

/// An IDLE in progress.
#[derive(Debug, Clone)]
pub struct Idle {
    /// The IDLE command's tag: its completion comes after `DONE`.
    pub tag: String,
    pub since: Instant,
}

impl Idle {
    pub fn new(tag: String) -> Self {
        Idle {
            tag,
            since: Instant::now(),
        }
    }
}

/// Whether a framed line is the `DONE` that ends IDLE (RFC 2177 §3:
/// `idle = "IDLE" CRLF "DONE"`; case-insensitive like every IMAP keyword).
pub fn is_done(frame: &[u8]) -> bool {
    let line = frame.strip_suffix(b"\n").unwrap_or(frame);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.eq_ignore_ascii_case(b"DONE")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_is_recognised_exactly() {
        for yes in [&b"DONE\r\n"[..], b"done\r\n", b"Done\n", b"DONE"] {
            assert!(is_done(yes), "{yes:?}");
        }
        for no in [
            &b"DONE \r\n"[..],
            b" DONE\r\n",
            b"a1 DONE\r\n",
            b"a1 NOOP\r\n",
            b"DONEX\r\n",
            b"\r\n",
            b"DONE\r\r\n",
        ] {
            assert!(!is_done(no), "{no:?}");
        }
    }
}
