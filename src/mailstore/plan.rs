//! Turning "these messages now have these flags, those go away" into the
//! smallest [`journal::Plan`] that writes it: in-place patches where the new
//! metadata block fits in the old one, a new tail from the first message that
//! cannot be patched (or is expunged) on.
//!
//! The hard part is choosing what to rewrite. UW rewrites every message from
//! the first changed one to the end; we rewrite as little as possible:
//!
//! * A message whose metadata fields (`Status`, `X-Status`, `X-Keywords`,
//!   `X-UID`, `X-IMAPbase`, in any layout, UW's or Dovecot's) form one
//!   contiguous run of header lines gets its new block rendered to exactly the
//!   run's length (the padding absorbs the difference): a same-length patch.
//! * Anything else (an expunge, a message without metadata, a block that no
//!   longer fits) starts the tail at that message's From_ line. In the tail,
//!   a message whose block must change and does not fit is re-rendered in
//!   UW's layout (block moved to the end of the header, UW padding); every
//!   other byte is copied: From_ lines, headers, bodies and the gaps between
//!   messages stay byte-identical.
//! * The mailbox metadata (UIDVALIDITY, last UID, keywords) goes into the
//!   block of the first real message (`X-IMAPbase`), or the pseudo-message's
//!   `X-IMAP` line; when everything is expunged, UW's pseudo-message is
//!   written so that UIDVALIDITY and the last UID survive (mbox-format.md §7.3).
//!
//! Pure: bytes and index in, plan and new layout out.

use memchr::{memchr, memrchr};

use super::MessageEntry;
use super::headers::{self, UwHeader};
use super::index::FileMeta;
use super::journal::{Patch, Piece};
use super::render::{self, Block, MetaLine, Width};
use crate::types::SystemFlags;

/// The flags every stored block may carry.
pub const STORED: SystemFlags = SystemFlags(
    SystemFlags::SEEN.0
        | SystemFlags::ANSWERED.0
        | SystemFlags::FLAGGED.0
        | SystemFlags::DELETED.0
        | SystemFlags::DRAFT.0
        | SystemFlags::OLD.0,
);

/// What one message must look like afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Stored flags (see [`STORED`]).
    pub flags: SystemFlags,
    pub keywords: u32,
    pub remove: bool,
}

/// A message as the file records it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnDisk {
    pub flags: SystemFlags,
    pub keywords: u32,
    /// Its UID is in the file (a trusted X-UID).
    pub recorded: bool,
}

pub struct Input<'a> {
    /// The whole file.
    pub data: &'a [u8],
    pub entries: &'a [MessageEntry],
    pub disk: &'a [OnDisk],
    pub targets: &'a [Target],
    /// The metadata to record.
    pub meta: MetaLine<'a>,
    /// The metadata the file records now.
    pub file_meta: &'a FileMeta,
    /// The file starts with UW's pseudo-message.
    pub pseudo: bool,
    /// Renders a new pseudo-message.
    pub new_pseudo: &'a dyn Fn(&MetaLine<'_>) -> Vec<u8>,
}

/// The plan's contents and what the messages look like afterwards.
#[derive(Debug, Default)]
pub struct Built {
    pub start: u64,
    pub new_len: u64,
    pub patches: Vec<Patch>,
    pub pieces: Vec<Piece>,
    pub literals: Vec<u8>,
    /// Per input message: new (text offset, header length, length), `None`
    /// if removed.
    pub layout: Vec<Option<(u64, u32, u32)>>,
    /// Per input message: its block was written (its stored state is now its target).
    pub written: Vec<bool>,
    /// The file has a pseudo-message afterwards.
    pub pseudo_after: bool,
    /// The metadata is recorded afterwards.
    pub meta_written: bool,
    /// The file's length before the write.
    pub old_len: u64,
}

impl Built {
    /// Nothing to write. A plan that only cuts the file (expunging the last
    /// messages: no patch, nothing to copy) is not empty: its new length differs.
    pub fn is_empty(&self) -> bool {
        self.patches.is_empty() && self.pieces.is_empty() && self.new_len == self.old_len
    }
}

/// What happens to one message.
#[derive(Debug, Clone)]
enum Change {
    Keep,
    Remove,
    /// Same-length replacement of its metadata run: (file offset, old, new).
    /// Boxed: most messages are `Keep`, and 100,000 changes are held at once.
    InPlace(Box<Patch>),
    /// Rewritten in the tail with a new UW block (rendered when the tail is
    /// assembled, so that the blocks of all messages are never held twice).
    Rerender,
}

/// Builds the plan (see the module doc).
pub fn build(input: &Input<'_>) -> Built {
    let data = input.data;
    let len = data.len() as u64;
    let n = input.entries.len();
    // Where message i's From_ line starts: looked up only for messages in
    // the rewritten tail (or removed), so that a plan that patches a few
    // messages in place does not touch every page of a large file.
    let from = |i: usize| {
        input
            .entries
            .get(i)
            .map(|e| from_line_start(data, e.offset as usize))
    };
    let region_end = |i: usize| from(i + 1).unwrap_or(data.len());
    let meta = &input.meta;
    let meta_changed = input.file_meta.uid_validity.map(|v| v.get()) != Some(meta.uid_validity)
        || input.file_meta.last_uid != meta.last_uid
        || input.file_meta.keywords.as_slice() != meta.keywords;
    let first_survivor = input.targets.iter().position(|t| !t.remove);
    let create_pseudo = !input.pseudo && first_survivor.is_none() && n > 0;

    let mut start = len;
    let mut patches = Vec::new();

    // The pseudo-message's X-IMAP line, if the metadata changed.
    let pseudo_from = first_from_line(data);
    let mut rerender_pseudo = false;
    if input.pseudo && meta_changed {
        match pseudo_patch(data, pseudo_from, meta) {
            Some(patch) => patches.push(patch),
            None => {
                rerender_pseudo = true;
                start = start.min(pseudo_from as u64);
            }
        }
    }
    if create_pseudo {
        start = start.min(from(0).unwrap_or(0) as u64);
    }

    // The block message `i` gets (the same in both passes below).
    let block_of = |i: usize, entry: &MessageEntry, target: &Target| Block {
        base: (!input.pseudo && Some(i) == first_survivor).then_some(*meta),
        flags: SystemFlags(target.flags.0 & STORED.0),
        keyword_bits: target.keywords,
        keywords: meta.keywords,
        uid: entry.uid.get(),
    };
    let mut changes = Vec::with_capacity(n);
    for (i, entry) in input.entries.iter().enumerate() {
        let (Some(target), Some(disk)) = (input.targets.get(i), input.disk.get(i)) else {
            changes.push(Change::Keep);
            continue;
        };
        let at = || from(i).unwrap_or(0);
        if target.remove {
            start = start.min(at() as u64);
            changes.push(Change::Remove);
            continue;
        }
        let carries_base = !input.pseudo && Some(i) == first_survivor;
        let mut needs =
            !disk.recorded || disk.flags != target.flags || disk.keywords != target.keywords;
        // Only the message that carries X-IMAPbase needs its header read to
        // decide (a stray X-IMAPbase elsewhere is hidden, and dropped when
        // that message is rewritten for another reason).
        let text = text_of(data, entry);
        let header = text.get(..entry.header_length as usize).unwrap_or(text);
        if carries_base && !needs {
            let has_base =
                headers::uw_fields(header).any(|f| f.exact_case && f.header == UwHeader::XImapBase);
            needs = meta_changed || !has_base;
        }
        if !needs {
            changes.push(Change::Keep);
            continue;
        }
        let fields: Vec<headers::UwField<'_>> = headers::uw_fields(header).collect();
        let block = block_of(i, entry, target);
        let run = contiguous_run(&fields);
        let in_place = run.and_then(|run| {
            let new = block.render(Width::Exactly(run.len()))?;
            let offset = entry.offset + run.start as u64;
            let old = header.get(run)?.to_vec();
            Some(Patch { offset, old, new })
        });
        match in_place {
            Some(patch) => changes.push(Change::InPlace(Box::new(patch))),
            None => {
                start = start.min(at() as u64);
                changes.push(Change::Rerender);
            }
        }
    }

    let mut built = Built {
        start,
        new_len: start,
        patches,
        layout: Vec::with_capacity(n),
        written: Vec::with_capacity(n),
        pseudo_after: input.pseudo || create_pseudo,
        meta_written: meta_changed && (input.pseudo || first_survivor.is_some() || create_pseudo),
        old_len: len,
        ..Built::default()
    };
    let mut tail = Tail {
        pieces: Vec::new(),
        literals: Vec::new(),
        dest: start,
    };
    if rerender_pseudo {
        let pseudo_end = from(0).unwrap_or(data.len());
        tail.literal(&(input.new_pseudo)(meta));
        debug_assert!(pseudo_from <= pseudo_end);
    }
    if create_pseudo {
        tail.literal(&(input.new_pseudo)(meta));
    }
    for (i, (entry, change)) in input.entries.iter().zip(changes).enumerate() {
        let written = !matches!(change, Change::Keep | Change::Remove);
        built.written.push(written);
        // `start` is a From_ line start (or the file's end), so a message
        // is before it exactly when its text is: its From_ line is not
        // looked up.
        if entry.offset < start {
            // Before the tail: unchanged or patched in place.
            if let Change::InPlace(patch) = change {
                built.patches.push(*patch);
            }
            built
                .layout
                .push(Some((entry.offset, entry.header_length, entry.length)));
            continue;
        }
        let at = from(i).unwrap_or(0) as u64;
        let end = region_end(i) as u64;
        let text_at = entry.offset;
        match change {
            Change::Remove => built.layout.push(None),
            Change::Keep => {
                let offset = tail.dest + (text_at - at);
                tail.copy(at, end - at);
                built
                    .layout
                    .push(Some((offset, entry.header_length, entry.length)));
            }
            Change::InPlace(patch) => {
                let offset = tail.dest + (text_at - at);
                tail.copy(at, patch.offset - at);
                tail.literal(&patch.new);
                let after = patch.offset + patch.new.len() as u64;
                tail.copy(after, end - after);
                built
                    .layout
                    .push(Some((offset, entry.header_length, entry.length)));
            }
            Change::Rerender => {
                let block = match input.targets.get(i) {
                    Some(target) => block_of(i, entry, target)
                        .render(Width::Uw)
                        .unwrap_or_default(),
                    None => Vec::new(),
                };
                let text = text_of(data, entry);
                let header = text.get(..entry.header_length as usize).unwrap_or(text);
                let insert_at = text_at + render::header_insertion_point(text) as u64;
                tail.copy(at, text_at - at);
                let offset = tail.dest;
                let mut removed = 0u64;
                let mut kept_from = text_at;
                let mut inserted = false;
                for field in headers::uw_fields(header) {
                    let (f_start, f_end) = (
                        text_at + field.span.start as u64,
                        text_at + field.span.end as u64,
                    );
                    if !inserted && insert_at <= f_start {
                        tail.copy(kept_from, insert_at - kept_from);
                        tail.literal(&block);
                        kept_from = insert_at;
                        inserted = true;
                    }
                    tail.copy(kept_from, f_start - kept_from);
                    removed += f_end - f_start;
                    kept_from = f_end;
                }
                if !inserted {
                    tail.copy(kept_from, insert_at - kept_from);
                    tail.literal(&block);
                    kept_from = insert_at;
                }
                tail.copy(kept_from, end - kept_from);
                let grow = |v: u32| (u64::from(v) - removed + block.len() as u64) as u32;
                built.layout.push(Some((
                    offset,
                    grow(entry.header_length),
                    grow(entry.length),
                )));
            }
        }
    }
    built.new_len = tail.dest;
    built.pieces = tail.pieces;
    built.literals = tail.literals;
    built
}

/// The new tail being assembled.
struct Tail {
    pieces: Vec<Piece>,
    literals: Vec<u8>,
    /// Destination offset of the next byte.
    dest: u64,
}

impl Tail {
    fn copy(&mut self, src: u64, len: u64) {
        if len == 0 {
            return;
        }
        self.dest += len;
        if let Some(Piece::Copy { src: s, len: l }) = self.pieces.last_mut()
            && *s + *l == src
        {
            *l += len;
            return;
        }
        self.pieces.push(Piece::Copy { src, len });
    }

    fn literal(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.dest += bytes.len() as u64;
        let at = self.literals.len() as u64;
        self.literals.extend_from_slice(bytes);
        if let Some(Piece::Literal { at: a, len }) = self.pieces.last_mut()
            && *a + *len == at
        {
            *len += bytes.len() as u64;
            return;
        }
        self.pieces.push(Piece::Literal {
            at,
            len: bytes.len() as u64,
        });
    }
}

/// The message's text (header + body) as stored.
fn text_of<'d>(data: &'d [u8], entry: &MessageEntry) -> &'d [u8] {
    let start = entry.offset as usize;
    data.get(start..start + entry.length as usize)
        .unwrap_or(&[])
}

/// The start of the From_ line that ends just before `text_start`.
pub fn from_line_start(data: &[u8], text_start: usize) -> usize {
    let before = data.get(..text_start.saturating_sub(1)).unwrap_or(&[]);
    memrchr(b'\n', before).map_or(0, |lf| lf + 1)
}

/// The first From_ line: the first byte that is not LF, CR, SP or TAB.
fn first_from_line(data: &[u8]) -> usize {
    data.iter()
        .position(|b| !matches!(b, b'\n' | b'\r' | b' ' | b'\t'))
        .unwrap_or(data.len())
}

/// The metadata fields as one range, if they are adjacent lines.
fn contiguous_run(fields: &[headers::UwField<'_>]) -> Option<std::ops::Range<usize>> {
    let first = fields.first()?;
    let mut end = first.span.end;
    for field in fields.get(1..).unwrap_or(&[]) {
        if field.span.start != end {
            return None;
        }
        end = field.span.end;
    }
    Some(first.span.start..end)
}

/// The same-length replacement of the pseudo-message's `X-IMAP` line.
fn pseudo_patch(data: &[u8], pseudo_from: usize, meta: &MetaLine<'_>) -> Option<Patch> {
    let rest = data.get(pseudo_from..)?;
    let text_start = pseudo_from + memchr(b'\n', rest)? + 1;
    let text = data.get(text_start..)?;
    let header = text.get(..headers::header_length(text))?;
    let field = headers::uw_fields(header).find(|f| f.exact_case && f.header == UwHeader::XImap)?;
    let old = header.get(field.span.clone())?;
    let new = render::pseudo_meta_line(meta);
    (new.len() == old.len()).then(|| Patch {
        offset: (text_start + field.span.start) as u64,
        old: old.to_vec(),
        new,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::mailstore::index::{self, Clock};
    use crate::mailstore::scan;
    use crate::types::UidValidity;

    const CLOCK: Clock = Clock {
        now: 1_795_931_746,
        local_offset_minutes: 0,
    };

    /// Applies a built plan to `data` in memory.
    fn apply(data: &[u8], built: &Built) -> Vec<u8> {
        let mut out = data.to_vec();
        for p in &built.patches {
            out[p.offset as usize..][..p.new.len()].copy_from_slice(&p.new);
        }
        out.truncate(built.start as usize);
        for piece in &built.pieces {
            match *piece {
                Piece::Copy { src, len } => {
                    out.extend_from_slice(&data[src as usize..][..len as usize])
                }
                Piece::Literal { at, len } => {
                    out.extend_from_slice(&built.literals[at as usize..][..len as usize])
                }
            }
        }
        out
    }

    struct Case {
        data: Vec<u8>,
        index: index::Index,
        disk: Vec<OnDisk>,
    }

    fn case(data: &[u8]) -> Case {
        let spans = scan::scan(data).unwrap();
        let index = index::build(data, &spans, CLOCK, Path::new("t")).unwrap();
        let disk = index
            .entries
            .iter()
            .zip(&index.recorded)
            .map(|(e, &recorded)| OnDisk {
                flags: SystemFlags(e.flags.0 & STORED.0),
                keywords: e.keywords,
                recorded,
            })
            .collect();
        Case {
            data: data.to_vec(),
            index,
            disk,
        }
    }

    fn run(c: &Case, targets: &[Target], keywords: &[String]) -> (Built, Vec<u8>) {
        let meta = MetaLine {
            uid_validity: c.index.uid_validity.get(),
            last_uid: c.index.uid_next.get() - 1,
            keywords,
        };
        let pseudo = |m: &MetaLine<'_>| {
            format!(
                "From MAILER-DAEMON x\nX-IMAP: {} {}\n\n",
                m.uid_validity, m.last_uid
            )
            .into_bytes()
        };
        let input = Input {
            data: &c.data,
            entries: &c.index.entries,
            disk: &c.disk,
            targets,
            meta,
            file_meta: &c.index.file_meta,
            pseudo: c.index.pseudo_message,
            new_pseudo: &pseudo,
        };
        let built = build(&input);
        let after = apply(&c.data, &built);
        (built, after)
    }

    fn targets(c: &Case, f: impl Fn(usize, SystemFlags) -> (SystemFlags, bool)) -> Vec<Target> {
        c.disk
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let (flags, remove) = f(i, d.flags);
                Target {
                    flags: SystemFlags(flags.0 | SystemFlags::OLD.0),
                    keywords: d.keywords,
                    remove,
                }
            })
            .collect()
    }

    const BEFORE: &[u8] = include_bytes!("../../tests/data/uw-example-before.mbox");
    const AFTER: &[u8] = include_bytes!("../../tests/data/uw-example-after.mbox");

    /// The UW session of mbox-format.md §12 done in three plans: the first
    /// checkpoint (all messages get a block), the expunge, the keywords.
    #[test]
    fn worked_example_byte_exact() {
        let c = case(BEFORE);
        assert_eq!(c.index.uid_validity.get(), 1_795_931_746);
        let (built, after) = run(&c, &targets(&c, |_, f| (f, false)), &[]);
        assert_eq!(
            built.start, 0,
            "message 1 needs X-IMAPbase: tail from the start"
        );
        let c = case(&after);
        assert!(!c.index.metadata_unsaved);
        let t = targets(&c, |i, f| match i {
            0 => (
                SystemFlags(f.0 | SystemFlags::SEEN.0 | SystemFlags::FLAGGED.0),
                false,
            ),
            1 => (SystemFlags(f.0 | SystemFlags::DELETED.0), true),
            _ => (f, false),
        });
        let (built, after) = run(&c, &t, &[]);
        assert_eq!(built.patches.len(), 1, "message 1 in place");
        assert_eq!(
            built.start,
            c.index.entries[1].offset - 48,
            "tail from message 2's From_ line"
        );
        let c = case(&after);
        let kw = vec!["Work".to_string(), "$Forwarded".to_string()];
        let mut t = targets(&c, |_, f| (f, false));
        t[1].keywords = 0b11;
        let (built, after) = run(&c, &t, &kw);
        assert!(built.pieces.is_empty(), "keywords fit in the padding");
        assert_eq!(built.patches.len(), 2);
        assert_eq!(
            String::from_utf8_lossy(&after),
            String::from_utf8_lossy(AFTER)
        );
    }

    #[test]
    fn flag_change_is_a_patch_and_expunge_starts_the_tail() {
        let data = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/mbox/uw-session.mbox"
        ))
        .unwrap();
        let c = case(&data);
        assert!(!c.index.metadata_unsaved);
        let kw = c.index.keywords.clone();
        let (built, after) = run(
            &c,
            &targets(&c, |i, f| {
                if i == 0 {
                    (SystemFlags(f.0 & !SystemFlags::SEEN.0), false)
                } else {
                    (f, false)
                }
            }),
            &kw,
        );
        assert_eq!((built.patches.len(), built.pieces.len()), (1, 0));
        assert_eq!(after.len(), data.len());
        let c2 = case(&after);
        assert!(!c2.index.entries[0].flags.contains(SystemFlags::SEEN));
        assert_eq!(c2.index.uid_validity, c.index.uid_validity);
        // Expunging message 20: message 20's From_ line is where the tail starts.
        let (built, after) = run(&c, &targets(&c, |i, f| (f, i == 19)), &kw);
        assert_eq!(
            built.start,
            from_line_start(&data, c.index.entries[19].offset as usize) as u64
        );
        assert!(built.patches.is_empty());
        let c3 = case(&after);
        assert_eq!(c3.index.entries.len(), 29);
        assert!(
            c3.index
                .entries
                .iter()
                .all(|e| e.uid.get() != c.index.entries[19].uid.get())
        );
        // Layout predicted = layout found.
        let predicted: Vec<_> = built.layout.iter().flatten().copied().collect();
        let found: Vec<_> = c3
            .index
            .entries
            .iter()
            .map(|e| (e.offset, e.header_length, e.length))
            .collect();
        assert_eq!(predicted, found);
    }

    #[test]
    fn dovecot_layout_is_patched_in_place_when_it_fits() {
        let data = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/mbox/dovecot-session.mbox"
        ))
        .unwrap();
        let c = case(&data);
        let kw = c.index.keywords.clone();
        // Every message gets O (Dovecot left none on message 30): blocks change.
        let t = targets(&c, |i, f| {
            if i == 0 {
                (SystemFlags(f.0 | SystemFlags::DELETED.0), false)
            } else {
                (f, false)
            }
        });
        let (built, after) = run(&c, &t, &kw);
        let c2 = case(&after);
        assert_eq!(c2.index.entries.len(), 30);
        assert!(c2.index.entries[0].flags.contains(SystemFlags::DELETED));
        for (a, b) in c.index.entries.iter().zip(&c2.index.entries) {
            assert_eq!((a.uid, a.rfc822_size), (b.uid, b.rfc822_size));
        }
        let predicted: Vec<_> = built.layout.iter().flatten().copied().collect();
        let found: Vec<_> = c2
            .index
            .entries
            .iter()
            .map(|e| (e.offset, e.header_length, e.length))
            .collect();
        assert_eq!(predicted, found);
        assert_eq!(
            c2.index.uid_validity,
            UidValidity::new(1_795_932_911).unwrap()
        );
    }

    #[test]
    fn expunging_everything_writes_a_pseudo_message() {
        let c = case(BEFORE);
        let (_, after) = run(&c, &targets(&c, |_, f| (f, true)), &[]);
        assert_eq!(after, b"From MAILER-DAEMON x\nX-IMAP: 1795931746 3\n\n");
    }
}
