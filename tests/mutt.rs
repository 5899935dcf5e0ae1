//! Real mutt against the built server through its `tunnel` option (as a
//! user runs it over ssh), driven on a tmux terminal: open INBOX, read a
//! message, flag one, delete one and sync, save one to another folder, copy
//! one into a folder that does not exist yet (NONEXISTENT and TRYCREATE,
//! then CREATE), change folders by name and through the folder browser,
//! quit. Afterwards the mbox files on disk must hold exactly the expected
//! messages, byte for byte but for the UW metadata headers, with the flags
//! in Status/X-Status; the recorded traffic must show the commands mutt
//! sent, each answered OK.
//!
//! Needs `mutt` and `tmux`. Without them the test fails when CI=true and is
//! skipped with a notice otherwise.

mod screen;

use std::fs;

use screen::{Home, Terminal, assert_mbox, column, content, header, read_messages};

const NAMES: [&str; 6] = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank"];

fn muttrc(home: &Home) -> String {
    format!(
        "set tunnel=\"{}\"\n\
         set folder=\"imap://server/\"\n\
         set spoolfile=\"+INBOX\"\n\
         set imap_check_subscribed=yes\n\
         set sort=threads\n\
         set index_format=\"%4C %Z %-10.10L %s\"\n\
         set record=\"\" postponed=\"\" header_cache=\"\" message_cachedir=\"\"\n\
         set delete=yes move=no mark_old=no quit=yes wait_key=no beep=no\n\
         set confirmappend=no confirmcreate=no\n\
         set sendmail=/bin/false\n",
        home.tunnel().display()
    )
}

/// Message `n` (1-based, arrival order) of the fixture.
fn original(n: usize) -> Vec<u8> {
    screen::small_inbox()[n - 1].clone()
}

#[test]
fn mutt_reads_flags_deletes_saves_copies_and_changes_folders() {
    if !screen::available("mutt", "mutt") || !screen::available("tmux", "tmux") {
        return;
    }
    let home = Home::new(&screen::small_inbox().concat());
    fs::write(home.mail().join("Archive"), screen::archive_message()).unwrap();
    fs::create_dir(home.mail().join("Lists")).unwrap();
    fs::write(home.mail().join("Lists/rust"), screen::archive_message()).unwrap();
    fs::write(home.root().join("muttrc"), muttrc(&home)).unwrap();
    let term = Terminal::start(&home, "mutt -n -F muttrc");

    // The index, threaded by mutt itself from the References it fetched.
    let index = term.wait_for("Msgs:6");
    let from = |s: &str| column(s, |w| NAMES.contains(&w));
    assert_eq!(
        from(&index),
        ["Alice", "Carol", "Frank", "Bob", "Erin", "Dave"],
        "{index}"
    );

    // Read Bob's message (index line 4): its body on the pager's screen.
    let pager = term.step(&["4", "Enter", "Enter"], "Body line of message 2 from bob.");
    assert!(pager.contains("Subject: Zebra crossing"), "{pager}");
    assert!(pager.contains(">From a quoted line."), "{pager}");
    term.step(&["i"], "New:5");

    // Flag Alice (line 1), delete Carol (line 2), sync.
    term.step(&["1", "Enter", "F"], "Flag:1");
    term.step(&["2", "Enter", "d"], "Del:1");
    let synced = term.step(&["$"], "Msgs:5");
    assert_eq!(
        from(&synced),
        ["Alice", "Frank", "Bob", "Erin", "Dave"],
        "{synced}"
    );
    // On disk: Carol gone, every other message intact, the flags in UW's
    // headers (Bob read: Status R; Alice flagged: X-Status F).
    let inbox = [
        original(1),
        original(2),
        original(4),
        original(5),
        original(6),
    ];
    assert_mbox(
        &home.inbox(),
        &inbox.iter().map(|m| &m[..]).collect::<Vec<_>>(),
    );
    let on_disk = read_messages(&home.inbox());
    let flags = |m: &[u8]| {
        (
            header(m, "Status").unwrap_or_default(),
            header(m, "X-Status").unwrap_or_default(),
        )
    };
    assert!(
        flags(&on_disk[0]).1.contains('F'),
        "Alice: {:?}",
        flags(&on_disk[0])
    );
    assert!(
        flags(&on_disk[1]).0.contains('R'),
        "Bob: {:?}",
        flags(&on_disk[1])
    );
    for m in &on_disk[2..] {
        assert!(
            !flags(m).0.contains('R') && !flags(m).1.contains('F'),
            "{:?}",
            flags(m)
        );
    }

    // Save Dave (line 5) to =Archive: a COPY, then mutt marks it deleted.
    term.keys(&["5", "Enter", "s", "C-u"]);
    term.type_text("=Archive");
    term.step(&["Enter"], "Del:1");
    // Copy Erin (line 4) to =Saved, which does not exist: mutt asks STATUS
    // (NO [NONEXISTENT]), tries the COPY (NO [TRYCREATE]), creates the
    // folder and copies again.
    term.keys(&["4", "Enter", "C", "C-u"]);
    term.type_text("=Saved");
    term.keys(&["Enter"]);
    term.wait_until("the copy to =Saved", |_| home.mail().join("Saved").exists());

    // Change to =Archive: INBOX is closed (expunging Dave) and Archive opened.
    term.keys(&["c", "C-u"]);
    term.type_text("=Archive");
    let archive = term.step(&["Enter"], "=Archive [Msgs:2");
    assert!(
        archive.contains("old news") && archive.contains("Mango season"),
        "{archive}"
    );
    // And through the folder browser (LIST "" "%" RETURN (CHILDREN)): down
    // into Lists/ (entry 3 of Archive, INBOX, Lists/, Saved) and open rust
    // (entry 2, after ../).
    term.keys(&["c"]);
    let top = term.step(&["?"], "Directory [imap://server/]");
    let entries = column(&top, |w| {
        ["Archive", "INBOX", "Lists/", "Saved"].contains(&w)
    });
    assert_eq!(entries, ["Archive", "INBOX", "Lists/", "Saved"], "{top}");
    let lists = term.step(&["3", "Enter", "Enter"], "Directory [=Lists/]");
    assert!(lists.contains("rust"), "{lists}");
    let rust = term.step(&["2", "Enter", "Enter"], "=Lists/rust [Msgs:1");
    assert!(rust.contains("old news"), "{rust}");
    term.keys(&["q"]);
    assert_eq!(term.wait_exit(), 0, "mutt's exit status");

    let inbox = [original(1), original(2), original(5), original(6)];
    assert_mbox(
        &home.inbox(),
        &inbox.iter().map(|m| &m[..]).collect::<Vec<_>>(),
    );
    let archive = read_messages(&home.mail().join("Archive"));
    assert_eq!(archive.len(), 2);
    assert_eq!(content(&archive[0]), content(&screen::archive_message()));
    assert_eq!(content(&archive[1]), content(&original(4)));
    let saved = read_messages(&home.mail().join("Saved"));
    assert_eq!(saved.len(), 1);
    assert_eq!(content(&saved[0]), content(&original(5)));

    // What mutt said (UIDs are the fixture's arrival numbers).
    for line in [
        "SELECT \"INBOX\"",
        "UID FETCH 2 BODY.PEEK[]",
        "UID STORE 1 +FLAGS.SILENT (\\Flagged)",
        "UID STORE 3 +FLAGS.SILENT (\\Deleted)",
        "EXPUNGE",
        "UID COPY 4 \"Archive\"",
        "UID STORE 4 +FLAGS.SILENT (\\Deleted)",
        "CREATE \"Saved\"",
        "UID COPY 5 \"Saved\"",
        "CLOSE",
        "SELECT \"Archive\"",
        "LIST \"\" \"%\" RETURN (CHILDREN)",
        "LIST \"\" \"Lists/%\" RETURN (CHILDREN)",
        "SELECT \"Lists/rust\"",
        "LOGOUT",
    ] {
        home.assert_sent(line);
    }
    home.assert_all_ok(&[
        ("STATUS \"Saved\" (UIDVALIDITY)", "NO [NONEXISTENT]"),
        ("UID COPY 5 \"Saved\"", "NO [TRYCREATE]"),
    ]);
}
