//! mbox-imapd: an inetd-style IMAP4rev1 server over Berkeley mbox files.
//!
//! # Layout
//!
//! - [`config`]: argv (+ config file) → one validated `Config`.
//! - [`types`]: shared vocabulary: `SeqNum`, `Uid`, `SequenceSet`, `Flag`.
//! - [`session`]: the protocol core, sans I/O: framing, states, dispatch.
//! - [`parser`]: complete command bytes → typed `Command` (nom); IMAP URLs.
//! - [`command`]: one file per command family; executes a `Command`.
//! - [`response`]: typed responses → wire bytes; LF→CRLF streaming.
//! - [`mailstore`]: the only module that opens, maps or locks a mail file.
//! - [`mime`]: MIME structure, envelope and text decoding of stored messages (pure).
//! - [`names`]: mailbox names: modified UTF-7, LIST patterns.
//! - [`special_use`]: which mailbox names are `\Sent`, `\Trash`, ... (RFC 6154).
//! - [`connection`]: the loop between a `Session` and the client's stream:
//!   reads with autologout, and the caller's part of login and STARTTLS.
//! - [`auth`]: who may log in: the `Authenticator` trait, PAM (dlopen'd) and
//!   passwd-file backends, SASL PLAIN/LOGIN decoding, user-name checks.
//! - [`net`]: the peer, trusted proxies, socket options, PROXY protocol headers.
//! - [`transport`]: fd 0/fd 1 as one stream, plaintext or TLS, with read timeouts;
//!   `transport::deflate`, the COMPRESS=DEFLATE layer inside it.
//! - [`tls`]: certificate and key → rustls `ServerConfig`.
//! - [`privilege`]: becoming the user after login (groups, gid, uid, home).
//! - [`logger`]: the syslog (mail + authpriv) or stderr backend `main` installs.
//!
//! `fuzzing` (hidden) holds the few entry points the cargo-fuzz targets in
//! `fuzz/` need that the public modules do not offer.

#![deny(unsafe_code)]

pub mod auth;
pub mod command;
pub mod config;
pub mod connection;
#[doc(hidden)]
pub mod fuzzing;
pub mod logger;
pub mod mailstore;
pub mod mime;
pub mod names;
pub mod net;
pub mod parser;
pub mod privilege;
pub mod response;
pub mod session;
pub mod special_use;
pub mod tls;
pub mod transport;
pub mod types;
