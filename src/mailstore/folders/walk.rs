//! The folder tree as LIST sees it: which names under the mail directory are
//! mailboxes, which are folders, and what attributes they have.
//!
//! The hard part is showing only what a client may use, cheaply. A directory
//! entry is listed when its name is a valid modified UTF-7 name that is not
//! reserved (dotfiles, `*.lock`, a top-level `INBOX` which the spool file
//! shadows), when it does not lead outside the mail directory by a symbolic
//! link, and when it is a directory or a regular file whose first line is a
//! From_ line ([`super::probe`]). Looking at a file must not change its
//! access time, because `\Marked` is "modified since last read" (UW:
//! mtime > atime): files are opened with `O_NOATIME`. Walks are bounded in
//! depth and size, and never enter a directory twice on one path (symlink
//! loops).

use std::ffi::OsStr;
use std::fs::{self, FileType, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::names;

/// A name LIST shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the mail directory, levels joined by `/`: the file name
    /// bytes, which are modified UTF-7 (RFC 3501 §5.1.3).
    pub name: Vec<u8>,
    pub kind: Kind,
    /// RFC 3348: some name below this one is listable.
    pub has_children: bool,
    /// A mailbox file with data modified since it was last read (UW's rule:
    /// non-empty and mtime > atime). Always false for folders.
    pub marked: bool,
}

/// What a listed name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An mbox file: selectable.
    Mailbox,
    /// A directory: `\Noselect`, holds folders.
    Folder,
}

/// More entries than this in one listing are not listed (and it is logged):
/// a bound on memory for a pathological tree.
const MAX_LISTED: usize = 1_000_000;

/// The mail directory, with what the checks need resolved once.
#[derive(Debug, Clone)]
pub struct Tree {
    mail_dir: PathBuf,
    /// `mail_dir` with symbolic links resolved; `None` if it does not exist.
    root: Option<PathBuf>,
    /// The INBOX file with links resolved: a link to it is not an escape.
    inbox: Option<PathBuf>,
}

impl Tree {
    pub fn new(mail_dir: &Path, inbox: &Path) -> Tree {
        Tree {
            mail_dir: mail_dir.to_owned(),
            root: fs::canonicalize(mail_dir).ok(),
            inbox: fs::canonicalize(inbox).ok(),
        }
    }

    pub fn mail_dir(&self) -> &Path {
        &self.mail_dir
    }

    /// Every listable name below the folder `start` (`""` or `"a/b/"`, as
    /// listed names spell it), down to `depth` levels (1 = its direct
    /// children), in pre-order with each folder's entries sorted by name.
    pub fn list(&self, start: &[u8], depth: usize) -> Vec<Entry> {
        let mut out = Vec::new();
        let dir = if start.is_empty() {
            self.mail_dir.clone()
        } else {
            match start.strip_suffix(b"/") {
                Some(prefix) if valid_relative(prefix) => {
                    self.mail_dir.join(OsStr::from_bytes(prefix))
                }
                _ => return out,
            }
        };
        let Ok(meta) = fs::metadata(&dir) else {
            return out;
        };
        if !meta.is_dir() || !self.inside(&dir) {
            return out;
        }
        let mut ancestors = vec![(meta.dev(), meta.ino())];
        self.walk(&dir, start, depth, &mut ancestors, &mut out);
        out
    }

    /// The entry for one name (no wildcards), if it is listable.
    pub fn lookup(&self, name: &[u8]) -> Option<Entry> {
        if !valid_relative(name) {
            return None;
        }
        let path = self.mail_dir.join(OsStr::from_bytes(name));
        if !self.inside(&path) {
            return None;
        }
        let (parent, last) = match name.iter().rposition(|&b| b == b'/') {
            Some(i) => (
                self.mail_dir.join(OsStr::from_bytes(name.get(..i)?)),
                name.get(i + 1..)?,
            ),
            None => (self.mail_dir.clone(), name),
        };
        let (kind, meta) = self.classify(&parent, last, None)?;
        Some(Entry {
            name: name.to_vec(),
            kind,
            has_children: kind == Kind::Folder && self.has_children(&path),
            marked: kind == Kind::Mailbox && is_marked(&meta),
        })
    }

    /// Whether the directory `dir` holds any listable name (RFC 3348).
    pub fn has_children(&self, dir: &Path) -> bool {
        let Ok(entries) = fs::read_dir(dir) else {
            return false;
        };
        let at_root = dir == self.mail_dir;
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.as_bytes();
            self.listable_name(name, at_root)
                && self.classify(dir, name, e.file_type().ok()).is_some()
        })
    }

    /// The mailbox files at any depth under `dir` (symbolic links not followed).
    pub fn mailbox_files(&self, dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut pending = vec![dir.to_owned()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let Ok(kind) = e.file_type() else { continue };
                if kind.is_dir() {
                    pending.push(e.path());
                } else if kind.is_file() && super::is_mbox_file(&e.path()).unwrap_or(false) {
                    out.push(e.path());
                }
                if out.len() + pending.len() > MAX_LISTED {
                    return out;
                }
            }
        }
        out
    }

    /// Lists `dir` (whose names start with `prefix`) into `out`, `depth`
    /// levels deep. Returns whether anything in it was listable.
    fn walk(
        &self,
        dir: &Path,
        prefix: &[u8],
        depth: usize,
        ancestors: &mut Vec<(u64, u64)>,
        out: &mut Vec<Entry>,
    ) -> bool {
        let Ok(read) = fs::read_dir(dir) else {
            return false;
        };
        let mut entries: Vec<(Vec<u8>, Option<FileType>)> = read
            .flatten()
            .map(|e| (e.file_name().as_bytes().to_vec(), e.file_type().ok()))
            .filter(|(name, _)| self.listable_name(name, prefix.is_empty()))
            .collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut any = false;
        for (name, file_type) in entries {
            let Some((kind, meta)) = self.classify(dir, &name, file_type) else {
                continue;
            };
            any = true;
            if out.len() >= MAX_LISTED {
                log::warn!("{}: listing stopped at {MAX_LISTED} names", dir.display());
                break;
            }
            let mut full = prefix.to_vec();
            full.extend_from_slice(&name);
            let path = dir.join(OsStr::from_bytes(&name));
            let at = out.len();
            out.push(Entry {
                name: full.clone(),
                kind,
                has_children: false,
                marked: kind == Kind::Mailbox && is_marked(&meta),
            });
            if kind == Kind::Mailbox {
                continue;
            }
            let key = (meta.dev(), meta.ino());
            let has_children = if depth > 1 && !ancestors.contains(&key) {
                ancestors.push(key);
                full.push(b'/');
                let found = self.walk(&path, &full, depth - 1, ancestors, out);
                ancestors.pop();
                found
            } else {
                self.has_children(&path)
            };
            if let Some(entry) = out.get_mut(at) {
                entry.has_children = has_children;
            }
        }
        any
    }

    /// Whether a directory entry called `name` can be a listed name at all.
    fn listable_name(&self, name: &[u8], at_root: bool) -> bool {
        is_listable_component(name) && !(at_root && name.eq_ignore_ascii_case(b"INBOX"))
    }

    /// What `dir/name` is, if it is listable: a folder or an mbox file,
    /// following a symbolic link only if it stays inside the tree.
    fn classify(
        &self,
        dir: &Path,
        name: &[u8],
        file_type: Option<FileType>,
    ) -> Option<(Kind, Metadata)> {
        let path = dir.join(OsStr::from_bytes(name));
        let is_link = match file_type {
            Some(t) => t.is_symlink(),
            None => fs::symlink_metadata(&path).ok()?.file_type().is_symlink(),
        };
        if is_link && !self.inside(&path) {
            log::debug!("not listing {}: link leads outside", path.display());
            return None;
        }
        let meta = fs::metadata(&path).ok()?;
        if meta.is_dir() {
            return Some((Kind::Folder, meta));
        }
        if meta.is_file() && super::is_mbox_file(&path).unwrap_or(false) {
            return Some((Kind::Mailbox, meta));
        }
        None
    }

    /// `path` resolves to somewhere inside the tree, or to the INBOX file.
    fn inside(&self, path: &Path) -> bool {
        let (Some(root), Ok(real)) = (&self.root, fs::canonicalize(path)) else {
            return false;
        };
        real.starts_with(root) || self.inbox.as_ref() == Some(&real)
    }
}

/// A directory entry name that may appear in a listed name: valid,
/// canonical modified UTF-7 (so 7-bit, no control characters), not a
/// dotfile (our state, `.mailboxlist`-style files, Dovecot's `.imap`), not a
/// lock file (`*.lock`; hitching posts fail the mbox check).
pub fn is_listable_component(name: &[u8]) -> bool {
    !name.is_empty()
        && !name.starts_with(b".")
        && !name.ends_with(b".lock")
        && !name.contains(&b'/')
        && names::decode(name).is_ok()
}

/// Every level of a relative name is a listable component, and the first
/// is not INBOX.
fn valid_relative(name: &[u8]) -> bool {
    let mut levels = name.split(|&b| b == b'/');
    let first_ok = levels
        .next()
        .is_some_and(|l| is_listable_component(l) && !l.eq_ignore_ascii_case(b"INBOX"));
    first_ok && levels.all(is_listable_component)
}

/// UW's `\Marked` (non-empty, modified after it was last read) for the file
/// at `path` (INBOX); `false` if it is missing.
pub fn is_marked_file(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && is_marked(&m))
}

/// UW's `\Marked`: the file has data and was modified after it was last read.
fn is_marked(meta: &Metadata) -> bool {
    meta.len() > 0 && (meta.mtime(), meta.mtime_nsec()) > (meta.atime(), meta.atime_nsec())
}
