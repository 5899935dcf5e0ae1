//! The not-authenticated state of a session started as root: LOGIN,
//! AUTHENTICATE PLAIN and LOGIN (RFC 3501 §6.2, RFC 4959 SASL-IR), STARTTLS
//! (§6.2.1), the plaintext policy, failed-attempt limits and autologout.
//!
//! Still sans-I/O. Three things need the caller, and the session says so by
//! returning a [`Flow`] instead of answering:
//!
//! - `Flow::Login`: the credentials were accepted. The caller becomes the user
//!   ([`Session::authenticated_user`] says who), then calls
//!   [`Session::complete_login`] with the user's `Context`; only then is the
//!   tagged OK written (with `[CAPABILITY …]`, which nginx's mail proxy
//!   requires), so a client never sees OK from a process that failed to drop
//!   root. If becoming the user fails, [`Session::abort_login`] says BYE.
//! - `Flow::Delay(d)`: an attempt failed. The caller waits `d` without
//!   reading, then calls [`Session::resume`], which writes the NO (and, at
//!   the third failure, BYE). The delay doubles with each failure.
//! - `Flow::StartTls`: the OK for STARTTLS is written and flushed, and every
//!   octet that came after the command is discarded (RFC 3501 §6.2.1:
//!   plaintext pipelined after STARTTLS must not be taken as if it had come
//!   through TLS; CVE-2011-0411). The caller runs the handshake and calls
//!   [`Session::tls_started`].
//!
//! In each case no further command is run until the caller resumes: a client
//! that pipelines `LOGIN` and `SELECT` gets the SELECT run as the user.
//!
//! The other hard part is AUTHENTICATE: between the command and its end, the
//! client's lines are SASL responses, not commands, though the framer hands
//! them over as frames like any other. So while an exchange is open, a frame
//! goes to the exchange, never to the parser.

use std::io::{self, Write};
use std::time::Duration;

use super::framer::Frame;
use super::state::State;
use super::{Flow, Session};
use crate::auth::sasl::{self, Exchange, Mechanism, Step};
use crate::auth::{self, AuthError, Authenticator, UserInfo};
use crate::command::Context;
use crate::config::PlaintextPolicy;
use crate::net::Peer;
use crate::parser::ast::{CommandBody, Secret};
use crate::response::{Code, ResponseWriter, Status};

/// Failed attempts allowed per connection; the last one is answered with BYE.
pub const MAX_AUTH_FAILURES: u32 = 3;
/// Commands allowed before a login; then BYE. A real client needs three or
/// four (CAPABILITY, STARTTLS, CAPABILITY, LOGIN).
pub const MAX_COMMANDS_BEFORE_LOGIN: u32 = 30;
/// Log target of authentication events; the logger sends it to authpriv.
pub const AUTH_LOG: &str = "auth";

/// Whether and how TLS is available on this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// No certificate configured.
    Unavailable,
    /// STARTTLS is offered.
    Offered,
    /// The connection is encrypted (after STARTTLS, or implicit TLS).
    Active,
}

/// How logins are served on this connection.
pub struct LoginSetup {
    pub authenticator: Box<dyn Authenticator>,
    pub peer: Peer,
    pub plaintext: PlaintextPolicy,
    pub tls: Tls,
    /// Delay before answering the first failure; doubled for each next one.
    pub failure_delay: Duration,
}

/// The login side of a session (boxed in `Session`).
pub(super) struct Login {
    setup: LoginSetup,
    failures: u32,
    commands: u32,
    /// An AUTHENTICATE in progress: its tag and exchange.
    exchange: Option<(String, Exchange)>,
    pause: Option<Pause>,
}

/// Why the session waits for its caller.
enum Pause {
    /// A failed attempt, answered by `resume` after the delay.
    Failure {
        tag: String,
        code: Code,
        text: &'static str,
        bye: bool,
    },
    /// Credentials accepted; answered by `complete_login` or `abort_login`.
    Authenticated {
        tag: String,
        user: UserInfo,
        command: &'static str,
        mechanism: &'static str,
    },
    /// STARTTLS answered; the caller runs the handshake.
    StartTls,
}

/// A frame the login code did or did not take.
pub(super) enum Handled {
    Yes(Flow),
    No(Frame),
}

/// A command the login code did or did not take.
pub(super) enum Intercepted {
    Done(Flow),
    Pass(CommandBody),
}

impl Login {
    pub(super) fn new(setup: LoginSetup) -> Self {
        Login {
            setup,
            failures: 0,
            commands: 0,
            exchange: None,
            pause: None,
        }
    }

    /// Plaintext credentials are acceptable on this connection (RFC 3501
    /// §6.2.3: not without TLS unless the configuration says so).
    fn plaintext_ok(&self) -> bool {
        let s = &self.setup;
        s.tls == Tls::Active
            || s.peer.trusted_proxy
            || s.plaintext == PlaintextPolicy::Always
            || (s.plaintext == PlaintextPolicy::Loopback && s.peer.is_local())
    }

    fn tls_word(&self) -> &'static str {
        if self.setup.tls == Tls::Active {
            "yes"
        } else {
            "no"
        }
    }

    /// The capabilities this adds before login.
    fn capabilities(&self) -> String {
        let mut caps = String::new();
        if self.setup.tls == Tls::Offered {
            caps.push_str(" STARTTLS");
        }
        // Mechanisms that send the password are listed only where they may be
        // used, so that a client is not invited to send it in the clear.
        if self.plaintext_ok() {
            caps.push_str(" AUTH=PLAIN AUTH=LOGIN SASL-IR");
        } else {
            caps.push_str(" LOGINDISABLED");
        }
        caps
    }
}

impl Session {
    /// A session started as root: greets with OK and serves logins as `setup`
    /// says. `context` is a placeholder (host name, locking) until a login
    /// supplies the user's.
    pub fn for_login(context: Context, setup: LoginSetup, options: super::Options) -> Session {
        let mut session = Session::with_options(context, super::Start::Login, options);
        session.login = Some(Box::new(Login::new(setup)));
        session
    }

    /// Whom the credentials just accepted belong to (after `Flow::Login`).
    pub fn authenticated_user(&self) -> Option<&UserInfo> {
        match self.login.as_ref()?.pause.as_ref()? {
            Pause::Authenticated { user, .. } => Some(user),
            _ => None,
        }
    }

    /// The connection's peer, as the login side knows it.
    pub fn peer(&self) -> Option<&Peer> {
        self.login.as_ref().map(|l| &l.setup.peer)
    }

    /// The user served (empty before login).
    pub fn user(&self) -> &str {
        &self.context.user
    }

    /// Logged in (or pre-authenticated).
    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Authenticated | State::Selected(_))
    }

    /// After `Flow::Login`, once the process runs as the user: answer OK and
    /// serve the user's `context`. Runs any commands already buffered.
    pub fn complete_login<W: Write>(
        &mut self,
        context: Context,
        out: &mut ResponseWriter<W>,
    ) -> io::Result<Flow> {
        let Some(login) = self.login.as_mut() else {
            return Ok(Flow::Close);
        };
        let Some(Pause::Authenticated {
            tag,
            user,
            command,
            mechanism,
        }) = login.pause.take()
        else {
            return Ok(Flow::Close);
        };
        log::info!(
            target: AUTH_LOG,
            "event=login user={} uid={} mechanism={mechanism} tls={} {}",
            user.name,
            user.uid,
            login.tls_word(),
            login.setup.peer
        );
        self.framer.set_limits(self.options.limits(true));
        self.context = context;
        self.state = State::Authenticated;
        let caps = Code::Capability(self.capabilities());
        out.tagged(
            &tag,
            Status::Ok,
            Some(&caps),
            &format!("{command} completed"),
        )?;
        self.drain(out)
    }

    /// After `Flow::Login`, when becoming the user failed (already logged by
    /// the caller): BYE, and the session ends.
    pub fn abort_login<W: Write>(&mut self, out: &mut ResponseWriter<W>) -> io::Result<Flow> {
        if let Some(login) = self.login.as_mut() {
            login.pause = None;
        }
        self.state = State::Logout;
        out.untagged_status(
            Status::Bye,
            Some(&Code::Unavailable),
            "Cannot serve this user now",
        )?;
        out.flush()?;
        Ok(Flow::Close)
    }

    /// After `Flow::Delay`: answer the failed attempt and go on.
    pub fn resume<W: Write>(&mut self, out: &mut ResponseWriter<W>) -> io::Result<Flow> {
        let pause = self.login.as_mut().and_then(|l| l.pause.take());
        match pause {
            Some(Pause::Failure {
                tag,
                code,
                text,
                bye,
            }) => {
                out.tagged(&tag, Status::No, Some(&code), text)?;
                if bye {
                    self.state = State::Logout;
                    out.untagged_status(Status::Bye, None, "Too many failed logins")?;
                    out.flush()?;
                    return Ok(Flow::Close);
                }
            }
            Some(other) => {
                // Not a delay: put it back; the caller resumes it another way.
                if let Some(login) = self.login.as_mut() {
                    login.pause = Some(other);
                }
                return Ok(self.paused_flow().unwrap_or(Flow::Continue));
            }
            None => {}
        }
        self.drain(out)
    }

    /// After `Flow::StartTls`, once the handshake succeeded.
    pub fn tls_started(&mut self) {
        if let Some(login) = self.login.as_mut() {
            if matches!(login.pause, Some(Pause::StartTls)) {
                login.pause = None;
            }
            login.setup.tls = Tls::Active;
        }
    }

    /// In IDLE (RFC 2177): the connection bounds it by `idle_timeout`.
    pub fn is_idling(&self) -> bool {
        self.idle.is_some()
    }

    /// The client was silent too long: RFC 3501 §5.4 autologout. Pending
    /// flag changes are written first, as at end of input.
    pub fn autologout<W: Write>(&mut self, out: &mut ResponseWriter<W>) -> io::Result<()> {
        if let State::Selected(sel) = &mut self.state {
            log::info!("autologout with {} selected", sel.name);
            crate::command::expunge::checkpoint_best_effort(sel);
        }
        self.idle = None;
        self.state = State::Logout;
        out.untagged_status(Status::Bye, None, "Autologout; idle for too long")?;
        out.flush()
    }

    /// The flow to report while paused.
    pub(super) fn paused_flow(&self) -> Option<Flow> {
        Some(match self.login.as_ref()?.pause.as_ref()? {
            Pause::Failure { .. } => Flow::Delay(Duration::ZERO),
            Pause::Authenticated { .. } => Flow::Login,
            Pause::StartTls => Flow::StartTls,
        })
    }

    /// Login capabilities, appended to the base list.
    pub(super) fn login_capabilities(&self) -> Option<String> {
        let login = self.login.as_ref()?;
        Some(if matches!(self.state, State::NotAuthenticated) {
            login.capabilities()
        } else {
            String::new()
        })
    }

    /// Frames before login: counted, and taken when an AUTHENTICATE is open.
    pub(super) fn login_frame<W: Write>(
        &mut self,
        frame: Frame,
        out: &mut ResponseWriter<W>,
    ) -> io::Result<Handled> {
        let Some(login) = self.login.as_mut() else {
            return Ok(Handled::No(frame));
        };
        if !matches!(self.state, State::NotAuthenticated) {
            return Ok(Handled::No(frame));
        }
        if matches!(frame, Frame::ContinuationRequest) {
            return Ok(Handled::No(frame));
        }
        login.commands += 1;
        if login.commands > MAX_COMMANDS_BEFORE_LOGIN {
            log::info!(target: AUTH_LOG, "event=too-many-commands {}", login.setup.peer);
            self.state = State::Logout;
            out.untagged_status(Status::Bye, None, "Too many commands before login")?;
            return Ok(Handled::Yes(Flow::Close));
        }
        let Some((tag, mut exchange)) = login.exchange.take() else {
            return Ok(Handled::No(frame));
        };
        let line = match frame {
            Frame::Command(bytes) => bytes,
            _ => {
                out.tagged(&tag, Status::Bad, None, "Authentication response too long")?;
                return Ok(Handled::Yes(Flow::Continue));
            }
        };
        let line = line.strip_suffix(b"\n").unwrap_or(&line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let step = sasl::decode_response(line).and_then(|r| exchange.respond(r));
        let mechanism = exchange.mechanism();
        self.sasl_step(tag, exchange, mechanism, step, out)
            .map(Handled::Yes)
    }

    /// LOGIN, AUTHENTICATE and STARTTLS of a login session; other commands pass.
    pub(super) fn login_command<W: Write>(
        &mut self,
        tag: &str,
        body: CommandBody,
        out: &mut ResponseWriter<W>,
    ) -> io::Result<Intercepted> {
        let Some(login) = self.login.as_mut() else {
            return Ok(Intercepted::Pass(body));
        };
        let flow = match body {
            CommandBody::Login { username, password } => {
                if !login.plaintext_ok() {
                    privacy_required(tag, out)?;
                    return Ok(Intercepted::Done(Flow::Continue));
                }
                self.attempt(tag, "LOGIN", "LOGIN", username, password, out)?
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } => {
                let Some(mechanism) = Mechanism::from_name(&mechanism) else {
                    out.tagged(
                        tag,
                        Status::No,
                        None,
                        "Unsupported authentication mechanism",
                    )?;
                    return Ok(Intercepted::Done(Flow::Continue));
                };
                if !login.plaintext_ok() {
                    privacy_required(tag, out)?;
                    return Ok(Intercepted::Done(Flow::Continue));
                }
                let initial = match initial_response.map(|r| sasl::decode_response(&r.0)) {
                    Some(Err(e)) => {
                        out.tagged(tag, Status::Bad, None, &e.to_string())?;
                        return Ok(Intercepted::Done(Flow::Continue));
                    }
                    Some(Ok(r)) => Some(r),
                    None => None,
                };
                let (exchange, step) = Exchange::start(mechanism, initial);
                self.sasl_step(tag.to_owned(), exchange, mechanism, step, out)?
            }
            CommandBody::StartTls => match login.setup.tls {
                Tls::Offered => {
                    out.tagged(tag, Status::Ok, None, "Begin TLS negotiation now")?;
                    out.flush()?;
                    let dropped = self.framer.discard_buffered();
                    if dropped > 0 {
                        log::warn!(
                            "event=starttls-injection discarded={dropped} {}",
                            login.setup.peer
                        );
                    }
                    login.pause = Some(Pause::StartTls);
                    Flow::StartTls
                }
                Tls::Active => {
                    out.tagged(tag, Status::Bad, None, "TLS is already active")?;
                    Flow::Continue
                }
                Tls::Unavailable => {
                    out.tagged(tag, Status::No, None, "STARTTLS is not available")?;
                    Flow::Continue
                }
            },
            CommandBody::Id(Some(params)) => {
                note_originating_ip(&mut login.setup.peer, &params);
                return Ok(Intercepted::Pass(CommandBody::Id(Some(params))));
            }
            other => return Ok(Intercepted::Pass(other)),
        };
        Ok(Intercepted::Done(flow))
    }

    /// Acts on one step of an AUTHENTICATE exchange.
    fn sasl_step<W: Write>(
        &mut self,
        tag: String,
        exchange: Exchange,
        mechanism: Mechanism,
        step: Result<Step, sasl::SaslError>,
        out: &mut ResponseWriter<W>,
    ) -> io::Result<Flow> {
        match step {
            Ok(Step::Challenge(challenge)) => {
                // `+ ` then the base64 challenge, possibly empty (RFC 3501 §7.5).
                out.raw(b"+ ")?;
                out.raw(challenge.as_bytes())?;
                out.end_line()?;
                out.flush()?;
                if let Some(login) = self.login.as_mut() {
                    login.exchange = Some((tag, exchange));
                }
                Ok(Flow::Continue)
            }
            Ok(Step::Done(credentials)) => {
                let user = Secret(credentials.user);
                let password = Secret(credentials.password);
                let name = match mechanism {
                    Mechanism::Plain => "PLAIN",
                    Mechanism::Login => "LOGIN",
                };
                self.attempt(&tag, "AUTHENTICATE", name, user, password, out)
            }
            Err(e) => {
                out.tagged(&tag, Status::Bad, None, &e.to_string())?;
                Ok(Flow::Continue)
            }
        }
    }

    /// Checks credentials: `Flow::Login` on success, else a counted failure.
    fn attempt<W: Write>(
        &mut self,
        tag: &str,
        command: &'static str,
        mechanism: &'static str,
        user: Secret,
        password: Secret,
        out: &mut ResponseWriter<W>,
    ) -> io::Result<Flow> {
        let Some(login) = self.login.as_mut() else {
            return Ok(Flow::Continue);
        };
        let client = login.setup.peer.client();
        let (name, result) = match auth::check_user_name(&user.0) {
            Err(why) => {
                // Quoted and cut short: it is the client's text.
                let shown: String = String::from_utf8_lossy(&user.0).chars().take(64).collect();
                (
                    format!("{shown:?}"),
                    Err(AuthError::Rejected(why.to_string())),
                )
            }
            Ok(name) if password.0.len() > auth::MAX_PASSWORD_OCTETS => {
                let why = AuthError::Rejected("password too long".into());
                (name.to_owned(), Err(why))
            }
            Ok(name) => {
                let result = login.setup.authenticator.check(name, &password.0, client);
                (name.to_owned(), result)
            }
        };
        let result = result.and_then(|info| {
            if info.uid == 0 {
                Err(AuthError::Rejected("uid 0 is never served".into()))
            } else {
                Ok(info)
            }
        });
        let (code, text) = match result {
            Ok(user) => {
                login.pause = Some(Pause::Authenticated {
                    tag: tag.to_owned(),
                    user,
                    command,
                    mechanism,
                });
                return Ok(Flow::Login);
            }
            Err(AuthError::Rejected(why)) => {
                log_failure(login, &name, mechanism, &why);
                (Code::AuthenticationFailed, "Authentication failed")
            }
            Err(AuthError::Unavailable(why)) => {
                log::error!(
                    "event=auth-backend-error backend={} reason={why:?}",
                    login.setup.authenticator.name()
                );
                log_failure(login, &name, mechanism, "backend unavailable");
                (
                    Code::Unavailable,
                    "Authentication is unavailable, try again later",
                )
            }
        };
        login.failures += 1;
        let delay = login
            .setup
            .failure_delay
            .saturating_mul(1 << login.failures.saturating_sub(1).min(8));
        login.pause = Some(Pause::Failure {
            tag: tag.to_owned(),
            code,
            text,
            bye: login.failures >= MAX_AUTH_FAILURES,
        });
        if delay.is_zero() {
            return self.resume_failure_now(out);
        }
        Ok(Flow::Delay(delay))
    }

    /// A failure with no delay configured: answer it at once, without draining
    /// (the caller's frame loop goes on).
    fn resume_failure_now<W: Write>(&mut self, out: &mut ResponseWriter<W>) -> io::Result<Flow> {
        let Some(Pause::Failure {
            tag,
            code,
            text,
            bye,
        }) = self.login.as_mut().and_then(|l| l.pause.take())
        else {
            return Ok(Flow::Continue);
        };
        out.tagged(&tag, Status::No, Some(&code), text)?;
        if bye {
            self.state = State::Logout;
            out.untagged_status(Status::Bye, None, "Too many failed logins")?;
            return Ok(Flow::Close);
        }
        Ok(Flow::Continue)
    }
}

fn privacy_required<W: Write>(tag: &str, out: &mut ResponseWriter<W>) -> io::Result<()> {
    out.tagged(
        tag,
        Status::No,
        Some(&Code::PrivacyRequired),
        "Plaintext authentication is disallowed without TLS",
    )
}

fn log_failure(login: &Login, user: &str, mechanism: &str, why: &str) {
    log::warn!(
        target: AUTH_LOG,
        "event=login-failed user={user} mechanism={mechanism} tls={} {} attempt={} reason={why:?}",
        login.tls_word(),
        login.setup.peer,
        login.failures + 1
    );
}

/// `ID ("x-originating-ip" "192.0.2.7" …)` from a trusted proxy (Dovecot's
/// and nginx's convention) names the client for the logs.
fn note_originating_ip(peer: &mut Peer, params: &[(String, Option<String>)]) {
    let Some(ip) = params.iter().find_map(|(k, v)| {
        let v = v.as_deref()?;
        k.eq_ignore_ascii_case("x-originating-ip")
            .then(|| v.trim_matches(['[', ']']).parse().ok())
            .flatten()
    }) else {
        return;
    };
    if peer.report(ip) {
        log::info!("event=client-address {peer}");
    } else {
        log::info!("event=client-address-ignored claimed={ip} {peer}");
    }
}

#[cfg(test)]
mod tests;
