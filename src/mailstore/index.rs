//! The in-memory index of an mbox: one small [`MessageEntry`] per message,
//! plus UIDVALIDITY, UIDNEXT and the declared keywords.
//!
//! Built in one pass over the scanned messages, reading only each header
//! (mbox-format.md §6-§9). The hard parts are the UW rules for UIDs (§6.3,
//! rewrite.md "UIDs of new messages"):
//!
//! * `X-UID` is believed only if message 1 declares a UIDVALIDITY (`X-IMAP`
//!   or `X-IMAPbase`), and UIDs must strictly increase in file order. A
//!   duplicate or backwards UID means the UIDs cannot be trusted: every
//!   message is renumbered 1..n under a new UIDVALIDITY, `max(now, old + 1)`,
//!   so no client can confuse the old numbering with the new one.
//! * A message without `X-UID` gets the next number after the highest UID so
//!   far (the declared last UID included). This is a pure function of the
//!   file, so every session computes the same UIDs before they are written.
//! * An `X-IMAP` header in message 1 marks UW's pseudo-message: it carries the
//!   metadata and is never shown to clients.
//!
//! The index holds no per-message heap data: hidden header positions are
//! recomputed from the header bytes when a header is served.

use std::path::Path;

use thiserror::Error;

use super::MessageEntry;
use super::headers::{self, UwHeader};
use super::scan::{self, MessageSpan};
use crate::response::crlf::crlf_len;
use crate::types::{SystemFlags, Uid, UidValidity};

/// UW's limit on keywords per mailbox (NUSERFLAGS); also fits the u32 mask.
pub const MAX_KEYWORDS: usize = 30;
/// UW's limit on the length of one keyword (MAXUSERFLAG), in bytes.
pub const MAX_KEYWORD_OCTETS: usize = 50;

/// What the index needs to know about "now".
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Seconds since the epoch: a new UIDVALIDITY.
    pub now: u32,
    /// The server's UTC offset in effect now, in minutes: From_ dates without
    /// a zone (UW's behaviour, mbox-format.md §9).
    pub local_offset_minutes: i16,
}

impl Clock {
    /// The system clock and the local time zone.
    pub fn system() -> Clock {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let offset = chrono::Local::now().offset().local_minus_utc() / 60;
        Clock {
            now: u32::try_from(now).unwrap_or(u32::MAX),
            local_offset_minutes: i16::try_from(offset).unwrap_or(0),
        }
    }
}

/// The index of one mailbox.
#[derive(Debug, Clone)]
pub struct Index {
    /// Client-visible messages in file (= sequence) order; UIDs strictly ascending.
    pub entries: Vec<MessageEntry>,
    pub uid_validity: UidValidity,
    /// Greater than every UID in `entries` and the declared last UID.
    pub uid_next: Uid,
    /// Declared keywords (X-IMAP / X-IMAPbase of message 1), in order; bit i of
    /// `MessageEntry::keywords` is `keywords[i]`.
    pub keywords: Vec<String>,
    /// The file starts with UW's pseudo-message (hidden, not in `entries`).
    pub pseudo_message: bool,
    /// Some UID or the UIDVALIDITY is not in the file yet (new messages,
    /// renumbering, no metadata): the next checkpoint must write them (UW's
    /// "double dirty").
    pub metadata_unsaved: bool,
    /// Per entry: its UID is recorded in the file (a trusted `X-UID`), not
    /// computed. The write path must record computed UIDs before it can rely
    /// on them surviving another program's rewrite.
    pub recorded: Vec<bool>,
    /// Per entry: where its metadata fields are, as offsets into its text
    /// (from the first field's start to the last one's end; `(0, 0)` for
    /// none). A re-sync reads only these bytes of an unmoved message.
    pub meta_runs: Vec<(u32, u32)>,
    /// What message 1 (or the pseudo-message) says, as opposed to what the
    /// index computed.
    pub file_meta: FileMeta,
}

/// The mailbox metadata as the file records it (`X-IMAP` / `X-IMAPbase`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileMeta {
    /// `None`: no valid declaration in message 1.
    pub uid_validity: Option<UidValidity>,
    /// The declared last UID (0 without a declaration).
    pub last_uid: u32,
    /// Declared keywords that the index honours, in order.
    pub keywords: Vec<String>,
}

impl Index {
    /// The index of a mailbox without messages or metadata.
    pub fn empty(clock: Clock) -> Index {
        Index {
            entries: Vec::new(),
            uid_validity: UidValidity::new(clock.now)
                .unwrap_or(UidValidity(std::num::NonZeroU32::MIN)),
            uid_next: Uid(std::num::NonZeroU32::MIN),
            keywords: Vec::new(),
            pseudo_message: false,
            metadata_unsaved: false,
            recorded: Vec::new(),
            meta_runs: Vec::new(),
            file_meta: FileMeta::default(),
        }
    }
}

/// A message too large for IMAP's 32-bit sizes (RFC 3501 §9 `number`).
#[derive(Debug, Error, PartialEq, Eq)]
#[error("message at offset {offset} is larger than 4 GiB")]
pub struct MessageTooLarge {
    pub offset: u64,
}

/// Builds the index of `data` (the whole file) from its scanned `spans`.
/// `name` is used in log lines only.
pub fn build(
    data: &[u8],
    spans: &[MessageSpan],
    clock: Clock,
    name: &Path,
) -> Result<Index, MessageTooLarge> {
    build_reusing(data, spans.iter().cloned(), clock, name, &|_| None)
}

/// [`build`] from a stream of spans (e.g. [`scan::Spans`]), so that the
/// spans of a large mailbox are never all in memory at once.
pub fn build_streaming(
    data: &[u8],
    spans: impl IntoIterator<Item = MessageSpan>,
    clock: Clock,
    name: &Path,
) -> Result<Index, MessageTooLarge> {
    build_reusing(data, spans, clock, name, &|_| None)
}

/// Where the metadata fields of `header` are: from the first one's start to
/// the last one's end (`(0, 0)` for none). See [`Index::meta_runs`].
pub fn meta_run(header: &[u8]) -> (u32, u32) {
    let mut fields = headers::uw_fields(header);
    let Some(first) = fields.next() else {
        return (0, 0);
    };
    let end = fields.last().map_or(first.span.end, |f| f.span.end);
    (
        u32::try_from(first.span.start).unwrap_or(0),
        u32::try_from(end).unwrap_or(0),
    )
}

/// What is already known about a message whose text has not moved (a
/// re-sync): its size, date and header length, and where its metadata
/// fields are, so that only those few bytes are read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    pub rfc822_size: u32,
    pub internal_date: i64,
    pub zone_minutes: i16,
    pub header_length: u32,
    /// [`Index::meta_runs`] of the message.
    pub meta_run: (u32, u32),
    /// What its metadata fields say, when the caller knows that not even
    /// they changed (the file changed only by our own append): then the
    /// message's bytes are not read at all.
    pub stored: Option<Stored>,
}

/// What a message's metadata fields record (see [`Hint::stored`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Stored flags (`OLD` included, no `RECENT`).
    pub flags: SystemFlags,
    /// Keyword bits, numbered by the declaration in the file.
    pub keywords: u32,
    /// Its `X-UID`, if it has exactly one.
    pub uid: Option<u32>,
}

/// [`build`], taking what `known(i)` returns for real message `i` instead of
/// reading its header and body again.
pub fn build_reusing(
    data: &[u8],
    spans: impl IntoIterator<Item = MessageSpan>,
    clock: Clock,
    name: &Path,
    known: &dyn Fn(usize) -> Option<Hint>,
) -> Result<Index, MessageTooLarge> {
    let mut spans = spans.into_iter().peekable();
    let first = spans
        .peek()
        .map(|s| data.get(s.text.clone()).unwrap_or(&[]));
    let meta = first.map(first_message_meta).unwrap_or_default();
    if meta.pseudo_message {
        spans.next();
    }

    let mut uids = UidAssigner::new(meta.uid_validity.map(|_| meta.last_uid));
    let capacity = spans.size_hint().0;
    let mut entries = Vec::with_capacity(capacity);
    let mut recorded = Vec::with_capacity(capacity);
    let mut meta_runs = Vec::with_capacity(capacity);
    for (i, span) in spans.enumerate() {
        let (entry, x_uid, run) = entry(data, &span, &meta.keywords, clock, name, known(i))?;
        let uid = uids.next(x_uid, i + 1, name);
        recorded.push(matches!(x_uid, XUid::Value(_)));
        meta_runs.push(run);
        entries.push(MessageEntry {
            uid: uid.unwrap_or(entry.uid),
            ..entry
        });
    }

    let mut metadata_unsaved = uids.assigned_new;
    let (uid_validity, uid_next) = match (meta.uid_validity, uids.finish()) {
        (Some(validity), Some(next)) => (validity, next),
        (old, _) => {
            // No usable UIDs in the file: 1..n under a new UIDVALIDITY.
            let validity = match old {
                Some(old) => {
                    let new = clock.now.max(old.get().saturating_add(1));
                    log::warn!(
                        "{}: assigning new unique identifiers to all messages (UIDVALIDITY {old} -> {new})",
                        name.display()
                    );
                    new
                }
                None => clock.now,
            };
            for (i, e) in entries.iter_mut().enumerate() {
                e.uid = sequence_uid(i + 1);
            }
            recorded.iter_mut().for_each(|r| *r = false);
            metadata_unsaved |= !entries.is_empty();
            (
                UidValidity::new(validity).unwrap_or(UidValidity(std::num::NonZeroU32::MIN)),
                sequence_uid(entries.len() + 1),
            )
        }
    };
    metadata_unsaved |= meta.uid_validity.is_none() && !entries.is_empty();
    // Grown by doubling from a stream: give back the slack.
    entries.shrink_to_fit();
    recorded.shrink_to_fit();
    meta_runs.shrink_to_fit();
    let file_meta = FileMeta {
        uid_validity: meta.uid_validity,
        last_uid: meta.last_uid,
        keywords: meta.keywords.clone(),
    };
    Ok(Index {
        entries,
        uid_validity,
        uid_next,
        keywords: meta.keywords,
        pseudo_message: meta.pseudo_message,
        metadata_unsaved,
        recorded,
        meta_runs,
        file_meta,
    })
}

/// The metadata message 1 (`text`: its header and body) declares, and
/// whether it is UW's pseudo-message.
pub fn declared_meta(text: &[u8]) -> (bool, FileMeta) {
    let meta = first_message_meta(text);
    (
        meta.pseudo_message,
        FileMeta {
            uid_validity: meta.uid_validity,
            last_uid: meta.last_uid,
            keywords: meta.keywords,
        },
    )
}

/// What message 1 says about the mailbox (§7.1).
#[derive(Debug, Default)]
pub(super) struct FirstMessageMeta {
    pub(super) pseudo_message: bool,
    pub(super) uid_validity: Option<UidValidity>,
    pub(super) last_uid: u32,
    pub(super) keywords: Vec<String>,
}

pub(super) fn first_message_meta(text: &[u8]) -> FirstMessageMeta {
    let header = text.get(..headers::header_length(text)).unwrap_or(text);
    let mut meta = FirstMessageMeta::default();
    let mut seen = false;
    for field in headers::uw_fields(header).filter(|f| f.exact_case) {
        match field.header {
            UwHeader::XImap => meta.pseudo_message = true,
            UwHeader::XImapBase => {}
            _ => continue,
        }
        // Only the first occurrence counts; an invalid one is ignored.
        if std::mem::replace(&mut seen, true) {
            continue;
        }
        let Some(parsed) = headers::mailbox_meta(field.value) else {
            continue;
        };
        meta.uid_validity = UidValidity::new(parsed.uid_validity);
        meta.last_uid = parsed.last_uid;
        meta.keywords = declared_keywords(&parsed.keywords);
    }
    meta
}

/// The usable keywords of a declaration: IMAP atoms (RFC 3501 §9
/// `flag-keyword`), at most [`MAX_KEYWORDS`] of at most
/// [`MAX_KEYWORD_OCTETS`], no duplicates (keywords compare case-insensitively).
fn declared_keywords(words: &[&[u8]]) -> Vec<String> {
    let mut keywords: Vec<String> = Vec::new();
    for word in words {
        let usable = word.len() <= MAX_KEYWORD_OCTETS && word.iter().all(|&b| is_atom_char(b));
        let keyword = std::str::from_utf8(word).ok().filter(|_| usable);
        match keyword {
            Some(k) if keywords.iter().any(|d| d.eq_ignore_ascii_case(k)) => {}
            Some(k) if keywords.len() < MAX_KEYWORDS => keywords.push(k.to_owned()),
            _ => log::warn!(
                "ignoring keyword declaration {:?}",
                String::from_utf8_lossy(word)
            ),
        }
    }
    keywords
}

/// RFC 3501 §9 `ATOM-CHAR`: any CHAR except atom-specials.
fn is_atom_char(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// Indexes one message; its UID is left to the caller. Also returns the
/// message's `X-UID`: `Err(())` if it has more than one.
fn entry(
    data: &[u8],
    span: &MessageSpan,
    keywords: &[String],
    clock: Clock,
    name: &Path,
    hint: Option<Hint>,
) -> Result<(MessageEntry, XUid, (u32, u32)), MessageTooLarge> {
    let text = data.get(span.text.clone()).unwrap_or(&[]);
    let offset = span.text.start as u64;
    let too_large = || MessageTooLarge { offset };
    let header_length = match hint {
        Some(h) => h.header_length as usize,
        None => headers::header_length(text),
    };
    let header = text.get(..header_length).unwrap_or(text);
    // With a hint, only the metadata run is read (it starts and ends on
    // line boundaries, so field parsing sees whole lines).
    let (scan_from, scanned) = match hint {
        Some(Hint {
            meta_run: (start, end),
            ..
        }) => (
            start as usize,
            header.get(start as usize..end as usize).unwrap_or(&[]),
        ),
        None => (0, header),
    };

    let mut flags = SystemFlags::default();
    let mut keyword_bits = 0u32;
    let mut x_uid = XUid::Missing;
    let mut hidden = 0u64;
    let mut run: Option<(usize, usize)> = None;
    let stored = hint.and_then(|h| h.stored);
    if let (Some(s), Some(h)) = (stored, hint) {
        flags = s.flags;
        keyword_bits = s.keywords;
        x_uid = s.uid.map_or(XUid::Missing, XUid::Value);
        run = (h.meta_run != (0, 0)).then_some((h.meta_run.0 as usize, h.meta_run.1 as usize));
    }
    let fields = match stored {
        Some(_) => headers::uw_fields(&[]),
        None => headers::uw_fields(scanned),
    };
    for field in fields {
        let (start, end) = (scan_from + field.span.start, scan_from + field.span.end);
        run = Some(run.map_or((start, end), |(s, _)| (s, end)));
        if hint.is_none() {
            hidden += crlf_len(scanned.get(field.span.clone()).unwrap_or(&[]));
        }
        if !field.exact_case {
            log::warn!(
                "{}: hiding bogus {:?} header at offset {offset}",
                name.display(),
                field.header
            );
            continue;
        }
        match field.header {
            UwHeader::Status | UwHeader::XStatus => {
                flags.insert(headers::flag_letters(field.value))
            }
            // Undeclared keywords are ignored (§6.4).
            UwHeader::XKeywords => {
                for word in headers::words(field.value) {
                    if let Some(bit) = keywords
                        .iter()
                        .position(|k| k.as_bytes().eq_ignore_ascii_case(word))
                    {
                        keyword_bits |= 1 << bit;
                    }
                }
            }
            UwHeader::XUid => {
                x_uid = match x_uid {
                    XUid::Missing => {
                        headers::uid_value(field.value).map_or(XUid::Missing, XUid::Value)
                    }
                    _ => XUid::Repeated,
                }
            }
            UwHeader::XImap | UwHeader::XImapBase => {}
        }
    }
    // \Recent (RFC 3501 §2.3.2): not yet seen by any session, i.e. no `O`.
    if !flags.contains(SystemFlags::OLD) {
        flags.insert(SystemFlags::RECENT);
    }
    let line = span.from_line_bytes(data);
    let (internal_date, zone_minutes) = match hint {
        Some(h) => (h.internal_date, h.zone_minutes),
        None => {
            scan::internal_date(line, span.date, clock.local_offset_minutes).unwrap_or_else(|| {
                log::warn!(
                    "{}: unparseable From_ line date at offset {}: {:?}",
                    name.display(),
                    span.from_line,
                    String::from_utf8_lossy(line.trim_ascii_end())
                );
                (0, 0)
            })
        }
    };
    let rfc822_size = match hint {
        Some(h) => u64::from(h.rfc822_size),
        None => crlf_len(text).saturating_sub(hidden),
    };
    let run = run.map_or((0, 0), |(s, e)| {
        (u32::try_from(s).unwrap_or(0), u32::try_from(e).unwrap_or(0))
    });
    let entry = MessageEntry {
        // Placeholder; the caller assigns the real UID.
        uid: Uid(std::num::NonZeroU32::MIN),
        flags,
        keywords: keyword_bits,
        internal_date,
        zone_minutes,
        rfc822_size: u32::try_from(rfc822_size).map_err(|_| too_large())?,
        offset,
        length: u32::try_from(text.len()).map_err(|_| too_large())?,
        header_length: u32::try_from(header_length).map_err(|_| too_large())?,
    };
    Ok((entry, x_uid, run))
}

/// A message's `X-UID` header(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum XUid {
    Missing,
    Value(u32),
    /// More than one `X-UID` (UW: "already has UID").
    Repeated,
}

/// UIDs in file order under the rules of §6.3.
pub(super) struct UidAssigner {
    /// The highest UID so far (declared last UID included); `None` once the
    /// UIDs are found unusable (or were never trusted: no UIDVALIDITY).
    last: Option<u32>,
    /// The previous message's UID.
    previous: u32,
    /// Some message got a UID that is not in the file.
    assigned_new: bool,
}

impl UidAssigner {
    pub(super) fn new(declared_last: Option<u32>) -> Self {
        UidAssigner {
            last: declared_last,
            previous: 0,
            assigned_new: false,
        }
    }

    /// The UID of message `seq`, or `None` if the UIDs are unusable.
    pub(super) fn next(&mut self, x_uid: XUid, seq: usize, name: &Path) -> Option<Uid> {
        let last = self.last?;
        let uid = match x_uid {
            XUid::Value(uid) if uid > self.previous => uid,
            XUid::Value(uid) => {
                log::warn!(
                    "{}: message {seq} UID {uid} less than {}",
                    name.display(),
                    self.previous.saturating_add(1)
                );
                self.last = None;
                return None;
            }
            XUid::Repeated => {
                log::warn!("{}: message {seq} already has UID", name.display());
                self.last = None;
                return None;
            }
            XUid::Missing => {
                self.assigned_new = true;
                let Some(uid) = last.checked_add(1) else {
                    self.last = None;
                    return None;
                };
                uid
            }
        };
        self.previous = uid;
        self.last = Some(last.max(uid));
        Uid::new(uid)
    }

    /// UIDNEXT, or `None` if the UIDs are unusable.
    pub(super) fn finish(&self) -> Option<Uid> {
        self.last?.checked_add(1).and_then(Uid::new)
    }
}

/// UID `n` for renumbering 1..n (n is a message count, far below 2^32).
fn sequence_uid(n: usize) -> Uid {
    Uid::new(u32::try_from(n).unwrap_or(u32::MAX)).unwrap_or(Uid(std::num::NonZeroU32::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOCK: Clock = Clock {
        now: 1_800_000_000,
        local_offset_minutes: 0,
    };

    fn index(data: &[u8]) -> Index {
        let spans = scan::scan(data).unwrap();
        build(data, &spans, CLOCK, Path::new("test")).unwrap()
    }

    fn uids(index: &Index) -> Vec<u32> {
        index.entries.iter().map(|e| e.uid.get()).collect()
    }

    fn message(headers: &str) -> String {
        format!("From a Wed Dec  2 05:53:22 1992\n{headers}\nbody\n\n")
    }

    #[test]
    fn uids_from_x_uid_and_new_ones_after_the_highest() {
        let data = [
            message("X-IMAPbase: 77 5 Work\nX-UID: 2\n"),
            message("X-UID: 4\n"),
            message(""),
            message("X-UID: 9\n"),
            message(""),
        ]
        .concat();
        let index = index(data.as_bytes());
        assert_eq!(uids(&index), [2, 4, 6, 9, 10]);
        assert_eq!((index.uid_validity.get(), index.uid_next.get()), (77, 11));
        assert!(index.metadata_unsaved);
        assert_eq!(index.keywords, ["Work"]);
    }

    #[test]
    fn backwards_or_repeated_uid_renumbers_with_new_uidvalidity() {
        for bad in ["X-UID: 3\n", "X-UID: 4\n", "X-UID: 8\nX-UID: 9\n"] {
            let data = [
                message("X-IMAPbase: 1900000000 9\nX-UID: 2\n"),
                message("X-UID: 4\n"),
                message(bad),
            ]
            .concat();
            let index = index(data.as_bytes());
            assert_eq!(uids(&index), [1, 2, 3], "{bad:?}");
            // The clock is behind the old UIDVALIDITY: old + 1.
            assert_eq!(index.uid_validity.get(), 1_900_000_001);
            assert_eq!(index.uid_next.get(), 4);
            assert!(index.metadata_unsaved);
        }
        let data = [
            message("X-IMAPbase: 1000 9\nX-UID: 5\n"),
            message("X-UID: 5\n"),
        ]
        .concat();
        let index = index(data.as_bytes());
        assert_eq!(
            (uids(&index), index.uid_validity.get()),
            (vec![1, 2], CLOCK.now)
        );
    }

    #[test]
    fn x_uid_without_uidvalidity_is_not_trusted() {
        let data = [message("X-UID: 5\n"), message("X-UID: 9\n")].concat();
        let index = index(data.as_bytes());
        assert_eq!(uids(&index), [1, 2]);
        assert_eq!(
            (index.uid_validity.get(), index.uid_next.get()),
            (CLOCK.now, 3)
        );
        // X-IMAPbase counts only in message 1.
        let data = [
            message("X-UID: 5\n"),
            message("X-IMAPbase: 3 9\nX-UID: 9\n"),
        ]
        .concat();
        assert_eq!(self::index(data.as_bytes()).uid_validity.get(), CLOCK.now);
    }

    #[test]
    fn flags_keywords_and_bogus_headers() {
        let data = [
            message("X-IMAPbase: 5 0 Work $Forwarded\nStatus: R\nX-Status: AF\nX-Keywords: $forwarded Other\n"),
            message("status: RO\nX-status: F\nSubject: s\n"),
            message("Status: FOR\nX-Keywords: Work Work\n"),
        ]
        .concat();
        let index = index(data.as_bytes());
        let e = &index.entries;
        let f = |flags: &[SystemFlags]| SystemFlags(flags.iter().map(|f| f.0).sum());
        use SystemFlags as S;
        assert_eq!(
            e[0].flags,
            f(&[S::SEEN, S::ANSWERED, S::FLAGGED, S::RECENT])
        );
        assert_eq!(e[0].keywords, 0b10);
        // Bogus-case headers are hidden but not honoured.
        assert_eq!(e[1].flags, S::RECENT);
        assert_eq!(e[1].rfc822_size, crlf_len(b"Subject: s\n\nbody\n") as u32);
        assert_eq!(e[2].flags, f(&[S::SEEN, S::FLAGGED, S::OLD]));
        assert_eq!(e[2].keywords, 0b01);
    }

    #[test]
    fn pseudo_message_is_hidden_and_carries_metadata() {
        let data = [
            message("Subject: DON'T DELETE\nX-IMAP: 0000000042 0000000007 K\nStatus: RO\n"),
            message("X-UID: 3\n"),
        ]
        .concat();
        let index = index(data.as_bytes());
        assert!(index.pseudo_message);
        assert_eq!(uids(&index), [3]);
        assert_eq!((index.uid_validity.get(), index.uid_next.get()), (42, 8));
        assert_eq!(index.keywords, ["K"]);
        // X-IMAP in a later message is hidden and ignored.
        let data = [message("X-UID: 3\n"), message("X-IMAP: 42 7\n")].concat();
        let index = self::index(data.as_bytes());
        assert!(!index.pseudo_message);
        assert_eq!(index.entries.len(), 2);
    }

    #[test]
    fn empty_mailbox() {
        let index = index(b"");
        assert!(index.entries.is_empty());
        assert_eq!(
            (index.uid_validity.get(), index.uid_next.get()),
            (CLOCK.now, 1)
        );
        assert!(!index.metadata_unsaved);
    }

    #[test]
    fn keyword_declarations_are_checked() {
        let words: Vec<&[u8]> = vec![b"Work", b"work", b"bad(", b"\\Seen", b"caf\xc3\xa9", b"ok"];
        assert_eq!(declared_keywords(&words), ["Work", "ok"]);
        let many: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
        let many: Vec<&[u8]> = many.iter().map(|s| s.as_bytes()).collect();
        assert_eq!(declared_keywords(&many).len(), MAX_KEYWORDS);
    }

    #[test]
    fn sizes_and_dates() {
        let data = b"From a Wed Dec  2 05:53:22 1992 +0100\nX-UID: 1\nA: b\r\n\nline\n\nFrom b Wed Xyz  2 05:53:22 1992\n\n";
        let index = index(data);
        let e = &index.entries[0];
        assert_eq!(e.rfc822_size, crlf_len(b"A: b\r\n\nline\n") as u32);
        assert_eq!((e.internal_date, e.zone_minutes), (723_275_602 - 3600, 60));
        assert_eq!((e.header_length, e.length), (16, 21));
        assert_eq!(
            &data[e.offset as usize..][..e.length as usize],
            b"X-UID: 1\nA: b\r\n\nline\n"
        );
        assert_eq!(
            (
                index.entries[1].internal_date,
                index.entries[1].zone_minutes
            ),
            (0, 0)
        );
    }
}
