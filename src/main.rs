//! Wiring only: argv and the config file, the logger, who we serve, the
//! client's stream on fds 0 and 1, and the exit status. Everything else is in
//! the library.
//!
//! Under inetd, fds 0, 1 and 2 are all the client's socket: nothing here may
//! print to stderr unless `--log stderr` or `--demo` asked for it.
//!
//! Started as root (inetd), the order is fixed by what must happen before the
//! greeting: the peer address and socket options, the TLS files (read as
//! root), a PROXY header from a trusted proxy, the implicit-TLS handshake
//! (`--tls`), and only then `* OK`. Nothing of any user's is touched until a
//! login succeeds and [`privilege::become_user`] has dropped root.

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use mbox_imapd::auth::{self, Authenticator, UserInfo};
use mbox_imapd::command::{Context, counters};
use mbox_imapd::config::{self, Action, AuthBackend, Config, LogTarget, ProxyProtocol};
use mbox_imapd::connection::{self, Edge, End, Timeouts};
use mbox_imapd::net::proxy::{self, Expect, Header};
use mbox_imapd::net::{Peer, socket};
use mbox_imapd::response::ResponseWriter;
use mbox_imapd::session::login::AUTH_LOG;
use mbox_imapd::session::{self, LoginSetup, Session, Start, Tls};
use mbox_imapd::transport::{FdStream, Transport};
use mbox_imapd::{logger, privilege, tls};

/// The demo mailbox: 30 realistic messages (multipart, attachments, encoded
/// headers, a forwarded message), as a local delivery agent leaves them.
const DEMO_INBOX: &[u8] = include_bytes!("../fixtures/demo/INBOX.mbox");

/// sysexits(3) EX_CONFIG: the configuration is wrong.
const EX_CONFIG: u8 = 78;

fn main() -> ExitCode {
    limit_heap_growth();
    // SIGBUS (a mailbox truncated under our map: `* BYE` and exit, never a
    // crash), SIGUSR2 (UW's kiss of death), SIGXFSZ ignored (a file-size limit
    // becomes an EFBIG error the write path handles).
    let signals = mbox_imapd::mailstore::install_signal_handlers();
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let action = config::parse(args, |path: &Path| match std::fs::read_to_string(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Some(Err(e)),
        other => Some(other),
    });
    let action = match action {
        Ok(a) => a,
        Err(e) => {
            install_logger(LogTarget::Syslog, &Config::default());
            return refuse_to_start(&e.to_string(), EX_CONFIG);
        }
    };
    match action {
        Action::Help => {
            print!("{}", config::USAGE);
            ExitCode::SUCCESS
        }
        Action::Version => {
            println!("mbox-imapd {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Action::Demo(config) => demo(config),
        Action::Serve(config) => {
            install_logger(config.log, &config);
            if let Err(e) = signals {
                log::warn!("event=signal-handlers-failed reason={e}");
            }
            serve(&config)
        }
    }
}

/// Cannot serve: say so in IMAP (the client is on stdout) and in the log.
fn refuse_to_start(why: &str, status: u8) -> ExitCode {
    log::error!("event=not-starting reason={why:?}");
    let mut out = io::stdout();
    let _ = write!(
        out,
        "* BYE mbox-imapd cannot serve now, see the system log\r\n"
    );
    let _ = out.flush();
    ExitCode::from(status)
}

fn serve(config: &Config) -> ExitCode {
    let uid = nix::unistd::getuid();
    if config.preauth || !uid.is_root() {
        return match user_context(config) {
            Ok(context) => {
                log::info!("event=session-start user={} mode=preauth", context.user);
                let stream = match stdio_stream(None) {
                    Ok(s) => s,
                    Err(e) => return refuse_to_start(&format!("stdin/stdout: {e}"), 1),
                };
                run(
                    Session::with_options(context, Start::Preauth, session_options(config)),
                    stream,
                    timeouts(config),
                    None,
                )
            }
            Err(why) => refuse_to_start(&why, EX_CONFIG),
        };
    }
    serve_logins(config)
}

/// Started as root by inetd: set up the connection, then serve logins.
fn serve_logins(config: &Config) -> ExitCode {
    let settings = &config.server;
    let stdin = io::stdin();
    let peer_ip = socket::peer_address(stdin.as_fd());
    let mut peer = Peer::new(peer_ip, &settings.trusted_proxies);
    if peer_ip.is_some() {
        if let Some(idle) = settings.keepalive
            && let Err(e) = socket::set_keepalive(stdin.as_fd(), idle)
        {
            log::warn!("event=keepalive-failed reason={e}");
        }
        let _ = socket::set_send_timeout(io::stdout().as_fd(), settings.autologout);
    }
    log::info!(
        "event=connect {peer} tls={}",
        if config.implicit_tls {
            "implicit"
        } else {
            "no"
        }
    );

    let tls_config = match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => match tls::load(cert, key) {
            Ok(c) => Some(c),
            Err(e) => return refuse_to_start(&e.to_string(), EX_CONFIG),
        },
        _ => None,
    };

    if peer.trusted_proxy && settings.proxy_protocol != ProxyProtocol::Off {
        let expect = match settings.proxy_protocol {
            ProxyProtocol::Required => Expect::Required,
            _ => Expect::Optional,
        };
        match proxy::read_header(stdin.as_fd(), settings.proxy_header_timeout, expect) {
            Ok(Some(Header::Client(client))) => {
                peer.report(client);
                log::info!("event=proxy-header {peer}");
            }
            Ok(Some(Header::Unknown) | None) => {}
            Err(e) => {
                log::warn!(
                    "event=proxy-header-refused {peer} reason={:?}",
                    e.to_string()
                );
                return refuse_to_start(&e.to_string(), 1);
            }
        }
    }

    let authenticator: Box<dyn Authenticator> = match &settings.auth {
        AuthBackend::Pam { service } => Box::new(auth::pam::Pam::new(service)),
        AuthBackend::PasswdFile { path } => match auth::passwd_file::PasswdFile::load(path) {
            Ok(file) => Box::new(file),
            Err(e) => return refuse_to_start(&e.to_string(), EX_CONFIG),
        },
    };

    let mut stream = match stdio_stream(tls_config.clone()) {
        Ok(s) => s,
        Err(e) => return refuse_to_start(&format!("stdin/stdout: {e}"), 1),
    };
    let tls_state = if config.implicit_tls {
        stream.set_read_timeout(Some(settings.login_timeout));
        if let Err(e) = stream.start_tls() {
            log::info!("event=tls-failed {peer} reason={:?}", e.to_string());
            return ExitCode::FAILURE;
        }
        log_tls(&stream, &peer);
        Tls::Active
    } else if tls_config.is_some() {
        Tls::Offered
    } else {
        Tls::Unavailable
    };

    let setup = LoginSetup {
        authenticator,
        peer,
        plaintext: settings.allow_plaintext,
        tls: tls_state,
        failure_delay: settings.auth_failure_delay,
    };
    // Nothing of any user's is looked at before a login.
    let placeholder = Context {
        user: String::new(),
        host: host_name(),
        inbox: PathBuf::new(),
        mail_dir: PathBuf::new(),
        home: PathBuf::new(),
        locking: config.lock_settings(),
        special_use: config.special_use.clone(),
    };
    let session = Session::for_login(placeholder, setup, session_options(config));
    run(session, stream, timeouts(config), Some(config))
}

/// The protocol settings of both modes (APPENDLIMIT, LITERAL+/-, ID's
/// support-url).
fn session_options(config: &Config) -> session::Options {
    session::Options {
        max_message_size: config.server.max_message_size,
        literals: config.server.literals,
        support_url: config.server.support_url.clone(),
    }
}

/// fds 0 and 1 as one stream (each duplicated, so the std handles stay valid).
fn stdio_stream(tls: Option<Arc<rustls::ServerConfig>>) -> io::Result<FdStream> {
    let input: OwnedFd = io::stdin().as_fd().try_clone_to_owned()?;
    let output: OwnedFd = io::stdout().as_fd().try_clone_to_owned()?;
    Ok(FdStream::new(input, output, tls))
}

fn timeouts(config: &Config) -> Option<Timeouts> {
    let s = &config.server;
    Some(Timeouts {
        login: s.login_timeout,
        autologout: s.autologout,
        idle: s.idle_timeout,
    })
}

fn log_tls(stream: &FdStream, peer: &Peer) {
    log::info!(
        "event=tls {peer} {}",
        stream.tls_description().unwrap_or_default()
    );
}

/// Runs the session to its end and logs the summary line.
fn run(
    mut session: Session,
    stream: FdStream,
    timeouts: Option<Timeouts>,
    login: Option<&Config>,
) -> ExitCode {
    let started = Instant::now();
    let mut out = ResponseWriter::new(stream);
    let mut edge = LoginEdge { config: login };
    let result = connection::serve(&mut session, &mut out, timeouts, &mut edge);
    if result.as_ref().is_err_and(is_disconnect) {
        // The client went away mid-response: pending flag changes still go
        // to the mailbox, as at end of input.
        session.end_of_input();
    }
    let _ = out.flush();
    let stats = session.stats();
    let end = match &result {
        Ok(End::Closed) => "closed",
        Ok(End::EndOfInput) => "eof",
        Ok(End::Autologout) => "autologout",
        Ok(End::TlsFailed) => "tls-failed",
        Ok(End::CorruptInput) => "corrupt-input",
        Err(e) if is_disconnect(e) => "disconnect",
        Err(_) => "error",
    };
    let peer = session
        .peer()
        .map(|p| p.to_string())
        .unwrap_or_else(|| "peer=local".into());
    // COMPRESS: what the compressed stream carried on the wire (bytes_in and
    // bytes_out count the IMAP octets).
    let compressed = out
        .get_ref()
        .compressed_octets()
        .map(|(i, o)| format!(" compressed_in={i} compressed_out={o}"))
        .unwrap_or_default();
    log::info!(
        "event=session-end user={} end={end} duration_ms={} commands={} bytes_in={} \
         bytes_out={}{compressed} fetched={} stored={} expunged={} appended={} peak_rss_kb={} \
         {peer}",
        session_user(&session),
        started.elapsed().as_millis(),
        stats.commands,
        stats.bytes_in,
        out.bytes_written(),
        counters::read(&counters::MESSAGES_FETCHED),
        counters::read(&counters::MESSAGES_STORED),
        counters::read(&counters::MESSAGES_EXPUNGED),
        counters::read(&counters::MESSAGES_APPENDED),
        peak_rss_kb().map_or_else(|| "-".into(), |kb| kb.to_string()),
    );
    match result {
        Ok(_) => ExitCode::SUCCESS,
        // The client hung up in the middle of a response: not our failure.
        Err(e) if is_disconnect(&e) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("event=io-error reason={:?}", e.to_string());
            ExitCode::FAILURE
        }
    }
}

fn session_user(session: &Session) -> &str {
    match session.user() {
        "" => "-",
        user => user,
    }
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
    )
}

/// Peak resident memory (`VmHWM` of /proc/self/status), in kB.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The caller's part of a login: become the user, then name their mailboxes.
struct LoginEdge<'c> {
    /// `None`: a preauth or demo session, where no login happens.
    config: Option<&'c Config>,
}

impl Edge for LoginEdge<'_> {
    fn become_user(&mut self, user: &UserInfo) -> Result<Context, String> {
        let Some(config) = self.config else {
            return Err("no logins in this mode".into());
        };
        if let Err(e) = privilege::become_user(user) {
            log::error!(
                target: AUTH_LOG,
                "event=privilege-drop-failed user={} uid={} reason={:?}",
                user.name,
                user.uid,
                e.to_string()
            );
            return Err(e.to_string());
        }
        log::info!(
            "event=serving user={} uid={} gid={} home={}",
            user.name,
            nix::unistd::getuid(),
            nix::unistd::getgid(),
            user.home.display()
        );
        Ok(Context {
            user: user.name.clone(),
            host: host_name(),
            inbox: config.spool_dir.join(&user.name),
            mail_dir: user.home.join(&config.mail_dir),
            home: user.home.clone(),
            locking: config.lock_settings(),
            special_use: config.special_use.clone(),
        })
    }
}

/// Who we serve when pre-authenticated: the invoking user, from the password
/// database (not from $USER, which a tunnel may not set).
fn user_context(config: &Config) -> Result<Context, String> {
    let uid = nix::unistd::getuid();
    let user = nix::unistd::User::from_uid(uid)
        .map_err(|e| format!("looking up uid {uid}: {e}"))?
        .ok_or_else(|| format!("uid {uid} has no passwd entry"))?;
    // Already running as the user (a tunnel, `--preauth`): $HOME is the
    // user's own, and c-client honours it (config::preauth_home).
    let env_home = std::env::var_os("HOME");
    let home = config::preauth_home(
        config::HomeInputs {
            flag: config.home.as_deref(),
            env: env_home.as_deref(),
            own_identity: uid == nix::unistd::geteuid(),
            passwd: &user.dir,
        },
        Path::is_dir,
    );
    if let Some(why) = &home.ignored {
        log::warn!(
            "event=home-ignored home={:?} reason={why:?} using={}",
            env_home.unwrap_or_default(),
            home.path.display()
        );
    }
    log::info!(
        "event=home home={} from={}",
        home.path.display(),
        home.source.as_str()
    );
    let home = home.path;
    let inbox = config
        .inbox
        .clone()
        .or_else(|| {
            std::env::var_os("MAIL")
                .filter(|m| !m.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| config.spool_dir.join(&user.name));
    Ok(Context {
        user: user.name,
        host: host_name(),
        inbox,
        mail_dir: home.join(&config.mail_dir),
        home,
        locking: config.lock_settings(),
        special_use: config.special_use.clone(),
    })
}

fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// `--demo`: copy the embedded mailbox into a fresh temp dir and serve it here.
fn demo(config: Config) -> ExitCode {
    let target = if config.log == LogTarget::Stderr {
        LogTarget::Stderr
    } else {
        LogTarget::Syslog
    };
    install_logger(target, &config);
    let dir = std::env::temp_dir().join(format!(
        "mbox-imapd-demo-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    ));
    let mail_dir = dir.join("mail");
    let inbox = dir.join("INBOX");
    let made = std::fs::create_dir_all(&mail_dir).and_then(|()| std::fs::write(&inbox, DEMO_INBOX));
    if let Err(e) = made {
        eprintln!("mbox-imapd --demo: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    eprintln!(
        "mbox-imapd demo: serving a copy of a 30-message mailbox from {}",
        dir.display()
    );
    eprintln!("type IMAP commands, for example:");
    eprintln!("  a SELECT INBOX");
    eprintln!("  b FETCH 1:5 (FLAGS ENVELOPE)");
    eprintln!("  c SEARCH TEXT quizzaciously");
    eprintln!("  d FETCH 3 BODY[1]");
    eprintln!("  e LOGOUT");
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "demo".into());
    let context = Context {
        user,
        host: host_name(),
        inbox,
        mail_dir,
        home: dir,
        locking: config.lock_settings(),
        special_use: config.special_use.clone(),
    };
    let stream = match stdio_stream(None) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mbox-imapd --demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    // A person at a terminal: no autologout.
    run(
        Session::with_options(context, Start::Preauth, session_options(&config)),
        stream,
        None,
        None,
    )
}

fn install_logger(target: LogTarget, config: &Config) {
    // A panic message must go to the log, never to stderr: under inetd stderr
    // is the client's socket. (The session turns the panic into `* BYE`.)
    if target == LogTarget::Syslog {
        std::panic::set_hook(Box::new(|info| log::error!("panic: {info}")));
    }
    let s = &config.server;
    logger::install(target, s.log_facility, &s.syslog_socket);
}

/// Keeps a session's anonymous memory near its working set.
///
/// glibc raises its mmap threshold each time a large block is freed, after
/// which big temporary buffers (a decoded attachment during SEARCH, an APPEND
/// literal) come from the heap, and the freed space stays resident for the
/// life of the process. With a fixed threshold they are mapped and unmapped
/// each time. Measured on a 100,000-message mailbox: SEARCH TEXT left 7.4 MB
/// anonymous without this, 4.4 MB with it (BENCHMARKS.md).
fn limit_heap_growth() {
    #[cfg(target_env = "gnu")]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only changes allocator tuning; it is called once, before
    // any other thread exists, with a valid parameter and value.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
