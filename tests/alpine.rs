//! Real alpine against the built server, driven on a tmux terminal.
//! Alpine's c-client reaches the server the way it reaches UW imapd over
//! ssh: `ssh-path` names the recording tunnel script, which c-client runs as
//! `<ssh-path> localhost -l tester exec /etc/rimapd` and which answers with
//! PREAUTH.
//!
//! - `alpine_sorts_and_threads_on_the_server`: for each sort key (Thread,
//!   OrderedSubj, Subject, Date) alpine must ask the server (THREAD
//!   REFERENCES, THREAD ORDEREDSUBJECT, SORT (SUBJECT), SORT (DATE)), show
//!   the first screen of a 61-message INBOX in the order the RFC 5256
//!   algorithms give for this fixture, and fetch the envelopes of the
//!   messages on that screen (and a few beyond at most), not of all 61.
//! - `alpine_reads_flags_deletes_saves_and_changes_folders`: read a message,
//!   flag one Important, delete and expunge one, save one to another folder,
//!   go to that folder, quit; the mbox files must then hold exactly the
//!   expected messages with their flags, and every command must have got OK.
//!
//! Needs `alpine` and `tmux`. Without them each test fails when CI=true and
//! is skipped with a notice otherwise.

mod screen;

use std::collections::BTreeSet;
use std::fs;

use screen::{Home, Terminal, assert_mbox, column, content, header, read_messages};

fn pinerc(home: &Home, sort_key: &str) -> String {
    format!(
        "personal-name=Test User\n\
         user-domain=example.org\n\
         inbox-path={{localhost/user=tester}}INBOX\n\
         folder-collections=\"Mail\" {{localhost/user=tester}}[]\n\
         ssh-path={}\n\
         ssh-open-timeout=10\n\
         rsh-open-timeout=0\n\
         sort-key={sort_key}\n\
         incoming-startup-rule=first\n\
         last-version-used=6.26\n\
         feature-list=quit-without-confirm,expunge-without-confirm\n",
        home.tunnel().display()
    )
}

/// Starts alpine on INBOX's index (past the one-time greeting, should this
/// alpine show it) and returns the first index screen.
fn start(home: &Home, sort_key: &str) -> (Terminal, String) {
    fs::write(home.root().join("pinerc"), pinerc(home, sort_key)).unwrap();
    let term = Terminal::start(home, "alpine -p pinerc -i");
    let first = term.wait_until("the index or the greeting", |s| {
        s.contains("MESSAGE INDEX") || s.contains("GREETING TEXT")
    });
    if first.contains("GREETING TEXT") {
        term.keys(&["E"]);
    }
    let index = term.wait_until("the index with its messages", |s| {
        s.contains("MESSAGE INDEX") && s.contains("opened with")
    });
    (term, index)
}

// ---- The 61-message INBOX -------------------------------------------------

/// Twelve topics, five messages each (a root and a chain of four replies),
/// arriving round by round: message number (and From name "Mnn") of reply
/// `r` of topic `t` is r*12 + t + 1. Sent dates (hours after 1 Nov) are
/// r*12 + ROOT_RANK[t], so neither arrival, name nor date order agree. One
/// more message, 61 (the latest), is "Re: Topic orange" but references the
/// mango root: REFERENCES files it under mango, ORDEREDSUBJECT under orange.
const TOPICS: [&str; 12] = [
    "kiwi", "apple", "mango", "cherry", "lemon", "banana", "fig", "orange", "date", "grape",
    "pear", "quince",
];
const ROOT_RANK: [usize; 12] = [5, 9, 0, 7, 2, 11, 4, 1, 10, 3, 8, 6];
const MANGO: usize = 2;
const ORANGE: usize = 7;
const EXTRA: usize = 61;

fn number(t: usize, r: usize) -> usize {
    r * 12 + t + 1
}
fn hours(t: usize, r: usize) -> usize {
    r * 12 + ROOT_RANK[t]
}

fn topic_mbox() -> Vec<u8> {
    let mut all: Vec<(usize, String)> = Vec::new();
    let message = |n: usize, h: usize, subject: &str, id: String, parent: Option<String>| {
        let (day, hour) = (1 + h / 24, h % 24);
        let mut m = format!(
            "From m{n:02}@example.org Mon Nov 30 10:{:02}:00 2026\n\
             From: M{n:02} <m{n:02}@example.org>\n\
             To: user@example.org\n\
             Subject: {subject}\n\
             Date: {day} Nov 2026 {hour:02}:00:00 +0000\n\
             Message-ID: {id}\n",
            n % 60
        );
        if let Some(p) = parent {
            m.push_str(&format!("In-Reply-To: {p}\nReferences: {p}\n"));
        }
        m.push_str(&format!("\nMessage {n}.\n\n"));
        m
    };
    let id = |t: usize, r: usize| format!("<t{t}r{r}@fruit.test>");
    for (t, name) in TOPICS.iter().enumerate() {
        for r in 0..5 {
            let subject = format!("{}Topic {name}", if r == 0 { "" } else { "Re: " });
            let parent = (r > 0).then(|| id(t, r - 1));
            all.push((
                number(t, r),
                message(number(t, r), hours(t, r), &subject, id(t, r), parent),
            ));
        }
    }
    let subject = format!("Re: Topic {}", TOPICS[ORANGE]);
    all.push((
        EXTRA,
        message(
            EXTRA,
            70,
            &subject,
            "<x@fruit.test>".into(),
            Some(id(MANGO, 0)),
        ),
    ));
    all.sort();
    all.into_iter()
        .map(|(_, m)| m)
        .collect::<String>()
        .into_bytes()
}

/// Topics in the order of their roots' dates (both THREAD algorithms order
/// threads by the date of their first message).
fn topics_by_root_date() -> Vec<usize> {
    let mut t: Vec<usize> = (0..12).collect();
    t.sort_by_key(|&t| ROOT_RANK[t]);
    t
}

/// The display order alpine must show for `sort_key`.
fn expected_order(sort_key: &str) -> Vec<usize> {
    let chain = |t: usize| (0..5).map(move |r| number(t, r));
    match sort_key {
        // Message 61 is the mango root's second child (later than reply 1),
        // so it follows the mango chain.
        "Thread" => topics_by_root_date()
            .into_iter()
            .flat_map(|t| chain(t).chain((t == MANGO).then_some(EXTRA)))
            .collect(),
        // 61 joins the orange subject group, as its latest message.
        "OrderedSubj" => topics_by_root_date()
            .into_iter()
            .flat_map(|t| chain(t).chain((t == ORANGE).then_some(EXTRA)))
            .collect(),
        "Subject" => {
            let mut all: Vec<(&str, usize)> = (0..12)
                .flat_map(|t| chain(t).map(move |n| (TOPICS[t], n)))
                .chain([(TOPICS[ORANGE], EXTRA)])
                .collect();
            all.sort();
            all.into_iter().map(|(_, n)| n).collect()
        }
        "Date" => {
            let mut all: Vec<(usize, usize)> = (0..12)
                .flat_map(|t| (0..5).map(move |r| (hours(t, r), number(t, r))))
                .chain([(70, EXTRA)])
                .collect();
            all.sort();
            all.into_iter().map(|(_, n)| n).collect()
        }
        other => panic!("no model for {other}"),
    }
}

/// The message numbers of a sequence set ("1:3,7").
fn expand(set: &str) -> Vec<usize> {
    set.split(',')
        .flat_map(|part| {
            let (a, b) = part.split_once(':').unwrap_or((part, part));
            let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
            a.min(b)..=a.max(b)
        })
        .collect()
}

#[test]
fn alpine_sorts_and_threads_on_the_server() {
    if !screen::available("alpine", "alpine") || !screen::available("tmux", "tmux") {
        return;
    }
    for (sort_key, command) in [
        ("Thread", "THREAD REFERENCES US-ASCII ALL"),
        ("OrderedSubj", "THREAD ORDEREDSUBJECT US-ASCII ALL"),
        ("Subject", "SORT (SUBJECT) US-ASCII ALL"),
        ("Date", "SORT (DATE) US-ASCII ALL"),
    ] {
        let home = Home::new(&topic_mbox());
        let (term, index) = start(&home, sort_key);
        let shown: Vec<usize> = column(&index, |w| {
            w.len() == 3 && w.starts_with('M') && w[1..].bytes().all(|b| b.is_ascii_digit())
        })
        .iter()
        .map(|w| w[1..].parse().unwrap())
        .collect();
        assert!(shown.len() >= 20, "{sort_key}: only {shown:?} on\n{index}");
        let expected = expected_order(sort_key);
        assert_eq!(shown, expected[..shown.len()], "{sort_key}:\n{index}");
        term.keys(&["q"]);
        assert_eq!(term.wait_exit(), 0, "{sort_key}: alpine's exit status");

        home.assert_sent(command);
        // The envelopes fetched are those of the screen's messages (and at
        // most a few beyond, for the thread lines): the server sorted,
        // alpine did not fetch all 61 to sort them itself.
        let fetched: BTreeSet<usize> = home
            .commands()
            .iter()
            .filter(|c| c.contains("ENVELOPE"))
            .flat_map(|c| expand(c.split(' ').nth(2).unwrap_or("")))
            .collect();
        let on_screen: BTreeSet<usize> = shown.iter().copied().collect();
        assert!(
            fetched.is_superset(&on_screen) && fetched.len() <= on_screen.len() + 3,
            "{sort_key}: envelopes fetched {fetched:?}, on screen {on_screen:?}"
        );
        home.assert_all_ok(&[]);
        // Reading never changed a message.
        let before = screen::messages(&topic_mbox());
        let after = read_messages(&home.inbox());
        assert_eq!(after.len(), before.len());
        for (a, b) in after.iter().zip(&before) {
            assert_eq!(screen::without_metadata(a), *b, "{sort_key}");
        }
    }
}

#[test]
fn alpine_reads_flags_deletes_saves_and_changes_folders() {
    if !screen::available("alpine", "alpine") || !screen::available("tmux", "tmux") {
        return;
    }
    let original = screen::small_inbox();
    let home = Home::new(&original.concat());
    fs::write(home.mail().join("Archive"), screen::archive_message()).unwrap();
    let (term, index) = start(&home, "Thread");
    let names = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank"];
    let from = |s: &str| column(s, |w| names.contains(&w));
    // THREAD REFERENCES's order: (1 3 6)(2 5)(4).
    assert_eq!(
        from(&index),
        ["Alice", "Carol", "Frank", "Bob", "Erin", "Dave"],
        "{index}"
    );

    // Read Carol's message (line 2).
    let text = term.step(&["Down", "Enter"], "Body line of message 3 from carol.");
    assert!(
        text.contains("MESSAGE TEXT") && text.contains(">From a quoted line."),
        "{text}"
    );
    term.step(&["I"], "MESSAGE INDEX");
    // Flag it Important (\Flagged).
    term.step(&["*", "*"], "[Flagged message 2 \"Important\"]");
    // Delete Bob (line 4) and expunge.
    term.step(&["Down", "Down", "D"], "[Message 4 marked for deletion]");
    let expunged = term.step(&["X"], "[1 message expunged from folder \"INBOX\"]");
    // Erin's parent is gone: she heads her own thread, dated after Dave.
    assert_eq!(
        from(&expunged),
        ["Alice", "Carol", "Frank", "Dave", "Erin"],
        "{expunged}"
    );
    let inbox = [1, 3, 4, 5, 6].map(|n| &original[n - 1][..]);
    assert_mbox(&home.inbox(), &inbox);

    // Save Carol to Archive (a COPY; alpine then marks her deleted).
    term.step(&["Up", "Up", "Up"], "Message 2 of 5");
    term.keys(&["S", "C-u"]);
    term.type_text("Archive");
    term.keys(&["Enter"]);
    // (The screen's message about it may be overwritten by "[Saving DONE]".)
    term.wait_until("Carol saved to Archive", |s| {
        s.contains("Message 2 of 5 DEL")
            && fs::read(home.mail().join("Archive"))
                .is_ok_and(|a| String::from_utf8_lossy(&a).contains("<a2@example.org>"))
    });
    // Go to Archive: old news and Carol, still flagged.
    term.keys(&["G", "C-u"]);
    term.type_text("Archive");
    let archive = term.step(&["Enter"], "[Folder \"Archive\" opened with 2 messages");
    assert!(
        archive.contains("old news") && archive.contains("Re: Apple pie recipe"),
        "{archive}"
    );
    // Quitting expunges INBOX (expunge-without-confirm): Carol leaves it.
    term.keys(&["q"]);
    assert_eq!(term.wait_exit(), 0, "alpine's exit status");

    let inbox = [1, 4, 5, 6].map(|n| &original[n - 1][..]);
    assert_mbox(&home.inbox(), &inbox);
    let archive = read_messages(&home.mail().join("Archive"));
    assert_eq!(archive.len(), 2);
    assert_eq!(content(&archive[0]), content(&screen::archive_message()));
    assert_eq!(content(&archive[1]), content(&original[2]));
    // Carol was read (Status R) and flagged (X-Status F); COPY kept both.
    let status = header(&archive[1], "Status").unwrap_or_default();
    let x_status = header(&archive[1], "X-Status").unwrap_or_default();
    assert!(
        status.contains('R') && x_status.contains('F'),
        "{status:?} {x_status:?}"
    );

    for line in [
        "SELECT INBOX",
        "THREAD REFERENCES US-ASCII ALL",
        "FETCH 3 BODY[1]",
        "STORE 3 +Flags (\\FLAGGED)",
        "STORE 2 +Flags (\\DELETED)",
        "EXPUNGE",
        "COPY 2 Archive",
        "SELECT Archive",
        "LOGOUT",
    ] {
        home.assert_sent(line);
    }
    home.assert_all_ok(&[]);
}
