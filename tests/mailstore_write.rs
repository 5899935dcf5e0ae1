//! The mail store's write path through its public API, as the IMAP commands
//! use it: byte-exact UW output, write cost, several writers on one file,
//! changes behind our back, truncation.
//!
//! Tests that measure bytes written take `SERIAL` (the counter is
//! process-wide).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use mbox_imapd::mailstore::index::Clock;
use mbox_imapd::mailstore::write::{FlagChange, NewMessage};
use mbox_imapd::mailstore::{self, Access, LockSettings, Mailbox, StoreError};
use mbox_imapd::types::{SequenceSet, SystemFlags};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/mbox")
        .join(name)
}

fn copy_fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::copy(fixture(name), &path).unwrap();
    (dir, path)
}

fn rw(path: &Path) -> Mailbox {
    Mailbox::open(path, Access::ReadWrite, &LockSettings::default()).unwrap()
}

fn uids(m: &Mailbox) -> Vec<u32> {
    m.entries().iter().map(|e| e.uid.get()).collect()
}

/// (Message-ID, hash of the body) of every message, as stored.
fn identities(path: &Path) -> Vec<(String, u64)> {
    let m = Mailbox::open(path, Access::ReadOnly, &LockSettings::default()).unwrap();
    (0..m.len())
        .map(|i| {
            let view = m.message(i).unwrap();
            let header = view.visible_header().concat();
            let text = String::from_utf8_lossy(&header);
            let id = text
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
                .unwrap_or("")
                .to_owned();
            (id, mbox_imapd::mailstore::journal::checksum(view.body()))
        })
        .collect()
}

fn flags(list: &[SystemFlags]) -> SystemFlags {
    SystemFlags(list.iter().map(|f| f.0).sum())
}

/// mbox-format.md §12: the UW session, through the API the commands use,
/// gives UW's file byte for byte.
#[test]
fn worked_example_through_the_mailbox_api() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("box");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/uw-example-before.mbox"),
        &path,
    )
    .unwrap();
    let clock = Clock {
        now: 1_795_931_746,
        local_offset_minutes: 0,
    };
    // SELECT
    let mut m = Mailbox::open_with_clock(&path, Access::ReadWrite, &LockSettings::default(), clock)
        .unwrap();
    assert_eq!(uids(&m), [1, 2, 3]);
    assert_eq!(m.recent_count(), 3);
    // The first command's refresh records UIDs and O (UW: at the next ping).
    assert!(m.refresh().unwrap().is_empty());
    assert!(!m.metadata_unsaved());
    assert_eq!(m.recent_count(), 3, "still recent in this session");
    // STORE 1 +FLAGS (\Seen \Flagged); STORE 2 +FLAGS (\Deleted); EXPUNGE
    assert!(
        m.change_flags(
            0,
            FlagChange::Add,
            flags(&[SystemFlags::SEEN, SystemFlags::FLAGGED]),
            &[]
        )
        .unwrap()
    );
    assert!(
        m.change_flags(1, FlagChange::Add, SystemFlags::DELETED, &[])
            .unwrap()
    );
    assert!(
        !m.change_flags(1, FlagChange::Add, SystemFlags::DELETED, &[])
            .unwrap()
    );
    assert_eq!(m.expunge(None).unwrap(), [1]);
    assert_eq!(uids(&m), [1, 3]);
    // STORE 2 +FLAGS (Work $Forwarded); LOGOUT
    let kw = ["Work".to_string(), "$Forwarded".to_string()];
    assert!(
        m.change_flags(1, FlagChange::Add, SystemFlags::default(), &kw)
            .unwrap()
    );
    assert_eq!(m.keywords(), kw);
    assert!(m.has_pending_changes());
    m.checkpoint().unwrap();
    assert!(!m.has_pending_changes());
    let refresh = m.refresh().unwrap();
    assert!(refresh.keywords_changed && refresh.expunged.is_empty());
    let expected = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/uw-example-after.mbox"),
    )
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&std::fs::read(&path).unwrap()),
        String::from_utf8_lossy(&expected)
    );
}

#[test]
fn flags_set_through_entry_mut_are_written_too() {
    // FETCH BODY[] sets \Seen directly on the entry (command/fetch.rs).
    let (_dir, path) = copy_fixture("uw-session.mbox");
    let mut m = rw(&path);
    m.refresh().unwrap();
    assert!(!m.has_pending_changes());
    m.entry_mut(1).unwrap().flags.insert(SystemFlags::SEEN);
    assert!(m.has_pending_changes());
    m.checkpoint().unwrap();
    assert!(!m.has_pending_changes());
    let again = Mailbox::open(&path, Access::ReadOnly, &LockSettings::default()).unwrap();
    assert!(again.entries()[1].flags.contains(SystemFlags::SEEN));
    // A read-only session writes nothing.
    let mut ro = rw(&path);
    ro.set_read_only();
    assert!(
        ro.change_flags(0, FlagChange::Add, SystemFlags::DRAFT, &[])
            .is_err()
    );
    ro.entry_mut(0).unwrap().flags.insert(SystemFlags::DRAFT);
    assert!(!ro.has_pending_changes());
    ro.checkpoint().unwrap();
    assert!(ro.refresh().unwrap().is_empty());
    let again = Mailbox::open(&path, Access::ReadOnly, &LockSettings::default()).unwrap();
    assert!(!again.entries()[0].flags.contains(SystemFlags::DRAFT));
}

#[test]
fn rewrite_keeps_inode_owner_and_mode() {
    let (_dir, path) = copy_fixture("uw-session.mbox");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let before = std::fs::metadata(&path).unwrap();
    let ids = identities(&path);
    let mut m = rw(&path);
    m.change_flags(2, FlagChange::Add, SystemFlags::DELETED, &[])
        .unwrap();
    assert_eq!(m.expunge(None).unwrap(), [2]);
    let after = std::fs::metadata(&path).unwrap();
    assert_eq!(
        (before.ino(), before.dev(), before.uid(), before.gid()),
        (after.ino(), after.dev(), after.uid(), after.gid())
    );
    assert_eq!(after.mode() & 0o7777, 0o640);
    assert!(after.len() < before.len());
    let mut expected = ids.clone();
    expected.remove(2);
    assert_eq!(identities(&path), expected);
    // No journal, no lock file left behind.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

/// A mailbox of `count` generated messages with UW metadata already written.
fn big_mailbox(count: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big");
    let mut data = Vec::new();
    for i in 0..count {
        data.extend_from_slice(
            format!(
                "From sender{i}@example.org Mon Jan  5 10:00:00 2015\nFrom: <s{i}@example.org>\nSubject: message {i}\nMessage-ID: <{i}@example.org>\n\n{}\n",
                "body line of some length to make the message about a kilobyte\n".repeat(15)
            )
            .as_bytes(),
        );
    }
    std::fs::write(&path, &data).unwrap();
    // The first read-write session writes the metadata of every message.
    let mut m = rw(&path);
    m.refresh().unwrap();
    assert!(!m.metadata_unsaved());
    (dir, path)
}

#[test]
fn flag_change_on_message_one_writes_at_most_64_kb() {
    let _serial = serial();
    let (_dir, path) = big_mailbox(20_000);
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size > 20_000_000);
    let mut m = rw(&path);
    let written = mailstore::bytes_written();
    m.change_flags(0, FlagChange::Add, SystemFlags::SEEN, &[])
        .unwrap();
    m.checkpoint().unwrap();
    let cost = mailstore::bytes_written() - written;
    assert!(cost <= 64 * 1024, "wrote {cost} bytes");
    assert!(cost < 2000, "a patch and a small journal: {cost}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
    let again = Mailbox::open(&path, Access::ReadOnly, &LockSettings::default()).unwrap();
    assert!(again.entries()[0].flags.contains(SystemFlags::SEEN));
    assert!(!again.entries()[1].flags.contains(SystemFlags::SEEN));
}

#[test]
fn expunge_rewrites_only_from_the_first_expunged_message() {
    let _serial = serial();
    let (_dir, path) = big_mailbox(10_000);
    let before = std::fs::read(&path).unwrap();
    let mut m = rw(&path);
    let first = 9_000;
    let start = m.entries()[first].offset as usize;
    for i in [first, 9_500, 9_999] {
        m.change_flags(i, FlagChange::Add, SystemFlags::DELETED, &[])
            .unwrap();
    }
    let written = mailstore::bytes_written();
    assert_eq!(m.expunge(None).unwrap(), [first, 9_500, 9_999]);
    let cost = mailstore::bytes_written() - written;
    let tail = before.len() - start;
    // The tail once, plus what the journal had to save (small shifts).
    assert!(cost < 2 * tail as u64 + 4096, "wrote {cost}, tail {tail}");
    assert!(cost > (tail / 2) as u64);
    let after = std::fs::read(&path).unwrap();
    assert_eq!(after[..start - 60], before[..start - 60]);
    assert_eq!(m.len(), 9_997);
    assert_eq!(identities(&path).len(), 9_997);
}

/// Regression: expunging only the last message has nothing to copy and no
/// patch, just a shorter file; the plan was taken for "nothing to write".
#[test]
fn expunging_only_the_last_message_cuts_the_file() {
    let (_dir, path) = copy_fixture("uw-session.mbox");
    let mut m = rw(&path);
    m.checkpoint().unwrap();
    let last = m.len() - 1;
    let uid = m.entries()[last].uid.get();
    let before = identities(&path);
    m.change_flags(last, FlagChange::Add, SystemFlags::DELETED, &[])
        .unwrap();
    assert_eq!(m.expunge(None).unwrap(), [last]);
    assert_eq!(m.len(), last);
    let after = identities(&path);
    assert_eq!(after.len(), before.len() - 1);
    assert_eq!(after[..], before[..before.len() - 1]);
    let reopened = rw(&path);
    assert_eq!(reopened.len(), last);
    assert!(reopened.entries().iter().all(|e| e.uid.get() != uid));
}

/// Regression (found by the procmail test): APPEND after deliveries that have
/// no X-UID yet must not raise the declared last UID past them, or they are
/// renumbered above the appended message and the UIDVALIDITY is lost.
#[test]
fn append_after_unrecorded_deliveries_keeps_uids_ascending() {
    let (_dir, path) = copy_fixture("uw-session.mbox");
    let before = rw(&path);
    let validity = before.uid_validity();
    let next = before.uid_next().get();
    drop(before);
    let mut raw = std::fs::read(&path).unwrap();
    for n in 0..2 {
        raw.extend_from_slice(
            format!(
                "From mta@example.org Sun Nov 29 07:00:0{n} 2026\nSubject: delivered {n}\n\
                 Message-ID: <d{n}@x>\n\nbody\n\n"
            )
            .as_bytes(),
        );
    }
    std::fs::write(&path, &raw).unwrap();
    let got = mailstore::write::append(
        &path,
        &[NewMessage {
            bytes: b"Subject: appended\r\nMessage-ID: <a@x>\r\n\r\nhi\r\n",
            flags: SystemFlags::default(),
            keywords: vec![],
            internal_date: None,
        }],
        &LockSettings::default(),
    )
    .unwrap();
    assert_eq!(got.uid_validity, validity);
    assert_eq!(got.uids[0].get(), next + 2);
    let after = rw(&path);
    assert_eq!(after.uid_validity(), validity, "no renumbering");
    let tail: Vec<u32> = uids(&after).into_iter().rev().take(3).collect();
    assert_eq!(tail, [next + 2, next + 1, next]);
}

#[test]
fn append_is_seen_by_another_open_mailbox() {
    let (_dir, path) = copy_fixture("uw-session.mbox");
    let mut other = rw(&path);
    assert!(other.refresh().unwrap().is_empty());
    let got = mailstore::write::append(
        &path,
        &[NewMessage {
            bytes:
                b"From: x@example.org\r\nSubject: appended\r\nMessage-ID: <new@x>\r\n\r\nhello\r\n",
            flags: SystemFlags::FLAGGED,
            keywords: vec!["Urgent".into()],
            internal_date: None,
        }],
        &LockSettings::default(),
    )
    .unwrap();
    assert_eq!(got.uids.iter().map(|u| u.get()).collect::<Vec<_>>(), [32]);
    assert_eq!(got.uid_validity, other.uid_validity());
    let refresh = other.refresh().unwrap();
    assert_eq!(refresh.appended, 1);
    assert!(refresh.keywords_changed);
    assert!(refresh.expunged.is_empty());
    let last = other.entries().last().unwrap();
    assert_eq!(last.uid.get(), 32);
    assert!(last.flags.contains(SystemFlags::FLAGGED));
    assert!(
        last.flags.contains(SystemFlags::RECENT),
        "recent in the session that saw it first"
    );
    assert_eq!(other.keywords(), ["Work", "$Forwarded", "Urgent"]);
    assert_eq!(other.uid_next().get(), 33);
    // That session recorded its O: a second session does not see it as recent.
    let third = rw(&path);
    assert!(
        !third
            .entries()
            .last()
            .unwrap()
            .flags
            .contains(SystemFlags::RECENT)
    );
}

#[test]
fn two_sessions_interleave_and_keep_each_others_changes() {
    let (_dir, path) = copy_fixture("uw-session.mbox");
    let mut a = rw(&path);
    let mut b = rw(&path);
    a.refresh().unwrap();
    b.refresh().unwrap();
    // A: +\Seen on 2; B: +\Flagged on 2 and -\Seen on 1; both checkpoint.
    assert!(!a.entries()[1].flags.contains(SystemFlags::SEEN));
    a.change_flags(1, FlagChange::Add, SystemFlags::SEEN, &[])
        .unwrap();
    b.change_flags(1, FlagChange::Add, SystemFlags::FLAGGED, &[])
        .unwrap();
    b.change_flags(0, FlagChange::Remove, SystemFlags::SEEN, &[])
        .unwrap();
    a.checkpoint().unwrap();
    b.checkpoint().unwrap();
    let rb = b.refresh().unwrap();
    assert_eq!(rb.flags_changed, [1], "B learns A's \\Seen");
    let ra = a.refresh().unwrap();
    assert_eq!(ra.flags_changed, [0, 1]);
    for m in [&a, &b] {
        let e = m.entries();
        assert!(
            e[1].flags.contains(SystemFlags::SEEN) && e[1].flags.contains(SystemFlags::FLAGGED)
        );
        assert!(
            e[1].flags.contains(SystemFlags::ANSWERED),
            "the file's \\Answered kept"
        );
        assert!(!e[0].flags.contains(SystemFlags::SEEN));
    }
    // A expunges 3 and 5; B, with a pending change on 4, sees the expunge.
    a.change_flags(2, FlagChange::Add, SystemFlags::DELETED, &[])
        .unwrap();
    a.change_flags(4, FlagChange::Add, SystemFlags::DELETED, &[])
        .unwrap();
    b.change_flags(3, FlagChange::Add, SystemFlags::DRAFT, &[])
        .unwrap();
    assert_eq!(a.expunge(None).unwrap(), [2, 4]);
    let rb = b.refresh().unwrap();
    assert_eq!(rb.expunged, [2, 4]);
    assert_eq!(uids(&a), uids(&b));
    assert!(
        b.entries()[2].flags.contains(SystemFlags::DRAFT),
        "pending change kept"
    );
    b.checkpoint().unwrap();
    let ra = a.refresh().unwrap();
    assert_eq!(ra.flags_changed, [2]);
    // B's expunge reports A's removal of message UID 7 too.
    a.change_flags(5, FlagChange::Add, SystemFlags::DELETED, &[])
        .unwrap();
    a.checkpoint().unwrap();
    let gone = a.entries()[5].uid;
    // B flags message 1 deleted and expunges: both go (A's \Deleted is in the file).
    b.change_flags(0, FlagChange::Add, SystemFlags::DELETED, &[])
        .unwrap();
    assert_eq!(b.expunge(None).unwrap(), [0, 5]);
    assert!(!uids(&b).contains(&gone.get()));
    let ra = a.refresh().unwrap();
    assert_eq!(ra.expunged, [0, 5]);
    assert_eq!(uids(&a), uids(&b));
    // UID EXPUNGE only touches the given UIDs.
    a.change_flags(0, FlagChange::Add, SystemFlags::DELETED, &[])
        .unwrap();
    a.change_flags(1, FlagChange::Add, SystemFlags::DELETED, &[])
        .unwrap();
    let second = a.entries()[1].uid;
    let set = SequenceSet::single(second.0);
    assert_eq!(a.expunge(Some(&set)).unwrap(), [1]);
    assert!(a.entries()[0].flags.contains(SystemFlags::DELETED));
    let rb = b.refresh().unwrap();
    assert_eq!(rb.expunged, [1]);
    assert_eq!(rb.flags_changed, [0]);
}

#[test]
fn mutt_rewrite_behind_our_back() {
    // 1. Content-Length/Lines added (mutt-rewritten.mbox): the visible
    //    messages changed and the metadata is gone: the session must end,
    //    and our pending change must not be written over mutt's file.
    let (_dir, path) = copy_fixture("uw-session.mbox");
    let mut m = rw(&path);
    m.refresh().unwrap();
    m.change_flags(0, FlagChange::Add, SystemFlags::DRAFT, &[])
        .unwrap();
    let mutt = std::fs::read(fixture("mutt-rewritten.mbox")).unwrap();
    std::fs::write(&path, &mutt).unwrap();
    assert!(matches!(m.refresh(), Err(StoreError::Changed { .. })));
    assert!(matches!(m.checkpoint(), Err(StoreError::Changed { .. })));
    assert_eq!(std::fs::read(&path).unwrap(), mutt);

    // 2. A rewrite that deletes a message and reorders nothing: mapped by X-UID.
    let (_dir2, path) = copy_fixture("uw-session.mbox");
    let mut m = rw(&path);
    m.refresh().unwrap();
    m.change_flags(9, FlagChange::Add, SystemFlags::FLAGGED, &[])
        .unwrap();
    let data = std::fs::read(&path).unwrap();
    let spans = mbox_imapd::mailstore::scan::scan(&data).unwrap();
    let fourth = &spans[3];
    let fifth = &spans[4];
    let mut edited = data[..fourth.from_line].to_vec();
    edited.extend_from_slice(&data[fifth.from_line..]);
    // In place (as mutt does): same inode, shorter.
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    std::fs::write(&path, &edited).unwrap();
    let r = m.refresh().unwrap();
    assert_eq!(r.expunged, [3]);
    assert_eq!(m.len(), 29);
    m.checkpoint().unwrap();
    let again = Mailbox::open(&path, Access::ReadOnly, &LockSettings::default()).unwrap();
    assert!(
        again.entries()[8].flags.contains(SystemFlags::FLAGGED),
        "pending change landed on the right message"
    );
    assert_eq!(uids(&again), uids(&m));
}

#[test]
fn new_mail_without_uids_is_recorded_before_it_is_reported() {
    let (_dir, path) = copy_fixture("uw-session.mbox");
    let mut m = rw(&path);
    m.refresh().unwrap();
    // procmail-style delivery: plain append, no metadata.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(
        &mut f,
        b"From mta@example.org Tue Jan  6 11:30:15 2015\nSubject: delivered\nMessage-ID: <d@x>\n\nnew\n\n",
    )
    .unwrap();
    drop(f);
    let r = m.refresh().unwrap();
    assert_eq!(r.appended, 1);
    let last = m.entries().last().unwrap();
    assert_eq!(last.uid.get(), 32);
    assert!(last.flags.contains(SystemFlags::RECENT));
    // Already in the file: X-UID 32 and last UID 32.
    let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
    assert!(text.contains("X-IMAPbase: 1795932911 32 Work $Forwarded\n"));
    assert!(
        text.ends_with(
            "Status: O\nX-Status: \nX-Keywords:                  \nX-UID: 32\n\nnew\n\n"
        )
    );
    // Now mutt deletes it: UID 32 is never handed out again.
    let data = std::fs::read(&path).unwrap();
    let spans = mbox_imapd::mailstore::scan::scan(&data).unwrap();
    std::fs::write(&path, &data[..spans[30].from_line]).unwrap();
    let r = m.refresh().unwrap();
    assert_eq!(r.expunged, [30]);
    let got = mailstore::write::append(
        &path,
        &[NewMessage {
            bytes: b"Subject: next\n\nx\n",
            flags: SystemFlags::default(),
            keywords: Vec::new(),
            internal_date: None,
        }],
        &LockSettings::default(),
    )
    .unwrap();
    assert_eq!(got.uids[0].get(), 33);
}

#[test]
fn journal_left_by_a_crash_is_finished_at_open() {
    // Simulated with the library's own pieces: plan a rewrite, write its
    // journal, apply nothing (crash right after the journal), reopen.
    use mbox_imapd::mailstore::journal::{Journal, Piece, Plan, PlanKind};
    let (_dir, path) = copy_fixture("uw-session.mbox");
    let data = std::fs::read(&path).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    let spans = mbox_imapd::mailstore::scan::scan(&data).unwrap();
    // Remove message 2.
    let (s, e) = (spans[1].from_line as u64, spans[2].from_line as u64);
    let plan = Plan {
        kind: PlanKind::Rewrite,
        dev: meta.dev(),
        ino: meta.ino(),
        old_len: data.len() as u64,
        start: s,
        new_len: data.len() as u64 - (e - s),
        patches: Vec::new(),
        pieces: vec![Piece::Copy {
            src: e,
            len: data.len() as u64 - e,
        }],
        literals: Vec::new(),
        check_head: data[s as usize..s as usize + 256].to_vec(),
        check_tail: data[data.len() - 256..].to_vec(),
    };
    Journal::create(&path, &plan).unwrap();
    let m = Mailbox::open(&path, Access::ReadOnly, &LockSettings::default()).unwrap();
    assert_eq!(m.len(), 29);
    assert_eq!(std::fs::read(&path).unwrap().len() as u64, plan.new_len);
    assert_eq!(
        std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
        1
    );
}

#[test]
fn no_dotlock_permission_refuses_to_write() {
    if nix::unistd::geteuid().is_root() {
        // Root may create the lock anyway; the refusal cannot be observed.
        return;
    }
    let (dir, path) = copy_fixture("uw-session.mbox");
    let mut m = rw(&path);
    m.change_flags(0, FlagChange::Add, SystemFlags::DRAFT, &[])
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let result = m.checkpoint();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(
        matches!(result, Err(StoreError::NoDotlock { .. })),
        "{result:?}"
    );
}

/// The child half of `truncation_while_mapped_ends_with_bye`.
#[test]
fn child_reads_a_truncated_map() {
    let Ok(path) = std::env::var("MBOX_TEST_TRUNCATE") else {
        return;
    };
    mailstore::install_signal_handlers().unwrap();
    let m = Mailbox::open(Path::new(&path), Access::ReadOnly, &LockSettings::default()).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    let view = m.message(m.len() - 1).unwrap();
    let sum: u64 = view.body().iter().map(|&b| u64::from(b)).sum();
    println!("not reached {sum}");
}

#[test]
fn truncation_while_mapped_ends_with_bye() {
    let (_dir, path) = copy_fixture("uw-session.mbox");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_reads_a_truncated_map",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("MBOX_TEST_TRUNCATE", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("* BYE Mailbox was truncated by another program\r\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("not reached"));
    assert_eq!(out.status.code(), Some(1));
}

/// After our own APPEND the session re-reads only message 1 and the new
/// tail (refresh.rs): it must end up where a fresh open does, and a change
/// another session made before the append must still be seen.
#[test]
fn resync_after_own_append_matches_a_fresh_open() {
    let _serial = serial();
    let (_dir, path) = copy_fixture("uw-session.mbox");
    let mut session = rw(&path);
    session.refresh().unwrap();
    let append = |subject: &str, keywords: &[&str]| {
        let bytes = format!("From: x@example.org\r\nSubject: {subject}\r\n\r\nhello\r\n");
        mailstore::write::append(
            &path,
            &[NewMessage {
                bytes: bytes.as_bytes(),
                flags: SystemFlags::SEEN,
                keywords: keywords.iter().map(|k| k.to_string()).collect(),
                internal_date: None,
            }],
            &LockSettings::default(),
        )
        .unwrap()
    };
    let view = |m: &Mailbox| -> Vec<(u32, u8, u32, u32, u64)> {
        m.entries()
            .iter()
            .map(|e| {
                let flags = e.flags.0 & !SystemFlags::RECENT.0;
                (e.uid.get(), flags, e.keywords, e.rfc822_size, e.offset)
            })
            .collect()
    };
    // Our own appends only: the cheap path (the first one declares a
    // keyword, which may need message 1 rewritten: the full path).
    append("one", &["Later"]);
    let refresh = session.refresh().unwrap();
    assert_eq!(refresh.appended, 1);
    assert_eq!(view(&session), view(&rw(&path)));
    append("two", &["Later"]);
    let refresh = session.refresh().unwrap();
    assert_eq!(refresh.appended, 1);
    assert_eq!(view(&session), view(&rw(&path)));
    assert_eq!(session.uid_next(), rw(&path).uid_next());
    assert_eq!(session.keywords(), rw(&path).keywords());
    // Another session flags message 3 in place, then we append: the stamp
    // no longer matches our record, so message 3 is read again.
    let mut other = rw(&path);
    other.refresh().unwrap();
    other
        .change_flags(2, FlagChange::Add, SystemFlags::FLAGGED, &[])
        .unwrap();
    other.checkpoint().unwrap();
    append("three", &[]);
    let refresh = session.refresh().unwrap();
    assert_eq!(refresh.appended, 1);
    assert_eq!(refresh.flags_changed, [2]);
    assert!(session.entries()[2].flags.contains(SystemFlags::FLAGGED));
    assert_eq!(view(&session), view(&rw(&path)));
}
