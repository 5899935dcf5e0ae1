//! RENAME INBOX, UW's pseudo-message, and a mailbox's stored UIDVALIDITY.
//!
//! RENAME INBOX (RFC 3501 §6.3.5) moves every message to a new mailbox and
//! leaves INBOX empty. The spool file cannot be renamed: the MTA and other
//! programs know it by name and some hold it open, and it must keep its
//! inode, owner and mode. So, under INBOX's write locks (dotlock, fcntl,
//! flock: deliveries wait), the messages are copied into the new mailbox,
//! which is written complete under a temporary name, fsynced and linked into
//! place, and only then is INBOX truncated to zero and fsynced. A crash at
//! any point leaves the messages in INBOX, in both, or in the new mailbox:
//! duplicates are possible, losses are not.
//!
//! The copy keeps each message's From_ line, flags (`Status`, `X-Status`)
//! and keywords (`X-Keywords`, declared again in the new pseudo-message), and
//! drops what tied it to INBOX's numbering: `X-UID`, `X-IMAP`, `X-IMAPbase`
//! and INBOX's own pseudo-message. The new mailbox has a fresh UIDVALIDITY,
//! so its messages are numbered 1..n.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use chrono::{DateTime, TimeZone};
use nix::libc;

use super::{FolderError, create_mailbox, create_parents, install_new_file, issue_uid_validity};
use crate::mailstore::headers::{self, UwHeader};
use crate::mailstore::index;
use crate::mailstore::lock::{self, LockMode};
use crate::mailstore::mmap::{MailData, Source};
use crate::mailstore::scan::Spans;
use crate::mailstore::{LockSettings, StoreError};

/// UW's fixed body text of the pseudo-message (mbox-format.md §7.3); other
/// tools recognise it, so it is reproduced byte for byte.
const PSEUDO_TEXT: &str = "This text is part of the internal format of your mail folder, and is not\n\
a real message.  It is created automatically by the mail system software.\n\
If deleted, important folder data will be lost, and it will be re-created\n\
with the data reset to initial values.";

/// How much of a file's start is read to find its stored UIDVALIDITY: the
/// first message's header (UW's pseudo-message is about 500 bytes).
const META_OCTETS: usize = 64 * 1024;

/// UW's pseudo-message as its CREATE writes it (c-client `unix_create`; the
/// `Date:` in `rfc822_fixed_date`'s form, as in fixtures/mbox/uw-archive.mbox),
/// with `last_uid` and the declared `keywords` on the `X-IMAP` line.
pub fn pseudo_message<Tz: TimeZone>(
    now: &DateTime<Tz>,
    host: &str,
    uid_validity: u32,
    last_uid: u32,
    keywords: &[String],
) -> Vec<u8>
where
    Tz::Offset: std::fmt::Display,
{
    let mut imap = format!("{uid_validity:010} {last_uid:010}");
    for k in keywords {
        imap.push(' ');
        imap.push_str(k);
    }
    format!(
        "From MAILER-DAEMON {}\n\
         Date: {}\n\
         From: Mail System Internal Data <MAILER-DAEMON@{host}>\n\
         Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n\
         X-IMAP: {imap}\n\
         Status: RO\n\
         \n\
         {PSEUDO_TEXT}\n\
         \n",
        now.format("%a %b %e %H:%M:%S %Y"),
        now.format("%d %b %Y %H:%M:%S %z"),
    )
    .into_bytes()
}

/// RENAME INBOX to the new mailbox file `to` (see the module doc). Returns
/// the new mailbox's UIDVALIDITY. A missing INBOX gives an empty new mailbox.
pub fn rename_inbox(
    mail_dir: &Path,
    inbox: &Path,
    to: &Path,
    host: &str,
    locking: &LockSettings,
) -> Result<u32, FolderError> {
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(FolderError::Exists {
            path: to.to_owned(),
        });
    }
    create_parents(to)?;
    let file = match OpenOptions::new().read(true).write(true).open(inbox) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return create_mailbox(mail_dir, to, host);
        }
        Err(e) => return Err(FolderError::io(inbox)(e)),
    };
    if !file.metadata().map_err(FolderError::io(inbox))?.is_file() {
        return Err(FolderError::NotMailbox {
            path: inbox.to_owned(),
            reason: "not a regular file".into(),
        });
    }
    let locks = lock::acquire(inbox, &file, LockMode::Write, locking)?;
    let len = file.metadata().map_err(FolderError::io(inbox))?.len();
    let data = MailData::load(&file, len, Source::Map).map_err(FolderError::io(inbox))?;
    let validity = issue_uid_validity(mail_dir)?;
    let now = chrono::Local::now();
    let mut moved = 0usize;
    install_new_file(to, |out| {
        let mut out = BufWriter::with_capacity(256 * 1024, out);
        moved = copy_messages(data.bytes(), &mut out, |keywords| {
            pseudo_message(&now, host, validity, 0, keywords)
        })
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))??;
        out.flush()
    })
    .map_err(|e| match e {
        FolderError::Io { source, .. } if source.kind() == io::ErrorKind::InvalidData => {
            FolderError::NotMailbox {
                path: inbox.to_owned(),
                reason: source.to_string(),
            }
        }
        other => other,
    })?;
    // The copy is safely on disk: now, and only now, empty INBOX in place.
    drop(data);
    let emptied = file.set_len(0).and_then(|()| file.sync_all());
    drop(locks);
    if let Err(e) = emptied {
        log::error!(
            "{}: {moved} messages copied to {} but INBOX could not be emptied: {e}",
            inbox.display(),
            to.display()
        );
        return Err(FolderError::io(inbox)(e));
    }
    log::info!(
        "renamed INBOX: {moved} messages moved to {} (UIDVALIDITY {validity})",
        to.display()
    );
    Ok(validity)
}

/// Writes the pseudo-message (built by `pseudo` from the declared keywords)
/// and then every real message of the mbox `data` to `out`, without the UW
/// headers that tie a message to its old mailbox's numbering. Returns the
/// number of messages written; `Err(NotMbox)` if `data` is not an mbox.
pub fn copy_messages(
    data: &[u8],
    out: &mut impl Write,
    pseudo: impl FnOnce(&[String]) -> Vec<u8>,
) -> Result<io::Result<usize>, crate::mailstore::scan::NotMbox> {
    let mut spans = Spans::new(data)?.peekable();
    let first = spans
        .peek()
        .map(|s| data.get(s.text.clone()).unwrap_or(&[]));
    let meta = first.map(index::first_message_meta).unwrap_or_default();
    if meta.pseudo_message {
        spans.next();
    }
    let copy = || -> io::Result<usize> {
        out.write_all(&pseudo(&meta.keywords))?;
        let mut count = 0;
        for span in spans {
            let text = data.get(span.text.clone()).unwrap_or(&[]);
            let header_length = headers::header_length(text);
            let header = text.get(..header_length).unwrap_or(text);
            out.write_all(span.from_line_bytes(data))?;
            let mut kept_from = 0;
            for field in headers::uw_fields(header) {
                if matches!(
                    field.header,
                    UwHeader::XUid | UwHeader::XImap | UwHeader::XImapBase
                ) {
                    out.write_all(header.get(kept_from..field.span.start).unwrap_or(&[]))?;
                    kept_from = field.span.end;
                }
            }
            out.write_all(header.get(kept_from..).unwrap_or(&[]))?;
            let body = text.get(header_length..).unwrap_or(&[]);
            out.write_all(body)?;
            // Every message ends with a line end and the separating blank line.
            let ends_in_lf = if body.is_empty() {
                header.ends_with(b"\n") || header.is_empty()
            } else {
                body.ends_with(b"\n")
            };
            if !ends_in_lf {
                out.write_all(b"\n")?;
            }
            out.write_all(b"\n")?;
            count += 1;
        }
        Ok(count)
    };
    Ok(copy())
}

/// The UIDVALIDITY stored in the file (message 1's `X-IMAP` or `X-IMAPbase`),
/// read with pread from its start.
pub(super) fn declared_uid_validity(file: &File) -> Option<u32> {
    let head = read_head(file).ok()?;
    uid_validity_field(&head).map(|(_, v)| v)
}

/// Replaces the UIDVALIDITY stored in the mailbox file `path` by `validity`,
/// in place, under the write locks, keeping the file's times (so its
/// `\Marked` state). Possible only when the new number fits the digits of the
/// old one, zero-padded (always, for values written since 2001); otherwise,
/// and when the file stores none (then every open makes a new one anyway),
/// nothing is written and `false` returned.
pub fn patch_uid_validity(
    path: &Path,
    validity: u32,
    locking: &LockSettings,
) -> Result<bool, FolderError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOATIME)
        .open(path)
        .or_else(|e| match e.raw_os_error() {
            Some(libc::EPERM) => OpenOptions::new().read(true).write(true).open(path),
            _ => Err(e),
        })
        .map_err(FolderError::io(path))?;
    let _locks = lock::acquire(path, &file, LockMode::Write, locking)?;
    let head = read_head(&file).map_err(FolderError::io(path))?;
    let Some((digits, _old)) = uid_validity_field(&head) else {
        return Ok(false);
    };
    let width = digits.len();
    let new = format!("{validity:0width$}");
    if new.len() != width {
        return Ok(false);
    }
    let meta = file.metadata().map_err(FolderError::io(path))?;
    let times = std::fs::FileTimes::new()
        .set_accessed(meta.accessed().map_err(FolderError::io(path))?)
        .set_modified(meta.modified().map_err(FolderError::io(path))?);
    file.write_all_at(new.as_bytes(), digits.start as u64)
        .and_then(|()| file.sync_data())
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOSPC | libc::EDQUOT) => FolderError::Store(StoreError::NoSpace {
                path: path.to_owned(),
                source: e,
            }),
            _ => FolderError::io(path)(e),
        })?;
    if let Err(e) = file.set_times(times) {
        log::debug!("{}: times not restored: {e}", path.display());
    }
    Ok(true)
}

/// The first [`META_OCTETS`] bytes of the file.
fn read_head(file: &File) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; META_OCTETS];
    let mut filled = 0;
    while filled < head.len() {
        let Some(rest) = head.get_mut(filled..) else {
            break;
        };
        match file.read_at(rest, filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(filled);
    Ok(head)
}

/// Where the UIDVALIDITY digits of message 1's first `X-IMAP`/`X-IMAPbase`
/// field are in `data` (the file's start), and their value, by the rules of
/// `index::first_message_meta`: exact spelling, first occurrence only.
fn uid_validity_field(data: &[u8]) -> Option<(std::ops::Range<usize>, u32)> {
    let span = Spans::new(data).ok()?.next()?;
    let text = data.get(span.text.clone())?;
    let header = text.get(..headers::header_length(text))?;
    let field = headers::uw_fields(header)
        .find(|f| f.exact_case && matches!(f.header, UwHeader::XImap | UwHeader::XImapBase))?;
    let meta = headers::mailbox_meta(field.value)?;
    let name_len = match field.header {
        UwHeader::XImap => "X-IMAP".len(),
        _ => "X-IMAPbase".len(),
    };
    let value_start = field.span.start + name_len + 1;
    let value = header.get(value_start..field.span.end)?;
    let blanks = value.len() - value.trim_ascii_start().len();
    let digits = value
        .get(blanks..)?
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let start = span.text.start + value_start + blanks;
    Some((start..start + digits, meta.uid_validity))
}

#[cfg(test)]
mod tests {
    use chrono::{FixedOffset, TimeZone};

    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/mbox")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn pseudo_message_has_uws_bytes() {
        // uw-archive.mbox's pseudo-message, as UW's rewrite left it, minus the
        // Message-ID that only rewrites add, and with CREATE's last UID 0.
        let when = FixedOffset::east_opt(0)
            .unwrap()
            .with_ymd_and_hms(2026, 11, 29, 6, 15, 11)
            .unwrap();
        let ours = pseudo_message(&when, "vm", 1_795_932_911, 0, &[]);
        let uw = fixture("uw-archive.mbox");
        let expected = String::from_utf8(
            uw[..uw.windows(6).position(|w| w == b"\nFrom ").unwrap() + 1].to_vec(),
        )
        .unwrap()
        .replace("Message-ID: <1795932911@vm>\n", "")
        .replace(
            "X-IMAP: 1795932911 0000000003",
            "X-IMAP: 1795932911 0000000000",
        );
        assert_eq!(String::from_utf8(ours).unwrap(), expected);
        // A day below 10 is space-padded in the From_ line, zero-padded in Date:.
        let when = FixedOffset::west_opt(5 * 3600)
            .unwrap()
            .with_ymd_and_hms(2027, 1, 3, 9, 5, 1)
            .unwrap();
        let text = String::from_utf8(pseudo_message(&when, "h", 7, 3, &["Work".into()])).unwrap();
        assert!(
            text.starts_with(
                "From MAILER-DAEMON Sun Jan  3 09:05:01 2027\nDate: 03 Jan 2027 09:05:01 -0500\n"
            ),
            "{text}"
        );
        assert!(text.contains("\nX-IMAP: 0000000007 0000000003 Work\nStatus: RO\n\n"));
    }

    #[test]
    fn copied_messages_lose_only_their_numbering() {
        let mut out = Vec::new();
        let data = fixture("uw-session.mbox");
        let when = FixedOffset::east_opt(0)
            .unwrap()
            .with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
            .unwrap();
        let n = copy_messages(&data, &mut out, |k| pseudo_message(&when, "h", 9, 0, k))
            .unwrap()
            .unwrap();
        assert_eq!(n, 30);
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("\nX-IMAP: 0000000009 0000000000 Work $Forwarded\n"));
        assert!(!text.contains("\nX-UID:") && !text.contains("\nX-IMAPbase:"));
        assert_eq!(
            text.matches("\nStatus: ").count(),
            30 + 1,
            "30 messages and the pseudo-message"
        );
        assert!(text.contains("\nX-Keywords: Work $Forwarded"));
        // Reads back as 30 messages with the same sizes and flags.
        let spans = crate::mailstore::scan::scan(&out).unwrap();
        assert_eq!(spans.len(), 31);
        let original = crate::mailstore::scan::scan(&data).unwrap();
        for (a, b) in original.iter().zip(&spans[1..]) {
            assert_eq!(a.from_line_bytes(&data), b.from_line_bytes(&out));
        }
        // A pseudo-message in the source is not copied; a last message without
        // a final line end gets one and the separator.
        let mut out = Vec::new();
        let src = [
            fixture("uw-expunged-all.mbox"),
            b"From a Wed Dec  2 05:53:22 1992\nX-UID: 9\n\nno newline".to_vec(),
        ]
        .concat();
        let n = copy_messages(&src, &mut out, |_| Vec::new())
            .unwrap()
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(out, b"From a Wed Dec  2 05:53:22 1992\n\nno newline\n\n");
        assert!(copy_messages(b"junk\n", &mut Vec::new(), |_| Vec::new()).is_err());
    }

    #[test]
    fn uid_validity_is_found_and_patched_in_place() {
        for (name, old) in [
            ("uw-archive.mbox", 1_795_932_911),
            ("uw-session.mbox", 1_795_932_911),
        ] {
            let data = fixture(name);
            let (range, v) = uid_validity_field(&data).unwrap();
            assert_eq!(v, old);
            assert_eq!(&data[range], b"1795932911");
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("box");
            std::fs::write(&path, &data).unwrap();
            let mtime =
                std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
            File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(mtime)
                .unwrap();
            assert!(patch_uid_validity(&path, 1_800_000_001, &LockSettings::default()).unwrap());
            let after = std::fs::read(&path).unwrap();
            assert_eq!(after.len(), data.len());
            let (_, v) = uid_validity_field(&after).unwrap();
            assert_eq!(v, 1_800_000_001);
            assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        }
        // No stored UIDVALIDITY, or one too narrow: left alone.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box");
        std::fs::write(&path, fixture("spool-plain.mbox")).unwrap();
        assert!(!patch_uid_validity(&path, 1_800_000_001, &LockSettings::default()).unwrap());
        std::fs::write(
            &path,
            b"From a Wed Dec  2 05:53:22 1992\nX-IMAPbase: 77 3\n\nx\n",
        )
        .unwrap();
        assert!(!patch_uid_validity(&path, 1_800_000_001, &LockSettings::default()).unwrap());
        assert!(patch_uid_validity(&path, 78, &LockSettings::default()).unwrap());
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"From a Wed Dec  2 05:53:22 1992\nX-IMAPbase: 78 3\n\nx\n"
        );
        // A forged lower-case header is not the stored value.
        assert_eq!(
            uid_validity_field(b"From a Wed Dec  2 05:53:22 1992\nx-imap: 5 6\n\n"),
            None
        );
    }
}
