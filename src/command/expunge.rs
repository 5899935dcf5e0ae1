//! EXPUNGE (RFC 3501 §6.4.3), UID EXPUNGE (RFC 4315 §2.1), and what CLOSE,
//! UNSELECT and CHECK write before the mailbox is let go (§6.4.1, §6.4.2,
//! RFC 3691).
//!
//! The hard part is keeping the client's numbering right. Before expunging we
//! report what other programs did to the file (their expunges and new mail)
//! so that the client and the index agree; then `Mailbox::expunge` removes our
//! \Deleted messages and returns their indices in that same numbering, which
//! go out as `* n EXPUNGE`, each renumbered as RFC 3501 §7.4.1 requires
//! ([`updates::write_expunged`]). CLOSE expunges *silently* (§6.4.2: no
//! untagged EXPUNGE) and writes pending flag changes.
//!
//! Failure policy: when the file cannot be written (lock not available, disk
//! full), CLOSE and UNSELECT answer NO and the mailbox stays selected, so that
//! no flag change is lost and the client may try again; a client that goes on
//! to SELECT or LOGOUT gets a best-effort write (logged on failure).

use std::io::Write;

use super::updates::{self, write_expunged, write_recent};
use super::{CommandError, CommandResult, Completion, Selected};
use crate::response::{Code, ResponseWriter};
use crate::types::SequenceSet;

/// EXPUNGE (`uids: None`) or UID EXPUNGE (only \Deleted messages whose UID is
/// in `uids`).
pub fn expunge<W: Write>(
    selected: &mut Selected,
    uids: Option<&SequenceSet>,
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    if selected.read_only {
        return Err(CommandError::no_code(
            Code::ReadOnly,
            "Mailbox is read-only",
        ));
    }
    // Others' changes first, so that our indices mean what the client thinks.
    updates::sync(selected, out)?;
    expunge_synced(selected, uids, out)
}

/// The expunge itself, once the client has been told of others' changes
/// (MOVE reports them before its copy, so that a move into the selected
/// mailbox reads as EXPUNGE, then EXISTS).
pub fn expunge_synced<W: Write>(
    selected: &mut Selected,
    uids: Option<&SequenceSet>,
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    let removed = selected.mailbox.expunge(uids).map_err(updates::fatal)?;
    // RFC 5267 §4.3.4: REMOVEFROM before the EXPUNGEs it numbers.
    selected.contexts.before_expunge(out, &removed)?;
    write_expunged(out, &removed)?;
    selected.contexts.renumbered(&selected.mailbox);
    // Mail delivered while we expunged is in the index now but not yet known
    // to the client: announce it (EXISTS, then RECENT) before any RECENT
    // count that includes it (RFC 3501 §7.3.2: RECENT never exceeds EXISTS).
    updates::sync(selected, out)?;
    if !removed.is_empty() {
        write_recent(
            out,
            selected.mailbox.entries(),
            &mut selected.recent_reported,
        )?;
    }
    checkpoint_pending(selected)?;
    log::debug!("expunged {} messages", removed.len());
    Ok(Completion::done("EXPUNGE"))
}

/// CLOSE: removes \Deleted messages without telling the client (RFC 3501
/// §6.4.2), then writes pending flag changes. Read-only: nothing to write.
pub fn close(selected: &mut Selected) -> Result<(), CommandError> {
    if selected.read_only {
        return Ok(());
    }
    let removed = selected.mailbox.expunge(None).map_err(updates::fatal)?;
    log::debug!("CLOSE expunged {} messages", removed.len());
    checkpoint_pending(selected)
}

/// UNSELECT and CHECK: pending flag changes (and UIDs not yet recorded) are
/// written; nothing is expunged.
pub fn checkpoint(selected: &mut Selected) -> Result<(), CommandError> {
    if selected.read_only {
        return Ok(());
    }
    checkpoint_pending(selected)
}

/// Leaving the mailbox without a client to answer (LOGOUT, end of input,
/// SELECT of another mailbox, kiss of death): write what is pending, and log
/// a failure (flag changes are then lost; messages never are).
pub fn checkpoint_best_effort(selected: &mut Selected) {
    if let Err(e) = checkpoint(selected) {
        log::warn!(
            "{}: pending flag changes could not be written: {e}",
            selected.name
        );
    }
}

fn checkpoint_pending(selected: &mut Selected) -> Result<(), CommandError> {
    if selected.mailbox.has_pending_changes() {
        selected.mailbox.checkpoint().map_err(updates::fatal)?;
    }
    Ok(())
}
