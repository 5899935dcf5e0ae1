//! The header keys SORT and THREAD order by, read once per message and kept
//! for the selected mailbox's life.
//!
//! Memory is the constraint: THREAD of 100,000 messages must stay within
//! 1 MB + 200 bytes per message, cache included. So the cache is columnar,
//! one vector per key aligned with the mailbox index (4 or 8 bytes a
//! message), and every string is interned: a thread's messages share one
//! base subject, a correspondent's messages one name. Message IDs are kept
//! only as 64-bit hashes. A column is allocated the first time its key is
//! asked for; sorting by date never stores a subject.
//!
//! The columns follow the mailbox through expunges and new mail:
//! [`KeyCache::sync`] compares the UIDs it was filled for with the index's
//! and carries known values over by UID.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::ops::Range;

use super::super::search::MessageText;
use crate::mailstore::Mailbox;
use crate::mime::decode::decode_header_value;
use crate::mime::envelope::{self, Address};
use crate::mime::subject;

/// "Not read yet" in a `u32` column.
const UNREAD: u32 = u32::MAX;
/// "Not read yet" in the sent-date column.
const UNREAD_DATE: i64 = i64::MIN;
/// The reply/forward mark in the subject column, beside the string id.
const REPLY_BIT: u32 = 1 << 31;

/// The address-derived string keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    From,
    To,
    Cc,
    DisplayFrom,
    DisplayTo,
}

impl Field {
    fn slot(self) -> usize {
        self as usize
    }
}

/// A base subject as the cache knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Subject {
    /// Interned comparison form; equal ids are equal subjects.
    pub id: u32,
    pub is_reply: bool,
}

/// One message's threading links: its Message-ID hash (0 when it has none)
/// and where its reference hashes are in the arena.
#[derive(Debug, Clone, Copy)]
struct Link {
    id: u64,
    start: u32,
    len: u32,
}

impl Link {
    fn is_read(&self) -> bool {
        self.len != u32::MAX
    }

    /// The Message-ID hash (`None` for 0) and where the references are.
    fn parts(&self) -> (Option<u64>, Range<usize>) {
        let start = self.start as usize;
        (
            (self.id != 0).then_some(self.id),
            start..start + self.len as usize,
        )
    }
}

/// A subject column value: the string id with [`REPLY_BIT`].
fn subject_of(raw: u32) -> Subject {
    Subject {
        id: raw & !REPLY_BIT,
        is_reply: raw & REPLY_BIT != 0,
    }
}

const UNREAD_LINK: Link = Link {
    id: 0,
    start: 0,
    len: u32::MAX,
};

/// Strings stored once, named by a dense id: the bytes of all of them in
/// one arena, and a table from a string's hash to the ids with that hash
/// (a collision only costs a comparison). About 60 bytes a distinct
/// string, against some 110 for a map of shared `str`s.
#[derive(Debug, Default)]
struct Interner {
    arena: String,
    /// Where each id's text is in the arena.
    spans: Vec<(u32, u32)>,
    by_hash: HashMap<u64, u32>,
    /// Ids whose hash another string already had (64-bit hashes: in
    /// practice never used, but it keeps distinct strings distinct).
    collided: Vec<(u64, u32)>,
    hasher: RandomState,
}

impl Interner {
    fn intern(&mut self, s: &str) -> u32 {
        let hash = self.hasher.hash_one(s);
        let known = self.by_hash.get(&hash).copied();
        if let Some(id) = known.filter(|&id| self.get(id) == s) {
            return id;
        }
        if let Some(&(_, id)) = self
            .collided
            .iter()
            .find(|&&(h, id)| h == hash && self.get(id) == s)
        {
            return id;
        }
        let id = u32::try_from(self.spans.len()).unwrap_or(REPLY_BIT - 1) & !REPLY_BIT;
        let start = u32::try_from(self.arena.len()).unwrap_or(u32::MAX);
        self.arena.push_str(s);
        let len = u32::try_from(s.len()).unwrap_or(0);
        self.spans.push((start, len));
        if known.is_some() {
            self.collided.push((hash, id));
        } else {
            self.by_hash.insert(hash, id);
        }
        id
    }

    fn get(&self, id: u32) -> &str {
        self.spans
            .get(id as usize)
            .and_then(|&(start, len)| {
                self.arena
                    .get(start as usize..start as usize + len as usize)
            })
            .unwrap_or("")
    }
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct KeyCache {
    validity: u32,
    /// The UIDs the columns are aligned with.
    uids: Vec<u32>,
    sent: Vec<i64>,
    /// Subject string id, with [`REPLY_BIT`].
    subject: Vec<u32>,
    addresses: [Vec<u32>; 5],
    links: Vec<Link>,
    /// Reference hashes of every message read, oldest first per message.
    refs: Vec<u64>,
    strings: Interner,
    /// Keys the message-ID hashes: random per process, so no sender can
    /// craft IDs that collide (a collision would only mis-thread).
    hasher: RandomState,
}

impl KeyCache {
    /// Aligns the columns with the mailbox's index: forgets everything on a
    /// new UIDVALIDITY, otherwise keeps each value whose UID is still there.
    pub fn sync(&mut self, mailbox: &Mailbox) {
        let validity = mailbox.uid_validity().get();
        let entries = mailbox.entries();
        if validity != self.validity {
            *self = KeyCache {
                validity,
                hasher: std::mem::take(&mut self.hasher),
                ..KeyCache::default()
            };
        }
        let same = self.uids.len() == entries.len()
            && self
                .uids
                .iter()
                .zip(entries)
                .all(|(u, e)| *u == e.uid.get());
        if same {
            return;
        }
        let nothing_read = self.sent.is_empty()
            && self.subject.is_empty()
            && self.links.is_empty()
            && self.addresses.iter().all(Vec::is_empty);
        if nothing_read {
            self.uids = entries.iter().map(|e| e.uid.get()).collect();
            return;
        }
        // Both lists ascend: walk them together, old position per new one.
        let mut from = Vec::with_capacity(entries.len());
        let mut old = 0;
        for e in entries {
            let uid = e.uid.get();
            while self.uids.get(old).is_some_and(|&u| u < uid) {
                old += 1;
            }
            from.push((self.uids.get(old) == Some(&uid)).then_some(old));
        }
        fn carry<T: Copy>(column: &mut Vec<T>, from: &[Option<usize>], unread: T) {
            if column.is_empty() {
                return;
            }
            let old = std::mem::take(column);
            *column = from
                .iter()
                .map(|f| f.and_then(|i| old.get(i).copied()).unwrap_or(unread))
                .collect();
        }
        carry(&mut self.sent, &from, UNREAD_DATE);
        carry(&mut self.subject, &from, UNREAD);
        for column in &mut self.addresses {
            carry(column, &from, UNREAD);
        }
        carry(&mut self.links, &from, UNREAD_LINK);
        self.uids = entries.iter().map(|e| e.uid.get()).collect();
    }

    /// RFC 5256 §2.2's sent date of message `index`: its Date: header in
    /// UTC seconds, or INTERNALDATE when that is missing or unreadable.
    pub fn sent(&mut self, mailbox: &Mailbox, index: usize) -> i64 {
        let Some(entry) = mailbox.entries().get(index) else {
            return 0;
        };
        let column = column(&mut self.sent, self.uids.len(), UNREAD_DATE);
        match column.get(index) {
            Some(&v) if v != UNREAD_DATE => return v,
            _ => {}
        }
        let sent = with_text(mailbox, index, |text| {
            text.first_field("Date")
                .and_then(crate::mime::date::header_instant)
        })
        .unwrap_or(entry.internal_date);
        if let Some(slot) = column.get_mut(index) {
            *slot = sent;
        }
        sent
    }

    /// The base subject (RFC 5256 §2.1) of message `index`.
    pub fn subject(&mut self, mailbox: &Mailbox, index: usize) -> Subject {
        let len = self.uids.len();
        let cached = column(&mut self.subject, len, UNREAD).get(index).copied();
        let raw = match cached {
            Some(v) if v != UNREAD => v,
            _ => {
                let base = with_text(mailbox, index, |text| {
                    text.first_field("Subject").map(subject::base_subject)
                })
                .unwrap_or_default();
                let id = self.strings.intern(&base.key);
                let v = if base.is_reply { id | REPLY_BIT } else { id };
                if let Some(slot) = self.subject.get_mut(index) {
                    *slot = v;
                }
                v
            }
        };
        subject_of(raw)
    }

    /// An address-derived key of message `index` (RFC 5256 §3 FROM / TO /
    /// CC, RFC 5957 DISPLAYFROM / DISPLAYTO), as an interned string id.
    pub fn address(&mut self, mailbox: &Mailbox, index: usize, field: Field) -> u32 {
        let len = self.uids.len();
        let slot = field.slot();
        let Some(column) = self.addresses.get_mut(slot) else {
            return UNREAD;
        };
        let cached = self::column(column, len, UNREAD).get(index).copied();
        if let Some(v) = cached.filter(|&v| v != UNREAD) {
            return v;
        }
        let (name, display) = match field {
            Field::From => ("From", false),
            Field::To => ("To", false),
            Field::Cc => ("Cc", false),
            Field::DisplayFrom => ("From", true),
            Field::DisplayTo => ("To", true),
        };
        let key = with_text(mailbox, index, |text| {
            let first = envelope::address_list(text.first_field(name)?)
                .into_iter()
                .next()?;
            Some(if display {
                display_key(&first)
            } else {
                mailbox_key(&first)
            })
        })
        .unwrap_or_default();
        let id = self.strings.intern(&subject::casemap(&key));
        if let Some(v) = self.addresses.get_mut(slot).and_then(|c| c.get_mut(index)) {
            *v = id;
        }
        id
    }

    /// The sent date of message `index`, if read.
    pub fn cached_sent(&self, index: usize) -> Option<i64> {
        self.sent.get(index).copied().filter(|&v| v != UNREAD_DATE)
    }

    /// The base subject of message `index`, if read.
    pub fn cached_subject(&self, index: usize) -> Option<Subject> {
        let raw = self.subject.get(index).copied().filter(|&v| v != UNREAD)?;
        Some(subject_of(raw))
    }

    /// An address key of message `index`, if read.
    pub fn cached_address(&self, index: usize, field: Field) -> Option<u32> {
        self.addresses
            .get(field.slot())?
            .get(index)
            .copied()
            .filter(|&v| v != UNREAD)
    }

    /// The text of an interned key.
    pub fn text(&self, id: u32) -> &str {
        self.strings.get(id)
    }

    /// RFC 5256 §3 step 1's inputs for message `index`: the Message-ID hash
    /// (`None` without a valid one), and the references: the References
    /// IDs, or when those hold no valid ID the first ID of In-Reply-To.
    /// Read with [`Self::references`].
    pub fn links(&mut self, mailbox: &Mailbox, index: usize) -> (Option<u64>, Range<usize>) {
        let len = self.uids.len();
        let cached = column(&mut self.links, len, UNREAD_LINK)
            .get(index)
            .copied();
        let link = match cached {
            Some(link) if link.is_read() => link,
            _ => {
                let hasher = &self.hasher;
                // 0 means "no ID": a real hash of 0 becomes 1.
                let hash = |id: &[u8]| hasher.hash_one(id).max(1);
                let (id, references) = with_text(mailbox, index, |text| {
                    let id = text
                        .first_field("Message-ID")
                        .and_then(|v| message_ids(v).next())
                        .map_or(0, |id| hash(&id));
                    let mut references: Vec<u64> = text
                        .first_field("References")
                        .map(|v| message_ids(v).map(|id| hash(&id)).collect())
                        .unwrap_or_default();
                    if references.is_empty()
                        && let Some(first) = text
                            .first_field("In-Reply-To")
                            .and_then(|v| message_ids(v).next())
                    {
                        references.push(hash(&first));
                    }
                    Some((id, references))
                })
                .unwrap_or_default();
                let start = u32::try_from(self.refs.len()).unwrap_or(u32::MAX);
                let len = u32::try_from(references.len()).unwrap_or(0);
                self.refs.extend(references);
                let link = Link { id, start, len };
                if let Some(slot) = self.links.get_mut(index) {
                    *slot = link;
                }
                link
            }
        };
        link.parts()
    }

    /// What [`Self::links`] read for message `index`, if it did.
    pub fn cached_links(&self, index: usize) -> Option<(Option<u64>, Range<usize>)> {
        Some(self.links.get(index).filter(|l| l.is_read())?.parts())
    }

    /// Reference hashes named by [`Self::links`].
    pub fn references(&self, range: Range<usize>) -> &[u64] {
        self.refs.get(range).unwrap_or_default()
    }
}

/// A column, allocated (all unread) on first use.
fn column<T: Copy>(column: &mut Vec<T>, len: usize, unread: T) -> &mut Vec<T> {
    if column.len() != len {
        column.resize(len, unread);
    }
    column
}

/// Runs `f` on message `index`'s visible header, if the message exists.
fn with_text<T>(
    mailbox: &Mailbox,
    index: usize,
    f: impl FnOnce(&MessageText<'_>) -> Option<T>,
) -> Option<T> {
    let view = mailbox.message(index)?;
    f(&MessageText::from_view(view))
}

/// The message IDs in a header value: what is between each `<` and `>`,
/// whitespace (folding) removed; empty brackets are no ID.
pub fn message_ids(value: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let mut rest = value;
    std::iter::from_fn(move || {
        loop {
            let open = memchr::memchr(b'<', rest)?;
            let after = rest.get(open + 1..)?;
            let close = memchr::memchr(b'>', after)?;
            let id: Vec<u8> = after
                .get(..close)?
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            rest = after.get(close + 1..)?;
            if !id.is_empty() {
                return Some(id);
            }
        }
    })
}

/// RFC 5256 §3 FROM / TO / CC: the `addr-mailbox` of the first address
/// (for a group, its name, as the group is the first address).
fn mailbox_key(address: &Address) -> String {
    address
        .mailbox
        .as_deref()
        .map(decode_header_value)
        .unwrap_or_default()
}

/// RFC 5957 §3 DISPLAYFROM / DISPLAYTO: the first address's decoded display
/// name; without one, its `mailbox@host` (just the mailbox when there is no
/// host: a group's name, or a bare local part).
fn display_key(address: &Address) -> String {
    if let Some(name) = address.name.as_deref() {
        let decoded = decode_header_value(name);
        if !decoded.trim().is_empty() {
            return decoded;
        }
    }
    let mailbox = mailbox_key(address);
    match address.host.as_deref() {
        Some(host) if host != envelope::MISSING_HOST => {
            format!("{mailbox}@{}", String::from_utf8_lossy(host))
        }
        _ => mailbox,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(header: &str) -> Address {
        envelope::address_list(header.as_bytes())
            .into_iter()
            .next()
            .unwrap_or_default()
    }

    #[test]
    fn message_ids_in_headers() {
        let ids = |v: &str| -> Vec<String> {
            message_ids(v.as_bytes())
                .map(|id| String::from_utf8_lossy(&id).into_owned())
                .collect()
        };
        assert_eq!(ids("<a@b> <c@d>"), ["a@b", "c@d"]);
        assert_eq!(ids("<a@b>\r\n\t<c\r\n @d>"), ["a@b", "c@d"]);
        assert_eq!(ids("junk <> (comment) <x@y"), Vec::<String>::new());
        assert_eq!(ids("Your message of ... <m@h>"), ["m@h"]);
    }

    #[test]
    fn address_keys_like_imaptest() {
        // sort-addresses: the mailbox of the first address; a group's name.
        assert_eq!(mailbox_key(&first("foo bar <user2@domain2.org>")), "user2");
        assert_eq!(mailbox_key(&first("user2: blah@domain1.org;")), "user2");
        assert_eq!(mailbox_key(&first("user2@domain2.org (foo bar)")), "user2");
        // sort-display-from / sort-display-to.
        assert_eq!(display_key(&first("foo bar <a@b.c>")), "foo bar");
        assert_eq!(display_key(&first("b@c.d")), "b@c.d");
        assert_eq!(display_key(&first("d")), "d");
        assert_eq!(
            display_key(&first("=?iso-8859-1?q?foo_aar?= <e@f.g>")),
            "foo aar"
        );
        assert_eq!(display_key(&first("a: xx@xx.org, yy@yy.org;")), "a");
        assert_eq!(display_key(&first("empty:;")), "empty");
        assert_eq!(display_key(&first("\"\" <x@y.z>")), "x@y.z");
    }

    #[test]
    fn interning_shares_strings() {
        let mut strings = Interner::default();
        let a = strings.intern("TOPIC");
        let b = strings.intern("OTHER");
        let empty = strings.intern("");
        assert_eq!(strings.intern("TOPIC"), a);
        assert_ne!(a, b);
        assert_eq!(strings.get(b), "OTHER");
        assert_eq!(strings.get(empty), "");
        assert_eq!(strings.get(a), "TOPIC");
        assert_eq!(strings.spans.len(), 3);
        assert_eq!(strings.arena, "TOPICOTHER");
    }
}
