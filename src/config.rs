//! The command line and the configuration file → one validated [`Config`].
//!
//! Nothing here touches the user's files or reads the environment: `main`
//! passes the arguments, and the file's text when `--config` names one, and
//! gets back either a complete `Config` or an error that names the offending
//! argument or line. Nothing is half-applied. Likewise [`preauth_home`] is
//! given `$HOME` and a directory check, and decides the pre-authenticated
//! session's home.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

use crate::mailstore::LockSettings;
use crate::net::IpNet;
use crate::special_use::{SpecialUses, Use};

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
  --home DIR         home directory of a pre-authenticated session (default:
                     $HOME if it is an existing directory, else from the
                     password database); holds the subscription list
                     .mailboxlist and a relative --mail-dir
  --config FILE      configuration file (default: /etc/mbox-imapd.conf if it exists)
  --log TARGET       syslog (default) or stderr
  --tls              implicit TLS (imaps, port 993): handshake before the
                     greeting; needs tls_cert and tls_key in the config file
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

/// Every key the configuration file accepts (mbox-imapd.conf(5) documents
/// each; tests/manpages.rs checks that it does).
pub const FILE_KEYS: &[&str] = &[
    "spool_dir",
    "mail_dir",
    "log",
    "lock_timeout",
    "dotlock",
    "fcntl",
    "flock",
    "auth",
    "pam_service",
    "passwd_file",
    "tls_cert",
    "tls_key",
    "allow_plaintext",
    "trusted_proxies",
    "proxy_protocol",
    "proxy_header_timeout",
    "login_timeout",
    "autologout",
    "idle_timeout",
    "keepalive",
    "max_message_size",
    "literals",
    "support_url",
    "auth_failure_delay",
    "log_facility",
    "syslog_socket",
    "special_use_sent",
    "special_use_drafts",
    "special_use_trash",
    "special_use_junk",
    "special_use_archive",
];

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
    /// `--tls`: implicit TLS before the greeting (imaps).
    pub implicit_tls: bool,
    /// The `special_use_*` keys: which mailboxes LIST marks `\Sent`,
    /// `\Drafts`, ... (RFC 6154).
    pub special_use: SpecialUses,
    /// The rest: logins, TLS, timeouts, network (see mbox-imapd.conf(5)).
    pub server: ServerSettings,
}

/// The settings for serving logins (started as root): see mbox-imapd.conf(5)
/// for each key and its default.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    pub auth: AuthBackend,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub allow_plaintext: PlaintextPolicy,
    pub trusted_proxies: Vec<IpNet>,
    pub proxy_protocol: ProxyProtocol,
    /// How long a trusted proxy has to send its PROXY header.
    pub proxy_header_timeout: Duration,
    /// Autologout before login.
    pub login_timeout: Duration,
    /// Autologout after login (RFC 3501 §5.4: at least 30 minutes).
    pub autologout: Duration,
    /// Longest IDLE (RFC 2177) before the server ends it.
    pub idle_timeout: Duration,
    /// TCP keepalive idle time; `None` = off.
    pub keepalive: Option<Duration>,
    /// APPENDLIMIT (RFC 7889) and the largest literal accepted after login
    /// (also under `--preauth`).
    pub max_message_size: u64,
    /// Which non-synchronizing literals are offered (also under `--preauth`).
    pub literals: Literals,
    /// ID's `support-url` (RFC 2971 §3.3); `None`: the field is left out.
    /// A URI of RFC 3986 characters with a scheme, at most 1024 octets.
    pub support_url: Option<String>,
    /// Delay before the first failed-login answer; it doubles with each failure.
    pub auth_failure_delay: Duration,
    pub log_facility: LogFacility,
    /// The syslog socket (`/dev/log`).
    pub syslog_socket: PathBuf,
}

/// Which authentication backend serves logins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthBackend {
    /// PAM with this service name (`/etc/pam.d/<service>`).
    Pam { service: String },
    /// A Dovecot-style passwd-file of virtual users.
    PasswdFile { path: PathBuf },
}

/// When LOGIN and AUTHENTICATE PLAIN/LOGIN are allowed without TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaintextPolicy {
    /// Only after TLS (or from a trusted proxy).
    Never,
    /// Also from loopback addresses and non-IP connections (pipes): the
    /// connection never leaves the host.
    Loopback,
    /// Always (a private network, or a site that accepts the risk).
    Always,
}

/// Which RFC 7888 extension is advertised: how large a non-synchronizing
/// literal (`{n+}`) the server takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Literals {
    /// LITERAL+: any size the other limits allow.
    #[default]
    Plus,
    /// LITERAL-: at most 4096 octets; larger ones are refused with BAD, so
    /// a client must wait for `+` before sending a large message.
    Minus,
}

/// Whether trusted proxies send a PROXY protocol header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyProtocol {
    /// Never look for one.
    Off,
    /// Take one if it arrives within `proxy_header_timeout`.
    Optional,
    /// Trusted proxies must send one.
    Required,
}

/// The syslog facility for ordinary events (auth events go to authpriv).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFacility {
    Mail,
    Daemon,
    User,
    /// `local0` … `local7`.
    Local(u8),
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            auth: AuthBackend::Pam {
                service: "imap".into(),
            },
            tls_cert: None,
            tls_key: None,
            allow_plaintext: PlaintextPolicy::Loopback,
            trusted_proxies: Vec::new(),
            proxy_protocol: ProxyProtocol::Optional,
            proxy_header_timeout: Duration::from_secs(3),
            login_timeout: Duration::from_secs(60),
            autologout: Duration::from_secs(30 * 60),
            idle_timeout: Duration::from_secs(30 * 60),
            keepalive: Some(Duration::from_secs(5 * 60)),
            max_message_size: 64 * 1024 * 1024,
            literals: Literals::Plus,
            support_url: None,
            auth_failure_delay: Duration::from_secs(2),
            log_facility: LogFacility::Mail,
            syslog_socket: PathBuf::from("/dev/log"),
        }
    }
}

impl ServerSettings {
    /// Whether TLS is configured (cert and key both set).
    pub fn tls_configured(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }
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
            implicit_tls: false,
            special_use: SpecialUses::default(),
            server: ServerSettings::default(),
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
            "--tls" => config.implicit_tls = true,
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
    if config.implicit_tls && !config.server.tls_configured() {
        return Err(ConfigError::BadValue {
            option: "--tls".into(),
            reason: "needs tls_cert and tls_key in the configuration file".into(),
        });
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
    let mut backend = BackendKeys::default();
    let mut tls_line = 0;
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
        match key {
            "auth" => backend.line = i + 1,
            "tls_cert" | "tls_key" => tls_line = i + 1,
            _ => {}
        }
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
            _ if key.starts_with("special_use_") => {
                let use_ = Use::ALL
                    .into_iter()
                    .find(|u| u.config_key() == key)
                    .ok_or_else(|| err(format!("unknown key {key:?}")))?;
                staged
                    .special_use
                    .set(use_, value)
                    .map_err(|reason| err(format!("{key}: {reason}")))?;
            }
            _ => apply_server_key(&mut staged.server, &mut backend, key, value).map_err(err)?,
        }
    }
    staged.server.auth = backend.resolve().map_err(|reason| ConfigError::File {
        file: file.to_owned(),
        line: backend.line,
        reason,
    })?;
    if staged.server.tls_cert.is_some() != staged.server.tls_key.is_some() {
        return Err(ConfigError::File {
            file: file.to_owned(),
            line: tls_line,
            reason: "tls_cert and tls_key must be given together".into(),
        });
    }
    *config = staged;
    Ok(())
}

/// The auth keys, collected while reading and checked together at the end
/// (`passwd_file` may come before or after `auth = passwd-file`).
#[derive(Default)]
struct BackendKeys {
    kind: Option<String>,
    pam_service: Option<String>,
    passwd_file: Option<PathBuf>,
    /// The line of the `auth` key, for the error.
    line: usize,
}

impl BackendKeys {
    fn resolve(&self) -> Result<AuthBackend, String> {
        match self.kind.as_deref().unwrap_or("pam") {
            "pam" => Ok(AuthBackend::Pam {
                service: self.pam_service.clone().unwrap_or_else(|| "imap".into()),
            }),
            "passwd-file" => match &self.passwd_file {
                Some(path) => Ok(AuthBackend::PasswdFile { path: path.clone() }),
                None => Err("auth = passwd-file needs passwd_file = PATH".into()),
            },
            other => Err(format!("auth: expected pam or passwd-file, got {other:?}")),
        }
    }
}

/// The keys of [`ServerSettings`]; `Err` is the reason, without the line.
fn apply_server_key(
    s: &mut ServerSettings,
    backend: &mut BackendKeys,
    key: &str,
    value: &str,
) -> Result<(), String> {
    let path = |v: &str| -> Result<PathBuf, String> {
        if v.starts_with('/') {
            Ok(PathBuf::from(v))
        } else {
            Err(format!("{key} must be an absolute path, got {v:?}"))
        }
    };
    let duration = |v: &str| parse_duration(v).map_err(|why| format!("{key}: {why}"));
    match key {
        "auth" => backend.kind = Some(value.to_owned()),
        "pam_service" if !value.is_empty() && !value.contains('/') => {
            backend.pam_service = Some(value.to_owned())
        }
        "pam_service" => return Err(format!("pam_service: not a service name: {value:?}")),
        "passwd_file" => backend.passwd_file = Some(path(value)?),
        "tls_cert" => s.tls_cert = Some(path(value)?),
        "tls_key" => s.tls_key = Some(path(value)?),
        "allow_plaintext" => {
            s.allow_plaintext = match value {
                "no" => PlaintextPolicy::Never,
                "loopback" => PlaintextPolicy::Loopback,
                "yes" => PlaintextPolicy::Always,
                _ => {
                    return Err(format!(
                        "allow_plaintext: expected no, loopback or yes, got {value:?}"
                    ));
                }
            }
        }
        "trusted_proxies" => {
            s.trusted_proxies = value
                .split([',', ' '])
                .filter(|w| !w.is_empty())
                .map(|w| w.parse::<IpNet>())
                .collect::<Result<_, _>>()
                .map_err(|why| format!("trusted_proxies: {why}"))?
        }
        "proxy_protocol" => {
            s.proxy_protocol = match value {
                "no" => ProxyProtocol::Off,
                "optional" => ProxyProtocol::Optional,
                "required" => ProxyProtocol::Required,
                _ => {
                    return Err(format!(
                        "proxy_protocol: expected no, optional or required, got {value:?}"
                    ));
                }
            }
        }
        "proxy_header_timeout" => s.proxy_header_timeout = duration(value)?,
        "login_timeout" => s.login_timeout = nonzero(key, duration(value)?)?,
        "autologout" => s.autologout = nonzero(key, duration(value)?)?,
        "idle_timeout" => s.idle_timeout = nonzero(key, duration(value)?)?,
        "keepalive" if value == "no" || value == "off" => s.keepalive = None,
        "keepalive" => s.keepalive = Some(nonzero(key, duration(value)?)?),
        "max_message_size" => {
            s.max_message_size = parse_size(value)
                .filter(|n| (1024..=crate::command::append::MAX_APPEND_OCTETS as u64).contains(n))
                .ok_or_else(|| {
                    format!("max_message_size: expected a size like 20M (1K..64M), got {value:?}")
                })?
        }
        "literals" => {
            s.literals = match value {
                "plus" => Literals::Plus,
                "minus" => Literals::Minus,
                _ => return Err(format!("literals: expected plus or minus, got {value:?}")),
            }
        }
        "support_url" if value.is_empty() => s.support_url = None,
        "support_url" => s.support_url = Some(support_url(value)?),
        "auth_failure_delay" => s.auth_failure_delay = duration(value)?,
        "log_facility" => {
            s.log_facility = parse_facility(value).ok_or_else(|| {
                format!(
                    "log_facility: expected mail, daemon, user or local0..local7, got {value:?}"
                )
            })?
        }
        "syslog_socket" => s.syslog_socket = path(value)?,
        _ => return Err(format!("unknown key {key:?}")),
    }
    Ok(())
}

/// Longest ID value RFC 2971 §3.3 allows: 1024 octets.
const ID_VALUE_OCTETS: usize = 1024;

/// A `support_url` value: an RFC 3986 URI (`scheme:` then unreserved,
/// reserved and `%` characters only), so that ID sends it as one quoted
/// string exactly as written.
fn support_url(value: &str) -> Result<String, String> {
    let bad = |why: &str| Err(format!("support_url: {why}, got {value:?}"));
    if value.len() > ID_VALUE_OCTETS {
        return bad("longer than 1024 octets (RFC 2971)");
    }
    let Some((scheme, rest)) = value.split_once(':') else {
        return bad("expected a URL such as https://example.org/help");
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok || rest.is_empty() {
        return bad("expected a URL such as https://example.org/help");
    }
    // RFC 3986 §2: unreserved, gen-delims, sub-delims and percent-encoding.
    let uri_char = |c: char| c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c);
    if !value.chars().all(uri_char) {
        return bad("a URL has no spaces, quotes or other characters outside RFC 3986");
    }
    Ok(value.to_owned())
}

fn nonzero(key: &str, d: Duration) -> Result<Duration, String> {
    if d.is_zero() {
        Err(format!("{key} must be longer than 0"))
    } else {
        Ok(d)
    }
}

/// `90`, `90s`, `500ms`, `30m`, `2h`: a number with an optional unit (seconds by default).
pub fn parse_duration(v: &str) -> Result<Duration, String> {
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (number, unit) = v.split_at(digits);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("expected a duration like 60s, 30m or 500ms, got {v:?}"))?;
    let millis = match unit.trim() {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1000),
        "m" | "min" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => return Err(format!("unknown unit in {v:?} (use ms, s, m or h)")),
    };
    millis
        .filter(|ms| *ms <= 7 * 24 * 3_600_000)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{v:?} is longer than a week"))
}

/// `65536`, `64K`, `64M`, `1G` (powers of 1024).
fn parse_size(v: &str) -> Option<u64> {
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (number, unit) = v.split_at(digits);
    let n: u64 = number.parse().ok()?;
    let factor = match unit {
        "" => 1,
        "K" | "k" => 1024,
        "M" | "m" => 1024 * 1024,
        "G" | "g" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(factor)
}

fn parse_facility(v: &str) -> Option<LogFacility> {
    match v {
        "mail" => Some(LogFacility::Mail),
        "daemon" => Some(LogFacility::Daemon),
        "user" => Some(LogFacility::User),
        _ => {
            let n: u8 = v.strip_prefix("local")?.parse().ok()?;
            (n <= 7).then_some(LogFacility::Local(n))
        }
    }
}

/// Where a pre-authenticated session's home directory came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HomeSource {
    /// `--home`.
    Flag,
    /// `$HOME`, as UW's c-client takes it (`myhomedir`).
    Environment,
    /// The password database (`/` when its entry has none).
    Passwd,
}

impl HomeSource {
    /// The name in log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            HomeSource::Flag => "flag",
            HomeSource::Environment => "env",
            HomeSource::Passwd => "passwd",
        }
    }
}

/// A pre-authenticated session's home directory (the subscription list
/// `.mailboxlist`, and the base of a relative mail directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreauthHome {
    pub path: PathBuf,
    pub source: HomeSource,
    /// Why a set `$HOME` was not used, for the log.
    pub ignored: Option<String>,
}

/// What `$HOME` may say to a pre-authenticated session.
#[derive(Debug, Clone, Copy)]
pub struct HomeInputs<'a> {
    /// `--home`.
    pub flag: Option<&'a Path>,
    /// `$HOME` as the environment has it (`None`: unset).
    pub env: Option<&'a OsStr>,
    /// Whether the process runs with its own identity (real uid = effective
    /// uid): the environment is then the user's own, to be believed.
    pub own_identity: bool,
    /// The home directory in the password database.
    pub passwd: &'a Path,
}

/// The home of a pre-authenticated session, as UW's c-client chooses it, for
/// a process that already runs as the user (an ssh tunnel, `--preauth`): an
/// explicit `--home` wins; then `$HOME` if it names an existing directory by
/// an absolute path; then the password database. A `$HOME` that is set but
/// not used is reported in `ignored`. Never called for logins: a server
/// started as root by inetd serves the user's passwd home, whatever its own
/// environment says. `is_dir` is the file-system check (`main` passes
/// [`Path::is_dir`]), so that this stays pure.
pub fn preauth_home(inputs: HomeInputs<'_>, is_dir: impl Fn(&Path) -> bool) -> PreauthHome {
    let passwd = || {
        if inputs.passwd.as_os_str().is_empty() {
            PathBuf::from("/")
        } else {
            inputs.passwd.to_owned()
        }
    };
    if let Some(flag) = inputs.flag {
        return PreauthHome {
            path: flag.to_owned(),
            source: HomeSource::Flag,
            ignored: None,
        };
    }
    let env = inputs.env.filter(|h| !h.is_empty()).map(Path::new);
    let refused = match env {
        None => None,
        Some(_) if !inputs.own_identity => Some("the process runs set-uid".to_owned()),
        Some(home) if !home.is_absolute() => Some("not an absolute path".to_owned()),
        Some(home) if !is_dir(home) => Some("not an existing directory".to_owned()),
        Some(home) => {
            return PreauthHome {
                path: home.to_owned(),
                source: HomeSource::Environment,
                ignored: None,
            };
        }
    };
    PreauthHome {
        path: passwd(),
        source: HomeSource::Passwd,
        ignored: refused,
    }
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
    fn special_use_keys() {
        let read = |text: &'static str| move |_: &std::path::Path| Some(Ok(text.to_owned()));
        let ok = parse(
            args(&["--config", "f"]),
            read("special_use_sent = Outbox, Sent Items\nspecial_use_junk =\n"),
        );
        let Ok(Action::Serve(c)) = ok else {
            panic!("{ok:?}")
        };
        assert_eq!(c.special_use.of(b"Sent Items"), [Use::Sent]);
        assert_eq!(c.special_use.of(b"Sent"), []);
        assert_eq!(c.special_use.of(b"Junk"), [], "empty: no junk mailbox");
        assert_eq!(c.special_use.of(b"Trash"), [Use::Trash], "default kept");
        for bad in ["special_use_sent = INBOX\n", "special_use_all = All\n"] {
            let got = parse(args(&["--config", "f"]), read(bad));
            assert!(
                matches!(got, Err(ConfigError::File { line: 1, .. })),
                "{bad}: {got:?}"
            );
        }
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

    fn serve(text: &'static str) -> Result<Config, ConfigError> {
        let read = move |_: &std::path::Path| Some(Ok(text.to_owned()));
        match parse(args(&["--config", "f"]), read)? {
            Action::Serve(c) => Ok(c),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn server_defaults() {
        let s = serve("").unwrap().server;
        assert_eq!(
            s.auth,
            AuthBackend::Pam {
                service: "imap".into()
            }
        );
        assert_eq!(s.allow_plaintext, PlaintextPolicy::Loopback);
        assert_eq!(s.login_timeout, Duration::from_secs(60));
        assert_eq!(s.autologout, Duration::from_secs(1800));
        assert_eq!(s.keepalive, Some(Duration::from_secs(300)));
        assert_eq!(s.max_message_size, 64 * 1024 * 1024);
        assert_eq!(s.literals, Literals::Plus);
        assert_eq!(s.support_url, None);
        assert_eq!(s.log_facility, LogFacility::Mail);
        assert!(!s.tls_configured());
    }

    #[test]
    fn server_keys() {
        let c = serve(
            "auth = passwd-file\n\
             passwd_file = /etc/imap.passwd\n\
             tls_cert = /etc/ssl/imap.pem\n\
             tls_key = /etc/ssl/imap.key\n\
             allow_plaintext = no\n\
             trusted_proxies = 10.0.0.0/8, 192.0.2.7 2001:db8::/32\n\
             proxy_protocol = required\n\
             proxy_header_timeout = 500ms\n\
             login_timeout = 90\n\
             autologout = 45m\n\
             idle_timeout = 2h\n\
             keepalive = off\n\
             max_message_size = 20M\n\
             literals = minus\n\
             support_url = https://help.example.org/imap?from=id\n\
             auth_failure_delay = 0\n\
             log_facility = local3\n\
             syslog_socket = /run/test.sock\n",
        )
        .unwrap();
        let s = c.server;
        assert_eq!(
            s.auth,
            AuthBackend::PasswdFile {
                path: "/etc/imap.passwd".into()
            }
        );
        assert!(s.tls_configured());
        assert_eq!(s.allow_plaintext, PlaintextPolicy::Never);
        assert_eq!(s.trusted_proxies.len(), 3);
        assert!(s.trusted_proxies[1].contains("192.0.2.7".parse().unwrap()));
        assert_eq!(s.proxy_protocol, ProxyProtocol::Required);
        assert_eq!(s.proxy_header_timeout, Duration::from_millis(500));
        assert_eq!(s.login_timeout, Duration::from_secs(90));
        assert_eq!(s.autologout, Duration::from_secs(45 * 60));
        assert_eq!(s.idle_timeout, Duration::from_secs(7200));
        assert_eq!(s.keepalive, None);
        assert_eq!(s.max_message_size, 20 * 1024 * 1024);
        assert_eq!(s.literals, Literals::Minus);
        assert_eq!(
            s.support_url.as_deref(),
            Some("https://help.example.org/imap?from=id")
        );
        assert_eq!(s.auth_failure_delay, Duration::ZERO);
        assert_eq!(s.log_facility, LogFacility::Local(3));
        assert_eq!(s.syslog_socket, PathBuf::from("/run/test.sock"));
        let c = serve("pam_service = login\n").unwrap();
        assert_eq!(
            c.server.auth,
            AuthBackend::Pam {
                service: "login".into()
            }
        );
    }

    #[test]
    fn malformed_server_lines_name_the_line() {
        let table: &[(&'static str, usize, &str)] = &[
            ("auth = ldap\n", 1, "auth: expected pam or passwd-file"),
            ("# x\nauth = passwd-file\n", 2, "needs passwd_file"),
            ("passwd_file = relative/path\n", 1, "absolute path"),
            ("pam_service = ../x\n", 1, "not a service name"),
            ("allow_plaintext = maybe\n", 1, "allow_plaintext"),
            (
                "trusted_proxies = 10.0.0.0/8, nohost\n",
                1,
                "trusted_proxies",
            ),
            ("proxy_protocol = v3\n", 1, "proxy_protocol"),
            ("\n\nlogin_timeout = 0\n", 3, "longer than 0"),
            ("autologout = 30 parsecs\n", 1, "unknown unit"),
            ("idle_timeout = -5\n", 1, "expected a duration"),
            ("keepalive = 9999h\n", 1, "longer than a week"),
            ("max_message_size = 10\n", 1, "max_message_size"),
            ("max_message_size = 1T\n", 1, "max_message_size"),
            ("max_message_size = 65M\n", 1, "max_message_size"),
            (
                "literals = LITERAL-\n",
                1,
                "literals: expected plus or minus",
            ),
            ("support_url = help.example.org\n", 1, "support_url"),
            ("support_url = https://x/a b\n", 1, "support_url"),
            ("support_url = https://x/\"q\"\n", 1, "support_url"),
            ("support_url = :nothing\n", 1, "support_url"),
            ("support_url = 1http://x\n", 1, "support_url"),
            ("support_url = mailto:\n", 1, "support_url"),
            ("log_facility = local8\n", 1, "log_facility"),
            ("syslog_socket = dev/log\n", 1, "absolute path"),
            ("tls_cert = /a.pem\n", 1, "together"),
            ("flock = no\ntls_key = /a.key\n", 2, "together"),
            ("tls_certificate = /a.pem\n", 1, "unknown key"),
        ];
        for (text, line, reason) in table {
            match serve(text) {
                Err(ConfigError::File {
                    line: l, reason: r, ..
                }) => {
                    assert_eq!(l, *line, "{text:?}: {r}");
                    assert!(r.contains(reason), "{text:?}: {r}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn implicit_tls_needs_a_certificate() {
        let no_tls = parse(args(&["--tls"]), no_file);
        assert!(
            matches!(no_tls, Err(ConfigError::BadValue { .. })),
            "{no_tls:?}"
        );
        let read = |_: &std::path::Path| Some(Ok("tls_cert = /c\ntls_key = /k\n".to_owned()));
        let Ok(Action::Serve(c)) = parse(args(&["--tls", "--config", "f"]), read) else {
            panic!()
        };
        assert!(c.implicit_tls);
    }

    #[test]
    fn every_listed_key_is_known() {
        for key in FILE_KEYS {
            let text: &'static str = Box::leak(format!("{key} = \u{1}\n").into_boxed_str());
            match serve(text) {
                Err(ConfigError::File { reason, .. }) => {
                    assert!(!reason.contains("unknown key"), "{key}: {reason}")
                }
                // A few keys accept any text (auth is checked at the end).
                other => assert!(
                    !matches!(&other, Err(e) if e.to_string().contains("unknown key")),
                    "{key}: {other:?}"
                ),
            }
        }
        assert!(matches!(
            serve("nonsense = 1\n"),
            Err(ConfigError::File { .. })
        ));
    }

    #[test]
    fn durations() {
        for (text, ms) in [
            ("0", 0),
            ("15", 15_000),
            ("15s", 15_000),
            ("250ms", 250),
            ("2m", 120_000),
            ("1h", 3_600_000),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        for bad in ["", "s", "1.5s", "5 days", "-1"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
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

    fn home_inputs<'a>(flag: Option<&'a str>, env: Option<&'a str>) -> HomeInputs<'a> {
        HomeInputs {
            flag: flag.map(Path::new),
            env: env.map(OsStr::new),
            own_identity: true,
            passwd: Path::new("/home/pw"),
        }
    }

    fn dirs_are(existing: &'static [&'static str]) -> impl Fn(&Path) -> bool {
        move |p: &Path| existing.iter().any(|d| Path::new(d) == p)
    }

    #[test]
    fn preauth_home_flag_wins_over_home_and_passwd() {
        let h = preauth_home(
            home_inputs(Some("/flag"), Some("/env")),
            dirs_are(&["/env"]),
        );
        assert_eq!(
            h,
            PreauthHome {
                path: PathBuf::from("/flag"),
                source: HomeSource::Flag,
                ignored: None
            }
        );
    }

    #[test]
    fn preauth_home_takes_home_when_it_is_an_existing_directory() {
        let h = preauth_home(home_inputs(None, Some("/env")), dirs_are(&["/env"]));
        assert_eq!(
            (h.path.as_path(), h.source),
            (Path::new("/env"), HomeSource::Environment)
        );
        assert_eq!(h.ignored, None);
    }

    #[test]
    fn preauth_home_ignores_a_home_that_is_not_a_directory_and_says_why() {
        for (env, why) in [
            ("/missing", "not an existing directory"),
            ("relative/dir", "not an absolute path"),
        ] {
            let h = preauth_home(home_inputs(None, Some(env)), dirs_are(&["relative/dir"]));
            assert_eq!(
                (h.path.as_path(), h.source),
                (Path::new("/home/pw"), HomeSource::Passwd)
            );
            assert_eq!(h.ignored.as_deref(), Some(why), "{env}");
        }
    }

    #[test]
    fn preauth_home_unset_or_empty_is_the_passwd_home_silently() {
        for env in [None, Some("")] {
            let h = preauth_home(home_inputs(None, env), |_: &Path| true);
            assert_eq!(
                (h.path.as_path(), h.source),
                (Path::new("/home/pw"), HomeSource::Passwd)
            );
            assert_eq!(h.ignored, None);
        }
        let mut no_home = home_inputs(None, None);
        no_home.passwd = Path::new("");
        assert_eq!(
            preauth_home(no_home, |_: &Path| true).path,
            PathBuf::from("/")
        );
    }

    #[test]
    fn preauth_home_is_not_believed_from_a_set_uid_process() {
        let mut inputs = home_inputs(None, Some("/env"));
        inputs.own_identity = false;
        let h = preauth_home(inputs, |_: &Path| true);
        assert_eq!(h.source, HomeSource::Passwd);
        assert_eq!(h.ignored.as_deref(), Some("the process runs set-uid"));
    }
}
