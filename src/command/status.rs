//! STATUS (RFC 3501 §6.3.10; SIZE from RFC 8438, APPENDLIMIT from RFC 7889,
//! DELETED from RFC 9051 §6.3.11).
//!
//! The hard part is being cheap and consistent. A mailbox this session has
//! selected is answered from its index, so the numbers agree with what the
//! session has already told the client. Any other mailbox is counted by
//! `mailstore::status`, a single pass that reads only the metadata headers,
//! under read locks only (another session may hold the mailbox), and without
//! changing the file or its access time. SIZE needs every line's CRLF
//! length, so it is computed only when asked for.

use std::io::Write;

use super::mailbox::resolve;
use super::{CommandResult, Completion, Context, Selected};
use crate::mailstore::status::{self, MailboxStatus, Size};
use crate::mailstore::{Mailbox, StoreError};
use crate::parser::ast::StatusItem;
use crate::response::ResponseWriter;
use crate::types::SystemFlags;

/// STATUS name (items). `append_limit` is the APPENDLIMIT, the same for
/// every mailbox (RFC 7889 §3).
pub fn status<W: Write>(
    ctx: &Context,
    selected: Option<&Selected>,
    name: &[u8],
    items: &[StatusItem],
    append_limit: u64,
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    let target = resolve(ctx, name)?;
    let size = if items.contains(&StatusItem::Size) {
        Size::Count
    } else {
        Size::Skip
    };
    let counts = match selected.filter(|s| s.mailbox.path() == target.path) {
        Some(sel) => from_index(&sel.mailbox),
        None => match status::read(&target.path, &ctx.locking, size) {
            Ok(c) => c,
            // A spool INBOX that has never received mail is an empty mailbox.
            Err(StoreError::Missing { .. }) if target.is_inbox => {
                from_index(&Mailbox::empty(&target.path))
            }
            Err(e) => return Err(e.into()),
        },
    };
    out.raw(b"* STATUS ")?;
    out.mailbox(target.name.as_bytes())?;
    out.raw(b" (")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.sp()?;
        }
        let (label, value) = match item {
            StatusItem::Messages => ("MESSAGES", u64::from(counts.messages)),
            StatusItem::Recent => ("RECENT", u64::from(counts.recent)),
            StatusItem::UidNext => ("UIDNEXT", u64::from(counts.uid_next)),
            StatusItem::UidValidity => ("UIDVALIDITY", u64::from(counts.uid_validity)),
            StatusItem::Unseen => ("UNSEEN", u64::from(counts.unseen)),
            StatusItem::Deleted => ("DELETED", u64::from(counts.deleted)),
            StatusItem::Size => ("SIZE", counts.size.unwrap_or(0)),
            StatusItem::AppendLimit => ("APPENDLIMIT", append_limit),
        };
        out.raw(label.as_bytes())?;
        out.sp()?;
        out.number(value)?;
    }
    out.raw(b")")?;
    out.end_line()?;
    Ok(Completion::done("STATUS"))
}

/// The counts of an open mailbox, from its index.
fn from_index(m: &Mailbox) -> MailboxStatus {
    let count = |f: fn(SystemFlags) -> bool| m.entries().iter().filter(|e| f(e.flags)).count();
    let unseen = count(|f| !f.contains(SystemFlags::SEEN));
    let deleted = count(|f| f.contains(SystemFlags::DELETED));
    MailboxStatus {
        messages: u32::try_from(m.len()).unwrap_or(u32::MAX),
        recent: u32::try_from(m.recent_count()).unwrap_or(u32::MAX),
        unseen: u32::try_from(unseen).unwrap_or(u32::MAX),
        deleted: u32::try_from(deleted).unwrap_or(u32::MAX),
        uid_next: m.uid_next().get(),
        uid_validity: m.uid_validity().get(),
        size: Some(m.entries().iter().map(|e| u64::from(e.rfc822_size)).sum()),
    }
}
