//! THREAD and UID THREAD (RFC 5256 §3): ORDEREDSUBJECT and REFERENCES.
//!
//! The command searches, reads each hit's threading keys through the
//! session's [`super::sort::KeyCache`] (so a second THREAD reads no header),
//! and hands them to the pure algorithms in [`tree`].

mod tree;

use std::io::Write;

use super::search;
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
    // Fill the cache first, then build the inputs from it (no copy of the
    // keys per message beyond the inputs themselves).
    let references = algorithm == ThreadAlgorithm::References;
    for hit in &hits {
        sort_keys.sent(mailbox, hit.index);
        sort_keys.subject(mailbox, hit.index);
        if references {
            sort_keys.links(mailbox, hit.index);
        }
    }
    let keys = &*sort_keys;
    let messages: Vec<tree::Message<'_>> = hits
        .iter()
        .map(|hit| {
            let (id, refs) = keys.cached_links(hit.index).unwrap_or((None, 0..0));
            tree::Message {
                seq: hit.seq,
                sent: keys.cached_sent(hit.index).unwrap_or(0),
                subject: keys.cached_subject(hit.index).unwrap_or_default(),
                id,
                references: keys.references(refs),
            }
        })
        .collect();
    let forest = match algorithm {
        ThreadAlgorithm::OrderedSubject => tree::ordered_subject(&messages, keys.strings()),
        ThreadAlgorithm::References => tree::references(&messages, keys.strings()),
    };
    let number = |i: usize| hits.get(i).map_or(0, |h| h.number(numbering));
    forest.write(&mut Raw(out), number)?;
    Ok(Completion::done("THREAD"))
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
