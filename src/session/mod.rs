//! The protocol core: one IMAP session, sans I/O.
//!
//! Bytes go in through [`Session::receive`]; responses go out through the
//! `ResponseWriter` the caller passes. The session owns the framer (bytes →
//! commands), the state machine (state.rs) and dispatch to the command
//! handlers. It never names stdin, stdout or a socket: tests drive it with byte
//! strings and a `Vec<u8>`.

pub mod framer;
pub mod login;
pub mod state;

use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::command::{self, CommandError, Context};
use crate::parser::{self, ast::CommandBody};
use crate::response::{Code, ResponseWriter, Status};
use framer::{Frame, Framer, Limits};
use login::{Handled, Intercepted};
pub use login::{LoginSetup, Tls};
use state::State;

/// How the session starts (RFC 3501 §7.1.1 / §7.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Started as root by inetd: greet with OK and wait for LOGIN.
    Login,
    /// Started as the user (ssh/rsh tunnel, mutt `tunnel`, mbsync `Tunnel`):
    /// greet with PREAUTH, as UW imapd does.
    Preauth,
}

/// Whether the caller should keep reading, or act first (see login.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// LOGOUT was answered (or the stream cannot be resynchronised): close.
    Close,
    /// Credentials were accepted: become the user, then `complete_login`.
    Login,
    /// STARTTLS was answered: run the TLS handshake, then `tls_started`.
    StartTls,
    /// A login failed: wait this long without reading, then `resume`.
    Delay(Duration),
}

/// Counters for the end-of-session log line.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub commands: u64,
    pub bytes_in: u64,
}

/// One IMAP session. See the module doc.
pub struct Session {
    context: Context,
    start: Start,
    state: State,
    framer: Framer,
    stats: Stats,
    /// Started as root: logins, STARTTLS, failure limits (login.rs).
    login: Option<Box<login::Login>>,
}

impl Session {
    pub fn new(context: Context, start: Start) -> Self {
        let (state, limits) = match start {
            Start::Login => (State::NotAuthenticated, Limits::NOT_AUTHENTICATED),
            Start::Preauth => (State::Authenticated, Limits::AUTHENTICATED),
        };
        Session {
            context,
            start,
            state,
            framer: Framer::new(limits),
            stats: Stats::default(),
            login: None,
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The server greeting (RFC 3501 §7.1.1 OK or §7.1.4 PREAUTH).
    pub fn greeting<W: Write>(&mut self, out: &mut ResponseWriter<W>) -> io::Result<()> {
        let caps = Code::Capability(self.capabilities());
        let host = &self.context.host;
        match self.start {
            Start::Login => {
                out.untagged_status(Status::Ok, Some(&caps), &format!("{host} mbox-imapd ready"))
            }
            Start::Preauth => out.untagged_status(
                Status::Preauth,
                Some(&caps),
                &format!(
                    "Pre-authenticated user {} {host} mbox-imapd ready",
                    self.context.user
                ),
            ),
        }?;
        out.flush()
    }

    /// Feeds received bytes; runs every command they complete.
    pub fn receive<W: Write>(
        &mut self,
        bytes: &[u8],
        out: &mut ResponseWriter<W>,
    ) -> io::Result<Flow> {
        self.stats.bytes_in += bytes.len() as u64;
        self.framer.push(bytes);
        if let Some(flow) = self.paused_flow() {
            // Waiting for the caller (login.rs): keep the bytes for later.
            return Ok(flow);
        }
        self.drain(out)
    }

    /// Runs every command the buffered input completes.
    fn drain<W: Write>(&mut self, out: &mut ResponseWriter<W>) -> io::Result<Flow> {
        while let Some(frame) = self.framer.next() {
            let frame = match self.login_frame(frame, out)? {
                Handled::Yes(Flow::Continue) => continue,
                Handled::Yes(flow) => {
                    out.flush()?;
                    return Ok(flow);
                }
                Handled::No(frame) => frame,
            };
            match frame {
                Frame::ContinuationRequest => out.continuation("Ready for literal data")?,
                Frame::Rejected { tag, error } => {
                    log::info!("command refused: {error}");
                    match tag {
                        Some(tag) => out.tagged(&tag, Status::Bad, None, &error.to_string())?,
                        None => out.untagged_status(Status::Bad, None, &error.to_string())?,
                    }
                }
                Frame::Command(bytes) => {
                    let flow = self.run(&bytes, out)?;
                    if flow != Flow::Continue {
                        out.flush()?;
                        return Ok(flow);
                    }
                }
            }
        }
        out.flush()?;
        Ok(Flow::Continue)
    }

    /// The end of input: the client went away (or closed its side).
    pub fn end_of_input(&mut self) {
        if let State::Selected(sel) = &self.state {
            log::info!("connection closed by client with {} selected", sel.name);
        }
        self.state = State::Logout;
    }

    /// Capabilities for the current state (RFC 3501 §7.2.1).
    pub fn capabilities(&self) -> String {
        let mut caps = String::from("IMAP4rev1 LITERAL+ ID ENABLE UNSELECT");
        if let Some(login) = self.login_capabilities() {
            caps.push_str(&login);
        } else if matches!(self.state, State::NotAuthenticated) {
            // Logins are not accepted until the authentication backends exist.
            caps.push_str(" LOGINDISABLED");
        }
        caps
    }

    fn run<W: Write>(&mut self, bytes: &[u8], out: &mut ResponseWriter<W>) -> io::Result<Flow> {
        self.stats.commands += 1;
        let command = match parser::parse_command(bytes) {
            Ok(c) => c,
            Err(e) => {
                log::debug!("parse error: {e}");
                match e.tag() {
                    Some(tag) => out.tagged(tag, Status::Bad, None, &e.to_string())?,
                    None => out.untagged_status(Status::Bad, None, &e.to_string())?,
                }
                return Ok(Flow::Continue);
            }
        };
        let tag = command.tag;
        let name = command.body.name();
        log::debug!("{tag} {name}");
        if let Err(why) = state::is_allowed(&self.state, &command.body) {
            out.tagged(&tag, Status::Bad, None, why)?;
            return Ok(Flow::Continue);
        }
        // Before login, LOGIN/AUTHENTICATE/STARTTLS are login.rs's.
        let body = match self.login_command(&tag, command.body, out)? {
            Intercepted::Done(flow) => return Ok(flow),
            Intercepted::Pass(body) => body,
        };
        // Last line of defence: a bug in a handler must not leave a half-written
        // response and a dead process. The stream may be mid-literal, so the only
        // safe answer is BYE; the panic itself is logged by the hook `main` installs.
        let result = panic::catch_unwind(AssertUnwindSafe(|| self.dispatch(body, out)));
        let Ok(result) = result else {
            log::error!("internal error in {name} (tag {tag}); ending the session");
            out.untagged_status(
                Status::Bye,
                Some(&Code::ServerBug),
                "Internal error, please reconnect",
            )?;
            self.state = State::Logout;
            return Ok(Flow::Close);
        };
        match result {
            Ok(done) => out.tagged(&tag, Status::Ok, done.code.as_ref(), &done.text)?,
            Err(CommandError::No { code, text }) => {
                out.tagged(&tag, Status::No, code.as_ref(), &text)?
            }
            Err(CommandError::Bad { text }) => out.tagged(&tag, Status::Bad, None, &text)?,
            Err(CommandError::Output(e)) => return Err(e),
        }
        if matches!(self.state, State::Logout) {
            return Ok(Flow::Close);
        }
        Ok(Flow::Continue)
    }

    fn dispatch<W: Write>(
        &mut self,
        body: CommandBody,
        out: &mut ResponseWriter<W>,
    ) -> command::CommandResult {
        use CommandBody as C;
        let ctx = &self.context;
        match body {
            C::Capability => {
                out.untagged(&format!("CAPABILITY {}", self.capabilities()))?;
                Ok(command::Completion::done("CAPABILITY"))
            }
            C::Noop => Ok(command::Completion::done("NOOP")),
            C::Logout => {
                out.untagged_status(
                    Status::Bye,
                    None,
                    &format!("{} mbox-imapd logging out", ctx.host),
                )?;
                self.state = State::Logout;
                Ok(command::Completion::done("LOGOUT"))
            }
            C::Id(params) => command::any::id(params.as_deref(), out),
            C::Enable(caps) => command::any::enable(&caps, out),
            C::Login { .. } | C::Authenticate { .. } => Err(CommandError::no_code(
                Code::Unavailable,
                "Logins are not supported by this build; use PREAUTH (a tunnel)",
            )),
            C::StartTls => Err(CommandError::no("STARTTLS is not available")),
            C::Select { mailbox } => self.select(&mailbox.0, command::mailbox::Mode::Select, out),
            C::Examine { mailbox } => self.select(&mailbox.0, command::mailbox::Mode::Examine, out),
            C::Close | C::Unselect => {
                // Nothing is written back yet, so CLOSE expunges nothing (the write
                // path adds that) and is the same as UNSELECT.
                let name = if matches!(body, C::Close) {
                    "CLOSE"
                } else {
                    "UNSELECT"
                };
                self.state = State::Authenticated;
                Ok(command::Completion::done(name))
            }
            C::Check => Ok(command::Completion::done("CHECK")),
            C::Fetch {
                set,
                items,
                numbering,
            } => {
                let sel = self.selected()?;
                command::fetch::fetch(sel, &set, &items, numbering, out)
            }
            C::Search {
                charset,
                criteria,
                numbering,
            } => {
                let sel = self.selected()?;
                command::search::search(sel, charset.as_deref(), &criteria, numbering, out)
            }
            other => Err(CommandError::no_code(
                Code::Cannot,
                format!("{} is not supported by this version", other.name()),
            )),
        }
    }

    fn selected(&mut self) -> Result<&mut command::Selected, CommandError> {
        match &mut self.state {
            State::Selected(sel) => Ok(sel),
            // Unreachable in practice: is_allowed() ran first.
            _ => Err(CommandError::bad("No mailbox selected")),
        }
    }

    fn select<W: Write>(
        &mut self,
        name: &[u8],
        mode: command::mailbox::Mode,
        out: &mut ResponseWriter<W>,
    ) -> command::CommandResult {
        // RFC 3501 §6.3.1: a SELECT deselects first, even if it then fails.
        self.state = State::Authenticated;
        let started = Instant::now();
        let (selected, done) = command::mailbox::select(&self.context, name, mode, out)?;
        log::info!(
            "event=mailbox-open mailbox={} messages={} bytes={} ms={}",
            selected.name,
            selected.mailbox.len(),
            selected.mailbox.size(),
            started.elapsed().as_millis()
        );
        self.state = State::Selected(Box::new(selected));
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(start: Start) -> Session {
        let context = Context {
            user: "alice".into(),
            host: "mailhost".into(),
            inbox: "/nonexistent/mbox-imapd-test/alice".into(),
            mail_dir: "/nonexistent/mbox-imapd-test/mail".into(),
            locking: Default::default(),
        };
        Session::new(context, start)
    }

    /// Runs `input` through a session (whole, then split at every byte) and
    /// returns the output of the whole run.
    fn talk(start: Start, input: &[u8]) -> String {
        let mut whole = ResponseWriter::new(Vec::new());
        let mut s = session(start);
        s.greeting(&mut whole).unwrap();
        s.receive(input, &mut whole).unwrap();
        let whole = String::from_utf8(whole.into_inner().unwrap()).unwrap();
        for split in 1..input.len() {
            let mut out = ResponseWriter::new(Vec::new());
            let mut s = session(start);
            s.greeting(&mut out).unwrap();
            let (a, b) = input.split_at(split);
            if s.receive(a, &mut out).unwrap() == Flow::Continue {
                s.receive(b, &mut out).unwrap();
            }
            assert_eq!(
                String::from_utf8(out.into_inner().unwrap()).unwrap(),
                whole,
                "split at {split}"
            );
        }
        whole
    }

    #[test]
    fn greetings() {
        let out = talk(Start::Preauth, b"");
        assert_eq!(
            out,
            "* PREAUTH [CAPABILITY IMAP4rev1 LITERAL+ ID ENABLE UNSELECT] Pre-authenticated user alice \
             mailhost mbox-imapd ready\r\n"
        );
        let out = talk(Start::Login, b"");
        assert!(out.starts_with(
            "* OK [CAPABILITY IMAP4rev1 LITERAL+ ID ENABLE UNSELECT LOGINDISABLED] mailhost"
        ));
    }

    #[test]
    fn login_is_refused_and_state_rules_hold() {
        let out = talk(
            Start::Login,
            b"a LOGIN alice secret\r\nb SELECT INBOX\r\nc LOGOUT\r\nd NOOP\r\n",
        );
        let lines: Vec<&str> = out.lines().skip(1).collect();
        assert!(lines[0].starts_with("a NO [UNAVAILABLE]"), "{out}");
        assert_eq!(lines[1], "b BAD Command not valid before login");
        assert!(lines[2].starts_with("* BYE"));
        assert_eq!(lines[3], "c OK LOGOUT completed");
        assert_eq!(lines.len(), 4, "nothing after LOGOUT: {out}");
    }

    #[test]
    fn bad_input_gets_bad_and_the_session_goes_on() {
        let out = talk(
            Start::Preauth,
            b"\r\n)))\r\na1 FROB\r\na2 FETCH 1 FLAGS\r\na3 NOOP\r\n",
        );
        let lines: Vec<&str> = out.lines().skip(1).collect();
        assert!(lines[0].starts_with("* BAD"), "{out}");
        assert!(lines[1].starts_with("* BAD"), "{out}");
        assert!(lines[2].starts_with("a1 BAD"), "{out}");
        assert_eq!(lines[3], "a2 BAD No mailbox selected");
        assert_eq!(lines[4], "a3 OK NOOP completed");
    }

    #[test]
    fn nonexistent_inbox_selects_empty_and_other_names_do_not() {
        let out = talk(
            Start::Preauth,
            b"a SELECT INBOX\r\nb SELECT Nope\r\nc FETCH 1 FLAGS\r\n",
        );
        assert!(out.contains("* 0 EXISTS\r\n"), "{out}");
        assert!(
            out.contains("a OK [READ-WRITE] SELECT completed\r\n"),
            "{out}"
        );
        assert!(out.contains("b NO [NONEXISTENT]"), "{out}");
        // The failed SELECT left the session authenticated, not selected.
        assert!(out.contains("c BAD No mailbox selected"), "{out}");
    }

    #[test]
    fn literal_continuation_is_requested() {
        let out = talk(Start::Preauth, b"a EXAMINE {5}\r\nINBOX\r\n");
        assert!(out.contains("+ Ready for literal data\r\n"), "{out}");
        assert!(out.contains("a OK [READ-ONLY] EXAMINE completed"), "{out}");
    }
}
