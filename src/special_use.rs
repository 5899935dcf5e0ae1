//! Special-use mailboxes (RFC 6154): which mailbox names LIST marks `\Sent`,
//! `\Drafts`, `\Trash`, `\Junk` or `\Archive`.
//!
//! An mbox tree has nowhere to record a use (UW keeps no such metadata, and
//! we add no side files), so the use of a mailbox follows from its name: the
//! configuration (`special_use_sent = ...` and the like, mbox-imapd.conf(5))
//! names the mailboxes of each use, and by default they are the names that
//! the common clients of mbox users create themselves. A name marks a
//! mailbox only while a mailbox file of that name exists: a folder or a
//! missing name is never special-use. `\All` and `\Flagged` name virtual
//! mailboxes (every message, every flagged message), which a tree of files
//! does not have, so they are never shown.
//!
//! CREATE-SPECIAL-USE (RFC 6154 §3) follows from the same rule: `CREATE name
//! (USE (...))` succeeds only when the uses asked for are exactly the ones
//! the mapping already gives `name`, because that is the only use the
//! mailbox will ever be listed with; any other request is refused with
//! `NO [USEATTR]` before anything is created.

use std::fmt;

/// One special use (RFC 6154 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Use {
    Archive,
    Drafts,
    Junk,
    Sent,
    Trash,
}

impl Use {
    pub const ALL: [Use; 5] = [Use::Archive, Use::Drafts, Use::Junk, Use::Sent, Use::Trash];

    /// The mailbox attribute, as LIST writes it.
    pub fn attribute(self) -> &'static str {
        match self {
            Use::Archive => "\\Archive",
            Use::Drafts => "\\Drafts",
            Use::Junk => "\\Junk",
            Use::Sent => "\\Sent",
            Use::Trash => "\\Trash",
        }
    }

    /// The configuration key that names this use's mailboxes.
    pub fn config_key(self) -> &'static str {
        match self {
            Use::Archive => "special_use_archive",
            Use::Drafts => "special_use_drafts",
            Use::Junk => "special_use_junk",
            Use::Sent => "special_use_sent",
            Use::Trash => "special_use_trash",
        }
    }

    /// The use an attribute names (`\Sent`, case-insensitive), if we have it.
    pub fn from_attribute(attr: &str) -> Option<Use> {
        Use::ALL
            .into_iter()
            .find(|u| u.attribute().eq_ignore_ascii_case(attr))
    }

    /// The names used when the configuration does not name any.
    ///
    /// These are the names clients of mbox users create on their own, so
    /// that a tree made by them is marked without any configuration:
    /// alpine/pine (`sent-mail`, `postponed-msgs`), Thunderbird (`Sent`,
    /// `Drafts`, `Trash`, `Junk`, `Archives`), Apple Mail and iOS
    /// (`Sent Messages`, `Deleted Messages`), mutt users' usual `=Sent`,
    /// `=Drafts`, `=Trash`, and `spam` from spam filters' procmail recipes.
    /// `Archive` is what most other clients (and RFC 6154's examples) call
    /// the archive. Left out on purpose: pine's `saved-messages`, the
    /// default target of its Save command, is the user's general filing
    /// mailbox rather than an archive, and marking it `\Archive` would make
    /// a client that archives (Thunderbird, iOS) move mail into it.
    fn defaults(self) -> &'static [&'static str] {
        match self {
            Use::Archive => &["Archive", "Archives"],
            Use::Drafts => &["Drafts", "postponed-msgs"],
            Use::Junk => &["Junk", "spam"],
            Use::Sent => &["Sent", "sent-mail", "Sent Messages"],
            Use::Trash => &["Trash", "Deleted Messages"],
        }
    }
}

impl fmt::Display for Use {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.attribute())
    }
}

/// Which mailbox names have which use. Names are kept as on the wire and
/// on disk (modified UTF-7, levels joined by `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialUses {
    /// For each use, in [`Use::ALL`] order, its mailbox names.
    names: Vec<(Use, Vec<Vec<u8>>)>,
}

impl Default for SpecialUses {
    fn default() -> Self {
        SpecialUses {
            names: Use::ALL
                .into_iter()
                .map(|u| {
                    let names = u.defaults().iter().map(|n| encode(n)).collect();
                    (u, names)
                })
                .collect(),
        }
    }
}

impl SpecialUses {
    /// Replaces the names of `use_` by `value`: a comma-separated list of
    /// names in UTF-8 (`Sent, Sent Messages`), levels separated by `/`;
    /// empty for none. A name that could not be a mailbox is an error.
    pub fn set(&mut self, use_: Use, value: &str) -> Result<(), String> {
        let mut names = Vec::new();
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            check(name)?;
            names.push(encode(name));
        }
        if let Some((_, slot)) = self.names.iter_mut().find(|(u, _)| *u == use_) {
            *slot = names;
        }
        Ok(())
    }

    /// The uses of the mailbox `name` (wire form), in [`Use::ALL`] order.
    pub fn of(&self, name: &[u8]) -> Vec<Use> {
        self.names
            .iter()
            .filter(|(_, names)| names.iter().any(|n| n == name))
            .map(|(u, _)| *u)
            .collect()
    }

    /// Every name that has some use, each once.
    pub fn names(&self) -> Vec<&[u8]> {
        let mut all: Vec<&[u8]> = self
            .names
            .iter()
            .flat_map(|(_, names)| names.iter().map(Vec::as_slice))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}

/// Modified UTF-7 of a configured name, as bytes.
fn encode(name: &str) -> Vec<u8> {
    crate::names::encode(name).into_bytes()
}

/// A configured name must be one a client could create: relative, no empty
/// or dot-led levels, no control characters, not INBOX (the spool file).
fn check(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{name:?}: {why}"));
    if name.eq_ignore_ascii_case("INBOX") || name.to_ascii_uppercase().starts_with("INBOX/") {
        return bad("INBOX cannot have a special use");
    }
    if name.chars().any(char::is_control) {
        return bad("control characters are not allowed in a mailbox name");
    }
    for level in name.split('/') {
        if level.is_empty() {
            return bad("empty level (leading, trailing or double /)");
        }
        if level.starts_with('.') {
            return bad("a level starting with . is not a mailbox name");
        }
        if level.ends_with(".lock") {
            return bad("*.lock names are lock files, not mailboxes");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_cover_the_common_clients() {
        let uses = SpecialUses::default();
        assert_eq!(uses.of(b"sent-mail"), [Use::Sent]);
        assert_eq!(uses.of(b"Sent Messages"), [Use::Sent]);
        assert_eq!(uses.of(b"postponed-msgs"), [Use::Drafts]);
        assert_eq!(uses.of(b"spam"), [Use::Junk]);
        assert_eq!(uses.of(b"Archives"), [Use::Archive]);
        assert_eq!(uses.of(b"saved-messages"), []);
        assert_eq!(
            uses.of(b"sent"),
            [],
            "names are case-sensitive, as files are"
        );
        assert_eq!(uses.of(b"INBOX"), []);
    }

    #[test]
    fn configured_names_replace_the_defaults() {
        let mut uses = SpecialUses::default();
        uses.set(Use::Sent, "Outbox, Work/Gesendete Objekte, Él")
            .unwrap();
        assert_eq!(uses.of(b"Sent"), []);
        assert_eq!(uses.of(b"Outbox"), [Use::Sent]);
        assert_eq!(uses.of(b"Work/Gesendete Objekte"), [Use::Sent]);
        assert_eq!(uses.of(b"&AMk-l"), [Use::Sent], "stored in modified UTF-7");
        uses.set(Use::Trash, "").unwrap();
        assert_eq!(uses.of(b"Trash"), []);
        uses.set(Use::Junk, "Both").unwrap();
        uses.set(Use::Archive, "Both").unwrap();
        assert_eq!(uses.of(b"Both"), [Use::Archive, Use::Junk]);
        assert_eq!(uses.names().iter().filter(|n| **n == b"Both").count(), 1);
    }

    #[test]
    fn configured_names_must_be_mailbox_names() {
        let mut uses = SpecialUses::default();
        for bad in [
            "INBOX", "inbox/x", "/abs", "a//b", "a/", ".hidden", "a/..", "x.lock",
        ] {
            assert!(uses.set(Use::Sent, bad).is_err(), "{bad}");
        }
        assert_eq!(
            uses,
            SpecialUses::default(),
            "a refused value changes nothing"
        );
    }

    #[test]
    fn attributes_round_trip() {
        for u in Use::ALL {
            assert_eq!(Use::from_attribute(u.attribute()), Some(u));
            assert_eq!(Use::from_attribute(&u.attribute().to_uppercase()), Some(u));
        }
        assert_eq!(Use::from_attribute("\\All"), None);
        assert_eq!(Use::from_attribute("\\Flagged"), None);
    }
}
