//! The write path through real clients: Python's imaplib sessions that
//! STORE, EXPUNGE, APPEND and COPY (tests/python/write_*.py, which then read
//! the files back with Python's `mailbox.mbox`), and our scripted client for
//! what imaplib cannot do (IDLE) and for the exact untagged responses RFC 3501
//! requires (every response checked by `write_support::Client`'s model).
//!
//! Without python3 the imaplib tests print a notice and pass, except under CI
//! (`CI=true`), where a missing interpreter is a failure.

mod write_support;

use std::time::{Duration, Instant};

use write_support::{
    Client, Dir, Expect, check_mbox, deliver_externally, flags_in, mbox_of, message, require,
    run_python, server_bin, uid_in,
};

fn imaplib_script(script: &str) {
    if !require("python3", &["--version"], "the imaplib write tests") {
        return;
    }
    let dir = Dir::new();
    let args = [
        "--server".to_string(),
        server_bin().display().to_string(),
        "--dir".to_string(),
        dir.tmp.path().display().to_string(),
    ];
    run_python(script, &args, Duration::from_secs(300));
}

#[test]
fn imaplib_store_expunge_close() {
    imaplib_script("write_store_expunge.py");
}

#[test]
fn imaplib_append_copy_uidplus() {
    imaplib_script("write_append_copy.py");
}

#[test]
fn imaplib_move() {
    imaplib_script("write_move.py");
}

/// RFC 3501 §6.4.6 and UW's order (fixtures/uw-session.transcript a5): a new
/// keyword is announced with FLAGS and PERMANENTFLAGS before the FETCH.
#[test]
fn store_announces_new_keywords_before_the_fetch() {
    let msgs: Vec<_> = (0..3).map(|i| message(&format!("k{i}"), i)).collect();
    let dir = Dir::with_inbox(&mbox_of(&msgs));
    let mut c = Client::start(&dir, "a");
    c.select("INBOX");
    let reply = c.ok("STORE 2 +FLAGS (Work $Forwarded)");
    let lines = &reply.untagged;
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with("* FLAGS (") && lines[0].contains("Work"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("* OK [PERMANENTFLAGS (") && lines[1].contains("Work"),
        "{lines:?}"
    );
    assert!(lines[1].contains("\\*"), "{lines:?}");
    assert!(lines[2].starts_with("* 2 FETCH (FLAGS ("), "{lines:?}");
    // An existing keyword is not announced again.
    let reply = c.ok("STORE 3 +FLAGS (work)");
    assert_eq!(reply.untagged.len(), 1, "{:?}", reply.untagged);
    // \Recent cannot be stored (ignored), unknown \Flags are BAD.
    let reply = c.ok("STORE 1 FLAGS (\\Recent \\Seen)");
    assert!(reply.untagged[0].contains("\\Seen"), "{reply:?}");
    assert_eq!(c.command("STORE 1 +FLAGS (\\Important)").status(), "BAD");
    assert_eq!(c.command("STORE 4 +FLAGS (\\Seen)").status(), "BAD");
    c.logout();
}

/// RFC 2177: new mail shows up during IDLE within about a second, EXPUNGE
/// too, and DONE ends it.
#[test]
fn idle_reports_new_mail_and_expunges_within_a_second() {
    let msgs: Vec<_> = (0..4).map(|i| message(&format!("d{i}"), i)).collect();
    let dir = Dir::with_inbox(&mbox_of(&msgs));
    let mut watcher = Client::start(&dir, "w");
    watcher.select("INBOX");
    let tag = watcher.idle();

    let started = Instant::now();
    deliver_externally(&dir.inbox, &[message("d4", 4)]);
    let line = watcher.wait_for("EXISTS", Duration::from_secs(5));
    assert_eq!(line.as_deref(), Some("* 5 EXISTS"), "{}", watcher.tail());
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "EXISTS took {:?}",
        started.elapsed()
    );

    // Another session expunges message 2: the idler hears it at once.
    let mut other = Client::start(&dir, "o");
    other.select("INBOX");
    other.ok("STORE 2 +FLAGS.SILENT (\\Deleted)");
    let reply = other.ok("EXPUNGE");
    assert_eq!(reply.numbers("EXPUNGE"), [2]);
    let line = watcher.wait_for("EXPUNGE", Duration::from_secs(5));
    assert_eq!(line.as_deref(), Some("* 2 EXPUNGE"), "{}", watcher.tail());
    watcher.done(&tag);
    assert_eq!(watcher.exists(), 4);

    // Anything but DONE ends IDLE with BAD and is not run.
    let tag = watcher.idle();
    let reply = watcher.end_idle_with(&tag, "x1 NOOP");
    assert_eq!(reply.tagged, format!("{tag} BAD Expected DONE to end IDLE"));
    assert!(reply.untagged.is_empty(), "{reply:?}");
    other.logout();
    watcher.logout();
    if require("python3", &["--version"], "the mbox check") {
        let mut expect = Expect::default();
        for m in [&msgs[0], &msgs[2], &msgs[3]] {
            expect.present(m);
        }
        expect.present(&message("d4", 4));
        expect.absent.push("d1".into());
        check_mbox(&dir.inbox, &expect);
    }
}

/// RFC 5267 §4.3: live results follow what other sessions and programs do,
/// also during IDLE: flag changes and expunges by another session, mail
/// delivered by another program. REMOVEFROM comes before the EXPUNGE it
/// numbers, ADDTO after the EXISTS.
#[test]
fn live_results_follow_other_sessions_during_idle() {
    let msgs: Vec<_> = (0..4).map(|i| message(&format!("u{i}"), i)).collect();
    let dir = Dir::with_inbox(&mbox_of(&msgs));
    let mut watcher = Client::start(&dir, "w");
    watcher.select("INBOX");
    let all = watcher.ok("UID SEARCH ALL");
    let uids: Vec<u32> = all.untagged[0]
        .split(' ')
        .skip(2)
        .filter_map(|n| n.parse().ok())
        .collect();
    assert_eq!(uids.len(), 4, "{all:?}");
    let search = watcher.ok("SEARCH RETURN (UPDATE COUNT) DELETED");
    assert!(search.has("COUNT 0"), "{search:?}");
    let sort = watcher.ok("UID SORT RETURN (UPDATE ALL) (ARRIVAL) UTF-8 UNDELETED");
    assert!(
        sort.has(&format!("UID ALL {}:{}", uids[0], uids[3])),
        "{sort:?}"
    );
    let tag = watcher.idle();

    let mut other = Client::start(&dir, "o");
    other.select("INBOX");
    other.ok("STORE 2 +FLAGS.SILENT (\\Deleted)");
    wait_for_ending(&mut watcher, "ADDTO", ") ADDTO (0 2)");
    let removed = format!(") UID REMOVEFROM (2 {})", uids[1]);
    wait_for_ending(&mut watcher, "REMOVEFROM", &removed);

    other.ok("EXPUNGE");
    wait_for_ending(&mut watcher, "REMOVEFROM", ") REMOVEFROM (0 2)");
    let line = watcher.wait_for("EXPUNGE", Duration::from_secs(5));
    assert_eq!(line.as_deref(), Some("* 2 EXPUNGE"), "{}", watcher.tail());

    deliver_externally(&dir.inbox, &[message("u4", 4)]);
    let line = watcher.wait_for("EXISTS", Duration::from_secs(5));
    assert_eq!(line.as_deref(), Some("* 4 EXISTS"), "{}", watcher.tail());
    let line = watcher.wait_for("ADDTO", Duration::from_secs(5));
    let added = line.unwrap_or_default();
    assert!(
        added.contains(") UID ADDTO (4 ") && !added.contains("REMOVEFROM"),
        "{added}: {}",
        watcher.tail()
    );
    watcher.done(&tag);

    // After CANCELUPDATE, nothing more.
    let cancelled = search
        .tagged
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    let reply = watcher.ok(&format!("CANCELUPDATE \"{cancelled}\""));
    assert!(reply.untagged.is_empty(), "{reply:?}");
    other.ok("STORE 1 +FLAGS.SILENT (\\Deleted)");
    let reply = watcher.ok("NOOP");
    let esearch: Vec<&String> = reply
        .untagged
        .iter()
        .filter(|l| l.starts_with("* ESEARCH"))
        .collect();
    assert_eq!(esearch.len(), 1, "{reply:?}");
    assert!(esearch[0].contains(" UID REMOVEFROM (1 "), "{reply:?}");
    other.logout();
    watcher.logout();
}

/// During IDLE: the next line with `needle` comes within 5 s and ends so.
fn wait_for_ending(c: &mut Client, needle: &str, end: &str) {
    let line = c.wait_for(needle, Duration::from_secs(5));
    assert!(
        line.as_deref().is_some_and(|l| l.ends_with(end)),
        "{line:?} does not end in {end:?}: {}",
        c.tail()
    );
}

/// RFC 3501 §6.3.11 / RFC 4315: APPEND into the selected mailbox gives EXISTS
/// before the tagged OK and APPENDUID with the UID the message then has.
#[test]
fn append_into_selected_mailbox_gives_exists_and_appenduid() {
    let msgs: Vec<_> = (0..2).map(|i| message(&format!("s{i}"), i)).collect();
    let dir = Dir::with_inbox(&mbox_of(&msgs));
    let mut c = Client::start(&dir, "a");
    let select = c.select("INBOX");
    let validity = select
        .untagged
        .iter()
        .find_map(|l| l.strip_prefix("* OK [UIDVALIDITY "))
        .and_then(|r| r.split(']').next())
        .expect("UIDVALIDITY")
        .to_owned();
    let new = message("s2", 2);
    let reply = c.command_literal("APPEND INBOX (\\Seen)", &new.wire);
    assert!(reply.is_ok(), "{reply:?}");
    assert_eq!(reply.numbers("EXISTS"), [3]);
    assert_eq!(reply.code(), ["APPENDUID", validity.as_str(), "3"]);
    let fetch = c.ok("FETCH 3 (UID FLAGS)");
    assert_eq!(uid_in(&fetch.untagged[0]), Some(3));
    let flags = flags_in(&fetch.untagged[0]).unwrap();
    assert!(flags.contains(&"\\Seen".to_string()), "{flags:?}");
    // A missing folder: TRYCREATE, nothing created.
    let reply = c.command_literal("APPEND Nowhere", &new.wire);
    assert_eq!(reply.status(), "NO");
    assert_eq!(reply.code(), ["TRYCREATE"]);
    assert!(!dir.mail.join("Nowhere").exists());
    c.logout();
}

/// MULTIAPPEND (RFC 3502) on disk: three messages in one command land
/// together, with one APPENDUID range and their bodies exact; a command whose
/// second message fails (over the APPENDLIMIT: NO [TOOBIG]; a malformed
/// date-time: BAD; empty: NO) leaves the file byte for byte as it was, and
/// the session goes on.
#[test]
fn multiappend_is_all_or_nothing_on_disk() {
    if !require("python3", &["--version"], "the MULTIAPPEND file check") {
        return;
    }
    let msgs: Vec<_> = (0..2).map(|i| message(&format!("m{i}"), i)).collect();
    let dir = Dir::with_inbox(&mbox_of(&msgs));
    let conf = dir.tmp.path().join("imapd.conf");
    std::fs::write(&conf, "max_message_size = 2K\n").unwrap();
    let args = ["--config".to_string(), conf.display().to_string()];
    let mut c = Client::start_with(&dir, "a", &args);
    assert!(
        c.transcript[0].contains(" APPENDLIMIT=2048"),
        "{:?}",
        c.transcript
    );
    c.select("INBOX");
    let new: Vec<_> = (2..5).map(|i| message(&format!("m{i}"), i)).collect();
    let append = |parts: &[(&str, &[u8])]| {
        let mut bytes = b"APPEND INBOX".to_vec();
        for (options, literal) in parts {
            bytes.extend(format!(" {options}{{{}+}}\r\n", literal.len()).into_bytes());
            bytes.extend_from_slice(literal);
        }
        bytes.extend(b"\r\n");
        bytes
    };
    let reply = c.command_raw(&append(&[
        ("(\\Flagged) ", &new[0].wire),
        ("\" 5-Mar-2024 10:00:00 +0100\" ", &new[1].wire),
        ("", &new[2].wire),
    ]));
    assert!(reply.is_ok(), "{reply:?}");
    assert_eq!(reply.numbers("EXISTS"), [5]);
    let code = reply.code();
    assert_eq!((code[0].as_str(), code[2].as_str()), ("APPENDUID", "3:5"));
    let before = std::fs::read(&dir.inbox).unwrap();

    let big = [b"Subject: big\r\n\r\n".as_slice(), &[b'x'; 2100]].concat();
    let refused = [
        (
            append(&[("", &new[0].wire), ("", &big)]),
            "NO",
            Some("TOOBIG"),
        ),
        (
            append(&[
                ("", &new[0].wire),
                ("\"30-Feb-2024 10:00:00 +0100\" ", &new[1].wire),
            ]),
            "BAD",
            None,
        ),
        (append(&[("", &new[0].wire), ("", b"")]), "NO", None),
    ];
    for (bytes, status, code) in refused {
        let reply = c.command_raw(&bytes);
        assert_eq!(reply.status(), status, "{reply:?}");
        assert_eq!(reply.code().first().map(String::as_str), code, "{reply:?}");
        assert_eq!(std::fs::read(&dir.inbox).unwrap(), before, "{reply:?}");
        assert_eq!(reply.numbers("EXISTS"), [] as [u32; 0]);
    }
    c.ok("NOOP");
    c.logout();

    let mut expect = Expect::default();
    for m in msgs.iter().chain(&new) {
        expect.present(m);
    }
    expect.flags.insert(new[0].id.clone(), "F".into());
    check_mbox(&dir.inbox, &expect);
}

/// The configuration file's `literals = minus` and `max_message_size`
/// reach a `--preauth` session: LITERAL- and APPENDLIMIT=8192 advertised; a
/// non-synchronizing literal over 4096 octets is BAD (RFC 7888 §4), its
/// octets skipped; a synchronizing one of that size is fine; a message over
/// the limit is NO [TOOBIG] (RFC 7889) without a `+`; the session goes on
/// and nothing but the good message reaches the file.
#[test]
fn literal_minus_and_appendlimit_from_the_config_file() {
    let dir = Dir::with_inbox(&mbox_of(&[message("l0", 0)]));
    let conf = dir.tmp.path().join("imapd.conf");
    std::fs::write(&conf, "literals = minus\nmax_message_size = 8K\n").unwrap();
    let args = ["--config".to_string(), conf.display().to_string()];
    let mut c = Client::start_with(&dir, "a", &args);
    let greeting = &c.transcript[0];
    assert!(greeting.contains(" LITERAL- "), "{greeting}");
    assert!(!greeting.contains("LITERAL+"), "{greeting}");
    assert!(greeting.contains(" APPENDLIMIT=8192"), "{greeting}");
    let body = |n: usize| {
        let mut m = b"Subject: sized\r\n\r\n".to_vec();
        m.resize(n, b'z');
        m
    };
    let with = |head: &str, m: &[u8]| [head.as_bytes(), m, b"\r\n"].concat();
    let reply = c.command_raw(&with("APPEND INBOX {5000+}\r\n", &body(5000)));
    assert_eq!(reply.status(), "BAD", "{reply:?}");
    let reply = c.command_raw(b"APPEND INBOX {9000}\r\n");
    assert_eq!(reply.status(), "NO", "{reply:?}");
    assert_eq!(reply.code(), ["TOOBIG"]);
    let reply = c.command_sync_literal("APPEND INBOX", &body(5000));
    assert!(reply.is_ok(), "{reply:?}");
    c.ok("NOOP");
    let status = c.ok("STATUS INBOX (MESSAGES APPENDLIMIT)");
    assert!(
        status.has("* STATUS INBOX (MESSAGES 2 APPENDLIMIT 8192)"),
        "{status:?}"
    );
    c.logout();
}

/// RFC 3516 `literal8` in APPEND: a message with NUL octets is taken (a
/// `literal` with NUL is BAD), stored with its NULs, and a plain FETCH sends
/// each as 0x80 (as UW does) with RFC822.SIZE counting it once.
#[test]
fn literal8_append_keeps_nul_octets() {
    let dir = Dir::with_inbox(&mbox_of(&[message("n0", 0)]));
    let mut c = Client::start(&dir, "a");
    c.select("INBOX");
    let reply = c.command_raw(b"APPEND INBOX {11+}\r\nA: b\r\n\r\n\0\r\n\r\n");
    assert_eq!(reply.status(), "BAD", "{reply:?}");
    let reply = c.command_raw(b"APPEND INBOX ~{13+}\r\nA: b\r\n\r\nx\0y\r\n\r\n");
    assert!(reply.is_ok(), "{reply:?}");
    let stored = std::fs::read(&dir.inbox).unwrap();
    assert!(stored.ends_with(b"\n\nx\0y\n\n"), "{stored:?}");
    let reply = c.ok("FETCH 2 (RFC822.SIZE BODY[TEXT])");
    assert!(
        // The harness reads lines lossily: 0x80 shows as U+FFFD.
        reply.untagged[0].contains("RFC822.SIZE 13 BODY[TEXT] {5}\r\nx\u{fffd}y\r\n"),
        "{reply:?}"
    );
    c.logout();
}

/// EXPUNGE numbering (RFC 3501 §7.4.1), and CLOSE's silent expunge.
#[test]
fn expunge_numbers_and_close_is_silent() {
    let msgs: Vec<_> = (0..10).map(|i| message(&format!("e{i}"), i)).collect();
    let dir = Dir::with_inbox(&mbox_of(&msgs));
    let mut c = Client::start(&dir, "a");
    c.select("INBOX");
    c.ok("STORE 2:3,7,10 +FLAGS.SILENT (\\Deleted)");
    let reply = c.ok("EXPUNGE");
    // Old 2, 3, 7, 10 → 2, 2, 5, 7 (each relative to the previous removal).
    assert_eq!(reply.numbers("EXPUNGE"), [2, 2, 5, 7]);
    assert_eq!(c.exists(), 6);
    c.ok("UID STORE 1:* +FLAGS.SILENT (\\Deleted)");
    c.ok("UID STORE 5 -FLAGS.SILENT (\\Deleted)");
    let reply = c.ok("UID EXPUNGE 1,9");
    assert_eq!(reply.numbers("EXPUNGE"), [1, 5]);
    let reply = c.ok("CLOSE");
    assert!(
        reply.untagged.iter().all(|l| !l.contains("EXPUNGE")),
        "{reply:?}"
    );
    let reply = c.command("FETCH 1 FLAGS");
    assert_eq!(reply.status(), "BAD");
    c.select("INBOX");
    assert_eq!(c.exists(), 1);
    let ids = c.message_ids();
    assert_eq!(ids.values().collect::<Vec<_>>(), ["e4"]);
    c.logout();
}

/// Read-only sessions change nothing, and the file stays byte-identical.
#[test]
fn examine_writes_nothing() {
    let msgs: Vec<_> = (0..3).map(|i| message(&format!("r{i}"), i)).collect();
    let original = mbox_of(&msgs);
    let dir = Dir::with_inbox(&original);
    let mut c = Client::start(&dir, "a");
    let reply = c.ok("EXAMINE INBOX");
    assert!(reply.tagged.contains("[READ-ONLY]"), "{reply:?}");
    assert!(reply.has("[PERMANENTFLAGS ()]"), "{reply:?}");
    let reply = c.ok("FETCH 1 (BODY[] FLAGS)");
    assert!(!reply.untagged[0].contains("\\Seen"), "{reply:?}");
    assert_eq!(c.command("STORE 1 +FLAGS (\\Seen)").code(), ["READ-ONLY"]);
    assert_eq!(c.command("EXPUNGE").code(), ["READ-ONLY"]);
    c.ok("NOOP");
    c.ok("CHECK");
    c.ok("CLOSE");
    c.logout();
    assert_eq!(std::fs::read(&dir.inbox).unwrap(), original);
}

/// RENAME INBOX while INBOX is selected (as UW imapd and Dovecot do it): every
/// message, with the flags and keywords this session set (still pending in
/// memory), moves to the new mailbox; mail delivered since the client last
/// looked is announced (EXISTS) and moved too; the session sees each
/// message expunged and INBOX stays selected and empty; another session of
/// ours sees the expunges at its next NOOP; new mail lands in INBOX again.
#[test]
fn rename_of_selected_inbox_moves_everything_and_reports_the_expunges() {
    if !require("python3", &["--version"], "the RENAME INBOX file check") {
        return;
    }
    let msgs: Vec<_> = (0..5).map(|i| message(&format!("n{i}"), i)).collect();
    let dir = Dir::with_inbox(&mbox_of(&msgs));
    let mut a = Client::start(&dir, "a");
    let mut b = Client::start(&dir, "b");
    a.select("INBOX");
    b.select("INBOX");
    a.ok("STORE 2 +FLAGS.SILENT (\\Flagged Work)");
    a.ok("STORE 3 +FLAGS.SILENT (\\Deleted)");
    let late = message("n5", 5);
    deliver_externally(&dir.inbox, std::slice::from_ref(&late));

    let reply = a.ok("RENAME INBOX Saved/Old-INBOX");
    assert!(reply.tagged.ends_with(" OK RENAME completed"), "{reply:?}");
    let exists_at = reply.untagged.iter().position(|l| l == "* 6 EXISTS");
    let first_expunge = reply.untagged.iter().position(|l| l.ends_with(" EXPUNGE"));
    assert!(
        exists_at.is_some() && exists_at < first_expunge,
        "the delivery is announced before the expunges: {reply:?}"
    );
    assert_eq!(reply.numbers("EXPUNGE"), [1; 6], "{reply:?}");
    assert_eq!(a.exists(), 0);
    assert_eq!(a.command("FETCH 1 FLAGS").status(), "BAD");

    let reply = b.ok("NOOP");
    assert_eq!(reply.numbers("EXPUNGE").len(), 5, "{reply:?}");
    assert_eq!(b.exists(), 0);
    b.logout();

    let saved = dir.mail.join("Saved").join("Old-INBOX");
    let mut expect = Expect::default();
    for m in msgs.iter().chain([&late]) {
        expect.present(m);
    }
    expect.flags.insert("n1".into(), "F".into());
    expect.keywords.insert("n1".into(), vec!["Work".into()]);
    expect.flags.insert("n2".into(), "D".into());
    check_mbox(&saved, &expect);
    check_mbox(&dir.inbox, &Expect::default());

    // INBOX goes on: its UIDs are not handed out again, and new mail arrives.
    let reply = a.ok("STATUS Saved/Old-INBOX (MESSAGES)");
    assert!(reply.has("(MESSAGES 6)"), "{reply:?}");
    deliver_externally(&dir.inbox, &[message("n6", 6)]);
    let reply = a.ok("NOOP");
    assert_eq!(reply.numbers("EXISTS"), [1], "{reply:?}");
    let reply = a.ok("FETCH 1 (UID)");
    assert_eq!(
        reply.untagged.first().and_then(|l| uid_in(l)),
        Some(7),
        "{reply:?}"
    );
    let again = a.command("RENAME INBOX Saved/Old-INBOX");
    assert!(again.tagged.contains(" NO [ALREADYEXISTS] "), "{again:?}");
    assert_eq!(a.exists(), 1);
    a.logout();
}

/// A selected INBOX larger than one copy batch (16 MB) is renamed in
/// batches: every message arrives once, in order, with its flags, and the
/// session sees every one expunged.
#[test]
fn rename_of_a_large_selected_inbox_copies_in_batches() {
    let line = format!("{}\n", "x".repeat(76));
    let mut mbox = Vec::new();
    for i in 0..30 {
        mbox.extend_from_slice(
            format!(
                "From big{i}@example.org Thu Nov 26 10:00:00 2026\n\
                 Subject: big {i}\nMessage-ID: <big{i}@write-tests>\n\n{}\n",
                line.repeat(12_000)
            )
            .as_bytes(),
        );
    }
    assert!(mbox.len() > 25 * 1024 * 1024);
    let dir = Dir::with_inbox(&mbox);
    let mut a = Client::start(&dir, "a");
    a.select("INBOX");
    a.ok("STORE 30 +FLAGS.SILENT (\\Answered)");
    let reply = a.ok("RENAME INBOX Big");
    assert_eq!(reply.numbers("EXPUNGE"), [1; 30]);
    assert_eq!(a.exists(), 0);
    let log = std::fs::read_to_string(dir.log_path("a")).unwrap();
    assert!(
        log.contains("moved to") && log.contains(" in 2 batches"),
        "{log}"
    );
    a.select("Big");
    let ids = a.message_ids();
    let want: Vec<String> = (0..30).map(|i| format!("big{i}")).collect();
    assert_eq!(ids.values().cloned().collect::<Vec<_>>(), want);
    let reply = a.ok("FETCH 29:30 FLAGS");
    assert!(reply.untagged[1].contains("\\Answered"), "{reply:?}");
    assert!(!reply.untagged[0].contains("\\Answered"), "{reply:?}");
    a.logout();
}
