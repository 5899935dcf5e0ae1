//! The two SASL mechanisms we offer, decoded: PLAIN (RFC 4616) and the
//! non-standard LOGIN that Outlook and other old clients still use
//! (draft-murchison-sasl-login). Pure functions over bytes.
//!
//! The exchange in IMAP (RFC 3501 §6.2.2, RFC 4959 SASL-IR): the server sends
//! `+ <base64 challenge>`, the client answers one base64 line, or `*` to
//! cancel. With SASL-IR the first client response rides on the AUTHENTICATE
//! command itself. PLAIN needs one response; LOGIN asks for the user name
//! (`Username:`, base64 `VXNlcm5hbWU6`) and then the password (`Password:`,
//! `UGFzc3dvcmQ6`).
//!
//! A PLAIN message may name an authorization identity different from the
//! authentication identity (act as another user); we do not support that, so
//! a non-empty authzid must equal the authcid.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use thiserror::Error;

/// `Username:` in base64: LOGIN's first challenge.
pub const LOGIN_USER_CHALLENGE: &str = "VXNlcm5hbWU6";
/// `Password:` in base64: LOGIN's second challenge.
pub const LOGIN_PASSWORD_CHALLENGE: &str = "UGFzc3dvcmQ6";

/// A mechanism we offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Login,
}

impl Mechanism {
    /// Case-insensitive, as SASL mechanism names are (RFC 4422 §3.1).
    pub fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("PLAIN") {
            Some(Mechanism::Plain)
        } else if name.eq_ignore_ascii_case("LOGIN") {
            Some(Mechanism::Login)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        }
    }
}

/// A user name and password, redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: Vec<u8>,
    pub password: Vec<u8>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(/* redacted */)")
    }
}

/// Why an exchange ended without credentials. All are answered BAD except
/// where the session says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SaslError {
    /// The client sent `*` (RFC 3501 §6.2.2: answer BAD).
    #[error("Authentication cancelled")]
    Cancelled,
    #[error("Invalid base64 in authentication response")]
    BadBase64,
    #[error("Malformed PLAIN message")]
    MalformedPlain,
    #[error("Authorization identity differs from authentication identity")]
    AuthzidMismatch,
}

/// What the server does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send `+ <challenge>` (already base64; empty for PLAIN) and wait.
    Challenge(&'static str),
    /// The exchange is complete.
    Done(Credentials),
}

/// One exchange in progress.
#[derive(Debug)]
pub struct Exchange {
    mechanism: Mechanism,
    /// LOGIN: the user name, once received.
    user: Option<Vec<u8>>,
}

impl Exchange {
    /// Starts an exchange; `initial` is the decoded SASL-IR initial response.
    pub fn start(
        mechanism: Mechanism,
        initial: Option<Vec<u8>>,
    ) -> (Exchange, Result<Step, SaslError>) {
        let mut exchange = Exchange {
            mechanism,
            user: None,
        };
        let step = match initial {
            Some(response) => exchange.respond(response),
            None => Ok(Step::Challenge(match mechanism {
                Mechanism::Plain => "",
                Mechanism::Login => LOGIN_USER_CHALLENGE,
            })),
        };
        (exchange, step)
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Feeds one decoded client response.
    pub fn respond(&mut self, response: Vec<u8>) -> Result<Step, SaslError> {
        match self.mechanism {
            Mechanism::Plain => plain(&response).map(Step::Done),
            Mechanism::Login => match self.user.take() {
                None => {
                    self.user = Some(response);
                    Ok(Step::Challenge(LOGIN_PASSWORD_CHALLENGE))
                }
                Some(user) => Ok(Step::Done(Credentials {
                    user,
                    password: response,
                })),
            },
        }
    }
}

/// Decodes one client response line (CRLF already removed): `*` cancels;
/// otherwise base64 (RFC 3501 §6.2.2), where an empty line is an empty response.
pub fn decode_response(line: &[u8]) -> Result<Vec<u8>, SaslError> {
    if line == b"*" {
        return Err(SaslError::Cancelled);
    }
    STANDARD.decode(line).map_err(|_| SaslError::BadBase64)
}

/// `message = [authzid] UTF8NUL authcid UTF8NUL passwd` (RFC 4616 §2).
pub fn plain(message: &[u8]) -> Result<Credentials, SaslError> {
    let mut parts = message.splitn(3, |&b| b == 0);
    let (Some(authzid), Some(authcid), Some(password)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::MalformedPlain);
    };
    if authcid.is_empty() || password.contains(&0) {
        return Err(SaslError::MalformedPlain);
    }
    if !authzid.is_empty() && authzid != authcid {
        return Err(SaslError::AuthzidMismatch);
    }
    Ok(Credentials {
        user: authcid.to_vec(),
        password: password.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(user: &str, password: &str) -> Credentials {
        Credentials {
            user: user.into(),
            password: password.into(),
        }
    }

    #[test]
    fn plain_messages() {
        let table: &[(&[u8], Result<Credentials, SaslError>)] = &[
            (b"\0alice\0secret", Ok(creds("alice", "secret"))),
            (b"alice\0alice\0secret", Ok(creds("alice", "secret"))),
            (b"\0alice\0", Ok(creds("alice", ""))),
            (b"root\0alice\0secret", Err(SaslError::AuthzidMismatch)),
            (b"\0\0secret", Err(SaslError::MalformedPlain)),
            (b"alice\0secret", Err(SaslError::MalformedPlain)),
            (b"alicesecret", Err(SaslError::MalformedPlain)),
            (b"\0alice\0sec\0ret", Err(SaslError::MalformedPlain)),
        ];
        for (message, want) in table {
            assert_eq!(plain(message), *want, "{message:?}");
        }
    }

    #[test]
    fn responses() {
        assert_eq!(decode_response(b"*"), Err(SaslError::Cancelled));
        assert_eq!(decode_response(b""), Ok(vec![]));
        assert_eq!(decode_response(b"YWxpY2U="), Ok(b"alice".to_vec()));
        assert_eq!(decode_response(b"YWxpY2U"), Err(SaslError::BadBase64));
        assert_eq!(decode_response(b"a b"), Err(SaslError::BadBase64));
    }

    #[test]
    fn login_exchange_asks_user_then_password() {
        let (mut x, step) = Exchange::start(Mechanism::Login, None);
        assert_eq!(step, Ok(Step::Challenge(LOGIN_USER_CHALLENGE)));
        assert_eq!(
            x.respond(b"alice".to_vec()),
            Ok(Step::Challenge(LOGIN_PASSWORD_CHALLENGE))
        );
        assert_eq!(
            x.respond(b"secret".to_vec()),
            Ok(Step::Done(creds("alice", "secret")))
        );
        // A user name as the initial response skips the first challenge.
        let (mut x, step) = Exchange::start(Mechanism::Login, Some(b"bob".to_vec()));
        assert_eq!(step, Ok(Step::Challenge(LOGIN_PASSWORD_CHALLENGE)));
        assert_eq!(
            x.respond(b"pw".to_vec()),
            Ok(Step::Done(creds("bob", "pw")))
        );
    }

    #[test]
    fn plain_exchange_with_and_without_initial_response() {
        let (_, step) = Exchange::start(Mechanism::Plain, Some(b"\0a\0b".to_vec()));
        assert_eq!(step, Ok(Step::Done(creds("a", "b"))));
        let (mut x, step) = Exchange::start(Mechanism::Plain, None);
        assert_eq!(step, Ok(Step::Challenge("")));
        assert_eq!(
            x.respond(b"\0a\0b".to_vec()),
            Ok(Step::Done(creds("a", "b")))
        );
        assert_eq!(Mechanism::from_name("plain"), Some(Mechanism::Plain));
        assert_eq!(Mechanism::from_name("CRAM-MD5"), None);
    }

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(
            format!("{:?}", creds("a", "hunter2")),
            "Credentials(/* redacted */)"
        );
    }
}
