//! The floor for SELECT: how long it takes just to read a mailbox file once and find
//! its `"\nFrom "` candidates with memchr, with no parsing at all.
//!
//! SELECT must at least touch every byte once (to find the From_ lines, mbox-format.md
//! §2), so its time is bounded below by this. `bench/run.py` prints both side by side.
//!
//!     cargo bench --bench memchr_read -- PATH [ROUNDS]
//!
//! Needs in Cargo.toml (the default libtest harness would replace `main`):
//!
//! ```toml
//! [[bench]]
//! name = "memchr_read"
//! harness = false
//! ```
//!
//! Two ways of reading, because the server maps the file but falls back to `read()`
//! (style.md §3): `mmap` (memmap2, as the server) and `read` (one `Vec`). Each prints the
//! best of ROUNDS (default 3) warm runs; cold-cache numbers need `echo 3 >
//! /proc/sys/vm/drop_caches` between runs, which this program does not do.
// Under the default harness (before the [[bench]] entry exists) `main` is not the entry
// point and everything below would be reported unused.
#![allow(dead_code)]

use std::fs::File;
use std::io::Read;
use std::time::{Duration, Instant};

use memchr::memmem;

fn main() {
    // `cargo bench` passes `--bench`; skip flags.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(path) = args.first() else {
        eprintln!("usage: cargo bench --bench memchr_read -- PATH [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: u32 = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(3).max(1);
    let file = File::open(path).unwrap_or_else(|e| fail(&format!("{path}: {e}")));
    let len = file
        .metadata()
        .map(|m| m.len())
        .unwrap_or_else(|e| fail(&format!("{path}: {e}")));

    let (mmap_best, mmap_count) = best_of(rounds, || {
        // SAFETY: the file is only read during this run; a concurrent truncation by
        // another program would SIGBUS, which is acceptable in a benchmark.
        let map = unsafe { memmap2::Mmap::map(&file) }
            .unwrap_or_else(|e| fail(&format!("mmap {path}: {e}")));
        count_from_lines(&map)
    });
    let (read_best, read_count) = best_of(rounds, || {
        let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        File::open(path)
            .and_then(|mut f| f.read_to_end(&mut buf))
            .unwrap_or_else(|e| fail(&format!("read {path}: {e}")));
        count_from_lines(&buf)
    });
    assert_eq!(mmap_count, read_count, "both readers see the same file");

    let mb = len as f64 / 1e6;
    println!("file            {path} ({mb:.1} MB)");
    println!("From_ candidates {mmap_count}");
    for (name, t) in [("mmap+memmem", mmap_best), ("read+memmem", read_best)] {
        let s = t.as_secs_f64();
        println!(
            "{name:<16} {s:.6} s  ({:.0} MB/s)  best of {rounds}",
            mb / s.max(1e-9)
        );
    }
}

/// Lines starting with `From ` (the first line, and every one after an LF). This is
/// the candidate scan only; the date check of mbox-format.md §2 is not done.
fn count_from_lines(data: &[u8]) -> usize {
    let first = usize::from(data.starts_with(b"From "));
    first + memmem::find_iter(data, b"\nFrom ").count()
}

fn best_of(rounds: u32, mut run: impl FnMut() -> usize) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut count = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        count = std::hint::black_box(run());
        best = best.min(start.elapsed());
    }
    (best, count)
}

fn fail(msg: &str) -> ! {
    eprintln!("memchr_read: {msg}");
    std::process::exit(1);
}
