//! The command line and the configuration file → one validated [`Config`].
//!
//! Nothing here touches the user's files or reads the environment: `main`
//! passes the arguments, and the file's text when `--config` names one, and
//! gets back either a complete `Config` or an error that names the offending
//! argument or line. Nothing is half-applied.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use crate::mailstore::LockSettings;

/// The default configuration file, read when it exists and `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/mbox-imapd.conf";

pub const USAGE: &str = "\
usage: mbox-imapd [OPTIONS]

Serves one IMAP4rev1 session on stdin/stdout over the user's mbox files.
Started as root (inetd, xinetd, systemd Accept=yes) it greets with OK and
waits for a login; started as a user (ssh/rsh tunnel, mutt `tunnel`, mbsync
`Tunnel`) it greets with PREAUTH and serves that user.

options:
  --preauth          serve the invoking user without a login (the default when
                     not started as root)
  --inbox PATH       INBOX file (default: $MAIL, else <spool dir>/<user>;
                     spool dir /var/mail)
  --mail-dir DIR     directory of the other mailboxes (default: ~/mail)
  --home DIR         home directory (default: from the password database); holds
                     the subscription list .mailboxlist and a relative --mail-dir
  --config FILE      configuration file (default: /etc/mbox-imapd.conf if it exists)
  --log TARGET       syslog (default) or stderr
  --demo             serve a sample mailbox copied into a fresh temp dir, on
                     this terminal (try: a SELECT INBOX)
  --version          print the version and exit
  --help             print this text and exit
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Serve(Config),
    Demo(Config),
    Help,
    Version,
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTarget {
    /// Facility mail; the default, because under inetd stderr is the client's socket.
    Syslog,
    Stderr,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `--preauth` was given.
    pub preauth: bool,
    /// `--inbox`; `None` = `$MAIL`, else `<spool_dir>/<user>`.
    pub inbox: Option<PathBuf>,
    /// `--mail-dir` or `mail_dir`; relative paths are taken from the home directory.
    pub mail_dir: PathBuf,
    /// `--home`; `None` = the user's home directory from the password database.
    pub home: Option<PathBuf>,
    pub spool_dir: PathBuf,
    pub config_file: Option<PathBuf>,
    pub log: LogTarget,
    pub lock_timeout: Duration,
    pub dotlock: bool,
    pub fcntl: bool,
    pub flock: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            preauth: false,
            inbox: None,
            mail_dir: PathBuf::from("mail"),
            home: None,
            spool_dir: PathBuf::from("/var/mail"),
            config_file: None,
            log: LogTarget::Syslog,
            lock_timeout: Duration::from_secs(60),
            dotlock: true,
            fcntl: true,
            flock: true,
        }
    }
}

impl Config {
    pub fn lock_settings(&self) -> LockSettings {
        LockSettings {
            dotlock: self.dotlock,
            fcntl: self.fcntl,
            flock: self.flock,
            timeout: self.lock_timeout,
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("unknown option {0} (see --help)")]
    UnknownOption(String),
    #[error("option {0} needs a value")]
    MissingValue(String),
    #[error("option {option}: {reason}")]
    BadValue { option: String, reason: String },
    #[error("{file} line {line}: {reason}")]
    File {
        file: String,
        line: usize,
        reason: String,
    },
}

/// Parses argv (without the program name). Command-line options override the
/// configuration file, whose text `read_file` supplies when asked.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    read_file: impl Fn(&std::path::Path) -> Option<std::io::Result<String>>,
) -> Result<Action, ConfigError> {
    let mut config = Config::default();
    let mut demo = false;
    let mut log = None;
    let mut mail_dir = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy().into_owned();
        let mut value = |name: &str| {
            args.next()
                .map(PathBuf::from)
                .ok_or_else(|| ConfigError::MissingValue(name.to_owned()))
        };
        match arg.as_str() {
            "--help" | "-h" => return Ok(Action::Help),
            "--version" | "-V" => return Ok(Action::Version),
            "--preauth" => config.preauth = true,
            "--demo" => demo = true,
            "--inbox" => config.inbox = Some(value("--inbox")?),
            "--mail-dir" => mail_dir = Some(value("--mail-dir")?),
            "--home" => config.home = Some(value("--home")?),
            "--config" => config.config_file = Some(value("--config")?),
            "--log" => {
                let v = value("--log")?;
                log =
                    Some(
                        parse_log(&v.to_string_lossy()).ok_or_else(|| ConfigError::BadValue {
                            option: "--log".into(),
                            reason: "expected syslog or stderr".into(),
                        })?,
                    );
            }
            other => return Err(ConfigError::UnknownOption(other.to_owned())),
        }
    }
    let file = config
        .config_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
    match read_file(&file) {
        Some(Ok(text)) => apply_file(&mut config, &file.to_string_lossy(), &text)?,
        Some(Err(e))
            if config.config_file.is_some() || e.kind() != std::io::ErrorKind::NotFound =>
        {
            return Err(ConfigError::File {
                file: file.to_string_lossy().into(),
                line: 0,
                reason: e.to_string(),
            });
        }
        _ => {}
    }
    if let Some(m) = mail_dir {
        config.mail_dir = m;
    }
    if let Some(l) = log {
        config.log = l;
    }
    Ok(if demo {
        Action::Demo(config)
    } else {
        Action::Serve(config)
    })
}

fn parse_log(v: &str) -> Option<LogTarget> {
    match v {
        "syslog" => Some(LogTarget::Syslog),
        "stderr" => Some(LogTarget::Stderr),
        _ => None,
    }
}

/// Applies `key = value` lines. `#` starts a comment; blank lines are ignored.
/// Every key is known and every value checked, or the whole file is refused.
fn apply_file(config: &mut Config, file: &str, text: &str) -> Result<(), ConfigError> {
    let mut staged = config.clone();
    for (i, raw) in text.lines().enumerate() {
        let err = |reason: String| ConfigError::File {
            file: file.to_owned(),
            line: i + 1,
            reason,
        };
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(err(format!("expected key = value, got {line:?}")));
        };
        let (key, value) = (key.trim(), value.trim());
        let boolean = |v: &str| match v {
            "yes" | "true" | "on" => Ok(true),
            "no" | "false" | "off" => Ok(false),
            _ => Err(err(format!("{key}: expected yes or no, got {v:?}"))),
        };
        match key {
            "spool_dir" if value.starts_with('/') => staged.spool_dir = value.into(),
            "spool_dir" => return Err(err("spool_dir must be an absolute path".into())),
            "mail_dir" if !value.is_empty() => staged.mail_dir = value.into(),
            "log" => {
                staged.log = parse_log(value)
                    .ok_or_else(|| err(format!("log: expected syslog or stderr, got {value:?}")))?
            }
            "lock_timeout" => {
                let secs: u64 = value
                    .parse()
                    .ok()
                    .filter(|s| (1..=3600).contains(s))
                    .ok_or_else(|| {
                        err(format!(
                            "lock_timeout: expected seconds 1..3600, got {value:?}"
                        ))
                    })?;
                staged.lock_timeout = Duration::from_secs(secs);
            }
            "dotlock" => staged.dotlock = boolean(value)?,
            "fcntl" => staged.fcntl = boolean(value)?,
            "flock" => staged.flock = boolean(value)?,
            _ => return Err(err(format!("unknown key {key:?}"))),
        }
    }
    *config = staged;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    fn no_file(_: &std::path::Path) -> Option<std::io::Result<String>> {
        None
    }

    #[test]
    fn options() {
        let Action::Serve(c) = parse(
            args(&[
                "--preauth",
                "--inbox",
                "/tmp/x",
                "--log",
                "stderr",
                "--home",
                "/h",
            ]),
            no_file,
        )
        .unwrap() else {
            panic!()
        };
        assert!(c.preauth);
        assert_eq!(c.inbox, Some(PathBuf::from("/tmp/x")));
        assert_eq!(c.home, Some(PathBuf::from("/h")));
        assert_eq!(c.log, LogTarget::Stderr);
        assert_eq!(parse(args(&["--help"]), no_file), Ok(Action::Help));
        assert!(matches!(
            parse(args(&["--demo"]), no_file),
            Ok(Action::Demo(_))
        ));
        assert_eq!(
            parse(args(&["--bogus"]), no_file),
            Err(ConfigError::UnknownOption("--bogus".into()))
        );
        assert_eq!(
            parse(args(&["--inbox"]), no_file),
            Err(ConfigError::MissingValue("--inbox".into()))
        );
        assert!(parse(args(&["--log", "file"]), no_file).is_err());
    }

    #[test]
    fn config_file_keys_and_errors_name_the_line() {
        let read = |text: &'static str| move |_: &std::path::Path| Some(Ok(text.to_owned()));
        let ok = parse(
            args(&["--config", "f"]),
            read("# c\nspool_dir = /srv/mail\nlock_timeout = 5\nflock = no\n"),
        );
        let Ok(Action::Serve(c)) = ok else {
            panic!("{ok:?}")
        };
        assert_eq!(c.spool_dir, PathBuf::from("/srv/mail"));
        assert_eq!(c.lock_timeout, Duration::from_secs(5));
        assert!(!c.flock);
        let bad = parse(
            args(&["--config", "f"]),
            read("spool_dir = /x\nbogus = 1\n"),
        );
        assert!(
            matches!(bad, Err(ConfigError::File { line: 2, .. })),
            "{bad:?}"
        );
        let bad = parse(args(&["--config", "f"]), read("flock = maybe\n"));
        assert!(
            matches!(bad, Err(ConfigError::File { line: 1, .. })),
            "{bad:?}"
        );
        let bad = parse(args(&["--config", "f"]), read("just words\n"));
        assert!(
            matches!(bad, Err(ConfigError::File { line: 1, .. })),
            "{bad:?}"
        );
    }

    #[test]
    fn command_line_overrides_file() {
        let read = |_: &std::path::Path| Some(Ok("mail_dir = Mail\nlog = stderr\n".to_owned()));
        let Ok(Action::Serve(c)) = parse(args(&["--mail-dir", "/m", "--log", "syslog"]), read)
        else {
            panic!()
        };
        assert_eq!(c.mail_dir, PathBuf::from("/m"));
        assert_eq!(c.log, LogTarget::Syslog);
    }
}
