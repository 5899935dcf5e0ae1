//! Shared by tests/mutt.rs and tests/alpine.rs: a real mail client on a
//! terminal (tmux on a private socket, so no other tmux server is touched),
//! its IMAP connections recorded by the tunnel script it starts, and the
//! mailboxes it works on, copied into a temp dir.
//!
//! - **Recording.** The client starts `tunnel` (mutt's `tunnel`, alpine's
//!   `ssh-path`): a shell script that runs the built server with `--preauth`
//!   between two `tee`s, one pair of files per connection
//!   (`traffic/<pid>.c2s`, `.s2c`), so each connection's tags can be matched.
//! - **No hang.** Every wait polls the screen for at most [`WAIT`]; on timeout
//!   it panics with the screen and the recorded traffic. Dropping the
//!   [`Terminal`] kills its tmux server, which ends the client, whose tunnel
//!   then ends the server.
//! - **The mbox afterwards.** [`messages`] splits an mbox file at its From_
//!   lines and [`without_metadata`] removes the UW metadata headers the
//!   server writes (Status, X-Status, X-Keywords, X-UID, X-IMAPbase, X-IMAP),
//!   so a message can be compared byte for byte with the fixture it came from.

#![allow(dead_code)] // Each client test uses a different subset.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_mbox-imapd");

/// How long one screen may take to appear.
pub const WAIT: Duration = Duration::from_secs(15);

/// Whether `program` is on PATH. A missing one fails the test under CI=true
/// and skips it (with a notice) elsewhere.
pub fn available(program: &str, package: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{program} is required in CI (Debian package {package})");
    }
    println!("NOTICE: {program} (package {package}) not installed; skipping this test");
    false
}

/// One IMAP connection as the tunnel recorded it.
pub struct Connection {
    pub name: String,
    pub client: String,
    pub server: String,
}

impl Connection {
    /// The client's command lines (tag first).
    pub fn commands(&self) -> Vec<&str> {
        self.client
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.is_empty() && *l != "DONE")
            .collect()
    }

    /// The server's tagged status for `tag`: "OK ...", "NO ...", "BAD ...".
    pub fn status_of(&self, tag: &str) -> Option<&str> {
        let prefix = format!("{tag} ");
        self.server
            .split("\r\n")
            .find_map(|l| l.strip_prefix(prefix.as_str()))
    }
}

/// The temp dir a client and the server share: `inbox`, `mail/`, the tunnel
/// script, the traffic it records, the client's own files.
pub struct Home {
    dir: TempDir,
}

impl Home {
    pub fn new(inbox: &[u8]) -> Home {
        let home = Home {
            dir: tempfile::tempdir().unwrap(),
        };
        fs::create_dir_all(home.mail()).unwrap();
        fs::create_dir_all(home.traffic()).unwrap();
        fs::write(home.inbox(), inbox).unwrap();
        let script = format!(
            "#!/bin/sh\n\
             # One IMAP connection; $$ (this shell) names its traffic files.\n\
             log='{traffic}'/$$\n\
             tee \"$log.c2s\" | TZ=UTC '{BIN}' --preauth --inbox '{inbox}' --mail-dir '{mail}' \
             --home '{root}' --log stderr 2>>\"$log.err\" | tee \"$log.s2c\"\n",
            traffic = home.traffic().display(),
            inbox = home.inbox().display(),
            mail = home.mail().display(),
            root = home.root().display(),
        );
        fs::write(home.tunnel(), script).unwrap();
        let status = Command::new("chmod")
            .arg("755")
            .arg(home.tunnel())
            .status()
            .unwrap();
        assert!(status.success());
        home
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn inbox(&self) -> PathBuf {
        self.root().join("inbox")
    }
    pub fn mail(&self) -> PathBuf {
        self.root().join("mail")
    }
    pub fn traffic(&self) -> PathBuf {
        self.root().join("traffic")
    }
    pub fn tunnel(&self) -> PathBuf {
        self.root().join("tunnel")
    }

    /// Every connection recorded so far, oldest first.
    pub fn connections(&self) -> Vec<Connection> {
        connections(&self.traffic())
    }

    /// Every command line the client sent, over all connections.
    pub fn commands(&self) -> Vec<String> {
        self.connections()
            .iter()
            .flat_map(|c| c.commands().into_iter().map(String::from))
            .collect()
    }

    /// Panics unless the client sent `line` (tag excluded) on some connection.
    pub fn assert_sent(&self, line: &str) {
        let sent = self.commands();
        assert!(
            sent.iter()
                .any(|c| c.split_once(' ').is_some_and(|(_, rest)| rest == line)),
            "the client never sent {line:?}; it sent:\n{}",
            sent.join("\n")
        );
    }

    /// Panics unless every command got a tagged OK, except the lines in
    /// `refused` (tag excluded): each must have been sent, and its first
    /// answer must start with the paired prefix (e.g. `NO [TRYCREATE]`).
    pub fn assert_all_ok(&self, refused: &[(&str, &str)]) {
        let mut expected: Vec<(&str, &str)> = refused.to_vec();
        for c in self.connections() {
            for line in c.commands() {
                let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
                let status = c.status_of(tag).unwrap_or_else(|| {
                    panic!("{}: no tagged answer to {line:?}:\n{}", c.name, c.server)
                });
                if let Some(i) = expected.iter().position(|(l, _)| *l == rest) {
                    let (_, answer) = expected.remove(i);
                    assert!(status.starts_with(answer), "{line:?} got {status:?}");
                } else {
                    assert!(status.starts_with("OK"), "{line:?} got {status:?}");
                }
            }
        }
        assert!(expected.is_empty(), "never sent: {expected:?}");
    }
}

fn connections(dir: &Path) -> Vec<Connection> {
    let mut names: Vec<(std::time::SystemTime, String)> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let stem = name.strip_suffix(".c2s")?.to_owned();
                    Some((e.metadata().ok()?.modified().ok()?, stem))
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .map(|(_, stem)| {
            let read = |ext: &str| {
                let bytes = fs::read(dir.join(format!("{stem}.{ext}"))).unwrap_or_default();
                String::from_utf8_lossy(&bytes).into_owned()
            };
            Connection {
                client: read("c2s"),
                server: read("s2c"),
                name: stem,
            }
        })
        .collect()
}

/// A client on a 120x30 terminal in its own tmux server.
pub struct Terminal {
    socket: PathBuf,
    traffic: PathBuf,
    tunnel: PathBuf,
    exit_status: PathBuf,
}

impl Terminal {
    /// Runs `command` (a shell command line) in `home`, with `TZ=UTC` and a
    /// UTF-8 locale. Its exit status lands in a file (tmux's own pane_dead
    /// status proved racy), read by [`Terminal::wait_exit`].
    pub fn start(home: &Home, command: &str) -> Terminal {
        let conf = home.root().join("tmux.conf");
        fs::write(&conf, "set -g status off\n").unwrap();
        let terminal = Terminal {
            socket: home.root().join("tmux.sock"),
            traffic: home.traffic(),
            tunnel: home.tunnel(),
            exit_status: home.root().join("exit-status"),
        };
        let line = format!(
            "cd '{root}' && env HOME='{root}' TZ=UTC LC_ALL=C.UTF-8 {command}; echo $? > '{status}'",
            root = home.root().display(),
            status = terminal.exit_status.display(),
        );
        let status = Command::new("tmux")
            .arg("-S")
            .arg(&terminal.socket)
            .arg("-f")
            .arg(&conf)
            .args(["new-session", "-d", "-s", "t", "-x", "120", "-y", "30"])
            .arg(line)
            .status()
            .unwrap();
        assert!(status.success(), "tmux new-session failed");
        terminal
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Key names as tmux knows them ("Enter", "C-u", "Down", "q").
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Literal text, as typed.
    pub fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", "--", text]);
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
    }

    /// Presses `keys`, then waits for the screen to show `then`.
    pub fn step(&self, keys: &[&str], then: &str) -> String {
        self.keys(keys);
        self.wait_for(then)
    }

    /// Waits until the screen shows `needle`, and returns that screen.
    pub fn wait_for(&self, needle: &str) -> String {
        self.wait_until(needle, |s| s.contains(needle))
    }

    /// Waits until `ready` holds for the screen, and returns that screen.
    pub fn wait_until(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            if start.elapsed() > WAIT {
                self.fail(&format!("timed out waiting for {what:?}"), &screen);
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the client to exit; returns its exit status.
    pub fn wait_exit(&self) -> i32 {
        let start = Instant::now();
        loop {
            if let Ok(code) = fs::read_to_string(&self.exit_status)
                .unwrap_or_default()
                .trim()
                .parse()
            {
                return code;
            }
            if start.elapsed() > WAIT {
                self.fail("timed out waiting for the client to exit", &self.screen());
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn fail(&self, why: &str, screen: &str) -> ! {
        let mut traffic = String::new();
        for c in connections(&self.traffic) {
            traffic.push_str(&format!(
                "--- connection {}: client\n{}\n--- server\n{}\n",
                c.name, c.client, c.server
            ));
        }
        let status = fs::read_to_string(&self.exit_status).unwrap_or_default();
        panic!("{why}; client exit status {status:?}; screen:\n{screen}\ntraffic:\n{traffic}");
    }
}

impl Drop for Terminal {
    /// Ends the client (its terminal goes away), then any tunnel still
    /// running: each tunnel shell named its traffic files by its pid, and is
    /// ended with its children only while /proc says it is still our script.
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
        for c in connections(&self.traffic) {
            let cmdline = fs::read(format!("/proc/{}/cmdline", c.name)).unwrap_or_default();
            let ours = String::from_utf8_lossy(&cmdline).contains(&*self.tunnel.to_string_lossy());
            if ours {
                let _ = Command::new("pkill").args(["-P", &c.name]).status();
                let _ = Command::new("kill").arg(&c.name).status();
            }
        }
    }
}

/// For each screen line, its first word that `pick` accepts: the order in
/// which an index screen lists messages.
pub fn column(screen: &str, pick: impl Fn(&str) -> bool) -> Vec<String> {
    screen
        .lines()
        .filter_map(|l| l.split_whitespace().find(|w| pick(w)).map(String::from))
        .collect()
}

const METADATA: [&str; 6] = [
    "Status:",
    "X-Status:",
    "X-Keywords:",
    "X-UID:",
    "X-IMAPbase:",
    "X-IMAP:",
];

/// The messages of an mbox file, each from its From_ line to the next (the
/// fixtures have no unquoted "From " line in a body), without UW's folder
/// pseudo-message.
pub fn messages(mbox: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for line in mbox.split_inclusive(|&b| b == b'\n') {
        match out.last_mut() {
            Some(m) if !line.starts_with(b"From ") => m.extend_from_slice(line),
            _ => out.push(line.to_vec()),
        }
    }
    out.retain(|m| {
        header(m, "Subject").as_deref() != Some("DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA")
    });
    out
}

/// The message without the metadata header lines the server keeps in it.
pub fn without_metadata(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut in_header = true;
    for line in message.split_inclusive(|&b| b == b'\n') {
        if line == b"\n" {
            in_header = false;
        }
        if in_header && METADATA.iter().any(|m| line.starts_with(m.as_bytes())) {
            continue;
        }
        out.extend_from_slice(line);
    }
    out
}

/// The message without its From_ line and metadata: what a COPY must keep.
pub fn content(message: &[u8]) -> Vec<u8> {
    let stripped = without_metadata(message);
    match stripped.iter().position(|&b| b == b'\n') {
        Some(i) => stripped[i + 1..].to_vec(),
        None => stripped,
    }
}

/// The value of the first header field `name` (unfolded lines only).
pub fn header(message: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let prefix = format!("{name}:");
    text.lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix(prefix.as_str()).map(|v| v.trim().to_owned()))
}

/// The mbox file at `path`, split into messages.
pub fn read_messages(path: &Path) -> Vec<Vec<u8>> {
    messages(&fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Six messages in arrival order, three threads by References:
/// 1 Alice "Apple pie recipe" <- 3 Carol <- 6 Frank; 2 Bob "Zebra crossing"
/// <- 5 Erin; 4 Dave "Mango season" alone.
pub fn small_inbox() -> Vec<Vec<u8>> {
    let messages = [
        ("alice", "Apple pie recipe", "a1", None),
        ("bob", "Zebra crossing", "z1", None),
        ("carol", "Re: Apple pie recipe", "a2", Some("a1")),
        ("dave", "Mango season", "m1", None),
        ("erin", "Re: Zebra crossing", "z2", Some("z1")),
        ("frank", "Re: Apple pie recipe", "a3", Some("a2")),
    ];
    messages
        .iter()
        .enumerate()
        .map(|(i, (who, subject, id, parent))| {
            let n = i + 1;
            let name = format!("{}{}", who[..1].to_uppercase(), &who[1..]);
            let mut m = format!(
                "From {who}@example.org Mon Nov  2 1{n}:00:00 2026\n\
                 From: {name} <{who}@example.org>\n\
                 To: user@example.org\n\
                 Subject: {subject}\n\
                 Date: Mon, 2 Nov 2026 1{n}:00:00 +0000\n\
                 Message-ID: <{id}@example.org>\n"
            );
            if let Some(p) = parent {
                m.push_str(&format!(
                    "In-Reply-To: <{p}@example.org>\nReferences: <{p}@example.org>\n"
                ));
            }
            m.push_str(&format!(
                "\nBody line of message {n} from {who}.\n>From a quoted line.\n\n"
            ));
            m.into_bytes()
        })
        .collect()
}

/// A folder `Archive` with one old message.
pub fn archive_message() -> Vec<u8> {
    b"From old@example.org Sun Nov  1 09:00:00 2026\n\
      From: Old <old@example.org>\n\
      Subject: old news\n\
      Date: Sun, 1 Nov 2026 09:00:00 +0000\n\
      Message-ID: <old@example.org>\n\n\
      Old body.\n\n"
        .to_vec()
}

/// Panics unless the mbox at `path` holds exactly `expected` (fixture
/// messages, From_ line included), ignoring only the metadata headers.
pub fn assert_mbox(path: &Path, expected: &[&[u8]]) {
    let found: Vec<Vec<u8>> = read_messages(path)
        .iter()
        .map(|m| without_metadata(m))
        .collect();
    let want: Vec<Vec<u8>> = expected.iter().map(|m| m.to_vec()).collect();
    assert!(
        found == want,
        "{}:\nfound:\n{}\nexpected:\n{}",
        path.display(),
        found
            .iter()
            .map(|m| String::from_utf8_lossy(m))
            .collect::<Vec<_>>()
            .join("|"),
        want.iter()
            .map(|m| String::from_utf8_lossy(m))
            .collect::<Vec<_>>()
            .join("|"),
    );
}
