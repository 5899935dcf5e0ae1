//! SELECT and EXAMINE (RFC 3501 §6.3.1, §6.3.2), and turning a client's
//! mailbox name into a file path.
//!
//! Names: `INBOX` (any case) is the spool file; every other name is a path
//! relative to the mail directory, levels separated by `/`, spelt in modified
//! UTF-7 (RFC 3501 §5.1.3), which is also the file name on disk (as UW imapd
//! and Dovecot store it). The hard part is confinement: a name must never
//! reach outside the user's INBOX and mail directory. [`check_name`] refuses,
//! before any file is touched, everything that could: absolute paths, `~user`,
//! `..`, empty levels, NUL and control characters, 8-bit bytes, and names that
//! are not canonical modified UTF-7 (two spellings of one name would be two
//! files). Dotfiles and `*.lock` names are reserved: they are our state, UW's
//! and Dovecot's files, and other mailboxes' dotlocks. Then
//! [`mailstore::folders::escape`] refuses names that exist and lead outside
//! through a symbolic link. Every refusal is a NO with the reason, and a
//! warning in the log.

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::{CommandError, Completion, Context, Selected};
use crate::mailstore::{self, Access, Mailbox, StoreError};
use crate::names;
use crate::response::{Code, ResponseWriter, Status};

/// Longest name accepted, in octets (file systems allow 4096 for the whole
/// path, 255 per level).
const MAX_NAME_OCTETS: usize = 1024;
/// Longest level of a name (NAME_MAX).
const MAX_LEVEL_OCTETS: usize = 255;

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
        CommandError::no_code(Code::Cannot, format!("Invalid mailbox name: {why}"))
    };
    check_name(name).map_err(refuse)?;
    let path = ctx.mail_dir.join(OsStr::from_bytes(name));
    if let Some(why) = mailstore::folders::escape(&ctx.mail_dir, &ctx.inbox, &path) {
        return Err(refuse(why));
    }
    // check_name accepted only printable ASCII.
    let text = std::str::from_utf8(name).map_err(|_| refuse("not 7-bit"))?;
    Ok(Resolved {
        name: text.to_owned(),
        path,
        is_inbox: false,
    })
}

/// Why `name` cannot name a mailbox under the mail directory, if it cannot.
/// Only the syntax is checked here; [`resolve`] also checks symbolic links.
pub fn check_name(name: &[u8]) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty name");
    }
    if name.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err("control characters (NUL, CR, LF, ...) are not allowed");
    }
    if name.iter().any(|&b| b >= 0x80) {
        return Err("8-bit characters are not allowed (use modified UTF-7)");
    }
    if name.len() > MAX_NAME_OCTETS {
        return Err("name too long");
    }
    if name
        .get(..6)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"INBOX/"))
    {
        return Err("INBOX cannot have inferior mailboxes");
    }
    match name.first() {
        Some(b'/') => return Err("absolute paths are not allowed"),
        Some(b'~') => return Err("other users' mailboxes (~user) are not accessible"),
        Some(b'#') => return Err("only the personal namespace \"\" exists"),
        _ => {}
    }
    for level in name.split(|&b| b == b'/') {
        match level {
            [] => return Err("empty hierarchy level (// or a trailing /)"),
            b"." | b".." => return Err(". and .. are not allowed"),
            [b'.', ..] => return Err("names starting with a dot are reserved"),
            _ if level.ends_with(b".lock") => return Err("names ending in .lock are reserved"),
            _ if level.len() > MAX_LEVEL_OCTETS => return Err("hierarchy level too long"),
            _ => {}
        }
    }
    if names::decode(name).is_err() {
        return Err("not valid modified UTF-7 (RFC 3501 section 5.1.3)");
    }
    Ok(())
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
    // Mailbox::open would block on a FIFO and fail obscurely on a socket.
    mailstore::folders::check_regular_file(&target.path)?;
    let mailbox = match Mailbox::open(&target.path, wanted, &ctx.locking) {
        Ok(m) => m,
        // A spool INBOX that has never received mail is an empty mailbox.
        Err(StoreError::Missing { .. }) if target.is_inbox => Mailbox::empty(&target.path),
        Err(e) => return Err(e.into()),
    };
    let mut mailbox = mailbox;
    let mut read_only = mode == Mode::Examine || mailbox.access() == Access::ReadOnly;
    // UW-family programs expect one read-write session per mailbox; ours share
    // it, but must show UW imapd / alpine that it is in use, and give it up
    // when one of them holds it exclusively (kiss of death, locking.md §4.1).
    let mut session_lock = None;
    if !read_only && mailbox.file_id().is_some() {
        let attempt = mailstore::SessionLock::acquire(&mailbox);
        for notice in &attempt.notices {
            out.untagged_status(Status::No, None, notice)?;
        }
        if attempt.read_only {
            mailbox.set_read_only();
            read_only = true;
        }
        session_lock = attempt.lock;
    }

    out.untagged(&format!("{} EXISTS", mailbox.len()))?;
    let recent = mailbox.recent_count();
    // RFC 9051 §6.3.2: IMAP4rev2 has no RECENT and no UNSEEN code, and the
    // server MUST send a LIST response with the mailbox's name instead.
    let rev2 = out.is_rev2();
    if !rev2 {
        out.untagged(&format!("{recent} RECENT"))?;
    }
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
    if rev2 {
        // Its attributes as LIST gives them; \Marked is left out, as
        // selecting is what reads it (RFC 9051 §7.3.1 allows any subset).
        // A mailbox file has no children (they would need a directory of
        // the same name); INBOX has no inferiors at all.
        let mut attrs = vec!["\\HasNoChildren"];
        if target.is_inbox {
            attrs.insert(0, "\\NoInferiors");
        }
        let uses = ctx.special_use.of(target.name.as_bytes());
        attrs.extend(uses.iter().map(|u| u.attribute()));
        out.raw(format!("* LIST ({}) \"/\" ", attrs.join(" ")).as_bytes())?;
        out.mailbox(target.name.as_bytes())?;
        out.end_line()?;
    } else if let Some(first) = mailbox.first_unseen() {
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
        session_lock,
        recent_reported: recent,
        mailbox,
        read_only,
        cache: Default::default(),
        sort_keys: Default::default(),
        saved_result: Vec::new(),
        contexts: Default::default(),
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
            mail_dir: "/nonexistent/home/u/mail".into(),
            home: "/nonexistent/home/u".into(),
            locking: Default::default(),
            special_use: Default::default(),
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
            PathBuf::from("/nonexistent/home/u/mail/Work/2024")
        );
        assert_eq!(resolve(&ctx(), b"&ZeVnLIqe-").unwrap().name, "&ZeVnLIqe-");
        let refused: &[(&[u8], &str)] = &[
            (b"../etc/passwd", ". and .."),
            (b"/etc/passwd", "absolute"),
            (b"~root/x", "~user"),
            (b"#news.x", "namespace"),
            (b"a/../../b", ". and .."),
            (b"a\0b", "control"),
            (b"x\n", "control"),
            (b"x\x7f", "control"),
            (b"", "empty"),
            (b"a//b", "empty hierarchy"),
            (b"a/", "empty hierarchy"),
            (b"INBOX/x", "INBOX cannot"),
            (b"inbox/x", "INBOX cannot"),
            (b".mailboxlist", "dot"),
            (b"a/.hidden", "dot"),
            (b"a.lock", ".lock"),
            (b"caf\xc3\xa9", "8-bit"),
            (b"a&b", "modified UTF-7"),
            (b"&AGE-", "modified UTF-7"),
            (b"&ZeVnLIqe", "modified UTF-7"),
        ];
        for (bad, why) in refused {
            let err = resolve(&ctx(), bad).unwrap_err();
            let CommandError::No { code, text } = err else {
                panic!("{bad:?}")
            };
            assert_eq!(code, Some(Code::Cannot));
            assert!(text.contains(why), "{bad:?}: {text}");
        }
        let long = vec![b'a'; 256];
        assert!(check_name(&long).is_err());
        assert!(check_name(&vec![b'a'; 255]).is_ok());
        assert!(check_name(&[b"a/".repeat(600), b"a".to_vec()].concat()).is_err());
    }
}
