//! STORE and UID STORE (RFC 3501 §6.4.6, §6.4.8), and the flag-list checks
//! APPEND shares.
//!
//! Each change goes through `Mailbox::change_flags`, which keeps it as a
//! pending delta until the next checkpoint (CHECK, NOOP, CLOSE, LOGOUT, a
//! quiet period in the connection loop): a STORE writes nothing to the file by
//! itself, so a client marking 10,000 messages costs one checkpoint.
//!
//! The hard parts are what the client must be told, and when:
//! - Every message the set names gets `* n FETCH (FLAGS (...))` with its new
//!   flags ("as if a FETCH of those flags was done", §6.4.6) unless `.SILENT`;
//!   UID STORE adds the UID (§6.4.8).
//! - A keyword new to the mailbox changes the FLAGS and PERMANENTFLAGS lists,
//!   which are sent again *before* the FETCH responses that use the keyword
//!   (as UW imapd does, fixtures/uw-session.transcript a5).
//! - `\Recent` is the server's to set (§2.3.2): naming it is ignored, as UW
//!   does. Any other `\Name` is not a flag we know: BAD, before anything changes.
//! - A sequence number past EXISTS is BAD (§9), a missing UID is skipped.
//! - A read-only mailbox (EXAMINE, no write access) answers NO [READ-ONLY].

use std::io::Write;

use super::updates::{self, write_fetch_flags, write_flag_lists};
use super::{CommandError, CommandResult, Completion, Selected, SeqNumbers, fetch};
use crate::mailstore::write::FlagChange;
use crate::parser::ast::{StoreMode, StoreResponse};
use crate::response::{Code, ResponseWriter};
use crate::types::{Flag, Numbering, SequenceSet, SystemFlags};

/// Runs STORE / UID STORE.
pub fn store<W: Write>(
    selected: &mut Selected,
    set: &SequenceSet,
    mode: StoreMode,
    response: StoreResponse,
    flags: &[Flag],
    numbering: Numbering,
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    let indices = fetch::client_indices(&selected.mailbox, set, numbering)?;
    let (system, keywords) = split_flags(flags)?;
    if selected.read_only {
        return Err(CommandError::no_code(
            Code::ReadOnly,
            "Mailbox is read-only",
        ));
    }
    let change = match mode {
        StoreMode::Replace => FlagChange::Replace,
        StoreMode::Add => FlagChange::Add,
        StoreMode::Remove => FlagChange::Remove,
    };
    let keywords_before = selected.mailbox.keywords().len();
    // Apply to every message first, so that a keyword declared by this STORE
    // is announced before any FETCH that shows it.
    let mut done = Vec::with_capacity(indices.len());
    let mut failure = None;
    for index in indices {
        match selected
            .mailbox
            .change_flags(index, change, system, &keywords)
        {
            Ok(_) => done.push(index),
            Err(e) => {
                // The keyword limit or the like: the messages before this one
                // keep their change (it is what the client will be told).
                failure = Some(updates::fatal(e));
                break;
            }
        }
    }
    if selected.mailbox.keywords().len() != keywords_before {
        write_flag_lists(out, selected.mailbox.keywords(), selected.read_only)?;
    }
    if response == StoreResponse::Answer {
        let mailbox = &selected.mailbox;
        for index in done {
            let Some(entry) = mailbox.entries().get(index) else {
                continue;
            };
            let Some(seq) = SeqNumbers::of(mailbox).seq(index) else {
                continue;
            };
            let uid = (numbering == Numbering::Uid).then_some(entry.uid);
            write_fetch_flags(out, seq, entry, mailbox.keywords(), uid)?;
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(Completion::done("STORE")),
    }
}

/// Splits a client's flag list (STORE, APPEND) into system flags and
/// keywords. `\Recent` is dropped (only the server sets it, RFC 3501 §2.3.2);
/// an unknown `\Name` is BAD (RFC 3501 §6.4.6: only defined flags may be
/// stored). Keywords keep their first spelling and appear once,
/// compared case-insensitively as RFC 3501 §2.3.2 wants.
pub fn split_flags(flags: &[Flag]) -> Result<(SystemFlags, Vec<String>), CommandError> {
    let mut system = SystemFlags::default();
    let mut keywords: Vec<String> = Vec::new();
    for flag in flags {
        match flag {
            Flag::Recent => {}
            Flag::Keyword(k) => {
                if !keywords.iter().any(|have| have.eq_ignore_ascii_case(k)) {
                    keywords.push(k.clone());
                }
            }
            Flag::Extension(name) => {
                return Err(CommandError::bad(format!("Unknown system flag \\{name}")));
            }
            other => {
                if let Some(bit) = SystemFlags::from_flag(other) {
                    system.insert(bit);
                }
            }
        }
    }
    Ok((system, keywords))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_flags_table() {
        let kw = |s: &str| Flag::Keyword(s.into());
        let cases: Vec<(Vec<Flag>, u8, Vec<&str>)> = vec![
            (vec![], 0, vec![]),
            (vec![Flag::Seen, Flag::Flagged], 1 | 4, vec![]),
            (vec![Flag::Recent], 0, vec![]),
            (
                vec![Flag::Deleted, Flag::Recent, Flag::Draft],
                8 | 16,
                vec![],
            ),
            (
                vec![kw("Work"), kw("$Forwarded"), kw("work"), Flag::Answered],
                2,
                vec!["Work", "$Forwarded"],
            ),
        ];
        for (input, bits, want) in cases {
            let (system, keywords) = split_flags(&input).unwrap();
            assert_eq!(system, SystemFlags(bits), "{input:?}");
            assert_eq!(keywords, want, "{input:?}");
        }
    }

    #[test]
    fn unknown_system_flag_is_bad() {
        let err = split_flags(&[Flag::Seen, Flag::Extension("Important".into())]).unwrap_err();
        assert!(matches!(err, CommandError::Bad { text } if text.contains("\\Important")));
    }
}
