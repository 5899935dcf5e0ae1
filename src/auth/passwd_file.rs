//! The passwd-file backend for virtual users: Dovecot's format, one user a line,
//!
//! ```text
//! user:{SHA512-CRYPT}$6$salt$hash:uid:gid:gecos:home:shell:extra
//! ```
//!
//! `#` starts a comment line; blank lines are skipped. We need the name, the
//! password, uid, gid and home; gecos, shell and extra fields are accepted and
//! ignored. Schemes: `{SHA512-CRYPT}` (`$6$`), `{SHA256-CRYPT}` (`$5$`),
//! `{BLF-CRYPT}` (`$2a$`/`$2b$`/`$2y$`), and `{CRYPT}` or no scheme for a bare
//! crypt string of one of those kinds (Dovecot's default scheme is CRYPT).
//!
//! The hard parts: the file is the administrator's, so a malformed line is an
//! error naming the line, and the whole file is refused (nothing is
//! half-applied); and a client must not learn which users exist from how long
//! a refusal takes, so an unknown user still costs one SHA512-CRYPT
//! verification. Hash comparisons are constant-time inside the crypt crates
//! (`sha-crypt` and `bcrypt` compare with `ct_eq`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use sha_crypt::{PasswordVerifier, ShaCrypt};
use thiserror::Error;

use super::{AuthError, Authenticator, Groups, UserInfo};

/// Verified when the user does not exist, so that "no such user" takes as long
/// as "wrong password". Nobody's password: `openssl passwd -6` of a random string.
const DUMMY_HASH: &str = "$6$dummysaltdummy$hw6kHkHqQ6hWyKcGGcoKIMmAOfhEyqMB/.X5WUy2f3sSh0Mz6n0tZ/eDs2/q9ndtGeFtWZ5W/B6CJc99IM.uZ1";

/// A parsed passwd-file.
#[derive(Debug)]
pub struct PasswdFile {
    users: HashMap<String, Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    hash: Hash,
    uid: u32,
    gid: u32,
    home: PathBuf,
}

/// A stored password hash, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hash {
    /// `$5$…` or `$6$…`: SHA-crypt, either size.
    ShaCrypt(String),
    /// `$2a$`, `$2b$`, `$2y$`: bcrypt.
    Bcrypt(String),
}

#[derive(Debug, Error)]
pub enum PasswdFileError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file} line {line}: {reason}")]
    Line {
        file: String,
        line: usize,
        reason: String,
    },
}

impl PasswdFile {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Self, PasswdFileError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PasswdFileError::Io {
            file: file.clone(),
            source,
        })?;
        Self::parse(&file, &text)
    }

    /// Parses the text of a passwd-file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, PasswdFileError> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let err = |reason: String| PasswdFileError::Line {
                file: file.to_owned(),
                line: i + 1,
                reason,
            };
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let (name, entry) = parse_line(line).map_err(err)?;
            if users.insert(name.clone(), entry).is_some() {
                return Err(err(format!("user {name:?} appears twice")));
            }
        }
        Ok(PasswdFile { users })
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

impl Authenticator for PasswdFile {
    fn check(&self, user: &str, password: &[u8], _: Option<IpAddr>) -> Result<UserInfo, AuthError> {
        let Some(entry) = self.users.get(user) else {
            // Same work as a wrong password; the result does not matter.
            let _ = ShaCrypt::default().verify_password(password, DUMMY_HASH);
            return Err(AuthError::Rejected("unknown user".into()));
        };
        if !entry.hash.verify(password)? {
            return Err(AuthError::Rejected("wrong password".into()));
        }
        Ok(UserInfo {
            name: user.to_owned(),
            uid: entry.uid,
            gid: entry.gid,
            home: entry.home.clone(),
            groups: Groups::PrimaryOnly,
        })
    }

    fn name(&self) -> &'static str {
        "passwd-file"
    }
}

impl Hash {
    /// Whether `password` matches; `Err` when the stored hash cannot be used.
    fn verify(&self, password: &[u8]) -> Result<bool, AuthError> {
        match self {
            Hash::ShaCrypt(hash) => {
                match ShaCrypt::default().verify_password(password, hash.as_str()) {
                    Ok(()) => Ok(true),
                    Err(sha_crypt::password_hash::Error::PasswordInvalid) => Ok(false),
                    Err(e) => Err(AuthError::Unavailable(format!(
                        "unusable SHA-crypt hash: {e}"
                    ))),
                }
            }
            Hash::Bcrypt(hash) => bcrypt::verify(password, hash)
                .map_err(|e| AuthError::Unavailable(format!("unusable bcrypt hash: {e}"))),
        }
    }
}

/// One non-comment line → (user, entry), or the reason it is malformed.
fn parse_line(line: &str) -> Result<(String, Entry), String> {
    let fields: Vec<&str> = line.split(':').collect();
    if fields.len() < 6 {
        return Err(format!(
            "expected user:password:uid:gid:gecos:home[:shell[:extra]], found {} fields",
            fields.len()
        ));
    }
    // `fields.len() >= 6` was checked just above.
    let (name, password, uid, gid, home) = (fields[0], fields[1], fields[2], fields[3], fields[5]);
    super::check_user_name(name.as_bytes()).map_err(|e| format!("user {name:?}: {e}"))?;
    let hash = parse_password(password)?;
    let number = |what: &str, v: &str| {
        v.parse::<u32>()
            .map_err(|_| format!("{what} must be a number, found {v:?}"))
    };
    let (uid, gid) = (number("uid", uid)?, number("gid", gid)?);
    if uid == 0 || gid == 0 {
        return Err(format!("user {name:?}: uid and gid 0 are never served"));
    }
    if !home.starts_with('/') {
        return Err(format!(
            "user {name:?}: home must be an absolute path, found {home:?}"
        ));
    }
    let entry = Entry {
        hash,
        uid,
        gid,
        home: PathBuf::from(home),
    };
    Ok((name.to_owned(), entry))
}

/// `{SCHEME}hash` or a bare crypt string.
fn parse_password(field: &str) -> Result<Hash, String> {
    let (scheme, hash) = match field.strip_prefix('{').and_then(|r| r.split_once('}')) {
        Some((scheme, hash)) => (scheme.to_ascii_uppercase(), hash),
        None => ("CRYPT".to_owned(), field),
    };
    if hash.is_empty() {
        return Err("empty password hash".into());
    }
    let sha = |prefix: &str| -> Result<Hash, String> {
        // `$6$[rounds=N$]salt$hash`: 4 or 5 `$`-separated parts, the first empty.
        let parts = hash.split('$').count();
        if hash.starts_with(prefix) && (parts == 4 || parts == 5) {
            Ok(Hash::ShaCrypt(hash.to_owned()))
        } else {
            Err(format!(
                "{{{scheme}}} hash must look like {prefix}salt$hash"
            ))
        }
    };
    let blf = || -> Result<Hash, String> {
        let bcrypt_prefix = ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p));
        if bcrypt_prefix && hash.len() == 60 {
            Ok(Hash::Bcrypt(hash.to_owned()))
        } else {
            Err(format!(
                "{{{scheme}}} hash must be a 60-character $2y$ bcrypt string"
            ))
        }
    };
    match scheme.as_str() {
        "SHA512-CRYPT" => sha("$6$"),
        "SHA256-CRYPT" => sha("$5$"),
        "BLF-CRYPT" => blf(),
        "CRYPT" if hash.starts_with("$6$") => sha("$6$"),
        "CRYPT" if hash.starts_with("$5$") => sha("$5$"),
        "CRYPT" if hash.starts_with("$2") => blf(),
        "CRYPT" => Err("unsupported crypt kind (use $6$, $5$ or $2y$)".into()),
        other => Err(format!(
            "unsupported password scheme {{{other}}} (use SHA512-CRYPT, SHA256-CRYPT or BLF-CRYPT)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl passwd -6 -salt abcdefgh secret`
    const SHA512_SECRET: &str = "$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.";
    /// `openssl passwd -5 -salt abcdefgh secret`
    const SHA256_SECRET: &str = "$5$abcdefgh$gruCpC7VkOTspMQTTSAR8mtlO9Upms.fwqE5y16JVM.";

    fn file(text: &str) -> Result<PasswdFile, PasswdFileError> {
        PasswdFile::parse("users", text)
    }

    fn line_of(result: Result<PasswdFile, PasswdFileError>) -> (usize, String) {
        match result {
            Err(PasswdFileError::Line { line, reason, .. }) => (line, reason),
            other => panic!("expected a line error, got {other:?}"),
        }
    }

    #[test]
    fn dovecot_lines_parse_and_verify() {
        let text = format!(
            "# virtual users\n\
             \n\
             alice:{{SHA512-CRYPT}}{SHA512_SECRET}:5000:5000::/home/vmail/alice::\n\
             bob:{{SHA256-CRYPT}}{SHA256_SECRET}:5001:5000:Bob:/home/vmail/bob:/bin/false:userdb_quota=1G\n\
             carol:{SHA512_SECRET}:5002:5000::/home/vmail/carol\n"
        );
        let users = file(&text).unwrap();
        assert_eq!(users.len(), 3);
        let alice = users.check("alice", b"secret", None).unwrap();
        assert_eq!(
            alice,
            UserInfo {
                name: "alice".into(),
                uid: 5000,
                gid: 5000,
                home: "/home/vmail/alice".into(),
                groups: Groups::PrimaryOnly,
            }
        );
        assert_eq!(users.check("bob", b"secret", None).unwrap().uid, 5001);
        assert_eq!(users.check("carol", b"secret", None).unwrap().uid, 5002);
        assert!(matches!(
            users.check("alice", b"Secret", None),
            Err(AuthError::Rejected(_))
        ));
        assert!(matches!(
            users.check("nobody", b"secret", None),
            Err(AuthError::Rejected(_))
        ));
        // Names are exact: no case folding.
        assert!(users.check("Alice", b"secret", None).is_err());
    }

    #[test]
    fn bcrypt_hashes_verify() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let users = file(&format!(
            "dave:{{BLF-CRYPT}}{hash}:5003:5000::/srv/dave::\n"
        ))
        .unwrap();
        assert!(users.check("dave", b"secret", None).is_ok());
        assert!(users.check("dave", b"wrong", None).is_err());
    }

    #[test]
    fn malformed_lines_are_named() {
        let good = format!("alice:{{SHA512-CRYPT}}{SHA512_SECRET}:5000:5000::/home/alice::");
        let table: &[(&str, &str)] = &[
            ("alice:x:1", "fields"),
            (
                "alice:{PLAIN}secret:5000:5000::/home/a::",
                "unsupported password scheme",
            ),
            ("alice:{SHA512-CRYPT}$5$abc$def:5000:5000::/home/a::", "$6$"),
            ("alice:{SHA512-CRYPT}:5000:5000::/home/a::", "empty"),
            ("alice:$1$md5$xyz:5000:5000::/home/a::", "unsupported crypt"),
            ("alice:{BLF-CRYPT}$2y$short:5000:5000::/home/a::", "bcrypt"),
            ("../root:{SHA512-CRYPT}$6$a$b:5000:5000::/home/a::", "user"),
            (
                "alice:{SHA512-CRYPT}$6$a$b:x:5000::/home/a::",
                "uid must be a number",
            ),
            (
                "alice:{SHA512-CRYPT}$6$a$b:5000:-1::/home/a::",
                "gid must be a number",
            ),
            (
                "alice:{SHA512-CRYPT}$6$a$b:0:5000::/home/a::",
                "never served",
            ),
            ("alice:{SHA512-CRYPT}$6$a$b:5000:5000::home/a::", "absolute"),
        ];
        for (bad, reason) in table {
            // The bad line is the third: after a comment and a good user.
            let text = format!("# users\n{}\n{bad}\n", good.replace("alice", "zed"));
            let (line, why) = line_of(file(&text));
            assert_eq!(line, 3, "{bad}");
            assert!(why.contains(reason), "{bad}: {why}");
        }
        let (line, why) = line_of(file(&format!("{good}\n{good}\n")));
        assert_eq!(line, 2);
        assert!(why.contains("twice"), "{why}");
    }

    #[test]
    fn error_text_names_file_and_line() {
        let e = file("\n\nbroken\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "users line 3: expected user:password:uid:gid:gecos:home[:shell[:extra]], found 1 fields"
        );
    }
}
