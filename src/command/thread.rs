//! THREAD and UID THREAD (RFC 5256 §3): ORDEREDSUBJECT and REFERENCES.
//!
//! The command searches, reads each hit's threading keys through the
//! session's [`super::sort::KeyCache`] (so a second THREAD reads no header),
//! and hands them to the pure algorithms in [`tree`].

mod tree;

use std::io::Write;

use super::search;
use super::sort::{KeyCache, Subject};
use super::{CommandResult, Completion, Selected};
use crate::parser::ast::{SearchKey, ThreadAlgorithm};
use crate::response::ResponseWriter;
use crate::types::Numbering;

/// Runs THREAD: `* THREAD (...)...` then the completion.
pub fn thread<W: Write>(
    selected: &mut Selected,
    algorithm: ThreadAlgorithm,
    charset: &str,
    criteria: &SearchKey,
    numbering: Numbering,
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    let hits = search::matching(selected, Some(charset), criteria)?;
    let Selected {
        mailbox, sort_keys, ..
    } = selected;
    sort_keys.sync(mailbox);
    // Fill the cache first; the algorithms then read it in place.
    let references = algorithm == ThreadAlgorithm::References;
    for hit in &hits {
        sort_keys.sent(mailbox, hit.index);
        sort_keys.subject(mailbox, hit.index);
        if references {
            sort_keys.links(mailbox, hit.index);
        }
    }
    let source = Hits {
        hits: &hits,
        keys: sort_keys,
    };
    let forest = match algorithm {
        ThreadAlgorithm::OrderedSubject => tree::ordered_subject(&source),
        ThreadAlgorithm::References => tree::references(&source),
    };
    let number = |i: usize| hits.get(i).map_or(0, |h| h.number(numbering));
    forest.write(&mut Raw(out), number)?;
    Ok(Completion::done("THREAD"))
}

/// The hits, their keys read from the filled cache.
struct Hits<'a> {
    hits: &'a [search::Hit],
    keys: &'a KeyCache,
}

impl Hits<'_> {
    fn index(&self, i: u32) -> usize {
        self.hits.get(i as usize).map_or(usize::MAX, |h| h.index)
    }
}

impl tree::Source for Hits<'_> {
    fn len(&self) -> usize {
        self.hits.len()
    }

    fn seq(&self, i: u32) -> u32 {
        self.hits.get(i as usize).map_or(0, |h| h.seq)
    }

    fn sent(&self, i: u32) -> i64 {
        self.keys.cached_sent(self.index(i)).unwrap_or(0)
    }

    fn subject(&self, i: u32) -> Subject {
        self.keys.cached_subject(self.index(i)).unwrap_or_default()
    }

    fn subject_text(&self, id: u32) -> &str {
        self.keys.text(id)
    }

    fn id(&self, i: u32) -> Option<u64> {
        self.keys.cached_links(self.index(i)).and_then(|(id, _)| id)
    }

    fn references(&self, i: u32) -> &[u64] {
        let range = self
            .keys
            .cached_links(self.index(i))
            .map_or(0..0, |(_, r)| r);
        self.keys.references(range)
    }
}

/// The writer as a plain byte sink for [`tree::Forest::write`], which
/// produces only bytes valid at that point of the grammar.
struct Raw<'a, W: Write>(&'a mut ResponseWriter<W>);

impl<W: Write> Write for Raw<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.raw(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
