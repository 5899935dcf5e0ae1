//! SORT and UID SORT (RFC 5256 §3), SORT=DISPLAY (RFC 5957) and ESORT's
//! `RETURN (...)` (RFC 5267 §3).
//!
//! SORT is SEARCH followed by an ordering of the hits. The ordering keys
//! that need the header (sent date, base subject, addresses) are read once
//! per message and kept in the session's [`KeyCache`], so a client that
//! re-sorts (Alpine on every new message, Roundcube on every page) reads no
//! header twice. Keys are filled per kind, on demand: sorting by date never
//! stores subjects. Every comparison falls back to the sequence number
//! (RFC 5256 §3: "the order in which messages appear in the mailbox is used
//! as a tie-breaker"), and REVERSE reverses its key only, not the tie-break:
//! imaptest's `sort-addresses` pins that.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::io::Write;

use super::search::{self, Hit, MessageText};
use super::{CommandResult, Completion, Selected};
use crate::mailstore::Mailbox;
use crate::mime::decode::decode_header_value;
use crate::mime::envelope::{self, Address};
use crate::mime::subject::{self, BaseSubject};
use crate::parser::ast::{SearchKey, SearchReturn, SortCriterion, SortKey};
use crate::response::ResponseWriter;
use crate::types::Numbering;

/// Which address-derived key a string cache entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Field {
    From,
    To,
    Cc,
    DisplayFrom,
    DisplayTo,
}

/// Keys read from messages' headers, by UID, for the life of the selected
/// mailbox. UIDs never name another message while the UIDVALIDITY stands,
/// so entries stay valid; expunged messages' entries are dropped when the
/// cache notices the mailbox shrank.
#[derive(Debug, Default)]
pub struct KeyCache {
    validity: u32,
    sent: HashMap<u32, i64>,
    subjects: HashMap<u32, BaseSubject>,
    strings: HashMap<(Field, u32), Box<str>>,
    /// THREAD=REFERENCES: hashes of the Message-ID and of the references.
    links: HashMap<u32, Links>,
    /// Keys the message-ID hashes: random per process, so no sender can
    /// craft IDs that collide (a collision would only mis-thread, but a
    /// chosen one should not be possible).
    hasher: RandomState,
}

/// A message's threading links, as hashes of message IDs (8 bytes each
/// rather than the IDs' 30–80: THREAD of 100,000 messages must stay small).
#[derive(Debug, Clone, Default)]
pub struct Links {
    pub id: Option<u64>,
    pub references: Box<[u64]>,
}

impl KeyCache {
    /// Forgets everything if the mailbox is not the one the keys were read
    /// from, and drops keys of messages no longer in it.
    pub fn sync(&mut self, mailbox: &Mailbox) {
        let validity = mailbox.uid_validity().get();
        if validity != self.validity {
            *self = KeyCache {
                validity,
                hasher: std::mem::take(&mut self.hasher),
                ..KeyCache::default()
            };
            return;
        }
        let live = mailbox.entries().len();
        if self.sent.len() > live || self.subjects.len() > live {
            let exists = |uid: &u32| mailbox.index_of_uid(*uid).is_ok();
            self.sent.retain(|uid, _| exists(uid));
            self.subjects.retain(|uid, _| exists(uid));
            self.strings.retain(|(_, uid), _| exists(uid));
            self.links.retain(|uid, _| exists(uid));
        }
    }

    /// RFC 5256 §3 step 1's inputs: the Message-ID, and the References, or
    /// when those hold no valid ID the first ID of In-Reply-To.
    pub fn links(&mut self, mailbox: &Mailbox, index: usize) -> &Links {
        let uid = mailbox.entries().get(index).map_or(0, |e| e.uid.get());
        let hasher = &self.hasher;
        self.links.entry(uid).or_insert_with(|| {
            with_text(mailbox, index, |text| {
                let hash = |id: &[u8]| hasher.hash_one(id);
                let id = text
                    .first_field("Message-ID")
                    .and_then(|v| message_ids(v).next())
                    .map(|id| hash(&id));
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
                Some(Links {
                    id,
                    references: references.into_boxed_slice(),
                })
            })
            .unwrap_or_default()
        })
    }

    /// RFC 5256 §2.2's sent date: the Date: header in UTC seconds, or
    /// INTERNALDATE when it is missing or unreadable.
    pub fn sent(&mut self, mailbox: &Mailbox, index: usize) -> i64 {
        let Some(entry) = mailbox.entries().get(index) else {
            return 0;
        };
        let uid = entry.uid.get();
        if let Some(&sent) = self.sent.get(&uid) {
            return sent;
        }
        let sent = with_text(mailbox, index, |text| {
            text.first_field("Date")
                .and_then(crate::mime::date::header_instant)
        })
        .unwrap_or(entry.internal_date);
        self.sent.insert(uid, sent);
        sent
    }

    /// The base subject (RFC 5256 §2.1).
    pub fn subject(&mut self, mailbox: &Mailbox, index: usize) -> &BaseSubject {
        let uid = mailbox.entries().get(index).map_or(0, |e| e.uid.get());
        self.subjects.entry(uid).or_insert_with(|| {
            with_text(mailbox, index, |text| {
                text.first_field("Subject").map(subject::base_subject)
            })
            .unwrap_or_default()
        })
    }

    /// What [`Self::sent`] stored for `uid`.
    pub fn cached_sent(&self, uid: u32) -> Option<i64> {
        self.sent.get(&uid).copied()
    }

    /// What [`Self::subject`] stored for `uid`.
    pub fn cached_subject(&self, uid: u32) -> Option<&BaseSubject> {
        self.subjects.get(&uid)
    }

    /// What [`Self::links`] stored for `uid`.
    pub fn cached_links(&self, uid: u32) -> Option<&Links> {
        self.links.get(&uid)
    }

    /// An address-derived string key, folded for comparison (RFC 5051).
    fn string(&mut self, mailbox: &Mailbox, index: usize, field: Field) -> &str {
        let uid = mailbox.entries().get(index).map_or(0, |e| e.uid.get());
        self.strings.entry((field, uid)).or_insert_with(|| {
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
            subject::casemap(&key).into_boxed_str()
        })
    }
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

/// Runs `f` on message `index`'s text (visible header), if it exists.
fn with_text<T>(
    mailbox: &Mailbox,
    index: usize,
    f: impl FnOnce(&MessageText<'_>) -> Option<T>,
) -> Option<T> {
    let view = mailbox.message(index)?;
    f(&MessageText::from_view(view))
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

/// Runs SORT: `* SORT n...` (or `* ESEARCH` for `RETURN (...)`).
#[allow(clippy::too_many_arguments)]
pub fn sort<W: Write>(
    selected: &mut Selected,
    criteria: &[SortCriterion],
    charset: &str,
    search: &SearchKey,
    numbering: Numbering,
    ret: Option<(&str, &[SearchReturn])>,
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    let mut hits = search::matching(selected, Some(charset), search)?;
    order(selected, criteria, &mut hits);
    let numbers: Vec<u32> = hits.iter().map(|h| h.number(numbering)).collect();
    match ret {
        None => {
            out.raw(b"* SORT")?;
            for n in numbers {
                out.sp()?;
                out.number(n.into())?;
            }
            out.end_line()?;
        }
        Some((tag, options)) => search::write_esearch(out, tag, numbering, options, &numbers)?,
    }
    Ok(Completion::done("SORT"))
}

/// Sorts `hits` (in mailbox order on entry) by `criteria`, ties by
/// sequence number.
pub fn order(selected: &mut Selected, criteria: &[SortCriterion], hits: &mut [Hit]) {
    let Selected {
        mailbox, sort_keys, ..
    } = selected;
    sort_keys.sync(mailbox);
    // Read every key once (filling the cache), then sort on plain values.
    let mut keyed: Vec<(Vec<Value>, Hit)> = hits
        .iter()
        .map(|&hit| {
            let values = criteria
                .iter()
                .map(|c| value(sort_keys, mailbox, hit.index, c.key))
                .collect();
            (values, hit)
        })
        .collect();
    keyed.sort_by(|(a, ha), (b, hb)| {
        criteria
            .iter()
            .zip(a.iter().zip(b))
            .map(|(c, (x, y))| {
                let o = x.cmp(y);
                if c.reverse { o.reverse() } else { o }
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
            .then(ha.seq.cmp(&hb.seq))
    });
    for (slot, (_, hit)) in hits.iter_mut().zip(keyed) {
        *slot = hit;
    }
}

/// One message's value for one sort key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Number(i64),
    Text(Box<str>),
}

fn value(cache: &mut KeyCache, mailbox: &Mailbox, index: usize, key: SortKey) -> Value {
    let entry = mailbox.entries().get(index);
    match key {
        SortKey::Arrival => Value::Number(entry.map_or(0, |e| e.internal_date)),
        SortKey::Size => Value::Number(entry.map_or(0, |e| i64::from(e.rfc822_size))),
        SortKey::Date => Value::Number(cache.sent(mailbox, index)),
        SortKey::Subject => Value::Text(cache.subject(mailbox, index).key.as_str().into()),
        SortKey::From => Value::Text(cache.string(mailbox, index, Field::From).into()),
        SortKey::To => Value::Text(cache.string(mailbox, index, Field::To).into()),
        SortKey::Cc => Value::Text(cache.string(mailbox, index, Field::Cc).into()),
        SortKey::DisplayFrom => {
            Value::Text(cache.string(mailbox, index, Field::DisplayFrom).into())
        }
        SortKey::DisplayTo => Value::Text(cache.string(mailbox, index, Field::DisplayTo).into()),
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
}
