//! The IMAP command grammar: complete command bytes → typed [`ast::Command`].
//!
//! The framer (session/framer.rs) has already cut the input into one whole
//! command: the command line and every literal it announced, byte for byte as
//! received (`{n}` / `{n+}` CRLF then n octets; `~{n}` for APPEND). Parsing is
//! pure (nom 7, complete input) and strict: RFC 3501 §9 and the extensions'
//! ABNF (RFC 2971 ID, 3502 MULTIAPPEND, 3516 literal8, 3691 UNSELECT, 4315
//! UID EXPUNGE, 4469 CATENATE, 4959 SASL-IR, 4978 COMPRESS, 5092 IMAP URLs (url.rs), 5161
//! ENABLE, 5182 SEARCHRES, 5256 SORT/THREAD, 5258 LIST-EXTENDED, 5267 ESORT,
//! 5819 LIST-STATUS, 5957 SORT=DISPLAY, 6154 SPECIAL-USE and
//! CREATE-SPECIAL-USE, 7888 LITERAL+/-, 7889 STATUS APPENDLIMIT, 8438 STATUS
//! SIZE).
//!
//! # Quirks (the only deliberate leniencies)
//!
//! - Command names and keywords are case-insensitive (so are ABNF strings).
//! - A tag may be any ASTRING-CHAR except `+` (RFC 3501 §9 says exactly that;
//!   we do not narrow it further, as some servers do).
//! - A bare LF is accepted wherever CRLF is expected.
//!
//! # Limits
//!
//! Everything the client controls is bounded: numbers must fit `u32`, a
//! sequence set holds at most 100,000 elements (`MAX_SEQUENCE_SET_ELEMENTS`),
//! SEARCH keys nest at most 64 deep (`MAX_SEARCH_DEPTH`), and a literal's
//! announced length is checked against the bytes present. No input panics.
//!
//! # Errors
//!
//! [`ParseError::NoTag`] when no tag could be read (the answer is an untagged
//! BAD), otherwise [`ParseError::Invalid`] with a short reason for the client
//! ("Unknown command FOO", "Missing mailbox name", "Invalid sequence set").
//! Reasons quote client bytes only through `core::printable`.

pub mod ast;
mod commands;
mod core;
mod datetime;
mod fetch;
mod list;
mod search;
mod sequence;
pub mod url;

use thiserror::Error;

use self::core::{PResult, arg, atom, fail, line_end, printable};
use crate::types::Numbering;
pub use ast::Command;
use ast::CommandBody;

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
///
/// `command = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF`
/// [`parse_command`] with IMAP4rev2's grammar (RFC 9051 §9), once the
/// client has enabled it: a quoted string may also hold UTF-8.
pub fn parse_command_rev2(input: &[u8]) -> Result<Command, ParseError> {
    self::core::with_utf8_quoted(|| parse_command(input))
}

pub fn parse_command(input: &[u8]) -> Result<Command, ParseError> {
    let Ok((rest, tag)) = self::core::tag(input) else {
        return Err(ParseError::NoTag);
    };
    // Tag bytes are ASTRING-CHARs, all ASCII: this conversion cannot fail.
    let Ok(tag) = std::str::from_utf8(tag) else {
        return Err(ParseError::NoTag);
    };
    let tag = tag.to_string();
    let rest = match rest.strip_prefix(b" ") {
        Some(rest) => rest,
        // `a` CRLF: the tag is fine, the command is missing.
        None if rest.is_empty() || line_end(rest).is_ok() => {
            return Err(ParseError::Invalid {
                tag,
                reason: "Missing command".into(),
            });
        }
        // `a(`, `a\0`, `a+`: the tag itself is malformed.
        None => return Err(ParseError::NoTag),
    };
    match command(rest) {
        Ok((_, body)) => Ok(Command { tag, body }),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
            let reason = e
                .reason
                .map_or_else(|| "Syntax error".to_string(), |r| r.into_owned());
            Err(ParseError::Invalid { tag, reason })
        }
        // Complete-input parsers never ask for more; kept total anyway.
        Err(nom::Err::Incomplete(_)) => Err(ParseError::Invalid {
            tag,
            reason: "Incomplete command".into(),
        }),
    }
}

/// `(command-any / command-auth / command-nonauth / command-select) CRLF`
///
/// `command-any = "CAPABILITY" / "LOGOUT" / "NOOP" / x-command` (+ ID, ENABLE)
/// `command-auth = append / create / delete / examine / list / lsub / rename /
///                 select / status / subscribe / unsubscribe` (+ NAMESPACE, IDLE,
///                 COMPRESS)
/// `command-nonauth = login / authenticate / "STARTTLS"`
/// `command-select = "CHECK" / "CLOSE" / "EXPUNGE" / copy / fetch / store / uid / search`
///                   (+ UNSELECT)
fn command(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, name) = match atom(input) {
        Ok(found) => found,
        Err(_) if input.is_empty() || line_end(input).is_ok() => return fail("Missing command"),
        Err(_) => return fail("Invalid command name"),
    };
    let (rest, body) = match name.to_ascii_uppercase().as_slice() {
        b"CAPABILITY" => (rest, CommandBody::Capability),
        b"NOOP" => (rest, CommandBody::Noop),
        b"LOGOUT" => (rest, CommandBody::Logout),
        b"ID" => commands::id(rest)?,
        b"ENABLE" => commands::enable(rest)?,
        b"STARTTLS" => (rest, CommandBody::StartTls),
        b"LOGIN" => commands::login(rest)?,
        b"AUTHENTICATE" => commands::authenticate(rest)?,
        b"SELECT" => commands::select(rest)?,
        b"EXAMINE" => commands::examine(rest)?,
        b"CREATE" => commands::create(rest)?,
        b"DELETE" => commands::delete(rest)?,
        b"RENAME" => commands::rename(rest)?,
        b"SUBSCRIBE" => commands::subscribe(rest)?,
        b"UNSUBSCRIBE" => commands::unsubscribe(rest)?,
        b"LIST" => list::list(rest)?,
        b"LSUB" => commands::lsub(rest)?,
        b"NAMESPACE" => (rest, CommandBody::Namespace),
        b"STATUS" => commands::status(rest)?,
        b"APPEND" => commands::append(rest)?,
        b"IDLE" => (rest, CommandBody::Idle),
        b"COMPRESS" => commands::compress(rest)?,
        b"CHECK" => (rest, CommandBody::Check),
        b"CLOSE" => (rest, CommandBody::Close),
        b"UNSELECT" => (rest, CommandBody::Unselect),
        b"EXPUNGE" => (rest, CommandBody::Expunge),
        b"CANCELUPDATE" => commands::cancelupdate(rest)?,
        b"SEARCH" => search::search(rest, Numbering::Sequence)?,
        b"SORT" => search::sort(rest, Numbering::Sequence)?,
        b"THREAD" => search::thread(rest, Numbering::Sequence)?,
        b"FETCH" => fetch::fetch(rest, Numbering::Sequence)?,
        b"STORE" => commands::store(rest, Numbering::Sequence)?,
        b"COPY" => commands::copy(rest, Numbering::Sequence)?,
        b"MOVE" => commands::move_to(rest, Numbering::Sequence)?,
        b"UID" => uid(rest)?,
        _ => return fail(format!("Unknown command {}", printable(name))),
    };
    let (rest, _) = command_end(rest, body.name())?;
    Ok((rest, body))
}

/// `uid = "UID" SP (copy / fetch / search / store)`, plus RFC 4315
/// `"UID" SP "EXPUNGE" SP sequence-set`, RFC 6851 `"UID" SP move` and
/// RFC 5256 `"UID" SP (sort / thread)`.
fn uid(input: &[u8]) -> PResult<'_, CommandBody> {
    let (rest, name) = arg(input, "UID command", atom)?;
    match name.to_ascii_uppercase().as_slice() {
        b"COPY" => commands::copy(rest, Numbering::Uid),
        b"MOVE" => commands::move_to(rest, Numbering::Uid),
        b"FETCH" => fetch::fetch(rest, Numbering::Uid),
        b"SEARCH" => search::search(rest, Numbering::Uid),
        b"SORT" => search::sort(rest, Numbering::Uid),
        b"THREAD" => search::thread(rest, Numbering::Uid),
        b"STORE" => commands::store(rest, Numbering::Uid),
        b"EXPUNGE" => commands::uid_expunge(rest),
        _ => fail(format!("Unknown UID command {}", printable(name))),
    }
}

/// The final CRLF (or LF), and nothing after it.
fn command_end<'a>(input: &'a [u8], name: &str) -> PResult<'a, &'a [u8]> {
    if let Ok((rest, ())) = line_end(input) {
        if rest.is_empty() {
            return Ok((rest, rest));
        }
        return fail("Unexpected data after the end of the command");
    }
    match input.first() {
        Some(b' ') => fail(format!("Too many arguments to {name}")),
        Some(_) => fail(format!("Unexpected characters in {name} command")),
        None => fail("Missing CRLF at the end of the command"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::num::NonZeroU32;

    use chrono::DateTime;

    use super::ast::*;
    use super::*;
    use crate::types::{Flag, SeqBound, SeqRange, SequenceSet};

    /// Deterministic xorshift64* generator for the round-trip tests (no crate needed).
    pub(crate) struct Rng(u64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Self {
            Rng(seed | 1)
        }

        /// A number in `0..n` (`n` > 0).
        pub(crate) fn below(&mut self, n: u32) -> u32 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
            ((x >> 32) % u64::from(n.max(1))) as u32
        }
    }

    fn body(input: &[u8]) -> CommandBody {
        match parse_command(input) {
            Ok(cmd) => cmd.body,
            Err(e) => panic!("{}: {e:?}", String::from_utf8_lossy(input)),
        }
    }

    fn mbox(name: &str) -> MailboxName {
        MailboxName(name.as_bytes().to_vec())
    }

    fn message(
        flags: Vec<Flag>,
        date: Option<chrono::DateTime<chrono::FixedOffset>>,
        bytes: &[u8],
    ) -> AppendMessage {
        AppendMessage {
            flags,
            date,
            data: AppendData::Literal(bytes.to_vec()),
        }
    }

    fn set(text: &str) -> SequenceSet {
        match sequence::sequence_set(text.as_bytes()) {
            Ok((b"", s)) => s,
            other => panic!("bad test set {text}: {other:?}"),
        }
    }

    fn secret(s: &str) -> Secret {
        Secret(s.as_bytes().to_vec())
    }

    fn plain_list(reference: &str, pattern: &str) -> CommandBody {
        CommandBody::List {
            selection: vec![],
            reference: mbox(reference),
            patterns: vec![mbox(pattern)],
            returns: vec![],
        }
    }

    fn invalid(tag: &str, reason: &str) -> Result<Command, ParseError> {
        Err(ParseError::Invalid {
            tag: tag.into(),
            reason: reason.into(),
        })
    }

    #[test]
    fn every_command() {
        use CommandBody as C;
        let cases: Vec<(&[u8], CommandBody)> = vec![
            (b"a CAPABILITY\r\n", C::Capability),
            (b"a capability\r\n", C::Capability),
            (b"a NOOP\r\n", C::Noop),
            (b"a LOGOUT\r\n", C::Logout),
            (b"a ID NIL\r\n", C::Id(None)),
            (b"a ID ()\r\n", C::Id(Some(vec![]))),
            (
                b"a ID (\"name\" \"sodr\" \"version\" NIL \"os\" {5}\r\nLinux)\r\n",
                C::Id(Some(vec![
                    ("name".into(), Some("sodr".into())),
                    ("version".into(), None),
                    ("os".into(), Some("Linux".into())),
                ])),
            ),
            (
                b"a ENABLE CONDSTORE\r\n",
                C::Enable(vec!["CONDSTORE".into()]),
            ),
            (
                b"a ENABLE UTF8=ACCEPT X-Y\r\n",
                C::Enable(vec!["UTF8=ACCEPT".into(), "X-Y".into()]),
            ),
            (b"a STARTTLS\r\n", C::StartTls),
            (
                b"a LOGIN alice secret\r\n",
                C::Login {
                    username: secret("alice"),
                    password: secret("secret"),
                },
            ),
            (
                b"a LOGIN \"al ice\" \"p\\\"w\"\r\n",
                C::Login {
                    username: secret("al ice"),
                    password: secret("p\"w"),
                },
            ),
            (
                b"a LOGIN {5}\r\nalice {3+}\r\npwd\r\n",
                C::Login {
                    username: secret("alice"),
                    password: secret("pwd"),
                },
            ),
            (
                b"a AUTHENTICATE PLAIN\r\n",
                C::Authenticate {
                    mechanism: "PLAIN".into(),
                    initial_response: None,
                },
            ),
            (
                b"a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n",
                C::Authenticate {
                    mechanism: "PLAIN".into(),
                    initial_response: Some(secret("AGFsaWNlAHNlY3JldA==")),
                },
            ),
            (
                b"a AUTHENTICATE EXTERNAL =\r\n",
                C::Authenticate {
                    mechanism: "EXTERNAL".into(),
                    initial_response: Some(secret("")),
                },
            ),
            (
                b"a SELECT INBOX\r\n",
                C::Select {
                    mailbox: mbox("INBOX"),
                },
            ),
            (
                b"a select \"Sent Items\"\r\n",
                C::Select {
                    mailbox: mbox("Sent Items"),
                },
            ),
            (
                b"a EXAMINE {4}\r\nTrsh\r\n",
                C::Examine {
                    mailbox: mbox("Trsh"),
                },
            ),
            (
                b"a CREATE foo/bar\r\n",
                C::Create {
                    mailbox: mbox("foo/bar"),
                    special_use: None,
                },
            ),
            // RFC 6154 §3, §5.3: create-params with USE.
            (
                b"t1 CREATE \"Important Messages\" (USE (\\Flagged))\r\n",
                C::Create {
                    mailbox: mbox("Important Messages"),
                    special_use: Some(vec!["\\Flagged".into()]),
                },
            ),
            (
                b"a create Sent (use (\\Sent \\X-Mine))\r\n",
                C::Create {
                    mailbox: mbox("Sent"),
                    special_use: Some(vec!["\\Sent".into(), "\\X-Mine".into()]),
                },
            ),
            (
                b"a CREATE x (USE ())\r\n",
                C::Create {
                    mailbox: mbox("x"),
                    special_use: Some(vec![]),
                },
            ),
            (
                b"a DELETE foo\r\n",
                C::Delete {
                    mailbox: mbox("foo"),
                },
            ),
            (
                b"a RENAME foo bar\r\n",
                C::Rename {
                    from: mbox("foo"),
                    to: mbox("bar"),
                },
            ),
            (
                b"a SUBSCRIBE foo\r\n",
                C::Subscribe {
                    mailbox: mbox("foo"),
                },
            ),
            (
                b"a UNSUBSCRIBE foo\r\n",
                C::Unsubscribe {
                    mailbox: mbox("foo"),
                },
            ),
            (b"a LIST \"\" *\r\n", plain_list("", "*")),
            (b"a LIST mail/ %/x]\r\n", plain_list("mail/", "%/x]")),
            (
                b"a LSUB \"\" \"%\"\r\n",
                C::Lsub {
                    reference: mbox(""),
                    pattern: mbox("%"),
                },
            ),
            (b"a NAMESPACE\r\n", C::Namespace),
            (
                b"a STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN SIZE appendlimit Deleted)\r\n",
                C::Status {
                    mailbox: mbox("INBOX"),
                    items: vec![
                        StatusItem::Messages,
                        StatusItem::Recent,
                        StatusItem::UidNext,
                        StatusItem::UidValidity,
                        StatusItem::Unseen,
                        StatusItem::Size,
                        StatusItem::AppendLimit,
                        StatusItem::Deleted,
                    ],
                },
            ),
            (
                b"a APPEND INBOX {3}\r\nhi\n\r\n",
                C::Append {
                    mailbox: mbox("INBOX"),
                    messages: vec![message(vec![], None, b"hi\n")],
                },
            ),
            (
                b"a APPEND INBOX () \" 5-Mar-2024 10:00:00 +0100\" ~{3}\r\na\x00b\r\n",
                C::Append {
                    mailbox: mbox("INBOX"),
                    messages: vec![message(
                        vec![],
                        DateTime::parse_from_rfc3339("2024-03-05T10:00:00+01:00").ok(),
                        b"a\x00b",
                    )],
                },
            ),
            (
                b"a APPEND x \"05-Mar-2024 10:00:00 -0000\" {0+}\r\n\r\n",
                C::Append {
                    mailbox: mbox("x"),
                    messages: vec![message(
                        vec![],
                        DateTime::parse_from_rfc3339("2024-03-05T10:00:00+00:00").ok(),
                        b"",
                    )],
                },
            ),
            // MULTIAPPEND (RFC 3502): each message with its own options, any
            // literal form (sync, LITERAL+, literal8) in any position.
            (
                b"a APPEND INBOX {2}\r\nm1 (\\Seen) {2+}\r\nm2 \"05-Mar-2024 10:00:00 +0000\" ~{3}\r\nm\x003\r\n",
                C::Append {
                    mailbox: mbox("INBOX"),
                    messages: vec![
                        message(vec![], None, b"m1"),
                        message(vec![Flag::Seen], None, b"m2"),
                        message(
                            vec![],
                            DateTime::parse_from_rfc3339("2024-03-05T10:00:00+00:00").ok(),
                            b"m\x003",
                        ),
                    ],
                },
            ),
            (
                b"a APPEND x (\\Seen) \" 5-Mar-2024 10:00:00 +0100\" {1}\r\na () {1}\r\nb\r\n",
                C::Append {
                    mailbox: mbox("x"),
                    messages: vec![
                        message(
                            vec![Flag::Seen],
                            DateTime::parse_from_rfc3339("2024-03-05T10:00:00+01:00").ok(),
                            b"a",
                        ),
                        message(vec![], None, b"b"),
                    ],
                },
            ),
            (b"a IDLE\r\n", C::Idle),
            // RFC 4978 §3 example; algorithm names are case-insensitive.
            (
                b"a COMPRESS DEFLATE\r\n",
                C::Compress {
                    algorithm: CompressAlgorithm::Deflate,
                },
            ),
            (
                b"a compress deflate\r\n",
                C::Compress {
                    algorithm: CompressAlgorithm::Deflate,
                },
            ),
            (b"a CHECK\r\n", C::Check),
            (b"a CLOSE\r\n", C::Close),
            (b"a UNSELECT\r\n", C::Unselect),
            (b"a EXPUNGE\r\n", C::Expunge),
            (b"a UID EXPUNGE 3:5,9\r\n", C::UidExpunge(set("3:5,9"))),
            (
                b"a SEARCH ALL\r\n",
                C::Search {
                    charset: None,
                    criteria: SearchKey::All,
                    numbering: Numbering::Sequence,
                    ret: None,
                },
            ),
            (
                b"a UID SEARCH CHARSET UTF-8 UNSEEN\r\n",
                C::Search {
                    charset: Some("UTF-8".into()),
                    criteria: SearchKey::Unseen,
                    numbering: Numbering::Uid,
                    ret: None,
                },
            ),
            // RFC 4731 §3: search-return-opts, before CHARSET; () means ALL.
            (
                b"a UID SEARCH RETURN (MIN count max all) CHARSET UTF-8 UNSEEN\r\n",
                C::Search {
                    charset: Some("UTF-8".into()),
                    criteria: SearchKey::Unseen,
                    numbering: Numbering::Uid,
                    ret: Some(vec![
                        SearchReturn::Min,
                        SearchReturn::Count,
                        SearchReturn::Max,
                        SearchReturn::All,
                    ]),
                },
            ),
            (
                b"a SEARCH return () ALL\r\n",
                C::Search {
                    charset: None,
                    criteria: SearchKey::All,
                    numbering: Numbering::Sequence,
                    ret: Some(vec![]),
                },
            ),
            (
                b"a SEARCH RETURN (COUNT COUNT) SEEN\r\n",
                C::Search {
                    charset: None,
                    criteria: SearchKey::Seen,
                    numbering: Numbering::Sequence,
                    ret: Some(vec![SearchReturn::Count]),
                },
            ),
            (
                b"a FETCH 1 FAST\r\n",
                C::Fetch {
                    set: set("1"),
                    items: vec![
                        FetchAttribute::Flags,
                        FetchAttribute::InternalDate,
                        FetchAttribute::Rfc822Size,
                    ],
                    numbering: Numbering::Sequence,
                },
            ),
            (
                b"a UID FETCH 1:* (BINARY.PEEK[1.2]<0.100> BINARY.SIZE[] BINARY[3])\r\n",
                C::Fetch {
                    set: set("1:*"),
                    items: vec![
                        FetchAttribute::Binary {
                            part: vec![1, 2],
                            partial: Some(Partial {
                                origin: 0,
                                length: 100,
                            }),
                            peek: Peek::Peek,
                        },
                        FetchAttribute::BinarySize { part: vec![] },
                        FetchAttribute::Binary {
                            part: vec![3],
                            partial: None,
                            peek: Peek::SetSeen,
                        },
                    ],
                    numbering: Numbering::Uid,
                },
            ),
            (
                b"a uid fetch 1:* (UID FLAGS)\r\n",
                C::Fetch {
                    set: set("1:*"),
                    items: vec![FetchAttribute::Uid, FetchAttribute::Flags],
                    numbering: Numbering::Uid,
                },
            ),
            (
                b"a STORE 1 FLAGS \\Seen $Junk\r\n",
                C::Store {
                    set: set("1"),
                    mode: StoreMode::Replace,
                    response: StoreResponse::Answer,
                    flags: vec![Flag::Seen, Flag::Keyword("$Junk".into())],
                    numbering: Numbering::Sequence,
                },
            ),
            (
                b"a UID STORE 7 -flags.silent ()\r\n",
                C::Store {
                    set: set("7"),
                    mode: StoreMode::Remove,
                    response: StoreResponse::Silent,
                    flags: vec![],
                    numbering: Numbering::Uid,
                },
            ),
            (
                b"a STORE 1 +FLAGS.SILENT (\\Flagged \\Draft \\X)\r\n",
                C::Store {
                    set: set("1"),
                    mode: StoreMode::Add,
                    response: StoreResponse::Silent,
                    flags: vec![Flag::Flagged, Flag::Draft, Flag::Extension("X".into())],
                    numbering: Numbering::Sequence,
                },
            ),
            (
                b"a COPY 1:3 Archive\r\n",
                C::Copy {
                    set: set("1:3"),
                    mailbox: mbox("Archive"),
                    numbering: Numbering::Sequence,
                },
            ),
            (
                b"a UID COPY 5 \"Old Mail\"\r\n",
                C::Copy {
                    set: set("5"),
                    mailbox: mbox("Old Mail"),
                    numbering: Numbering::Uid,
                },
            ),
            // RFC 6851 §4: move = "MOVE" SP sequence-set SP mailbox; "UID" SP move.
            (
                b"a MOVE 1:3,7 Trash\r\n",
                C::Move {
                    set: set("1:3,7"),
                    mailbox: mbox("Trash"),
                    numbering: Numbering::Sequence,
                },
            ),
            (
                b"a uid move 5:* \"Deleted Items\"\r\n",
                C::Move {
                    set: set("5:*"),
                    mailbox: mbox("Deleted Items"),
                    numbering: Numbering::Uid,
                },
            ),
            // RFC 5256 §4: sort = ["UID" SP] "SORT" SP sort-criteria SP
            // search-criteria; sort-criterion = ["REVERSE" SP] sort-key.
            (
                b"a SORT (SUBJECT REVERSE DATE) UTF-8 ALL\r\n",
                C::Sort {
                    criteria: vec![
                        SortCriterion {
                            reverse: false,
                            key: SortKey::Subject,
                        },
                        SortCriterion {
                            reverse: true,
                            key: SortKey::Date,
                        },
                    ],
                    charset: "UTF-8".into(),
                    search: SearchKey::All,
                    numbering: Numbering::Sequence,
                    ret: None,
                },
            ),
            // RFC 5957 §3.1: sort-key =/ "DISPLAYFROM" / "DISPLAYTO"; the
            // RFC 5256 §4 example with a search-key list.
            (
                b"a uid sort (reverse displayfrom arrival cc from size to displayto) \"US-ASCII\" SINCE 1-Feb-1994 UNDELETED\r\n",
                C::Sort {
                    criteria: [
                        (true, SortKey::DisplayFrom),
                        (false, SortKey::Arrival),
                        (false, SortKey::Cc),
                        (false, SortKey::From),
                        (false, SortKey::Size),
                        (false, SortKey::To),
                        (false, SortKey::DisplayTo),
                    ]
                    .into_iter()
                    .map(|(reverse, key)| SortCriterion { reverse, key })
                    .collect(),
                    charset: "US-ASCII".into(),
                    search: SearchKey::And(vec![
                        SearchKey::Since(
                            chrono::NaiveDate::from_ymd_opt(1994, 2, 1).unwrap_or_default(),
                        ),
                        SearchKey::Undeleted,
                    ]),
                    numbering: Numbering::Uid,
                    ret: None,
                },
            ),
            // RFC 5267 §3: sort =/ "SORT" [search-return-opts] SP ...
            (
                b"a SORT RETURN (MIN COUNT) (ARRIVAL) US-ASCII 1:5\r\n",
                C::Sort {
                    criteria: vec![SortCriterion {
                        reverse: false,
                        key: SortKey::Arrival,
                    }],
                    charset: "US-ASCII".into(),
                    search: SearchKey::SequenceSet(set("1:5")),
                    numbering: Numbering::Sequence,
                    ret: Some(vec![SearchReturn::Min, SearchReturn::Count]),
                },
            ),
            // RFC 5267 §5: search-return-opt =/ modifier-context /
            // modifier-partial / modifier-update; partial-range in either order.
            (
                b"a UID SORT RETURN (partial 30:21 Update context) (DATE) UTF-8 ALL\r\n",
                C::Sort {
                    criteria: vec![SortCriterion {
                        reverse: false,
                        key: SortKey::Date,
                    }],
                    charset: "UTF-8".into(),
                    search: SearchKey::All,
                    numbering: Numbering::Uid,
                    ret: Some(vec![
                        SearchReturn::Partial(PartialRange { first: 21, last: 30 }),
                        SearchReturn::Update,
                        SearchReturn::Context,
                    ]),
                },
            ),
            (
                b"a SEARCH RETURN (UPDATE COUNT) DELETED\r\n",
                C::Search {
                    charset: None,
                    criteria: SearchKey::Deleted,
                    numbering: Numbering::Sequence,
                    ret: Some(vec![SearchReturn::Update, SearchReturn::Count]),
                },
            ),
            // RFC 5267 §5: command-select =/ "CANCELUPDATE" 1*(SP quoted).
            (
                b"a CANCELUPDATE \"B01\" \"x]y\"\r\n",
                C::CancelUpdate(vec!["B01".into(), "x]y".into()]),
            ),
            // RFC 5182 §3: sequence-set =/ seq-last-command; seq-last-command = "$";
            // search-return-opt =/ "SAVE".
            (
                b"a UID FETCH $ (UID)\r\n",
                C::Fetch {
                    set: SequenceSet::saved(),
                    items: vec![FetchAttribute::Uid],
                    numbering: Numbering::Uid,
                },
            ),
            (
                b"a SEARCH RETURN (SAVE MIN) NOT $\r\n",
                C::Search {
                    charset: None,
                    criteria: SearchKey::Not(Box::new(SearchKey::SequenceSet(SequenceSet::saved()))),
                    numbering: Numbering::Sequence,
                    ret: Some(vec![SearchReturn::Save, SearchReturn::Min]),
                },
            ),
            // RFC 5256 §4: thread = ["UID" SP] "THREAD" SP thread-alg SP
            // search-criteria.
            (
                b"a THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000\r\n",
                C::Thread {
                    algorithm: ThreadAlgorithm::OrderedSubject,
                    charset: "UTF-8".into(),
                    search: SearchKey::Since(
                        chrono::NaiveDate::from_ymd_opt(2000, 3, 5).unwrap_or_default(),
                    ),
                    numbering: Numbering::Sequence,
                },
            ),
            (
                b"a UID THREAD references us-ascii all\r\n",
                C::Thread {
                    algorithm: ThreadAlgorithm::References,
                    charset: "us-ascii".into(),
                    search: SearchKey::All,
                    numbering: Numbering::Uid,
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(body(input), expected, "{}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn rfc3501_section6_examples() {
        use CommandBody as C;
        let message = b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n\
From: Fred Foobar <foobar@Blurdybloop.COM>\r\n\
Subject: afternoon meeting\r\n\
To: mooch@owatagu.siam.edu\r\n\
Message-Id: <B27397-0100000@Blurdybloop.COM>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\
\r\n\
Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
        assert_eq!(message.len(), 310);
        let append = [
            &b"A003 APPEND saved-messages (\\Seen) {310}\r\n"[..],
            message,
            b"\r\n",
        ]
        .concat();
        let since = chrono::NaiveDate::from_ymd_opt(1994, 2, 1).expect("valid date");
        let cases: Vec<(Vec<u8>, &str, CommandBody)> = vec![
            (b"abcd CAPABILITY\r\n".to_vec(), "abcd", C::Capability),
            (b"a002 NOOP\r\n".to_vec(), "a002", C::Noop),
            (b"A023 LOGOUT\r\n".to_vec(), "A023", C::Logout),
            (b"a001 STARTTLS\r\n".to_vec(), "a001", C::StartTls),
            (
                b"A001 AUTHENTICATE GSSAPI\r\n".to_vec(),
                "A001",
                C::Authenticate {
                    mechanism: "GSSAPI".into(),
                    initial_response: None,
                },
            ),
            (
                b"a001 LOGIN SMITH SESAME\r\n".to_vec(),
                "a001",
                C::Login {
                    username: secret("SMITH"),
                    password: secret("SESAME"),
                },
            ),
            (
                b"A142 SELECT INBOX\r\n".to_vec(),
                "A142",
                C::Select {
                    mailbox: mbox("INBOX"),
                },
            ),
            (
                b"A932 EXAMINE blurdybloop\r\n".to_vec(),
                "A932",
                C::Examine {
                    mailbox: mbox("blurdybloop"),
                },
            ),
            (
                b"A003 CREATE owatagusiam/\r\n".to_vec(),
                "A003",
                C::Create {
                    mailbox: mbox("owatagusiam/"),
                    special_use: None,
                },
            ),
            (
                b"A683 DELETE blurdybloop\r\n".to_vec(),
                "A683",
                C::Delete {
                    mailbox: mbox("blurdybloop"),
                },
            ),
            (
                b"A683 RENAME blurdybloop sarasoop\r\n".to_vec(),
                "A683",
                C::Rename {
                    from: mbox("blurdybloop"),
                    to: mbox("sarasoop"),
                },
            ),
            (
                b"A002 SUBSCRIBE #news.comp.mail.mime\r\n".to_vec(),
                "A002",
                C::Subscribe {
                    mailbox: mbox("#news.comp.mail.mime"),
                },
            ),
            (
                b"A002 UNSUBSCRIBE #news.comp.mail.mime\r\n".to_vec(),
                "A002",
                C::Unsubscribe {
                    mailbox: mbox("#news.comp.mail.mime"),
                },
            ),
            (
                b"A101 LIST \"\" \"\"\r\n".to_vec(),
                "A101",
                plain_list("", ""),
            ),
            (
                b"A102 LIST #news.comp.mail.misc \"\"\r\n".to_vec(),
                "A102",
                plain_list("#news.comp.mail.misc", ""),
            ),
            (
                b"A202 LIST ~/Mail/ %\r\n".to_vec(),
                "A202",
                plain_list("~/Mail/", "%"),
            ),
            (
                b"A002 LSUB \"#news.\" \"comp.mail.*\"\r\n".to_vec(),
                "A002",
                C::Lsub {
                    reference: mbox("#news."),
                    pattern: mbox("comp.mail.*"),
                },
            ),
            (
                b"A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n".to_vec(),
                "A042",
                C::Status {
                    mailbox: mbox("blurdybloop"),
                    items: vec![StatusItem::UidNext, StatusItem::Messages],
                },
            ),
            (
                append,
                "A003",
                C::Append {
                    mailbox: mbox("saved-messages"),
                    messages: vec![self::message(vec![Flag::Seen], None, message)],
                },
            ),
            (b"FXXZ CHECK\r\n".to_vec(), "FXXZ", C::Check),
            (b"A341 CLOSE\r\n".to_vec(), "A341", C::Close),
            (b"A202 EXPUNGE\r\n".to_vec(), "A202", C::Expunge),
            (
                b"A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n".to_vec(),
                "A282",
                C::Search {
                    charset: None,
                    criteria: SearchKey::And(vec![
                        SearchKey::Flagged,
                        SearchKey::Since(since),
                        SearchKey::Not(Box::new(SearchKey::From("Smith".into()))),
                    ]),
                    numbering: Numbering::Sequence,
                    ret: None,
                },
            ),
            (
                b"A283 SEARCH TEXT \"string not in mailbox\"\r\n".to_vec(),
                "A283",
                C::Search {
                    charset: None,
                    criteria: SearchKey::Text("string not in mailbox".into()),
                    numbering: Numbering::Sequence,
                    ret: None,
                },
            ),
            (
                b"A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX\r\n".to_vec(),
                "A284",
                C::Search {
                    charset: Some("UTF-8".into()),
                    criteria: SearchKey::Text("XXXXXX".into()),
                    numbering: Numbering::Sequence,
                    ret: None,
                },
            ),
            (
                b"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n".to_vec(),
                "A654",
                C::Fetch {
                    set: set("2:4"),
                    items: vec![
                        FetchAttribute::Flags,
                        FetchAttribute::BodySection {
                            section: Section {
                                part: vec![],
                                text: Some(SectionText::HeaderFields(vec![
                                    "DATE".into(),
                                    "FROM".into(),
                                ])),
                            },
                            partial: None,
                            peek: Peek::SetSeen,
                        },
                    ],
                    numbering: Numbering::Sequence,
                },
            ),
            (
                b"A003 STORE 2:4 +FLAGS (\\Deleted)\r\n".to_vec(),
                "A003",
                C::Store {
                    set: set("2:4"),
                    mode: StoreMode::Add,
                    response: StoreResponse::Answer,
                    flags: vec![Flag::Deleted],
                    numbering: Numbering::Sequence,
                },
            ),
            (
                b"A003 COPY 2:4 MEETING\r\n".to_vec(),
                "A003",
                C::Copy {
                    set: set("2:4"),
                    mailbox: mbox("MEETING"),
                    numbering: Numbering::Sequence,
                },
            ),
            (
                b"A999 UID FETCH 4827313:4828442 FLAGS\r\n".to_vec(),
                "A999",
                C::Fetch {
                    set: set("4827313:4828442"),
                    items: vec![FetchAttribute::Flags],
                    numbering: Numbering::Uid,
                },
            ),
        ];
        for (input, tag, expected) in cases {
            let expected = Command {
                tag: tag.into(),
                body: expected,
            };
            assert_eq!(
                parse_command(&input),
                Ok(expected),
                "{}",
                String::from_utf8_lossy(&input)
            );
        }
    }

    #[test]
    fn bare_lf_line_ends() {
        assert_eq!(body(b"a NOOP\n"), CommandBody::Noop);
        assert_eq!(
            body(b"a LOGIN {5}\nalice pw\n"),
            CommandBody::Login {
                username: secret("alice"),
                password: secret("pw")
            }
        );
        assert_eq!(
            parse_command(b"a NOOP\r\r\n"),
            invalid("a", "Unexpected characters in NOOP command")
        );
        assert_eq!(
            parse_command(b"a NOOP\r"),
            invalid("a", "Unexpected characters in NOOP command")
        );
    }

    #[test]
    fn tags() {
        let tag = |input: &[u8]| parse_command(input).map(|c| c.tag);
        assert_eq!(tag(b"A001 NOOP\r\n"), Ok("A001".into()));
        assert_eq!(tag(b"a]b.c-d NOOP\r\n"), Ok("a]b.c-d".into()));
        assert_eq!(tag(b"~!#$&'=@^_` NOOP\r\n"), Ok("~!#$&'=@^_`".into()));
        for bad in [
            &b"+ NOOP\r\n"[..],
            b"a+ NOOP\r\n",
            b"* NOOP\r\n",
            b"(a NOOP\r\n",
            b"a(b NOOP\r\n",
            b"\"a\" NOOP\r\n",
            b"\xe9 NOOP\r\n",
            b"a\x00 NOOP\r\n",
            b" NOOP\r\n",
        ] {
            assert_eq!(
                parse_command(bad),
                Err(ParseError::NoTag),
                "{}",
                printable(bad)
            );
        }
    }

    #[test]
    fn malformed_inputs() {
        let ten_thousand = format!(
            "a SEARCH {}ALL{}\r\n",
            "(".repeat(10_000),
            ")".repeat(10_000)
        );
        let cases: Vec<(&[u8], Result<Command, ParseError>)> = vec![
            (b"", Err(ParseError::NoTag)),
            (b"\r\n", Err(ParseError::NoTag)),
            (b"\n", Err(ParseError::NoTag)),
            (b"a\r\n", invalid("a", "Missing command")),
            (b"a", invalid("a", "Missing command")),
            (b"a \r\n", invalid("a", "Missing command")),
            (b"a (NOOP)\r\n", invalid("a", "Invalid command name")),
            (b"a FOO\r\n", invalid("a", "Unknown command FOO")),
            (
                b"a NOOP",
                invalid("a", "Missing CRLF at the end of the command"),
            ),
            (
                b"a NOOP extra\r\n",
                invalid("a", "Too many arguments to NOOP"),
            ),
            (
                b"a NOOP\r\nb NOOP\r\n",
                invalid("a", "Unexpected data after the end of the command"),
            ),
            (b"a FETCH\r\n", invalid("a", "Missing sequence set")),
            (b"a FETCH 1\r\n", invalid("a", "Missing fetch attributes")),
            (b"a FETCH 0 FLAGS\r\n", invalid("a", "Invalid sequence set")),
            (
                b"a FETCH 1:0 FLAGS\r\n",
                invalid("a", "Invalid sequence set"),
            ),
            (
                b"a FETCH 4294967296 FLAGS\r\n",
                invalid("a", "Number 4294967296 is too large"),
            ),
            (
                b"a FETCH 1:* BODY[1.0]\r\n",
                invalid("a", "Invalid section part number"),
            ),
            (
                b"a FETCH 1 BODY[MIME]\r\n",
                invalid("a", "MIME section requires a part number"),
            ),
            (
                b"a FETCH 1 (FLAGS\r\n",
                invalid("a", "Missing ')' after fetch attributes"),
            ),
            (
                b"a FETCH 1 FLAGS)\r\n",
                invalid("a", "Unexpected characters in FETCH command"),
            ),
            (
                b"a FETCH 1 FLAGS UID\r\n",
                invalid("a", "Too many arguments to FETCH"),
            ),
            (
                b"a SEARCH (SEEN\r\n",
                invalid("a", "Missing ')' after search keys"),
            ),
            (
                b"a SEARCH SEEN)\r\n",
                invalid("a", "Unexpected characters in SEARCH command"),
            ),
            (
                ten_thousand.as_bytes(),
                invalid("a", "Search keys nested deeper than 64"),
            ),
            (
                b"a STORE 1 +FLAGS (\\Seen\r\n",
                invalid("a", "Missing ')' after flags"),
            ),
            (
                b"a STORE 1 FLAGGED \\Seen\r\n",
                invalid("a", "Unknown store item FLAGGED"),
            ),
            (b"a STORE 1 +FLAGS\r\n", invalid("a", "Missing flags")),
            (b"a STORE 1 FLAGS \\*\r\n", invalid("a", "Invalid flags")),
            (
                b"a STATUS INBOX ()\r\n",
                invalid("a", "Invalid status item"),
            ),
            (
                b"a STATUS INBOX (MESSAGES FOO)\r\n",
                invalid("a", "Unknown status item FOO"),
            ),
            (b"a STATUS INBOX\r\n", invalid("a", "Missing status items")),
            (b"a SELECT\r\n", invalid("a", "Missing mailbox name")),
            (
                b"a SELECT INBOX (CONDSTORE)\r\n",
                invalid("a", "Too many arguments to SELECT"),
            ),
            (
                b"a RENAME foo\r\n",
                invalid("a", "Missing new mailbox name"),
            ),
            (b"a LIST \"\"\r\n", invalid("a", "Missing mailbox pattern")),
            (b"a LOGIN alice\r\n", invalid("a", "Missing password")),
            (
                b"a LOGIN {20}\r\nalice pw\r\n",
                invalid("a", "Literal is shorter than its announced length"),
            ),
            (
                b"a LOGIN {99999999999}\r\nx\r\n",
                invalid("a", "Number 99999999999 is too large"),
            ),
            (
                b"a LOGIN {3}\r\na\x00b pw\r\n",
                invalid("a", "NUL octet in literal"),
            ),
            (
                b"a LOGIN \"a\x00b\" pw\r\n",
                invalid("a", "Invalid user name"),
            ),
            (
                b"a LOGIN al\x00ice pw\r\n",
                invalid("a", "Invalid password"),
            ),
            (
                b"a SELECT IN\xc3\xa9BOX\r\n",
                invalid("a", "Unexpected characters in SELECT command"),
            ),
            (b"a SELECT \xe9\r\n", invalid("a", "Invalid mailbox name")),
            (
                b"a SELECT \"caf\xe9\"\r\n",
                invalid("a", "Invalid mailbox name"),
            ),
            (
                b"a FETCH 1 FL\xe9GS\r\n",
                invalid("a", "Unknown fetch attribute FL"),
            ),
            (b"a N\xc3\x96OP\r\n", invalid("a", "Unknown command N")),
            (
                b"a AUTHENTICATE PLAIN abc\r\n",
                invalid("a", "Invalid initial response"),
            ),
            (
                b"a AUTHENTICATE PLAIN a=bc\r\n",
                invalid("a", "Invalid initial response"),
            ),
            (
                b"a AUTHENTICATE PLAIN ab===\r\n",
                invalid("a", "Invalid initial response"),
            ),
            (b"a ID (\"a\")\r\n", invalid("a", "Missing ID field value")),
            (
                b"a ID (\"a\" \"b\"\r\n",
                invalid("a", "Missing ')' after ID parameters"),
            ),
            (b"a ID (a b)\r\n", invalid("a", "Invalid ID field name")),
            (b"a ENABLE\r\n", invalid("a", "Missing capability name")),
            (
                b"a APPEND INBOX\r\n",
                invalid("a", "Missing message literal"),
            ),
            (
                b"a APPEND INBOX (\\Seen)\r\n",
                invalid("a", "Missing message literal"),
            ),
            (
                b"a APPEND INBOX \"5-Mar-2024 10:00:00 +0100\" {1}\r\nx\r\n",
                invalid("a", "Invalid date-time"),
            ),
            (
                b"a APPEND INBOX {4}\r\na\x00bc\r\n",
                invalid("a", "NUL octet in literal"),
            ),
            (
                b"a APPEND INBOX {40}\r\nshort\r\n",
                invalid("a", "Literal is shorter than its announced length"),
            ),
            (
                b"a APPEND INBOX \"msg\"\r\n",
                invalid("a", "Invalid date-time"),
            ),
            (
                b"a APPEND INBOX msg\r\n",
                invalid("a", "Invalid message literal"),
            ),
            // RFC 3502: a second message is all or nothing too.
            (
                b"a APPEND INBOX {1}\r\nx \r\n",
                invalid("a", "Invalid message literal"),
            ),
            (
                b"a APPEND INBOX {1}\r\nx (\\Seen)\r\n",
                invalid("a", "Missing message literal"),
            ),
            (
                b"a APPEND INBOX {1}\r\nx \"5-Mar-2024 10:00:00 +0100\" {1}\r\ny\r\n",
                invalid("a", "Invalid date-time"),
            ),
            (
                b"a APPEND INBOX {1}\r\nx {1}\r\n\x00\r\n",
                invalid("a", "NUL octet in literal"),
            ),
            (
                b"a APPEND INBOX {1}\r\nx{1}\r\ny\r\n",
                invalid("a", "Unexpected characters in APPEND command"),
            ),
            (b"a UID\r\n", invalid("a", "Missing UID command")),
            (b"a UID NOOP\r\n", invalid("a", "Unknown UID command NOOP")),
            (b"a UID EXPUNGE\r\n", invalid("a", "Missing sequence set")),
            (b"a COPY 1\r\n", invalid("a", "Missing mailbox name")),
            (b"a MOVE 1\r\n", invalid("a", "Missing mailbox name")),
            (
                b"a SEARCH RETURN (PARTIAL) ALL\r\n",
                invalid("a", "PARTIAL needs a range"),
            ),
            (
                b"a SEARCH RETURN (PARTIAL 1) ALL\r\n",
                invalid("a", "Invalid PARTIAL range"),
            ),
            (
                b"a SEARCH RETURN (PARTIAL 1:*) ALL\r\n",
                invalid("a", "Invalid PARTIAL range"),
            ),
            (
                b"a SORT RETURN (PARTIAL *:1) (ARRIVAL) US-ASCII ALL\r\n",
                invalid("a", "Invalid PARTIAL range"),
            ),
            (
                b"a SEARCH RETURN (PARTIAL 0:5) ALL\r\n",
                invalid("a", "Invalid PARTIAL range"),
            ),
            (
                b"a SEARCH RETURN (PARTIAL 1:99999999999) ALL\r\n",
                invalid("a", "Invalid PARTIAL range"),
            ),
            (
                b"a SEARCH RETURN (PARTIAL -1:5) ALL\r\n",
                invalid("a", "Invalid PARTIAL range"),
            ),
            (
                b"a SEARCH RETURN (ALL PARTIAL 1:5) ALL\r\n",
                invalid("a", "RETURN may hold one PARTIAL or ALL, not both"),
            ),
            (
                b"a SEARCH RETURN (PARTIAL 1:5 PARTIAL 6:9) ALL\r\n",
                invalid("a", "RETURN may hold one PARTIAL or ALL, not both"),
            ),
            (b"a CANCELUPDATE\r\n", invalid("a", "Missing tag to cancel")),
            (
                b"a CANCELUPDATE B01\r\n",
                invalid("a", "Invalid tag to cancel"),
            ),
            (
                b"a CANCELUPDATE \"B01\" {3}\r\nB02\r\n",
                invalid("a", "Invalid tag to cancel"),
            ),
            (
                b"a SEARCH RETURN (MIN ALL\r\n",
                invalid("a", "Invalid RETURN options"),
            ),
            (
                b"a SEARCH RETURN (MIN)ALL\r\n",
                invalid("a", "Invalid search criteria"),
            ),
            (
                b"a UID MOVE x Trash\r\n",
                invalid("a", "Invalid sequence set"),
            ),
            (b"a SORT\r\n", invalid("a", "Missing sort criteria")),
            (
                b"a FETCH $1 UID\r\n",
                invalid("a", "$ stands alone in a sequence set"),
            ),
            (b"a COPY 1,$ x\r\n", invalid("a", "Invalid sequence set")),
            (
                b"a SORT () UTF-8 ALL\r\n",
                invalid("a", "Invalid sort criteria"),
            ),
            (
                b"a SORT (DATE UTF-8 ALL\r\n",
                invalid("a", "Unknown sort key UTF-8"),
            ),
            (b"a SORT (DATE\r\n", invalid("a", "Invalid sort criteria")),
            (
                b"a SORT (THREAD) UTF-8 ALL\r\n",
                invalid("a", "Unknown sort key THREAD"),
            ),
            (
                b"a SORT (REVERSE) UTF-8 ALL\r\n",
                invalid("a", "Missing sort key after REVERSE"),
            ),
            // The charset is not optional in SORT and THREAD.
            (b"a SORT (DATE)\r\n", invalid("a", "Missing charset")),
            (
                b"a SORT (DATE) ALL\r\n",
                invalid("a", "Missing search criteria"),
            ),
            (
                b"a UID THREAD\r\n",
                invalid("a", "Missing threading algorithm"),
            ),
            (
                b"a THREAD REFS UTF-8 ALL\r\n",
                invalid("a", "Unknown threading algorithm REFS"),
            ),
            (
                b"a THREAD REFERENCES UTF-8\r\n",
                invalid("a", "Missing search criteria"),
            ),
            (
                b"a CREATE x (FOO)\r\n",
                invalid("a", "Unknown CREATE parameter FOO"),
            ),
            (
                b"a CREATE x (USE (Sent))\r\n",
                invalid("a", "Invalid USE attribute"),
            ),
            (
                b"a CREATE x (USE (\\Sent) USE (\\Trash))\r\n",
                invalid("a", "Only one USE parameter is allowed"),
            ),
            (
                b"a CREATE x (USE)\r\n",
                invalid("a", "Missing USE attributes"),
            ),
            (
                b"a CREATE x (USE (\\Sent)\r\n",
                invalid("a", "Missing ')' after CREATE parameters"),
            ),
            (
                b"a CREATE x (USE (\\Sent \\)))\r\n",
                invalid("a", "Invalid USE attribute"),
            ),
            (
                b"a CREATE x ()\r\n",
                invalid("a", "Invalid CREATE parameter"),
            ),
            (
                b"a FETCH 1 BINARY[1.TEXT]\r\n",
                invalid("a", "Invalid binary section: part numbers only"),
            ),
            (
                b"a FETCH 1 (BINARY.SIZE[1]<0.5>)\r\n",
                invalid("a", "BINARY.SIZE takes no partial range"),
            ),
            // RFC 4978 §3: an unknown algorithm is BAD, like a syntax error.
            (
                b"a COMPRESS\r\n",
                invalid("a", "Missing compression algorithm"),
            ),
            (
                b"a COMPRESS GZIP\r\n",
                invalid("a", "Unknown compression algorithm GZIP"),
            ),
            (
                b"a COMPRESS \"DEFLATE\"\r\n",
                invalid("a", "Invalid compression algorithm"),
            ),
            (
                b"a COMPRESS DEFLATE DEFLATE\r\n",
                invalid("a", "Too many arguments to COMPRESS"),
            ),
            (
                b"a COMPRESS  DEFLATE\r\n",
                invalid("a", "Invalid compression algorithm"),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_command(input), expected, "{}", printable(input));
        }
    }

    /// Every prefix and every single-byte corruption of valid commands: no panic.
    #[test]
    fn mutations_never_panic() {
        let seeds: &[&[u8]] = &[
            b"a FETCH 2:4 (FLAGS BODY.PEEK[1.2.HEADER.FIELDS.NOT (DATE \"FROM\")]<0.100>)\r\n",
            b"a UID SEARCH CHARSET UTF-8 OR (NOT FROM {3}\r\nabc) HEADER X \"\" SINCE \"1-Feb-1994\"\r\n",
            b"a APPEND INBOX (\\Seen k) \" 1-Jan-2000 00:00:00 +0000\" ~{2+}\r\nhi\r\n",
            b"a APPEND INBOX {2+}\r\nhi (\\Seen) \" 1-Jan-2000 00:00:00 +0000\" ~{2+}\r\nh\x00 {0}\r\n\r\n",
            b"a APPEND x CATENATE (URL \"/x;UIDVALIDITY=9/;UID=1/;SECTION=1.MIME\" TEXT ~{2}\r\nh\x00 URL u) (\\Seen) CATENATE (TEXT {1+}\r\nx)\r\n",
            b"a STORE 1,2:* +FLAGS.SILENT \\Seen\r\n",
            b"a UID FETCH 1:* (BINARY.PEEK[1.2]<0.100> BINARY.SIZE[] BINARY[3])\r\n",
            b"a ID (\"k\" NIL)\r\n",
            b"a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n",
            b"a UID SORT RETURN (ALL) (REVERSE SUBJECT DISPLAYTO) UTF-8 OR 1:3 TEXT x\r\n",
            b"a THREAD REFERENCES US-ASCII (UNSEEN SINCE 1-Feb-1994)\r\n",
            b"a UID SEARCH RETURN (SAVE) UID $ OR $ 1:*\r\n",
            b"a SORT RETURN (PARTIAL 10:1 UPDATE CONTEXT) (ARRIVAL) UTF-8 ALL\r\n",
            b"a CANCELUPDATE \"B01\" \"B02\"\r\n",
            b"a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (% {3}\r\na/b) RETURN (CHILDREN STATUS (UNSEEN SIZE))\r\n",
            b"a LIST (SPECIAL-USE) \"\" \"*\" RETURN (SPECIAL-USE SUBSCRIBED)\r\n",
            b"a CREATE Sent (USE (\\Sent \\Archive))\r\n",
            b"a COMPRESS DEFLATE\r\n",
            // IMAP4rev2 (parse_command_rev2): UTF-8 quoted strings, number64.
            "a RENAME \"Caf\u{e9}\" \"\u{65e5}\u{672c}/\u{1f600}\"\r\n".as_bytes(),
            b"a SEARCH LARGER 9223372036854775807 SMALLER 4294967296 SUBJECT \"\xc3\xa9\"\r\n",
        ];
        let mut rng = Rng::new(0x5eed_0004);
        let parse_command = |input: &[u8]| {
            let _ = parse_command_rev2(input);
            parse_command(input)
        };
        for seed in seeds {
            for len in 0..=seed.len() {
                let _ = parse_command(seed.get(..len).unwrap_or_default());
            }
            for _ in 0..500 {
                let mut mutated = seed.to_vec();
                let at = rng.below(mutated.len() as u32) as usize;
                if let Some(b) = mutated.get_mut(at) {
                    *b = rng.below(256) as u8;
                }
                let _ = parse_command(&mutated);
            }
        }
    }

    /// RFC 4978 `compress`: the algorithm's capability name parses back to it.
    #[test]
    fn compress_round_trip() {
        let algorithm = CompressAlgorithm::Deflate;
        let text = format!("z COMPRESS {}\r\n", algorithm.name());
        assert_eq!(body(text.as_bytes()), CommandBody::Compress { algorithm });
    }

    #[test]
    fn round_trip_whole_commands() {
        let mut rng = Rng::new(0x5eed_0005);
        for _ in 0..500 {
            let numbering = if rng.below(2) == 0 {
                Numbering::Sequence
            } else {
                Numbering::Uid
            };
            let uid = if numbering == Numbering::Uid {
                "UID "
            } else {
                ""
            };

            let set = sequence::tests::random_set(&mut rng);
            let criteria = search::tests::random_key(&mut rng, 1);
            let text = [
                format!("s {uid}SEARCH ").into_bytes(),
                search::tests::render_key(&criteria),
                b"\r\n".to_vec(),
            ]
            .concat();
            let expected = CommandBody::Search {
                charset: None,
                criteria,
                numbering,
                ret: None,
            };
            assert_eq!(body(&text), expected, "{}", String::from_utf8_lossy(&text));

            let items = [FetchAttribute::Uid, FetchAttribute::Flags];
            let rendered: Vec<String> = items.iter().map(fetch::tests::render_att).collect();
            let text = format!("f {uid}FETCH {set} ({})\r\n", rendered.join(" "));
            let expected = CommandBody::Fetch {
                set: set.clone(),
                items: items.to_vec(),
                numbering,
            };
            assert_eq!(body(text.as_bytes()), expected, "{text}");

            let text = format!("c {uid}COPY {set} Trash\r\n");
            let expected = CommandBody::Copy {
                set: set.clone(),
                mailbox: mbox("Trash"),
                numbering,
            };
            assert_eq!(body(text.as_bytes()), expected, "{text}");

            let text = format!("m {uid}MOVE {set} Trash\r\n");
            let expected = CommandBody::Move {
                set,
                mailbox: mbox("Trash"),
                numbering,
            };
            assert_eq!(body(text.as_bytes()), expected, "{text}");

            // SORT with random criteria over the same random search key.
            const KEYS: [(&str, SortKey); 9] = [
                ("ARRIVAL", SortKey::Arrival),
                ("CC", SortKey::Cc),
                ("DATE", SortKey::Date),
                ("FROM", SortKey::From),
                ("SIZE", SortKey::Size),
                ("SUBJECT", SortKey::Subject),
                ("TO", SortKey::To),
                ("DISPLAYFROM", SortKey::DisplayFrom),
                ("DISPLAYTO", SortKey::DisplayTo),
            ];
            let mut words = Vec::new();
            let mut sort_criteria = Vec::new();
            for _ in 0..=rng.below(3) {
                let (name, key) = KEYS[rng.below(9) as usize];
                let reverse = rng.below(2) == 0;
                words.push(if reverse {
                    format!("REVERSE {name}")
                } else {
                    name.to_string()
                });
                sort_criteria.push(SortCriterion { reverse, key });
            }
            let search_key = search::tests::random_key(&mut rng, 1);
            let text = [
                format!("o {uid}SORT ({}) UTF-8 ", words.join(" ")).into_bytes(),
                search::tests::render_key(&search_key),
                b"\r\n".to_vec(),
            ]
            .concat();
            let expected = CommandBody::Sort {
                criteria: sort_criteria,
                charset: "UTF-8".into(),
                search: search_key.clone(),
                numbering,
                ret: None,
            };
            assert_eq!(body(&text), expected, "{}", String::from_utf8_lossy(&text));

            let text = [
                format!("t {uid}THREAD REFERENCES UTF-8 ").into_bytes(),
                search::tests::render_key(&search_key),
                b"\r\n".to_vec(),
            ]
            .concat();
            let expected = CommandBody::Thread {
                algorithm: ThreadAlgorithm::References,
                charset: "UTF-8".into(),
                search: search_key,
                numbering,
            };
            assert_eq!(body(&text), expected, "{}", String::from_utf8_lossy(&text));
        }
    }

    /// RFC 3502 `append`: random messages (flags, date-time, literal form,
    /// RFC 4469 CATENATE), rendered and parsed back.
    #[test]
    fn round_trip_multiappend() {
        let mut rng = Rng::new(0x5eed_3502);
        let flag_pool = [Flag::Seen, Flag::Flagged, Flag::Answered, Flag::Draft];
        for _ in 0..300 {
            let mut text = b"a APPEND Sent".to_vec();
            let mut messages = Vec::new();
            for _ in 0..=rng.below(4) {
                text.push(b' ');
                let mut flags = Vec::new();
                if rng.below(2) == 0 {
                    for flag in &flag_pool {
                        if rng.below(2) == 0 {
                            flags.push(flag.clone());
                        }
                    }
                    let names: Vec<_> = flags.iter().map(Flag::as_wire).collect();
                    text.extend(format!("({}) ", names.join(" ")).into_bytes());
                }
                let mut date = None;
                if rng.below(2) == 0 {
                    let day = rng.below(28) + 1;
                    let hour = rng.below(24);
                    text.extend(
                        format!("\"{day:2}-Mar-2024 {hour:02}:07:09 -0130\" ").into_bytes(),
                    );
                    date = DateTime::parse_from_rfc3339(&format!(
                        "2024-03-{day:02}T{hour:02}:07:09-01:30"
                    ))
                    .ok();
                }
                let literal = |rng: &mut Rng, text: &mut Vec<u8>| {
                    let len = rng.below(6) as usize;
                    let bytes: Vec<u8> = (0..len).map(|_| rng.below(255) as u8 + 1).collect();
                    let (open, close) = match rng.below(3) {
                        0 => ("{", "}"),
                        1 => ("{", "+}"),
                        _ => ("~{", "}"),
                    };
                    text.extend(format!("{open}{len}{close}\r\n").into_bytes());
                    text.extend(&bytes);
                    bytes
                };
                if rng.below(4) > 0 {
                    let bytes = literal(&mut rng, &mut text);
                    messages.push(message(flags, date, &bytes));
                    continue;
                }
                // RFC 4469 CATENATE: TEXT literals and URL strings.
                text.extend(b"CATENATE (");
                let mut parts = Vec::new();
                for i in 0..=rng.below(3) {
                    if i > 0 {
                        text.push(b' ');
                    }
                    if rng.below(2) == 0 {
                        text.extend(b"TEXT ");
                        parts.push(CatPart::Text(literal(&mut rng, &mut text)));
                    } else {
                        let url = format!("/INBOX/;UID={}", rng.below(1000) + 1);
                        text.extend(format!("URL \"{url}\"").into_bytes());
                        parts.push(CatPart::Url(url.into_bytes()));
                    }
                }
                text.push(b')');
                messages.push(AppendMessage {
                    flags,
                    date,
                    data: AppendData::Catenate(parts),
                });
            }
            text.extend(b"\r\n");
            let expected = CommandBody::Append {
                mailbox: mbox("Sent"),
                messages,
            };
            assert_eq!(body(&text), expected, "{}", printable(&text));
        }
    }

    /// RFC 4469 `append-data =/ "CATENATE" SP "(" cat-part *(SP cat-part) ")"`,
    /// with RFC 3516's literal8 as TEXT, and with MULTIAPPEND.
    #[test]
    fn catenate() {
        use CatPart::{Text, Url};
        let cat = |flags: Vec<Flag>, parts: Vec<CatPart>| AppendMessage {
            flags,
            date: None,
            data: AppendData::Catenate(parts),
        };
        let cases: Vec<(&[u8], &str, Vec<AppendMessage>)> = vec![
            // RFC 4469 §3's example, shortened.
            (
                b"A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER\" TEXT {42}\r\n\r\n--------------030308070208000400050907\r\n URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME\")\r\n",
                "Drafts",
                vec![cat(
                    vec![Flag::Seen, Flag::Draft, Flag::Keyword("$MDNSent".into())],
                    vec![
                        Url(b"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER".to_vec()),
                        Text(b"\r\n--------------030308070208000400050907\r\n".to_vec()),
                        Url(b"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME".to_vec()),
                    ],
                )],
            ),
            (
                b"a append x catenate (text ~{3+}\r\na\x00b url /x/;uid=1) catenate (url {7}\r\n/x/;u=2) (\\Answered) {1}\r\nz\r\n",
                "x",
                vec![
                    cat(vec![], vec![Text(b"a\x00b".to_vec()), Url(b"/x/;uid=1".to_vec())]),
                    cat(vec![], vec![Url(b"/x/;u=2".to_vec())]),
                    message(vec![Flag::Answered], None, b"z"),
                ],
            ),
        ];
        for (text, mailbox, messages) in cases {
            let expected = CommandBody::Append {
                mailbox: mbox(mailbox),
                messages,
            };
            assert_eq!(body(text), expected, "{}", printable(text));
        }
        let bad: &[(&[u8], &str)] = &[
            (b"a APPEND x CATENATE ()\r\n", "Invalid CATENATE part"),
            (b"a APPEND x CATENATE\r\n", "Invalid message literal"),
            (
                b"a APPEND x CATENATE (TEXT \"x\")\r\n",
                "Invalid CATENATE text",
            ),
            (
                b"a APPEND x CATENATE (TEXT {1}\r\nx\r\n",
                "Missing ')' after CATENATE parts",
            ),
            (b"a APPEND x CATENATE (URL)\r\n", "Invalid CATENATE part"),
            (b"a APPEND x CATENATE (URL )\r\n", "Invalid CATENATE URL"),
            (b"a APPEND x CATENATE (FROB x)\r\n", "Invalid CATENATE part"),
            (
                b"a APPEND x CATENATE (URL /x/;UID=1)(URL /y)\r\n",
                "Unexpected characters in APPEND command",
            ),
            (
                b"a APPEND x CATENATE [URL x]\r\n",
                "Missing '(' after CATENATE",
            ),
        ];
        for (text, reason) in bad {
            assert_eq!(
                parse_command(text),
                invalid("a", reason),
                "{}",
                printable(text)
            );
        }
        let many = format!("a APPEND x CATENATE ({})\r\n", ["URL u"; 101].join(" "));
        assert_eq!(
            parse_command(many.as_bytes()),
            invalid("a", "More than 100 CATENATE parts")
        );
    }

    /// RFC 3502 §6.3.11's example: two messages, the second with its own
    /// flags and date-time (message text shortened).
    #[test]
    fn rfc3502_example() {
        let first = b"Subject: afternoon meeting\r\n\r\nHello Joe\r\n";
        let second = b"Subject: afternoon meeting again\r\n\r\n3:30 is fine\r\n";
        let text = [
            format!(
                "A003 APPEND saved-messages (\\Seen) {{{}}}\r\n",
                first.len()
            )
            .as_bytes(),
            first,
            format!(
                " (\\Seen) \" 7-Feb-1994 22:43:04 -0800\" {{{}}}\r\n",
                second.len()
            )
            .as_bytes(),
            second,
            b"\r\n",
        ]
        .concat();
        assert_eq!(
            body(&text),
            CommandBody::Append {
                mailbox: mbox("saved-messages"),
                messages: vec![
                    message(vec![Flag::Seen], None, first),
                    message(
                        vec![Flag::Seen],
                        DateTime::parse_from_rfc3339("1994-02-07T22:43:04-08:00").ok(),
                        second,
                    ),
                ],
            }
        );
    }

    #[test]
    fn single_number_set_is_one_range() {
        let n = NonZeroU32::MIN.saturating_add(41);
        assert_eq!(
            set("42"),
            SequenceSet(vec![SeqRange {
                first: SeqBound::Value(n),
                last: SeqBound::Value(n)
            }])
        );
    }
}
