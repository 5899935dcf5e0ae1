//! APPEND (RFC 3501 §6.3.11) with UIDPLUS's APPENDUID (RFC 4315 §3).
//!
//! Each message arrives as one literal, already bounded by the framer (the
//! APPENDLIMIT, RFC 7889; at most 64 MiB); `mailstore::write::append` converts
//! them to LF, From-quotes them and appends them under the write locks, all or
//! nothing, and tells us their UIDs. MULTIAPPEND (RFC 3502) is the same call
//! with several messages; a CATENATE message (RFC 4469) is built first from
//! its parts (append/catenate.rs) and then treated like a literal one, so it
//! is all or nothing with the others. The hard parts:
//! - APPENDUID is sent on *every* success, including into a mailbox this or
//!   another session has open (UW imapd omits it there, and mbsync then fails
//!   to upload). That works because the engine assigns UIDs from the file
//!   itself, whoever has it open.
//! - Into the selected mailbox, the new message is announced as `* n EXISTS`
//!   before the tagged OK (§6.3.11 "the normal new message actions"): the
//!   session's new-mail check after every command does it.
//! - A missing destination is `NO [TRYCREATE]` (§6.3.11), so the client may
//!   CREATE it and retry; nothing is created here.

mod catenate;

use std::borrow::Cow;

use super::mailbox::resolve;
use super::store::split_flags;
use super::updates::uid_set;
use super::{CommandError, CommandResult, Completion, Context, Selected};
use crate::mailstore::StoreError;
use crate::mailstore::write::{self, Appended, NewMessage};
use crate::parser::ast::{AppendData, AppendMessage};
use crate::response::Code;

/// Largest message APPEND accepts: the framer's literal limit, restated so the
/// answer is a clear NO [TOOBIG] should the two ever differ.
pub const MAX_APPEND_OCTETS: usize = 64 * 1024 * 1024;

/// What one APPEND's messages may hold together beyond the APPENDLIMIT: the
/// framer's allowance for a MULTIAPPEND's command lines (session::Options),
/// so that one command never makes us hold much more than one message.
pub const COMMAND_SLACK_OCTETS: usize = 1024 * 1024;

/// Runs APPEND with one message or several (MULTIAPPEND, RFC 3502), each a
/// literal or a CATENATE of parts (RFC 4469). All or nothing: every message
/// is built and checked before any is written, and all are written under one
/// lock with one fsync (mailstore::append), so a failure anywhere leaves the
/// mailbox as it was (RFC 3502 §6.3.11: "If the server returns a NO ...
/// none of the messages are appended"). `max_message_size` is the
/// APPENDLIMIT (RFC 7889); `selected` serves URLs into the selected mailbox.
/// It writes no untagged response itself.
pub fn append(
    ctx: &Context,
    selected: Option<&Selected>,
    mailbox: &[u8],
    messages: &[AppendMessage],
    max_message_size: u64,
) -> CommandResult {
    let target = resolve(ctx, mailbox)?;
    let limit = usize::try_from(max_message_size)
        .unwrap_or(usize::MAX)
        .min(MAX_APPEND_OCTETS);
    let catenates = messages
        .iter()
        .any(|m| matches!(m.data, AppendData::Catenate(_)));
    // A missing destination is TRYCREATE even when a URL is bad too (the
    // client's next step is CREATE either way; imaptest expects this order).
    if catenates && !target.is_inbox && !target.path.exists() {
        return Err(CommandError::no_code(
            Code::TryCreate,
            "Mailbox does not exist",
        ));
    }
    let mut sources = catenate::Sources::new(ctx, selected);
    let mut built: Vec<Cow<'_, [u8]>> = Vec::with_capacity(messages.len());
    // Memory: the messages of one command together are bounded as the
    // framer bounds its literals (Options::limits), URL data included.
    let mut room = limit.saturating_add(COMMAND_SLACK_OCTETS);
    for m in messages {
        let bytes = match &m.data {
            AppendData::Literal(bytes) => Cow::Borrowed(bytes.as_slice()),
            AppendData::Catenate(parts) => Cow::Owned(sources.assemble(parts, limit, room)?),
        };
        room = room.checked_sub(bytes.len()).ok_or_else(|| {
            CommandError::no_code(
                Code::TooBig,
                "Messages together larger than the APPENDLIMIT",
            )
        })?;
        built.push(bytes);
    }
    drop(sources);
    let mut new = Vec::with_capacity(messages.len());
    let mut total = 0usize;
    for (i, (m, bytes)) in messages.iter().zip(&built).enumerate() {
        let (flags, keywords) = split_flags(&m.flags)?;
        let which = ordinal(i, messages.len());
        if bytes.is_empty() {
            return Err(CommandError::no(format!("Empty message{which}")));
        }
        total = total.saturating_add(bytes.len());
        if bytes.len() > limit {
            return Err(CommandError::no_code(
                Code::TooBig,
                format!("Message{which} too large"),
            ));
        }
        new.push(NewMessage {
            bytes,
            flags,
            keywords,
            internal_date: m.date,
        });
    }
    let appended = append_to(&target, &new, ctx)?;
    log::info!(
        "append mailbox={} messages={} bytes={total} uid={}",
        target.name,
        new.len(),
        uid_set(&appended.uids)
    );
    Ok(uid_completion(&appended, "APPEND"))
}

/// " 2" for the second of several messages (in NO texts); "" when alone.
fn ordinal(i: usize, count: usize) -> String {
    if count > 1 {
        format!(" {}", i + 1)
    } else {
        String::new()
    }
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
    use crate::types::{Flag, Uid, UidValidity};

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
        let one = |flags: Vec<Flag>, bytes: &[u8]| AppendMessage {
            flags,
            date: None,
            data: AppendData::Literal(bytes.to_vec()),
        };
        let append = |ctx: &Context, name: &[u8], messages: &[AppendMessage]| {
            append(ctx, None, name, messages, MAX_APPEND_OCTETS as u64)
        };
        let e = append(&ctx, b"../x", &[one(vec![], b"x")]).unwrap_err();
        assert!(matches!(
            e,
            CommandError::No {
                code: Some(Code::Cannot),
                ..
            }
        ));
        let e = append(
            &ctx,
            b"INBOX",
            &[one(vec![Flag::Extension("X".into())], b"x")],
        );
        assert!(matches!(e, Err(CommandError::Bad { .. })));
        let e = append(&ctx, b"INBOX", &[one(vec![], b"")]);
        assert!(matches!(e, Err(CommandError::No { .. })));
        // MULTIAPPEND: a bad second message refuses the whole command before
        // the (missing) file is looked at, which would say TRYCREATE/NO otherwise.
        let e = append(&ctx, b"INBOX", &[one(vec![], b"x"), one(vec![], b"")]);
        assert!(
            matches!(&e, Err(CommandError::No { code: None, text }) if text == "Empty message 2"),
            "{e:?}"
        );
        let e = append(
            &ctx,
            b"INBOX",
            &[
                one(vec![], b"x"),
                one(vec![Flag::Extension("Y".into())], b"y"),
            ],
        );
        assert!(matches!(e, Err(CommandError::Bad { .. })));
        let big = vec![b'x'; MAX_APPEND_OCTETS + 1];
        let e = append(&ctx, b"INBOX", &[one(vec![], b"x"), one(vec![], &big)]);
        assert!(matches!(
            e,
            Err(CommandError::No {
                code: Some(Code::TooBig),
                ..
            })
        ));
    }

    /// CATENATE (RFC 4469) against real files: absolute URLs of this user
    /// and host, a URL into a mailbox that is not selected (opened
    /// read-only), a partial past the end (empty), the APPENDLIMIT counted
    /// on the built message, and BADURL for another user or server.
    #[test]
    fn catenate_resolves_urls_of_this_user_only() {
        use crate::mailstore::{Access, Mailbox};
        use crate::parser::ast::CatPart;
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("inbox");
        std::fs::copy(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mbox/uw-session.mbox"),
            &inbox,
        )
        .unwrap();
        let mail_dir = dir.path().join("mail");
        std::fs::create_dir(&mail_dir).unwrap();
        std::fs::write(mail_dir.join("Drafts"), b"").unwrap();
        let before = std::fs::read(&inbox).unwrap();
        let ctx = Context {
            home: dir.path().into(),
            user: "alice".into(),
            host: "Mail.Example.org".into(),
            inbox: inbox.clone(),
            mail_dir: mail_dir.clone(),
            locking: Default::default(),
            special_use: Default::default(),
        };
        let cat = |parts: Vec<CatPart>| AppendMessage {
            flags: vec![],
            date: None,
            data: AppendData::Catenate(parts),
        };
        let url = |u: &str| CatPart::Url(u.as_bytes().to_vec());
        let done = append(
            &ctx,
            None,
            b"Drafts",
            &[cat(vec![
                url("imap://alice@mail.example.org/INBOX/;UID=31/;SECTION=HEADER.FIELDS%20(SUBJECT)"),
                CatPart::Text(b"x".to_vec()),
                url("imap://mail.example.org:143/INBOX;UIDVALIDITY=1795932911/;UID=31/;PARTIAL=99999"),
                url("/INBOX/;UID=31/;SECTION=1/;PARTIAL=0.5"),
            ])],
            1000,
        )
        .unwrap();
        assert_eq!(done.code.unwrap().to_string().split(' ').nth(2), Some("1"));
        let drafts =
            Mailbox::open(&mail_dir.join("Drafts"), Access::ReadOnly, &ctx.locking).unwrap();
        let view = drafts.message(0).unwrap();
        assert_eq!(
            view.visible_header().concat(),
            b"Subject: appended by the session\n\n"
        );
        assert_eq!(view.body(), b"x>From\n");
        // The source was only read.
        assert_eq!(std::fs::read(&inbox).unwrap(), before);
        let drafts_before = std::fs::read(mail_dir.join("Drafts")).unwrap();
        for (bad, limit) in [
            ("imap://bob@mail.example.org/INBOX/;UID=31", 1000),
            ("imap://other.example.org/INBOX/;UID=31", 1000),
            ("/Nope/;UID=1", 1000),
            ("/../x/;UID=1", 1000),
        ] {
            let e = append(&ctx, None, b"Drafts", &[cat(vec![url(bad)])], limit).unwrap_err();
            assert!(
                matches!(&e, CommandError::No { code: Some(Code::BadUrl(u)), .. } if u == bad),
                "{bad}: {e:?}"
            );
        }
        // The whole message is some 500 octets: over a 100-octet limit.
        let e = append(
            &ctx,
            None,
            b"Drafts",
            &[cat(vec![url("/INBOX/;UID=31")])],
            100,
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                CommandError::No {
                    code: Some(Code::TooBig),
                    ..
                }
            ),
            "{e:?}"
        );
        // Together, one command's messages may exceed the limit by the
        // framer's 1 MiB only (memory), CATENATE data included.
        let big = AppendMessage {
            flags: vec![],
            date: None,
            data: AppendData::Literal(vec![b'x'; 600 * 1024]),
        };
        let too_big = |e: CommandError| {
            matches!(
                e,
                CommandError::No {
                    code: Some(Code::TooBig),
                    ..
                }
            )
        };
        let four = [big.clone(), big.clone(), big.clone(), big.clone()];
        assert!(too_big(
            append(&ctx, None, b"Drafts", &four, 1024 * 1024).unwrap_err()
        ));
        let text = cat(vec![CatPart::Text(vec![b'y'; 600 * 1024])]);
        let three = [big.clone(), big, text];
        assert!(too_big(
            append(&ctx, None, b"Drafts", &three, 700 * 1024).unwrap_err()
        ));
        assert_eq!(
            std::fs::read(mail_dir.join("Drafts")).unwrap(),
            drafts_before
        );
    }
}
