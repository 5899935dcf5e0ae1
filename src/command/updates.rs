//! Untagged updates: turning what changed in the mailbox file (a
//! [`Refresh`]) into the responses RFC 3501 §7.3–7.4 prescribes, and the
//! small pieces of wire syntax the write commands share (UID sets, flag lists).
//!
//! The hard part is numbering. The client numbers messages 1..EXISTS and
//! every `* n EXPUNGE` renumbers the messages after `n` at once (RFC 3501
//! §7.4.1), so a batch of expunges must be sent either in descending order of
//! the old numbers, or ascending with each number reduced by the count already
//! sent. We send them ascending-and-adjusted, so the client sees numbers in the
//! order the messages sat in the file. Everything after the expunges (EXISTS,
//! FETCH of changed flags) is in the numbering *after* them, as the engine's
//! `Refresh` gives it.
//!
//! When updates may be sent is decided by the session: never while no command
//! is in progress except during IDLE (RFC 2177), and never during FETCH, STORE
//! or SEARCH (RFC 3501 §7.4.1 forbids EXPUNGE there; we simply do not look at
//! the file during those commands, so the numbering the client uses stays the
//! mailbox's numbering). Order of one batch: EXPUNGEs, then FLAGS and
//! PERMANENTFLAGS if keywords were declared, then EXISTS and RECENT, then the
//! FETCH FLAGS of messages another program changed.

use std::io::{self, Write};

use super::{CommandError, Selected, fetch};
use crate::mailstore::write::Refresh;
use crate::mailstore::{MessageEntry, StoreError};
use crate::response::{Code, ResponseWriter, Status};
use crate::types::{SystemFlags, Uid};

/// UW's limit on keywords per mailbox (mbox-format.md: the keyword list in
/// X-IMAP holds at most 30); once reached, PERMANENTFLAGS no longer offers `\*`
/// (RFC 3501 §7.1: `\*` means new keywords may be created).
pub const MAX_KEYWORDS: usize = 30;

/// What the BYE says when the file changed in a way we cannot follow
/// (locking.md §7.4).
pub const CHANGED_TEXT: &str = "Mailbox was changed by another program, please reopen";

/// Looks at the file and reports what changed to the client. A refresh that
/// fails for a passing reason (a lock held too long) is logged and skipped:
/// the next command tries again. A file changed beyond repair ends the session
/// ([`CommandError::Fatal`]).
pub fn sync<W: Write>(
    selected: &mut Selected,
    out: &mut ResponseWriter<W>,
) -> Result<(), CommandError> {
    let refresh = match selected.mailbox.refresh() {
        Ok(r) => r,
        Err(e @ StoreError::Changed { .. }) => return Err(fatal(e)),
        Err(e) => {
            log::warn!("new-mail check failed, will retry: {e}");
            return Ok(());
        }
    };
    if refresh.is_empty() {
        return Ok(());
    }
    write_refresh(out, &refresh, selected)?;
    Ok(())
}

/// Writes the responses for `refresh`, which has already been folded into
/// `selected.mailbox`.
pub fn write_refresh<W: Write>(
    out: &mut ResponseWriter<W>,
    refresh: &Refresh,
    selected: &mut Selected,
) -> io::Result<()> {
    // RFC 5267 §4.3.4: a live result loses its expunged messages before
    // their EXPUNGE, in the numbering the client still has.
    selected.contexts.before_expunge(out, &refresh.expunged)?;
    let mailbox = &selected.mailbox;
    let after = After {
        entries: mailbox.entries(),
        keywords: mailbox.keywords(),
        read_only: selected.read_only,
    };
    write_batch(out, refresh, &after, &mut selected.recent_reported)?;
    selected.contexts.renumbered(&selected.mailbox);
    Ok(())
}

/// The mailbox as it is after a refresh: what [`write_batch`] reads.
pub struct After<'a> {
    pub entries: &'a [MessageEntry],
    pub keywords: &'a [String],
    pub read_only: bool,
}

/// The batch itself, in the order the module doc gives. `recent_reported` is
/// the RECENT count the client last saw; RECENT is sent when it changes.
pub fn write_batch<W: Write>(
    out: &mut ResponseWriter<W>,
    refresh: &Refresh,
    after: &After<'_>,
    recent_reported: &mut usize,
) -> io::Result<()> {
    write_expunged(out, &refresh.expunged)?;
    if refresh.keywords_changed {
        write_flag_lists(out, after.keywords, after.read_only)?;
    }
    if refresh.appended > 0 {
        out.untagged(&format!("{} EXISTS", after.entries.len()))?;
    }
    if refresh.appended > 0 || !refresh.expunged.is_empty() {
        write_recent(out, after.entries, recent_reported)?;
    }
    for &index in &refresh.flags_changed {
        let Some(entry) = after.entries.get(index) else {
            log::warn!("refresh named message index {index} past the end; skipped");
            continue;
        };
        let seq = u32::try_from(index + 1).unwrap_or(u32::MAX);
        write_fetch_flags(out, seq, entry, after.keywords, None)?;
    }
    Ok(())
}

/// `* n EXPUNGE` for messages at the 0-based `indices` (numbering before any
/// of them was removed), ascending and renumbered as each is sent (RFC 3501
/// §7.4.1). Duplicates and disorder in `indices` are tolerated.
pub fn write_expunged<W: Write>(out: &mut ResponseWriter<W>, indices: &[usize]) -> io::Result<()> {
    let mut sorted = indices.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    for (sent, index) in sorted.into_iter().enumerate() {
        // Ascending and distinct, so index >= sent: the k-th removal's old
        // index is at least k. The number is 1-based.
        let seq = index - sent + 1;
        out.untagged(&format!("{seq} EXPUNGE"))?;
    }
    Ok(())
}

/// `* n RECENT` if the number of \Recent messages changed since last said.
/// Never for IMAP4rev2, which has no RECENT response (RFC 9051 §7.4).
pub fn write_recent<W: Write>(
    out: &mut ResponseWriter<W>,
    entries: &[MessageEntry],
    recent_reported: &mut usize,
) -> io::Result<()> {
    if out.is_rev2() {
        return Ok(());
    }
    let recent = entries
        .iter()
        .filter(|e| e.flags.contains(SystemFlags::RECENT))
        .count();
    if recent != *recent_reported {
        out.untagged(&format!("{recent} RECENT"))?;
        *recent_reported = recent;
    }
    Ok(())
}

/// `* n FETCH ([UID u ]FLAGS (...))` for the message at 0-based `index`; the
/// UID is included when the command was a UID command (RFC 3501 §6.4.8), and
/// always for IMAP4rev2, where every unsolicited FETCH carries it (RFC 9051
/// §7.5.2; Appendix E item 21).
pub fn write_fetch_flags<W: Write>(
    out: &mut ResponseWriter<W>,
    seq: u32,
    entry: &MessageEntry,
    keywords: &[String],
    uid: Option<Uid>,
) -> io::Result<()> {
    out.raw(b"* ")?;
    out.number(u64::from(seq))?;
    out.raw(b" FETCH (")?;
    let uid = uid.or_else(|| out.is_rev2().then_some(entry.uid));
    if let Some(uid) = uid {
        out.raw(b"UID ")?;
        out.number(u64::from(uid.get()))?;
        out.sp()?;
    }
    fetch::write_flags(out, entry, keywords)?;
    out.close()?;
    out.end_line()
}

/// `* FLAGS (...)` and `* OK [PERMANENTFLAGS (...)]`, as SELECT sends them and
/// again whenever a keyword is declared (RFC 3501 §7.2.6).
pub fn write_flag_lists<W: Write>(
    out: &mut ResponseWriter<W>,
    keywords: &[String],
    read_only: bool,
) -> io::Result<()> {
    let (flags, permanent) = flag_lists(keywords, read_only);
    out.untagged(&format!("FLAGS ({})", flags.join(" ")))?;
    let text = if read_only {
        "No permanent flags permitted"
    } else {
        "Flags permitted"
    };
    out.untagged_status(Status::Ok, Some(&Code::PermanentFlags(permanent)), text)
}

/// The FLAGS list (system flags, then the mailbox's keywords) and the
/// PERMANENTFLAGS list (the same plus `\*` while keywords may still be
/// declared; empty when read-only, RFC 3501 §6.3.2).
pub fn flag_lists(keywords: &[String], read_only: bool) -> (Vec<String>, Vec<String>) {
    let mut flags: Vec<String> = SystemFlags::ALL
        .iter()
        .map(|(_, f)| f.as_wire().into_owned())
        .collect();
    flags.extend(keywords.iter().cloned());
    if read_only {
        return (flags, Vec::new());
    }
    let mut permanent = flags.clone();
    if keywords.len() < MAX_KEYWORDS {
        permanent.push("\\*".into());
    }
    (flags, permanent)
}

/// A UID set in RFC 4315 `uid-set` form: runs of consecutive UIDs become
/// `a:b`, in the order given (COPYUID pairs source and destination UIDs by
/// position, so the order must not change).
pub fn uid_set(uids: &[Uid]) -> String {
    number_set(uids.iter().map(|u| u.get()))
}

/// Ascending numbers as a compact `sequence-set` (`1:3,7`), as ESEARCH's ALL
/// and COPYUID give them.
pub fn number_set(numbers: impl IntoIterator<Item = u32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(u32, u32)> = None;
    for uid in numbers {
        run = match run {
            Some((first, last)) if last.checked_add(1) == Some(uid) => Some((first, uid)),
            Some(done) => {
                parts.push(range_text(done));
                Some((uid, uid))
            }
            None => Some((uid, uid)),
        };
    }
    if let Some(done) = run {
        parts.push(range_text(done));
    }
    parts.join(",")
}

fn range_text((first, last): (u32, u32)) -> String {
    if first == last {
        first.to_string()
    } else {
        format!("{first}:{last}")
    }
}

/// A store error met while working on the selected mailbox: the file changed
/// beyond repair ends the session with `* BYE` (logged as an error, since the
/// user's session ends abnormally); anything else is the usual NO.
pub fn fatal(e: StoreError) -> CommandError {
    match e {
        StoreError::Changed { .. } => {
            log::error!("ending the session: {e}");
            CommandError::Fatal {
                text: CHANGED_TEXT.into(),
            }
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(uid: u32, flags: SystemFlags) -> MessageEntry {
        MessageEntry {
            uid: Uid::new(uid).unwrap(),
            flags,
            keywords: 0,
            internal_date: 0,
            zone_minutes: 0,
            rfc822_size: 10,
            offset: 0,
            length: 10,
            header_length: 2,
        }
    }

    fn uids(list: &[u32]) -> Vec<Uid> {
        list.iter().map(|&u| Uid::new(u).unwrap()).collect()
    }

    fn render(f: impl FnOnce(&mut ResponseWriter<Vec<u8>>) -> io::Result<()>) -> String {
        let mut w = ResponseWriter::new(Vec::new());
        f(&mut w).unwrap();
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn uid_sets_compress_runs_in_order() {
        let cases: &[(&[u32], &str)] = &[
            (&[], ""),
            (&[7], "7"),
            (&[1, 2, 3], "1:3"),
            (&[1, 3, 4], "1,3:4"),
            (&[1, 2, 4, 6, 7, 8, 10], "1:2,4,6:8,10"),
            // Order is kept: COPYUID pairs by position.
            (&[5, 6, 1, 2], "5:6,1:2"),
            (&[3, 2, 1], "3,2,1"),
            (&[u32::MAX - 1, u32::MAX], "4294967294:4294967295"),
        ];
        for (input, want) in cases {
            assert_eq!(uid_set(&uids(input)), *want, "{input:?}");
        }
    }

    #[test]
    fn expunges_are_renumbered_as_sent() {
        // Old messages 2, 3 and 7 (0-based 1, 2, 6) of 8: after `* 2 EXPUNGE`
        // the old 3 is number 2, and after both, the old 7 is number 5.
        let out = render(|w| write_expunged(w, &[1, 2, 6]));
        assert_eq!(out, "* 2 EXPUNGE\r\n* 2 EXPUNGE\r\n* 5 EXPUNGE\r\n");
        // Unsorted input with a duplicate: same answer.
        let out = render(|w| write_expunged(w, &[6, 2, 1, 2]));
        assert_eq!(out, "* 2 EXPUNGE\r\n* 2 EXPUNGE\r\n* 5 EXPUNGE\r\n");
        // Everything: always number 1.
        let out = render(|w| write_expunged(w, &[0, 1, 2]));
        assert_eq!(out, "* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n");
    }

    /// Applies the EXPUNGE lines of `out` to `1..=n` as a client would and
    /// returns the survivors: checks the numbering against a model.
    fn client_view(n: u32, out: &str) -> Vec<u32> {
        let mut msgs: Vec<u32> = (1..=n).collect();
        for line in out.lines() {
            if let Some(seq) = line
                .strip_prefix("* ")
                .and_then(|l| l.strip_suffix(" EXPUNGE"))
            {
                let seq: usize = seq.parse().unwrap();
                assert!(seq >= 1 && seq <= msgs.len(), "{line} out of range");
                msgs.remove(seq - 1);
            }
        }
        msgs
    }

    #[test]
    fn expunge_numbering_matches_a_client_model() {
        let cases: &[&[usize]] = &[
            &[0],
            &[9],
            &[0, 9],
            &[3, 4, 5],
            &[0, 2, 4, 6, 8],
            &[1, 8, 9],
        ];
        for &removed in cases {
            let out = render(|w| write_expunged(w, removed));
            let want: Vec<u32> = (1..=10u32)
                .filter(|n| !removed.contains(&(*n as usize - 1)))
                .collect();
            assert_eq!(client_view(10, &out), want, "{removed:?}");
        }
    }

    #[test]
    fn batch_order_expunge_flags_exists_recent_fetch() {
        // Before: 4 messages, 1 recent. Message 2 expunged, 2 appended (recent),
        // message index 0 changed, keyword declared.
        let entries = vec![
            entry(1, SystemFlags::SEEN),
            entry(3, SystemFlags::RECENT),
            entry(4, SystemFlags::DELETED),
            entry(5, SystemFlags::RECENT),
            entry(6, SystemFlags::RECENT),
        ];
        let keywords = vec!["Work".to_string()];
        let refresh = Refresh {
            expunged: vec![1],
            appended: 2,
            flags_changed: vec![0, 2],
            keywords_changed: true,
        };
        let after = After {
            entries: &entries,
            keywords: &keywords,
            read_only: false,
        };
        let mut recent = 1;
        let out = render(|w| write_batch(w, &refresh, &after, &mut recent));
        assert_eq!(
            out,
            "* 2 EXPUNGE\r\n\
             * FLAGS (\\Answered \\Flagged \\Deleted \\Draft \\Seen Work)\r\n\
             * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Draft \\Seen Work \\*)] Flags permitted\r\n\
             * 5 EXISTS\r\n\
             * 3 RECENT\r\n\
             * 1 FETCH (FLAGS (\\Seen))\r\n\
             * 3 FETCH (FLAGS (\\Deleted))\r\n"
        );
        assert_eq!(recent, 3);
    }

    #[test]
    fn batch_sends_recent_only_when_it_changed_and_skips_bad_indices() {
        let entries = vec![entry(1, SystemFlags::RECENT), entry(2, SystemFlags::SEEN)];
        let after = After {
            entries: &entries,
            keywords: &[],
            read_only: true,
        };
        let refresh = Refresh {
            expunged: vec![],
            appended: 1,
            flags_changed: vec![7],
            keywords_changed: false,
        };
        // The new message is not recent for us (another session saw it first).
        let mut recent = 1;
        let out = render(|w| write_batch(w, &refresh, &after, &mut recent));
        assert_eq!(out, "* 2 EXISTS\r\n");
        // Nothing at all for an empty refresh.
        let out = render(|w| write_batch(w, &Refresh::default(), &after, &mut recent));
        assert_eq!(out, "");
    }

    #[test]
    fn flag_lists_follow_access_and_the_keyword_limit() {
        let (flags, permanent) = flag_lists(&["$Forwarded".into()], false);
        assert_eq!(flags.last().map(String::as_str), Some("$Forwarded"));
        assert_eq!(permanent.last().map(String::as_str), Some("\\*"));
        let (_, permanent) = flag_lists(&[], true);
        assert!(permanent.is_empty());
        let full: Vec<String> = (0..MAX_KEYWORDS).map(|i| format!("k{i}")).collect();
        let (flags, permanent) = flag_lists(&full, false);
        assert_eq!(flags.len(), 5 + MAX_KEYWORDS);
        assert_eq!(permanent, flags, "no \\* once the keyword list is full");
    }

    #[test]
    fn fetch_flags_with_and_without_uid() {
        let e = entry(9, SystemFlags(SystemFlags::RECENT.0 | SystemFlags::SEEN.0));
        let out = render(|w| write_fetch_flags(w, 3, &e, &[], None));
        assert_eq!(out, "* 3 FETCH (FLAGS (\\Recent \\Seen))\r\n");
        let out = render(|w| write_fetch_flags(w, 3, &e, &[], Some(e.uid)));
        assert_eq!(out, "* 3 FETCH (UID 9 FLAGS (\\Recent \\Seen))\r\n");
        // IMAP4rev2: the UID always, and no \Recent.
        let out = render_rev2(|w| write_fetch_flags(w, 3, &e, &[], None));
        assert_eq!(out, "* 3 FETCH (UID 9 FLAGS (\\Seen))\r\n");
    }

    fn render_rev2(f: impl FnOnce(&mut ResponseWriter<Vec<u8>>) -> io::Result<()>) -> String {
        let mut w = ResponseWriter::new(Vec::new());
        w.set_revision(crate::response::Revision::Rev2);
        f(&mut w).unwrap();
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn rev2_batch_has_no_recent_and_every_fetch_names_its_uid() {
        let entries = vec![
            entry(1, SystemFlags::SEEN),
            entry(
                4,
                SystemFlags(SystemFlags::DELETED.0 | SystemFlags::RECENT.0),
            ),
            entry(5, SystemFlags::RECENT),
        ];
        let refresh = Refresh {
            expunged: vec![1],
            appended: 1,
            flags_changed: vec![0, 1],
            keywords_changed: false,
        };
        let after = After {
            entries: &entries,
            keywords: &[],
            read_only: false,
        };
        let mut recent = 0;
        let out = render_rev2(|w| write_batch(w, &refresh, &after, &mut recent));
        assert_eq!(
            out,
            "* 2 EXPUNGE\r\n\
             * 3 EXISTS\r\n\
             * 1 FETCH (UID 1 FLAGS (\\Seen))\r\n\
             * 2 FETCH (UID 4 FLAGS (\\Deleted))\r\n"
        );
    }

    #[test]
    fn changed_is_fatal_other_errors_are_no() {
        let changed = StoreError::Changed {
            path: "/x".into(),
            reason: "shrank".into(),
        };
        assert!(matches!(fatal(changed), CommandError::Fatal { text } if text == CHANGED_TEXT));
        let locked = StoreError::Locked { path: "/x".into() };
        assert!(matches!(
            fatal(locked),
            CommandError::No {
                code: Some(Code::InUse),
                ..
            }
        ));
    }
}
