//! Who may log in: the [`Authenticator`] trait the session asks, and its two
//! backends, PAM ([`pam`]) and a Dovecot-style passwd-file ([`passwd_file`]).
//!
//! The session stays sans-I/O: it hands a user name and a password to a
//! `dyn Authenticator` and gets back a [`UserInfo`] (whom to become) or an
//! [`AuthError`]. Becoming that user (setuid and friends) is the caller's job
//! (`privilege.rs`), once the session says a login succeeded.
//!
//! The hard part is what a hostile client can put in a user name. It ends up
//! in a path (`/var/mail/NAME`), a log line and a PAM call, so
//! [`check_user_name`] refuses, before any backend sees it, anything that is
//! not a plain name: `/`, `..`, a leading `.` or `-`, `:` (the passwd-file
//! field separator), controls and white space, and names longer than
//! `LOGIN_NAME_MAX`. The decoded SASL exchanges live in [`sasl`].

pub mod pam;
pub mod passwd_file;
pub mod sasl;

use std::net::IpAddr;
use std::path::PathBuf;

use thiserror::Error;

/// Longest login name accepted, in octets (Linux `LOGIN_NAME_MAX` is 256 with the NUL).
pub const MAX_USER_NAME_OCTETS: usize = 255;

/// Longest password accepted, in octets: well above any real one, and it bounds
/// the crypt work a client can ask for.
pub const MAX_PASSWORD_OCTETS: usize = 1024;

/// Checks credentials. Implementations must not touch anything of the user's
/// (the session runs as root when it asks).
pub trait Authenticator {
    /// `user` has passed [`check_user_name`]; `peer` is the client's address
    /// when known (PAM passes it on as `PAM_RHOST`).
    fn check(
        &self,
        user: &str,
        password: &[u8],
        peer: Option<IpAddr>,
    ) -> Result<UserInfo, AuthError>;

    /// The backend's name for log lines (`pam`, `passwd-file`).
    fn name(&self) -> &'static str;
}

/// Whom a successful login makes us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// The canonical login name (the backend's, which may differ in case from
    /// what the client typed): it names the INBOX, `<spool>/<name>`.
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    pub groups: Groups,
}

/// Which supplementary groups the served process gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Groups {
    /// A system user: `initgroups(3)` from the group database.
    FromGroupDatabase,
    /// A virtual user (passwd-file): only the primary gid.
    PrimaryOnly,
}

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    /// The client's fault: unknown user, wrong password, expired or locked
    /// account. The client gets `NO [AUTHENTICATIONFAILED]`; the reason goes
    /// only to the log.
    #[error("{0}")]
    Rejected(String),
    /// The server's fault: the backend is missing or broken. The client gets
    /// `NO [UNAVAILABLE]`; the reason is logged as an error.
    #[error("{0}")]
    Unavailable(String),
}

/// Why a user name was refused before any backend saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BadUserName {
    #[error("empty user name")]
    Empty,
    #[error("user name too long")]
    TooLong,
    #[error("user name is not UTF-8")]
    NotUtf8,
    #[error("user name contains a path separator or \"..\"")]
    Path,
    #[error("user name contains a control, space or ':' character")]
    BadCharacter,
    #[error("user name starts with '.' or '-'")]
    BadStart,
}

/// Returns `name` as text if it is safe to use as a login name (see the module doc).
pub fn check_user_name(name: &[u8]) -> Result<&str, BadUserName> {
    if name.is_empty() {
        return Err(BadUserName::Empty);
    }
    if name.len() > MAX_USER_NAME_OCTETS {
        return Err(BadUserName::TooLong);
    }
    let text = std::str::from_utf8(name).map_err(|_| BadUserName::NotUtf8)?;
    if text.contains('/') || text.contains("..") {
        return Err(BadUserName::Path);
    }
    if text
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == ':' || c == '\\')
    {
        return Err(BadUserName::BadCharacter);
    }
    if text.starts_with('.') || text.starts_with('-') {
        return Err(BadUserName::BadStart);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        let table: &[(&[u8], Result<&str, BadUserName>)] = &[
            (b"alice", Ok("alice")),
            (b"alice@example.org", Ok("alice@example.org")),
            (b"a.b-c_d", Ok("a.b-c_d")),
            ("j\u{f6}rg".as_bytes(), Ok("j\u{f6}rg")),
            (b"", Err(BadUserName::Empty)),
            (b"../root", Err(BadUserName::Path)),
            (b"a/b", Err(BadUserName::Path)),
            (b"a..b", Err(BadUserName::Path)),
            (b"..", Err(BadUserName::Path)),
            (b".profile", Err(BadUserName::BadStart)),
            (b"-froot", Err(BadUserName::BadStart)),
            (b"a b", Err(BadUserName::BadCharacter)),
            (b"a:0:0", Err(BadUserName::BadCharacter)),
            (b"a\0b", Err(BadUserName::BadCharacter)),
            (b"a\nb", Err(BadUserName::BadCharacter)),
            (b"a\\b", Err(BadUserName::BadCharacter)),
            (b"\xff", Err(BadUserName::NotUtf8)),
        ];
        for (name, want) in table {
            assert_eq!(
                check_user_name(name),
                *want,
                "{:?}",
                String::from_utf8_lossy(name)
            );
        }
        assert_eq!(check_user_name(&[b'a'; 256]), Err(BadUserName::TooLong));
        assert!(check_user_name(&[b'a'; 255]).is_ok());
    }
}
