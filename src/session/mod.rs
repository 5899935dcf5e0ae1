//! The protocol core: one IMAP session, sans I/O.
//!
//! Bytes go in through [`Session::receive`]; responses go out through the
//! `ResponseWriter` the caller passes. The session owns the framer (bytes →
//! commands), the state machine (state.rs) and dispatch to the command
//! handlers. It never names stdin, stdout or a socket: tests drive it with byte
//! strings and a `Vec<u8>`.
//!
//! Time enters only through [`Session::tick`], which the connection loop calls
//! when the client has been silent for [`TICK_INTERVAL`]: it serves IDLE (new
//! mail within a second, RFC 2177), writes pending flag changes after a quiet
//! period, and obeys a kiss of death (locking.md §4.1).
//!
//! Untagged updates (what other programs did to the selected mailbox) are
//! looked for after each command, before its tagged completion, except after
//! FETCH, STORE and SEARCH by sequence number: RFC 3501 §7.4.1 forbids EXPUNGE
//! there, and not looking at the file at all keeps the client's numbering and
//! the index's the same (command::updates).

pub mod framer;
pub mod login;
mod rev2;
pub mod state;

use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::command::idle::{self, Idle};
use crate::command::{self, CommandError, Context, expunge, updates};
use crate::config::Literals;
use crate::parser::{
    self,
    ast::{CommandBody, CompressAlgorithm},
};
use crate::response::{Code, ResponseWriter, Revision, Status};
use crate::types::Numbering;
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
    /// COMPRESS was answered OK (RFC 4978): from the next octet both
    /// directions are compressed. Install the layer, handing it
    /// [`Session::take_unframed_input`], then read on.
    Compress,
    /// A login failed: wait this long without reading, then `resume`.
    Delay(Duration),
}

/// What the configuration decides about the protocol, in both modes
/// (mbox-imapd.conf(5) `max_message_size`, `literals`, `support_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// APPENDLIMIT (RFC 7889): the largest message APPEND takes, advertised
    /// in every CAPABILITY, and the largest literal after login.
    pub max_message_size: u64,
    /// LITERAL+ or LITERAL- (RFC 7888).
    pub literals: Literals,
    /// ID's `support-url` (RFC 2971 §3.3), left out when `None`.
    pub support_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_message_size: command::append::MAX_APPEND_OCTETS as u64,
            literals: Literals::Plus,
            support_url: None,
        }
    }
}

impl Options {
    /// The framer's limits in the not-authenticated state, or after login.
    fn limits(&self, authenticated: bool) -> Limits {
        let base = if authenticated {
            Limits {
                max_literal: self.max_message_size,
                // Room for a MULTIAPPEND's command lines around its messages,
                // which together may exceed the APPENDLIMIT by this much only
                // (command::append bounds CATENATE data the same way).
                max_command: self
                    .max_message_size
                    .saturating_add(command::append::COMMAND_SLACK_OCTETS as u64),
                ..Limits::AUTHENTICATED
            }
        } else {
            Limits::NOT_AUTHENTICATED
        };
        Limits {
            max_nonsync_literal: match self.literals {
                Literals::Plus => u64::MAX,
                Literals::Minus => framer::LITERAL_MINUS_MAX,
            },
            ..base
        }
    }
}

/// Counters for the end-of-session log line.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub commands: u64,
    pub bytes_in: u64,
}

/// How often the connection loop calls [`Session::tick`] while the client is
/// silent and a mailbox is selected or IDLE runs: IDLE reports new mail within
/// a second (issue: "within a second during IDLE").
pub const TICK_INTERVAL: Duration = Duration::from_millis(500);

/// After a failed quiet-period checkpoint (lock busy), wait this long before
/// the next try, so a stuck lock is not hammered twice a second.
const CHECKPOINT_RETRY: Duration = Duration::from_secs(30);

/// One IMAP session. See the module doc.
pub struct Session {
    context: Context,
    start: Start,
    options: Options,
    state: State,
    framer: Framer,
    stats: Stats,
    /// Started as root: logins, STARTTLS, failure limits (login.rs).
    login: Option<Box<login::Login>>,
    /// An IDLE in progress: the next frame ends it (command::idle).
    idle: Option<Idle>,
    /// When the client last sent anything: the quiet period is measured from it.
    last_input: Instant,
    /// No quiet-period checkpoint before this instant (after a failed one).
    checkpoint_not_before: Option<Instant>,
    /// COMPRESS was answered OK (RFC 4978): another one is NO.
    compression: Option<CompressAlgorithm>,
    /// What ENABLE turned on (RFC 5161): IMAP4rev2 (rev2.rs).
    enabled: command::any::Enabled,
}

impl Session {
    /// A session with the default [`Options`].
    pub fn new(context: Context, start: Start) -> Self {
        Session::with_options(context, start, Options::default())
    }

    pub fn with_options(context: Context, start: Start, options: Options) -> Self {
        let state = match start {
            Start::Login => State::NotAuthenticated,
            Start::Preauth => State::Authenticated,
        };
        Session {
            context,
            start,
            framer: Framer::new(options.limits(start == Start::Preauth)),
            options,
            state,
            stats: Stats::default(),
            login: None,
            idle: None,
            last_input: Instant::now(),
            checkpoint_not_before: None,
            compression: None,
            enabled: command::any::Enabled::default(),
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The protocol revision the client speaks: IMAP4rev2 once enabled.
    fn revision(&self) -> Revision {
        if self.enabled.imap4rev2 {
            Revision::Rev2
        } else {
            Revision::Rev1
        }
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
        self.last_input = Instant::now();
        out.set_revision(self.revision());
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
            if let Some(idle) = self.idle.take() {
                let tag = idle.tag.clone();
                let ended =
                    panic::catch_unwind(AssertUnwindSafe(|| self.end_idle(idle, frame, out)));
                let flow = ended.unwrap_or_else(|_| self.server_bug("IDLE", &tag, out))?;
                if flow == Flow::Close {
                    out.flush()?;
                    return Ok(Flow::Close);
                }
                continue;
            }
            match frame {
                Frame::ContinuationRequest => out.continuation("Ready for literal data")?,
                Frame::Rejected { tag, error } => {
                    log::info!("command refused: {error}");
                    let text = error.to_string();
                    match tag {
                        // RFC 7889 §2 / RFC 4469 §5: the session goes on.
                        Some(tag)
                            if error == framer::FrameError::MessageTooLarge
                                && self.is_authenticated() =>
                        {
                            out.tagged(&tag, Status::No, Some(&Code::TooBig), &text)?
                        }
                        Some(tag) => out.tagged(&tag, Status::Bad, None, &text)?,
                        None => out.untagged_status(Status::Bad, None, &text)?,
                    }
                }
                Frame::Command(bytes) => {
                    if self.killed(out)? {
                        out.flush()?;
                        return Ok(Flow::Close);
                    }
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

    /// How long the connection loop may wait for input before calling
    /// [`Session::tick`]; `None` when nothing here is time-driven.
    pub fn tick_interval(&self) -> Option<Duration> {
        let timed = self.idle.is_some() || matches!(self.state, State::Selected(_));
        timed.then_some(TICK_INTERVAL)
    }

    /// The client has been silent for a tick interval. During IDLE, reports
    /// what changed in the mailbox; when quiet for [`idle::QUIET_CHECKPOINT`],
    /// writes pending flag changes; on a kiss of death, leaves. Flushes.
    pub fn tick<W: Write>(&mut self, out: &mut ResponseWriter<W>) -> io::Result<Flow> {
        out.set_revision(self.revision());
        if self.killed(out)? {
            out.flush()?;
            return Ok(Flow::Close);
        }
        // As in `run`: a bug must end in BYE, not a half-written response.
        let result = panic::catch_unwind(AssertUnwindSafe(|| self.timed_work(out)));
        let flow = match result {
            Ok(Ok(None)) => Flow::Continue,
            Ok(Ok(Some(bye))) => {
                out.untagged_status(Status::Bye, None, &bye)?;
                self.state = State::Logout;
                Flow::Close
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => self.server_bug("a timer tick", "-", out)?,
        };
        out.flush()?;
        Ok(flow)
    }

    /// The end of input: the client went away (or closed its side). Pending
    /// flag changes are written first (best effort, logged on failure).
    pub fn end_of_input(&mut self) {
        if let State::Selected(sel) = &mut self.state {
            log::info!("connection closed by client with {} selected", sel.name);
            expunge::checkpoint_best_effort(sel);
        }
        self.idle = None;
        self.state = State::Logout;
    }

    /// Capabilities for the current state (RFC 3501 §7.2.1). IMAP4rev2 (RFC
    /// 9051) beside IMAP4rev1, chosen by `ENABLE IMAP4rev2` (Appendix A; rev2.rs).
    pub fn capabilities(&self) -> String {
        // LITERAL+ or LITERAL- (RFC 7888), MULTIAPPEND (RFC 3502), CATENATE
        // (RFC 4469, URLs of RFC 5092 to this user's mailboxes), SEARCHRES
        // (RFC 5182), SORT and THREAD (RFC 5256, 5957, 5267 ESORT), CONTEXT=SEARCH
        // and CONTEXT=SORT (RFC 5267 §4: PARTIAL, UPDATE, CANCELUPDATE), BINARY
        // (RFC 3516), NAMESPACE
        // (RFC 2342), CHILDREN (RFC 3348), STATUS=SIZE (RFC 8438), LIST-EXTENDED
        // (RFC 5258), LIST-STATUS (RFC 5819), SPECIAL-USE and CREATE-SPECIAL-USE
        // (RFC 6154), COMPRESS=DEFLATE (RFC 4978; the layer is transport::deflate),
        // and
        // APPENDLIMIT (RFC 7889 §2: before login too, so a client can check
        // before it logs in; the same in every state).
        let literals = match self.options.literals {
            Literals::Plus => "LITERAL+",
            Literals::Minus => "LITERAL-",
        };
        let mut caps = format!(
            "IMAP4rev1 IMAP4rev2 {literals} ID ENABLE UNSELECT IDLE UIDPLUS MULTIAPPEND CATENATE MOVE ESEARCH SEARCHRES WITHIN SORT SORT=DISPLAY ESORT CONTEXT=SEARCH CONTEXT=SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES BINARY NAMESPACE CHILDREN STATUS=SIZE LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE COMPRESS=DEFLATE APPENDLIMIT={}",
            self.options.max_message_size
        );
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
        let revision = self.revision();
        let parsed = match revision {
            Revision::Rev1 => parser::parse_command(bytes),
            Revision::Rev2 => parser::parse_command_rev2(bytes),
        };
        let command = match parsed {
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
        let mut body = command.body;
        let converted = match revision {
            Revision::Rev1 => Ok(()),
            Revision::Rev2 => rev2::stored_names(&mut body),
        };
        if let Err(why) = converted.and_then(|()| rev2::check_grammar(&body, revision)) {
            out.tagged(&tag, Status::Bad, None, why)?;
            return Ok(Flow::Continue);
        }
        // Before login, LOGIN/AUTHENTICATE/STARTTLS are login.rs's.
        let body = match self.login_command(&tag, body, out)? {
            Intercepted::Done(flow) => return Ok(flow),
            Intercepted::Pass(body) => body,
        };
        let mut body = body;
        // RFC 5182: `$` becomes the saved result before the command runs; a
        // saving command that fails leaves the result empty (§2.1).
        let saves = saves_result(&body);
        if let State::Selected(sel) = &self.state {
            command::searchres::resolve(&mut body, sel);
        }
        let reports = reports_updates(&body);
        if let CommandBody::Compress { algorithm } = body {
            return self.compress(&tag, algorithm, out);
        }
        if matches!(body, CommandBody::Idle) {
            let started = panic::catch_unwind(AssertUnwindSafe(|| self.start_idle(&tag, out)));
            return started.unwrap_or_else(|_| self.server_bug(name, &tag, out));
        }
        // Last line of defence: a bug in a handler must not leave a half-written
        // response and a dead process. The stream may be mid-literal, so the only
        // safe answer is BYE; the panic itself is logged by the hook `main` installs.
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            let result = self.dispatch(&tag, body, out);
            if saves
                && result.is_err()
                && let State::Selected(sel) = &mut self.state
            {
                sel.saved_result.clear();
            }
            // RFC 3501 §7: untagged updates go before the tagged completion.
            // If the mailbox turns out to be beyond repair, the command's own
            // result still stands (an APPEND elsewhere did happen): BYE, then
            // that result, then close.
            let completed = matches!(result, Ok(_) | Err(CommandError::No { .. }));
            if completed {
                self.publish_changes();
            }
            if !completed {
                return (result, Ok(()));
            }
            // Live search results (RFC 5267 §4.3) follow even where the file
            // is not looked at: the session's own changes can move them.
            let updates = if reports {
                self.report_updates(out)
            } else {
                self.report_contexts(out)
            };
            (result, updates)
        }));
        let Ok((result, updates)) = result else {
            return self.server_bug(name, &tag, out);
        };
        match updates {
            Ok(()) => {}
            Err(CommandError::Fatal { text }) => {
                out.untagged_status(Status::Bye, None, &text)?;
                self.idle = None;
                self.state = State::Logout;
            }
            Err(CommandError::Output(e)) => return Err(e),
            // sync() logs passing errors itself; nothing else comes back.
            Err(other) => log::warn!("{name}: {other}"),
        }
        match result {
            Ok(done) => out.tagged(&tag, Status::Ok, done.code.as_ref(), &done.text)?,
            Err(CommandError::No { code, text }) => {
                out.tagged(&tag, Status::No, code.as_ref(), &text)?
            }
            Err(CommandError::Bad { text }) => out.tagged(&tag, Status::Bad, None, &text)?,
            Err(CommandError::Fatal { text }) => {
                // The mailbox changed beyond repair: nothing more is written to
                // it (no checkpoint), the client is told why, and we leave.
                out.untagged_status(Status::Bye, None, &text)?;
                out.tagged(&tag, Status::No, None, &text)?;
                self.idle = None;
                self.state = State::Logout;
            }
            Err(CommandError::Output(e)) => return Err(e),
        }
        if matches!(self.state, State::Logout) {
            return Ok(Flow::Close);
        }
        Ok(Flow::Continue)
    }

    /// COMPRESS (RFC 4978 §3): OK, after which the caller compresses from
    /// the next octet on (`Flow::Compress`); NO [COMPRESSIONACTIVE] if it
    /// already does. (An unknown algorithm was BAD in the parser.)
    fn compress<W: Write>(
        &mut self,
        tag: &str,
        algorithm: CompressAlgorithm,
        out: &mut ResponseWriter<W>,
    ) -> io::Result<Flow> {
        if let Some(active) = self.compression {
            let text = format!("{} compression is already active", active.name());
            out.tagged(tag, Status::No, Some(&Code::CompressionActive), &text)?;
            return Ok(Flow::Continue);
        }
        out.tagged(
            tag,
            Status::Ok,
            None,
            &format!("{} active", algorithm.name()),
        )?;
        self.compression = Some(algorithm);
        Ok(Flow::Compress)
    }

    /// After `Flow::Compress`: the octets received after the COMPRESS
    /// command and not framed. They are compressed data sent before our OK
    /// was seen (RFC 4978 §3 says the client must wait, but the octets are
    /// still compressed ones), so they go to the new layer, not the parser.
    pub fn take_unframed_input(&mut self) -> Vec<u8> {
        self.framer.take_buffered()
    }

    /// The client's stream cannot be read any more (corrupt compressed
    /// input): pending flag changes are written, best effort, and the
    /// client is told why before the session ends.
    pub fn unreadable_input<W: Write>(&mut self, out: &mut ResponseWriter<W>) -> io::Result<()> {
        if let State::Selected(sel) = &mut self.state {
            expunge::checkpoint_best_effort(sel);
        }
        self.idle = None;
        self.state = State::Logout;
        out.untagged_status(Status::Bye, None, "Corrupt compressed input")?;
        out.flush()
    }

    /// A handler panicked: the panic is logged by the hook `main` installs;
    /// the client gets BYE (the stream may be mid-response) and we leave.
    fn server_bug<W: Write>(
        &mut self,
        name: &str,
        tag: &str,
        out: &mut ResponseWriter<W>,
    ) -> io::Result<Flow> {
        log::error!("internal error in {name} (tag {tag}); ending the session");
        out.untagged_status(
            Status::Bye,
            Some(&Code::ServerBug),
            "Internal error, please reconnect",
        )?;
        self.idle = None;
        self.state = State::Logout;
        Ok(Flow::Close)
    }

    /// When another of our sessions shares the selected mailbox, writes the
    /// flag changes this command made (STORE, the implicit \Seen of a body
    /// fetch) so that it sees them at its next CHECK/NOOP/IDLE (RFC 3501
    /// §6.4.1, §7.4.1). Alone, changes stay in memory until a checkpoint.
    /// Best effort: a failure is logged and the change is written later.
    fn publish_changes(&mut self) {
        let State::Selected(sel) = &mut self.state else {
            return;
        };
        if sel.read_only || !sel.mailbox.has_pending_changes() {
            return;
        }
        if !sel.session_lock.as_ref().is_some_and(|l| l.has_company()) {
            return;
        }
        // A checkpoint folds in what others changed; until a refresh reports
        // it, the client's sequence numbers are kept (Mailbox::client_view).
        if let Err(e) = sel.mailbox.checkpoint() {
            log::warn!("{}: flag changes not shared yet: {e}", sel.name);
        }
    }

    /// Reports what changed in the selected mailbox (command::updates::sync).
    fn report_updates<W: Write>(
        &mut self,
        out: &mut ResponseWriter<W>,
    ) -> Result<(), CommandError> {
        match &mut self.state {
            State::Selected(sel) => {
                updates::sync(sel, out)?;
                Ok(command::contexts::sync(sel, out)?)
            }
            _ => Ok(()),
        }
    }

    /// What changed in the live search results (command::contexts::sync),
    /// without looking at the file.
    fn report_contexts<W: Write>(
        &mut self,
        out: &mut ResponseWriter<W>,
    ) -> Result<(), CommandError> {
        match &mut self.state {
            State::Selected(sel) => Ok(command::contexts::sync(sel, out)?),
            _ => Ok(()),
        }
    }

    /// IDLE (RFC 2177): updates so far, then `+ idling`; the completion waits
    /// for DONE ([`Session::end_idle`]).
    fn start_idle<W: Write>(&mut self, tag: &str, out: &mut ResponseWriter<W>) -> io::Result<Flow> {
        match self.report_updates(out) {
            Ok(()) => {}
            Err(CommandError::Fatal { text }) => {
                out.untagged_status(Status::Bye, None, &text)?;
                out.tagged(tag, Status::No, None, &text)?;
                self.state = State::Logout;
                return Ok(Flow::Close);
            }
            Err(CommandError::Output(e)) => return Err(e),
            // sync() turns passing errors into a log line; nothing else comes back.
            Err(other) => log::warn!("IDLE: {other}"),
        }
        out.continuation(idle::CONTINUATION)?;
        self.idle = Some(Idle::new(tag.to_owned()));
        Ok(Flow::Continue)
    }

    /// The frame that arrived during IDLE ends it: `DONE` completes the IDLE
    /// command; anything else is a client error, answered BAD and not run.
    fn end_idle<W: Write>(
        &mut self,
        idle: Idle,
        frame: Frame,
        out: &mut ResponseWriter<W>,
    ) -> io::Result<Flow> {
        log::debug!(
            "{} IDLE ended after {} s",
            idle.tag,
            idle.since.elapsed().as_secs()
        );
        match frame {
            Frame::Command(bytes) if idle::is_done(&bytes) => {
                match self.report_updates(out) {
                    Ok(()) => {}
                    Err(CommandError::Fatal { text }) => {
                        out.untagged_status(Status::Bye, None, &text)?;
                        self.state = State::Logout;
                    }
                    Err(CommandError::Output(e)) => return Err(e),
                    Err(other) => log::warn!("IDLE: {other}"),
                }
                out.tagged(&idle.tag, Status::Ok, None, "IDLE terminated")?;
            }
            // A literal announced instead of DONE: let it come, so that it is
            // consumed as part of the (bad) frame rather than run as commands.
            Frame::ContinuationRequest => {
                out.continuation("Ready for literal data")?;
                self.idle = Some(idle);
            }
            _ => out.tagged(&idle.tag, Status::Bad, None, "Expected DONE to end IDLE")?,
        }
        if matches!(self.state, State::Logout) {
            return Ok(Flow::Close);
        }
        Ok(Flow::Continue)
    }

    /// The tick's work; `Some(text)` = end the session with `* BYE text`.
    fn timed_work<W: Write>(&mut self, out: &mut ResponseWriter<W>) -> io::Result<Option<String>> {
        let State::Selected(sel) = &mut self.state else {
            return Ok(None);
        };
        if self.idle.is_some() {
            let synced =
                updates::sync(sel, out).and_then(|()| Ok(command::contexts::sync(sel, out)?));
            match synced {
                Ok(()) => {}
                Err(CommandError::Fatal { text }) => return Ok(Some(text)),
                Err(CommandError::Output(e)) => return Err(e),
                Err(other) => log::warn!("IDLE: {other}"),
            }
        }
        let now = Instant::now();
        let quiet = now.duration_since(self.last_input) >= idle::QUIET_CHECKPOINT;
        let allowed = self.checkpoint_not_before.is_none_or(|t| now >= t);
        if quiet && allowed && !sel.read_only && sel.mailbox.has_pending_changes() {
            match expunge::checkpoint(sel) {
                Ok(()) => self.checkpoint_not_before = None,
                Err(CommandError::Fatal { text }) => return Ok(Some(text)),
                Err(e) => {
                    log::warn!("{}: quiet-period checkpoint failed: {e}", sel.name);
                    self.checkpoint_not_before = Some(now + CHECKPOINT_RETRY);
                }
            }
        }
        Ok(None)
    }

    /// Kiss of death (locking.md §4.1): a UW-family program wants the mailbox.
    /// Writes pending changes, says `* BYE Killed (lost mailbox lock)` and
    /// returns true (the session must close). Only a session with a mailbox
    /// selected holds the lock that the signal asks for.
    fn killed<W: Write>(&mut self, out: &mut ResponseWriter<W>) -> io::Result<bool> {
        if !crate::mailstore::kiss_of_death_received() {
            return Ok(false);
        }
        let State::Selected(sel) = &mut self.state else {
            return Ok(false);
        };
        log::error!(
            "Killed (lost mailbox lock) user={} mailbox={}",
            self.context.user,
            sel.name
        );
        expunge::checkpoint_best_effort(sel);
        // Our other sessions on this mailbox must let go too, or the UW
        // program that asked never gets its exclusive lock.
        if let Some(lock) = sel.session_lock.take() {
            lock.forward_kiss_of_death();
        }
        out.untagged_status(Status::Bye, None, "Killed (lost mailbox lock)")?;
        self.idle = None;
        self.state = State::Logout;
        Ok(true)
    }

    /// Leaves the selected mailbox without a client to answer to (LOGOUT,
    /// SELECT of another mailbox): pending changes written, best effort.
    fn leave_selected(&mut self) {
        if let State::Selected(sel) = &mut self.state {
            expunge::checkpoint_best_effort(sel);
            self.state = State::Authenticated;
        }
    }

    fn dispatch<W: Write>(
        &mut self,
        tag: &str,
        body: CommandBody,
        out: &mut ResponseWriter<W>,
    ) -> command::CommandResult {
        use CommandBody as C;
        match body {
            C::Capability => {
                out.untagged(&format!("CAPABILITY {}", self.capabilities()))?;
                Ok(command::Completion::done("CAPABILITY"))
            }
            C::Noop => {
                // NOOP is how clients poll: pending flag changes are written,
                // so other sessions and programs see them (updates follow in
                // run). NOOP has no NO (RFC 3501 §6.1.2): a write that cannot
                // be done now is logged and retried later; only a mailbox
                // changed beyond repair ends the session.
                if let State::Selected(sel) = &mut self.state {
                    match expunge::checkpoint(sel) {
                        Err(e @ CommandError::Fatal { .. }) => return Err(e),
                        Err(e) => log::warn!("{}: NOOP checkpoint failed: {e}", sel.name),
                        Ok(()) => {}
                    }
                }
                Ok(command::Completion::done("NOOP"))
            }
            C::Logout => {
                self.leave_selected();
                out.untagged_status(
                    Status::Bye,
                    None,
                    &format!("{} mbox-imapd logging out", self.context.host),
                )?;
                self.state = State::Logout;
                Ok(command::Completion::done("LOGOUT"))
            }
            C::Id(params) => {
                command::any::id(params.as_deref(), self.options.support_url.as_deref(), out)
            }
            C::Enable(caps) => {
                let selected = matches!(self.state, State::Selected(_));
                let done = command::any::enable(&caps, &mut self.enabled, selected, out)?;
                out.set_revision(self.revision());
                Ok(done)
            }
            C::Login { .. } | C::Authenticate { .. } => Err(CommandError::no_code(
                Code::Unavailable,
                "Logins are not supported by this build; use PREAUTH (a tunnel)",
            )),
            C::StartTls => Err(CommandError::no("STARTTLS is not available")),
            C::Select { mailbox } => self.select(&mailbox.0, command::mailbox::Mode::Select, out),
            C::Examine { mailbox } => self.select(&mailbox.0, command::mailbox::Mode::Examine, out),
            C::Close => {
                // On failure the mailbox stays selected: nothing is lost.
                expunge::close(self.selected()?)?;
                self.state = State::Authenticated;
                Ok(command::Completion::done("CLOSE"))
            }
            C::Unselect => {
                expunge::checkpoint(self.selected()?)?;
                self.state = State::Authenticated;
                Ok(command::Completion::done("UNSELECT"))
            }
            C::Check => {
                expunge::checkpoint(self.selected()?)?;
                Ok(command::Completion::done("CHECK"))
            }
            C::Expunge => command::expunge::expunge(self.selected()?, None, out),
            C::UidExpunge(uids) => command::expunge::expunge(self.selected()?, Some(&uids), out),
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
                ret,
            } => {
                let sel = self.selected()?;
                // RFC 9051 §6.4.4: IMAP4rev2 answers every SEARCH with
                // ESEARCH; no RETURN means ALL.
                let answer = match &ret {
                    None if out.is_rev2() => command::search::Answer::Esearch { tag, options: &[] },
                    None => command::search::Answer::Search,
                    Some(options) => command::search::Answer::Esearch { tag, options },
                };
                command::search::search(sel, charset.as_deref(), &criteria, numbering, answer, out)
            }
            C::Sort {
                criteria,
                charset,
                search,
                numbering,
                ret,
            } => {
                let sel = self.selected()?;
                let ret = ret.as_deref().map(|options| (tag, options));
                command::sort::sort(sel, &criteria, &charset, &search, numbering, ret, out)
            }
            C::Thread {
                algorithm,
                charset,
                search,
                numbering,
            } => {
                let sel = self.selected()?;
                command::thread::thread(sel, algorithm, &charset, &search, numbering, out)
            }
            C::CancelUpdate(tags) => {
                self.selected()?.contexts.cancel(&tags)?;
                Ok(command::Completion::done("CANCELUPDATE"))
            }
            C::Store {
                set,
                mode,
                response,
                flags,
                numbering,
            } => {
                let sel = self.selected()?;
                command::store::store(sel, &set, mode, response, &flags, numbering, out)
            }
            C::Copy {
                set,
                mailbox,
                numbering,
            } => {
                let ctx = &self.context;
                let State::Selected(sel) = &self.state else {
                    return Err(CommandError::bad("No mailbox selected"));
                };
                command::copy::copy(ctx, sel, &set, &mailbox.0, numbering)
            }
            C::Move {
                set,
                mailbox,
                numbering,
            } => {
                let ctx = &self.context;
                let State::Selected(sel) = &mut self.state else {
                    return Err(CommandError::bad("No mailbox selected"));
                };
                command::copy::move_messages(ctx, sel, &set, &mailbox.0, numbering, out)
            }
            C::Append { mailbox, messages } => command::append::append(
                &self.context,
                self.selected_ref(),
                &mailbox.0,
                &messages,
                self.options.max_message_size,
            ),
            C::List {
                selection,
                reference,
                patterns,
                returns,
            } => {
                let request = command::list::ListRequest {
                    selection: &selection,
                    reference: &reference.0,
                    patterns: &patterns,
                    returns: &returns,
                    append_limit: self.options.max_message_size,
                };
                command::list::list(&self.context, self.selected_ref(), &request, out)
            }
            C::Lsub { reference, pattern } => {
                command::list::lsub(&self.context, &reference.0, &pattern.0, out)
            }
            C::Namespace => command::list::namespace(out),
            C::Status { mailbox, items } => command::status::status(
                &self.context,
                self.selected_ref(),
                &mailbox.0,
                &items,
                self.options.max_message_size,
                out,
            ),
            C::Create {
                mailbox,
                special_use,
            } => command::folder::create(&self.context, &mailbox.0, special_use.as_deref()),
            C::Delete { mailbox } => command::folder::delete(&self.context, &mailbox.0),
            C::Rename { from, to } => {
                let selected = match &mut self.state {
                    State::Selected(sel) => Some(sel.as_mut()),
                    _ => None,
                };
                command::folder::rename(&self.context, &from.0, &to.0, selected, out)
            }
            C::Subscribe { mailbox } => command::folder::subscribe(&self.context, &mailbox.0),
            C::Unsubscribe { mailbox } => command::folder::unsubscribe(&self.context, &mailbox.0),
            other => Err(CommandError::no_code(
                Code::Cannot,
                format!("{} is not supported by this version", other.name()),
            )),
        }
    }

    /// The selected mailbox, if any (STATUS answers it from its index).
    fn selected_ref(&self) -> Option<&command::Selected> {
        match &self.state {
            State::Selected(sel) => Some(sel),
            _ => None,
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
        // RFC 3501 §6.3.1: a SELECT deselects first, even if it then fails;
        // what the old mailbox has pending is written first. IMAP4rev2 says
        // so with `* OK [CLOSED]` (RFC 9051 §6.3.2, §7.1).
        let was_selected = matches!(self.state, State::Selected(_));
        self.leave_selected();
        if was_selected && out.is_rev2() {
            let closed = Code::Other("CLOSED".into());
            out.untagged_status(Status::Ok, Some(&closed), "Previous mailbox closed")?;
        }
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

/// Whether `body` asks to save its result as `$` (RFC 5182 `RETURN (SAVE)`).
fn saves_result(body: &CommandBody) -> bool {
    match body {
        CommandBody::Search {
            ret: Some(options), ..
        }
        | CommandBody::Sort {
            ret: Some(options), ..
        } => options.contains(&crate::parser::ast::SearchReturn::Save),
        _ => false,
    }
}

/// Whether the mailbox is checked for changes after `body`, before its
/// tagged completion. Not after FETCH, STORE or SEARCH by sequence number
/// (RFC 3501 §7.4.1: no EXPUNGE there; not looking keeps the numbering the
/// client uses equal to the index's), nor after commands that (re)open or
/// leave the mailbox.
fn reports_updates(body: &CommandBody) -> bool {
    use CommandBody as C;
    match body {
        C::Fetch { numbering, .. }
        | C::Store { numbering, .. }
        | C::Search { numbering, .. }
        | C::Sort { numbering, .. }
        | C::Thread { numbering, .. } => *numbering == Numbering::Uid,
        C::Select { .. }
        | C::Examine { .. }
        | C::Close
        | C::Unselect
        | C::Logout
        | C::Compress { .. } => false,
        _ => true,
    }
}

#[cfg(test)]
mod context_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn session(start: Start) -> Session {
        let context = Context {
            user: "alice".into(),
            host: "mailhost".into(),
            inbox: "/nonexistent/mbox-imapd-test/alice".into(),
            mail_dir: "/nonexistent/mbox-imapd-test/mail".into(),
            home: "/nonexistent/mbox-imapd-test".into(),
            locking: Default::default(),
            special_use: Default::default(),
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
            "* PREAUTH [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE UNSELECT IDLE UIDPLUS MULTIAPPEND CATENATE MOVE ESEARCH SEARCHRES WITHIN SORT SORT=DISPLAY ESORT CONTEXT=SEARCH CONTEXT=SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES BINARY NAMESPACE CHILDREN STATUS=SIZE LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE COMPRESS=DEFLATE APPENDLIMIT=67108864] \
             Pre-authenticated user alice mailhost mbox-imapd ready\r\n"
        );
        let out = talk(Start::Login, b"");
        assert!(out.starts_with(
            "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE UNSELECT IDLE UIDPLUS MULTIAPPEND CATENATE MOVE ESEARCH SEARCHRES WITHIN SORT SORT=DISPLAY ESORT CONTEXT=SEARCH CONTEXT=SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES BINARY NAMESPACE CHILDREN STATUS=SIZE LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE COMPRESS=DEFLATE APPENDLIMIT=67108864 \
             LOGINDISABLED] mailhost"
        ));
    }

    /// RFC 7889 and RFC 7888 as configured: APPENDLIMIT in the greeting of
    /// both modes, NO [TOOBIG] for an APPEND over it (before any `+`, or
    /// after reading a LITERAL+ message), BAD for a non-synchronizing literal
    /// over 4096 octets under LITERAL-; the session goes on each time.
    #[test]
    fn appendlimit_and_literal_minus() {
        let options = Options {
            max_message_size: 5000,
            literals: Literals::Minus,
            support_url: None,
        };
        let run = |start: Start, input: &[u8]| {
            let mut out = ResponseWriter::new(Vec::new());
            let mut s = Session::with_options(session(start).context, start, options.clone());
            s.greeting(&mut out).unwrap();
            s.receive(input, &mut out).unwrap();
            String::from_utf8(out.into_inner().unwrap()).unwrap()
        };
        let out = run(Start::Login, b"");
        assert!(
            out.starts_with("* OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL- "),
            "{out}"
        );
        assert!(out.contains(" APPENDLIMIT=5000 "), "{out}");
        // Before login an APPEND is not valid at all: BAD, not TOOBIG.
        let out = run(Start::Login, b"a APPEND INBOX {9000}\r\nb NOOP\r\n");
        assert!(out.contains("\r\na BAD "), "{out}");
        assert!(out.ends_with("b OK NOOP completed\r\n"), "{out}");

        let mut input = b"a APPEND INBOX {5001}\r\nb APPEND INBOX {5001+}\r\n".to_vec();
        input.extend([b'x'; 5001]);
        input.extend(b"\r\nc EXAMINE {4097+}\r\n");
        input.extend(b"d NOOP\r\n".iter().cycle().take(4097));
        input.extend(b"\r\ne NOOP\r\n");
        let out = run(Start::Preauth, &input);
        assert!(
            out.starts_with("* PREAUTH [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL- "),
            "{out}"
        );
        assert!(out.contains(" APPENDLIMIT=5000]"), "{out}");
        let lines: Vec<&str> = out.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "a NO [TOOBIG] Message larger than the APPENDLIMIT",
                "b NO [TOOBIG] Message larger than the APPENDLIMIT",
                "c BAD Non-synchronizing literal over 4096 octets (LITERAL-); send it synchronizing",
                "e OK NOOP completed",
            ],
            "{out}"
        );
        // Synchronizing, the same size is asked for.
        let out = run(Start::Preauth, b"c EXAMINE {4097}\r\n");
        assert!(out.ends_with("\r\n+ Ready for literal data\r\n"), "{out}");
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
        let out = talk(Start::Preauth, b"a SELECT INBOX\r\n");
        assert!(out.contains("* 0 EXISTS\r\n"), "{out}");
        assert!(
            out.contains("a OK [READ-WRITE] SELECT completed\r\n"),
            "{out}"
        );
        // Read-only, so that leaving it writes nothing.
        let out = talk(
            Start::Preauth,
            b"a EXAMINE INBOX\r\nb SELECT Nope\r\nc FETCH 1 FLAGS\r\n",
        );
        assert!(
            out.contains("a OK [READ-ONLY] EXAMINE completed\r\n"),
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

    #[test]
    fn idle_ends_with_done_and_anything_else_is_bad() {
        let out = talk(Start::Preauth, b"a IDLE\r\nDONE\r\nb NOOP\r\n");
        assert!(
            out.ends_with("+ idling\r\na OK IDLE terminated\r\nb OK NOOP completed\r\n"),
            "{out}"
        );
        let out = talk(Start::Preauth, b"a IDLE\r\ndone\nb NOOP\r\n");
        assert!(out.contains("a OK IDLE terminated\r\n"), "{out}");
        // Not DONE: BAD with IDLE's tag, and the line is not run as a command.
        let out = talk(Start::Preauth, b"a IDLE\r\nb NOOP\r\nc NOOP\r\n");
        assert!(
            out.ends_with("+ idling\r\na BAD Expected DONE to end IDLE\r\nc OK NOOP completed\r\n"),
            "{out}"
        );
        // A literal instead of DONE is read, not run.
        let out = talk(
            Start::Preauth,
            b"a IDLE\r\nx LOGOUT {6}\r\nLOGOUT\r\nc NOOP\r\n",
        );
        assert!(
            out.ends_with(
                "+ idling\r\n+ Ready for literal data\r\na BAD Expected DONE to end IDLE\r\n\
                 c OK NOOP completed\r\n"
            ),
            "{out}"
        );
        assert!(!out.contains("BYE"), "{out}");
    }

    #[test]
    fn ticks_only_when_something_is_timed() {
        let mut s = session(Start::Preauth);
        let mut out = ResponseWriter::new(Vec::new());
        assert_eq!(s.tick_interval(), None);
        assert_eq!(s.tick(&mut out).unwrap(), Flow::Continue);
        s.receive(b"a IDLE\r\n", &mut out).unwrap();
        assert_eq!(s.tick_interval(), Some(TICK_INTERVAL));
        assert_eq!(s.tick(&mut out).unwrap(), Flow::Continue);
        s.receive(b"DONE\r\n", &mut out).unwrap();
        assert_eq!(s.tick_interval(), None);
        let out = String::from_utf8(out.into_inner().unwrap()).unwrap();
        assert_eq!(out, "+ idling\r\na OK IDLE terminated\r\n");
    }

    /// The context of a user whose INBOX is `dir/inbox`, other mail in `dir/mail`.
    pub(super) fn temp_context(dir: &std::path::Path) -> Context {
        Context {
            home: "/nonexistent/mbox-imapd-test/home".into(),
            user: "alice".into(),
            host: "mailhost".into(),
            inbox: dir.join("inbox"),
            mail_dir: dir.join("mail"),
            locking: Default::default(),
            special_use: Default::default(),
        }
    }

    /// A session over a temp INBOX holding `mbox`.
    fn with_inbox(mbox: &[u8], input: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("inbox");
        std::fs::write(&inbox, mbox).unwrap();
        let mut s = Session::new(temp_context(dir.path()), Start::Preauth);
        let mut out = ResponseWriter::new(Vec::new());
        s.receive(input, &mut out).unwrap();
        // Nothing here may have written to the file.
        assert_eq!(std::fs::read(&inbox).unwrap(), mbox);
        String::from_utf8(out.into_inner().unwrap()).unwrap()
    }

    const ONE_MESSAGE: &[u8] =
        b"From a@b Wed Dec  2 05:53:22 1992\nSubject: s\nStatus: O\n\nbody\n";

    #[test]
    fn read_only_mailbox_refuses_changes_without_touching_the_file() {
        let out = with_inbox(
            ONE_MESSAGE,
            b"a EXAMINE INBOX\r\n\
              b STORE 1 +FLAGS (\\Seen)\r\n\
              c STORE 2 +FLAGS (\\Seen)\r\n\
              d STORE 1 +FLAGS (\\Bogus)\r\n\
              e FETCH 1 (BODY[] FLAGS)\r\n\
              g CLOSE\r\n\
              h FETCH 1 FLAGS\r\n",
        );
        assert!(
            out.contains("* OK [PERMANENTFLAGS ()] No permanent flags permitted\r\n"),
            "{out}"
        );
        assert!(
            out.contains("b NO [READ-ONLY] Mailbox is read-only\r\n"),
            "{out}"
        );
        assert!(out.contains("c BAD Invalid sequence number\r\n"), "{out}");
        assert!(
            out.contains("d BAD Unknown system flag \\Bogus\r\n"),
            "{out}"
        );
        // No implicit \Seen on a read-only mailbox (RFC 3501 §6.4.5).
        assert!(out.contains("FLAGS ())\r\ne OK FETCH completed"), "{out}");
        assert!(
            out.contains("g OK CLOSE completed\r\nh BAD No mailbox selected\r\n"),
            "{out}"
        );
    }

    #[test]
    fn compress_answers_ok_once_then_compressionactive() {
        let mut s = session(Start::Preauth);
        let mut out = ResponseWriter::new(Vec::new());
        // What follows the command is compressed data, kept for the layer.
        let flow = s
            .receive(b"a COMPRESS DEFLATE\r\n\xd3\x52", &mut out)
            .unwrap();
        assert_eq!(flow, Flow::Compress);
        assert_eq!(s.take_unframed_input(), b"\xd3\x52");
        // (The caller compresses from here; the session speaks bytes.)
        let flow = s
            .receive(b"b COMPRESS DEFLATE\r\nc COMPRESS GZIP\r\n", &mut out)
            .unwrap();
        assert_eq!(flow, Flow::Continue);
        let out = String::from_utf8(out.into_inner().unwrap()).unwrap();
        assert_eq!(
            out,
            "a OK DEFLATE active\r\n\
             b NO [COMPRESSIONACTIVE] DEFLATE compression is already active\r\n\
             c BAD Unknown compression algorithm GZIP\r\n"
        );
    }

    #[test]
    fn compress_stops_the_frames_behind_it() {
        // Whole or split anywhere: the NOOP behind COMPRESS is never run as
        // plaintext (talk() stops feeding at a flow other than Continue).
        let out = talk(Start::Preauth, b"a COMPRESS DEFLATE\r\nb NOOP\r\n");
        assert!(out.ends_with("a OK DEFLATE active\r\n"), "{out}");
    }

    #[test]
    fn unreadable_input_says_bye() {
        let mut s = session(Start::Preauth);
        let mut out = ResponseWriter::new(Vec::new());
        s.unreadable_input(&mut out).unwrap();
        let out = String::from_utf8(out.into_inner().unwrap()).unwrap();
        assert_eq!(out, "* BYE Corrupt compressed input\r\n");
        assert!(!s.is_authenticated());
    }
}
