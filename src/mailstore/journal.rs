//! The write-ahead journal of a mailbox rewrite: what it holds, where it
//! lives, how it is written and read back.
//!
//! The hard part is that the journal is what makes a crash harmless, so it
//! must itself survive every crash: a record is used only once it has been
//! written *and* fsynced (and the journal's directory fsynced after the
//! journal was created), and on reading, a record whose checksum does not
//! match, or that is cut short, ends the journal. A torn or half-written last
//! record therefore means "that step never started", which is true, because
//! the mailbox is touched only after the record describing the step is
//! durable.
//!
//! # Format
//!
//! ```text
//! journal = magic record*
//! magic   = "MBXJRNL1"                       ; 8 bytes
//! record  = kind:u32 len:u64 payload[len] sum:u64   ; little-endian
//! ```
//!
//! `sum` is a 64-bit checksum of kind, len and payload. Kinds:
//!
//! | kind | payload | meaning |
//! |---|---|---|
//! | 1 PLAN | [`Plan`] | the whole operation: file identity, old and new length, in-place patches, the new tail as copy/literal pieces, check bytes |
//! | 2 EXTENDED | — | the file was extended to the new length (and fsynced) |
//! | 3 WINDOW | k, saved ranges + their bytes | every window before k is complete and fsynced; window k is about to be written, and these old bytes, which window k overwrites but window k or a later one still reads, are saved here |
//! | 4 MARKED | — | a NUL was written (and fsynced) at the new end, just before truncating |
//!
//! # Location
//!
//! Beside the mailbox as `.<name>.mbox-imapd-journal` (the same directory
//! rights as the dotlock), or, where that directory is not writable, in the
//! user's state directory as `<dev>-<ino>.journal` (`~/.mbox-imapd/`).
//! Recovery looks in both.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::sys;

const MAGIC: &[u8; 8] = b"MBXJRNL1";
const KIND_PLAN: u32 = 1;
const KIND_EXTENDED: u32 = 2;
const KIND_WINDOW: u32 = 3;
const KIND_MARKED: u32 = 4;
/// A record header: kind and length.
const RECORD_HEAD: usize = 12;
const RECORD_SUM: usize = 8;
/// The size of a WINDOW record without its saved ranges (header, window
/// number, range count, checksum).
pub const WINDOW_RECORD_OVERHEAD: u64 = (RECORD_HEAD + 16 + RECORD_SUM) as u64;

/// What an operation does to the file; everything recovery needs to finish it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub kind: PlanKind,
    /// The mailbox file (st_dev, st_ino): a journal never applies to another.
    pub dev: u64,
    pub ino: u64,
    /// The file length the plan was made for.
    pub old_len: u64,
    /// Where the new tail starts (`start == new_len` when there is none).
    pub start: u64,
    /// The file length afterwards.
    pub new_len: u64,
    /// Same-length overwrites before `start`: flag blocks in their padding.
    pub patches: Vec<Patch>,
    /// The new tail, in order, from `start` to `new_len`.
    pub pieces: Vec<Piece>,
    /// The bytes of the literal pieces.
    pub literals: Vec<u8>,
    /// The old bytes at `[start, start + n)` and `[old_len - m, old_len)`,
    /// checked before a plan that has not started writing is resumed.
    pub check_head: Vec<u8>,
    pub check_tail: Vec<u8>,
}

/// Rewrite (roll forward on recovery) or append (roll back on recovery).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanKind {
    /// Patches and/or a new tail; recovery completes it.
    Rewrite,
    /// New messages at `[old_len, new_len)`, plus patches (the new last UID
    /// in message 1); recovery removes the new bytes and keeps the patches.
    Append,
}

/// One in-place overwrite: `old` and `new` have the same length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    pub offset: u64,
    pub old: Vec<u8>,
    pub new: Vec<u8>,
}

/// A piece of the new tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    /// Old file bytes `[src, src + len)`.
    Copy { src: u64, len: u64 },
    /// `Plan::literals[at..at + len]`.
    Literal { at: u64, len: u64 },
}

impl Piece {
    pub fn len(&self) -> u64 {
        match *self {
            Piece::Copy { len, .. } | Piece::Literal { len, .. } => len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A saved old range: `len` bytes of the mailbox at `pos`, stored in the
/// journal at `journal_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saved {
    pub pos: u64,
    pub len: u64,
    pub journal_offset: u64,
}

/// A journal as read back: the plan and how far the operation got.
#[derive(Debug, Clone)]
pub struct State {
    pub plan: Plan,
    pub extended: bool,
    /// The last WINDOW record's window number: every window before it is
    /// done; it may be partly written.
    pub window: Option<u64>,
    /// Every saved range of every WINDOW record, sorted by `pos`.
    pub saved: Vec<Saved>,
    pub marked: bool,
}

/// An open journal file we are writing.
#[derive(Debug)]
pub struct Journal {
    pub path: PathBuf,
    file: File,
    /// Bytes written so far (the next record goes here).
    len: u64,
}

impl Journal {
    /// Creates the journal at the first usable location for `mailbox`
    /// (failing if one exists), writes the plan and makes both the journal
    /// and its directory entry durable.
    pub fn create(mailbox: &Path, plan: &Plan) -> io::Result<Journal> {
        let mut last_error = None;
        for path in locations(mailbox, plan.dev, plan.ino) {
            if let Some(dir) = path.parent().filter(|d| !d.exists()) {
                // Only the state directory may be missing; keep it private.
                if let Err(e) = std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                {
                    last_error = Some(e);
                    continue;
                }
            }
            match Self::create_at(&path, plan) {
                Ok(journal) => return Ok(journal),
                Err(e) if is_permission(&e) => last_error = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("no journal location")))
    }

    /// Creates a journal at exactly `path` (which must not exist).
    pub fn create_at(path: &Path, plan: &Plan) -> io::Result<Journal> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(path)?;
        let mut journal = Journal {
            path: path.to_owned(),
            file,
            len: 0,
        };
        // Encoded in place after the magic and the record head: the plan of
        // a first claim of a large mailbox carries megabytes of literals,
        // which are copied once, not three times.
        let mut bytes = Vec::with_capacity(
            MAGIC.len()
                + RECORD_HEAD
                + 64
                + plan
                    .patches
                    .iter()
                    .map(|p| 16 + p.old.len() + p.new.len())
                    .sum::<usize>()
                + plan.pieces.len() * 17
                + plan.literals.len()
                + RECORD_SUM,
        );
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&KIND_PLAN.to_le_bytes());
        bytes.extend_from_slice(&0u64.to_le_bytes());
        encode_plan_into(plan, &mut bytes);
        let head = MAGIC.len();
        let payload = (bytes.len() - head - RECORD_HEAD) as u64;
        if let Some(len) = bytes.get_mut(head + 4..head + RECORD_HEAD) {
            len.copy_from_slice(&payload.to_le_bytes());
        }
        let sum = checksum(bytes.get(head..).unwrap_or(&[]));
        bytes.extend_from_slice(&sum.to_le_bytes());
        let written = sys::write_all_at(&journal.file, &bytes, 0)
            .and_then(|()| sys::sync(&journal.file))
            .and_then(|()| sys::sync_dir(parent(path)));
        if let Err(e) = written {
            journal.discard();
            return Err(e);
        }
        journal.len = bytes.len() as u64;
        Ok(journal)
    }

    /// Reopens an existing journal for appending records (recovery).
    pub fn reopen(path: &Path) -> io::Result<Journal> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(path)?;
        let len = file.metadata()?.len();
        Ok(Journal {
            path: path.to_owned(),
            file,
            len,
        })
    }

    /// Truncates away whatever follows the valid records (a torn record),
    /// so that new records are found after them.
    pub fn cut_to(&mut self, valid_len: u64) -> io::Result<()> {
        if self.len != valid_len {
            sys::set_len(&self.file, valid_len)?;
            self.len = valid_len;
        }
        Ok(())
    }

    /// The length of the records written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Allocates `bytes` more after the records, so that the operation cannot
    /// run out of space halfway (the zeros read back as "no more records").
    pub fn reserve(&mut self, bytes: u64) -> io::Result<()> {
        let have = self.file.metadata()?.len();
        let want = self.len + bytes;
        if want > have {
            sys::allocate(&self.file, have, want - have)?;
            sys::sync(&self.file)?;
        }
        Ok(())
    }

    pub fn extended(&mut self) -> io::Result<()> {
        self.append(KIND_EXTENDED, &[])
    }

    pub fn marked(&mut self) -> io::Result<()> {
        self.append(KIND_MARKED, &[])
    }

    /// Records that windows before `window` are done and saves `saved`
    /// (`(pos, bytes)` pairs); returns the journal offset of each saved range.
    pub fn window(&mut self, window: u64, saved: &[(u64, Vec<u8>)]) -> io::Result<Vec<Saved>> {
        // The record is assembled in one buffer (head, index, saved bytes,
        // checksum): the saved bytes of a window (up to 8 MB) are copied
        // once, not twice.
        let index_len = 16 + 16 * saved.len();
        let data_len: usize = saved.iter().map(|(_, b)| b.len()).sum();
        let payload_len = index_len + data_len;
        let mut bytes = Vec::with_capacity(RECORD_HEAD + payload_len + RECORD_SUM);
        bytes.extend_from_slice(&KIND_WINDOW.to_le_bytes());
        bytes.extend_from_slice(&(payload_len as u64).to_le_bytes());
        bytes.extend_from_slice(&window.to_le_bytes());
        bytes.extend_from_slice(&(saved.len() as u64).to_le_bytes());
        for (pos, b) in saved {
            bytes.extend_from_slice(&pos.to_le_bytes());
            bytes.extend_from_slice(&(b.len() as u64).to_le_bytes());
        }
        let data_start = self.len + (RECORD_HEAD + index_len) as u64;
        let mut offsets = Vec::with_capacity(saved.len());
        let mut at = data_start;
        for (pos, b) in saved {
            offsets.push(Saved {
                pos: *pos,
                len: b.len() as u64,
                journal_offset: at,
            });
            at += b.len() as u64;
            bytes.extend_from_slice(b);
        }
        let sum = checksum(&bytes);
        bytes.extend_from_slice(&sum.to_le_bytes());
        self.write_record(&bytes)?;
        Ok(offsets)
    }

    /// Reads saved bytes back.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn append(&mut self, kind: u32, payload: &[u8]) -> io::Result<()> {
        self.write_record(&record(kind, payload))
    }

    /// Writes one complete record (see [`record`]) after the others.
    fn write_record(&mut self, bytes: &[u8]) -> io::Result<()> {
        sys::write_all_at(&self.file, bytes, self.len)?;
        // Within the reserved space the size does not change: the data and
        // its block mapping are what must be durable.
        if self.len + bytes.len() as u64 <= self.file.metadata()?.len() {
            sys::sync_data(&self.file)?;
        } else {
            sys::sync(&self.file)?;
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// The operation is complete: unlink the journal (the commit point) and
    /// make that durable. A failing directory fsync after a successful unlink
    /// is only logged: the operation is done either way (a rewrite journal
    /// that reappears after a power loss is finished again, idempotently).
    pub fn finish(self) -> io::Result<()> {
        sys::remove(&self.path)?;
        if let Err(e) = sys::sync_dir(parent(&self.path)) {
            log::warn!(
                "{}: removed, but the directory fsync failed: {e}",
                self.path.display()
            );
        }
        Ok(())
    }

    /// Removes a journal whose plan never touched the mailbox (best effort).
    pub fn discard(self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            log::warn!("{}: cannot remove journal: {e}", self.path.display());
        }
    }

    /// Replaces the journal at `self.path` by a new one holding `plan`,
    /// atomically (write beside it, fsync, rename over it, fsync the
    /// directory): used when recovery must continue with a follow-up plan.
    pub fn replace(self, plan: &Plan) -> io::Result<Journal> {
        let mut next = self.path.as_os_str().to_owned();
        next.push(".next");
        let next = PathBuf::from(next);
        let _ = std::fs::remove_file(&next);
        let journal = Journal::create_at(&next, plan)?;
        sys::rename(&next, &self.path)?;
        sys::sync_dir(parent(&self.path))?;
        Ok(Journal {
            path: self.path,
            ..journal
        })
    }
}

/// Where journals for `mailbox` (device `dev`, inode `ino`) may be, in the
/// order they are tried when creating one.
pub fn locations(mailbox: &Path, dev: u64, ino: u64) -> Vec<PathBuf> {
    let mut out = Vec::with_capacity(2);
    if let Some(name) = mailbox.file_name() {
        let mut beside = std::ffi::OsString::from(".");
        beside.push(name);
        beside.push(".mbox-imapd-journal");
        out.push(parent(mailbox).join(beside));
    }
    if let Some(dir) = state_dir() {
        out.push(dir.join(format!("{dev:x}-{ino:x}.journal")));
    }
    out
}

/// Finds an existing journal for the mailbox whose file is `file`.
pub fn find(mailbox: &Path, file: &File) -> io::Result<Option<PathBuf>> {
    let meta = file.metadata()?;
    for path in locations(mailbox, meta.dev(), meta.ino()) {
        // A `.next` left by a crash during `replace` never took effect.
        let mut next = path.as_os_str().to_owned();
        next.push(".next");
        let _ = std::fs::remove_file(PathBuf::from(next));
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => return Ok(Some(path)),
            Ok(_) => log::warn!("{}: not a regular file, ignored", path.display()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Reads a journal. `Ok(None)` if it holds no complete plan (it was never
/// used: the mailbox was not touched). Also returns the length of the valid
/// prefix. Saved bytes are checked but not kept in memory (a journal can be
/// as large as the tail it saves).
pub fn read(path: &Path) -> io::Result<Option<(State, u64)>> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut magic = [0u8; 8];
    if file.read_exact_at(&mut magic, 0).is_err() || &magic != MAGIC {
        return Ok(None);
    }
    let mut pos = MAGIC.len() as u64;
    let mut state: Option<State> = None;
    while let Some((kind, len)) = record_head(&file, pos, file_len)? {
        let payload_offset = pos + RECORD_HEAD as u64;
        let end = payload_offset + len;
        // Small records are read whole; WINDOW records only up to their
        // range table, the saved bytes are checksummed in chunks.
        let keep = match kind {
            KIND_WINDOW => len.min(16 + 16 * MAX_RANGES),
            _ => len,
        };
        let mut payload = vec![0u8; usize::try_from(keep).unwrap_or(0)];
        file.read_exact_at(&mut payload, payload_offset)?;
        if !record_checksum_ok(&file, pos, kind, len, &payload)? {
            break;
        }
        pos = end + RECORD_SUM as u64;
        match (kind, state.as_mut()) {
            (KIND_PLAN, None) => match decode_plan(&payload) {
                Some(plan) => {
                    state = Some(State {
                        plan,
                        extended: false,
                        window: None,
                        saved: Vec::new(),
                        marked: false,
                    })
                }
                None => break,
            },
            (KIND_EXTENDED, Some(s)) => s.extended = true,
            (KIND_MARKED, Some(s)) => s.marked = true,
            (KIND_WINDOW, Some(s)) => {
                let Some((window, saved)) = decode_window(&payload, payload_offset, len) else {
                    break;
                };
                s.window = Some(window);
                s.saved.extend(saved);
            }
            _ => break,
        }
    }
    Ok(state.map(|mut s| {
        s.saved.sort_by_key(|r| r.pos);
        (s, pos)
    }))
}

/// A WINDOW record saves at most this many ranges (one per copy piece that
/// overlaps the window; far below this).
const MAX_RANGES: u64 = 1 << 20;

/// The kind and payload length of the record at `pos`, if it fits in the file.
fn record_head(file: &File, pos: u64, file_len: u64) -> io::Result<Option<(u32, u64)>> {
    let mut head = [0u8; RECORD_HEAD];
    if pos + RECORD_HEAD as u64 > file_len {
        return Ok(None);
    }
    file.read_exact_at(&mut head, pos)?;
    let (kind, len) = head.split_at(4);
    let kind = u32::from_le_bytes(kind.try_into().unwrap_or([0; 4]));
    let len = u64::from_le_bytes(len.try_into().unwrap_or([0; 8]));
    let fits = pos
        .checked_add(RECORD_HEAD as u64)
        .and_then(|p| p.checked_add(len))
        .and_then(|p| p.checked_add(RECORD_SUM as u64))
        .is_some_and(|end| end <= file_len);
    Ok(fits.then_some((kind, len)))
}

/// Verifies a record's checksum, reading the part of the payload not in
/// `kept` from the file in chunks.
fn record_checksum_ok(file: &File, pos: u64, kind: u32, len: u64, kept: &[u8]) -> io::Result<bool> {
    let mut sum = Checksum::new(RECORD_HEAD as u64 + len);
    sum.update(&kind.to_le_bytes());
    sum.update(&len.to_le_bytes());
    sum.update(kept);
    let mut at = pos + RECORD_HEAD as u64 + kept.len() as u64;
    let end = pos + RECORD_HEAD as u64 + len;
    let mut chunk = vec![0u8; 1 << 20];
    while at < end {
        let n = (end - at).min(chunk.len() as u64) as usize;
        let buf = chunk.get_mut(..n).unwrap_or(&mut []);
        file.read_exact_at(buf, at)?;
        sum.update(buf);
        at += n as u64;
    }
    let mut stored = [0u8; RECORD_SUM];
    file.read_exact_at(&mut stored, end)?;
    Ok(sum.finish() == u64::from_le_bytes(stored))
}

fn record(kind: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_HEAD + payload.len() + RECORD_SUM);
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    let sum = checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// A fast 64-bit checksum (8 bytes per step, multiply-rotate mixing). It
/// detects torn and partly written records; it is not meant to resist
/// deliberate forgery (only the mailbox owner can write the journal).
pub fn checksum(bytes: &[u8]) -> u64 {
    let mut sum = Checksum::new(bytes.len() as u64);
    sum.update(bytes);
    sum.finish()
}

/// [`checksum`] computed over pieces (the total length is known up front).
struct Checksum {
    h: u64,
    /// Bytes of an unfinished 8-byte word.
    partial: [u8; 8],
    filled: usize,
}

impl Checksum {
    const PRIME: u64 = 0x9E37_79B9_7F4A_7C15;

    fn new(total_len: u64) -> Checksum {
        Checksum {
            h: 0x243F_6A88_85A3_08D3 ^ total_len,
            partial: [0; 8],
            filled: 0,
        }
    }

    fn word(&mut self, word: u64) {
        self.h = (self.h ^ word).wrapping_mul(Self::PRIME).rotate_left(29);
    }

    fn update(&mut self, mut bytes: &[u8]) {
        while self.filled > 0 && !bytes.is_empty() {
            if let (Some(slot), Some((&b, rest))) =
                (self.partial.get_mut(self.filled), bytes.split_first())
            {
                *slot = b;
                bytes = rest;
            }
            self.filled += 1;
            if self.filled == 8 {
                self.filled = 0;
                self.word(u64::from_le_bytes(self.partial));
            }
        }
        let mut chunks = bytes.chunks_exact(8);
        for chunk in chunks.by_ref() {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.word(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            if let Some(slot) = self.partial.get_mut(self.filled) {
                *slot = b;
            }
            self.filled += 1;
        }
    }

    fn finish(mut self) -> u64 {
        let partial = self.partial;
        for &b in partial.get(..self.filled).unwrap_or(&[]) {
            self.h = (self.h ^ u64::from(b))
                .wrapping_mul(Self::PRIME)
                .rotate_left(29);
        }
        let h = self.h ^ (self.h >> 32);
        h.wrapping_mul(Self::PRIME) ^ (h >> 29)
    }
}

/// Appends the encoding of `plan` to `out`.
fn encode_plan_into(plan: &Plan, out: &mut Vec<u8>) {
    let u64le = |out: &mut Vec<u8>, v: u64| out.extend_from_slice(&v.to_le_bytes());
    out.push(match plan.kind {
        PlanKind::Rewrite => 0,
        PlanKind::Append => 1,
    });
    for v in [plan.dev, plan.ino, plan.old_len, plan.start, plan.new_len] {
        u64le(out, v);
    }
    u64le(out, plan.patches.len() as u64);
    for p in &plan.patches {
        u64le(out, p.offset);
        u64le(out, p.old.len() as u64);
        out.extend_from_slice(&p.old);
        out.extend_from_slice(&p.new);
    }
    u64le(out, plan.pieces.len() as u64);
    for piece in &plan.pieces {
        let (tag, a, b) = match *piece {
            Piece::Copy { src, len } => (0u8, src, len),
            Piece::Literal { at, len } => (1u8, at, len),
        };
        out.push(tag);
        u64le(out, a);
        u64le(out, b);
    }
    for bytes in [&plan.literals, &plan.check_head, &plan.check_tail] {
        u64le(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }
}

/// Reads fields off the front of a byte slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u64(&mut self) -> Option<u64> {
        let (head, rest) = self.0.split_at_checked(8)?;
        self.0 = rest;
        Some(u64::from_le_bytes(head.try_into().ok()?))
    }
    fn bytes(&mut self, len: u64) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(usize::try_from(len).ok()?)?;
        self.0 = rest;
        Some(head)
    }
}

fn decode_plan(payload: &[u8]) -> Option<Plan> {
    let mut r = Reader(payload);
    let kind = match r.u8()? {
        0 => PlanKind::Rewrite,
        1 => PlanKind::Append,
        _ => return None,
    };
    let (dev, ino, old_len, start, new_len) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?, r.u64()?);
    let count = r.u64()?;
    let mut patches = Vec::new();
    for _ in 0..count {
        let offset = r.u64()?;
        let len = r.u64()?;
        let old = r.bytes(len)?.to_vec();
        let new = r.bytes(len)?.to_vec();
        patches.push(Patch { offset, old, new });
    }
    let count = r.u64()?;
    // Each piece is 17 bytes: a count beyond the payload is a lie.
    if count > (payload.len() / 17) as u64 {
        return None;
    }
    let mut pieces = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let tag = r.u8()?;
        let (a, b) = (r.u64()?, r.u64()?);
        pieces.push(match tag {
            0 => Piece::Copy { src: a, len: b },
            1 => Piece::Literal { at: a, len: b },
            _ => return None,
        });
    }
    let len = r.u64()?;
    let literals = r.bytes(len)?.to_vec();
    let len = r.u64()?;
    let check_head = r.bytes(len)?.to_vec();
    let len = r.u64()?;
    let check_tail = r.bytes(len)?.to_vec();
    Some(Plan {
        kind,
        dev,
        ino,
        old_len,
        start,
        new_len,
        patches,
        pieces,
        literals,
        check_head,
        check_tail,
    })
}

/// A WINDOW record from the start of its payload (`kept`; the whole payload
/// is `len` bytes at `payload_offset`).
fn decode_window(kept: &[u8], payload_offset: u64, len: u64) -> Option<(u64, Vec<Saved>)> {
    let mut r = Reader(kept);
    let window = r.u64()?;
    let count = r.u64()?;
    if count > MAX_RANGES {
        return None;
    }
    let mut ranges = Vec::with_capacity(count as usize);
    for _ in 0..count {
        ranges.push((r.u64()?, r.u64()?));
    }
    let mut at = payload_offset + 16 + 16 * count;
    let end = payload_offset + len;
    let mut saved = Vec::with_capacity(ranges.len());
    for (pos, len) in ranges {
        saved.push(Saved {
            pos,
            len,
            journal_offset: at,
        });
        at = at.checked_add(len)?;
    }
    (at == end).then_some((window, saved))
}

fn is_permission(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(nix::libc::EACCES | nix::libc::EPERM | nix::libc::EROFS)
    )
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

static STATE_DIR: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Sets the per-user state directory for journals that cannot live beside
/// their mailbox (default: `~/.mbox-imapd` of the user running the process,
/// from the password database). Only the first call has an effect.
pub fn set_state_dir(dir: PathBuf) {
    let _ = STATE_DIR.set(Some(dir));
}

fn state_dir() -> Option<PathBuf> {
    STATE_DIR
        .get_or_init(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|user| user.dir.join(".mbox-imapd"))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            kind: PlanKind::Rewrite,
            dev: 7,
            ino: 9,
            old_len: 1000,
            start: 100,
            new_len: 900,
            patches: vec![Patch {
                offset: 5,
                old: b"abc".to_vec(),
                new: b"xyz".to_vec(),
            }],
            pieces: vec![
                Piece::Copy { src: 200, len: 50 },
                Piece::Literal { at: 0, len: 4 },
            ],
            literals: b"lit!".to_vec(),
            check_head: b"From ".to_vec(),
            check_tail: b"\n\n".to_vec(),
        }
    }

    #[test]
    fn round_trip_and_torn_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut journal = Journal::create_at(&path, &plan()).unwrap();
        journal.extended().unwrap();
        let saved = journal
            .window(0, &[(100, b"old bytes".to_vec()), (300, b"more".to_vec())])
            .unwrap();
        let mut buf = [0u8; 4];
        journal.read_at(&mut buf, saved[1].journal_offset).unwrap();
        assert_eq!(&buf, b"more");
        journal.window(1, &[]).unwrap();
        let (state, valid) = read(&path).unwrap().unwrap();
        assert_eq!(state.plan, plan());
        assert!(state.extended && !state.marked);
        assert_eq!(state.window, Some(1));
        assert_eq!(state.saved, saved);
        assert_eq!(valid, std::fs::metadata(&path).unwrap().len());

        // Every cut of the last record leaves the earlier ones valid.
        let bytes = std::fs::read(&path).unwrap();
        let before_last = bytes.len() - (RECORD_HEAD + 16 + RECORD_SUM);
        for cut in before_last..bytes.len() {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let (state, valid) = read(&path).unwrap().unwrap();
            assert_eq!(state.window, Some(0), "cut at {cut}");
            assert_eq!(valid as usize, before_last);
        }
        // A flipped byte in the plan makes the journal empty.
        let mut bad = bytes.clone();
        bad[30] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert!(read(&path).unwrap().is_none());
        std::fs::write(&path, b"").unwrap();
        assert!(read(&path).unwrap().is_none());
    }

    #[test]
    fn checksum_sees_every_byte() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let sum = checksum(&data);
        for i in [0, 7, 8, 500, 999] {
            let mut copy = data.clone();
            copy[i] ^= 0x20;
            assert_ne!(checksum(&copy), sum, "byte {i}");
        }
        assert_ne!(checksum(&data[..999]), sum);
    }

    #[test]
    fn create_refuses_an_existing_journal_and_finish_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let mailbox = dir.path().join("box");
        std::fs::write(&mailbox, b"").unwrap();
        let journal = Journal::create(&mailbox, &plan()).unwrap();
        assert_eq!(journal.path, dir.path().join(".box.mbox-imapd-journal"));
        assert!(Journal::create(&mailbox, &plan()).is_err());
        let file = File::open(&mailbox).unwrap();
        assert_eq!(find(&mailbox, &file).unwrap(), Some(journal.path.clone()));
        journal.finish().unwrap();
        assert_eq!(find(&mailbox, &file).unwrap(), None);
    }
}
