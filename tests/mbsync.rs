//! mbsync (isync) against the built server through its `Tunnel` option,
//! as a user would run it over ssh: a tree of 20 folders plus INBOX is
//! pulled into a local Maildir, and every folder and message must arrive
//! with its flags.
//!
//! Then the way back: messages written into the Maildir (into existing
//! folders and a new one) are pushed to the server with APPEND, which needs
//! UIDPLUS's APPENDUID (`push_back`).
//!
//! mbsync uses COMPRESS=DEFLATE when the server offers it, so all of this
//! runs compressed.
//!
//! Needs `mbsync` (Debian package isync). Without it the test fails when
//! CI=true and is skipped with a notice otherwise.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_mbox-imapd");

/// The 20 folders: top level, nested two deep, and a non-ASCII name
/// (modified UTF-7 on the wire and on disk: "日本語").
fn folder_names() -> Vec<String> {
    let mut names: Vec<String> = (1..=9).map(|i| format!("Folder{i:02}")).collect();
    names.extend((1..=5).map(|i| format!("Work/Project{i}")));
    names.extend(["Lists/rust", "Lists/debian", "Lists/old/2019"].map(String::from));
    names.extend(["Archive", "Sent", "&ZeVnLIqe-"].map(String::from));
    assert_eq!(names.len(), 20);
    names
}

/// How many messages folder number `i` holds (a few, varying).
fn message_count(i: usize) -> usize {
    2 + i % 4
}

fn message_id(folder: &str, n: usize) -> String {
    format!("<{}.{n}@mbsync.test>", folder.replace(['/', '&'], "."))
}

/// An mbox as UW leaves a folder it created: the pseudo-message holding
/// UIDVALIDITY and the last UID, then messages with X-UID and Status. (The
/// stored UIDVALIDITY keeps it stable between mbsync runs.) Every second
/// message is \Seen.
fn mbox(folder: &str, count: usize, uid_validity: u32) -> Vec<u8> {
    let mut out = format!(
        "From MAILER-DAEMON Wed Nov 25 10:00:00 2026\n\
         Date: 25 Nov 2026 10:00:00 +0000\n\
         From: Mail System Internal Data <MAILER-DAEMON@test>\n\
         Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n\
         X-IMAP: {uid_validity:010} {count:010}\n\
         Status: RO\n\n\
         This text is part of the internal format of your mail folder, and is not\n\
         a real message.  It is created automatically by the mail system software.\n\
         If deleted, important folder data will be lost, and it will be re-created\n\
         with the data reset to initial values.\n\n"
    );
    for n in 1..=count {
        let status = if n % 2 == 0 { "RO" } else { "O" };
        out.push_str(&format!(
            "From sender{n}@example.org Wed Nov 25 1{}:00:00 2026\n\
             From: Sender {n} <sender{n}@example.org>\n\
             To: user@example.org\n\
             Subject: message {n} in {folder}\n\
             Date: Wed, 25 Nov 2026 1{}:00:00 +0000\n\
             Message-ID: {}\n\
             Status: {status}\n\
             X-UID: {n}\n\n\
             Body of message {n} in {folder}.\n\
             >From here on, a quoted line.\n\n",
            n % 10,
            n % 10,
            message_id(folder, n)
        ));
    }
    out.into_bytes()
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let s = Setup { dir };
        for (i, name) in folder_names().iter().enumerate() {
            let path = s.mail().join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(
                &path,
                mbox(name, message_count(i), 1_790_000_000 + i as u32),
            )
            .unwrap();
        }
        fs::write(s.inbox(), mbox("INBOX", 3, 1_789_999_999)).unwrap();
        fs::create_dir_all(s.maildir()).unwrap();
        s.write_config("Pull", "Near");
        s
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }
    fn mail(&self) -> PathBuf {
        self.root().join("mail")
    }
    fn inbox(&self) -> PathBuf {
        self.root().join("inbox")
    }
    fn maildir(&self) -> PathBuf {
        self.root().join("maildir")
    }

    fn server_command(&self) -> String {
        format!(
            "{BIN} --preauth --inbox {} --mail-dir {} --home {} --log stderr 2>>{}",
            self.inbox().display(),
            self.mail().display(),
            self.root().display(),
            self.root().join("server.log").display()
        )
    }

    /// `.mbsyncrc`: the server through Tunnel, a Maildir with verbatim
    /// subfolders, one channel over every folder.
    fn write_config(&self, sync: &str, create: &str) {
        let rc = format!(
            "IMAPAccount server\n\
             Tunnel \"{}\"\n\n\
             IMAPStore remote\nAccount server\n\n\
             MaildirStore local\nPath {}/\nInbox {}/INBOX\nSubFolders Verbatim\n\n\
             Channel everything\nFar :remote:\nNear :local:\nPatterns *\n\
             Create {create}\nSync {sync}\nSyncState *\n",
            self.server_command(),
            self.maildir().display(),
            self.maildir().display()
        );
        fs::write(self.root().join("mbsyncrc"), rc).unwrap();
    }

    /// Runs `mbsync -a`; panics with its output and the server log on failure.
    fn mbsync(&self) {
        let output = Command::new("mbsync")
            .arg("-c")
            .arg(self.root().join("mbsyncrc"))
            .arg("-a")
            .arg("-V")
            .output()
            .unwrap();
        let log = fs::read_to_string(self.root().join("server.log")).unwrap_or_default();
        assert!(
            output.status.success(),
            "mbsync failed ({:?}):\n{}\n{}\nserver log:\n{log}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The Maildir messages of `folder` (new/ and cur/): (file name, bytes).
    fn maildir_messages(&self, folder: &str) -> Vec<(String, Vec<u8>)> {
        let base = self.maildir().join(folder);
        let mut found = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = fs::read_dir(base.join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                found.push((name, fs::read(e.path()).unwrap()));
            }
        }
        found
    }

    /// The server's CAPABILITY line.
    fn capabilities(&self) -> String {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(self.server_command())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"a CAPABILITY\r\nb LOGOUT\r\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .find(|l| l.starts_with("* CAPABILITY "))
            .unwrap_or_default()
            .to_owned()
    }
}

fn mbsync_available() -> bool {
    match Command::new("mbsync").arg("--version").output() {
        Ok(o) if o.status.success() => true,
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("mbsync is required in CI (Debian package isync)")
        }
        _ => {
            println!("NOTICE: mbsync (package isync) not installed; skipping the mbsync test");
            false
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn mbsync_pulls_every_folder_into_a_maildir_and_pushes_back() {
    if !mbsync_available() {
        return;
    }
    let s = Setup::new();
    s.mbsync();
    // isync 1.4+ built with zlib (Debian's is) turns on COMPRESS=DEFLATE
    // (RFC 4978) whenever it is offered: the whole pull below ran
    // compressed, an interoperability test of the layer with zlib.
    let log = fs::read_to_string(s.root().join("server.log")).unwrap_or_default();
    assert!(
        log.contains("event=compress algorithm=DEFLATE") && log.contains(" compressed_out="),
        "mbsync did not use COMPRESS=DEFLATE:\n{log}"
    );
    let mut folders: Vec<(String, usize)> = folder_names()
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n, message_count(i)))
        .collect();
    folders.push(("INBOX".into(), 3));
    for (folder, count) in &folders {
        let messages = s.maildir_messages(folder);
        assert_eq!(messages.len(), *count, "{folder}: {messages:?}");
        for n in 1..=*count {
            let id = message_id(folder, n);
            let (file, bytes) = messages
                .iter()
                .find(|(_, b)| contains(b, &id))
                .unwrap_or_else(|| panic!("{folder}: message {n} missing"));
            // Flags: every second message is \Seen (Maildir flag S).
            let seen = file.rsplit(":2,").next().is_some_and(|f| f.contains('S'));
            assert_eq!(seen, n % 2 == 0, "{folder} message {n}: {file}");
            // The body arrived intact, and UW's metadata stayed hidden.
            assert!(contains(
                bytes,
                &format!("Body of message {n} in {folder}.")
            ));
            assert!(contains(bytes, ">From here on"));
            assert!(!contains(bytes, "X-UID:") && !contains(bytes, "Status:"));
        }
    }
    // A second run finds nothing to do and changes nothing on the server.
    let before: Vec<Vec<u8>> = folder_names()
        .iter()
        .map(|n| fs::read(s.mail().join(n)).unwrap())
        .collect();
    s.mbsync();
    for (folder, count) in &folders {
        assert_eq!(s.maildir_messages(folder).len(), *count, "{folder}");
    }
    let after: Vec<Vec<u8>> = folder_names()
        .iter()
        .map(|n| fs::read(s.mail().join(n)).unwrap())
        .collect();
    assert!(before == after, "a pull must not change the server's files");

    push_back(&s);
}

/// ---- The way back: ACTIVE ONLY WHEN THE SERVER HAS APPEND (UIDPLUS). ----
///
/// A message written into every local folder, and a folder created
/// locally, must reach the server's mbox files after `Sync Push` with
/// `Create Far`.
fn push_back(s: &Setup) {
    let caps = s.capabilities();
    // mbsync needs APPENDUID to upload (UW imapd omits it into an open
    // mailbox, and mbsync then fails): UIDPLUS must be there.
    assert!(
        caps.split(' ').any(|c| c == "UIDPLUS"),
        "no UIDPLUS in {caps}"
    );
    let mut pushed = Vec::new();
    let mut targets: Vec<String> = folder_names();
    targets.push("FromLaptop".into());
    for (i, folder) in targets.iter().enumerate() {
        let new = s.maildir().join(folder).join("new");
        fs::create_dir_all(&new).unwrap();
        for sub in ["cur", "tmp"] {
            fs::create_dir_all(s.maildir().join(folder).join(sub)).unwrap();
        }
        let id = format!("<pushed.{i}@laptop.test>");
        let message = format!(
            "From: me@laptop.test\nTo: user@example.org\nSubject: written offline {i}\n\
             Date: Thu, 26 Nov 2026 09:00:00 +0000\nMessage-ID: {id}\n\nHello from the laptop.\n"
        );
        fs::write(new.join(format!("1795900000.{i}_1.laptop")), message).unwrap();
        pushed.push((folder.clone(), id));
    }
    s.write_config("Push", "Far");
    s.mbsync();
    for (folder, id) in pushed {
        let path = s.mail().join(&folder);
        let mbox = fs::read(&path).unwrap_or_else(|e| panic!("{folder}: {e}"));
        assert!(
            contains(&mbox, &id),
            "{folder}: pushed message {id} missing"
        );
        let m = mbox_imapd::mailstore::Mailbox::open(
            &path,
            mbox_imapd::mailstore::Access::ReadOnly,
            &Default::default(),
        )
        .unwrap();
        assert!(!m.is_empty(), "{folder}");
    }
}
