//! What one COMPRESS=DEFLATE stream costs in memory: its allocations,
//! counted by a global allocator of this test binary (its own process, so no
//! other test's allocations mix in). The README's figure comes from here.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use mbox_imapd::transport::deflate::Deflate;

/// Counts the bytes currently allocated and the peak since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers to the system allocator; only counts on the side.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract passes through unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(live, Ordering::SeqCst);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for alloc.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn no_mark(_: mbox_imapd::transport::deflate::WireMark) {}

/// Bytes still allocated after `make` returns (what it built keeps).
fn kept_by<T>(make: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::SeqCst);
    let value = make();
    (value, LIVE.load(Ordering::SeqCst) - base)
}

/// The state of one stream, and the peak while it carries a long session:
/// fixed, whatever goes through it. (One test: the counters are global.)
#[test]
fn one_stream_stays_within_its_fixed_state() {
    let (compressor, compressor_bytes) =
        kept_by(|| flate2::Compress::new(flate2::Compression::new(2), false));
    let (decompressor, decompressor_bytes) = kept_by(|| flate2::Decompress::new(false));
    drop((compressor, decompressor));

    // The test's own buffers first, so that the peak is the stream's.
    let text: Vec<u8> = (0..20_000)
        .flat_map(|i| {
            format!("* {i} FETCH (UID {i} FLAGS (\\Seen) RFC822.SIZE 1234)\r\n").into_bytes()
        })
        .collect();
    let mut wire = Vec::with_capacity(8 * 1024 * 1024);
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let (mut deflate, state) = kept_by(|| Deflate::new(b"", no_mark));
    // 24 MB of responses through the compressor, flushed after each MB.
    for _ in 0..20 {
        deflate.write(&text, &mut wire).unwrap();
        deflate.flush(&mut wire).unwrap();
        wire.clear();
    }
    let peak = PEAK.load(Ordering::SeqCst) - base;
    drop(deflate);
    println!(
        "deflate stream: {state} bytes (miniz_oxide compressor {compressor_bytes}, \
         decompressor {decompressor_bytes}, the rest our buffers); peak in use {peak} bytes"
    );
    assert!(state < 420 * 1024, "state {state} bytes");
    assert!(
        state > 200 * 1024,
        "state {state} bytes: did the count miss it?"
    );
    assert!(peak < state + 64 * 1024, "peak {peak} bytes, state {state}");
}
