//! Unit tests of the folder tree on temporary directories.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;

use super::*;
use crate::mailstore::{Access, Mailbox};

const MESSAGE: &[u8] = b"From a@b Wed Dec  2 05:53:22 1992\nSubject: hi\nStatus: RO\n\nbody\n\n";

struct Fixture {
    _dir: tempfile::TempDir,
    mail: PathBuf,
    inbox: PathBuf,
}

impl Fixture {
    /// mail/{a (mbox), b/ {c (mbox), d/ {e (mbox)}}, empty/, .hidden (mbox),
    /// gone.lock, junk (text), bin (binary), blank (empty file)}
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mail = dir.path().join("mail");
        let inbox = dir.path().join("inbox");
        fs::create_dir_all(mail.join("b/d")).unwrap();
        fs::create_dir_all(mail.join("empty")).unwrap();
        for f in ["a", "b/c", "b/d/e", ".hidden"] {
            fs::write(mail.join(f), MESSAGE).unwrap();
        }
        // A lock file of a mailbox that no longer exists.
        fs::write(mail.join("gone.lock"), b"123 host\n").unwrap();
        fs::write(mail.join("junk"), b"just some notes\n").unwrap();
        fs::write(mail.join("bin"), b"\x7fELF\x02\x01\x01\0").unwrap();
        fs::write(mail.join("blank"), b"").unwrap();
        fs::write(&inbox, MESSAGE).unwrap();
        Fixture {
            _dir: dir,
            mail,
            inbox,
        }
    }

    fn tree(&self) -> Tree {
        Tree::new(&self.mail, &self.inbox)
    }

    fn names(&self, start: &[u8], depth: usize) -> Vec<String> {
        self.tree()
            .list(start, depth)
            .iter()
            .map(|e| {
                let mut s = String::from_utf8(e.name.clone()).unwrap();
                if e.kind == Kind::Folder {
                    s.push('/');
                }
                if e.has_children {
                    s.push('+');
                }
                s
            })
            .collect()
    }
}

#[test]
fn probe_tells_mboxes_from_other_files() {
    let cases: &[(&[u8], bool, Probe)] = &[
        (b"", true, Probe::Mbox),
        (b"\n\n  \n", true, Probe::Mbox),
        (b"\n\n", false, Probe::NeedMore),
        (MESSAGE, true, Probe::Mbox),
        (b"\nFrom a Wed Dec  2 05:53:22 1992\n", true, Probe::Mbox),
        (b"From a Wed Dec  2 05:5", false, Probe::NeedMore),
        (b"From a Wed Dec  2 05:5", true, Probe::NotMbox),
        (b"From nobody\n", true, Probe::NotMbox),
        (b"Fro", false, Probe::NeedMore),
        (
            b"Subject: x\n\nFrom a Wed Dec  2 05:53:22 1992\n",
            true,
            Probe::NotMbox,
        ),
        (b"\x7fELF", false, Probe::NotMbox),
        (b"12345 host\n", true, Probe::NotMbox),
    ];
    for &(bytes, complete, want) in cases {
        assert_eq!(
            probe(bytes, complete),
            want,
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    // A first line longer than the first read is still recognised.
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("long");
    let line = format!("From {} Wed Dec  2 05:53:22 1992\n\nx\n", "a".repeat(3000));
    fs::write(&long, line).unwrap();
    assert!(is_mbox_file(&long).unwrap());
}

#[test]
fn list_shows_mailboxes_and_folders_only() {
    let f = Fixture::new();
    assert_eq!(
        f.names(b"", 64),
        ["a", "b/+", "b/c", "b/d/+", "b/d/e", "blank", "empty/"]
    );
    // One level: folders at the edge still know whether they have children.
    assert_eq!(f.names(b"", 1), ["a", "b/+", "blank", "empty/"]);
    assert_eq!(f.names(b"b/", 1), ["b/c", "b/d/+"]);
    assert_eq!(f.names(b"b/d/", 5), ["b/d/e"]);
    // Starts that are not listable folders list nothing.
    for start in [
        &b"a/"[..],
        b"nope/",
        b"../",
        b"b",
        b"/",
        b".hidden/",
        b"INBOX/",
    ] {
        assert!(f.names(start, 5).is_empty(), "{start:?}");
    }
    let tree = f.tree();
    assert_eq!(tree.lookup(b"b/d").unwrap().kind, Kind::Folder);
    assert!(tree.lookup(b"b/d").unwrap().has_children);
    assert_eq!(tree.lookup(b"a").unwrap().kind, Kind::Mailbox);
    for hidden in [
        &b"junk"[..],
        b"bin",
        b".hidden",
        b"gone.lock",
        b"nope",
        b"b/../a",
        b"",
    ] {
        assert!(tree.lookup(hidden).is_none(), "{hidden:?}");
    }
}

#[test]
fn list_skips_reserved_and_invalid_names() {
    let f = Fixture::new();
    for name in ["INBOX", "inbox", "Entw\u{fc}rfe", "bad&name", "&AGE-"] {
        fs::write(f.mail.join(name), MESSAGE).unwrap();
    }
    fs::write(f.mail.join("&ZeVnLIqe-"), MESSAGE).unwrap();
    let names = f.names(b"", 64);
    assert_eq!(names[0], "&ZeVnLIqe-");
    assert_eq!(names.len(), 8, "{names:?}");
    // Below the top level, a folder may be called inbox.
    fs::write(f.mail.join("b/INBOX"), MESSAGE).unwrap();
    assert!(f.names(b"b/", 1).contains(&"b/INBOX".to_owned()));
}

#[test]
fn symlinks_are_followed_only_inside() {
    let f = Fixture::new();
    let outside = f._dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("m"), MESSAGE).unwrap();
    symlink(&outside, f.mail.join("out-dir")).unwrap();
    symlink(outside.join("m"), f.mail.join("out-file")).unwrap();
    symlink("/etc/passwd", f.mail.join("passwd")).unwrap();
    symlink(f.mail.join("b"), f.mail.join("in-dir")).unwrap();
    symlink(&f.inbox, f.mail.join("spool")).unwrap();
    symlink("nowhere", f.mail.join("dangling")).unwrap();
    // A loop: b/d/up -> b.
    symlink(f.mail.join("b"), f.mail.join("b/d/up")).unwrap();
    let names = f.names(b"", 64);
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("out") || n == "passwd" || n == "dangling")
    );
    assert!(names.contains(&"in-dir/+".to_owned()), "{names:?}");
    assert!(names.contains(&"in-dir/c".to_owned()), "{names:?}");
    assert!(names.contains(&"spool".to_owned()), "{names:?}");
    // The loop is listed, but not entered again and again.
    assert!(names.len() < 30, "{names:?}");

    assert_eq!(escape(&f.mail, &f.inbox, &f.mail.join("a")), None);
    assert_eq!(escape(&f.mail, &f.inbox, &f.mail.join("new/x/y")), None);
    assert_eq!(escape(&f.mail, &f.inbox, &f.mail.join("in-dir/c")), None);
    assert_eq!(escape(&f.mail, &f.inbox, &f.mail.join("spool")), None);
    for bad in [
        "out-dir",
        "out-dir/m",
        "out-dir/new",
        "out-file",
        "passwd",
        "dangling",
    ] {
        assert!(
            escape(&f.mail, &f.inbox, &f.mail.join(bad)).is_some(),
            "{bad}"
        );
    }
}

#[test]
fn marked_is_modified_since_read() {
    let f = Fixture::new();
    let past = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
    let later = past + std::time::Duration::from_secs(60);
    let set = |name: &str, atime, mtime| {
        let times = fs::FileTimes::new().set_accessed(atime).set_modified(mtime);
        fs::File::options()
            .write(true)
            .open(f.mail.join(name))
            .unwrap()
            .set_times(times)
            .unwrap();
    };
    set("a", past, later);
    set("b/c", later, past);
    let tree = f.tree();
    let entries = tree.list(b"", 64);
    let marked = |n: &[u8]| entries.iter().find(|e| e.name == n).unwrap().marked;
    assert!(marked(b"a"));
    assert!(!marked(b"b/c"));
    assert!(!marked(b"blank"), "an empty file has no new mail");
    // Listing (which reads the first bytes) did not change that.
    assert!(tree.lookup(b"a").unwrap().marked);
}

#[test]
fn create_writes_uws_pseudo_message_with_fresh_uid_validity() {
    let f = Fixture::new();
    let path = f.mail.join("new/deep/box");
    let v1 = create_mailbox(&f.mail, &path, "host.example").unwrap();
    let meta = fs::metadata(&path).unwrap();
    assert_eq!(
        meta.accessed().unwrap(),
        meta.modified().unwrap(),
        "a new mailbox is \\Unmarked"
    );
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("From MAILER-DAEMON "), "{text}");
    assert!(text.contains("\nFrom: Mail System Internal Data <MAILER-DAEMON@host.example>\n"));
    assert!(text.contains(&format!("\nX-IMAP: {v1:010} 0000000000\nStatus: RO\n\n")));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        fs::metadata(f.mail.join("new"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let m = Mailbox::open(&path, Access::ReadOnly, &LockSettings::default()).unwrap();
    assert!(m.is_empty() && m.pseudo_message());
    assert_eq!((m.uid_validity().get(), m.uid_next().get()), (v1, 1));
    assert!(matches!(
        create_mailbox(&f.mail, &path, "h"),
        Err(FolderError::Exists { .. })
    ));
    assert!(matches!(
        create_mailbox(&f.mail, &f.mail.join("a/x"), "h"),
        Err(FolderError::ParentNotFolder { .. })
    ));
    // Delete and create again within the same second: a larger UIDVALIDITY.
    delete(&f.tree(), &path, &LockSettings::default()).unwrap();
    let v2 = create_mailbox(&f.mail, &path, "h").unwrap();
    assert!(v2 > v1);
    // No temporary files left.
    let names: Vec<_> = fs::read_dir(f.mail.join("new/deep"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, ["box"]);
}

#[test]
fn delete_follows_rfc3501() {
    let f = Fixture::new();
    let tree = f.tree();
    let locking = LockSettings::default();
    assert!(matches!(
        delete(&tree, &f.mail.join("b"), &locking),
        Err(FolderError::HasChildren { .. })
    ));
    assert!(matches!(
        delete(&tree, &f.mail.join("junk"), &locking),
        Err(FolderError::NotMailbox { .. })
    ));
    assert_eq!(fs::read(f.mail.join("junk")).unwrap(), b"just some notes\n");
    assert!(matches!(
        delete(&tree, &f.mail.join("nope"), &locking),
        Err(FolderError::Missing { .. })
    ));
    delete(&tree, &f.mail.join("empty"), &locking).unwrap();
    delete(&tree, &f.mail.join("b/d/e"), &locking).unwrap();
    delete(&tree, &f.mail.join("b/d"), &locking).unwrap();
    // A folder holding only a non-mailbox file cannot be removed either.
    fs::create_dir(f.mail.join("notes")).unwrap();
    fs::write(f.mail.join("notes/todo.txt"), b"x").unwrap();
    assert!(matches!(
        delete(&tree, &f.mail.join("notes"), &locking),
        Err(FolderError::NotEmpty { .. })
    ));
    // A symbolic link is removed, not its target.
    symlink(f.mail.join("a"), f.mail.join("link")).unwrap();
    delete(&tree, &f.mail.join("link"), &locking).unwrap();
    assert!(f.mail.join("a").exists());
    // The deleted file's UIDVALIDITY counts as used.
    let ahead = u32::MAX - 10;
    fs::write(
        f.mail.join("ahead"),
        format!("From a Wed Dec  2 05:53:22 1992\nX-IMAPbase: {ahead} 0\n\nx\n"),
    )
    .unwrap();
    delete(&tree, &f.mail.join("ahead"), &locking).unwrap();
    assert_eq!(issue_uid_validity(&f.mail).unwrap(), ahead + 1);
}

#[test]
fn rename_moves_trees_and_renews_uid_validity() {
    let f = Fixture::new();
    let tree = f.tree();
    let locking = LockSettings::default();
    let v1 = create_mailbox(&f.mail, &f.mail.join("b/d/made"), "h").unwrap();
    rename(&tree, &f.mail.join("b"), &f.mail.join("x/y"), &locking).unwrap();
    assert!(!f.mail.join("b").exists());
    assert!(f.mail.join("x/y/d/e").exists());
    let moved = Mailbox::open(&f.mail.join("x/y/d/made"), Access::ReadOnly, &locking).unwrap();
    assert!(moved.uid_validity().get() > v1);
    // Back again: larger still.
    rename(&tree, &f.mail.join("x/y"), &f.mail.join("b"), &locking).unwrap();
    let back = Mailbox::open(&f.mail.join("b/d/made"), Access::ReadOnly, &locking).unwrap();
    assert!(back.uid_validity() > moved.uid_validity());
    rename(&tree, &f.mail.join("a"), &f.mail.join("a2"), &locking).unwrap();
    assert_eq!(fs::read(f.mail.join("a2")).unwrap(), MESSAGE);
    for (from, to) in [
        ("a2", "b/c"),
        ("b", "b/d/z"),
        ("nope", "q"),
        ("junk", "junk2"),
    ] {
        let result = rename(&tree, &f.mail.join(from), &f.mail.join(to), &locking);
        assert!(result.is_err(), "{from} -> {to}");
    }
    assert!(matches!(
        rename(&tree, &f.mail.join("a2"), &f.mail.join("blank/x"), &locking),
        Err(FolderError::ParentNotFolder { .. })
    ));
}

#[test]
fn rename_inbox_moves_messages_and_empties_inbox_in_place() {
    let f = Fixture::new();
    let locking = LockSettings::default();
    let session = fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mbox/uw-session.mbox"),
    )
    .unwrap();
    fs::write(&f.inbox, &session).unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    fs::set_permissions(&f.inbox, fs::Permissions::from_mode(0o660)).unwrap();
    let ino = fs::metadata(&f.inbox).unwrap().ino();
    // What INBOX held, copied out: its map must not be read once it is truncated.
    let (before_entries, before_bodies, before_keywords) = {
        let m = Mailbox::open(&f.inbox, Access::ReadOnly, &locking).unwrap();
        let bodies: Vec<Vec<u8>> = (0..m.len())
            .map(|i| m.message(i).unwrap().body().to_vec())
            .collect();
        (m.entries().to_vec(), bodies, m.keywords().to_vec())
    };
    let to = f.mail.join("old/inbox-2026");
    let v = rename_inbox(&f.mail, &f.inbox, &to, "h", &locking).unwrap();
    let meta = fs::metadata(&f.inbox).unwrap();
    assert_eq!(
        (meta.len(), meta.ino(), meta.permissions().mode() & 0o777),
        (0, ino, 0o660)
    );
    let after = Mailbox::open(&to, Access::ReadOnly, &locking).unwrap();
    assert_eq!(after.uid_validity().get(), v);
    assert_eq!(after.len(), before_entries.len());
    assert_eq!(after.keywords(), before_keywords);
    assert_eq!(
        after
            .entries()
            .iter()
            .map(|e| e.uid.get())
            .collect::<Vec<_>>(),
        (1..=30).collect::<Vec<_>>()
    );
    for (a, b) in before_entries.iter().zip(after.entries()) {
        assert_eq!(
            (a.flags, a.keywords, a.rfc822_size, a.internal_date),
            (b.flags, b.keywords, b.rfc822_size, b.internal_date)
        );
    }
    for (i, body) in before_bodies.iter().enumerate() {
        assert_eq!(body, after.message(i).unwrap().body());
    }
    // The name is taken now; and an INBOX that does not exist moves as empty.
    assert!(matches!(
        rename_inbox(&f.mail, &f.inbox, &to, "h", &locking),
        Err(FolderError::Exists { .. })
    ));
    fs::remove_file(&f.inbox).unwrap();
    rename_inbox(&f.mail, &f.inbox, &f.mail.join("none"), "h", &locking).unwrap();
    assert!(
        Mailbox::open(&f.mail.join("none"), Access::ReadOnly, &locking)
            .unwrap()
            .is_empty()
    );
    // INBOX that is not an mbox: refused, nothing written.
    fs::write(&f.inbox, b"garbage\n").unwrap();
    assert!(matches!(
        rename_inbox(&f.mail, &f.inbox, &f.mail.join("g"), "h", &locking),
        Err(FolderError::NotMailbox { .. })
    ));
    assert!(!f.mail.join("g").exists());
    assert_eq!(fs::read(&f.inbox).unwrap(), b"garbage\n");
}
