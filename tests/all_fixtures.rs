//! Invariants every fixture mailbox must satisfy, whatever its writer or its defects.
//!
//! For each message: `RFC822.SIZE` is the length of `BODY[]`; `BODY[]` is `BODY[HEADER]`
//! followed by `BODY[TEXT]`; `RFC822`, `RFC822.HEADER`, `RFC822.TEXT` equal their
//! `BODY[...]` twins; the wire form has CRLF line ends only and no NUL (RFC 3501 §4.3);
//! UW's status headers are never shown (mbox-format.md §8); UIDs ascend strictly and a
//! `UID FETCH` by UID finds the same bytes. SELECT and EXAMINE agree on the counts.
//! And the read path leaves the file byte-identical.
//!
//! The byte-exact comparison against an independent parser is in `imaplib.rs`.

mod common;

use common::fetch::{Fetch, bad_line_end, fetches};
use common::{Inbox, MAILBOX_FIXTURES, Response, Session};

const HIDDEN: &[&str] = &[
    "status:",
    "x-status:",
    "x-keywords:",
    "x-uid:",
    "x-imap:",
    "x-imapbase:",
];

#[test]
fn every_fixture_keeps_the_fetch_invariants() {
    let mut failures = Vec::new();
    for fixture in MAILBOX_FIXTURES {
        let outcome = std::panic::catch_unwind(|| check_fixture(fixture));
        if let Err(payload) = outcome {
            let why = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!(
                "{fixture}: {}",
                why.lines().next().unwrap_or_default()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixtures failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn exists(responses: &[Response]) -> u32 {
    responses
        .iter()
        .find_map(|r| r.number_before("EXISTS"))
        .expect("an EXISTS response")
}

fn check_fixture(fixture: &str) {
    let mut s = Session::start(Inbox::Fixture(fixture));
    let selected = s.ok("a1 SELECT INBOX");
    let n = exists(&selected);
    s.ok("a2 UNSELECT");
    let examined = s.ok("a3 EXAMINE INBOX");
    assert_eq!(
        exists(&examined),
        n,
        "SELECT and EXAMINE disagree on EXISTS"
    );
    let uidnext = |rs: &[Response]| {
        rs.iter()
            .find(|r| r.line().contains("[UIDNEXT "))
            .map(|r| r.line())
    };
    assert_eq!(uidnext(&selected), uidnext(&examined), "UIDNEXT differs");
    if n == 0 {
        s.finish();
        return;
    }
    let r = s.ok("a4 FETCH 1:* (UID RFC822.SIZE BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT])");
    let all = fetches(&r);
    assert_eq!(all.len(), n as usize, "one FETCH response per message");
    let r = s.ok("a5 FETCH 1:* (RFC822 RFC822.HEADER RFC822.TEXT)");
    let rfc822 = fetches(&r);
    assert_eq!(rfc822.len(), n as usize);
    let mut previous_uid = 0;
    for (i, f) in all.iter().enumerate() {
        let seq = i as u32 + 1;
        assert_eq!(f.seq, seq, "FETCH responses in sequence order");
        let uid = f.uid.expect("UID fetched");
        assert!(
            uid > previous_uid,
            "UIDs must ascend: {uid} after {previous_uid}"
        );
        previous_uid = uid;
        check_message(f, &rfc822[i]);
        let r = s.ok(&format!("u{seq} UID FETCH {uid} BODY.PEEK[]"));
        let by_uid = fetches(&r);
        assert_eq!(by_uid.len(), 1, "UID FETCH {uid}");
        assert_eq!(by_uid[0].seq, seq, "UID {uid} is message {seq}");
        assert!(
            by_uid[0].section("") == f.section(""),
            "UID FETCH {uid}: other bytes"
        );
    }
    s.finish();
}

fn check_message(f: &Fetch, rfc: &Fetch) {
    let seq = f.seq;
    let full = f.section("");
    let header = f.section("HEADER");
    let text = f.section("TEXT");
    assert_eq!(
        f.size,
        Some(full.len() as u32),
        "message {seq}: RFC822.SIZE vs BODY[]"
    );
    assert!(
        full == [header, text].concat().as_slice(),
        "message {seq}: BODY[] != HEADER + TEXT"
    );
    assert_eq!(
        bad_line_end(full),
        None,
        "message {seq}: bare CR/LF or NUL at this offset"
    );
    assert!(
        header.is_empty() || header.ends_with(b"\r\n"),
        "message {seq}: header end"
    );
    for line in header.split(|&b| b == b'\n') {
        let lower = String::from_utf8_lossy(line).to_ascii_lowercase();
        assert!(
            !HIDDEN.iter().any(|h| lower.starts_with(h)),
            "message {seq}: status header shown: {lower:?}"
        );
    }
    assert_eq!(
        rfc.rfc822.clone().flatten().as_deref(),
        Some(full),
        "message {seq}: RFC822"
    );
    assert_eq!(
        rfc.rfc822_header.clone().flatten().as_deref(),
        Some(header),
        "RFC822.HEADER"
    );
    assert_eq!(
        rfc.rfc822_text.clone().flatten().as_deref(),
        Some(text),
        "RFC822.TEXT"
    );
}
