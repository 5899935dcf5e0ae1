//! The typed form of a client command, as the parser produces it and the
//! command handlers consume it. Names follow RFC 3501 §9 (and the extensions'
//! ABNF) so each variant can be checked against the grammar.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate};

use crate::types::{Flag, Numbering, SequenceSet};

/// One complete command: `tag SP command-body`.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The client's tag (RFC 3501 `tag`: ASTRING-CHAR except `+`).
    pub tag: String,
    pub body: CommandBody,
}

/// A mailbox name exactly as sent (astring bytes, modified UTF-7 on the wire).
/// `INBOX` is case-insensitive; the handlers decide what the bytes mean.
#[derive(Clone, PartialEq, Eq)]
pub struct MailboxName(pub Vec<u8>);

impl fmt::Debug for MailboxName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MailboxName({:?})", String::from_utf8_lossy(&self.0))
    }
}

/// Credentials and SASL data: `Debug` never shows the bytes (log safety).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(/* redacted */)")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CommandBody {
    // --- any state (RFC 3501 §6.1)
    Capability,
    Noop,
    Logout,
    /// RFC 2971: `ID ("name" "value" ...)` or `ID NIL`. Values may be NIL.
    Id(Option<Vec<(String, Option<String>)>>),
    /// RFC 5161: `ENABLE cap...`.
    Enable(Vec<String>),
    // --- not authenticated (§6.2)
    StartTls,
    Login {
        username: Secret,
        password: Secret,
    },
    /// `AUTHENTICATE mech [initial-response]` (RFC 4959 SASL-IR; `=` means empty).
    Authenticate {
        mechanism: String,
        initial_response: Option<Secret>,
    },
    // --- authenticated (§6.3)
    Select {
        mailbox: MailboxName,
    },
    Examine {
        mailbox: MailboxName,
    },
    Create {
        mailbox: MailboxName,
    },
    Delete {
        mailbox: MailboxName,
    },
    Rename {
        from: MailboxName,
        to: MailboxName,
    },
    Subscribe {
        mailbox: MailboxName,
    },
    Unsubscribe {
        mailbox: MailboxName,
    },
    /// `LIST reference pattern` (patterns are `list-mailbox`: may hold `%` and `*`).
    List {
        reference: MailboxName,
        pattern: MailboxName,
    },
    Lsub {
        reference: MailboxName,
        pattern: MailboxName,
    },
    Namespace,
    Status {
        mailbox: MailboxName,
        items: Vec<StatusItem>,
    },
    /// `APPEND mailbox [flag-list] [date-time] literal`.
    Append {
        mailbox: MailboxName,
        flags: Vec<Flag>,
        date: Option<DateTime<FixedOffset>>,
        message: Vec<u8>,
    },
    Idle,
    /// RFC 4978 `COMPRESS algorithm`: valid after authentication.
    Compress {
        algorithm: CompressAlgorithm,
    },
    // --- selected (§6.4)
    Check,
    Close,
    /// RFC 3691.
    Unselect,
    Expunge,
    /// RFC 4315 `UID EXPUNGE sequence-set`.
    UidExpunge(SequenceSet),
    Search {
        charset: Option<String>,
        criteria: SearchKey,
        numbering: Numbering,
        /// RFC 4731 `RETURN (...)`: `None` for a plain SEARCH (`* SEARCH`),
        /// else the options (empty = ALL), answered with `* ESEARCH`.
        ret: Option<Vec<SearchReturn>>,
    },
    Fetch {
        set: SequenceSet,
        items: Vec<FetchAttribute>,
        numbering: Numbering,
    },
    Store {
        set: SequenceSet,
        mode: StoreMode,
        response: StoreResponse,
        flags: Vec<Flag>,
        numbering: Numbering,
    },
    Copy {
        set: SequenceSet,
        mailbox: MailboxName,
        numbering: Numbering,
    },
    /// RFC 6851 MOVE / UID MOVE.
    Move {
        set: SequenceSet,
        mailbox: MailboxName,
        numbering: Numbering,
    },
    /// RFC 5256 SORT / UID SORT; RFC 5267 ESORT adds `RETURN (...)`.
    Sort {
        criteria: Vec<SortCriterion>,
        charset: String,
        search: SearchKey,
        numbering: Numbering,
        /// As for SEARCH: `None` answers `* SORT`, options `* ESEARCH`.
        ret: Option<Vec<SearchReturn>>,
    },
    /// RFC 5256 THREAD / UID THREAD.
    Thread {
        algorithm: ThreadAlgorithm,
        charset: String,
        search: SearchKey,
        numbering: Numbering,
    },
}

impl CommandBody {
    /// The command's name for logs and completion texts (`UID FETCH` → "FETCH").
    pub fn name(&self) -> &'static str {
        match self {
            CommandBody::Capability => "CAPABILITY",
            CommandBody::Noop => "NOOP",
            CommandBody::Logout => "LOGOUT",
            CommandBody::Id(_) => "ID",
            CommandBody::Enable(_) => "ENABLE",
            CommandBody::StartTls => "STARTTLS",
            CommandBody::Login { .. } => "LOGIN",
            CommandBody::Authenticate { .. } => "AUTHENTICATE",
            CommandBody::Select { .. } => "SELECT",
            CommandBody::Examine { .. } => "EXAMINE",
            CommandBody::Create { .. } => "CREATE",
            CommandBody::Delete { .. } => "DELETE",
            CommandBody::Rename { .. } => "RENAME",
            CommandBody::Subscribe { .. } => "SUBSCRIBE",
            CommandBody::Unsubscribe { .. } => "UNSUBSCRIBE",
            CommandBody::List { .. } => "LIST",
            CommandBody::Lsub { .. } => "LSUB",
            CommandBody::Namespace => "NAMESPACE",
            CommandBody::Status { .. } => "STATUS",
            CommandBody::Append { .. } => "APPEND",
            CommandBody::Idle => "IDLE",
            CommandBody::Compress { .. } => "COMPRESS",
            CommandBody::Check => "CHECK",
            CommandBody::Close => "CLOSE",
            CommandBody::Unselect => "UNSELECT",
            CommandBody::Expunge | CommandBody::UidExpunge(_) => "EXPUNGE",
            CommandBody::Search { .. } => "SEARCH",
            CommandBody::Fetch { .. } => "FETCH",
            CommandBody::Store { .. } => "STORE",
            CommandBody::Copy { .. } => "COPY",
            CommandBody::Move { .. } => "MOVE",
            CommandBody::Sort { .. } => "SORT",
            CommandBody::Thread { .. } => "THREAD",
        }
    }
}

/// RFC 4978 §5 `algorithm = "DEFLATE"`: the only one defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressAlgorithm {
    /// RFC 1951 raw DEFLATE (no zlib or gzip header).
    Deflate,
}

impl CompressAlgorithm {
    /// The name as in the capability `COMPRESS=<name>`.
    pub fn name(self) -> &'static str {
        match self {
            CompressAlgorithm::Deflate => "DEFLATE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    Messages,
    Recent,
    UidNext,
    UidValidity,
    Unseen,
    /// RFC 8438.
    Size,
}

/// `FLAGS`, `+FLAGS` or `-FLAGS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Replace,
    Add,
    Remove,
}

/// Whether STORE answers with untagged FETCH (`.SILENT` suppresses it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreResponse {
    Answer,
    Silent,
}

/// One `fetch-att` (RFC 3501 §6.4.5). The macros ALL, FAST and FULL are
/// expanded by the parser into their items, in the RFC's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttribute {
    Envelope,
    Flags,
    InternalDate,
    /// `RFC822` (same bytes as BODY[], sets \Seen).
    Rfc822,
    Rfc822Header,
    Rfc822Size,
    /// `RFC822.TEXT` (sets \Seen).
    Rfc822Text,
    /// `BODY` (non-extensible BODYSTRUCTURE).
    Body,
    BodyStructure,
    Uid,
    /// `BODY[section]<partial>` or `BODY.PEEK[...]`.
    BodySection {
        section: Section,
        partial: Option<Partial>,
        peek: Peek,
    },
}

/// Whether a BODY[...] fetch may set \Seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peek {
    /// `BODY[...]`: sets \Seen (RFC 3501 §6.4.5).
    SetSeen,
    /// `BODY.PEEK[...]`.
    Peek,
}

/// `<origin.length>`: octets counted in the CRLF form of the section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partial {
    pub origin: u32,
    pub length: u32,
}

/// `section` (RFC 3501 §9): a part path then an optional text specifier.
/// `part` empty with `text: None` is `BODY[]`, the whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Part numbers, each non-zero: `1.2.3` is `[1, 2, 3]`.
    pub part: Vec<u32>,
    pub text: Option<SectionText>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    Header,
    /// Field names as sent (astrings); matched case-insensitively.
    HeaderFields(Vec<String>),
    HeaderFieldsNot(Vec<String>),
    Text,
    /// Only valid after a part number (the parser rejects `BODY[MIME]`).
    Mime,
}

/// `search-key` (RFC 3501 §6.4.4). A top-level list of keys is an `And`.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchKey {
    All,
    Answered,
    Bcc(String),
    Before(NaiveDate),
    Body(String),
    Cc(String),
    Deleted,
    Draft,
    Flagged,
    From(String),
    /// `HEADER field-name string`; an empty string matches any message with the field.
    Header(String, String),
    Keyword(String),
    Larger(u32),
    New,
    /// RFC 5032 `OLDER n`: INTERNALDATE at least n seconds ago.
    Older(u32),
    /// RFC 5032 `YOUNGER n`: INTERNALDATE less than n seconds ago.
    Younger(u32),
    Not(Box<SearchKey>),
    Old,
    On(NaiveDate),
    Or(Box<SearchKey>, Box<SearchKey>),
    Recent,
    Seen,
    SentBefore(NaiveDate),
    SentOn(NaiveDate),
    SentSince(NaiveDate),
    Since(NaiveDate),
    Smaller(u32),
    Subject(String),
    Text(String),
    To(String),
    Uid(SequenceSet),
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unkeyword(String),
    Unseen,
    /// A bare sequence set.
    SequenceSet(SequenceSet),
    /// A parenthesised list, or the implicit AND of several keys.
    And(Vec<SearchKey>),
}

/// `search-return-opt` (RFC 4731 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchReturn {
    Min,
    Max,
    All,
    Count,
}

/// `sort-criterion = ["REVERSE" SP] sort-key` (RFC 5256 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortCriterion {
    pub reverse: bool,
    pub key: SortKey,
}

/// `sort-key` (RFC 5256 §4), with RFC 5957's DISPLAYFROM and DISPLAYTO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Arrival,
    Cc,
    Date,
    From,
    Size,
    Subject,
    To,
    DisplayFrom,
    DisplayTo,
}

/// `thread-alg` (RFC 5256 §4): the two algorithms RFC 5256 defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    OrderedSubject,
    References,
}
