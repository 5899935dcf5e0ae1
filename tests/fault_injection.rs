//! Crash safety, proven by crashing: every write, fsync, ftruncate, fallocate,
//! unlink and rename of an operation is made to fail in turn, and the mailbox
//! is checked after each.
//!
//! Run with `cargo test --features fault-injection --test fault_injection`.
//!
//! For each operation (expunge, flag sync, append, a MULTIAPPEND command,
//! first metadata write,
//! everything expunged, and multi-window rewrites of a 20 MB mailbox), the
//! test runs the operation in a child process (this test binary, test
//! `child`) once without faults, to count its calls and get the expected
//! file, then once for every call N:
//!
//! * **abort**: the child aborts just before call N (kill -9 at any instant);
//! * **torn**: call N writes only half its buffer, then the child aborts (a
//!   power loss in the middle of a write);
//! * **abort + delivery**: as abort, then another program appends a message
//!   (as the MTA does once our stale dotlock is broken), before recovery;
//! * **ENOSPC**: call N fails with ENOSPC and the child goes on.
//!
//! Then the mailbox is opened (which recovers), and checked: every message
//! is present exactly once with its Message-ID and body intact, the
//! operation happened completely or not at all (expunged messages all gone
//! or all there), the file is byte for byte either the original or the
//! fault-free result, no journal is left, and a delivered message is there
//! exactly once. Finally RLIMIT_FSIZE is set at sizes around what the
//! operation needs: it either succeeds or fails with "no space", leaving
//! the original file.
#![cfg(feature = "fault-injection")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use mbox_imapd::command::{self, CommandError, Context};
use mbox_imapd::mailstore::index::Clock;
use mbox_imapd::mailstore::write::{FlagChange, NewMessage};
use mbox_imapd::mailstore::{self, Access, LockSettings, Mailbox, StoreError};
use mbox_imapd::parser::{self, ast::CommandBody};
use mbox_imapd::response::Code;
use mbox_imapd::types::SystemFlags;

const CLOCK: Clock = Clock {
    now: 1_800_000_000,
    local_offset_minutes: 0,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/mbox")
        .join(name)
}

/// The operation the child runs (after opening the mailbox, the fault counter
/// is armed).
fn run_op(op: &str, path: &Path) -> Result<(), StoreError> {
    let settings = LockSettings::default();
    let open = || Mailbox::open_with_clock(path, Access::ReadWrite, &settings, CLOCK);
    match op {
        "append" => {
            mailstore::sys::arm_fault_from_env();
            let messages = [
                NewMessage {
                    bytes: b"From: a@example.org\r\nSubject: first appended\r\nMessage-ID: <app-1@x>\r\n\r\nFrom the start\r\nbody one\r\n",
                    flags: SystemFlags::SEEN,
                    keywords: vec!["Work".into()],
                    internal_date: None,
                },
                NewMessage {
                    bytes: b"Subject: second appended\nMessage-ID: <app-2@x>\n\nbody two\n",
                    flags: SystemFlags::default(),
                    keywords: Vec::new(),
                    internal_date: None,
                },
            ];
            mailstore::append::append_with_clock(path, &messages, &settings, CLOCK).map(drop)
        }
        "claim" | "big-claim" => {
            let mut m = open()?;
            mailstore::sys::arm_fault_from_env();
            m.refresh().map(drop)?;
            // refresh() reports a failed claim only in the log: checkpoint
            // tells the outcome.
            m.checkpoint()
        }
        "flags" => {
            let mut m = open()?;
            mailstore::sys::arm_fault_from_env();
            m.change_flags(0, FlagChange::Remove, SystemFlags::SEEN, &[])?;
            m.change_flags(4, FlagChange::Add, SystemFlags::FLAGGED, &[])?;
            m.change_flags(28, FlagChange::Add, SystemFlags::ANSWERED, &[])?;
            // Too long for the padding: this message moves to UW's layout,
            // and the tail from it is rewritten.
            let long = [
                "A-rather-long-keyword".to_string(),
                "And-another-long-one".to_string(),
            ];
            m.change_flags(9, FlagChange::Add, SystemFlags::default(), &long)?;
            m.checkpoint()
        }
        "expunge" | "big-expunge" | "expunge-all" => {
            let mut m = open()?;
            mailstore::sys::arm_fault_from_env();
            let victims: Vec<usize> = match op {
                "expunge" => vec![2, 10, 20],
                "big-expunge" => vec![5, 100, 15_000],
                _ => (0..m.len()).collect(),
            };
            m.change_flags(1, FlagChange::Add, SystemFlags::SEEN, &[])?;
            for i in victims {
                m.change_flags(i, FlagChange::Add, SystemFlags::DELETED, &[])?;
            }
            m.expunge(None).map(drop)
        }
        "multiappend" => multiappend(path, &settings),
        other => panic!("unknown op {other}"),
    }
}

/// MULTIAPPEND (RFC 3502) through the parser and the APPEND command: three
/// messages (one a literal8 with NUL) in one command must land together or
/// not at all. Every message has a date-time, so that the file the fault-free
/// run writes is the same every time.
fn multiappend(path: &Path, settings: &LockSettings) -> Result<(), StoreError> {
    let text = [
        &b"a APPEND INBOX (\\Seen) \" 5-Mar-2024 10:00:00 +0100\" {57}\r\n"[..],
        b"From: a@example.org\r\nMessage-ID: <multi-1@x>\r\n\r\nFrom me\r\n",
        b" (\\Flagged Work) \"06-Mar-2024 11:00:00 +0000\" {43+}\r\n",
        b"Message-ID: <multi-2@x>\r\n\r\nbody two\r\nline\r\n",
        b" \"07-Mar-2024 12:00:00 -0500\" ~{29}\r\n",
        b"Message-ID: <multi-3@x>\n\na\0b\n\r\n",
    ]
    .concat();
    let command = parser::parse_command(&text).expect("a valid MULTIAPPEND");
    let CommandBody::Append { mailbox, messages } = command.body else {
        panic!("not an APPEND: {:?}", command.body);
    };
    assert_eq!(messages.len(), 3);
    let ctx = Context {
        user: "u".into(),
        host: "h".into(),
        inbox: path.to_owned(),
        mail_dir: path.with_file_name("mail"),
        home: path.with_file_name("home"),
        locking: settings.clone(),
        special_use: Default::default(),
    };
    mailstore::sys::arm_fault_from_env();
    match command::append::append(&ctx, None, &mailbox.0, &messages, 64 * 1024 * 1024) {
        Ok(_) => Ok(()),
        Err(CommandError::No {
            code: Some(Code::OverQuota),
            ..
        }) => Err(StoreError::NoSpace {
            path: path.to_owned(),
            source: std::io::Error::from_raw_os_error(nix::libc::ENOSPC),
        }),
        Err(e) => Err(StoreError::Io {
            path: path.to_owned(),
            source: std::io::Error::other(e.to_string()),
        }),
    }
}

/// The child half: runs only when the parent set `MBOX_FI_OP`.
#[test]
fn child() {
    let (Ok(op), Ok(path)) = (std::env::var("MBOX_FI_OP"), std::env::var("MBOX_FI_PATH")) else {
        return;
    };
    // No core dumps from the aborts.
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
    mailstore::signals::ignore_file_size_signal().unwrap();
    if let Ok(limit) = std::env::var("MBOX_FI_FSIZE") {
        let limit: u64 = limit.parse().unwrap();
        nix::sys::resource::setrlimit(
            nix::sys::resource::Resource::RLIMIT_FSIZE,
            limit,
            nix::sys::resource::RLIM_INFINITY,
        )
        .unwrap();
    }
    let result = run_op(&op, Path::new(&path));
    let calls = mailstore::sys::fault_calls();
    let outcome = match result {
        Ok(()) => "ok".to_owned(),
        Err(StoreError::NoSpace { .. }) => "nospace".to_owned(),
        Err(e) => format!("error {e}"),
    };
    println!("\nFI-RESULT {calls} {outcome}");
}

/// What a child run printed.
struct ChildRun {
    calls: u64,
    /// `None`: the child died (aborted).
    outcome: Option<String>,
}

fn run_child(op: &str, path: &Path, env: &[(&str, String)]) -> ChildRun {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("MBOX_FI_OP", op)
        .env("MBOX_FI_PATH", path)
        .env_remove("MBOX_IMAPD_FAULT_AT")
        .env_remove("MBOX_FI_FSIZE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix("FI-RESULT "));
    match line {
        Some(rest) => {
            let (calls, outcome) = rest.split_once(' ').unwrap();
            ChildRun {
                calls: calls.parse().unwrap(),
                outcome: Some(outcome.to_owned()),
            }
        }
        None => {
            assert!(
                !out.status.success(),
                "child neither reported nor died: {stdout}"
            );
            ChildRun {
                calls: 0,
                outcome: None,
            }
        }
    }
}

/// Message-ID and body checksum of each message, after opening (which recovers).
fn identities(path: &Path) -> Vec<(String, u64)> {
    let m = Mailbox::open(path, Access::ReadOnly, &LockSettings::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (0..m.len())
        .map(|i| {
            let view = m.message(i).unwrap();
            let header = view.visible_header().concat();
            let text = String::from_utf8_lossy(&header);
            let id = text
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
                .unwrap_or("")
                .to_owned();
            (id, mailstore::journal::checksum(view.body()))
        })
        .collect()
}

fn multiset(ids: &[(String, u64)]) -> BTreeMap<(String, u64), usize> {
    let mut m = BTreeMap::new();
    for id in ids {
        *m.entry(id.clone()).or_insert(0) += 1;
    }
    m
}

const FOREIGN: &[u8] = b"From mta@example.org Wed Jan  7 12:45:00 2015\nFrom: mta@example.org\nSubject: delivered after the crash\nMessage-ID: <foreign@x>\n\nA delivery made while the journal was pending.\n\n";

/// The per-operation reference: original and fault-free result.
struct Reference {
    op: &'static str,
    source: PathBuf,
    original: Vec<u8>,
    expected: Vec<u8>,
    before: Vec<(String, u64)>,
    after: Vec<(String, u64)>,
    calls: u64,
}

impl Reference {
    fn new(op: &'static str, source: PathBuf, work: &Path) -> Reference {
        let path = work.join("reference");
        std::fs::copy(&source, &path).unwrap();
        let original = std::fs::read(&path).unwrap();
        let before = identities(&path);
        let run = run_child(op, &path, &[]);
        assert_eq!(run.outcome.as_deref(), Some("ok"), "{op}: fault-free run");
        let expected = std::fs::read(&path).unwrap();
        let after = identities(&path);
        assert_ne!(expected, original, "{op} must change the file");
        Reference {
            op,
            source,
            original,
            expected,
            before,
            after,
            calls: run.calls,
        }
    }

    /// Checks a mailbox after a faulty run and recovery.
    fn check(&self, path: &Path, foreign: bool, what: &str) {
        let ids = identities(path);
        let bytes = std::fs::read(path).unwrap();
        let mut done = multiset(&self.after);
        let mut not_done = multiset(&self.before);
        if foreign {
            let id = ("Message-ID: <foreign@x>".to_owned(), foreign_hash());
            *done.entry(id.clone()).or_insert(0) += 1;
            *not_done.entry(id).or_insert(0) += 1;
        }
        let got = multiset(&ids);
        assert!(
            got == done || got == not_done,
            "{}: {what}: messages are neither before nor after the operation:\n got {got:?}\n before {not_done:?}\n after {done:?}",
            self.op
        );
        if !foreign {
            // Byte for byte one of the two states.
            let exact = bytes == self.original || bytes == self.expected;
            assert!(
                exact,
                "{}: {what}: file is neither the original nor the expected result",
                self.op
            );
        }
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("journal"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "{}: {what}: journal left: {leftovers:?}",
            self.op
        );
        // Stable: a second open finds the same messages.
        assert_eq!(identities(path), ids);
    }
}

fn foreign_hash() -> u64 {
    let body_start = FOREIGN.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    // The separator blank line is not part of the message.
    mailstore::journal::checksum(&FOREIGN[body_start..FOREIGN.len() - 1])
}

/// A 20 MB mailbox of generated messages, with or without UW metadata.
fn generated(dir: &Path, name: &str, count: usize, with_metadata: bool) -> PathBuf {
    let path = dir.join(name);
    let mut data = Vec::new();
    for i in 0..count {
        data.extend_from_slice(
            format!(
                "From s{i}@example.org Mon Jan  5 10:00:00 2015\nFrom: <s{i}@example.org>\nSubject: m {i}\nMessage-ID: <gen-{i}@example.org>\n\n{}\n",
                format!("line {i} of a generated body, long enough to matter\n").repeat(12)
            )
            .as_bytes(),
        );
    }
    std::fs::write(&path, &data).unwrap();
    if with_metadata {
        let mut m =
            Mailbox::open_with_clock(&path, Access::ReadWrite, &LockSettings::default(), CLOCK)
                .unwrap();
        m.refresh().unwrap();
        assert!(!m.metadata_unsaved());
    }
    path
}

#[derive(Default)]
struct Tally {
    crash_points: u64,
    runs: u64,
}

#[test]
fn every_crash_point_leaves_every_message_once() {
    let work = tempfile::tempdir().unwrap();
    let big_meta = generated(work.path(), "big-with-metadata", 24_000, true);
    let big_plain = generated(work.path(), "big-plain", 12_000, false);
    let ops: Vec<(&'static str, PathBuf)> = vec![
        ("expunge", fixture("uw-session.mbox")),
        ("flags", fixture("uw-session.mbox")),
        ("append", fixture("uw-session.mbox")),
        ("multiappend", fixture("uw-session.mbox")),
        ("claim", fixture("spool-plain.mbox")),
        ("expunge-all", fixture("uw-session.mbox")),
        ("big-expunge", big_meta.clone()),
        ("big-claim", big_plain.clone()),
    ];
    let mut tally = Tally::default();
    for (op, source) in ops {
        let dir = tempfile::tempdir().unwrap();
        let reference = Reference::new(op, source, dir.path());
        let mut runs = 0;
        for n in 1..=reference.calls {
            for mode in ["abort", "torn", "abort+delivery", "enospc"] {
                let case = tempfile::tempdir().unwrap();
                let path = case.path().join("box");
                std::fs::copy(&reference.source, &path).unwrap();
                let fault_mode = if mode == "abort+delivery" {
                    "abort"
                } else {
                    mode
                };
                let run = run_child(
                    op,
                    &path,
                    &[
                        ("MBOX_IMAPD_FAULT_AT", n.to_string()),
                        ("MBOX_IMAPD_FAULT_MODE", fault_mode.to_owned()),
                    ],
                );
                let what = format!("{mode} at call {n}/{}", reference.calls);
                match mode {
                    "enospc" => assert!(run.outcome.is_some(), "{op}: {what}: child died"),
                    _ => assert!(run.outcome.is_none(), "{op}: {what}: child did not crash"),
                }
                let foreign = mode == "abort+delivery";
                if foreign {
                    use std::io::Write;
                    let mut f = std::fs::OpenOptions::new()
                        .append(true)
                        .open(&path)
                        .unwrap();
                    f.write_all(FOREIGN).unwrap();
                }
                reference.check(&path, foreign, &what);
                if mode == "enospc" && run.outcome.as_deref() == Some("nospace") {
                    assert_eq!(
                        std::fs::read(&path).unwrap(),
                        reference.original,
                        "{op}: {what}: no space but changed"
                    );
                }
                runs += 1;
            }
        }
        println!(
            "fault injection: {op}: {} crash points, {runs} runs",
            reference.calls
        );
        tally.crash_points += reference.calls;
        tally.runs += runs;
    }
    println!(
        "fault injection: total {} crash points, {} runs",
        tally.crash_points, tally.runs
    );
    assert!(tally.crash_points > 50);
}

#[test]
fn file_size_limit_fails_cleanly_or_succeeds() {
    let work = tempfile::tempdir().unwrap();
    let mut runs = 0;
    for (op, source) in [
        ("claim", fixture("spool-plain.mbox")),
        ("expunge", fixture("uw-session.mbox")),
        ("append", fixture("uw-session.mbox")),
        ("multiappend", fixture("uw-session.mbox")),
        ("flags", fixture("uw-session.mbox")),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let reference = Reference::new(op, source, dir.path());
        let size = reference.original.len().max(reference.expected.len()) as u64;
        let mut failed = 0;
        let mut succeeded = 0;
        // From far below the file size to well above what the journal needs.
        let limits: Vec<u64> = (0..=24)
            .map(|i| size * i / 12)
            .chain([size - 1, size, size + 1, size + 4096])
            .collect();
        for limit in limits {
            let case = tempfile::tempdir_in(work.path()).unwrap();
            let path = case.path().join("box");
            std::fs::copy(&reference.source, &path).unwrap();
            let run = run_child(op, &path, &[("MBOX_FI_FSIZE", limit.to_string())]);
            let outcome = run
                .outcome
                .unwrap_or_else(|| panic!("{op}: limit {limit}: child died"));
            let bytes = std::fs::read(&path).unwrap();
            match outcome.as_str() {
                "ok" => {
                    succeeded += 1;
                    assert_eq!(bytes, reference.expected, "{op}: limit {limit}");
                }
                "nospace" => {
                    failed += 1;
                    assert_eq!(bytes, reference.original, "{op}: limit {limit}: changed");
                }
                other => panic!("{op}: limit {limit}: {other}"),
            }
            reference.check(&path, false, &format!("limit {limit}"));
            runs += 1;
        }
        assert!(
            failed > 0 && succeeded > 0,
            "{op}: {failed} failed, {succeeded} succeeded"
        );
        println!("RLIMIT_FSIZE: {op}: {failed} limits refused cleanly, {succeeded} succeeded");
    }
    println!("RLIMIT_FSIZE: {runs} runs");
}
