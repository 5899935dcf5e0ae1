//! APPEND (and COPY, which appends copies): new messages at the end of a
//! mailbox file, with their UIDs, under the write locks, all or nothing.
//!
//! The hard part is doing this cheaply on a 1 GB INBOX that other sessions
//! have open, while keeping UIDs safe:
//!
//! * **Only the new messages are written** (plus, usually, a same-length patch
//!   of message 1's `X-IMAPbase` for the new last UID). The next UID is found
//!   without indexing the file: message 1's declaration, then a walk
//!   *backwards* from the end to the last message that has an `X-UID`,
//!   counting the messages after it (their UIDs are computed; mbox-format.md
//!   §6.3). The file is never read as a whole, unless it has no metadata yet.
//! * **The last UID is recorded with the messages**: the `X-IMAPbase` /
//!   `X-IMAP` patch and the appended bytes are one journaled operation, so a
//!   UID can never be reused (the APPENDUID the client gets is final). A
//!   mailbox without a UIDVALIDITY (a spool file only the MTA has written)
//!   first gets one, as UW's "short-lived rewrite" of the destination does;
//!   that costs one rewrite of the file, once.
//! * **All or nothing**: the file is extended first (ENOSPC/EDQUOT/EFBIG stop
//!   everything before a byte is written), and a crash is undone by recovery
//!   (the client never got its OK and will retry), keeping mail delivered
//!   after the crash.
//! * The messages are stored as UW stores them (render.rs: CRs removed,
//!   `From ` quoted, metadata headers renamed `X-Original-`; NUL kept), with
//!   our metadata block at the end of the header, padded for later flag
//!   changes, and without `O`: they stay \Recent for the next session that
//!   sees them (the mailbox's owner), also when this session has it open.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use chrono::{DateTime, FixedOffset};
use memchr::memmem;

use super::headers::{self, UwHeader};
use super::index::{self, Clock, FileMeta, MAX_KEYWORD_OCTETS, MAX_KEYWORDS};
use super::journal::{Patch, Plan, PlanKind};
use super::lock::{self, LockMode};
use super::mmap::{MailData, Source};
use super::plan::{self, STORED, Target};
use super::render::{self, Block, MetaLine, Width};
use super::rewrite::{self, WriteError};
use super::scan;
use super::write::{
    Appended, NewMessage, OwnAppend, Stamp, disk_states, hostname, record_own_append,
};
use super::{Access, LockSettings, StoreError, open_file, open_regular};
use crate::types::{SystemFlags, Uid, UidValidity};

/// Appends `messages` to the mbox file at `path` (which must exist; it may be
/// open in this or another session), under the write locks, assigning UIDs.
/// All or nothing: on any error the file is cut back to its old length.
pub fn append(
    path: &Path,
    messages: &[NewMessage<'_>],
    locking: &LockSettings,
) -> Result<Appended, StoreError> {
    append_with_clock(path, messages, locking, Clock::system())
}

/// [`append`] with a fixed clock (UIDVALIDITY of a new mailbox, "now").
pub fn append_with_clock(
    path: &Path,
    messages: &[NewMessage<'_>],
    locking: &LockSettings,
    clock: Clock,
) -> Result<Appended, StoreError> {
    let io_error = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    let file = open_regular(path, |p| open_file(p, Access::ReadWrite))?;
    // Everything that does not depend on the file is prepared before locking.
    let user = user_name();
    let host = hostname();
    let now = local_now(clock);
    let prepared: Vec<Prepared> = messages
        .iter()
        .map(|m| Prepared {
            from_line: render::append_from_line(&user, &host, m.internal_date.unwrap_or(now)),
            // A `binary` part that lines of text would change goes in as
            // base64 (mime/protect.rs), so FETCH BINARY gives back its octets.
            text: render::append_text(&crate::mime::protect::protect_binary_parts(m.bytes)),
            flags: SystemFlags(m.flags.0 & STORED.0 & !SystemFlags::OLD.0),
            keywords: &m.keywords,
        })
        .collect();
    for keyword in messages.iter().flat_map(|m| &m.keywords) {
        if keyword.is_empty()
            || keyword.len() > MAX_KEYWORD_OCTETS
            || keyword.bytes().any(|b| !b.is_ascii_graphic())
        {
            return Err(StoreError::Limit {
                path: path.to_owned(),
                reason: format!("Invalid keyword {keyword:?}"),
            });
        }
    }

    let mut guard = lock::acquire(path, &file, LockMode::Write, locking)?;
    rewrite::recover(path, &file, &mut || guard.touch()).map_err(io_error)?;
    let mut state = Destination::read(path, &file, clock)?;
    let mut keywords = state.meta.keywords.clone();
    for keyword in prepared.iter().flat_map(|p| p.keywords) {
        if !keywords.iter().any(|k| k.eq_ignore_ascii_case(keyword)) {
            if keywords.len() >= MAX_KEYWORDS {
                return Err(StoreError::Limit {
                    path: path.to_owned(),
                    reason: format!("Too many keywords in this mailbox (at most {MAX_KEYWORDS})"),
                });
            }
            keywords.push(keyword.clone());
        }
    }
    let count = u32::try_from(prepared.len()).unwrap_or(u32::MAX);
    // Fixed now: a metadata rewrite below records `new_last` already.
    let first_uid = state.next_uid;
    // Messages at the end of the file without X-UID (delivered since a
    // session last recorded UIDs) have UIDs computed from the declared last
    // UID: each is the highest UID before it + 1 (index.rs). Raising the
    // declared last UID past them would renumber them above the X-UID we are
    // about to write, so it is left as it is; the new X-UIDs are above both,
    // and the next read-write session records everything (write.rs).
    let new_last = if state.unrecorded_tail > 0 {
        state.meta.last_uid
    } else {
        first_uid.saturating_sub(1).saturating_add(count)
    };
    let new_meta = |validity: u32| MetaLine {
        uid_validity: validity,
        last_uid: new_last,
        keywords: &keywords,
    };
    // The new last UID goes into message 1 / the pseudo-message in place;
    // where it cannot, the metadata is rewritten first.
    let mut patches = Vec::new();
    let mut rewrote_meta = false;
    if !state.empty {
        match state
            .meta
            .uid_validity
            .and_then(|v| state.meta_patch(&new_meta(v.get())))
        {
            Some(patch) => patches.push(patch),
            None => {
                let validity = state.meta.uid_validity.map_or(clock.now, |v| v.get());
                rewrote_meta = true;
                state.rewrite_meta(path, &file, &new_meta(validity), &mut || guard.touch())?;
                state = Destination::read(path, &file, clock)?;
            }
        }
    }
    let validity = match state.meta.uid_validity {
        Some(v) if !state.empty => v.get(),
        _ => clock.now.max(1),
    };

    // The bytes to append.
    let mut bytes = Vec::new();
    if !state.ends_with_newline {
        bytes.push(b'\n');
    }
    let mut uids = Vec::with_capacity(prepared.len());
    for (i, message) in prepared.iter().enumerate() {
        let uid = first_uid.saturating_add(i as u32);
        let bits = message
            .keywords
            .iter()
            .filter_map(|k| keywords.iter().position(|d| d.eq_ignore_ascii_case(k)))
            .fold(0u32, |m, b| m | (1 << b));
        let block = Block {
            base: (state.empty && i == 0).then(|| new_meta(validity)),
            flags: message.flags,
            keyword_bits: bits,
            keywords: &keywords,
            uid,
        }
        .render(Width::Uw)
        .unwrap_or_default();
        bytes.extend_from_slice(&message.from_line);
        if message.text.is_empty() {
            bytes.extend_from_slice(&block);
            bytes.push(b'\n');
        } else {
            bytes.extend_from_slice(&render::with_block(&message.text, &block));
        }
        bytes.push(b'\n');
        uids.push(Uid::new(uid).ok_or_else(|| StoreError::Limit {
            path: path.to_owned(),
            reason: "UIDs exhausted".into(),
        })?);
    }
    let meta = file.metadata().map_err(io_error)?;
    let patched: Vec<std::ops::Range<u64>> = patches
        .iter()
        .map(|p| p.offset..p.offset + p.new.len() as u64)
        .collect();
    let before = Stamp::of(&meta);
    record_own_append(None);
    let plan = Plan {
        kind: PlanKind::Append,
        dev: meta.dev(),
        ino: meta.ino(),
        old_len: state.len,
        start: state.len,
        new_len: state.len + bytes.len() as u64,
        patches,
        pieces: Vec::new(),
        literals: Vec::new(),
        check_head: Vec::new(),
        check_tail: Vec::new(),
    };
    match rewrite::execute_append(path, &file, plan, &bytes) {
        Ok(()) => {
            // Only a plain append is recorded: a metadata rewrite moved
            // messages, and an empty file had nothing indexed.
            if !rewrote_meta && !state.empty {
                let after = file.metadata().map_err(io_error)?;
                record_own_append(Some(OwnAppend {
                    before,
                    after: Stamp::of(&after),
                    patches: patched,
                }));
            }
        }
        Err(WriteError::NotStarted(e)) | Err(WriteError::Unfinished(e)) => {
            return Err(match e.raw_os_error() {
                Some(nix::libc::ENOSPC | nix::libc::EDQUOT | nix::libc::EFBIG) => {
                    StoreError::NoSpace {
                        path: path.to_owned(),
                        source: e,
                    }
                }
                _ => io_error(e),
            });
        }
    }
    drop(guard);
    Ok(Appended {
        uid_validity: UidValidity::new(validity).unwrap_or(UidValidity(std::num::NonZeroU32::MIN)),
        uids,
    })
}

/// Creates an empty mailbox file at `path` (mode 0600; it must not exist):
/// CREATE, or an APPEND/COPY to an INBOX that has never received mail. Its
/// UIDVALIDITY is recorded with the first message written to it (UW writes a
/// pseudo-message instead, which other mail readers show to the user).
pub fn create(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io_error = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    super::sys::sync_dir(dir).map_err(io_error)
}

/// A message rendered except for its block.
struct Prepared<'a> {
    from_line: Vec<u8>,
    text: Vec<u8>,
    flags: SystemFlags,
    keywords: &'a [String],
}

/// What appending needs to know about the destination file.
struct Destination {
    data: MailData,
    len: u64,
    /// No message at all (zero length or only blank bytes).
    empty: bool,
    ends_with_newline: bool,
    pseudo: bool,
    meta: FileMeta,
    /// Where message 1 (the pseudo-message if there is one) starts its text.
    first_text: usize,
    next_uid: u32,
    /// Messages after the last one that carries an X-UID.
    unrecorded_tail: u32,
}

impl Destination {
    fn read(path: &Path, file: &File, clock: Clock) -> Result<Destination, StoreError> {
        let io_error = |source| StoreError::Io {
            path: path.to_owned(),
            source,
        };
        let len = file.metadata().map_err(io_error)?.len();
        let data = MailData::load(file, len, Source::Map).map_err(io_error)?;
        let bytes = data.bytes();
        let first = bytes
            .iter()
            .position(|b| !matches!(b, b'\n' | b'\r' | b' ' | b'\t'));
        let Some(first) = first else {
            return Ok(Destination {
                data,
                len,
                empty: true,
                ends_with_newline: true,
                pseudo: false,
                meta: FileMeta::default(),
                first_text: 0,
                next_uid: 1,
                unrecorded_tail: 0,
            });
        };
        let line = bytes
            .get(first..)
            .and_then(scan::from_line)
            .ok_or_else(|| StoreError::NotMailbox {
                path: path.to_owned(),
                reason: format!("no From_ line at offset {first}"),
            })?;
        let first_text = first + line.len;
        let first_end = next_from_line(bytes, first_text).unwrap_or(bytes.len());
        let (pseudo, meta) = index::declared_meta(bytes.get(first_text..first_end).unwrap_or(&[]));
        let ends_with_newline = bytes.ends_with(b"\n");
        let mut dest = Destination {
            len,
            empty: false,
            ends_with_newline,
            pseudo,
            meta,
            first_text,
            next_uid: 1,
            unrecorded_tail: 0,
            data: MailData::Empty,
        };
        dest.next_uid = match dest.meta.uid_validity {
            Some(_) => {
                let (next, unrecorded) =
                    next_uid_backwards(bytes, first, pseudo, dest.meta.last_uid);
                dest.unrecorded_tail = unrecorded;
                next
            }
            // No UIDVALIDITY: every message is numbered 1..n (index.rs).
            None => {
                let spans = scan::Spans::new(bytes).map_err(|e| StoreError::NotMailbox {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?;
                let index = index::build_streaming(bytes, spans, clock, path).map_err(|e| {
                    StoreError::NotMailbox {
                        path: path.to_owned(),
                        reason: e.to_string(),
                    }
                })?;
                index.uid_next.get()
            }
        };
        dest.data = data;
        Ok(dest)
    }

    /// A same-length patch recording `meta` in message 1 (or the pseudo-message).
    fn meta_patch(&self, meta: &MetaLine<'_>) -> Option<Patch> {
        let bytes = self.data.bytes();
        let text_end = next_from_line(bytes, self.first_text).unwrap_or(bytes.len());
        let text = bytes.get(self.first_text..text_end)?;
        let header = text.get(..headers::header_length(text))?;
        let fields: Vec<headers::UwField<'_>> = headers::uw_fields(header).collect();
        if self.pseudo {
            let field = fields
                .iter()
                .find(|f| f.exact_case && f.header == UwHeader::XImap)?;
            let old = header.get(field.span.clone())?;
            let new = render::pseudo_meta_line(meta);
            return (new.len() == old.len()).then(|| Patch {
                offset: (self.first_text + field.span.start) as u64,
                old: old.to_vec(),
                new,
            });
        }
        // Message 1's block, re-rendered with its own flags and UID.
        let first = fields.first()?;
        let last = fields.last()?;
        if fields
            .windows(2)
            .any(|w| w.first().map(|a| a.span.end) != w.get(1).map(|b| b.span.start))
        {
            return None;
        }
        let mut flags = SystemFlags::default();
        let mut keyword_bits = 0u32;
        let mut uid = None;
        for field in fields.iter().filter(|f| f.exact_case) {
            match field.header {
                UwHeader::Status | UwHeader::XStatus => {
                    flags.insert(headers::flag_letters(field.value))
                }
                UwHeader::XKeywords => {
                    for word in headers::words(field.value) {
                        if let Some(bit) = self
                            .meta
                            .keywords
                            .iter()
                            .position(|k| k.as_bytes().eq_ignore_ascii_case(word))
                        {
                            keyword_bits |= 1 << bit;
                        }
                    }
                }
                UwHeader::XUid => uid = headers::uid_value(field.value),
                _ => {}
            }
        }
        let run = first.span.start..last.span.end;
        let new = Block {
            base: Some(*meta),
            flags: SystemFlags(flags.0 & STORED.0),
            keyword_bits,
            keywords: meta.keywords,
            uid: uid?,
        }
        .render(Width::Exactly(run.len()))?;
        Some(Patch {
            offset: (self.first_text + run.start) as u64,
            old: header.get(run)?.to_vec(),
            new,
        })
    }

    /// Records `meta` by rewriting message 1 (or the pseudo-message): the
    /// mailbox had no UIDVALIDITY, or the declaration does not fit in place.
    /// Other messages keep their flags and \Recent state (no `O` added);
    /// those without an `X-UID` get one, since the plan writes each block it
    /// touches completely.
    fn rewrite_meta(
        &self,
        path: &Path,
        file: &File,
        meta: &MetaLine<'_>,
        touch: &mut dyn FnMut(),
    ) -> Result<(), StoreError> {
        let bytes = self.data.bytes();
        let spans = scan::Spans::new(bytes).map_err(|e| StoreError::NotMailbox {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let mut index = index::build_streaming(
            bytes,
            spans,
            Clock {
                now: meta.uid_validity,
                ..Clock::system()
            },
            path,
        )
        .map_err(|e| StoreError::NotMailbox {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        // Keywords the file declares keep their bits (ours extend the list).
        index.keywords = meta.keywords.to_vec();
        let disk = disk_states(&index);
        let targets: Vec<Target> = disk
            .iter()
            .map(|d| Target {
                flags: d.flags,
                keywords: d.keywords,
                remove: false,
            })
            .collect();
        let host = hostname();
        let now = local_now(Clock::system());
        let new_pseudo = |m: &MetaLine<'_>| render::pseudo_message(now, &host, m);
        let built = plan::build(&plan::Input {
            data: bytes,
            entries: &index.entries,
            disk: &disk,
            targets: &targets,
            meta: *meta,
            file_meta: &index.file_meta,
            pseudo: index.pseudo_message,
            new_pseudo: &new_pseudo,
        });
        if built.is_empty() {
            return Ok(());
        }
        let file_meta = file.metadata().map_err(|source| StoreError::Io {
            path: path.to_owned(),
            source,
        })?;
        let (check_head, check_tail) = rewrite::check_bytes(bytes, built.start, self.len);
        let plan = Plan {
            kind: PlanKind::Rewrite,
            dev: file_meta.dev(),
            ino: file_meta.ino(),
            old_len: self.len,
            start: built.start,
            new_len: built.new_len,
            patches: built.patches,
            pieces: built.pieces,
            literals: built.literals,
            check_head,
            check_tail,
        };
        log::info!(
            "{}: recording UIDVALIDITY and last UID in message 1",
            path.display()
        );
        rewrite::execute(path, file, plan, touch).map_err(|e| {
            let e = match e {
                WriteError::NotStarted(e) | WriteError::Unfinished(e) => e,
            };
            match e.raw_os_error() {
                Some(nix::libc::ENOSPC | nix::libc::EDQUOT | nix::libc::EFBIG) => {
                    StoreError::NoSpace {
                        path: path.to_owned(),
                        source: e,
                    }
                }
                _ => StoreError::Io {
                    path: path.to_owned(),
                    source: e,
                },
            }
        })
    }
}

/// The next valid From_ line at or after `from`.
fn next_from_line(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from.saturating_sub(1)..)?;
    memmem::find_iter(rest, b"\nFrom ")
        .map(|hit| from.saturating_sub(1) + hit + 1)
        .find(|&at| bytes.get(at..).and_then(scan::from_line).is_some())
}

/// UIDNEXT computed from the end of the file: the last message with an
/// `X-UID` gives the highest recorded UID; each message after it has a
/// computed one (index.rs `UidAssigner`). `first` is where message 1 starts.
/// The next UID, and how many messages at the end carry no X-UID.
fn next_uid_backwards(bytes: &[u8], first: usize, pseudo: bool, declared_last: u32) -> (u32, u32) {
    let mut end = bytes.len();
    let mut unrecorded = 0u32;
    let mut finder = memmem::rfind_iter(bytes, b"\nFrom ");
    loop {
        // The start of the message that ends at `end`.
        let start = loop {
            match finder.next() {
                Some(hit) if hit + 1 >= end => continue,
                Some(hit) => {
                    if bytes.get(hit + 1..).and_then(scan::from_line).is_some() {
                        break hit + 1;
                    }
                }
                None => break first,
            }
        };
        if start == first && pseudo {
            break;
        }
        let Some(line) = bytes.get(start..).and_then(scan::from_line) else {
            break;
        };
        let text = bytes.get(start + line.len..end).unwrap_or(&[]);
        let header = text.get(..headers::header_length(text)).unwrap_or(text);
        let uid = headers::uw_fields(header)
            .find(|f| f.exact_case && f.header == UwHeader::XUid)
            .and_then(|f| headers::uid_value(f.value));
        if let Some(uid) = uid {
            let next = declared_last
                .max(uid)
                .saturating_add(unrecorded)
                .saturating_add(1);
            return (next, unrecorded);
        }
        unrecorded = unrecorded.saturating_add(1);
        if start == first {
            break;
        }
        end = start;
    }
    (
        declared_last.saturating_add(unrecorded).saturating_add(1),
        unrecorded,
    )
}

fn user_name() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or_else(|| "MAILER-DAEMON".to_owned(), |u| u.name)
}

fn local_now(clock: Clock) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(i32::from(clock.local_offset_minutes) * 60)
        .unwrap_or_else(|| chrono::Offset::fix(&chrono::Utc));
    DateTime::from_timestamp(i64::from(clock.now), 0)
        .unwrap_or_default()
        .with_timezone(&offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailstore::Mailbox;

    const CLOCK: Clock = Clock {
        now: 1_800_000_000,
        local_offset_minutes: 0,
    };

    fn message(bytes: &[u8]) -> NewMessage<'_> {
        NewMessage {
            bytes,
            flags: SystemFlags::SEEN,
            keywords: Vec::new(),
            internal_date: None,
        }
    }

    fn copy_fixture(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/mbox")
                .join(name),
            &path,
        )
        .unwrap();
        (dir, path)
    }

    #[test]
    fn uids_continue_and_only_the_message_is_written() {
        let (_dir, path) = copy_fixture("uw-session.mbox");
        let before = std::fs::read(&path).unwrap();
        let got = append_with_clock(
            &path,
            &[message(b"Subject: hi\r\n\r\nFrom me\r\n")],
            &LockSettings::default(),
            CLOCK,
        )
        .unwrap();
        assert_eq!(got.uid_validity.get(), 1_795_932_911);
        assert_eq!(got.uids, [Uid::new(32).unwrap()]);
        let after = std::fs::read(&path).unwrap();
        assert_eq!(&after[..100], &before[..100]);
        assert!(after.len() > before.len());
        let m = Mailbox::open(&path, Access::ReadOnly, &LockSettings::default()).unwrap();
        assert_eq!(m.len(), 31);
        let last = m.entries().last().unwrap();
        assert_eq!(last.uid.get(), 32);
        assert!(last.flags.contains(SystemFlags::SEEN));
        assert!(last.flags.contains(SystemFlags::RECENT));
        assert_eq!(m.message(30).unwrap().body(), b">From me\n");
        assert_eq!(m.uid_next().get(), 33);
        assert!(!m.metadata_unsaved());
        let text = String::from_utf8_lossy(&after);
        assert!(text.contains("X-IMAPbase: 1795932911 32 Work $Forwarded\n"));
    }

    /// A literal8 message (RFC 3516) keeps its NUL octets on disk, and its
    /// size: FETCH BINARY can give back what APPEND got.
    #[test]
    fn nul_octets_are_stored_as_they_are() {
        let (_dir, path) = copy_fixture("uw-session.mbox");
        let before = std::fs::read(&path).unwrap();
        append_with_clock(
            &path,
            &[message(b"Subject: bin\r\n\r\na\0b\r\n\0\r\n")],
            &LockSettings::default(),
            CLOCK,
        )
        .unwrap();
        let after = std::fs::read(&path).unwrap();
        assert!(
            after[before.len()..].ends_with(b"\n\na\0b\n\0\n\n"),
            "{after:?}"
        );
        let m = Mailbox::open(&path, Access::ReadOnly, &LockSettings::default()).unwrap();
        assert_eq!(m.message(30).unwrap().body(), b"a\0b\n\0\n");
    }

    #[test]
    fn empty_file_gets_its_uidvalidity_from_the_first_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box");
        std::fs::write(&path, b"").unwrap();
        let mut msg = message(b"Subject: one\n\nbody\n");
        msg.keywords = vec!["Work".into()];
        let got = append_with_clock(
            &path,
            &[msg.clone(), message(b"Subject: two\n\nx\n")],
            &LockSettings::default(),
            CLOCK,
        )
        .unwrap();
        assert_eq!(got.uid_validity.get(), CLOCK.now);
        assert_eq!(got.uids.iter().map(|u| u.get()).collect::<Vec<_>>(), [1, 2]);
        let m = Mailbox::open(&path, Access::ReadOnly, &LockSettings::default()).unwrap();
        assert_eq!(m.uid_validity().get(), CLOCK.now);
        assert_eq!(m.keywords(), ["Work"]);
        assert_eq!(m.entries()[0].keywords, 1);
        assert!(!m.metadata_unsaved());
        // Again, into the pseudo-message mailbox form.
        let (_d, path) = copy_fixture("uw-expunged-all.mbox");
        let got = append_with_clock(&path, &[msg], &LockSettings::default(), CLOCK).unwrap();
        assert_eq!(got.uids, [Uid::new(4).unwrap()]);
        let m = Mailbox::open(&path, Access::ReadOnly, &LockSettings::default()).unwrap();
        assert_eq!((m.len(), m.uid_next().get()), (1, 5));
        assert_eq!(m.keywords(), ["Work"]);
    }

    #[test]
    fn mailbox_without_uidvalidity_gets_one_first() {
        let (_dir, path) = copy_fixture("spool-plain.mbox");
        let before = Mailbox::open(&path, Access::ReadOnly, &LockSettings::default()).unwrap();
        let got = append_with_clock(
            &path,
            &[message(b"Subject: x\n\ny\n")],
            &LockSettings::default(),
            CLOCK,
        )
        .unwrap();
        assert_eq!(got.uids, [Uid::new(31).unwrap()]);
        let m = Mailbox::open(&path, Access::ReadOnly, &LockSettings::default()).unwrap();
        assert_eq!(m.uid_validity().get(), CLOCK.now);
        assert_eq!(m.len(), 31);
        // Still \Recent (no O written), same sizes, UIDs 1..31 now recorded.
        assert_eq!(m.recent_count(), 31);
        for (a, b) in before.entries().iter().zip(m.entries()) {
            assert_eq!(
                (a.uid, a.rfc822_size, a.internal_date),
                (b.uid, b.rfc822_size, b.internal_date)
            );
        }
        assert!(!m.metadata_unsaved());
    }

    #[test]
    fn created_mailbox_takes_the_first_recorded_uidvalidity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("INBOX");
        let mut session = Mailbox::empty(&path);
        assert!(session.refresh().unwrap().is_empty());
        create(&path).unwrap();
        assert!(create(&path).is_err());
        assert!(session.refresh().unwrap().is_empty());
        let got = append_with_clock(
            &path,
            &[message(b"Subject: a\n\nb\n")],
            &LockSettings::default(),
            CLOCK,
        )
        .unwrap();
        let r = session.refresh().unwrap();
        assert_eq!(r.appended, 1);
        assert_eq!(session.uid_validity(), got.uid_validity);
        assert_eq!(session.entries()[0].uid, got.uids[0]);
    }

    #[test]
    fn next_uid_walks_back_over_unrecorded_messages() {
        let m = |h: &str| format!("From a Wed Dec  2 05:53:22 1992\n{h}\nbody\n\n");
        let data = [m("X-IMAPbase: 5 7\nX-UID: 3"), m("X-UID: 9"), m(""), m("")].concat();
        assert_eq!(next_uid_backwards(data.as_bytes(), 0, false, 7).0, 12);
        let data = [m("X-IMAPbase: 5 7"), m(""), m("")].concat();
        assert_eq!(next_uid_backwards(data.as_bytes(), 0, false, 7).0, 11);
        let data = [m("X-IMAP: 5 7"), m("X-UID: 2")].concat();
        assert_eq!(next_uid_backwards(data.as_bytes(), 0, true, 7).0, 8);
        let data = m("X-IMAP: 5 7");
        assert_eq!(next_uid_backwards(data.as_bytes(), 0, true, 7).0, 8);
    }
}
