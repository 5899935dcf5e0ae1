//! SEARCH and UID SEARCH (RFC 3501 §6.4.4). STUB: being implemented.

use std::io::Write;

use super::{CommandResult, Completion, Selected};
use crate::parser::ast::SearchKey;
use crate::response::ResponseWriter;
use crate::types::Numbering;

/// Runs SEARCH: `* SEARCH n...` then the completion.
pub fn search<W: Write>(
    selected: &mut Selected,
    charset: Option<&str>,
    criteria: &SearchKey,
    numbering: Numbering,
    out: &mut ResponseWriter<W>,
) -> CommandResult {
    let _ = (selected, charset, criteria, numbering, out);
    Ok(Completion::done("SEARCH"))
}
