//! COPY and UID COPY (RFC 3501 §6.4.7, §6.4.8) with UIDPLUS's COPYUID, and MOVE
//! / UID MOVE (RFC 6851) built on it (RFC 4315 §3 for COPYUID).
//!
//! A copy is the message as clients see it — the stored header without our
//! metadata headers (Status, X-Status, X-Keywords, X-UID, X-IMAP…), then the
//! body — with its flags, keywords and INTERNALDATE, appended to the
//! destination by `mailstore::write::append` in one call, so the COPY is all
//! or nothing as §6.4.7 requires ("MUST restore the destination mailbox to its
//! state before the COPY attempt"). \Recent is not copied: it belongs to the
//! destination's next session (§2.3.2).
//!
//! The hard part is COPYUID: the source and destination UID sets pair up by
//! position, so both are listed in the order the messages were appended
//! (ascending source UID) and only then compressed into ranges. COPYUID comes
//! back on every success, into any mailbox, including the selected one (whose
//! new messages the session's new-mail check announces as EXISTS before the
//! tagged OK). A COPY that names no message (UID COPY of UIDs that are gone)
//! succeeds without COPYUID (RFC 4315 §3).

use chrono::{DateTime, FixedOffset};

use super::mailbox::resolve;
use super::updates::uid_set;
use super::{CommandError, CommandResult, Completion, Context, Selected, fetch};
use crate::mailstore::write::{FlagChange, NewMessage};
use crate::mailstore::{Mailbox, MessageEntry};
use crate::response::{Code, ResponseWriter, Status};
use crate::types::{Numbering, SequenceSet, SystemFlags, Uid};

/// Runs COPY / UID COPY. It writes no untagged response itself.
pub fn copy(
    ctx: &Context,
    selected: &Selected,
    set: &SequenceSet,
    mailbox: &[u8],
    numbering: Numbering,
) -> CommandResult {
    let mailbox_now = &selected.mailbox;
    let indices = fetch::client_indices(mailbox_now, set, numbering)?;
    let target = resolve(ctx, mailbox)?;
    if indices.is_empty() {
        // Nothing to write, but a missing destination is still an error.
        if !target.is_inbox && !target.path.is_file() {
            return Err(CommandError::no_code(
                Code::TryCreate,
                "Mailbox does not exist",
            ));
        }
        return Ok(Completion::done("COPY"));
    }
    let copies = collect(mailbox_now, &indices)?;
    let messages: Vec<NewMessage<'_>> = copies.iter().map(CopiedMessage::as_new_message).collect();
    let appended = super::append::append_to(&target, &messages, ctx)?;
    let source: Vec<Uid> = copies.iter().map(|c| c.uid).collect();
    log::info!(
        "copy to={} messages={} uids={}",
        target.name,
        copies.len(),
        uid_set(&source)
    );
    if appended.uids.len() != source.len() {
        // The engine's contract is one UID per message; without it the pairs
        // would lie, so COPYUID is left out rather than wrong.
        log::error!(
            "COPY: {} messages appended but {} UIDs returned",
            source.len(),
            appended.uids.len()
        );
        return Ok(Completion::done("COPY"));
    }
    Ok(Completion::with_code(
        Code::CopyUid {
            validity: appended.uid_validity.get(),
            source: uid_set(&source),
            destination: uid_set(&appended.uids),
        },
        "COPY completed",
    ))
}

/// One message to copy: owned bytes (the visible header and the body joined),
/// because the metadata headers sit between header lines in the map.
struct CopiedMessage {
    uid: Uid,
    bytes: Vec<u8>,
    flags: SystemFlags,
    keywords: Vec<String>,
    internal_date: Option<DateTime<FixedOffset>>,
}

impl CopiedMessage {
    fn as_new_message(&self) -> NewMessage<'_> {
        NewMessage {
            bytes: &self.bytes,
            flags: self.flags,
            keywords: self.keywords.clone(),
            internal_date: self.internal_date,
        }
    }
}

/// Reads the messages at `indices` as they will be copied.
fn collect(mailbox: &Mailbox, indices: &[usize]) -> Result<Vec<CopiedMessage>, CommandError> {
    let mut copies = Vec::with_capacity(indices.len());
    for &index in indices {
        let (Some(entry), Some(view)) = (mailbox.entries().get(index), mailbox.message(index))
        else {
            log::error!("COPY: message index {index} has no bytes");
            return Err(CommandError::no_code(
                Code::ServerBug,
                "A message could not be read; nothing was copied",
            ));
        };
        let header = view.visible_header();
        let body = view.body();
        let size = header.iter().map(|s| s.len()).sum::<usize>() + body.len();
        let mut bytes = Vec::with_capacity(size);
        for segment in header {
            bytes.extend_from_slice(segment);
        }
        bytes.extend_from_slice(body);
        copies.push(CopiedMessage {
            uid: entry.uid,
            bytes,
            flags: client_flags(entry),
            keywords: keyword_names(entry, mailbox.keywords()),
            internal_date: internal_date(entry),
        });
    }
    Ok(copies)
}

/// The flags a copy keeps: the five system flags, not \Recent or UW's "old".
fn client_flags(entry: &MessageEntry) -> SystemFlags {
    let mut flags = entry.flags;
    flags.remove(SystemFlags::RECENT);
    flags.remove(SystemFlags::OLD);
    flags
}

/// The names of the keywords set on `entry` (bit i = `keywords[i]`).
fn keyword_names(entry: &MessageEntry, keywords: &[String]) -> Vec<String> {
    keywords
        .iter()
        .take(32)
        .enumerate()
        .filter(|&(i, _)| entry.keywords & (1u32 << i) != 0)
        .map(|(_, k)| k.clone())
        .collect()
}

/// The source's INTERNALDATE, in the zone it was recorded in.
fn internal_date(entry: &MessageEntry) -> Option<DateTime<FixedOffset>> {
    let zone = FixedOffset::east_opt(i32::from(entry.zone_minutes) * 60)?;
    Some(DateTime::from_timestamp(entry.internal_date, 0)?.with_timezone(&zone))
}

/// MOVE / UID MOVE (RFC 6851): COPY, then the moved messages are expunged
/// (only they, whatever else is \Deleted). The COPYUID goes out untagged
/// before the EXPUNGEs (§4.3), as clients that act on it expect.
///
/// Crash safety: the copy is on disk (fsynced, all or nothing) before the
/// source is touched, and the expunge is one journaled rewrite; so after a
/// kill -9 at any instant each message is in the source, the destination, or
/// both (a copy made, the expunge not yet), never in neither. Should the
/// expunge fail, the \Deleted it needed is taken back, the copies stay, and
/// the client hears NO: it finds the messages in both mailboxes.
/// tests/fault_injection/moves.rs crashes and fails every call of a MOVE
/// (into a folder, into INBOX, within INBOX) and checks exactly this.
///
/// "Both" is where it stays: the next open does not finish the move. The
/// window is short — after the destination's append is durable and before
/// the source's expunge journal is (two of the 31 to 47 write calls of the
/// suite's MOVEs), or a full disk or I/O error during the expunge — and
/// finishing it would need the source to say, before the copy, which of its
/// messages are on their way and to which mailbox. The only place for that in UW's format
/// without a side file is the message metadata, and nothing there fits:
///
/// * a keyword (say `$MovePending`) cannot name the destination (keywords
///   are atoms; mailbox names are not), takes one of the 30 keyword slots
///   UW allows a mailbox (NUSERFLAGS), is declared in `X-IMAPbase` for
///   good, and UW imapd, alpine and every client show it as a flag; the
///   next open would have to search every mailbox of the user for the
///   copies;
/// * a header naming the destination changes the stored message (it is not
///   one of the headers UW hides, so UW imapd would serve it), and adding it
///   rewrites the source from that message on: a second full rewrite per
///   MOVE, more than the expunge itself;
/// * \Deleted set before the copy would make "neither" possible: a UW
///   session (or our CLOSE) that expunges before the next open loses the
///   message the crash kept out of the destination.
///
/// Matching copies by Message-ID and size is not safe alone either: a
/// message the destination already held (an earlier COPY, a list and a
/// direct delivery of one message) would pass for the copy, and the
/// source's original, with its flags, would be expunged for it.
///
/// What a user sees after such a crash: the messages in both mailboxes —
/// in the source unchanged (flags as they were, no \Deleted), in the
/// destination as copies with new UIDs. A client that repeats the MOVE
/// (it never got the tagged OK) leaves a second copy in the destination
/// instead. Either way a duplicate, never a loss.
pub fn move_messages<W: std::io::Write>(
    ctx: &Context,
    selected: &mut Selected,
    set: &SequenceSet,
    mailbox: &[u8],
    numbering: Numbering,
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    if selected.read_only {
        return Err(CommandError::no_code(
            Code::ReadOnly,
            "Mailbox is read-only: messages cannot be moved out of it",
        ));
    }
    let indices = fetch::client_indices(&selected.mailbox, set, numbering)?;
    let moved: Vec<u32> = indices
        .iter()
        .filter_map(|&i| selected.mailbox.entries().get(i))
        .map(|e| e.uid.get())
        .collect();
    if moved.is_empty() {
        return copy(ctx, selected, set, mailbox, numbering).map(|_| Completion::done("MOVE"));
    }
    // Others' changes are reported now; the set is by UID from here on.
    super::updates::sync(selected, out)?;
    let uids = SequenceSet::of_ascending(moved.iter().copied());
    let copied = copy(ctx, selected, &uids, mailbox, Numbering::Uid)?;
    out.untagged_status(Status::Ok, copied.code.as_ref(), "Moved UIDs")?;
    expunge_moved(selected, &moved, &uids, out)?;
    Ok(Completion::done("MOVE"))
}

/// The second half of a move: the messages `moved` (UIDs, ascending; `uids`
/// the same as a set) are on disk in their destination; mark them \Deleted
/// and expunge them (only them), with the `* n EXPUNGE` the client must see.
/// Should the expunge fail, the \Deleted is taken back and the client hears
/// NO: the messages are then in both mailboxes. Also RENAME of a selected
/// INBOX (folder.rs).
pub(super) fn expunge_moved<W: std::io::Write>(
    selected: &mut Selected,
    moved: &[u32],
    uids: &SequenceSet,
    out: &mut ResponseWriter<W>,
) -> Result<(), CommandError> {
    let mut marked = Vec::new();
    for &uid in moved {
        let Ok(index) = selected.mailbox.index_of_uid(uid) else {
            continue;
        };
        match selected
            .mailbox
            .change_flags(index, FlagChange::Add, SystemFlags::DELETED, &[])
        {
            Ok(true) => marked.push(uid),
            Ok(false) => {}
            Err(e) => log::warn!("MOVE: marking UID {uid} \\Deleted: {e}"),
        }
    }
    match super::expunge::expunge_synced(selected, Some(uids), out) {
        Ok(_) => Ok(()),
        Err(e) => {
            for uid in marked {
                if let Ok(index) = selected.mailbox.index_of_uid(uid) {
                    let _ = selected.mailbox.change_flags(
                        index,
                        FlagChange::Remove,
                        SystemFlags::DELETED,
                        &[],
                    );
                }
            }
            log::warn!("MOVE: copied, but the source could not be expunged: {e:?}");
            Err(match e {
                CommandError::No { code, text } => CommandError::No {
                    code,
                    text: format!("Messages were copied but not removed: {text}"),
                },
                other => other,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(flags: SystemFlags, keywords: u32) -> MessageEntry {
        MessageEntry {
            uid: Uid::new(4).unwrap(),
            flags,
            keywords,
            internal_date: 1_700_000_000,
            zone_minutes: -300,
            rfc822_size: 1,
            offset: 0,
            length: 1,
            header_length: 0,
        }
    }

    #[test]
    fn copies_keep_system_flags_and_keywords_only() {
        let all = SystemFlags(0x7f);
        assert_eq!(client_flags(&entry(all, 0)), SystemFlags(0x1f));
        let names = vec!["Work".to_string(), "$Forwarded".into(), "Later".into()];
        assert_eq!(keyword_names(&entry(all, 0b101), &names), ["Work", "Later"]);
        // A bit past the declared list names nothing.
        assert!(keyword_names(&entry(all, 1 << 8), &names).is_empty());
    }

    #[test]
    fn internal_date_keeps_its_zone() {
        let date = internal_date(&entry(SystemFlags::default(), 0)).unwrap();
        assert_eq!(date.to_rfc3339(), "2023-11-14T17:13:20-05:00");
    }
}
