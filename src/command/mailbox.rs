//! SELECT and EXAMINE (RFC 3501 §6.3.1, §6.3.2), and turning a client's
//! mailbox name into a file path.
//!
//! Names: `INBOX` (any case) is the spool file; every other name is a file
//! under the mail directory. A name may never reach outside that directory:
//! absolute names, `~user` names, `..` components and control characters are
//! refused here, before any file is touched. (The full folder tree, symlink
//! checks and modified UTF-7 validation come with LIST/CREATE.)

use std::io::Write;
use std::path::PathBuf;

use super::{CommandError, Completion, Context, Selected};
use crate::mailstore::{Access, Mailbox, StoreError};
use crate::response::{Code, ResponseWriter, Status};

/// SELECT (read-write) or EXAMINE (read-only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Select,
    Examine,
}

/// A mailbox name resolved to its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The name as clients see it (`INBOX` canonical).
    pub name: String,
    pub path: PathBuf,
    pub is_inbox: bool,
}

/// Maps a client mailbox name to a path, refusing names that could escape.
pub fn resolve(ctx: &Context, name: &[u8]) -> Result<Resolved, CommandError> {
    if name.eq_ignore_ascii_case(b"INBOX") {
        return Ok(Resolved {
            name: "INBOX".into(),
            path: ctx.inbox.clone(),
            is_inbox: true,
        });
    }
    let refuse = |why: &str| {
        log::warn!(
            "refused mailbox name {:?}: {why}",
            String::from_utf8_lossy(name)
        );
        Err(CommandError::no_code(
            Code::Cannot,
            format!("Invalid mailbox name: {why}"),
        ))
    };
    let Ok(text) = std::str::from_utf8(name) else {
        return refuse("not 7-bit (use modified UTF-7)");
    };
    if text.is_empty() {
        return refuse("empty");
    }
    if text.bytes().any(|b| b < 0x20 || b == 0x7f || b >= 0x80) {
        return refuse("control or 8-bit characters");
    }
    if text.starts_with('/') || text.starts_with('~') || text.starts_with('#') {
        return refuse("outside your mail directory");
    }
    if text
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return refuse("empty, . or .. component");
    }
    Ok(Resolved {
        name: text.to_owned(),
        path: ctx.mail_dir.join(text),
        is_inbox: false,
    })
}

/// Opens the mailbox and writes the SELECT/EXAMINE untagged responses, in the
/// order UW imapd sends them (fixtures/reference/uw-session.transcript).
pub fn select<W: Write>(
    ctx: &Context,
    name: &[u8],
    mode: Mode,
    out: &mut ResponseWriter<W>,
) -> Result<(Selected, Completion), CommandError> {
    let target = resolve(ctx, name)?;
    let wanted = match mode {
        Mode::Select => Access::ReadWrite,
        Mode::Examine => Access::ReadOnly,
    };
    let mailbox = match Mailbox::open(&target.path, wanted, &ctx.locking) {
        Ok(m) => m,
        // A spool INBOX that has never received mail is an empty mailbox.
        Err(StoreError::Missing { .. }) if target.is_inbox => Mailbox::empty(&target.path),
        Err(e) => return Err(e.into()),
    };
    let read_only = mode == Mode::Examine || mailbox.access() == Access::ReadOnly;

    out.untagged(&format!("{} EXISTS", mailbox.len()))?;
    let recent = mailbox.recent_count();
    out.untagged(&format!("{recent} RECENT"))?;
    out.untagged_status(
        Status::Ok,
        Some(&Code::UidValidity(mailbox.uid_validity().get())),
        "UIDs valid",
    )?;
    out.untagged_status(
        Status::Ok,
        Some(&Code::UidNext(mailbox.uid_next().get())),
        "Predicted next UID",
    )?;
    // PERMANENTFLAGS is empty when read-only, and offers `\*` only while
    // keywords may still be declared (updates::flag_lists).
    super::updates::write_flag_lists(out, mailbox.keywords(), read_only)?;
    if let Some(first) = mailbox.first_unseen() {
        out.untagged_status(
            Status::Ok,
            Some(&Code::Unseen(first as u32 + 1)),
            "First unseen message",
        )?;
    }
    let (code, verb) = if read_only {
        (Code::ReadOnly, "EXAMINE")
    } else {
        (Code::ReadWrite, "SELECT")
    };
    let verb = if mode == Mode::Select { "SELECT" } else { verb };
    let selected = Selected {
        name: target.name,
        recent_reported: recent,
        mailbox,
        read_only,
        cache: Default::default(),
    };
    Ok((
        selected,
        Completion::with_code(code, format!("{verb} completed")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            user: "u".into(),
            host: "h".into(),
            inbox: "/var/mail/u".into(),
            mail_dir: "/home/u/mail".into(),
            locking: Default::default(),
        }
    }

    #[test]
    fn inbox_any_case_is_the_spool_file() {
        let r = resolve(&ctx(), b"iNbOx").unwrap();
        assert_eq!(r.path, PathBuf::from("/var/mail/u"));
        assert_eq!(r.name, "INBOX");
    }

    #[test]
    fn names_stay_inside_the_mail_dir() {
        assert_eq!(
            resolve(&ctx(), b"Work/2024").unwrap().path,
            PathBuf::from("/home/u/mail/Work/2024")
        );
        for bad in [
            &b"../etc/passwd"[..],
            b"/etc/passwd",
            b"~root/x",
            b"a/../../b",
            b"a\0b",
            b"",
            b"a//b",
            b"x\n",
        ] {
            assert!(resolve(&ctx(), bad).is_err(), "{bad:?}");
        }
    }
}
