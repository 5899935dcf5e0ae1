//! FETCH and UID FETCH (RFC 3501 §6.4.5, §7.4.2). STUB: being implemented.

use std::io::Write;

use super::{CommandResult, Completion, Selected};
use crate::parser::ast::FetchAttribute;
use crate::response::ResponseWriter;
use crate::types::{Numbering, SequenceSet};

/// Runs FETCH: one untagged `* n FETCH (...)` per message, streamed.
pub fn fetch<W: Write>(
    selected: &mut Selected,
    set: &SequenceSet,
    items: &[FetchAttribute],
    numbering: Numbering,
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    let _ = (selected, set, items, numbering, out);
    Ok(Completion::done("FETCH"))
}
