//! COMPRESS=DEFLATE (RFC 4978) through the wire: the server binary over
//! pipes, a client that deflates what it sends and inflates what it reads
//! (flate2, raw DEFLATE), every inflated response checked by imap-codec as
//! in the other tests (tests/common).
//!
//! - **Each response is decodable when it arrives.** The client inflates
//!   whatever octets it has; it never sends anything to make the server
//!   write more. A response the server left in its compressor would hang the
//!   test until its deadline: that is what an IDLE push or a `+ `
//!   continuation would do to a real client without a sync flush.
//! - **Bad input ends the session cleanly**: corrupt DEFLATE data gets a
//!   compressed `* BYE`, then end of stream, a normal exit and no panic.
//! - **The SIGBUS path**: a mailbox truncated under the map while a FETCH
//!   reads it ends with a BYE the client can still decode.

mod common;
mod write_support;

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use common::ClientDeflate;
use write_support::{Dir, deliver_externally, mbox_of, message};

/// Generous: debug builds on a shared CI machine.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// A client speaking compressed IMAP to the server binary.
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    chunks: Receiver<Vec<u8>>,
    /// Octets read from the server and not yet inflated (before COMPRESS:
    /// plaintext not yet taken as responses).
    wire: Vec<u8>,
    /// Inflated octets not yet taken as responses.
    plain: Vec<u8>,
    /// Both directions of DEFLATE, used once `compressed`.
    deflate: ClientDeflate,
    compressed: bool,
    eof: bool,
}

impl Client {
    fn start(dir: &Dir) -> Client {
        let mut child = Command::new(common::server_bin())
            .args(dir.server_args())
            .env("TZ", "UTC")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, chunks) = mpsc::channel();
        std::thread::spawn(move || common::pump(stdout, tx));
        let mut client = Client {
            stdin: child.stdin.take(),
            child,
            chunks,
            wire: Vec::new(),
            plain: Vec::new(),
            deflate: ClientDeflate::new(),
            compressed: false,
            eof: false,
        };
        let greeting = client.response().expect("greeting");
        common::check_greeting(&greeting).unwrap();
        let text = String::from_utf8_lossy(&greeting).into_owned();
        assert!(text.starts_with("* PREAUTH"), "{text}");
        assert!(text.contains(" COMPRESS=DEFLATE"), "{text}");
        client
    }

    /// Sends `bytes`, deflated and sync-flushed once COMPRESS is on.
    fn send(&mut self, bytes: &[u8]) {
        let out = if self.compressed {
            self.deflate.deflate(bytes)
        } else {
            bytes.to_vec()
        };
        self.send_raw(&out);
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("writing to the server");
        stdin.flush().expect("flushing to the server");
    }

    /// Sends `COMPRESS DEFLATE` and turns compression on after its OK; the
    /// OK itself arrives in plaintext (RFC 4978 §3).
    fn start_compression(&mut self, tag: &str) {
        self.send(format!("{tag} COMPRESS DEFLATE\r\n").as_bytes());
        let ok = self.response().expect("COMPRESS answer");
        assert_eq!(ok, format!("{tag} OK DEFLATE active\r\n").as_bytes());
        self.compressed = true;
        // Anything that came with the OK is already compressed.
        let rest = std::mem::take(&mut self.plain);
        self.wire = rest;
    }

    /// The next complete response, waiting at most [`REPLY_TIMEOUT`];
    /// `None` at end of stream. Checked by imap-codec (greeting aside).
    fn response(&mut self) -> Option<Vec<u8>> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            self.inflate_pending();
            if let Some(n) = common::response_len(&self.plain) {
                let response: Vec<u8> = self.plain.drain(..n).collect();
                if !response.starts_with(b"* PREAUTH") {
                    common::check_with_imap_codec(&response).unwrap();
                }
                return Some(response);
            }
            if self.eof {
                assert!(
                    self.plain.is_empty(),
                    "partial response at EOF: {:?}",
                    String::from_utf8_lossy(&self.plain)
                );
                return None;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.wire.extend_from_slice(&chunk),
                Err(RecvTimeoutError::Disconnected) => self.eof = true,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no complete response within {REPLY_TIMEOUT:?}; have {:?} inflated, \
                     {} octets compressed",
                    String::from_utf8_lossy(&self.plain),
                    self.wire.len()
                ),
            }
        }
    }

    /// Moves what the wire holds into `plain`, inflating after COMPRESS.
    fn inflate_pending(&mut self) {
        let wire = std::mem::take(&mut self.wire);
        if !self.compressed {
            self.plain.extend_from_slice(&wire);
            return;
        }
        let plain = self.deflate.inflate(&wire).unwrap();
        self.plain.extend_from_slice(&plain);
    }

    /// Sends `tag command` and returns every response up to the tagged one.
    fn command(&mut self, tag: &str, command: &str) -> Vec<String> {
        self.send(format!("{tag} {command}\r\n").as_bytes());
        self.until_tagged(tag)
    }

    fn until_tagged(&mut self, tag: &str) -> Vec<String> {
        let mut responses = Vec::new();
        loop {
            let Some(r) = self.response() else {
                panic!("end of stream before {tag}'s completion: {responses:?}");
            };
            let text = String::from_utf8_lossy(&r).into_owned();
            let done = text.starts_with(&format!("{tag} "));
            responses.push(text);
            if done {
                return responses;
            }
        }
    }

    /// Waits for the server to exit; its stderr (the log) for the caller.
    fn wait_exit(mut self) -> (ExitStatus, String) {
        drop(self.stdin.take());
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting") {
                let mut log = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = e.read_to_string(&mut log);
                }
                return (status, log);
            }
            assert!(Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn inbox_of(n: usize) -> Dir {
    let msgs: Vec<_> = (0..n).map(|i| message(&format!("c{i}"), i)).collect();
    Dir::with_inbox(&mbox_of(&msgs))
}

/// A long compressed session: SELECT, FETCH of every body, APPEND with a
/// synchronizing literal (the `+ ` must arrive on its own), IDLE with new
/// mail pushed while the client is silent, a second COMPRESS, LOGOUT.
#[test]
fn a_compressed_session_from_select_to_logout() {
    let dir = inbox_of(40);
    let mut c = Client::start(&dir);
    c.start_compression("a");

    let select = c.command("b", "SELECT INBOX");
    assert!(
        select.contains(&"* 40 EXISTS\r\n".to_string()),
        "{select:?}"
    );
    assert!(select.last().unwrap().starts_with("b OK [READ-WRITE]"));

    let before = c.deflate.totals();
    let fetch = c.command("c", "FETCH 1:* (UID FLAGS BODY.PEEK[])");
    assert_eq!(fetch.len(), 41, "40 FETCH and the completion");
    for (i, line) in fetch.iter().take(40).enumerate() {
        let id = format!("Message-ID: <c{i}@write-tests>");
        assert!(line.contains(&id), "{i}: {line}");
    }
    let after = c.deflate.totals();
    let (wire, plain) = (after.0 - before.0, after.1 - before.1);
    assert!(
        wire * 2 < plain,
        "mail text compresses: {wire} octets on the wire for {plain}"
    );

    // APPEND with a synchronizing literal: the continuation request is
    // decodable before we send another octet.
    let body = message("appended", 3).wire;
    c.send(format!("d APPEND INBOX {{{}}}\r\n", body.len()).as_bytes());
    let plus = c.response().expect("continuation");
    assert!(
        plus.starts_with(b"+ "),
        "{:?}",
        String::from_utf8_lossy(&plus)
    );
    c.send(&body);
    c.send(b"\r\n");
    let append = c.until_tagged("d");
    assert!(
        append.last().unwrap().starts_with("d OK [APPENDUID "),
        "{append:?}"
    );

    // IDLE: `+ idling`, then new mail delivered by another program arrives
    // as a push, compressed and complete, while the client says nothing.
    c.send(b"e IDLE\r\n");
    let idling = c.response().expect("IDLE continuation");
    assert_eq!(idling, b"+ idling\r\n");
    let started = Instant::now();
    deliver_externally(&dir.inbox, &[message("pushed", 5)]);
    let mut pushed = Vec::new();
    loop {
        let r = String::from_utf8(c.response().expect("IDLE push")).unwrap();
        let done = r.ends_with(" EXISTS\r\n");
        pushed.push(r);
        if done {
            break;
        }
    }
    assert_eq!(pushed.last().unwrap(), "* 42 EXISTS\r\n", "{pushed:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "push took {:?}",
        started.elapsed()
    );
    c.send(b"DONE\r\n");
    let done = c.until_tagged("e");
    assert_eq!(done.last().unwrap(), "e OK IDLE terminated\r\n");

    // RFC 4978 §3: compression is already active.
    let again = c.command("f", "COMPRESS DEFLATE");
    assert_eq!(
        again,
        ["f NO [COMPRESSIONACTIVE] DEFLATE compression is already active\r\n"]
    );
    let bad = c.command("g", "COMPRESS GZIP");
    assert_eq!(bad, ["g BAD Unknown compression algorithm GZIP\r\n"]);

    let logout = c.command("h", "LOGOUT");
    assert!(logout[0].starts_with("* BYE"), "{logout:?}");
    assert_eq!(logout[1], "h OK LOGOUT completed\r\n");
    assert_eq!(c.response(), None, "end of stream after LOGOUT");
    let (status, log) = c.wait_exit();
    assert!(status.success(), "{status}\n{log}");
    assert!(
        log.contains("event=compress algorithm=DEFLATE"),
        "the switch is logged:\n{log}"
    );
    assert!(
        log.contains(" compressed_in=") && log.contains(" compressed_out="),
        "the summary counts the wire:\n{log}"
    );
    assert!(!log.contains("panic"), "{log}");
}

/// Compressed octets sent right behind the command, before our OK was seen,
/// are inflated, not parsed as plaintext.
#[test]
fn early_compressed_input_is_inflated() {
    let dir = inbox_of(3);
    let mut c = Client::start(&dir);
    let mut early = b"a COMPRESS DEFLATE\r\n".to_vec();
    early.extend(c.deflate.deflate(b"b NOOP\r\n"));
    c.send_raw(&early);
    let ok = c.response().expect("COMPRESS answer");
    assert_eq!(ok, b"a OK DEFLATE active\r\n");
    c.compressed = true;
    c.wire = std::mem::take(&mut c.plain);
    assert_eq!(c.until_tagged("b"), ["b OK NOOP completed\r\n"]);
    let logout = c.command("z", "LOGOUT");
    assert_eq!(logout.len(), 2, "{logout:?}");
}

/// Corrupt compressed input: a compressed BYE, end of stream, a normal exit,
/// logged; no panic. Pending flag changes are still written.
#[test]
fn corrupt_compressed_input_ends_the_session_with_bye() {
    let dir = inbox_of(3);
    let mut c = Client::start(&dir);
    c.start_compression("a");
    c.command("b", "SELECT INBOX");
    c.command("c", "STORE 2 +FLAGS.SILENT (\\Flagged)");
    // Block type 11 is reserved (RFC 1951 §3.2.3).
    c.send_raw(&[0xff, 0xff, 0xff, 0xff]);
    let bye = c.response().expect("BYE");
    assert_eq!(bye, b"* BYE Corrupt compressed input\r\n");
    assert_eq!(c.response(), None);
    let (status, log) = c.wait_exit();
    assert!(status.success(), "{status}\n{log}");
    assert!(log.contains("event=corrupt-input"), "{log}");
    assert!(log.contains("end=corrupt-input"), "{log}");
    assert!(!log.contains("panic"), "{log}");
    let mbox = std::fs::read_to_string(&dir.inbox).unwrap();
    assert!(
        mbox.contains("X-Status: F"),
        "the STORE was written:\n{mbox}"
    );
}

/// COMPRESS is an authenticated-state command; before that, and with an
/// unknown algorithm, the session stays uncompressed.
#[test]
fn refused_compress_leaves_the_stream_plain() {
    let dir = inbox_of(1);
    let mut c = Client::start(&dir);
    assert_eq!(
        c.command("a", "COMPRESS LZ4"),
        ["a BAD Unknown compression algorithm LZ4\r\n"]
    );
    assert_eq!(c.command("b", "NOOP"), ["b OK NOOP completed\r\n"]);
    c.start_compression("c");
    assert_eq!(c.command("d", "NOOP"), ["d OK NOOP completed\r\n"]);
}

/// The SIGBUS handler writes to fd 1 behind the layers: with DEFLATE at a
/// sync point it sends the BYE as a final block, so the client still
/// decodes everything. (Whether the FETCH meets a vanished page depends on
/// the kernel's page cache; either way the stream must stay valid and the
/// session must end with a BYE and no death by signal.)
#[test]
fn truncation_under_a_compressed_fetch_ends_with_a_decodable_bye() {
    let dir = inbox_of(300);
    let mut c = Client::start(&dir);
    c.start_compression("a");
    c.command("b", "SELECT INBOX");
    c.command("c", "CHECK");
    let full = std::fs::metadata(&dir.inbox).unwrap().len();
    let cut = 2 * 4096 + 123;
    assert!(full > 8 * cut);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&dir.inbox)
        .unwrap()
        .set_len(cut)
        .unwrap();
    c.send(b"d FETCH 1:* BODY.PEEK[]\r\n");
    let mut bye = None;
    while let Some(r) = c.response() {
        let text = String::from_utf8_lossy(&r).into_owned();
        if text.starts_with("* BYE") {
            bye = Some(text.clone());
        }
        if text.starts_with("d ") {
            c.send(b"e NOOP\r\n");
        }
    }
    let bye = bye.expect("a BYE before the end");
    assert!(
        bye.contains("truncated") || bye.contains("changed"),
        "{bye}"
    );
    if bye == "* BYE Mailbox was truncated by another program\r\n" {
        assert!(c.deflate.stream_ended, "the handler's BYE is a final block");
    }
    let (status, log) = c.wait_exit();
    assert!(
        status.signal().is_none(),
        "died by a signal: {status}\n{log}"
    );
}

/// A small compressed command that inflates to 50 MB of one line meets the
/// framer's line limit like plaintext would: BAD, the session goes on, and
/// memory stays bounded (inflating goes in read-sized steps).
#[test]
fn a_compressed_flood_meets_the_framer_limits() {
    let dir = inbox_of(1);
    let mut c = Client::start(&dir);
    c.start_compression("a");
    let mut flood = b"x NOOP ".to_vec();
    flood.resize(50 * 1024 * 1024, b'A');
    flood.extend_from_slice(b"\r\n");
    let wire = c.deflate.deflate(&flood);
    assert!(wire.len() < 200 * 1024, "{} octets", wire.len());
    c.send_raw(&wire);
    let bad = String::from_utf8(c.response().expect("BAD")).unwrap();
    assert!(bad.starts_with("x BAD Command line too long"), "{bad}");
    assert_eq!(c.command("b", "NOOP"), ["b OK NOOP completed\r\n"]);
    c.command("z", "LOGOUT");
    let (status, log) = c.wait_exit();
    assert!(status.success(), "{status}\n{log}");
    let peak_kb: u64 = log
        .split("peak_rss_kb=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("peak_rss_kb in the summary");
    eprintln!("peak RSS after the flood: {peak_kb} kB");
    assert!(peak_kb < 40 * 1024, "peak RSS {peak_kb} kB\n{log}");
}
