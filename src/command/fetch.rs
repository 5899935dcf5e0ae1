//! FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8, §7.4.2).
//!
//! One untagged `* n FETCH (...)` per message, streamed to the
//! [`ResponseWriter`] as it is built: a body is sent straight from the mapped
//! mailbox through `literal_crlf`, whose length was computed by a CRLF count,
//! so a 40 MB message never becomes a 40 MB buffer. The only buffers built
//! here are small (HEADER.FIELDS subsets, parsed envelopes).
//!
//! The hard parts:
//! - Which messages: sequence numbers past EXISTS make the command BAD (RFC
//!   3501 §9 calls them invalid), but nonexistent UIDs are silently skipped,
//!   and `n:*` with `n` past the highest UID still names the highest (§6.4.8).
//! - Side effects: `BODY[...]` and `BINARY[...]` (not `.PEEK`), `RFC822` and
//!   `RFC822.TEXT` set \Seen unless the mailbox is read-only; when that
//!   changes the flags and FLAGS was not asked for, FLAGS is added to that
//!   message's response (§6.4.5). UID FETCH always includes UID (§6.4.8).
//! - BINARY (RFC 3516 §4.3): a part whose encoding cannot be removed fails
//!   the command with `NO [UNKNOWN-CTE]`, checked per message before its
//!   response starts and before \Seen is set; responses already sent for
//!   earlier messages of the set stand.
//! - What the client sees of the header: UW's status headers (Status, X-UID…)
//!   are hidden, so `BODY[]`, `BODY[HEADER]` and `RFC822.HEADER` use the
//!   mailstore's visible header, while the MIME tree (parsed once per message
//!   through [`crate::mime::Cache`]) works on the stored bytes.
//!
//! The per-message logic (`write_message`) takes a [`MessageView`], its
//! [`MessageEntry`] and the keyword list, so it is tested without a mailbox.
//! Rendering lives in the submodules: `section` (`BODY[section]<partial>`,
//! `RFC822.*`), `binary` (`BINARY[part]<partial>`, `BINARY.SIZE`, RFC 3516),
//! `structure` (BODY, BODYSTRUCTURE) and `envelope` (ENVELOPE).

mod binary;
mod envelope;
mod section;
mod structure;
#[cfg(test)]
mod tests;

use std::io::{self, Write};

use chrono::{DateTime, Offset, Utc};

use super::{CommandError, CommandResult, Completion, Selected, SeqNumbers};
use crate::mailstore::write::FlagChange;
use crate::mailstore::{Mailbox, MessageEntry, MessageView};
use crate::mime::{self, Cache};
use crate::parser::ast::{FetchAttribute, Peek, SectionText};
use crate::response::writer::is_atom_char;
use crate::response::{Code, ResponseWriter};
use crate::types::{Numbering, SequenceSet, SystemFlags};

/// Runs FETCH: one untagged `* n FETCH (...)` per message, streamed.
pub fn fetch<W: Write>(
    selected: &mut Selected,
    set: &SequenceSet,
    items: &[FetchAttribute],
    numbering: Numbering,
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    let indices = client_indices(&selected.mailbox, set, numbering)?;
    let marks_seen = !selected.read_only && items.iter().any(sets_seen);
    let hides_headers = items.iter().any(needs_visible_header);
    let binary_parts: Vec<&[u32]> = items.iter().filter_map(binary_part).collect();
    for index in indices {
        super::counters::bump(&super::counters::MESSAGES_FETCHED);
        // RFC 3516 §4.3: an encoding BINARY cannot remove fails the command,
        // before this message's response starts and before \Seen is set.
        if !binary_parts.is_empty() {
            check_binary(selected, index, &binary_parts)?;
        }
        // RFC 3501 §6.4.5: the \Seen flag is set as a side effect of the fetch.
        // Through change_flags, so the change is a pending delta written at
        // the next checkpoint like a STORE's. A failure (keyword limit cannot
        // apply; a message gone from the index) must not fail the FETCH.
        let mut seen_changed = false;
        if marks_seen {
            let seen = SystemFlags::SEEN;
            match selected
                .mailbox
                .change_flags(index, FlagChange::Add, seen, &[])
            {
                Ok(changed) => seen_changed = changed,
                Err(e) => log::warn!("FETCH: setting \\Seen on message {}: {e}", index + 1),
            }
        }
        let Some(entry) = selected.mailbox.entries().get(index) else {
            continue;
        };
        let Some(view) = selected.mailbox.message(index) else {
            log::warn!("FETCH: message {} has no bytes", index + 1);
            continue;
        };
        let visible_header = if hides_headers {
            view.visible_header()
        } else {
            Vec::new()
        };
        let message = FetchMessage {
            view,
            visible_header,
        };
        let implicit = Implicit {
            uid: numbering == Numbering::Uid && !items.contains(&FetchAttribute::Uid),
            flags: seen_changed && !items.contains(&FetchAttribute::Flags),
        };
        // A message the client has not been told of yet (UID FETCH after a
        // checkpoint folded in new mail) has no number to answer with.
        let Some(seq) = SeqNumbers::of(&selected.mailbox).seq(index) else {
            continue;
        };
        let keywords = selected.mailbox.keywords();
        write_message(
            out,
            seq,
            &message,
            entry,
            keywords,
            items,
            implicit,
            &mut selected.cache,
        )?;
    }
    Ok(Completion::done("FETCH"))
}

/// `NO [UNKNOWN-CTE]` if a BINARY item cannot be served for message `index`.
fn check_binary(
    selected: &mut Selected,
    index: usize,
    parts: &[&[u32]],
) -> Result<(), CommandError> {
    let (Some(entry), Some(view)) = (
        selected.mailbox.entries().get(index),
        selected.mailbox.message(index),
    ) else {
        return Ok(());
    };
    let raw = view.raw;
    // Only `BINARY[]` reads the visible header, and it always succeeds.
    let message = FetchMessage {
        visible_header: Vec::new(),
        view,
    };
    let tree = parts
        .iter()
        .any(|p| !p.is_empty())
        .then(|| selected.cache.tree(entry.uid.get(), raw));
    binary::check(&message, tree, parts).map_err(|binary::UnknownCte| {
        CommandError::no_code(
            Code::UnknownCte,
            format!(
                "BINARY: message {} has a Content-Transfer-Encoding that cannot be removed",
                index + 1
            ),
        )
    })
}

/// One message as FETCH serves it.
pub(crate) struct FetchMessage<'a> {
    /// The stored bytes (header as stored, with UW's status headers).
    pub view: MessageView<'a>,
    /// The header clients see, blank line included: consecutive slices of the
    /// stored header with UW's status headers left out. Only filled when an
    /// item returns header bytes ([`needs_visible_header`]).
    pub visible_header: Vec<&'a [u8]>,
}

/// Items FETCH adds that the client did not ask for.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Implicit {
    /// UID FETCH: UID comes first in every response (RFC 3501 §6.4.8).
    pub uid: bool,
    /// \Seen was just set: FLAGS comes last (RFC 3501 §6.4.5).
    pub flags: bool,
}

/// The data of `BODY[section]<partial>` of a stored message, CRLF, as FETCH
/// would send it: what an IMAP URL names (CATENATE, RFC 4469 §3). `None`
/// when the section names a part the message does not have.
pub(crate) fn section_data(
    view: crate::mailstore::MessageView<'_>,
    section: &crate::parser::ast::Section,
    partial: Option<&crate::parser::ast::Partial>,
) -> Option<Vec<u8>> {
    let message = FetchMessage {
        visible_header: view.visible_header(),
        view,
    };
    let tree = (!section.part.is_empty()).then(|| mime::parse(view.raw));
    section::bytes_of(section::content(&message, tree.as_ref(), section), partial)
}

/// Writes `* seq FETCH (items...)` for one message.
#[allow(clippy::too_many_arguments)] // each is a distinct input; a struct would only rename them
pub(crate) fn write_message<W: Write>(
    out: &mut ResponseWriter<W>,
    seq: u32,
    message: &FetchMessage<'_>,
    entry: &MessageEntry,
    keywords: &[String],
    items: &[FetchAttribute],
    implicit: Implicit,
    cache: &mut Cache,
) -> io::Result<()> {
    out.raw(b"* ")?;
    out.number(u64::from(seq))?;
    out.raw(b" FETCH (")?;
    let mut first = true;
    let mut separate = |out: &mut ResponseWriter<W>| -> io::Result<()> {
        if !std::mem::take(&mut first) {
            out.sp()?;
        }
        Ok(())
    };
    if implicit.uid {
        separate(out)?;
        write_uid(out, entry)?;
    }
    let raw = message.view.raw;
    let uid = entry.uid.get();
    for item in items {
        separate(out)?;
        match item {
            FetchAttribute::Uid => write_uid(out, entry)?,
            FetchAttribute::Flags => write_flags(out, entry, keywords)?,
            FetchAttribute::InternalDate => {
                out.raw(b"INTERNALDATE ")?;
                out.string(internal_date(entry.internal_date, entry.zone_minutes).as_bytes())?;
            }
            FetchAttribute::Rfc822Size => {
                out.raw(b"RFC822.SIZE ")?;
                out.number(u64::from(entry.rfc822_size))?;
            }
            FetchAttribute::Envelope => {
                out.raw(b"ENVELOPE ")?;
                let env = mime::envelope::Envelope::parse(&[message.view.header()]);
                envelope::write_envelope(out, &env)?;
            }
            FetchAttribute::Body => {
                out.raw(b"BODY ")?;
                structure::write_body(out, raw, cache.tree(uid, raw), structure::Form::Body)?;
            }
            FetchAttribute::BodyStructure => {
                out.raw(b"BODYSTRUCTURE ")?;
                structure::write_body(
                    out,
                    raw,
                    cache.tree(uid, raw),
                    structure::Form::BodyStructure,
                )?;
            }
            FetchAttribute::Rfc822 => {
                out.raw(b"RFC822 ")?;
                section::write_content(out, section::whole_message(message), None)?;
            }
            FetchAttribute::Rfc822Header => {
                out.raw(b"RFC822.HEADER ")?;
                section::write_content(
                    out,
                    section::Content::Stored(message.visible_header.clone()),
                    None,
                )?;
            }
            FetchAttribute::Rfc822Text => {
                out.raw(b"RFC822.TEXT ")?;
                let body = section::Content::Stored(vec![message.view.body()]);
                section::write_content(out, body, None)?;
            }
            FetchAttribute::BodySection {
                section, partial, ..
            } => {
                section::write_name(out, section, partial.as_ref())?;
                out.sp()?;
                let tree = if section.part.is_empty() {
                    None
                } else {
                    Some(cache.tree(uid, raw))
                };
                let content = section::content(message, tree, section);
                section::write_content(out, content, partial.as_ref())?;
            }
            FetchAttribute::Binary { part, partial, .. } => {
                binary::write_name(out, b"BINARY", part, partial.as_ref())?;
                out.sp()?;
                let tree = (!part.is_empty()).then(|| cache.tree(uid, raw));
                match binary::source(message, tree, part) {
                    Ok(source) => binary::write_content(out, &source, partial.as_ref())?,
                    // Unreachable after `check_binary`; NIL keeps the
                    // response well-formed if a caller skipped the check.
                    Err(binary::UnknownCte) => out.nil()?,
                }
            }
            FetchAttribute::BinarySize { part } => {
                binary::write_name(out, b"BINARY.SIZE", part, None)?;
                out.sp()?;
                let tree = (!part.is_empty()).then(|| cache.tree(uid, raw));
                let size = binary::source(message, tree, part)
                    .map_or(0, |source| binary::decoded_size(&source));
                out.number(size)?;
            }
        }
    }
    if implicit.flags {
        separate(out)?;
        write_flags(out, entry, keywords)?;
    }
    out.close()?;
    out.end_line()
}

/// The 0-based index entries a client's set names, ascending, each once:
/// sequence numbers are the client's ([`SeqNumbers`]), so a message expunged
/// by another session but not yet reported names nothing.
pub(crate) fn client_indices(
    mailbox: &Mailbox,
    set: &SequenceSet,
    numbering: Numbering,
) -> Result<Vec<usize>, CommandError> {
    if numbering == Numbering::Uid || mailbox.client_view().is_none() {
        return message_indices(mailbox.entries(), set, numbering);
    }
    let numbers = SeqNumbers::of(mailbox);
    let count = u32::try_from(numbers.count()).unwrap_or(u32::MAX);
    if count == 0 || set.max_value().is_some_and(|n| n > count) {
        return Err(CommandError::bad("Invalid sequence number"));
    }
    Ok(set
        .sequence_numbers(count)
        .into_iter()
        .filter_map(|n| numbers.index(n))
        .collect())
}

/// The 0-based indices a set names, ascending, each once.
pub(crate) fn message_indices(
    entries: &[MessageEntry],
    set: &SequenceSet,
    numbering: Numbering,
) -> Result<Vec<usize>, CommandError> {
    let count = u32::try_from(entries.len()).unwrap_or(u32::MAX);
    match numbering {
        Numbering::Sequence => {
            // RFC 3501 §9 seq-number: a number past EXISTS (or `*` in an empty
            // mailbox) is invalid.
            if count == 0 || set.max_value().is_some_and(|n| n > count) {
                return Err(CommandError::bad("Invalid sequence number"));
            }
            // Numbers are in 1..=count, so `n - 1` indexes `entries`.
            Ok(set
                .sequence_numbers(count)
                .into_iter()
                .map(|n| n as usize - 1)
                .collect())
        }
        Numbering::Uid => {
            // Entries are in ascending UID order (Mailbox::index_of_uid relies on
            // it too), so each merged range is one contiguous run of indices.
            let largest = entries.last().map_or(0, |e| e.uid.get());
            let mut ranges: Vec<(u32, u32)> = set.ranges(largest).collect();
            ranges.sort_unstable();
            let mut indices = Vec::new();
            let mut next_uid = 0u32;
            for (low, high) in ranges {
                let low = low.max(next_uid);
                if low > high {
                    continue;
                }
                let from = entries.partition_point(|e| e.uid.get() < low);
                let to = entries.partition_point(|e| e.uid.get() <= high);
                indices.extend(from..to.max(from));
                match high.checked_add(1) {
                    Some(n) => next_uid = n,
                    None => break,
                }
            }
            Ok(indices)
        }
    }
}

/// Items that set \Seen (RFC 3501 §6.4.5, RFC 3516 §4.2).
fn sets_seen(item: &FetchAttribute) -> bool {
    matches!(
        item,
        FetchAttribute::Rfc822
            | FetchAttribute::Rfc822Text
            | FetchAttribute::BodySection {
                peek: Peek::SetSeen,
                ..
            }
            | FetchAttribute::Binary {
                peek: Peek::SetSeen,
                ..
            }
    )
}

/// The part path of a BINARY or BINARY.SIZE item.
fn binary_part(item: &FetchAttribute) -> Option<&[u32]> {
    match item {
        FetchAttribute::Binary { part, .. } | FetchAttribute::BinarySize { part } => Some(part),
        _ => None,
    }
}

/// Items whose bytes include the top-level header (as clients see it).
fn needs_visible_header(item: &FetchAttribute) -> bool {
    match item {
        FetchAttribute::Rfc822 | FetchAttribute::Rfc822Header => true,
        FetchAttribute::BodySection { section, .. } => match &section.text {
            // [1.MIME] of a single-part message is the top-level header.
            Some(SectionText::Mime) => section.part == [1],
            Some(SectionText::Text) => false,
            _ => section.part.is_empty(),
        },
        // BINARY[] is the whole message, as BODY[] sends it.
        FetchAttribute::Binary { part, .. } | FetchAttribute::BinarySize { part } => {
            part.is_empty()
        }
        _ => false,
    }
}

fn write_uid<W: Write>(out: &mut ResponseWriter<W>, entry: &MessageEntry) -> io::Result<()> {
    out.raw(b"UID ")?;
    out.number(u64::from(entry.uid.get()))
}

/// `FLAGS (...)`, in UW imapd's order: \Recent (not for IMAP4rev2), system
/// flags, then keywords in declaration order.
pub(crate) fn write_flags<W: Write>(
    out: &mut ResponseWriter<W>,
    entry: &MessageEntry,
    keywords: &[String],
) -> io::Result<()> {
    const ORDER: [(SystemFlags, &[u8]); 6] = [
        (SystemFlags::RECENT, b"\\Recent"),
        (SystemFlags::SEEN, b"\\Seen"),
        (SystemFlags::DELETED, b"\\Deleted"),
        (SystemFlags::FLAGGED, b"\\Flagged"),
        (SystemFlags::ANSWERED, b"\\Answered"),
        (SystemFlags::DRAFT, b"\\Draft"),
    ];
    // RFC 9051 §2.3.2: IMAP4rev2 has no \Recent flag.
    let rev2 = out.is_rev2();
    let system = ORDER
        .iter()
        .filter(|(bit, _)| !(rev2 && *bit == SystemFlags::RECENT))
        .filter(|(bit, _)| entry.flags.contains(*bit))
        .map(|&(_, name)| name);
    let set_keywords = keywords
        .iter()
        .take(32)
        .enumerate()
        .filter(|&(i, _)| entry.keywords & (1u32 << i) != 0)
        .map(|(_, k)| k.as_bytes())
        // A keyword must be an atom (RFC 3501 §9 flag-keyword); anything else
        // would break the response, so it is left out.
        .filter(|k| !k.is_empty() && k.iter().all(|&b| is_atom_char(b)));
    out.raw(b"FLAGS (")?;
    for (i, name) in system.chain(set_keywords).enumerate() {
        if i > 0 {
            out.sp()?;
        }
        out.raw(name)?;
    }
    out.close()
}

/// RFC 3501 `date-time`: `"dd-Mon-yyyy hh:mm:ss +zzzz"`, the day padded with a
/// space as UW imapd does, in the zone the From_ line was written in.
fn internal_date(seconds: i64, zone_minutes: i16) -> String {
    let offset = chrono::FixedOffset::east_opt(i32::from(zone_minutes) * 60).unwrap_or(Utc.fix());
    let utc = DateTime::<Utc>::from_timestamp(seconds, 0).unwrap_or_default();
    utc.with_timezone(&offset)
        .format("%e-%b-%Y %H:%M:%S %z")
        .to_string()
}

/// A header-derived value (envelope field, MIME parameter…) as an IMAP
/// `string`. NUL may appear in no string (RFC 3501 §9 `CHAR8`), and stored
/// headers sometimes hold one, so NULs are dropped; everything else is sent
/// as it is (quoted, or a literal for 8-bit, CR/LF or long values).
fn header_string<W: Write>(out: &mut ResponseWriter<W>, value: &[u8]) -> io::Result<()> {
    if memchr::memchr(0, value).is_none() {
        return out.string(value);
    }
    let cleaned: Vec<u8> = value.iter().copied().filter(|&b| b != 0).collect();
    out.string(&cleaned)
}

/// [`header_string`] or `NIL`.
fn header_nstring<W: Write>(out: &mut ResponseWriter<W>, value: Option<&[u8]>) -> io::Result<()> {
    match value {
        Some(v) => header_string(out, v),
        None => out.nil(),
    }
}
