//! The `log` backend: syslog (facility mail by default, authentication events
//! to authpriv) or stderr for debugging. Installed once, by `main`.
//!
//! Library code logs one `key=value` line per event through the `log`
//! macros; records whose target is [`AUTH_LOG`] (login successes and
//! failures) go to the authpriv facility, where sites keep who logged in from
//! where, readable by root only.
//!
//! Both syslog sockets are connected at install time, while still root, so
//! logging goes on after the process has become the user. If no syslog
//! socket exists (a container, a test) nothing is logged: under inetd stderr
//! is the client's socket and must never get a log line.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use syslog::{Facility, Formatter3164, Logger, LoggerBackend};

use crate::config::{LogFacility, LogTarget};
use crate::session::login::AUTH_LOG;

type Syslog = Logger<LoggerBackend, Formatter3164>;

/// Installs the logger. Returns false when syslog was asked for and its
/// socket could not be reached.
pub fn install(target: LogTarget, facility: LogFacility, socket: &Path) -> bool {
    let level = log::LevelFilter::Info;
    let logger: Box<dyn log::Log> = match target {
        LogTarget::Stderr => {
            log::set_max_level(log::LevelFilter::Debug);
            Box::new(StderrLogger)
        }
        LogTarget::Syslog => {
            let open = |facility: Facility| {
                let formatter = Formatter3164 {
                    facility,
                    hostname: None,
                    process: "mbox-imapd".into(),
                    pid: std::process::id(),
                };
                syslog::unix_custom(formatter, socket).ok().map(Mutex::new)
            };
            let (Some(main), auth) = (
                open(syslog_facility(facility)),
                open(Facility::LOG_AUTHPRIV),
            ) else {
                return false;
            };
            log::set_max_level(level);
            Box::new(SyslogLogger { main, auth })
        }
    };
    // A second install (tests) keeps the first logger.
    let _ = log::set_boxed_logger(logger);
    true
}

fn syslog_facility(f: LogFacility) -> Facility {
    match f {
        LogFacility::Mail => Facility::LOG_MAIL,
        LogFacility::Daemon => Facility::LOG_DAEMON,
        LogFacility::User => Facility::LOG_USER,
        LogFacility::Local(n) => match n {
            0 => Facility::LOG_LOCAL0,
            1 => Facility::LOG_LOCAL1,
            2 => Facility::LOG_LOCAL2,
            3 => Facility::LOG_LOCAL3,
            4 => Facility::LOG_LOCAL4,
            5 => Facility::LOG_LOCAL5,
            6 => Facility::LOG_LOCAL6,
            _ => Facility::LOG_LOCAL7,
        },
    }
}

struct SyslogLogger {
    main: Mutex<Syslog>,
    /// authpriv; `None` if it could not be opened (then auth events go to `main`).
    auth: Option<Mutex<Syslog>>,
}

impl log::Log for SyslogLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let sink = match &self.auth {
            Some(auth) if record.target() == AUTH_LOG => auth,
            _ => &self.main,
        };
        let Ok(mut logger) = sink.lock() else {
            return;
        };
        let message = record.args().to_string();
        let _ = match record.level() {
            log::Level::Error => logger.err(message),
            log::Level::Warn => logger.warning(message),
            log::Level::Info => logger.info(message),
            log::Level::Debug | log::Level::Trace => logger.debug(message),
        };
    }

    fn flush(&self) {}
}

/// `--log stderr`: one line per event, for debugging on a terminal or in tests.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let facility = if record.target() == AUTH_LOG {
            "auth: "
        } else {
            ""
        };
        let _ = writeln!(
            std::io::stderr(),
            "mbox-imapd[{}]: {}: {facility}{}",
            std::process::id(),
            record.level(),
            record.args()
        );
    }

    fn flush(&self) {}
}
