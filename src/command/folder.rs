//! CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 3501 §6.3.3-§6.3.7).
//!
//! The handlers decide what a name means (INBOX, a folder, a mailbox; the
//! trailing delimiter of CREATE) and which RFC rule applies; the file work is
//! `mailstore::folders`. The hard cases are INBOX's: it always exists, so it
//! cannot be created, deleted or renamed onto; it has no inferiors; and
//! RENAME INBOX moves its messages into a new mailbox and empties the spool
//! file in place (folders/inbox.rs). While this session has INBOX selected
//! the file cannot be emptied under its own map, so the messages are moved
//! the way MOVE moves them (copy, fsync, then expunge), and the client sees
//! them expunged, as UW imapd and Dovecot show it.
//!
//! [`From<FolderError>`](FolderError) is the one place a folder error becomes
//! a client answer: the detail is logged, the client gets the reason.

use std::io::Write;
use std::path::Path;

use super::mailbox::resolve;
use super::{CommandError, CommandResult, Completion, Context, Selected, copy, updates};
use crate::mailstore::folders::{self, FolderError, Tree};
use crate::response::{Code, ResponseWriter};
use crate::special_use::Use;
use crate::types::{Numbering, SequenceSet};

/// CREATE name (RFC 3501 §6.3.3). A trailing `/` creates a folder that
/// holds folders (a directory); otherwise a mailbox file with UW's
/// pseudo-message. Superior folders are created as needed. `special_use` is
/// RFC 6154's `(USE (...))` parameter, checked before anything is created
/// (`check_uses`).
pub fn create(ctx: &Context, name: &[u8], special_use: Option<&[String]>) -> CommandResult {
    let (name, folder) = match name.strip_suffix(b"/") {
        Some(stripped) if !stripped.is_empty() => (stripped, true),
        _ => (name, false),
    };
    if name.eq_ignore_ascii_case(b"INBOX") {
        return Err(already_exists("INBOX always exists"));
    }
    let target = resolve(ctx, name)?;
    if let Some(uses) = special_use {
        check_uses(ctx, name, folder, uses)?;
    }
    if folder {
        folders::create_folder(&target.path)?;
    } else {
        folders::create_mailbox(&ctx.mail_dir, &target.path, &ctx.host)?;
    }
    Ok(Completion::done("CREATE"))
}

/// CREATE-SPECIAL-USE (RFC 6154 §3): whether `name` can be created with the
/// uses asked for. An mbox tree has no place to store a mailbox's use, and
/// we add no side files, so a use is a property of the name (the
/// `special_use_*` configuration, or its defaults): a CREATE may ask for
/// uses the name will have anyway, and nothing else. Anything else, a
/// folder, or `\All` and `\Flagged` (virtual mailboxes we do not have), is
/// `NO [USEATTR]`, and nothing is created (§3: "MUST NOT create the
/// mailbox").
fn check_uses(
    ctx: &Context,
    name: &[u8],
    folder: bool,
    uses: &[String],
) -> Result<(), CommandError> {
    let refuse = |text: String| Err(CommandError::no_code(Code::Other("USEATTR".into()), text));
    if uses.is_empty() {
        return Ok(());
    }
    if folder {
        return refuse("A folder holds no messages and cannot have a special use".into());
    }
    let given = ctx.special_use.of(name);
    for attr in uses {
        match Use::from_attribute(attr) {
            None => {
                return refuse(format!(
                    "{} is not a special use this server supports",
                    printable(attr)
                ));
            }
            Some(u) if !given.contains(&u) => {
                return refuse(format!(
                    "{u} belongs to the mailboxes the server configuration names for it, not to this name"
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Client text quoted in a reply: printable ASCII only, bounded.
fn printable(text: &str) -> String {
    const MAX_QUOTED_CHARS: usize = 40;
    text.chars()
        .take(MAX_QUOTED_CHARS)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

/// DELETE name (RFC 3501 §6.3.4).
pub fn delete(ctx: &Context, name: &[u8]) -> CommandResult {
    let name = name
        .strip_suffix(b"/")
        .filter(|n| !n.is_empty())
        .unwrap_or(name);
    let target = resolve(ctx, name)?;
    if target.is_inbox {
        return Err(CommandError::no_code(
            Code::Cannot,
            "INBOX cannot be deleted",
        ));
    }
    let tree = Tree::new(&ctx.mail_dir, &ctx.inbox);
    folders::delete(&tree, &target.path, &ctx.locking)?;
    Ok(Completion::done("DELETE"))
}

/// RENAME from to (RFC 3501 §6.3.5). `selected` is the mailbox this
/// session has selected, if any: a RENAME of INBOX while INBOX is selected
/// tells it of the expunges on `out`.
pub fn rename<W: Write>(
    ctx: &Context,
    from: &[u8],
    to: &[u8],
    selected: Option<&mut Selected>,
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    let trim = |n: &'_ [u8]| -> Vec<u8> {
        n.strip_suffix(b"/")
            .filter(|n| !n.is_empty())
            .unwrap_or(n)
            .to_vec()
    };
    let (from, to) = (trim(from), trim(to));
    let source = resolve(ctx, &from)?;
    let target = resolve(ctx, &to)?;
    if target.is_inbox {
        return Err(already_exists("INBOX always exists"));
    }
    if source.is_inbox {
        if let Some(selected) = selected.filter(|s| s.mailbox.path() == ctx.inbox.as_path()) {
            return rename_selected_inbox(ctx, selected, &to, &target.path, out);
        }
        folders::rename_inbox(
            &ctx.mail_dir,
            &ctx.inbox,
            &target.path,
            &ctx.host,
            &ctx.locking,
        )?;
        return Ok(Completion::done("RENAME"));
    }
    let tree = Tree::new(&ctx.mail_dir, &ctx.inbox);
    folders::rename(&tree, &source.path, &target.path, &ctx.locking)?;
    Ok(Completion::done("RENAME"))
}

/// How many octets of messages one append into the new mailbox carries when
/// a selected INBOX is renamed: a large INBOX is copied in batches, so the
/// session holds at most this much (or one larger message) in memory.
const COPY_BATCH_OCTETS: u64 = 16 * 1024 * 1024;

/// RENAME INBOX while this session has it selected: the new mailbox is
/// created, every message the client knows of (after others' changes are
/// reported) is copied into it with its flags, keywords and INTERNALDATE
/// (in batches of [`COPY_BATCH_OCTETS`], each fsynced), and only then
/// expunged from INBOX, with the `* n EXPUNGE`s the client must see; INBOX
/// stays selected, empty but for mail delivered meanwhile, which stays in
/// INBOX. Should a batch fail, the new mailbox is deleted again and INBOX is
/// untouched. A kill at any point leaves every message in INBOX (and some
/// perhaps in the new mailbox too), or every message in the new mailbox.
/// Read-only (EXAMINE): nothing may be expunged, so `NO [INUSE]`.
fn rename_selected_inbox<W: Write>(
    ctx: &Context,
    selected: &mut Selected,
    to: &[u8],
    to_path: &Path,
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    if selected.read_only {
        return Err(CommandError::no_code(
            Code::InUse,
            "INBOX is selected read-only; CLOSE it, or SELECT it, before renaming it",
        ));
    }
    updates::sync(selected, out)?;
    folders::create_mailbox(&ctx.mail_dir, to_path, &ctx.host)?;
    let entries = selected.mailbox.entries();
    let moved: Vec<u32> = entries.iter().map(|e| e.uid.get()).collect();
    let batches = batches(
        entries
            .iter()
            .map(|e| (e.uid.get(), u64::from(e.rfc822_size))),
        COPY_BATCH_OCTETS,
    );
    for batch in &batches {
        let set = SequenceSet::of_ascending(batch.iter().copied());
        if let Err(e) = copy::copy(ctx, selected, &set, to, Numbering::Uid) {
            // INBOX is untouched: take back the new mailbox, so the RENAME
            // changed nothing.
            let tree = Tree::new(&ctx.mail_dir, &ctx.inbox);
            if let Err(undo) = folders::delete(&tree, to_path, &ctx.locking) {
                log::warn!("RENAME INBOX: the new mailbox could not be taken back: {undo}");
            }
            return Err(e);
        }
    }
    if !moved.is_empty() {
        let uids = SequenceSet::of_ascending(moved.iter().copied());
        copy::expunge_moved(selected, &moved, &uids, out)?;
    }
    log::info!(
        "renamed selected INBOX: {} messages moved to {} in {} batches",
        moved.len(),
        to_path.display(),
        batches.len()
    );
    Ok(Completion::done("RENAME"))
}

/// Splits `(uid, octets)` into runs of consecutive UIDs of at most `limit`
/// octets each (a larger message is a run of its own).
fn batches(messages: impl Iterator<Item = (u32, u64)>, limit: u64) -> Vec<Vec<u32>> {
    let mut runs: Vec<Vec<u32>> = Vec::new();
    let mut octets = 0u64;
    for (uid, size) in messages {
        match runs.last_mut() {
            Some(run) if octets.saturating_add(size) <= limit => {
                run.push(uid);
                octets = octets.saturating_add(size);
            }
            _ => {
                runs.push(vec![uid]);
                octets = size;
            }
        }
    }
    runs
}

/// SUBSCRIBE name (RFC 3501 §6.3.6): any valid name, existing or not (the
/// RFC allows either); INBOX is stored as `INBOX`.
pub fn subscribe(ctx: &Context, name: &[u8]) -> CommandResult {
    let target = resolve(ctx, name)?;
    folders::subscribe(&ctx.home, target.name.as_bytes())?;
    Ok(Completion::done("SUBSCRIBE"))
}

/// UNSUBSCRIBE name (RFC 3501 §6.3.7). The name is not checked: whatever
/// is in the list (even a name UW stored in 8-bit) can be removed.
pub fn unsubscribe(ctx: &Context, name: &[u8]) -> CommandResult {
    if !folders::unsubscribe(&ctx.home, name)? {
        return Err(CommandError::no_code(
            Code::Nonexistent,
            "Not subscribed to that mailbox",
        ));
    }
    Ok(Completion::done("UNSUBSCRIBE"))
}

fn already_exists(text: &str) -> CommandError {
    CommandError::no_code(Code::Other("ALREADYEXISTS".into()), text)
}

impl From<FolderError> for CommandError {
    fn from(e: FolderError) -> Self {
        if let FolderError::Store(store) = e {
            return store.into();
        }
        log::warn!("folder operation refused: {e}");
        match e {
            FolderError::Exists { .. } => already_exists("Mailbox already exists"),
            FolderError::Missing { .. } => {
                CommandError::no_code(Code::Nonexistent, "No such mailbox")
            }
            // RFC 9051's code for exactly this; RFC 3501 clients ignore it.
            FolderError::HasChildren { .. } => CommandError::no_code(
                Code::Other("HASCHILDREN".into()),
                "Folder has inferior mailboxes; delete them first",
            ),
            FolderError::NotEmpty { .. } => {
                CommandError::no_code(Code::Cannot, "Folder holds files that are not mailboxes")
            }
            FolderError::ParentNotFolder { .. } => CommandError::no_code(
                Code::Cannot,
                "A superior name is a mailbox, which cannot hold other mailboxes",
            ),
            FolderError::NotMailbox { .. } => {
                CommandError::no_code(Code::Cannot, "Not a mailbox in a format this server reads")
            }
            FolderError::IntoItself { .. } => {
                CommandError::no_code(Code::Cannot, "Cannot move a folder into itself")
            }
            FolderError::Io { source, .. } => match source.raw_os_error() {
                Some(nix::libc::EACCES | nix::libc::EPERM | nix::libc::EROFS) => {
                    CommandError::no_code(Code::Other("NOPERM".into()), "Permission denied")
                }
                Some(nix::libc::ENOSPC | nix::libc::EDQUOT) => CommandError::no_code(
                    Code::OverQuota,
                    "Not enough disk space or quota; nothing was changed",
                ),
                Some(nix::libc::ENAMETOOLONG) => {
                    CommandError::no_code(Code::Cannot, "Mailbox name too long")
                }
                _ => CommandError::no_code(Code::ServerBug, "The operation failed"),
            },
            FolderError::Store(_) => CommandError::no_code(Code::ServerBug, "The operation failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::batches;

    #[test]
    fn batches_stay_under_the_limit_and_keep_uid_order() {
        let sizes = [(1, 4), (2, 4), (3, 3), (5, 10), (8, 1), (9, 9)];
        assert_eq!(
            batches(sizes.into_iter(), 10),
            [vec![1, 2], vec![3], vec![5], vec![8, 9]]
        );
        assert_eq!(batches(sizes.into_iter(), 100), [vec![1, 2, 3, 5, 8, 9]]);
        // A message over the limit travels alone.
        assert_eq!(
            batches([(1, 50), (2, 1)].into_iter(), 10),
            [vec![1], vec![2]]
        );
        assert!(batches(std::iter::empty(), 10).is_empty());
    }
}
