//! The folder commands end to end: the built binary, started as mbsync or an
//! ssh tunnel starts it (`--preauth`), over pipes, on a temporary tree.
//! Covers LIST, LSUB, NAMESPACE, CREATE, DELETE, RENAME (and RENAME INBOX),
//! SUBSCRIBE, UNSUBSCRIBE and STATUS, non-ASCII names, UW's
//! `~/.mailboxlist`, UIDVALIDITY across DELETE + CREATE, and each way a name
//! could reach outside the mail directory (one test each). Every response is
//! also parsed by imap-codec.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use imap_codec::decode::Decoder;
use imap_codec::{GreetingCodec, ResponseCodec};

const BIN: &str = env!("CARGO_BIN_EXE_mbox-imapd");
const MESSAGE: &[u8] =
    b"From a@example.org Wed Dec  2 05:53:22 1992\nSubject: hi\nStatus: RO\n\nbody\n\n";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/mbox")
        .join(name)
}

/// A user's files in a temporary directory: `inbox`, `mail/`, and the
/// directory itself as the home (for `.mailboxlist`).
struct Account {
    dir: tempfile::TempDir,
}

/// What one session printed.
struct Transcript {
    out: String,
    log: String,
}

impl Account {
    fn new() -> Account {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("mail")).unwrap();
        fs::write(dir.path().join("inbox"), MESSAGE).unwrap();
        // Read after the last change: \Unmarked unless a test says otherwise.
        set_times(&dir.path().join("inbox"), 1_700_000_000, 1_700_000_000);
        Account { dir }
    }

    fn home(&self) -> &Path {
        self.dir.path()
    }

    fn inbox(&self) -> PathBuf {
        self.dir.path().join("inbox")
    }

    fn mail(&self, name: &str) -> PathBuf {
        self.dir.path().join("mail").join(name)
    }

    fn mailbox(&self, name: &str, bytes: &[u8]) {
        let path = self.mail(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, bytes).unwrap();
        set_times(&path, 1_700_000_000, 1_700_000_000);
    }

    /// Runs one session: `input` lines (LF becomes CRLF), then end of input.
    fn session(&self, input: &str) -> Transcript {
        self.session_bytes(input.as_bytes())
    }

    fn session_bytes(&self, input: &[u8]) -> Transcript {
        let mut child = Command::new(BIN)
            .arg("--preauth")
            .arg("--inbox")
            .arg(self.inbox())
            .arg("--mail-dir")
            .arg(self.dir.path().join("mail"))
            .arg("--home")
            .arg(self.home())
            .args(["--log", "stderr"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut wire = Vec::new();
        for line in input.split_inclusive(|&b| b == b'\n') {
            match line.strip_suffix(b"\n") {
                Some(l) => {
                    wire.extend_from_slice(l);
                    wire.extend_from_slice(b"\r\n");
                }
                None => wire.extend_from_slice(line),
            }
        }
        child.stdin.take().unwrap().write_all(&wire).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "exit status {:?}", output.status);
        let out = String::from_utf8(output.stdout).unwrap();
        let all = responses(&out);
        let (greeting, rest) = all.split_first().expect("a greeting");
        if let Err(e) = GreetingCodec::default().decode(greeting.as_bytes()) {
            panic!("imap-codec rejects the greeting {greeting:?}: {e:?}");
        }
        for response in rest {
            // imap-codec 1.0 knows neither RFC 8438's STATUS SIZE nor RFC
            // 2342's NAMESPACE response.
            let unknown = (response.starts_with("* STATUS") && response.contains("SIZE"))
                || response.starts_with("* NAMESPACE ");
            if unknown {
                continue;
            }
            if let Err(e) = ResponseCodec::default().decode(response.as_bytes()) {
                panic!("imap-codec rejects {response:?}: {e:?}");
            }
        }
        Transcript {
            out,
            log: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Transcript {
    /// The tagged completion of `tag`.
    fn tagged(&self, tag: &str) -> &str {
        let prefix = format!("{tag} ");
        self.out
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {tag} in {}", self.out))
    }

    /// The untagged lines sent for `tag` (after the previous completion).
    fn untagged(&self, tag: &str) -> Vec<&str> {
        let prefix = format!("{tag} ");
        let mut lines = Vec::new();
        for line in self.out.lines().skip(1) {
            if line.starts_with(&prefix) {
                return lines;
            }
            if line.starts_with("* ") {
                lines.push(line);
            } else {
                lines.clear();
            }
        }
        panic!("no {tag} in {}", self.out)
    }

    /// The untagged lines and the completion of `tag`, as one string.
    fn answer(&self, tag: &str) -> String {
        let mut lines = self.untagged(tag);
        lines.push(self.tagged(tag));
        lines.join("\n")
    }
}

/// The server's output cut into whole responses (a line, plus the literal
/// and continuation when it ends in `{n}`).
fn responses(out: &str) -> Vec<String> {
    let bytes = out.as_bytes();
    let mut list = Vec::new();
    let mut start = 0;
    let mut at = 0;
    while let Some(lf) = bytes[at..].windows(2).position(|w| w == b"\r\n") {
        let end = at + lf + 2;
        let line = &out[at..end - 2];
        let literal = line
            .rfind('{')
            .filter(|_| line.ends_with('}'))
            .and_then(|open| line[open + 1..line.len() - 1].parse::<usize>().ok());
        if let Some(n) = literal {
            at = end + n;
            continue;
        }
        list.push(out[start..end].to_owned());
        start = end;
        at = end;
    }
    list
}

/// Sets a file's access and modification times.
fn set_times(path: &Path, accessed: u64, modified: u64) {
    let t = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
    let times = fs::FileTimes::new()
        .set_accessed(t(accessed))
        .set_modified(t(modified));
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_times(times)
        .unwrap();
}

/// The tree most tests list.
fn sample() -> Account {
    let a = Account::new();
    a.mailbox("Archive", MESSAGE);
    set_times(&a.mail("Archive"), 1_700_000_000, 1_700_000_100); // new mail: \Marked
    a.mailbox("Drafts", b"");
    a.mailbox("Work/2024", MESSAGE);
    fs::create_dir(a.mail("Work/Old")).unwrap();
    a.mailbox("Lists/rust", MESSAGE);
    a.mailbox("&ZeVnLIqe-", MESSAGE);
    // Not mailboxes: never listed.
    a.mailbox(".hidden", MESSAGE);
    a.mailbox("Gone.lock", b"4242 otherhost\n");
    a.mailbox("notes.txt", b"remember the milk\n");
    a.mailbox("binary", b"\x7fELF\x02\x01\x01\0\0\0\0");
    std::os::unix::net::UnixListener::bind(a.mail("socket")).unwrap();
    a
}

#[test]
fn list_shows_the_tree_with_children_and_marks() {
    let a = sample();
    let t = a.session(
        "a LIST \"\" \"*\"\nb LIST \"\" %\nc LIST Work/ %\nd LIST \"\" \"\"\ne LIST \"\" inbox\n\
         f LIST \"\" Work\ng LIST \"\" Work/%\nh LIST \"\" nothing*\ni LIST \"\" notes.txt\n",
    );
    assert_eq!(
        t.answer("a"),
        "* LIST (\\NoInferiors \\HasNoChildren \\Unmarked) \"/\" INBOX\n\
         * LIST (\\HasNoChildren \\Unmarked) \"/\" &ZeVnLIqe-\n\
         * LIST (\\HasNoChildren \\Marked \\Archive) \"/\" Archive\n\
         * LIST (\\HasNoChildren \\Unmarked \\Drafts) \"/\" Drafts\n\
         * LIST (\\Noselect \\HasChildren) \"/\" Lists\n\
         * LIST (\\HasNoChildren \\Unmarked) \"/\" Lists/rust\n\
         * LIST (\\Noselect \\HasChildren) \"/\" Work\n\
         * LIST (\\HasNoChildren \\Unmarked) \"/\" Work/2024\n\
         * LIST (\\Noselect \\HasNoChildren) \"/\" Work/Old\n\
         a OK LIST completed"
    );
    assert_eq!(
        t.answer("b"),
        "* LIST (\\NoInferiors \\HasNoChildren \\Unmarked) \"/\" INBOX\n\
         * LIST (\\HasNoChildren \\Unmarked) \"/\" &ZeVnLIqe-\n\
         * LIST (\\HasNoChildren \\Marked \\Archive) \"/\" Archive\n\
         * LIST (\\HasNoChildren \\Unmarked \\Drafts) \"/\" Drafts\n\
         * LIST (\\Noselect \\HasChildren) \"/\" Lists\n\
         * LIST (\\Noselect \\HasChildren) \"/\" Work\n\
         b OK LIST completed"
    );
    let work = "* LIST (\\HasNoChildren \\Unmarked) \"/\" Work/2024\n\
                * LIST (\\Noselect \\HasNoChildren) \"/\" Work/Old\n";
    assert_eq!(t.answer("c"), format!("{work}c OK LIST completed"));
    assert_eq!(t.answer("g"), format!("{work}g OK LIST completed"));
    assert_eq!(
        t.answer("d"),
        "* LIST (\\Noselect) \"/\" \"\"\nd OK LIST completed"
    );
    assert_eq!(
        t.answer("e"),
        "* LIST (\\NoInferiors \\HasNoChildren \\Unmarked) \"/\" INBOX\ne OK LIST completed"
    );
    assert_eq!(
        t.answer("f"),
        "* LIST (\\Noselect \\HasChildren) \"/\" Work\nf OK LIST completed"
    );
    assert_eq!(t.answer("h"), "h OK LIST completed");
    assert_eq!(t.answer("i"), "i OK LIST completed");
    // Listing read the files' first lines but left Archive \Marked.
    let t = a.session("a LIST \"\" Archive\n");
    assert!(
        t.out
            .contains("(\\HasNoChildren \\Marked \\Archive) \"/\" Archive"),
        "{}",
        t.out
    );
}

#[test]
fn namespace_and_capabilities() {
    let a = Account::new();
    let t = a.session("a NAMESPACE\nb CAPABILITY\n");
    assert_eq!(
        t.answer("a"),
        "* NAMESPACE ((\"\" \"/\")) NIL NIL\na OK NAMESPACE completed"
    );
    let caps = t.untagged("b")[0];
    for cap in ["NAMESPACE", "CHILDREN", "STATUS=SIZE"] {
        assert!(caps.split(' ').any(|c| c == cap), "{caps}");
    }
}

#[test]
fn create_makes_uw_mailboxes_and_folders() {
    let a = Account::new();
    let t = a.session(
        "a CREATE Archive\nb CREATE Projects/\nc CREATE Projects/2026/Q1\nd CREATE Archive\n\
         e CREATE inbox\nf CREATE Archive/sub\ng LIST \"\" *\nh SELECT Archive\ni CREATE Projects/\n",
    );
    for tag in ["a", "b", "c"] {
        assert_eq!(t.tagged(tag), format!("{tag} OK CREATE completed"));
    }
    assert_eq!(t.tagged("d"), "d NO [ALREADYEXISTS] Mailbox already exists");
    assert_eq!(t.tagged("e"), "e NO [ALREADYEXISTS] INBOX always exists");
    assert!(
        t.tagged("f")
            .starts_with("f NO [CANNOT] A superior name is a mailbox"),
        "{}",
        t.out
    );
    assert_eq!(t.tagged("i"), "i NO [ALREADYEXISTS] Mailbox already exists");
    assert_eq!(
        t.untagged("g")[1..],
        [
            "* LIST (\\HasNoChildren \\Unmarked \\Archive) \"/\" Archive",
            "* LIST (\\Noselect \\HasChildren) \"/\" Projects",
            "* LIST (\\Noselect \\HasChildren) \"/\" Projects/2026",
            "* LIST (\\HasNoChildren \\Unmarked) \"/\" Projects/2026/Q1",
        ]
    );
    // The file is UW's: its pseudo-message holds the UIDVALIDITY SELECT reports.
    let text = fs::read_to_string(a.mail("Archive")).unwrap();
    assert!(text.starts_with("From MAILER-DAEMON "), "{text}");
    assert!(text.contains("\nSubject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"));
    let stored = text.split("\nX-IMAP: ").nth(1).unwrap()[..10].to_owned();
    let select = t.untagged("h").join("\n");
    assert!(select.contains("* 0 EXISTS"), "{select}");
    assert!(
        select.contains(&format!("[UIDVALIDITY {}]", stored.trim_start_matches('0'))),
        "{select} vs {stored}"
    );
    assert!(a.mail("Projects/2026").is_dir());
    assert_eq!(
        fs::metadata(a.mail("Archive")).unwrap().mode() & 0o777,
        0o600
    );
}

#[test]
fn delete_follows_rfc3501() {
    let a = sample();
    let junk_before = fs::metadata(a.mail("notes.txt"))
        .unwrap()
        .modified()
        .unwrap();
    let t = a.session(
        "a DELETE Work\nb DELETE Work/2024\nc DELETE Work/Old\nd DELETE Work\ne DELETE INBOX\n\
         f DELETE Nope\ng DELETE notes.txt\nh DELETE Archive\ni LIST \"\" *\n",
    );
    assert_eq!(
        t.tagged("a"),
        "a NO [HASCHILDREN] Folder has inferior mailboxes; delete them first"
    );
    for tag in ["b", "c", "d", "h"] {
        assert_eq!(
            t.tagged(tag),
            format!("{tag} OK DELETE completed"),
            "{}",
            t.out
        );
    }
    assert_eq!(t.tagged("e"), "e NO [CANNOT] INBOX cannot be deleted");
    assert_eq!(t.tagged("f"), "f NO [NONEXISTENT] No such mailbox");
    assert_eq!(
        t.tagged("g"),
        "g NO [CANNOT] Not a mailbox in a format this server reads"
    );
    assert_eq!(
        fs::read(a.mail("notes.txt")).unwrap(),
        b"remember the milk\n"
    );
    assert_eq!(
        fs::metadata(a.mail("notes.txt"))
            .unwrap()
            .modified()
            .unwrap(),
        junk_before
    );
    assert!(!a.mail("Work").exists() && !a.mail("Archive").exists());
    let names: Vec<&str> = t
        .untagged("i")
        .iter()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["INBOX", "&ZeVnLIqe-", "Drafts", "Lists", "Lists/rust"]
    );
    // A folder that still holds a file that is not a mailbox stays.
    let t = a.session("a DELETE Lists/rust\nb CREATE Lists/x\nc DELETE Lists/x\n");
    fs::write(a.mail("Lists/readme"), b"not mail\n").unwrap();
    let t2 = a.session("d DELETE Lists\n");
    assert_eq!(t.tagged("c"), "c OK DELETE completed");
    assert_eq!(
        t2.tagged("d"),
        "d NO [CANNOT] Folder holds files that are not mailboxes"
    );
}

#[test]
fn rename_moves_mailboxes_and_folders() {
    let a = sample();
    fs::write(a.home().join(".mailboxlist"), b"Work/2024\n").unwrap();
    let t = a.session(
        "a RENAME Archive Old/Archive\nb RENAME Work Jobs/Work\nc RENAME Drafts Lists/rust\n\
         d RENAME Jobs Jobs/Work/x\ne RENAME Nope X\nf RENAME Drafts INBOX\ng LIST \"\" *\n\
         h STATUS Jobs/Work/2024 (MESSAGES)\n",
    );
    assert_eq!(t.tagged("a"), "a OK RENAME completed");
    assert_eq!(t.tagged("b"), "b OK RENAME completed");
    assert_eq!(t.tagged("c"), "c NO [ALREADYEXISTS] Mailbox already exists");
    assert_eq!(
        t.tagged("d"),
        "d NO [CANNOT] Cannot move a folder into itself"
    );
    assert_eq!(t.tagged("e"), "e NO [NONEXISTENT] No such mailbox");
    assert_eq!(t.tagged("f"), "f NO [ALREADYEXISTS] INBOX always exists");
    let names: Vec<&str> = t
        .untagged("g")
        .iter()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "INBOX",
            "&ZeVnLIqe-",
            "Drafts",
            "Jobs",
            "Jobs/Work",
            "Jobs/Work/2024",
            "Jobs/Work/Old",
            "Lists",
            "Lists/rust",
            "Old",
            "Old/Archive"
        ]
    );
    assert_eq!(t.untagged("h"), ["* STATUS Jobs/Work/2024 (MESSAGES 1)"]);
    // Subscriptions are not renamed (as UW).
    assert_eq!(
        fs::read(a.home().join(".mailboxlist")).unwrap(),
        b"Work/2024\n"
    );
    // Archive kept its marked state through the rename.
    assert!(
        t.untagged("g")
            .contains(&"* LIST (\\HasNoChildren \\Marked) \"/\" Old/Archive"),
        "{}",
        t.out
    );
}

#[test]
fn rename_inbox_moves_every_message_and_leaves_inbox_empty_in_place() {
    let a = Account::new();
    fs::copy(fixture("uw-session.mbox"), a.inbox()).unwrap();
    let inode = fs::metadata(a.inbox()).unwrap().ino();
    let t = a.session(
        "a STATUS INBOX (MESSAGES UNSEEN UIDNEXT)\nb RENAME INBOX Archive/2026\n\
         c STATUS INBOX (MESSAGES UIDNEXT)\nd STATUS Archive/2026 (MESSAGES UNSEEN UIDNEXT RECENT)\n\
         e SELECT Archive/2026\nf FETCH 1:3 (UID FLAGS)\ng RENAME INBOX Archive/2026\n\
         h SELECT INBOX\ni RENAME INBOX Elsewhere\nj EXAMINE INBOX\nk RENAME INBOX Other\n",
    );
    assert_eq!(
        t.untagged("a"),
        ["* STATUS INBOX (MESSAGES 30 UNSEEN 28 UIDNEXT 32)"]
    );
    assert_eq!(t.tagged("b"), "b OK RENAME completed");
    assert_eq!(t.untagged("c"), ["* STATUS INBOX (MESSAGES 0 UIDNEXT 1)"]);
    assert_eq!(
        t.untagged("d"),
        ["* STATUS Archive/2026 (MESSAGES 30 UNSEEN 28 UIDNEXT 31 RECENT 0)"]
    );
    assert_eq!(
        t.untagged("f"),
        [
            "* 1 FETCH (UID 1 FLAGS (\\Seen \\Flagged))",
            "* 2 FETCH (UID 2 FLAGS (\\Answered))",
            "* 3 FETCH (UID 3 FLAGS ())",
        ]
    );
    assert_eq!(t.tagged("g"), "g NO [ALREADYEXISTS] Mailbox already exists");
    // Selected (and empty): renamed as UW does, to a new empty mailbox.
    assert_eq!(t.tagged("i"), "i OK RENAME completed");
    assert!(t.untagged("i").is_empty(), "{}", t.out);
    assert!(a.mail("Elsewhere").is_file());
    // Selected read-only: nothing may be expunged from it.
    assert_eq!(
        t.tagged("k"),
        "k NO [INUSE] INBOX is selected read-only; CLOSE it, or SELECT it, before renaming it"
    );
    let meta = fs::metadata(a.inbox()).unwrap();
    assert_eq!((meta.len(), meta.ino()), (0, inode));
    assert!(!a.mail("Other").exists());
}

#[test]
fn status_is_answered_without_selecting() {
    let a = Account::new();
    for name in [
        "uw-session.mbox",
        "uw-archive.mbox",
        "dovecot-session.mbox",
        "spool-plain.mbox",
    ] {
        fs::copy(fixture(name), a.mail(name)).unwrap();
    }
    a.mailbox("binary", b"\x7fELF\x02\x01\x01\0\0\0\0");
    fs::remove_file(a.inbox()).unwrap();
    let t = a.session(
        "a STATUS uw-session.mbox (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN SIZE)\n\
         b STATUS uw-archive.mbox (UIDVALIDITY MESSAGES)\n\
         c STATUS dovecot-session.mbox (UIDNEXT UIDVALIDITY)\n\
         d STATUS spool-plain.mbox (MESSAGES RECENT UNSEEN)\n\
         e STATUS INBOX (MESSAGES UIDNEXT)\nf STATUS binary (MESSAGES)\ng STATUS Nope (MESSAGES)\n\
         h EXAMINE uw-session.mbox\ni STATUS uw-session.mbox (MESSAGES UNSEEN)\n",
    );
    let size: u64 = {
        let m = mbox_imapd::mailstore::Mailbox::open(
            &a.mail("uw-session.mbox"),
            mbox_imapd::mailstore::Access::ReadOnly,
            &Default::default(),
        )
        .unwrap();
        m.entries().iter().map(|e| u64::from(e.rfc822_size)).sum()
    };
    assert_eq!(
        t.untagged("a"),
        [format!(
            "* STATUS uw-session.mbox (MESSAGES 30 RECENT 0 UIDNEXT 32 UIDVALIDITY 1795932911 UNSEEN 28 SIZE {size})"
        )]
    );
    assert_eq!(
        t.untagged("b"),
        ["* STATUS uw-archive.mbox (UIDVALIDITY 1795932911 MESSAGES 3)"]
    );
    assert_eq!(
        t.untagged("c"),
        ["* STATUS dovecot-session.mbox (UIDNEXT 32 UIDVALIDITY 1795932911)"]
    );
    assert_eq!(
        t.untagged("d"),
        ["* STATUS spool-plain.mbox (MESSAGES 30 RECENT 30 UNSEEN 30)"]
    );
    assert_eq!(t.untagged("e"), ["* STATUS INBOX (MESSAGES 0 UIDNEXT 1)"]);
    assert_eq!(
        t.tagged("f"),
        "f NO [CANNOT] Not a mailbox in a format this server reads"
    );
    assert_eq!(t.tagged("g"), "g NO [NONEXISTENT] No such mailbox");
    assert_eq!(
        t.untagged("i"),
        ["* STATUS uw-session.mbox (MESSAGES 30 UNSEEN 28)"]
    );
    assert_eq!(
        fs::read(a.mail("binary")).unwrap(),
        b"\x7fELF\x02\x01\x01\0\0\0\0"
    );
}

#[test]
fn status_works_while_another_program_reads_the_mailbox() {
    let a = Account::new();
    fs::copy(fixture("uw-archive.mbox"), a.mail("Archive")).unwrap();
    // A reader's shared flock and fcntl read lock, as UW or mutt hold them.
    let reader = fs::File::open(a.mail("Archive")).unwrap();
    fs2::FileExt::lock_shared(&reader).unwrap();
    let started = std::time::Instant::now();
    let t = a.session("a STATUS Archive (MESSAGES UIDNEXT)\n");
    assert_eq!(t.untagged("a"), ["* STATUS Archive (MESSAGES 3 UIDNEXT 4)"]);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn non_ascii_names_round_trip() {
    let a = Account::new();
    let t = a.session_bytes(
        b"a CREATE &ZeVnLIqe-\nb CREATE Entw&APw-rfe/\nc CREATE Entw&APw-rfe/&AMk-t&AOk-\n\
          d LIST \"\" *\ne CREATE {9+}\nEntw\xc3\xbcrfe\nf CREATE &AGE-\ng STATUS &ZeVnLIqe- (MESSAGES)\n\
          h CREATE \"a&b\"\ni CREATE \"a&-b\"\n",
    );
    for tag in ["a", "b", "c", "i"] {
        assert_eq!(
            t.tagged(tag),
            format!("{tag} OK CREATE completed"),
            "{}",
            t.out
        );
    }
    assert_eq!(
        t.untagged("d")[1..],
        [
            "* LIST (\\HasNoChildren \\Unmarked) \"/\" &ZeVnLIqe-",
            "* LIST (\\Noselect \\HasChildren) \"/\" Entw&APw-rfe",
            "* LIST (\\HasNoChildren \\Unmarked) \"/\" Entw&APw-rfe/&AMk-t&AOk-",
        ]
    );
    assert!(
        a.mail("&ZeVnLIqe-").is_file(),
        "the file is named as the wire name"
    );
    assert!(a.mail("Entw&APw-rfe/&AMk-t&AOk-").is_file());
    assert!(a.mail("a&-b").is_file());
    assert!(
        t.tagged("e")
            .starts_with("e NO [CANNOT] Invalid mailbox name: 8-bit"),
        "{}",
        t.out
    );
    assert!(
        t.tagged("f")
            .starts_with("f NO [CANNOT] Invalid mailbox name: not valid modified UTF-7")
    );
    assert!(
        t.tagged("h")
            .starts_with("h NO [CANNOT] Invalid mailbox name: not valid modified UTF-7")
    );
    assert_eq!(t.untagged("g"), ["* STATUS &ZeVnLIqe- (MESSAGES 0)"]);
    assert_eq!(
        fs::read_dir(a.mail("")).unwrap().count(),
        3 + 1,
        "+ the UIDVALIDITY record"
    );
}

/// Each command that takes a name, on `name`: every one must be refused
/// with NO [CANNOT] and the reason, and logged; nothing may be created.
fn assert_refused(a: &Account, name: &str, reason: &str) {
    let q = format!("{{{}+}}\n{name}", name.len());
    let input = format!(
        "a SELECT {q}\nb STATUS {q} (MESSAGES)\nc CREATE {q}\nd DELETE {q}\ne RENAME {q} x\n\
         f RENAME Archive {q}\ng SUBSCRIBE {q}\nh EXAMINE {q}\n"
    );
    let t = a.session(&input);
    for tag in ["a", "b", "c", "d", "e", "f", "g", "h"] {
        let line = t.tagged(tag);
        assert!(
            line.starts_with(&format!("{tag} NO [CANNOT] Invalid mailbox name: "))
                && line.contains(reason),
            "{name:?}: {line}"
        );
    }
    assert!(
        t.log.contains("refused mailbox name"),
        "not logged: {}",
        t.log
    );
    assert!(!a.mail("x").exists());
    assert!(a.mail("Archive").exists());
    assert!(!a.home().join(".mailboxlist").exists());
}

fn confinement_account() -> Account {
    let a = Account::new();
    a.mailbox("Archive", MESSAGE);
    a
}

#[test]
fn confinement_dot_dot() {
    let a = confinement_account();
    assert_refused(&a, "../inbox", ". and ..");
    assert_refused(&a, "Archive/../../inbox", ". and ..");
    assert_refused(&a, "..", ". and ..");
    assert_eq!(fs::read(a.inbox()).unwrap(), MESSAGE);
}

#[test]
fn confinement_absolute_path() {
    let a = confinement_account();
    assert_refused(&a, "/etc/passwd", "absolute");
    assert_refused(&a, &a.inbox().display().to_string(), "absolute");
}

#[test]
fn confinement_other_users() {
    let a = confinement_account();
    assert_refused(&a, "~root", "~user");
    assert_refused(&a, "~root/mail/x", "~user");
    assert_refused(&a, "#shared/x", "namespace");
}

#[test]
fn confinement_nul_and_control_characters() {
    let a = confinement_account();
    // NUL never gets as far as a name: the framer refuses it in any literal.
    let t = a.session_bytes(b"a CREATE {3+}\na\0b\nb STATUS {3+}\na\0b (MESSAGES)\n");
    assert_eq!(t.tagged("a"), "a BAD NUL octet in literal");
    assert_eq!(t.tagged("b"), "b BAD NUL octet in literal");
    assert_eq!(fs::read_dir(a.mail("")).unwrap().count(), 1);
    assert_refused(&a, "a\u{1}b", "control");
    assert_refused(&a, "a\rb", "control");
    assert_refused(&a, "tab\there", "control");
    assert_refused(&a, "del\u{7f}", "control");
}

#[test]
fn confinement_symlink_to_a_file_outside() {
    let a = confinement_account();
    symlink("/etc/passwd", a.mail("passwd")).unwrap();
    assert_refused(&a, "passwd", "outside your mail directory");
    let t = a.session("a LIST \"\" *\n");
    assert!(!t.out.contains("passwd"), "{}", t.out);
}

#[test]
fn confinement_symlink_to_a_directory_outside() {
    let a = confinement_account();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), MESSAGE).unwrap();
    symlink(outside.path(), a.mail("elsewhere")).unwrap();
    symlink("nowhere", a.mail("dangling")).unwrap();
    assert_refused(&a, "elsewhere", "outside your mail directory");
    assert_refused(&a, "elsewhere/secret", "outside your mail directory");
    assert_refused(&a, "elsewhere/new", "outside your mail directory");
    assert_refused(&a, "dangling", "leads nowhere");
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 1);
    let t = a.session("a LIST \"\" *\n");
    assert!(
        !t.out.contains("elsewhere") && !t.out.contains("secret"),
        "{}",
        t.out
    );
    // A link that stays inside, or leads to the INBOX file, is fine.
    symlink(a.mail("Archive"), a.mail("alias")).unwrap();
    symlink(a.inbox(), a.mail("spool")).unwrap();
    let t = a.session("a STATUS alias (MESSAGES)\nb STATUS spool (MESSAGES)\n");
    assert_eq!(t.untagged("a"), ["* STATUS alias (MESSAGES 1)"]);
    assert_eq!(t.untagged("b"), ["* STATUS spool (MESSAGES 1)"]);
}

#[test]
fn confinement_inbox_has_no_children() {
    let a = confinement_account();
    assert_refused(&a, "INBOX/child", "INBOX cannot have inferior mailboxes");
    assert_refused(&a, "inbox/a/b", "INBOX cannot have inferior mailboxes");
    let t = a.session("a CREATE INBOX/\n");
    assert_eq!(t.tagged("a"), "a NO [ALREADYEXISTS] INBOX always exists");
}

#[test]
fn confinement_reserved_names() {
    let a = confinement_account();
    assert_refused(&a, ".mailboxlist", "dot");
    assert_refused(&a, ".mbox-imapd-uidvalidity", "dot");
    assert_refused(&a, "Archive.lock", ".lock");
}

#[test]
fn files_that_are_not_mailboxes_are_left_alone() {
    let a = sample();
    let before = fs::read(a.mail("binary")).unwrap();
    let mtime = fs::metadata(a.mail("binary")).unwrap().modified().unwrap();
    // Opening a FIFO would block the session: it must be refused unopened.
    nix::unistd::mkfifo(&a.mail("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let t = a.session(
        "a SELECT binary\nb EXAMINE notes.txt\nc SELECT socket\nd STATUS socket (MESSAGES)\n\
         e SELECT Work\nf RENAME binary b2\ng SELECT fifo\nh STATUS fifo (MESSAGES)\n\
         i DELETE fifo\n",
    );
    for tag in ["a", "b", "c", "d", "e", "f", "g", "h", "i"] {
        assert!(
            t.tagged(tag).starts_with(&format!("{tag} NO [CANNOT]")),
            "{}",
            t.out
        );
    }
    assert_eq!(fs::read(a.mail("binary")).unwrap(), before);
    assert_eq!(
        fs::metadata(a.mail("binary")).unwrap().modified().unwrap(),
        mtime
    );
}

#[test]
fn uw_mailboxlist_is_read_and_written() {
    let a = sample();
    // As UW's sm_subscribe leaves it: one name per line, in the order subscribed.
    fs::write(
        a.home().join(".mailboxlist"),
        b"INBOX\nArchive\nLists/rust\nWork/Old\nGone/away\n",
    )
    .unwrap();
    let t = a.session(
        "a LSUB \"\" *\nb LSUB \"\" %\nc SUBSCRIBE &ZeVnLIqe-\nd UNSUBSCRIBE Archive\n\
         e UNSUBSCRIBE Archive\nf SUBSCRIBE Lists/rust\ng LSUB Lists/ %\nh SUBSCRIBE ../x\n",
    );
    assert_eq!(
        t.answer("a"),
        "* LSUB () \"/\" INBOX\n\
         * LSUB () \"/\" Archive\n\
         * LSUB () \"/\" Lists/rust\n\
         * LSUB (\\Noselect) \"/\" Work/Old\n\
         * LSUB () \"/\" Gone/away\n\
         a OK LSUB completed"
    );
    // RFC 3501 §6.3.9: % stops at Lists, which is not subscribed: \Noselect.
    assert_eq!(
        t.answer("b"),
        "* LSUB () \"/\" INBOX\n\
         * LSUB () \"/\" Archive\n\
         * LSUB (\\Noselect) \"/\" Lists\n\
         * LSUB (\\Noselect) \"/\" Work\n\
         * LSUB (\\Noselect) \"/\" Gone\n\
         b OK LSUB completed"
    );
    assert_eq!(t.tagged("c"), "c OK SUBSCRIBE completed");
    assert_eq!(t.tagged("d"), "d OK UNSUBSCRIBE completed");
    assert_eq!(
        t.tagged("e"),
        "e NO [NONEXISTENT] Not subscribed to that mailbox"
    );
    assert_eq!(t.tagged("f"), "f OK SUBSCRIBE completed");
    assert_eq!(
        t.answer("g"),
        "* LSUB () \"/\" Lists/rust\ng OK LSUB completed"
    );
    assert!(t.tagged("h").starts_with("h NO [CANNOT]"));
    assert_eq!(
        fs::read(a.home().join(".mailboxlist")).unwrap(),
        b"INBOX\nLists/rust\nWork/Old\nGone/away\n&ZeVnLIqe-\n"
    );
}

#[test]
fn uid_validity_strictly_increases_across_delete_and_create() {
    let a = Account::new();
    let t = a.session(
        "a1 CREATE Box\na2 STATUS Box (UIDVALIDITY)\na3 DELETE Box\n\
         b1 CREATE Box\nb2 STATUS Box (UIDVALIDITY)\nb3 DELETE Box\n\
         c1 CREATE Box\nc2 STATUS Box (UIDVALIDITY)\n\
         d1 RENAME Box Away\nd2 CREATE Box\nd3 STATUS Box (UIDVALIDITY)\nd4 DELETE Box\n\
         d5 RENAME Away Box\nd6 STATUS Box (UIDVALIDITY)\n",
    );
    let value = |tag: &str| -> u64 {
        let line = t.untagged(tag)[0];
        line.trim_end_matches(')')
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let seen = [
        value("a2"),
        value("b2"),
        value("c2"),
        value("d3"),
        value("d6"),
    ];
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}\n{}", t.out);
    // A second session (the record is on disk) continues above them all.
    let t2 = a.session("a DELETE Box\nb CREATE Box\nc STATUS Box (UIDVALIDITY)\n");
    let line = t2.untagged("c")[0];
    let next: u64 = line
        .trim_end_matches(')')
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(next > seen[4]);
    let record = fs::read_to_string(a.mail(".mbox-imapd-uidvalidity")).unwrap();
    assert_eq!(record, format!("{next}\n"));
}

#[test]
fn python_imaplib_session() {
    run_python_script("folders.py");
}

/// Thunderbird's LIST (SPECIAL-USE) and LIST ... RETURN (SPECIAL-USE
/// SUBSCRIBED CHILDREN STATUS (UNSEEN)), a configured special-use name, and
/// CREATE ... (USE (...)) through imaplib.
#[test]
fn python_imaplib_list_extended() {
    run_python_script("list_extended.py");
}

/// Runs tests/python/`name` on a fresh account; it must print
/// "`name`: all checks passed".
fn run_python_script(name: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name);
    let a = Account::new();
    let result = Command::new("python3")
        .arg(&script)
        .arg(BIN)
        .arg(a.home())
        .output();
    let output = match result {
        Ok(o) => o,
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            println!("NOTICE: python3 not runnable ({e}); skipping {name}");
            return;
        }
        Err(e) => panic!("python3 is required in CI: {e}"),
    };
    assert!(
        output.status.success(),
        "{name} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains(&format!("{name}: all checks passed"))
    );
}
