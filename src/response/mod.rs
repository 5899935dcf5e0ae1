//! Typed responses and the one place that turns them into wire bytes.
//!
//! Commands never write `b"\r\n"` themselves: they call [`ResponseWriter`],
//! which decides quoting versus literals (RFC 3501 §4.3, §9 `string`).

pub mod crlf;
pub mod writer;

use std::fmt;

pub use writer::ResponseWriter;

/// Which protocol revision the client speaks: IMAP4rev1 until it sends
/// `ENABLE IMAP4rev2` (RFC 9051 §6.3.1, Appendix A). The session keeps the
/// writer's revision current; the few response shapes that differ ask it
/// (`\Recent` and `RECENT`, mailbox names in UTF-8, SELECT's LIST line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Revision {
    #[default]
    Rev1,
    Rev2,
}

/// The condition of a status response (RFC 3501 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
    Preauth,
    Bye,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::Preauth => "PREAUTH",
            Status::Bye => "BYE",
        }
    }
}

/// A response code: the bracketed part of a status response (RFC 3501 §7.1,
/// RFC 5530, RFC 4315).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    Alert,
    /// `BADCHARSET (charsets...)`.
    BadCharset(Vec<String>),
    /// `CAPABILITY ...`: the list, space-separated, without the word itself.
    Capability(String),
    Parse,
    /// `PERMANENTFLAGS (...)`: the flags already in wire form.
    PermanentFlags(Vec<String>),
    ReadOnly,
    ReadWrite,
    TryCreate,
    UidNext(u32),
    UidValidity(u32),
    Unseen(u32),
    /// RFC 5530 codes.
    Nonexistent,
    InUse,
    Limit,
    Cannot,
    ServerBug,
    ContactAdmin,
    PrivacyRequired,
    AuthenticationFailed,
    Unavailable,
    ClientBug,
    OverQuota,
    /// `TOOBIG` (RFC 4469 §5, RFC 7889 §2): a message larger than APPENDLIMIT.
    TooBig,
    /// `BADURL url` (RFC 4469 §6): a CATENATE URL that cannot be resolved;
    /// the text already restricted to `url-resp-text`.
    BadUrl(String),
    /// RFC 4978 §3: COMPRESS when compression is already active.
    CompressionActive,
    /// RFC 4315.
    AppendUid {
        validity: u32,
        uids: String,
    },
    CopyUid {
        validity: u32,
        source: String,
        destination: String,
    },
    /// RFC 3516 §4.3: BINARY cannot remove the section's
    /// Content-Transfer-Encoding.
    UnknownCte,
    /// `NOUPDATE "tag"` (RFC 5267 §4.3.1): no updates for that search.
    NoUpdate(String),
    /// RFC 7162 / others we do not model: written verbatim.
    Other(String),
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Code::Alert => f.write_str("ALERT"),
            Code::BadCharset(list) if list.is_empty() => f.write_str("BADCHARSET"),
            Code::BadCharset(list) => write!(f, "BADCHARSET ({})", list.join(" ")),
            Code::Capability(caps) => write!(f, "CAPABILITY {caps}"),
            Code::Parse => f.write_str("PARSE"),
            Code::PermanentFlags(flags) => write!(f, "PERMANENTFLAGS ({})", flags.join(" ")),
            Code::ReadOnly => f.write_str("READ-ONLY"),
            Code::ReadWrite => f.write_str("READ-WRITE"),
            Code::TryCreate => f.write_str("TRYCREATE"),
            Code::UidNext(n) => write!(f, "UIDNEXT {n}"),
            Code::UidValidity(n) => write!(f, "UIDVALIDITY {n}"),
            Code::Unseen(n) => write!(f, "UNSEEN {n}"),
            Code::Nonexistent => f.write_str("NONEXISTENT"),
            Code::InUse => f.write_str("INUSE"),
            Code::Limit => f.write_str("LIMIT"),
            Code::Cannot => f.write_str("CANNOT"),
            Code::ServerBug => f.write_str("SERVERBUG"),
            Code::ContactAdmin => f.write_str("CONTACTADMIN"),
            Code::PrivacyRequired => f.write_str("PRIVACYREQUIRED"),
            Code::AuthenticationFailed => f.write_str("AUTHENTICATIONFAILED"),
            Code::Unavailable => f.write_str("UNAVAILABLE"),
            Code::ClientBug => f.write_str("CLIENTBUG"),
            Code::CompressionActive => f.write_str("COMPRESSIONACTIVE"),
            Code::OverQuota => f.write_str("OVERQUOTA"),
            Code::TooBig => f.write_str("TOOBIG"),
            Code::BadUrl(url) => write!(f, "BADURL {url}"),
            Code::NoUpdate(tag) => {
                // `quoted`: a tag holds no DQUOTE or backslash, escaped anyway.
                let escaped = tag.replace('\\', "\\\\").replace('"', "\\\"");
                write!(f, "NOUPDATE \"{escaped}\"")
            }
            Code::AppendUid { validity, uids } => write!(f, "APPENDUID {validity} {uids}"),
            Code::CopyUid {
                validity,
                source,
                destination,
            } => {
                write!(f, "COPYUID {validity} {source} {destination}")
            }
            Code::UnknownCte => f.write_str("UNKNOWN-CTE"),
            Code::Other(s) => f.write_str(s),
        }
    }
}
