//! The IMAP command grammar: complete command bytes → typed [`ast::Command`].
//!
//! The framer (session/framer.rs) has already cut the input into one whole
//! command: the command line and every literal it announced, byte for byte as
//! received (`{n}` / `{n+}` / `{n-}`... CRLF then n octets). Parsing is pure
//! and strict (RFC 3501 §9 and the extensions' ABNF).
//!
//! STUB: being implemented.

pub mod ast;

use thiserror::Error;

pub use ast::Command;

/// Why a command was rejected. Becomes a tagged BAD (untagged when no tag could
/// be read).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// The line does not start with a valid tag.
    #[error("missing or invalid tag")]
    NoTag,
    /// The tag was readable; the rest was not.
    #[error("{reason}")]
    Invalid { tag: String, reason: String },
}

impl ParseError {
    /// The tag to answer with, if one was read.
    pub fn tag(&self) -> Option<&str> {
        match self {
            ParseError::NoTag => None,
            ParseError::Invalid { tag, .. } => Some(tag),
        }
    }
}

/// Parses one complete command (the line's CRLF included at the end).
pub fn parse_command(input: &[u8]) -> Result<Command, ParseError> {
    let _ = input;
    Err(ParseError::NoTag)
}
