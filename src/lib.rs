//! mbox-imapd: an inetd-style IMAP4rev1 server over Berkeley mbox files.
//!
//! # Layout
//!
//! - [`config`]: argv (+ config file) → one validated `Config`.
//! - [`types`]: shared vocabulary: `SeqNum`, `Uid`, `SequenceSet`, `Flag`.
//! - [`session`]: the protocol core, sans I/O: framing, states, dispatch.
//! - [`parser`]: complete command bytes → typed `Command` (nom).
//! - [`command`]: one file per command family; executes a `Command`.
//! - [`response`]: typed responses → wire bytes; LF→CRLF streaming.
//! - [`mailstore`]: the only module that opens, maps or locks a mail file.
//! - [`mime`]: MIME structure, envelope and text decoding of stored messages (pure).
//! - [`names`]: mailbox names: modified UTF-7, LIST patterns.
//! - [`connection`]: the read/flush loop between a `Session` and a byte stream.

#![deny(unsafe_code)]

pub mod auth;
pub mod command;
pub mod config;
pub mod connection;
pub mod mailstore;
pub mod mime;
pub mod names;
pub mod net;
pub mod parser;
pub mod response;
pub mod session;
pub mod types;
