//! What the write path costs on a real mailbox: bytes written and time for
//! the operations of issue 4, for BENCHMARKS.md.
//!
//! ```text
//! python3 /work/shared/bench/gen_mbox.py --messages 100000 --seed 42 --out /tmp/bench/mbox-100000
//! cargo run --release --example write_cost -- /tmp/bench/mbox-100000 [workdir]
//! ```
//!
//! The mailbox is copied into `workdir` (default: a new directory under
//! /tmp) and worked on there; the source is never modified. "engine bytes"
//! are the bytes the mail store passed to pwrite (mailbox and journal);
//! "storage bytes" is the process's `write_bytes` from /proc/self/io (what
//! reached the page cache for writeback). UW imapd's cost is what its
//! `unix_rewrite` writes: everything from the first changed message to the end.

use std::path::{Path, PathBuf};
use std::time::Instant;

use mbox_imapd::mailstore::write::{FlagChange, NewMessage};
use mbox_imapd::mailstore::{self, Access, LockSettings, Mailbox};
use mbox_imapd::types::SystemFlags;

fn main() {
    let mut args = std::env::args_os().skip(1);
    let Some(source) = args.next().map(PathBuf::from) else {
        eprintln!("usage: write_cost <mbox> [workdir]");
        std::process::exit(2);
    };
    let workdir = args.next().map(PathBuf::from).unwrap_or_else(|| {
        let dir = std::env::temp_dir().join(format!("write_cost.{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the work directory");
        dir
    });
    std::fs::create_dir_all(&workdir).expect("create the work directory");
    let path = workdir.join("INBOX");
    let started = Instant::now();
    std::fs::copy(&source, &path).expect("copy the mailbox");
    // The copy's own writeback must not be billed to the first fsync, and the
    // page cache is warm, like a server that has been running.
    std::fs::File::open(&path)
        .and_then(|f| f.sync_all())
        .expect("sync the copy");
    let _ = std::fs::read(&path).map(|d| d.len());
    println!(
        "mailbox {} ({} bytes), copied to {} in {:.2} s",
        source.display(),
        std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
        path.display(),
        started.elapsed().as_secs_f64()
    );
    let settings = LockSettings::default();
    println!(
        "{:<58} {:>14} {:>14} {:>9} {:>14}",
        "operation", "engine bytes", "storage bytes", "seconds", "UW rewrites"
    );

    let mut m = measure("SELECT (open, index)", 0, || {
        Mailbox::open(&path, Access::ReadWrite, &settings).expect("open")
    });
    let size = std::fs::metadata(&path).map(|f| f.len()).unwrap_or(0);
    println!("  {} messages", m.len());
    if m.metadata_unsaved() {
        measure("first session: UW metadata for every message", size, || {
            m.refresh().expect("refresh")
        });
    }

    let size = std::fs::metadata(&path).map(|f| f.len()).unwrap_or(0);
    measure("STORE 1 +FLAGS (\\Flagged), CHECK", size, || {
        m.change_flags(0, FlagChange::Add, SystemFlags::FLAGGED, &[])
            .expect("store");
        m.checkpoint().expect("checkpoint")
    });

    // 1% of the messages, chosen by a seeded generator.
    let count = m.len();
    let mut state = 42u64;
    let mut chosen = std::collections::BTreeSet::new();
    while chosen.len() < count / 100 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chosen.insert((state % count as u64) as usize);
    }
    let first = chosen.first().copied().unwrap_or(0);
    let uw_cost = size.saturating_sub(m.entries().get(first).map_or(0, |e| e.offset));
    measure(
        &format!("STORE \\Deleted on 1% ({}), EXPUNGE", chosen.len()),
        uw_cost,
        || {
            for &i in &chosen {
                m.change_flags(i, FlagChange::Add, SystemFlags::DELETED, &[])
                    .expect("store");
            }
            m.expunge(None).expect("expunge")
        },
    );

    let body = "A line of text in the appended message, about seventy bytes long.\r\n".repeat(60);
    let message = format!(
        "From: bench@example.org\r\nTo: user@example.org\r\nSubject: appended\r\nMessage-ID: <bench@example.org>\r\n\r\n{body}"
    );
    let appended = measure("APPEND (4 KB message)", 0, || {
        mailstore::write::append(
            &path,
            &[NewMessage {
                bytes: message.as_bytes(),
                flags: SystemFlags::SEEN,
                keywords: Vec::new(),
                internal_date: None,
            }],
            &settings,
        )
        .expect("append")
    });
    println!("  APPENDUID {} {}", appended.uid_validity, appended.uids[0]);
    let refresh = measure("new mail seen by the open session (refresh)", 0, || {
        m.refresh().expect("refresh")
    });
    println!("  appended: {}", refresh.appended);
    let _ = std::fs::remove_file(&path);
}

/// Runs `work`, printing its engine bytes, storage bytes and wall time.
fn measure<T>(name: &str, uw_bytes: u64, work: impl FnOnce() -> T) -> T {
    let engine = mailstore::bytes_written();
    let storage = proc_write_bytes();
    let started = Instant::now();
    let out = work();
    let seconds = started.elapsed().as_secs_f64();
    let engine = mailstore::bytes_written() - engine;
    let storage = proc_write_bytes().saturating_sub(storage);
    let uw = if uw_bytes > 0 {
        uw_bytes.to_string()
    } else {
        "-".to_owned()
    };
    println!("{name:<58} {engine:>14} {storage:>14} {seconds:>9.3} {uw:>14}");
    out
}

/// `write_bytes` of /proc/self/io.
fn proc_write_bytes() -> u64 {
    std::fs::read_to_string(Path::new("/proc/self/io"))
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|l| l.strip_prefix("write_bytes:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}
