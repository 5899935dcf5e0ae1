//! CATENATE (RFC 4469): a message built from TEXT literals and IMAP URLs
//! (RFC 5092) naming messages, or parts of messages, in this user's own
//! mailboxes on this server.
//!
//! The hard parts:
//! - **What a URL's data is.** Exactly what `FETCH BODY.PEEK[section]<partial>`
//!   would send (RFC 4469 §3: "the same octets as ... BODY[section]"): CRLF
//!   line ends, UW's status headers hidden (fetch::section_data). A partial
//!   past the end is empty data, not an error.
//! - **Which URLs are ours.** A relative URL always is; an absolute one only
//!   when its user (if any) is the logged-in user and its host is the name
//!   this server calls itself. Anything else, a mailbox that cannot be read,
//!   a wrong UIDVALIDITY, a UID or a part that does not exist, and URLAUTH, is
//!   `NO [BADURL url]` (RFC 4469 §6) for the whole command.
//! - **Bounds.** Each source mailbox is opened once per command (read-only:
//!   nothing is written to it, and no lock is held afterwards); the selected
//!   mailbox is read from its index as FETCH does. The message grows part by
//!   part and is refused with `NO [TOOBIG]` as soon as it passes the limit.

use std::path::PathBuf;

use super::super::mailbox::resolve;
use super::super::{CommandError, Context, Selected};
use crate::mailstore::{Access, Mailbox};
use crate::parser::ast::{CatPart, Partial, Section};
use crate::parser::url::{self, MessageUrl};
use crate::response::Code;

/// The mailboxes URLs have named in this command, each opened once.
pub(super) struct Sources<'a> {
    ctx: &'a Context,
    selected: Option<&'a Selected>,
    opened: Vec<(PathBuf, Mailbox)>,
}

impl<'a> Sources<'a> {
    pub(super) fn new(ctx: &'a Context, selected: Option<&'a Selected>) -> Self {
        Sources {
            ctx,
            selected,
            opened: Vec::new(),
        }
    }

    /// The message `parts` make: at most `limit` octets (the APPENDLIMIT),
    /// and at most `room` (what is left of the command's allowance).
    pub(super) fn assemble(
        &mut self,
        parts: &[CatPart],
        limit: usize,
        room: usize,
    ) -> Result<Vec<u8>, CommandError> {
        let mut message = Vec::new();
        for part in parts {
            match part {
                CatPart::Text(bytes) => message.extend_from_slice(bytes),
                CatPart::Url(text) => message.extend(self.url_data(text)?),
            }
            if message.len() > limit.min(room) {
                return Err(CommandError::no_code(
                    Code::TooBig,
                    "Catenated message larger than the APPENDLIMIT",
                ));
            }
        }
        Ok(message)
    }

    /// The octets `text` names, or `NO [BADURL text]`.
    fn url_data(&mut self, text: &[u8]) -> Result<Vec<u8>, CommandError> {
        let bad = |why: &str| {
            log::info!(
                "CATENATE: bad URL {:?}: {why}",
                String::from_utf8_lossy(text)
            );
            CommandError::no_code(Code::BadUrl(url_resp_text(text)), format!("Bad URL: {why}"))
        };
        let url = url::message_url(text).ok_or_else(|| bad("not an IMAP URL of a message"))?;
        if !self.is_ours(&url) {
            return Err(bad("not a mailbox of this user on this server"));
        }
        let name = std::str::from_utf8(&url.mailbox)
            .map(crate::names::encode)
            .map_err(|_| bad("mailbox name is not UTF-8"))?;
        let target = resolve(self.ctx, name.as_bytes()).map_err(|_| bad("no such mailbox"))?;
        let mailbox = self
            .mailbox(target.path)
            .ok_or_else(|| bad("mailbox cannot be read"))?;
        if url
            .uid_validity
            .is_some_and(|v| v != mailbox.uid_validity().get())
        {
            return Err(bad("UIDVALIDITY differs"));
        }
        let index = mailbox
            .index_of_uid(url.uid)
            .map_err(|_| bad("no message with that UID"))?;
        let view = mailbox
            .message(index)
            .ok_or_else(|| bad("no message with that UID"))?;
        let whole = Section {
            part: Vec::new(),
            text: None,
        };
        let partial = url.partial.map(|(origin, length)| Partial {
            origin,
            length: length.unwrap_or(u32::MAX),
        });
        super::super::fetch::section_data(
            view,
            url.section.as_ref().unwrap_or(&whole),
            partial.as_ref(),
        )
        .ok_or_else(|| bad("no such part"))
    }

    /// Relative URLs are this server's; absolute ones must name this user
    /// (when they name one) and this host.
    fn is_ours(&self, url: &MessageUrl) -> bool {
        let user_ok = url
            .user
            .as_deref()
            .is_none_or(|u| u == self.ctx.user.as_bytes());
        let host_ok = url
            .host
            .as_deref()
            .is_none_or(|h| h.eq_ignore_ascii_case(&self.ctx.host));
        user_ok && host_ok
    }

    /// The mailbox at `path`: the selected one, or opened read-only once.
    fn mailbox(&mut self, path: PathBuf) -> Option<&Mailbox> {
        if let Some(sel) = self.selected.filter(|s| s.mailbox.path() == path) {
            return Some(&sel.mailbox);
        }
        let at = match self.opened.iter().position(|(p, _)| *p == path) {
            Some(at) => at,
            None => {
                let m = Mailbox::open(&path, Access::ReadOnly, &self.ctx.locking)
                    .map_err(|e| log::info!("CATENATE: {e}"))
                    .ok()?;
                self.opened.push((path, m));
                self.opened.len() - 1
            }
        };
        self.opened.get(at).map(|(_, m)| m)
    }
}

/// RFC 4469 §6 `url-resp-text = 1*(%x01-09 / %x0B-0C / %x0E-5C / %x5E-7F)`:
/// the URL as the client sent it, with any octet outside that set as `?`.
fn url_resp_text(url: &[u8]) -> String {
    let text: String = url
        .iter()
        .map(|&b| match b {
            0x01..=0x09 | 0x0b | 0x0c | 0x0e..=0x5c | 0x5e..=0x7f => char::from(b),
            _ => '?',
        })
        .collect();
    if text.is_empty() { "?".into() } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_resp_text_keeps_what_the_grammar_allows() {
        assert_eq!(url_resp_text(b"/INBOX/;UID=1"), "/INBOX/;UID=1");
        assert_eq!(url_resp_text(b"/a]b\r\n\xc3\xa9"), "/a?b????");
        assert_eq!(url_resp_text(b""), "?");
    }
}
