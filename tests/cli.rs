//! The command line: `--version`, `--help`, bad options, and pre-authentication
//! without `--preauth` for a non-root user.

mod common;

use std::process::Command;

use common::{Inbox, Session, check_greeting, server_bin};

#[test]
fn version_prints_the_package_version() {
    let out = Command::new(server_bin())
        .arg("--version")
        .output()
        .expect("run --version");
    assert!(out.status.success(), "--version exits 0: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("mbox-imapd"), "names the program: {text:?}");
    assert!(
        text.contains(env!("CARGO_PKG_VERSION")),
        "carries the version: {text:?}"
    );
}

#[test]
fn help_lists_the_options() {
    let out = Command::new(server_bin())
        .arg("--help")
        .output()
        .expect("run --help");
    assert!(out.status.success(), "--help exits 0: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--inbox",
        "--mail-dir",
        "--preauth",
        "--log",
        "--version",
        "--demo",
    ] {
        assert!(text.contains(option), "--help mentions {option}: {text}");
    }
}

/// A bad command line is an error. Under inetd stdout is the client's socket, so the
/// server may tell the client with a `* BYE` greeting (RFC 3501 §7.1.5), but it must
/// not offer a session (`* OK` / `* PREAUTH`).
#[test]
fn unknown_option_fails_without_offering_a_session() {
    let out = Command::new(server_bin())
        .arg("--no-such-option")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run with a bad option");
    assert!(!out.status.success(), "a bad option is an error: {out:?}");
    let stdout = out.stdout.as_slice();
    assert!(
        stdout.is_empty() || (stdout.starts_with(b"* BYE ") && check_greeting(stdout).is_ok()),
        "nothing, or one valid `* BYE` line: {:?}",
        String::from_utf8_lossy(stdout)
    );
}

#[test]
fn non_root_user_is_preauthenticated_without_the_flag() {
    // `Uid:` real, effective, saved, filesystem: the effective uid is word 2.
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_owned))
        .and_then(|l| {
            l.split_whitespace()
                .nth(2)
                .and_then(|u| u.parse::<u32>().ok())
        });
    if uid == Some(0) {
        eprintln!("notice: running as root; the automatic PREAUTH of non-root users is not tested");
        return;
    }
    let mut s = Session::start_without_preauth_flag(Inbox::Fixture("uw-session.mbox"));
    assert!(
        s.greeting.raw.starts_with(b"* PREAUTH "),
        "{:?}",
        s.greeting
    );
    s.ok("a1 EXAMINE INBOX");
    s.finish();
}
