//! Per-process counters for the end-of-session summary line: messages
//! fetched (and, as the write path lands, stored, expunged, appended).
//!
//! Process-wide atomics rather than fields threaded through every handler:
//! one process serves one session (inetd), so "this process" and "this
//! session" are the same thing, and a handler bumps a counter with one line.

use std::sync::atomic::{AtomicU64, Ordering};

/// Messages for which a FETCH response was written.
pub static MESSAGES_FETCHED: AtomicU64 = AtomicU64::new(0);
/// Messages whose flags a STORE changed.
pub static MESSAGES_STORED: AtomicU64 = AtomicU64::new(0);
/// Messages expunged.
pub static MESSAGES_EXPUNGED: AtomicU64 = AtomicU64::new(0);
/// Messages appended.
pub static MESSAGES_APPENDED: AtomicU64 = AtomicU64::new(0);

/// Adds one to `counter`.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The current value of `counter`.
pub fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}
