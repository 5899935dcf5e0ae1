//! APPEND (RFC 3501 §6.3.11) with UIDPLUS's APPENDUID (RFC 4315 §3).
//!
//! The message arrives as one literal, already bounded by the framer (64 MiB,
//! `Limits::AUTHENTICATED`); `mailstore::write::append` converts it to LF,
//! From-quotes it and appends it under the write locks, all or nothing, and
//! tells us its UID. The hard parts:
//! - APPENDUID is sent on *every* success, including into a mailbox this or
//!   another session has open (UW imapd omits it there, and mbsync then fails
//!   to upload). That works because the engine assigns UIDs from the file
//!   itself, whoever has it open.
//! - Into the selected mailbox, the new message is announced as `* n EXISTS`
//!   before the tagged OK (§6.3.11 "the normal new message actions"): the
//!   session's new-mail check after every command does it.
//! - A missing destination is `NO [TRYCREATE]` (§6.3.11), so the client may
//!   CREATE it and retry; nothing is created here.

use chrono::{DateTime, FixedOffset};

use super::mailbox::resolve;
use super::store::split_flags;
use super::updates::uid_set;
use super::{CommandError, CommandResult, Completion, Context};
use crate::mailstore::StoreError;
use crate::mailstore::write::{self, Appended, NewMessage};
use crate::response::Code;
use crate::types::Flag;

/// Largest message APPEND accepts: the framer's literal limit, restated so the
/// answer is a clear NO [LIMIT] should the two ever differ.
pub const MAX_APPEND_OCTETS: usize = 64 * 1024 * 1024;

/// Runs APPEND.
/// It writes no untagged response itself.
pub fn append(
    ctx: &Context,
    mailbox: &[u8],
    flags: &[Flag],
    date: Option<DateTime<FixedOffset>>,
    message: &[u8],
) -> CommandResult {
    let target = resolve(ctx, mailbox)?;
    let (flags, keywords) = split_flags(flags)?;
    if message.is_empty() {
        return Err(CommandError::no("Empty message"));
    }
    if message.len() > MAX_APPEND_OCTETS {
        return Err(CommandError::no_code(Code::Limit, "Message too large"));
    }
    let new = NewMessage {
        bytes: message,
        flags,
        keywords,
        internal_date: date,
    };
    let appended = append_to(&target, &[new], ctx)?;
    log::info!(
        "append mailbox={} bytes={} uid={}",
        target.name,
        message.len(),
        uid_set(&appended.uids)
    );
    Ok(uid_completion(&appended, "APPEND"))
}

/// `OK [APPENDUID v uids] APPEND completed` (RFC 4315 §3: APPENDUID holds the
/// UIDs of all messages appended).
fn uid_completion(appended: &Appended, name: &str) -> Completion {
    Completion::with_code(
        Code::AppendUid {
            validity: appended.uid_validity.get(),
            uids: uid_set(&appended.uids),
        },
        format!("{name} completed"),
    )
}

/// Appends to a resolved destination. The spool INBOX is special: before its
/// first delivery the file does not exist, yet INBOX always exists for the
/// client (RFC 3501 §5.1), so it is created (mode 0600) rather than answered
/// with TRYCREATE. Any other missing mailbox is `NO [TRYCREATE]`.
pub fn append_to(
    target: &super::mailbox::Resolved,
    messages: &[NewMessage<'_>],
    ctx: &Context,
) -> Result<Appended, CommandError> {
    match write::append(&target.path, messages, &ctx.locking) {
        Err(StoreError::Missing { .. }) if target.is_inbox => {
            match crate::mailstore::append::create(&target.path) {
                Ok(()) => {}
                // Delivered to meanwhile: append to what is there now.
                Err(StoreError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e.into()),
            }
            write::append(&target.path, messages, &ctx.locking).map_err(missing_is_trycreate)
        }
        other => other.map_err(missing_is_trycreate),
    }
}

/// The destination of APPEND or COPY does not exist: `NO [TRYCREATE]`
/// (RFC 3501 §6.3.11, §6.4.7); other errors as usual.
pub fn missing_is_trycreate(e: StoreError) -> CommandError {
    match e {
        StoreError::Missing { .. } => {
            CommandError::no_code(Code::TryCreate, "Mailbox does not exist")
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Uid, UidValidity};

    #[test]
    fn appenduid_completion() {
        let appended = Appended {
            uid_validity: UidValidity::new(1_795_932_911).unwrap(),
            uids: vec![Uid::new(31).unwrap()],
        };
        let done = uid_completion(&appended, "APPEND");
        assert_eq!(done.code.unwrap().to_string(), "APPENDUID 1795932911 31");
        assert_eq!(done.text, "APPEND completed");
    }

    #[test]
    fn missing_destination_asks_to_create() {
        let e = missing_is_trycreate(StoreError::Missing {
            path: "/m/x".into(),
        });
        assert!(matches!(
            e,
            CommandError::No {
                code: Some(Code::TryCreate),
                ..
            }
        ));
        let e = missing_is_trycreate(StoreError::Locked {
            path: "/m/x".into(),
        });
        assert!(matches!(
            e,
            CommandError::No {
                code: Some(Code::InUse),
                ..
            }
        ));
    }

    #[test]
    fn refused_before_touching_any_file() {
        let ctx = Context {
            home: "/nonexistent/mbox-imapd-test/home".into(),
            user: "u".into(),
            host: "h".into(),
            inbox: "/nonexistent/mbox-imapd/u".into(),
            mail_dir: "/nonexistent/mbox-imapd/mail".into(),
            locking: Default::default(),
            special_use: Default::default(),
        };
        // Names that escape the mail directory, bad flags, empty messages.
        let e = append(&ctx, b"../x", &[], None, b"x").unwrap_err();
        assert!(matches!(
            e,
            CommandError::No {
                code: Some(Code::Cannot),
                ..
            }
        ));
        let e = append(&ctx, b"INBOX", &[Flag::Extension("X".into())], None, b"x");
        assert!(matches!(e, Err(CommandError::Bad { .. })));
        let e = append(&ctx, b"INBOX", &[], None, b"");
        assert!(matches!(e, Err(CommandError::No { .. })));
    }
}
