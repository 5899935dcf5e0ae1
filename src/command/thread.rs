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
    // Fill the cache first; then borrow from it immutably.
    for hit in &hits {
        sort_keys.sent(mailbox, hit.index);
        sort_keys.subject(mailbox, hit.index);
        if algorithm == ThreadAlgorithm::References {
            sort_keys.links(mailbox, hit.index);
        }
    }
    let keys = &*sort_keys;
    let messages: Vec<tree::Message<'_>> = hits
        .iter()
        .filter_map(|hit| {
            let uid = mailbox.entries().get(hit.index)?.uid.get();
            let links = keys.cached_links(uid);
            Some(tree::Message {
                seq: hit.seq,
                sent: keys.cached_sent(uid)?,
                subject: keys.cached_subject(uid)?,
                id: links.and_then(|l| l.id),
                references: links.map_or(&[], |l| &l.references),
            })
        })
        .collect();
    let forest = match algorithm {
        ThreadAlgorithm::OrderedSubject => tree::ordered_subject(&messages),
        ThreadAlgorithm::References => tree::references(&messages),
    };
    let number = |i: usize| hits.get(i).map_or(0, |h| h.number(numbering));
    let mut line = Vec::new();
    forest.write(&mut line, number)?;
    out.raw(&line)?;
    Ok(Completion::done("THREAD"))
}
