//! Golden transcripts: `tests/transcripts/*.imap` played against the real server.
//!
//! File format (one item per line, LF line ends; the runner sends CRLF):
//!
//! ```text
//! # fixture: uw-session.mbox      (required; `none` = INBOX file does not exist)
//! # may-write: yes                (optional; default: the INBOX must stay byte-identical)
//! # config: support_url = https://x (optional, repeatable: a line of the configuration file)
//! # any other comment
//! S: * PREAUTH [CAPABILITY ...] {any}      <- the greeting, before the first C: line
//! C: a1 SELECT INBOX
//! S: * 30 EXISTS
//! S: a1 OK [READ-WRITE] SELECT completed
//! ```
//!
//! `S:` lines are compared byte for byte, except that `{any}` matches any run of bytes
//! within one line (use it for server-chosen free text and varying values such as a
//! fresh UIDVALIDITY). Literal contents appear as the `S:` lines they contain once
//! split at CRLF, so a FETCH of a body is written out line by line.
//!
//! Client side: after a `C:` line the runner reads up to the tagged completion of that
//! command's tag. A line ending in a synchronizing literal `{n}` makes it read exactly
//! one response instead (the `+` continuation, or a refusal); `{n+}` reads nothing. The
//! next `C:` line then carries the literal's octets. A command whose first word is not
//! a valid tag ends at the first `BAD` response.
//!
//! COMPRESS (RFC 4978): after the OK to a `COMPRESS DEFLATE` line the runner
//! deflates what it sends and inflates what it reads (each piece sync-flushed,
//! as clients do); the `S:` and `C:` lines stay the plaintext.
//!
//! On a mismatch the runner writes `<name>.actual` next to the transcript (the same
//! file with the server's real `S:` lines) and fails naming that path; `diff` the two.
//! Every transcript must end with LOGOUT; the server must then close and exit 0.
//! Run one transcript: `TRANSCRIPT=fetch-items cargo test --test transcripts`.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::{Inbox, Response, Session};

const ANY: &[u8] = b"{any}";

#[test]
fn golden_transcripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("transcripts");
    let only = std::env::var("TRANSCRIPT").ok();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "imap"))
        .filter(|p| {
            only.as_deref()
                .is_none_or(|o| p.file_stem().is_some_and(|s| s == o))
        })
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "Did not find any transcripts to run in {}",
        dir.display()
    );

    let mut failures = Vec::new();
    for path in &paths {
        // A split run only adds information when the whole-line run passed.
        match run_transcript(path, Feed::WholeLines) {
            Ok(()) => failures.extend(run_transcript(path, Feed::SplitLines).err()),
            Err(e) => failures.push(e),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} transcripts failed:\n\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n\n")
    );
    eprintln!("{} transcripts passed, whole and split", paths.len());
}

/// How client lines reach the server.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Feed {
    /// Each `C:` line and its CRLF in one write.
    WholeLines,
    /// Each `C:` line in two writes, cut in the middle, with a pause between, and the
    /// CR and LF in separate writes: the server must assemble commands from partial
    /// reads (style.md §4, "split at every byte boundary", done cheaply).
    SplitLines,
}

/// One line of a transcript file.
#[derive(Debug, Clone)]
enum Item {
    /// `#` lines and blank lines: kept in `.actual` as they are.
    Comment(Vec<u8>),
    Client(Vec<u8>),
    Server(Vec<u8>),
}

struct Transcript {
    fixture: Option<String>,
    may_write: bool,
    /// The `# config:` lines: the server's configuration file, if any.
    config: Option<String>,
    items: Vec<Item>,
}

fn parse_transcript(bytes: &[u8]) -> Result<Transcript, String> {
    let mut items = Vec::new();
    let mut fixture = None;
    let mut may_write = false;
    let mut config: Option<String> = None;
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    for (n, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(rest) = line.strip_prefix(b"C: ") {
            items.push(Item::Client(rest.to_vec()));
        } else if let Some(rest) = line.strip_prefix(b"S: ") {
            items.push(Item::Server(rest.to_vec()));
        } else if line.is_empty() || line.starts_with(b"#") {
            let text = String::from_utf8_lossy(line);
            if let Some(name) = text.strip_prefix("# fixture:") {
                let name = name.trim();
                fixture = Some((name != "none").then(|| name.to_string()));
            } else if let Some(flag) = text.strip_prefix("# may-write:") {
                may_write = flag.trim() == "yes";
            } else if let Some(setting) = text.strip_prefix("# config:") {
                let file: &mut String = config.get_or_insert_default();
                file.push_str(setting.trim());
                file.push('\n');
            }
            items.push(Item::Comment(line.to_vec()));
        } else {
            return Err(format!("line {}: expected `C: `, `S: ` or `#`", n + 1));
        }
    }
    let fixture = fixture.ok_or("missing `# fixture: NAME` header")?;
    Ok(Transcript {
        fixture,
        may_write,
        config,
        items,
    })
}

/// Plays one transcript; `Err` describes the failure (and names the `.actual` file).
fn run_transcript(path: &Path, feed: Feed) -> Result<(), String> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| format!("{name}: {e}"))?;
    let transcript = parse_transcript(&bytes).map_err(|e| format!("{name}: {e}"))?;

    // The actual transcript is built as we go, so that a panicking session (timeout,
    // crash, unparseable response) still leaves a useful `.actual` file.
    let actual = Arc::new(Mutex::new(Vec::<Item>::new()));
    let sink = Arc::clone(&actual);
    let played = panic::catch_unwind(AssertUnwindSafe(|| play(&transcript, feed, &sink)));
    let actual = actual.lock().map(|a| a.clone()).unwrap_or_default();

    let mismatch = match played {
        Err(payload) => Some(format!("session failed: {}", panic_text(&payload))),
        Ok(()) => first_mismatch(&transcript.items, &actual),
    };
    let Some(mismatch) = mismatch else {
        return Ok(());
    };
    let (actual_path, mismatch) = match feed {
        Feed::WholeLines => (path.with_extension("actual"), mismatch),
        Feed::SplitLines => (
            path.with_extension("split.actual"),
            format!("(client lines sent in pieces) {mismatch}"),
        ),
    };
    std::fs::write(&actual_path, render(&actual))
        .map_err(|e| format!("{name}: {mismatch}; writing {}: {e}", actual_path.display()))?;
    Err(format!(
        "{name}: {mismatch}\n  actual transcript written to {}\n  compare: diff {} {}",
        actual_path.display(),
        name,
        actual_path.display()
    ))
}

fn play(transcript: &Transcript, feed: Feed, actual: &Mutex<Vec<Item>>) {
    let record = |items: Vec<Item>| {
        if let Ok(mut a) = actual.lock() {
            a.extend(items);
        }
    };
    let inbox = match &transcript.fixture {
        Some(name) => Inbox::Fixture(name),
        None => Inbox::Missing,
    };
    let mut session = match &transcript.config {
        Some(config) => Session::start_with_config(inbox, config),
        None => Session::start(inbox),
    };
    let mut greeted = false;
    let mut tag: Vec<u8> = Vec::new();
    let mut in_literal = false;
    let mut saw_logout = false;

    for item in &transcript.items {
        match item {
            Item::Comment(_) => record(vec![item.clone()]),
            Item::Server(_) => {
                if !greeted {
                    record(server_lines(std::slice::from_ref(&session.greeting)));
                    greeted = true;
                }
            }
            Item::Client(line) => {
                if !greeted {
                    record(server_lines(std::slice::from_ref(&session.greeting)));
                    greeted = true;
                }
                record(vec![item.clone()]);
                if !in_literal {
                    tag = line
                        .split(|&b| b == b' ')
                        .next()
                        .unwrap_or_default()
                        .to_vec();
                    saw_logout |= is_logout(line);
                }
                send_line(&mut session, line, feed);
                let responses = match literal_kind(line) {
                    Literal::NonSync => {
                        in_literal = true;
                        Vec::new()
                    }
                    Literal::Sync => {
                        in_literal = true;
                        vec![session.read_response()]
                    }
                    Literal::None => {
                        in_literal = false;
                        read_completion(&mut session, &tag)
                    }
                };
                if is_compress(line) && responses.last().is_some_and(|r| r.status() == "OK") {
                    session.start_compression();
                }
                record(server_lines(&responses));
            }
        }
    }
    if !greeted {
        record(server_lines(std::slice::from_ref(&session.greeting)));
    }
    assert!(saw_logout, "the transcript must end with LOGOUT");
    let status = session.expect_exit();
    assert!(status.success(), "server exited with {status} after LOGOUT");
    // A session that only EXAMINEs must leave the file byte-identical; one that
    // SELECTs may record UW metadata (X-UID, Status: O ...), never change a message.
    let selects = transcript.items.iter().any(|item| match item {
        Item::Client(line) => line
            .to_ascii_uppercase()
            .windows(8)
            .any(|w| w == b" SELECT "),
        _ => false,
    });
    if !transcript.may_write && !selects {
        session.assert_inbox_unchanged();
    } else if !transcript.may_write {
        session.assert_inbox_messages_unchanged();
    }
}

fn send_line(session: &mut Session, line: &[u8], feed: Feed) {
    match feed {
        Feed::WholeLines => session.send_raw(&[line, b"\r\n"].concat()),
        Feed::SplitLines => {
            let (head, tail) = line.split_at(line.len() / 2);
            for piece in [head, tail, b"\r", b"\n"] {
                session.send_raw(piece);
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
}

/// Reads the responses to one command: up to its tagged completion, or — when the
/// command has no valid tag — up to the first BAD.
fn read_completion(session: &mut Session, tag: &[u8]) -> Vec<Response> {
    if is_valid_tag(tag) {
        return session.read_until_tagged(tag);
    }
    let mut out = Vec::new();
    loop {
        let r = session.read_response();
        let done = r.status() == "BAD";
        out.push(r);
        if done {
            return out;
        }
    }
}

/// RFC 3501 `tag = 1*<any ASTRING-CHAR except "+">`.
fn is_valid_tag(tag: &[u8]) -> bool {
    !tag.is_empty()
        && tag.iter().all(|&b| {
            b > b' '
                && b < 0x7f
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
        })
}

/// `tag COMPRESS DEFLATE` (RFC 4978), any case.
fn is_compress(line: &[u8]) -> bool {
    let words: Vec<Vec<u8>> = line
        .split(|&b| b == b' ')
        .map(|w| w.to_ascii_uppercase())
        .collect();
    matches!(words.as_slice(), [_, c, d] if c == b"COMPRESS" && d == b"DEFLATE")
}

fn is_logout(line: &[u8]) -> bool {
    let mut words = line.split(|&b| b == b' ');
    words.next();
    words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case(b"LOGOUT"))
}

enum Literal {
    None,
    Sync,
    NonSync,
}

/// Does this client line end in `{n}` or `{n+}` (RFC 3501 §4.3, RFC 7888)?
fn literal_kind(line: &[u8]) -> Literal {
    let Some(inner) = line.strip_suffix(b"}") else {
        return Literal::None;
    };
    let (digits, kind) = match inner.strip_suffix(b"+") {
        Some(d) => (d, Literal::NonSync),
        None => (inner, Literal::Sync),
    };
    let Some(open) = digits.iter().rposition(|&b| b == b'{') else {
        return Literal::None;
    };
    let n = &digits[open + 1..];
    if n.is_empty() || !n.iter().all(u8::is_ascii_digit) {
        return Literal::None;
    }
    kind
}

/// Responses as transcript lines: split at CRLF (literal contents included).
fn server_lines(responses: &[Response]) -> Vec<Item> {
    let mut out = Vec::new();
    for r in responses {
        let raw = r.raw.strip_suffix(b"\r\n").unwrap_or(&r.raw);
        let mut rest = raw;
        loop {
            match rest.windows(2).position(|w| w == b"\r\n") {
                Some(i) => {
                    out.push(Item::Server(rest[..i].to_vec()));
                    rest = &rest[i + 2..];
                }
                None => {
                    out.push(Item::Server(rest.to_vec()));
                    break;
                }
            }
        }
    }
    out
}

/// Compares the expected items with what happened; describes the first difference.
fn first_mismatch(expected: &[Item], actual: &[Item]) -> Option<String> {
    let exp = protocol_lines(expected);
    let act = protocol_lines(actual);
    for (i, (e, a)) in exp.iter().zip(act.iter()).enumerate() {
        let same = match (e, a) {
            (Item::Client(x), Item::Client(y)) => x == y,
            (Item::Server(pattern), Item::Server(line)) => matches_any(pattern, line),
            _ => false,
        };
        if !same {
            return Some(format!(
                "protocol line {}: expected {}, got {}",
                i + 1,
                show(e),
                show(a)
            ));
        }
    }
    match exp.len().cmp(&act.len()) {
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Greater => Some(format!(
            "the server sent less than expected; first missing: {}",
            show(exp[act.len()])
        )),
        std::cmp::Ordering::Less => Some(format!(
            "the server sent more than expected; first extra: {}",
            show(act[exp.len()])
        )),
    }
}

fn protocol_lines(items: &[Item]) -> Vec<&Item> {
    items
        .iter()
        .filter(|i| !matches!(i, Item::Comment(_)))
        .collect()
}

fn show(item: &Item) -> String {
    match item {
        Item::Client(l) => format!("`C: {}`", String::from_utf8_lossy(l)),
        Item::Server(l) => format!("`S: {}`", String::from_utf8_lossy(l)),
        Item::Comment(l) => format!("`{}`", String::from_utf8_lossy(l)),
    }
}

/// `{any}` matches any run of bytes (possibly empty); everything else literally.
fn matches_any(pattern: &[u8], line: &[u8]) -> bool {
    let pieces = split_any(pattern);
    let (first, rest) = pieces
        .split_first()
        .expect("split yields at least one piece");
    let Some(mut remaining) = line.strip_prefix(*first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for piece in middle {
        match find(remaining, piece) {
            Some(i) => remaining = &remaining[i + piece.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

fn split_any(pattern: &[u8]) -> Vec<&[u8]> {
    let mut pieces = Vec::new();
    let mut rest = pattern;
    while let Some(i) = find(rest, ANY) {
        pieces.push(&rest[..i]);
        rest = &rest[i + ANY.len()..];
    }
    pieces.push(rest);
    pieces
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn render(items: &[Item]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        match item {
            Item::Comment(l) => out.extend_from_slice(l),
            Item::Client(l) => {
                out.extend_from_slice(b"C: ");
                out.extend_from_slice(l);
            }
            Item::Server(l) => {
                out.extend_from_slice(b"S: ");
                out.extend_from_slice(l);
            }
        }
        out.push(b'\n');
    }
    out
}

fn panic_text(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".to_string())
}

#[test]
fn any_token_matching() {
    let cases: &[(&str, &str, bool)] = &[
        (
            "* OK [UIDVALIDITY {any}] {any}",
            "* OK [UIDVALIDITY 17] UIDs valid",
            true,
        ),
        (
            "* OK [UIDVALIDITY {any}] {any}",
            "* OK [UIDVALIDITY 17]",
            false,
        ),
        ("* OK [UNSEEN 2] {any}", "* OK [UNSEEN 2] ", true),
        ("a1 OK FETCH completed", "a1 OK FETCH completed", true),
        ("a1 OK FETCH completed", "a1 OK FETCH completed.", false),
        ("{any}", "", true),
        ("x{any}y{any}z", "xAAyBBz", true),
        ("x{any}y{any}z", "xAAzBBy", false),
        ("ab{any}ba", "aba", false),
    ];
    for (pattern, line, want) in cases {
        assert_eq!(
            matches_any(pattern.as_bytes(), line.as_bytes()),
            *want,
            "{pattern} vs {line}"
        );
    }
    assert!(
        is_valid_tag(b"a1") && !is_valid_tag(b"a+1") && !is_valid_tag(b"*") && !is_valid_tag(b"")
    );
    assert!(matches!(
        literal_kind(b"a SEARCH SUBJECT {7}"),
        Literal::Sync
    ));
    assert!(matches!(
        literal_kind(b"a SEARCH SUBJECT {7+}"),
        Literal::NonSync
    ));
    assert!(matches!(
        literal_kind(b"a SEARCH SUBJECT {x}"),
        Literal::None
    ));
}
