//! Wiring only: argv and the config file, the logger, who we serve, stdin and
//! stdout, and the exit status. Everything else is in the library.
//!
//! Under inetd, fds 0, 1 and 2 are all the client's socket: nothing here may
//! print to stderr unless `--log stderr` or `--demo` asked for it.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mbox_imapd::command::Context;
use mbox_imapd::config::{self, Action, Config, LogTarget};
use mbox_imapd::connection;
use mbox_imapd::response::ResponseWriter;
use mbox_imapd::session::{Session, Start};

/// The demo mailbox: 30 realistic messages (multipart, attachments, encoded
/// headers, a forwarded message), as a local delivery agent leaves them.
const DEMO_INBOX: &[u8] = include_bytes!("../fixtures/demo/INBOX.mbox");

fn main() -> ExitCode {
    limit_heap_growth();
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let action = config::parse(args, |path: &Path| match std::fs::read_to_string(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Some(Err(e)),
        other => Some(other),
    });
    let action = match action {
        Ok(a) => a,
        Err(e) => return refuse_to_start(&e.to_string()),
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
            install_logger(config.log);
            serve(&config)
        }
    }
}

/// A configuration error: say so in IMAP (the client is on stdout) and in the log.
fn refuse_to_start(why: &str) -> ExitCode {
    install_logger(LogTarget::Syslog);
    log::error!("not starting: {why}");
    let mut out = io::stdout();
    let _ = write!(
        out,
        "* BYE mbox-imapd configuration error, see the system log\r\n"
    );
    let _ = out.flush();
    ExitCode::from(78) // EX_CONFIG
}

fn serve(config: &Config) -> ExitCode {
    let uid = nix::unistd::getuid();
    let start = if config.preauth || !uid.is_root() {
        Start::Preauth
    } else {
        Start::Login
    };
    let context = match start {
        Start::Preauth => match user_context(config) {
            Ok(c) => c,
            Err(why) => return refuse_to_start(&why),
        },
        // Nothing of any user's is looked at before a login.
        Start::Login => Context {
            user: String::new(),
            host: host_name(),
            inbox: PathBuf::new(),
            mail_dir: PathBuf::new(),
            home: PathBuf::new(),
            locking: config.lock_settings(),
        },
    };
    log::info!("session start user={} mode={:?}", context.user, start);
    run(context, start)
}

fn run(context: Context, start: Start) -> ExitCode {
    let mut session = Session::new(context, start);
    let stdin = io::stdin().lock();
    let mut out = ResponseWriter::new(io::stdout().lock());
    let result = connection::serve(&mut session, stdin, &mut out);
    let stats = session.stats();
    log::info!(
        "session end commands={} bytes_in={} bytes_out={}",
        stats.commands,
        stats.bytes_in,
        out.bytes_written()
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The client hung up in the middle of a response: not our failure.
        Err(e)
            if e.kind() == io::ErrorKind::BrokenPipe
                || e.kind() == io::ErrorKind::ConnectionReset =>
        {
            log::info!("client went away: {e}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            log::error!("session ended on I/O error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Who we serve when pre-authenticated: the invoking user, from the password
/// database (not from $USER, which a tunnel may not set).
fn user_context(config: &Config) -> Result<Context, String> {
    let uid = nix::unistd::getuid();
    let user = nix::unistd::User::from_uid(uid)
        .map_err(|e| format!("looking up uid {uid}: {e}"))?
        .ok_or_else(|| format!("uid {uid} has no passwd entry"))?;
    let home = match &config.home {
        Some(home) => home.clone(),
        None if user.dir.as_os_str().is_empty() => PathBuf::from("/"),
        None => user.dir.clone(),
    };
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
    install_logger(if config.log == LogTarget::Stderr {
        LogTarget::Stderr
    } else {
        LogTarget::Syslog
    });
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
    eprintln!("  c SEARCH TEXT invoice");
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
    };
    run(context, Start::Preauth)
}

fn install_logger(target: LogTarget) {
    // A panic message must go to the log, never to stderr: under inetd stderr
    // is the client's socket. (The session turns the panic into `* BYE`.)
    if target == LogTarget::Syslog {
        std::panic::set_hook(Box::new(|info| log::error!("panic: {info}")));
    }
    let level = log::LevelFilter::Info;
    match target {
        LogTarget::Stderr => {
            let _ = log::set_boxed_logger(Box::new(StderrLogger))
                .map(|()| log::set_max_level(log::LevelFilter::Debug));
        }
        LogTarget::Syslog => {
            let formatter = syslog::Formatter3164 {
                facility: syslog::Facility::LOG_MAIL,
                hostname: None,
                process: "mbox-imapd".into(),
                pid: std::process::id(),
            };
            // No syslog socket (a container, a test): log nothing rather than
            // write to stderr, which may be the client's socket.
            if let Ok(logger) = syslog::unix(formatter) {
                let _ = log::set_boxed_logger(Box::new(syslog::BasicLogger::new(logger)))
                    .map(|()| log::set_max_level(level));
            }
        }
    }
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

/// `--log stderr`: one line per event, for debugging on a terminal or in tests.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let _ = writeln!(
            io::stderr(),
            "mbox-imapd[{}]: {}: {}",
            std::process::id(),
            record.level(),
            record.args()
        );
    }
    fn flush(&self) {}
}
