//! MOVE (RFC 6851) crashed at every call: `command::copy::move_messages`
//! copies by UID into the destination (one fsynced append), then expunges the
//! moved messages from the source (one journaled rewrite). Killed at any
//! instant, each moved message must be in the source, the destination, or
//! both — never in neither. After recovery (the first open), both files pass
//! a strict Berkeley read, no journal is left, the moved UIDs are all in the
//! source or none is, and each file's stored messages are, text for text, a
//! state its own writes pass through: the source before or after its
//! expunge; the destination before, after, or with only its metadata
//! rewritten (an append that must declare new keywords first rewrites the
//! pseudo-message or message 1 on its own); within one mailbox also "before
//! plus the copies".
//!
//! The cases: several messages from INBOX to a folder, from a folder to
//! INBOX, and within INBOX (a move to the selected mailbox is allowed: the
//! copies are appended, then the originals expunged). Each is also run
//! under RLIMIT_FSIZE: an OK means moved, a NO means nothing was lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mbox_imapd::command::{self, Context, Selected};
use mbox_imapd::mailstore::{self, Access, LockSettings, Mailbox, StoreError};
use mbox_imapd::response::ResponseWriter;
use mbox_imapd::types::{Numbering, SequenceSet};

use super::{FOREIGN, foreign_hash, identities, multiset, run_child};

/// One MOVE case: which mailbox is selected, where its messages go, which UIDs.
struct Case {
    op: &'static str,
    from: &'static str,
    to: &'static str,
    uids: &'static [u32],
}

const CASES: &[Case] = &[
    // Scattered UIDs, so the expunge rewrites several windows of INBOX.
    Case {
        op: "move-to-folder",
        from: "INBOX",
        to: "Archive",
        uids: &[3, 5, 6, 7, 20, 31],
    },
    Case {
        op: "move-to-inbox",
        from: "Archive",
        to: "INBOX",
        uids: &[1, 3],
    },
    Case {
        op: "move-within",
        from: "INBOX",
        to: "INBOX",
        uids: &[4, 10, 17],
    },
];

fn case(op: &str) -> Option<&'static Case> {
    CASES.iter().find(|c| c.op == op)
}

/// A fresh user: INBOX is uw-session.mbox, `mail/Archive` uw-archive.mbox.
fn user_dir(dir: &Path) {
    std::fs::create_dir_all(dir.join("mail")).unwrap();
    std::fs::create_dir_all(dir.join("home")).unwrap();
    std::fs::copy(super::fixture("uw-session.mbox"), dir.join("INBOX")).unwrap();
    std::fs::copy(super::fixture("uw-archive.mbox"), dir.join("mail/Archive")).unwrap();
}

fn context(dir: &Path) -> Context {
    Context {
        user: "u".into(),
        host: "h".into(),
        inbox: dir.join("INBOX"),
        mail_dir: dir.join("mail"),
        home: dir.join("home"),
        locking: LockSettings::default(),
        special_use: Default::default(),
    }
}

fn file_of(dir: &Path, name: &str) -> PathBuf {
    if name == "INBOX" {
        dir.join("INBOX")
    } else {
        dir.join("mail").join(name)
    }
}

/// The child's half: selects `from` read-write (as SELECT does, without UW's
/// /tmp session lock, which would outlive the aborted children), arms the
/// fault counter, and runs UID MOVE.
pub fn run_op(op: &str, dir: &Path) -> Option<Result<(), StoreError>> {
    let case = case(op)?;
    let ctx = context(dir);
    Some(run_move(case, &ctx, dir))
}

fn run_move(case: &Case, ctx: &Context, dir: &Path) -> Result<(), StoreError> {
    let mailbox = Mailbox::open(&file_of(dir, case.from), Access::ReadWrite, &ctx.locking)?;
    assert_eq!(mailbox.access(), Access::ReadWrite);
    let recent_reported = mailbox.recent_count();
    let mut selected = Selected {
        name: case.from.into(),
        mailbox,
        read_only: false,
        cache: Default::default(),
        sort_keys: Default::default(),
        saved_result: Vec::new(),
        contexts: Default::default(),
        recent_reported,
        session_lock: None,
    };
    let set = SequenceSet::of_ascending(case.uids.iter().copied());
    let mut out = ResponseWriter::new(Vec::new());
    mailstore::sys::arm_fault_from_env();
    let result = command::copy::move_messages(
        ctx,
        &mut selected,
        &set,
        case.to.as_bytes(),
        Numbering::Uid,
        &mut out,
    );
    super::command_outcome(result, dir)
}

type Ids = BTreeMap<(String, u64), usize>;

/// A file's messages: (Message-ID, body checksum) as the server reads them,
/// and each message's stored text (From_ line to the next one) as the strict
/// reader splits it, without UW's pseudo-message and with the value of
/// `X-IMAPbase` masked: those record UIDVALIDITY, the last UID and the
/// keyword list, which an append may rewrite on its own (with the time of day
/// in the pseudo-message) before the messages are written.
struct FileState {
    ids: Ids,
    texts: Vec<Vec<u8>>,
}

impl FileState {
    fn read(path: &Path) -> FileState {
        let ids = multiset(&identities(path));
        let bytes = std::fs::read(path).unwrap();
        let starts = strict_berkeley(path).unwrap_or_else(|e| panic!("{e}"));
        let mut texts = Vec::new();
        for (i, &start) in starts.iter().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(bytes.len());
            let text = &bytes[start..end];
            let header_end = text
                .windows(2)
                .position(|w| w == b"\n\n")
                .unwrap_or(text.len());
            let header = &text[..header_end];
            if i == 0
                && header
                    .split(|&b| b == b'\n')
                    .any(|l| l.starts_with(b"X-IMAP: "))
            {
                continue;
            }
            let masked: Vec<&[u8]> = text
                .split(|&b| b == b'\n')
                .map(|l| {
                    if l.starts_with(b"X-IMAPbase: ") {
                        &b"X-IMAPbase: *"[..]
                    } else {
                        l
                    }
                })
                .collect();
            texts.push(masked.join(&b'\n'));
        }
        FileState { ids, texts }
    }
}

/// The fault-free run of one case: both files before and after, and the
/// moved messages.
struct Reference {
    case: &'static Case,
    calls: u64,
    source_before: FileState,
    source_after: FileState,
    dest_before: FileState,
    dest_after: FileState,
    moved: Ids,
}

/// Where the move got to in a run, as the files show after recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Reached {
    /// Nothing written (or all of it undone).
    Nothing,
    /// The copies are in the destination, the originals still in the source.
    Both,
    /// Moved.
    Done,
}

impl Reference {
    fn new(case: &'static Case) -> Reference {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path();
        user_dir(dir);
        let source = file_of(dir, case.from);
        let dest = file_of(dir, case.to);
        let source_before = FileState::read(&source);
        let dest_before = FileState::read(&dest);
        let moved = moved_messages(&source, case.uids);
        assert_eq!(
            moved.values().sum::<usize>(),
            case.uids.len(),
            "{}",
            case.op
        );
        let run = run_child(case.op, dir, &[]);
        assert_eq!(
            run.outcome.as_deref(),
            Some("ok"),
            "{}: fault-free",
            case.op
        );
        let reference = Reference {
            case,
            calls: run.calls,
            source_after: FileState::read(&source),
            dest_after: FileState::read(&dest),
            source_before,
            dest_before,
            moved,
        };
        // The fault-free move did what MOVE means.
        let state = reference
            .reached(
                &reference.source_after.ids,
                &reference.dest_after.ids,
                &Ids::new(),
            )
            .map(|state| reference.by_uids(state, &source, "fault-free"));
        assert_eq!(state, Some(Reached::Done), "{}: fault-free result", case.op);
        assert!(
            reference.calls > 4,
            "{}: {} calls",
            case.op,
            reference.calls
        );
        if case.from != case.to {
            // The checker itself: the expunge without the copy is "neither".
            let neither = reference.reached(
                &reference.source_after.ids,
                &reference.dest_before.ids,
                &Ids::new(),
            );
            assert_eq!(neither, None, "{}: the checker accepts a loss", case.op);
        }
        reference
    }

    /// Which state `source` / `dest` are in (INBOX with `extra` delivered),
    /// if any. Within one mailbox, source and dest are the same file.
    fn reached(&self, source: &Ids, dest: &Ids, extra: &Ids) -> Option<Reached> {
        let same = self.case.from == self.case.to;
        let plus = |a: &Ids, b: &Ids| {
            let mut sum = a.clone();
            for (k, n) in b {
                *sum.entry(k.clone()).or_insert(0) += n;
            }
            sum
        };
        let minus = |a: &Ids, b: &Ids| {
            let mut diff = a.clone();
            for (k, n) in b {
                let left = diff.get(k).copied().unwrap_or(0).checked_sub(*n);
                match left {
                    Some(0) => {
                        diff.remove(k);
                    }
                    Some(left) => {
                        diff.insert(k.clone(), left);
                    }
                    None => panic!("{}: moved message not in the source", self.case.op),
                }
            }
            diff
        };
        let inbox_extra = |name: &str, ids: Ids| {
            if name == "INBOX" {
                plus(&ids, extra)
            } else {
                ids
            }
        };
        let s0 = &self.source_before.ids;
        let d0 = &self.dest_before.ids;
        let candidates = if same {
            [
                (Reached::Nothing, s0.clone(), s0.clone()),
                (Reached::Both, plus(s0, &self.moved), plus(s0, &self.moved)),
                (Reached::Done, s0.clone(), s0.clone()),
            ]
        } else {
            [
                (Reached::Nothing, s0.clone(), d0.clone()),
                (Reached::Both, s0.clone(), plus(d0, &self.moved)),
                (Reached::Done, minus(s0, &self.moved), plus(d0, &self.moved)),
            ]
        };
        candidates.into_iter().find_map(|(state, s, d)| {
            let s = inbox_extra(self.case.from, s);
            let d = inbox_extra(self.case.to, d);
            (&s == source && &d == dest).then_some(state)
        })
    }

    /// `state` checked against the moved UIDs: all are in the source until
    /// the expunge, then none is (within one mailbox, that alone tells
    /// "nothing" from "done", whose messages are the same).
    fn by_uids(&self, state: Reached, source: &Path, what: &str) -> Reached {
        let op = self.case.op;
        match present_uids(source, self.case.uids) {
            0 if self.case.from == self.case.to && state == Reached::Nothing => Reached::Done,
            0 => {
                assert_eq!(state, Reached::Done, "{op}: {what}: UIDs gone, not moved");
                state
            }
            n if n == self.case.uids.len() => {
                assert_ne!(
                    state,
                    Reached::Done,
                    "{op}: {what}: moved, UIDs still there"
                );
                state
            }
            n => panic!("{op}: {what}: {n} of the moved UIDs left in the source"),
        }
    }

    /// Each file's stored messages, text for text, are one of the states its
    /// writes pass through: before, after, or (destination) after with only
    /// the metadata of the first message or the pseudo-message rewritten;
    /// within one mailbox also before with the copies appended.
    fn check_texts(&self, s: &FileState, d: &FileState, what: &str) {
        let op = self.case.op;
        let before = &self.dest_before.texts;
        let after = &self.dest_after.texts;
        let copies = after.len() - before.len();
        let meta_only = &after[..before.len()];
        if self.case.from == self.case.to {
            // The copies are \Recent when appended; the expunge then records
            // that this session has seen them (Status: O), so their flag
            // lines are compared only between states that both have them.
            let moved = self.case.uids.len();
            let after_source = &self.source_after.texts;
            let tail = without_status(&after_source[after_source.len() - moved..]);
            let got = &s.texts;
            let copied_state = |prefix: &[Vec<u8>]| {
                got.len() == prefix.len() + moved
                    && got[..prefix.len()] == *prefix
                    && without_status(&got[prefix.len()..]) == tail
            };
            assert!(
                got == before
                    || got == after_source
                    || copied_state(before)
                    || copied_state(meta_only),
                "{op}: {what}: the mailbox is in no state of the move"
            );
            return;
        }
        let source_states = [&self.source_before.texts[..], &self.source_after.texts[..]];
        assert!(
            source_states.contains(&&s.texts[..]),
            "{op}: {what}: the source is neither before nor after its expunge"
        );
        let dest_states = [&before[..], &after[..], meta_only];
        assert!(
            dest_states.contains(&&d.texts[..]),
            "{op}: {what}: the destination is in no state of its append ({} messages, {} before, {copies} copies)",
            d.texts.len(),
            before.len()
        );
    }

    /// Checks both files of a faulty run after recovery; returns the state.
    fn check(&self, dir: &Path, foreign: bool, what: &str) -> Reached {
        let op = self.case.op;
        let source = file_of(dir, self.case.from);
        let dest = file_of(dir, self.case.to);
        // The first open recovers (journal replayed or undone); FileState
        // opens before its strict read.
        let s = FileState::read(&source);
        let d = FileState::read(&dest);
        // Never in neither, said directly (the states below imply it).
        for (id, n) in &self.moved {
            let have = s.ids.get(id).copied().unwrap_or(0)
                + if self.case.from == self.case.to {
                    0
                } else {
                    d.ids.get(id).copied().unwrap_or(0)
                        - self.dest_before.ids.get(id).copied().unwrap_or(0)
                };
            assert!(have >= *n, "{op}: {what}: {id:?} is lost");
        }
        let mut extra = Ids::new();
        if foreign {
            extra.insert(("Message-ID: <foreign@x>".to_owned(), foreign_hash()), 1);
        }
        let state = self.reached(&s.ids, &d.ids, &extra).unwrap_or_else(|| {
            panic!(
                "{op}: {what}: neither before, after, nor both:\n source {:?}\n dest {:?}\n moved {:?}",
                s.ids, d.ids, self.moved
            )
        });
        let state = self.by_uids(state, &source, what);
        if !foreign {
            self.check_texts(&s, &d, what);
        }
        for sub in [dir.to_owned(), dir.join("mail")] {
            let leftovers = super::journals(&sub);
            assert!(
                leftovers.is_empty(),
                "{op}: {what}: journal left: {leftovers:?}"
            );
        }
        // Stable: a second open finds the same messages.
        assert_eq!(multiset(&identities(&source)), s.ids, "{op}: {what}");
        state
    }
}

/// `texts` without their `Status:` lines and trailing blanks (the padding an
/// `O` added to Status takes from `X-Keywords`).
fn without_status(texts: &[Vec<u8>]) -> Vec<Vec<u8>> {
    texts
        .iter()
        .map(|t| {
            let lines: Vec<&[u8]> = t
                .split(|&b| b == b'\n')
                .filter(|l| !l.starts_with(b"Status: "))
                .map(|l| l.trim_ascii_end())
                .collect();
            lines.join(&b'\n')
        })
        .collect()
}

/// How many of `uids` the mailbox at `path` holds.
fn present_uids(path: &Path, uids: &[u32]) -> usize {
    let m = Mailbox::open(path, Access::ReadOnly, &LockSettings::default()).unwrap();
    uids.iter()
        .filter(|&&uid| m.index_of_uid(uid).is_ok())
        .count()
}

/// The identities of the messages with `uids` in the mailbox at `path`.
fn moved_messages(path: &Path, uids: &[u32]) -> Ids {
    let m = Mailbox::open(path, Access::ReadOnly, &LockSettings::default()).unwrap();
    let all = identities(path);
    let mut moved = Ids::new();
    for (i, entry) in m.entries().iter().enumerate() {
        if uids.contains(&entry.uid.get()) {
            *moved.entry(all[i].clone()).or_insert(0) += 1;
        }
    }
    moved
}

/// A strict Berkeley mbox read, independent of the server's scanner: the file
/// is empty or starts with a From_ line; every line ends in LF; a line that is
/// a From_ line (sender and ctime date) follows a blank line or starts the
/// file, and starts a message; each message has a header block of
/// `Name: value` lines and continuations, ended by a blank line; every message
/// ends with the blank separator line; there is no NUL (a torn write's hole).
/// The message count must match the server's (plus UW's pseudo-message).
fn strict_berkeley(path: &Path) -> Result<Vec<usize>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let name = path.display();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    if bytes.contains(&0) {
        return Err(format!(
            "{name}: NUL byte at {:?}",
            bytes.iter().position(|&b| b == 0)
        ));
    }
    if !bytes.ends_with(b"\n\n") {
        return Err(format!("{name}: does not end with a blank line"));
    }
    let text = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    let mut starts = Vec::new();
    let mut offset = 0;
    let mut in_header = false;
    let mut previous_blank = true;
    for (number, line) in text.split(|&b| b == b'\n').enumerate() {
        let line_start = offset;
        offset += line.len() + 1;
        let at = || format!("{name}: line {}", number + 1);
        if is_from_line(line) {
            if !previous_blank {
                return Err(format!("{}: From_ line without a blank line before", at()));
            }
            if in_header {
                return Err(format!("{}: previous message has no body", at()));
            }
            starts.push(line_start);
            in_header = true;
            previous_blank = false;
            continue;
        }
        if number == 0 {
            return Err(format!("{}: does not start with a From_ line", at()));
        }
        if in_header {
            if line.is_empty() {
                in_header = false;
            } else if !is_header_line(line) {
                return Err(format!(
                    "{}: not a header line: {:?}",
                    at(),
                    String::from_utf8_lossy(line)
                ));
            }
        }
        previous_blank = line.is_empty();
    }
    if in_header {
        return Err(format!("{name}: last message has no body"));
    }
    let m = Mailbox::open(path, Access::ReadOnly, &LockSettings::default())
        .map_err(|e| format!("{name}: {e}"))?;
    let server = m.len() + usize::from(m.pseudo_message());
    if server != starts.len() {
        return Err(format!(
            "{name}: {} From_ lines, the server reads {server} messages",
            starts.len()
        ));
    }
    Ok(starts)
}

/// `From sender Www Mmm dd hh:mm:ss yyyy [zone]`, as UW and our writers write
/// it (c-client also writes a numeric or three-letter zone after the year).
fn is_from_line(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else {
        return false;
    };
    let Ok(rest) = std::str::from_utf8(rest) else {
        return false;
    };
    let words: Vec<&str> = rest.split_ascii_whitespace().collect();
    let (weekday, month, day, time, year, zone) = match words[..] {
        [_sender, w, m, d, t, y] => (w, m, d, t, y, None),
        [_sender, w, m, d, t, y, z] => (w, m, d, t, y, Some(z)),
        _ => return false,
    };
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let digits = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    let clock: Vec<&str> = time.split(':').collect();
    DAYS.contains(&weekday)
        && MONTHS.contains(&month)
        && digits(day, 1..=2)
        && clock.len() == 3
        && clock.iter().all(|part| digits(part, 2..=2))
        && digits(year, 4..=4)
        && zone.is_none_or(|z| {
            let numeric = z.len() == 5
                && (z.starts_with('+') || z.starts_with('-'))
                && digits(&z[1..], 4..=4);
            numeric || (z.len() == 3 && z.bytes().all(|b| b.is_ascii_uppercase()))
        })
}

/// An RFC 5322 header field line (`name:`) or a continuation line.
fn is_header_line(line: &[u8]) -> bool {
    if line.starts_with(b" ") || line.starts_with(b"\t") {
        return true;
    }
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    colon > 0
        && line[..colon]
            .iter()
            .all(|&b| b.is_ascii_graphic() && b != b':')
}

/// Every MOVE case, crashed (abort, torn write, abort then an MTA delivery to
/// INBOX) and failed (ENOSPC) at every call.
pub fn every_crash_point(tally: &mut super::Tally) {
    for case in CASES {
        let reference = Reference::new(case);
        let mut reached: BTreeMap<Reached, u64> = BTreeMap::new();
        let mut both = Vec::new();
        let mut runs = 0;
        for n in 1..=reference.calls {
            for mode in ["abort", "torn", "abort+delivery", "enospc"] {
                let work = tempfile::tempdir().unwrap();
                let dir = work.path();
                user_dir(dir);
                let fault_mode = if mode == "abort+delivery" {
                    "abort"
                } else {
                    mode
                };
                let run = run_child(
                    case.op,
                    dir,
                    &[
                        ("MBOX_IMAPD_FAULT_AT", n.to_string()),
                        ("MBOX_IMAPD_FAULT_MODE", fault_mode.to_owned()),
                    ],
                );
                let what = format!("{mode} at call {n}/{}", reference.calls);
                match mode {
                    "enospc" => assert!(run.outcome.is_some(), "{}: {what}: child died", case.op),
                    _ => assert!(
                        run.outcome.is_none(),
                        "{}: {what}: child did not crash",
                        case.op
                    ),
                }
                let foreign = mode == "abort+delivery";
                if foreign {
                    use std::io::Write;
                    let mut f = std::fs::OpenOptions::new()
                        .append(true)
                        .open(dir.join("INBOX"))
                        .unwrap();
                    f.write_all(FOREIGN).unwrap();
                }
                let state = reference.check(dir, foreign, &what);
                if mode == "enospc" && run.outcome.as_deref() == Some("ok") {
                    assert_eq!(
                        state,
                        Reached::Done,
                        "{}: {what}: OK but not moved",
                        case.op
                    );
                }
                *reached.entry(state).or_insert(0) += 1;
                if state == Reached::Both {
                    both.push(format!("{mode}@{n}"));
                }
                runs += 1;
            }
        }
        println!(
            "fault injection: {}: {} crash points, {runs} runs, reached {reached:?}; both after {}",
            case.op,
            reference.calls,
            both.join(" ")
        );
        assert!(
            reached.contains_key(&Reached::Nothing) && reached.contains_key(&Reached::Done),
            "{}: the faults never hit both sides of the move: {reached:?}",
            case.op
        );
        tally.crash_points += reference.calls;
        tally.runs += runs;
    }
}

/// The strict reader refuses what a torn or unrecovered write leaves.
#[test]
fn strict_read_refuses_broken_files() {
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("box");
    let good = std::fs::read(super::fixture("uw-session.mbox")).unwrap();
    std::fs::write(&path, &good).unwrap();
    assert_eq!(strict_berkeley(&path).unwrap().len(), 30);
    let cut = good.len() / 2;
    let broken: [(&str, Vec<u8>); 4] = [
        ("cut short", good[..cut].to_vec()),
        ("zero-filled tail", [&good[..], &[0u8; 64][..]].concat()),
        (
            "From_ line glued to a message",
            [
                &good[..good.len() - 1],
                b"From x@y Mon Jan  5 10:00:00 2015\nA: b\n\nc\n\n",
            ]
            .concat(),
        ),
        (
            "torn header",
            [&good[..], b"From x@y Mon Jan  5 10:00:00 2015\nSubj"].concat(),
        ),
    ];
    for (what, bytes) in broken {
        std::fs::write(&path, &bytes).unwrap();
        assert!(strict_berkeley(&path).is_err(), "{what} was accepted");
    }
}

/// Every MOVE case under RLIMIT_FSIZE at sizes from far below to above what
/// its files need: it succeeds (moved), or fails with "no space" leaving
/// the messages where they were or in both mailboxes (the copy made, the
/// expunge refused), never in neither.
pub fn file_size_limits() -> u64 {
    let mut runs = 0;
    for case in CASES {
        let reference = Reference::new(case);
        let largest = [
            &reference.source_before,
            &reference.source_after,
            &reference.dest_before,
            &reference.dest_after,
        ]
        .iter()
        .map(|f| f.texts.iter().map(|t| t.len() as u64).sum::<u64>())
        .max()
        .unwrap_or(0);
        let limits: Vec<u64> = (0..=24)
            .map(|i| largest * i / 12)
            .chain([largest + 64 * 1024])
            .collect();
        let mut reached: BTreeMap<Reached, u64> = BTreeMap::new();
        for limit in limits {
            let work = tempfile::tempdir().unwrap();
            let dir = work.path();
            user_dir(dir);
            let run = run_child(case.op, dir, &[("MBOX_FI_FSIZE", limit.to_string())]);
            let outcome = run
                .outcome
                .unwrap_or_else(|| panic!("{}: limit {limit}: child died", case.op));
            let what = format!("limit {limit}");
            let state = reference.check(dir, false, &what);
            match outcome.as_str() {
                "ok" => assert_eq!(state, Reached::Done, "{}: {what}: OK", case.op),
                "nospace" => assert_ne!(state, Reached::Done, "{}: {what}: NO", case.op),
                other => panic!("{}: {what}: {other}", case.op),
            }
            *reached.entry(state).or_insert(0) += 1;
            runs += 1;
        }
        println!("RLIMIT_FSIZE: {}: reached {reached:?}", case.op);
        assert!(
            reached.contains_key(&Reached::Done) && reached.len() > 1,
            "{}: the limits never refused and never allowed the move: {reached:?}",
            case.op
        );
    }
    runs
}
