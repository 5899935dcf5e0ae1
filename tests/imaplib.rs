//! Python's imaplib as an independent client (tests/python/*.py), byte-exact against
//! an independent reading of the mbox file (tests/python/mboxref.py):
//!
//! - `fixtures_are_served_byte_exact`: every committed fixture; UIDs equal the X-UID
//!   headers of UW/Dovecot files; BODY[], HEADER, TEXT and each MIME part match, and
//!   BINARY[part] / BINARY.SIZE of each leaf part match Python's base64/quopri decoding.
//! - `compressed_session_matches_a_plain_one`: COMPRESS=DEFLATE (RFC 4978)
//!   with zlib on imaplib's pipes (tests/python/compress.py): every answer of a
//!   compressed session equals the plain session's, and the wire carries less.
//! - `generated_10000_messages`: a 10,000-message mailbox from
//!   `../shared/bench/gen_mbox.py`; sizes, subjects, a sample of bodies and parts, and
//!   SEARCH hit lists against the generator's `.meta.json`.
//! - `sort_and_thread_on_generated_mailbox`: SORT, UID SORT, THREAD and UID
//!   THREAD through imaplib, checked against Python's reading of the headers.
//!
//! Without python3 these tests print a notice and pass, except under CI (`CI=true`),
//! where a missing interpreter is a failure.

mod common;
mod python_script;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{MAILBOX_FIXTURES, fixture_path, server_bin};

#[test]
fn fixtures_are_served_byte_exact() {
    let Some(python) = python3() else { return };
    let mut args = vec!["--server".to_string(), server_bin().display().to_string()];
    args.extend(
        MAILBOX_FIXTURES
            .iter()
            .map(|f| fixture_path(f).display().to_string()),
    );
    run_script(
        &python,
        "check_fixtures.py",
        &args,
        Duration::from_secs(300),
    );
}

#[test]
fn compressed_session_matches_a_plain_one() {
    let Some(python) = python3() else { return };
    let args = [
        "--server".to_string(),
        server_bin().display().to_string(),
        fixture_path("uw-session.mbox").display().to_string(),
    ];
    run_script(&python, "compress.py", &args, Duration::from_secs(120));
}

#[test]
fn generated_10000_messages() {
    let Some(python) = python3() else { return };
    let Some(args) = generated_mailbox_args(10_000, 42, "the 10,000-message imaplib test") else {
        return;
    };
    run_script(
        &python,
        "check_generated.py",
        &args,
        Duration::from_secs(900),
    );
}

/// imaplib's sort() and thread() on a generated 3,000-message mailbox,
/// checked against Python's own reading of the headers
/// (tests/python/sort_thread.py).
#[test]
fn sort_and_thread_on_generated_mailbox() {
    let Some(python) = python3() else { return };
    let Some(args) = generated_mailbox_args(3_000, 7, "the SORT/THREAD imaplib test") else {
        return;
    };
    run_script(&python, "sort_thread.py", &args, Duration::from_secs(600));
}

/// `--server BIN --gen gen_mbox.py --messages N --seed S` for a script that
/// generates its mailbox; `None` (after a notice, or a failure under CI)
/// without the shared generator.
fn generated_mailbox_args(messages: u32, seed: u32, test: &str) -> Option<Vec<String>> {
    let Some(generator) = shared_file("bench/gen_mbox.py") else {
        let msg = "../shared/bench/gen_mbox.py not found (set MBOX_IMAPD_SHARED_DIR)";
        assert!(!in_ci(), "{msg}");
        eprintln!("notice: {msg}; skipping {test}");
        return None;
    };
    Some(vec![
        "--server".to_string(),
        server_bin().display().to_string(),
        "--gen".to_string(),
        generator.display().to_string(),
        "--messages".to_string(),
        messages.to_string(),
        "--seed".to_string(),
        seed.to_string(),
    ])
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// `python3`, if it runs; otherwise `None` after a notice, or a failure under CI.
fn python3() -> Option<PathBuf> {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(PathBuf::from("python3"));
    }
    assert!(
        !in_ci(),
        "python3 is required under CI (CI=true) for the imaplib tests"
    );
    eprintln!("notice: python3 not found; skipping the imaplib tests");
    None
}

/// A file of the project's shared material (see [`common::shared_path`]).
fn shared_file(relative: &str) -> Option<PathBuf> {
    common::shared_path(relative, Path::is_file)
}

/// Runs `tests/python/<script>` with a deadline; fails with its output unless it exits 0.
fn run_script(python: &Path, script: &str, args: &[String], limit: Duration) {
    python_script::run(python, script, args, limit);
}
