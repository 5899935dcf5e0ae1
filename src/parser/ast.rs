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

/// One message of an APPEND (RFC 3502 `append-message`): its flags, its
/// internal date (none = now), and its content.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendMessage {
    pub flags: Vec<Flag>,
    pub date: Option<DateTime<FixedOffset>>,
    pub data: AppendData,
}

/// `append-data = literal / literal8 / "CATENATE" SP "(" cat-part *(SP cat-part) ")"`
/// (RFC 3516, RFC 4469 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendData {
    /// The octets of a `literal` or `literal8`.
    Literal(Vec<u8>),
    /// The parts whose concatenation is the message (RFC 4469 §3).
    Catenate(Vec<CatPart>),
}

/// `cat-part = text-literal / url` (RFC 4469 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatPart {
    /// `"TEXT" SP literal` (or `literal8`, RFC 3516 §4.4): octets as sent.
    Text(Vec<u8>),
    /// `"URL" SP astring`: an IMAP URL (RFC 5092), not yet resolved.
    Url(Vec<u8>),
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
    /// `CREATE mailbox [SP "(" "USE" SP "(" use-attrs ")" ")"]` (RFC 4466
    /// create-params; RFC 6154 §3 USE).
    Create {
        mailbox: MailboxName,
        /// The USE parameter's attributes as sent (`\Sent`), if it was given.
        special_use: Option<Vec<String>>,
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
    /// `LIST [(selection)] reference pattern-or-patterns [RETURN (options)]`
    /// (RFC 3501; RFC 5258 LIST-EXTENDED). Patterns are `list-mailbox`: may
    /// hold `%` and `*`. A plain RFC 3501 LIST has no options and one pattern.
    List {
        selection: Vec<ListSelect>,
        reference: MailboxName,
        patterns: Vec<MailboxName>,
        returns: Vec<ListReturn>,
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
    /// `APPEND mailbox 1*(SP [flag-list] [date-time] literal)`: one message
    /// (RFC 3501 §6.3.11) or several (MULTIAPPEND, RFC 3502), never none.
    Append {
        mailbox: MailboxName,
        messages: Vec<AppendMessage>,
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
    /// RFC 5267 §4.3.5 `CANCELUPDATE 1*(SP quoted)`: the tags of the
    /// searching commands whose updates end.
    CancelUpdate(Vec<String>),
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
            CommandBody::CancelUpdate(_) => "CANCELUPDATE",
        }
    }
}

/// `list-select-opt` (RFC 5258 §6; RFC 6154 §6 adds SPECIAL-USE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListSelect {
    /// `list-select-base-opt`: the subscribed names, existing or not.
    Subscribed,
    /// `list-select-independent-opt`: also remote mailboxes (we have none).
    Remote,
    /// `list-select-mod-opt`: parents of matches get CHILDINFO.
    RecursiveMatch,
    /// RFC 6154 `list-select-base-opt`: only special-use mailboxes.
    SpecialUse,
}

/// `return-option` (RFC 5258 §6; RFC 5819 STATUS; RFC 6154 SPECIAL-USE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListReturn {
    Subscribed,
    Children,
    SpecialUse,
    /// `STATUS (status-att ...)`: a `* STATUS` after each selectable mailbox.
    Status(Vec<StatusItem>),
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
    /// RFC 9051 §6.3.11: messages with \Deleted (IMAP4rev2 only).
    Deleted,
    /// RFC 7889 §3: the largest message APPEND takes into this mailbox.
    AppendLimit,
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
    /// `BINARY[section-binary]<partial>` or `BINARY.PEEK[...]` (RFC 3516
    /// §4.2): the part with its Content-Transfer-Encoding removed. `part`
    /// empty is the whole message.
    Binary {
        part: Vec<u32>,
        /// Counted in the decoded octets.
        partial: Option<Partial>,
        peek: Peek,
    },
    /// `BINARY.SIZE[section-binary]` (RFC 3516 §4.2): the decoded size.
    BinarySize {
        part: Vec<u32>,
    },
}

/// Whether a BODY[...] or BINARY[...] fetch may set \Seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peek {
    /// `BODY[...]`, `BINARY[...]`: sets \Seen (RFC 3501 §6.4.5, RFC 3516 §4.2).
    SetSeen,
    /// `BODY.PEEK[...]`, `BINARY.PEEK[...]`.
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
    /// RFC 5182 §2.1: keep the result as `$`.
    Save,
    /// RFC 5267 §4.2 `CONTEXT`: a hint that the criteria will be used again;
    /// accepted, and changes nothing.
    Context,
    /// RFC 5267 §4.3 `UPDATE`: keep the result live (ADDTO / REMOVEFROM).
    Update,
    /// RFC 5267 §4.4 `PARTIAL partial-range`: the results at these 1-based
    /// positions.
    Partial(PartialRange),
}

/// `partial-range = nz-number ":" nz-number` (RFC 5267 §5), kept in order
/// (`500:400` is the same as `400:500`): `1 <= first <= last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialRange {
    pub first: u32,
    pub last: u32,
}

impl PartialRange {
    /// The range from its two ends in either order; `None` if either is 0.
    pub fn new(a: u32, b: u32) -> Option<PartialRange> {
        let (first, last) = if a <= b { (a, b) } else { (b, a) };
        (first > 0).then_some(PartialRange { first, last })
    }

    /// The part of `hits` (in reported order) at the range's positions.
    pub fn slice<T>(self, hits: &[T]) -> &[T] {
        let start = usize::try_from(self.first.saturating_sub(1)).unwrap_or(usize::MAX);
        let end = usize::try_from(self.last).unwrap_or(usize::MAX);
        hits.get(start.min(hits.len())..end.min(hits.len()))
            .unwrap_or_default()
    }
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
