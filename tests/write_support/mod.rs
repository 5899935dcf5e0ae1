//! Shared pieces of the write-path integration tests (write_path.rs,
//! concurrency.rs): a scripted IMAP client over the server binary's pipes that
//! checks every untagged response against a model of what the client may
//! believe (RFC 3501 §7.3.1, §7.4.1), test messages, the external programs
//! (python3, procmail) and the mbox checker (tests/python/write_check.py).
//!
//! - **A hung server fails the test, never hangs CI.** A thread reads the
//!   child's stdout into a channel; every wait has a deadline.
//! - **Every response is checked, in every test.** [`Client`] keeps the
//!   sequence-number → UID map a client would keep: EXISTS may not shrink,
//!   EXPUNGE must name an existing number and never arrives during FETCH,
//!   STORE or SEARCH by sequence number, a FETCH names an existing number and
//!   its UID never changes under it.
//! - **Missing programs**: skipped with a notice, except under CI (`CI=true`)
//!   where they are a failure (CI installs python3 and procmail).

#![allow(dead_code)] // each test crate uses a different part

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

#[path = "../python_script/mod.rs"]
mod python_script;

/// How long one response may take: generous, since a command may wait for a
/// lock another process holds (procmail) and CI machines are slow.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(90);

pub fn server_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mbox-imapd"))
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Whether `program` runs (with `args`); if not, a failure under CI, else a
/// printed notice and `false` (the caller skips).
pub fn require(program: &str, args: &[&str], for_what: &str) -> bool {
    let found = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if found {
        return true;
    }
    assert!(
        !in_ci(),
        "{program} is required under CI (CI=true) for {for_what}"
    );
    eprintln!("notice: {program} not found; skipping {for_what}");
    false
}

/// A temp dir with `inbox` and `mail/`.
pub struct Dir {
    pub tmp: tempfile::TempDir,
    pub inbox: PathBuf,
    pub mail: PathBuf,
}

impl Dir {
    pub fn new() -> Dir {
        let tmp = tempfile::tempdir().expect("temp dir");
        let inbox = tmp.path().join("inbox");
        let mail = tmp.path().join("mail");
        std::fs::create_dir_all(&mail).expect("mail dir");
        Dir { tmp, inbox, mail }
    }

    /// A Dir whose INBOX holds `messages` (mbox bytes as [`mbox_of`] makes).
    pub fn with_inbox(mbox: &[u8]) -> Dir {
        let dir = Dir::new();
        std::fs::write(&dir.inbox, mbox).expect("writing inbox");
        dir
    }

    /// The server's command line for this dir.
    pub fn server_args(&self) -> Vec<String> {
        vec![
            "--preauth".into(),
            "--inbox".into(),
            self.inbox.display().to_string(),
            "--mail-dir".into(),
            self.mail.display().to_string(),
            "--log".into(),
            "stderr".into(),
        ]
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(format!("{name}.log"))
    }
}

/// One test message: a unique Message-ID and a body that exercises what the
/// store must keep (a `From ` line to quote, long and empty lines).
#[derive(Debug, Clone)]
pub struct TestMessage {
    pub id: String,
    /// Header + body with CRLF line ends, as a client sends it.
    pub wire: Vec<u8>,
    /// The body as it must be stored: LF line ends, `From ` quoted (mboxo).
    pub stored_body: Vec<u8>,
}

pub fn message(id: &str, n: usize) -> TestMessage {
    let header = format!(
        "From: Sender {n} <sender{n}@example.org>\r\n\
         To: alice@example.org\r\n\
         Subject: test message {id}\r\n\
         Date: Thu, 26 Nov 2026 10:00:{:02} +0000\r\n\
         Message-ID: <{id}@write-tests>\r\n\
         \r\n",
        n % 60
    );
    let mut body = format!("Body of {id}, number {n}.\r\n\r\nFrom the start of a line.\r\n");
    for i in 0..(n % 7) {
        body.push_str(&format!("line {i} {}\r\n", "x".repeat(10 * i)));
    }
    body.push_str("-- \r\nend\r\n");
    let wire = [header.as_bytes(), body.as_bytes()].concat();
    let stored_body = body
        .replace("\r\n", "\n")
        .lines()
        .map(|l| {
            if l.starts_with("From ") {
                format!(">{l}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect::<String>()
        .into_bytes();
    TestMessage {
        id: id.to_owned(),
        wire,
        stored_body,
    }
}

/// An mbox file (LF, quoted, UW-less: no metadata) holding `messages`, as a
/// local delivery agent leaves it.
pub fn mbox_of(messages: &[TestMessage]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        out.extend_from_slice(
            format!("From sender{i}@example.org Thu Nov 26 10:00:00 2026\n").as_bytes(),
        );
        let text = String::from_utf8_lossy(&m.wire).replace("\r\n", "\n");
        let (header, _) = text.split_once("\n\n").expect("header");
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(b"\n\n");
        out.extend_from_slice(&m.stored_body);
        out.extend_from_slice(b"\n");
    }
    out
}

/// What a reply held: the untagged lines (literals inlined) and the tagged one.
#[derive(Debug, Clone)]
pub struct Reply {
    pub untagged: Vec<String>,
    pub tagged: String,
}

impl Reply {
    pub fn is_ok(&self) -> bool {
        self.status() == "OK"
    }

    /// `OK`, `NO` or `BAD`.
    pub fn status(&self) -> &str {
        self.tagged.split(' ').nth(1).unwrap_or("")
    }

    pub fn has(&self, needle: &str) -> bool {
        self.untagged.iter().any(|l| l.contains(needle))
    }

    /// `* n KIND` numbers, e.g. `numbers("EXPUNGE")`.
    pub fn numbers(&self, kind: &str) -> Vec<u32> {
        self.untagged
            .iter()
            .filter_map(|l| {
                let rest = l.strip_prefix("* ")?;
                let (n, what) = rest.split_once(' ')?;
                (what == kind).then(|| n.parse().ok())?
            })
            .collect()
    }

    /// The bracketed response code's words in the tagged line, e.g.
    /// `["APPENDUID", "1795932911", "31"]`.
    pub fn code(&self) -> Vec<String> {
        let Some(start) = self.tagged.find('[') else {
            return Vec::new();
        };
        let Some(end) = self.tagged[start..].find(']') else {
            return Vec::new();
        };
        self.tagged[start + 1..start + end]
            .split(' ')
            .map(str::to_owned)
            .collect()
    }
}

/// Whether a command may be answered with EXPUNGE (RFC 3501 §7.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpungeRule {
    Allowed,
    /// FETCH, STORE, SEARCH by sequence number.
    Forbidden,
}

/// A session with the server binary, and the model of the client's view.
pub struct Client {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    next_tag: u32,
    /// Sequence number − 1 → UID when known (from a FETCH with UID).
    pub view: Vec<Option<u32>>,
    /// Everything received, for failure messages.
    pub transcript: Vec<String>,
    /// A `* BYE` was received.
    pub bye: bool,
    /// The server's output ended.
    pub closed: bool,
    /// The server's `--log stderr` output, shown when a test fails.
    log: PathBuf,
}

impl Client {
    /// Starts a session in `dir`; checks the PREAUTH greeting.
    pub fn start(dir: &Dir, name: &str) -> Client {
        Client::start_with(dir, name, &[])
    }

    /// [`Client::start`] with more command-line arguments (e.g. `--config`).
    pub fn start_with(dir: &Dir, name: &str, extra_args: &[String]) -> Client {
        let log_path = dir.log_path(name);
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut child = Command::new(server_bin())
            .args(dir.server_args())
            .args(extra_args)
            .env("TZ", "UTC")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("starting the server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || read_lines(stdout, tx));
        let mut client = Client {
            log: log_path,
            name: name.to_owned(),
            stdin: child.stdin.take(),
            child,
            lines: rx,
            next_tag: 1,
            view: Vec::new(),
            transcript: Vec::new(),
            bye: false,
            closed: false,
        };
        let greeting = client.line(REPLY_TIMEOUT).expect("greeting");
        assert!(greeting.starts_with("* PREAUTH"), "{name}: {greeting}");
        assert!(
            greeting.contains("IDLE") && greeting.contains("UIDPLUS"),
            "{greeting}"
        );
        client
    }

    /// The number of messages the client believes exist.
    pub fn exists(&self) -> usize {
        self.view.len()
    }

    /// Sends one command line (the tag is added) and reads its reply.
    pub fn command(&mut self, text: &str) -> Reply {
        let tag = self.tag();
        self.send(format!("{tag} {text}\r\n").as_bytes());
        self.reply(&tag, rule_for(text))
    }

    /// Like [`Client::command`], expecting OK.
    pub fn ok(&mut self, text: &str) -> Reply {
        let reply = self.command(text);
        assert!(
            reply.is_ok(),
            "{}: {text} -> {}\n{}",
            self.name,
            reply.tagged,
            self.tail()
        );
        reply
    }

    /// `head {n+}` CRLF literal CRLF (LITERAL+, so no round trip), e.g.
    /// `APPEND INBOX (\Seen)` with the message.
    pub fn command_literal(&mut self, head: &str, literal: &[u8]) -> Reply {
        let tag = self.tag();
        let mut bytes = format!("{tag} {head} {{{}+}}\r\n", literal.len()).into_bytes();
        bytes.extend_from_slice(literal);
        bytes.extend_from_slice(b"\r\n");
        self.send(&bytes);
        self.reply(&tag, ExpungeRule::Allowed)
    }

    /// Sends `tag` + `bytes` as they are (non-synchronizing literals, several
    /// lines) and reads the reply; a `+` continuation fails the test.
    pub fn command_raw(&mut self, bytes: &[u8]) -> Reply {
        let tag = self.tag();
        self.send(&[format!("{tag} ").as_bytes(), bytes].concat());
        self.reply(&tag, ExpungeRule::Allowed)
    }

    /// `head {n}` CRLF, then, after the server's `+`, the literal and CRLF:
    /// a synchronizing literal (RFC 3501 §7.5).
    pub fn command_sync_literal(&mut self, head: &str, literal: &[u8]) -> Reply {
        let tag = self.tag();
        self.send(format!("{tag} {head} {{{}}}\r\n", literal.len()).as_bytes());
        match self.line(REPLY_TIMEOUT) {
            Some(line) if line.starts_with("+ ") => {}
            other => panic!("{}: expected a continuation, got {other:?}", self.name),
        }
        self.send(&[literal, b"\r\n"].concat());
        self.reply(&tag, ExpungeRule::Allowed)
    }

    /// SELECT, recording EXISTS.
    pub fn select(&mut self, mailbox: &str) -> Reply {
        self.view.clear();
        self.ok(&format!("SELECT {mailbox}"))
    }

    /// `UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])`: the
    /// Message-ID of every message, by sequence number.
    pub fn message_ids(&mut self) -> BTreeMap<u32, String> {
        let reply = self.ok("UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])");
        let mut ids = BTreeMap::new();
        for line in &reply.untagged {
            let Some((seq, _)) = fetch_parts(line) else {
                continue;
            };
            if let Some(id) = message_id_in(line) {
                ids.insert(seq, id);
            }
        }
        ids
    }

    /// Starts IDLE; returns its tag.
    pub fn idle(&mut self) -> String {
        let tag = self.tag();
        self.send(format!("{tag} IDLE\r\n").as_bytes());
        loop {
            let line = self.line(REPLY_TIMEOUT).expect("IDLE continuation");
            if line.starts_with("+ ") {
                return tag;
            }
            self.check_untagged(&line, ExpungeRule::Allowed);
        }
    }

    /// During IDLE: waits up to `timeout` for an untagged line containing
    /// `needle`; every line on the way is checked and recorded.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = self.line(left)?;
            self.check_untagged(&line, ExpungeRule::Allowed);
            if line.contains(needle) {
                return Some(line);
            }
        }
    }

    /// During IDLE: sends `line` (CRLF added) instead of DONE and reads the
    /// IDLE command's completion.
    pub fn end_idle_with(&mut self, tag: &str, line: &str) -> Reply {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply(tag, ExpungeRule::Allowed)
    }

    /// Ends IDLE with DONE and reads the completion.
    pub fn done(&mut self, tag: &str) -> Reply {
        self.send(b"DONE\r\n");
        let reply = self.reply(tag, ExpungeRule::Allowed);
        assert!(reply.is_ok(), "{}: IDLE -> {}", self.name, reply.tagged);
        reply
    }

    /// Waits for the server to end the session (after a BYE, or for end of
    /// output); returns whether a BYE was seen and the exit status.
    pub fn wait_end(&mut self, timeout: Duration) -> (bool, ExitStatus) {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if self.line(left).is_none() {
                break;
            }
        }
        self.stdin = None;
        let status = wait_child(
            &mut self.child,
            deadline.max(Instant::now() + Duration::from_secs(5)),
        );
        (self.bye, status)
    }

    /// LOGOUT, then the process must exit 0.
    pub fn logout(mut self) {
        let reply = self.command("LOGOUT");
        assert!(
            reply.is_ok() && reply.has("BYE"),
            "{}: {reply:?}",
            self.name
        );
        self.stdin = None;
        let status = wait_child(&mut self.child, Instant::now() + REPLY_TIMEOUT);
        assert!(
            status.success(),
            "{}: server exited with {status}",
            self.name
        );
    }

    /// The last lines received, for assertion messages.
    pub fn tail(&self) -> String {
        let n = self.transcript.len().saturating_sub(30);
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.len().saturating_sub(15);
        format!(
            "{}\n--- server log (last lines) ---\n{}",
            self.transcript[n..].join("\n"),
            lines[from..].join("\n")
        )
    }

    fn tag(&mut self) -> String {
        let tag = format!("{}{}", self.name, self.next_tag);
        self.next_tag += 1;
        tag
    }

    /// Sends bytes. A server that has already ended the session (after a
    /// BYE) makes this fail; that is left for the reading side to report.
    fn send(&mut self, bytes: &[u8]) {
        let Some(stdin) = self.stdin.as_mut() else {
            return;
        };
        if stdin.write_all(bytes).and_then(|()| stdin.flush()).is_err() {
            self.stdin = None;
        }
    }

    /// Sends one command line (the tag is added); `None` if the server ended
    /// the session before the tagged reply (see `self.bye`).
    pub fn command_or_end(&mut self, text: &str) -> Option<Reply> {
        let tag = self.tag();
        self.send(format!("{tag} {text}\r\n").as_bytes());
        self.read_reply(&tag, rule_for(text))
    }

    fn line(&mut self, timeout: Duration) -> Option<String> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => {
                // A BYE may also sit inside a literal cut short by the
                // server's death (a SIGBUS handler writes it directly).
                if line.starts_with("* BYE") || line.contains("\r\n* BYE") {
                    self.bye = true;
                }
                self.transcript.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                self.closed = true;
                None
            }
        }
    }

    fn reply(&mut self, tag: &str, rule: ExpungeRule) -> Reply {
        match self.read_reply(tag, rule) {
            Some(reply) => reply,
            None if self.closed => panic!(
                "{}: the server closed the session before answering {tag}\n{}",
                self.name,
                self.tail()
            ),
            None => panic!(
                "{}: no tagged reply for {tag} within {REPLY_TIMEOUT:?}\n{}",
                self.name,
                self.tail()
            ),
        }
    }

    fn read_reply(&mut self, tag: &str, rule: ExpungeRule) -> Option<Reply> {
        let mut untagged = Vec::new();
        loop {
            let line = self.line(REPLY_TIMEOUT)?;
            if let Some(rest) = line.strip_prefix(tag)
                && rest.starts_with(' ')
            {
                return Some(Reply {
                    untagged,
                    tagged: line,
                });
            }
            if line.starts_with("+ ") {
                panic!("{}: unexpected continuation: {line}", self.name);
            }
            self.check_untagged(&line, rule);
            untagged.push(line);
        }
    }

    /// The model: what RFC 3501 lets a client assume about each response.
    fn check_untagged(&mut self, line: &str, rule: ExpungeRule) {
        let who = &self.name;
        if line.starts_with("* BYE") {
            return;
        }
        let Some(rest) = line.strip_prefix("* ") else {
            panic!("{who}: not a response line: {line}");
        };
        let (first, what) = rest.split_once(' ').unwrap_or((rest, ""));
        let Ok(n) = first.parse::<usize>() else {
            return; // FLAGS, OK [...], SEARCH, ...
        };
        let kind = what.split(' ').next().unwrap_or("");
        match kind {
            "EXISTS" => {
                // §7.3.1: EXISTS never shrinks without EXPUNGE.
                assert!(
                    n >= self.view.len(),
                    "{who}: EXISTS went from {} to {n}\n{}",
                    self.view.len(),
                    self.tail()
                );
                self.view.resize(n, None);
            }
            "RECENT" => assert!(n <= self.view.len(), "{who}: {line} > EXISTS"),
            "EXPUNGE" => {
                assert_eq!(
                    rule,
                    ExpungeRule::Allowed,
                    "{who}: EXPUNGE during FETCH/STORE/SEARCH (RFC 3501 §7.4.1): {line}\n{}",
                    self.tail()
                );
                assert!(
                    n >= 1 && n <= self.view.len(),
                    "{who}: {line} with EXISTS {}\n{}",
                    self.view.len(),
                    self.tail()
                );
                self.view.remove(n - 1);
            }
            "FETCH" => {
                assert!(
                    n >= 1 && n <= self.view.len(),
                    "{who}: {line} with EXISTS {}\n{}",
                    self.view.len(),
                    self.tail()
                );
                if let Some(uid) = uid_in(line) {
                    let slot = &mut self.view[n - 1];
                    if let Some(known) = *slot {
                        assert_eq!(known, uid, "{who}: message {n} changed UID: {line}");
                    }
                    // UIDs ascend with sequence numbers (RFC 3501 §2.3.1.1).
                    *slot = Some(uid);
                    let before = self.view[..n - 1].iter().rev().find_map(|u| *u);
                    let after = self.view[n..].iter().find_map(|u| *u);
                    assert!(
                        before.is_none_or(|b| b < uid),
                        "{who}: UIDs out of order at {n}"
                    );
                    assert!(
                        after.is_none_or(|a| a > uid),
                        "{who}: UIDs out of order at {n}"
                    );
                }
            }
            _ => {}
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rule_for(command: &str) -> ExpungeRule {
    let word = command.split(' ').next().unwrap_or("").to_ascii_uppercase();
    if matches!(word.as_str(), "FETCH" | "STORE" | "SEARCH") {
        ExpungeRule::Forbidden
    } else {
        ExpungeRule::Allowed
    }
}

fn wait_child(child: &mut Child, deadline: Instant) -> ExitStatus {
    loop {
        if let Some(status) = child.try_wait().expect("waiting for the server") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("server did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads response lines; a literal `{n}` is read and inlined (as text).
fn read_lines(stdout: impl Read, tx: mpsc::Sender<String>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut logical = Vec::new();
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => {
                    if !logical.is_empty() {
                        let _ = tx.send(String::from_utf8_lossy(&logical).into_owned());
                    }
                    return;
                }
                Ok(_) => {}
            }
            let trimmed = line.strip_suffix(b"\r\n").unwrap_or(&line);
            logical.extend_from_slice(trimmed);
            match literal_length(trimmed) {
                Some(n) => {
                    // A literal cut short (the server died) is passed on as
                    // far as it came, so the test can see what was said.
                    let mut literal = Vec::with_capacity(n.min(1 << 20));
                    let got = (&mut reader).take(n as u64).read_to_end(&mut literal);
                    logical.extend_from_slice(b"\r\n");
                    logical.extend_from_slice(&literal);
                    if got.is_err() || literal.len() < n {
                        let _ = tx.send(String::from_utf8_lossy(&logical).into_owned());
                        return;
                    }
                }
                None => break,
            }
        }
        if tx
            .send(String::from_utf8_lossy(&logical).into_owned())
            .is_err()
        {
            return;
        }
    }
}

fn literal_length(line: &[u8]) -> Option<usize> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&inner[open + 1..]).ok()?.parse().ok()
}

/// `* n FETCH (...)` → (n, the parenthesised part).
pub fn fetch_parts(line: &str) -> Option<(u32, &str)> {
    let rest = line.strip_prefix("* ")?;
    let (n, what) = rest.split_once(' ')?;
    let items = what.strip_prefix("FETCH ")?;
    Some((n.parse().ok()?, items))
}

/// The number after `UID ` in a FETCH line.
pub fn uid_in(line: &str) -> Option<u32> {
    let at = line.find("UID ")?;
    line[at + 4..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The flags in `FLAGS (...)` of a FETCH line.
pub fn flags_in(line: &str) -> Option<Vec<String>> {
    let at = line.find("FLAGS (")?;
    let rest = &line[at + 7..];
    let end = rest.find(')')?;
    Some(rest[..end].split_whitespace().map(str::to_owned).collect())
}

/// The `<id>` of a Message-ID header inside a FETCH line (without the
/// `@write-tests` suffix our messages carry).
pub fn message_id_in(line: &str) -> Option<String> {
    let lower = line.to_ascii_lowercase();
    let at = lower.find("message-id:")?;
    let rest = &line[at + 11..];
    let open = rest.find('<')?;
    let close = rest[open..].find('>')?;
    let id = &rest[open + 1..open + close];
    Some(id.strip_suffix("@write-tests").unwrap_or(id).to_owned())
}

/// Appends `messages` to `path` as an external program would: under the
/// dotlock (`path.lock`, created exclusively) with LF line ends and From_
/// lines. Used where procmail is not the point of the test.
pub fn deliver_externally(path: &Path, messages: &[TestMessage]) {
    let lock = PathBuf::from(format!("{}.lock", path.display()));
    let deadline = Instant::now() + REPLY_TIMEOUT;
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(_) => break,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("cannot take {}: {e}", lock.display()),
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("opening the mailbox to append");
    let bytes = mbox_of(messages);
    // A separator blank line is already at the end of what we append; the
    // existing file ends with one too (it was written by us or the server).
    file.write_all(&bytes).expect("appending");
    file.sync_all().expect("fsync");
    std::fs::remove_file(&lock).expect("removing the dotlock");
}

/// Expectations for tests/python/write_check.py.
#[derive(Debug, Default)]
pub struct Expect {
    /// Message-ID → stored body: must be present exactly once, body identical.
    pub present: BTreeMap<String, Vec<u8>>,
    /// Message-IDs that must be absent (expunged).
    pub absent: Vec<String>,
    /// Message-ID → system flag letters that must be set (R, A, F, D, T).
    pub flags: BTreeMap<String, String>,
    /// Message-ID → keywords that must be in X-Keywords.
    pub keywords: BTreeMap<String, Vec<String>>,
    /// Whether messages other than those named may be present.
    pub others_allowed: bool,
}

impl Expect {
    pub fn present(&mut self, m: &TestMessage) {
        self.present.insert(m.id.clone(), m.stored_body.clone());
    }

    fn to_json(&self) -> String {
        fn s(x: &str) -> String {
            let mut out = String::from("\"");
            for c in x.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let present: Vec<String> = self
            .present
            .iter()
            .map(|(k, v)| format!("{}: {}", s(k), s(&hex(v))))
            .collect();
        let absent: Vec<String> = self.absent.iter().map(|a| s(a)).collect();
        let flags: Vec<String> = self
            .flags
            .iter()
            .map(|(k, v)| format!("{}: {}", s(k), s(v)))
            .collect();
        let keywords: Vec<String> = self
            .keywords
            .iter()
            .map(|(k, v)| {
                let list: Vec<String> = v.iter().map(|x| s(x)).collect();
                format!("{}: [{}]", s(k), list.join(", "))
            })
            .collect();
        format!(
            "{{\"present\": {{{}}}, \"absent\": [{}], \"flags\": {{{}}}, \"keywords\": {{{}}}, \"others_allowed\": {}}}",
            present.join(", "),
            absent.join(", "),
            flags.join(", "),
            keywords.join(", "),
            self.others_allowed
        )
    }
}

/// Checks the mbox at `path` with Python's `mailbox.mbox` against `expect`
/// (tests/python/write_check.py). Needs python3 ([`require`] it first).
pub fn check_mbox(path: &Path, expect: &Expect) {
    let json = path.with_extension("expect.json");
    std::fs::write(&json, expect.to_json()).expect("writing expectations");
    run_python(
        "write_check.py",
        &[path.display().to_string(), json.display().to_string()],
        Duration::from_secs(300),
    );
}

/// Runs `tests/python/<script>` with python3 and a deadline; fails with its
/// output unless it exits 0.
pub fn run_python(script: &str, args: &[String], limit: Duration) {
    python_script::run(Path::new("python3"), script, args, limit);
}
