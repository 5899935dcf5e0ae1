//! The loop between a [`Session`] and the client's stream: read what the
//! client sent, hand it to the session, and act on what the session asks of
//! its caller: wait out a failed login's delay, become the user after a
//! login, run the TLS handshake after STARTTLS, compress the stream after
//! COMPRESS. It ends at LOGOUT, end of input, autologout, or compressed input
//! that cannot be inflated.
//!
//! Two clocks run while the loop waits for input, and each wait is bounded by
//! the nearer one:
//! - Autologout (RFC 3501 §5.4): `login_timeout` before login, `autologout`
//!   after it (at least 30 minutes by the RFC), `idle` during IDLE (RFC 2177:
//!   IDLE is activity, but not for ever). Measured from the client's last
//!   input; when it runs out the client gets `* BYE Autologout; idle for too
//!   long`.
//! - The session's tick ([`Session::tick_interval`]): while a mailbox is
//!   selected it wants a [`Session::tick`] about twice a second even when the
//!   client is silent (IDLE reports new mail within a second, quiet-period
//!   checkpoints, kiss of death). A signal that interrupts the wait counts as
//!   a tick, so a kiss of death is seen at once.
//!
//! Generic over [`Transport`]: `main` passes the fd stream; tests pass an
//! in-memory one. The stream is the `ResponseWriter`'s inner writer, and is
//! read through it, so TLS and DEFLATE can wrap both directions at once.

use std::io;
use std::time::{Duration, Instant};

use crate::auth::UserInfo;
use crate::command::Context;
use crate::response::ResponseWriter;
use crate::session::{Flow, Session};
use crate::transport::Transport;

/// Read size: a typical command fits many times; a 64 MB APPEND literal goes
/// through in 16 KB steps.
const READ_CHUNK_OCTETS: usize = 16 * 1024;

/// How long the client may be silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Before login (and during the TLS handshake).
    pub login: Duration,
    /// After login, between commands.
    pub autologout: Duration,
    /// Longest IDLE (RFC 2177), for the IDLE command.
    pub idle: Duration,
}

/// What the caller does on the session's behalf after a login.
pub trait Edge {
    /// Becomes `user` (drops root) and returns the user's context; `Err`
    /// (already logged) ends the session with BYE.
    fn become_user(&mut self, user: &UserInfo) -> Result<Context, String>;
}

/// How the session ended, for the summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// LOGOUT, or the session said BYE (too many failed logins, a login that
    /// could not be served).
    Closed,
    EndOfInput,
    Autologout,
    TlsFailed,
    /// The client's compressed stream could not be inflated (RFC 4978): told
    /// with BYE, compressed, since our direction is intact.
    CorruptInput,
}

/// Greets, then serves commands until LOGOUT, end of input or autologout.
/// `timeouts: None` waits forever (a tunnel). I/O errors are returned; EPIPE
/// and ECONNRESET among them mean the client went away, which the caller
/// treats as a clean end.
pub fn serve<T: Transport>(
    session: &mut Session,
    out: &mut ResponseWriter<T>,
    timeouts: Option<Timeouts>,
    edge: &mut dyn Edge,
) -> io::Result<End> {
    session.greeting(out)?;
    let mut buf = vec![0u8; READ_CHUNK_OCTETS];
    let mut last_input = Instant::now();
    loop {
        let limit = timeouts.map(|t| {
            if !session.is_authenticated() {
                t.login
            } else if session.is_idling() {
                t.idle
            } else {
                t.autologout
            }
        });
        let left = limit.map(|l| l.saturating_sub(last_input.elapsed()));
        if left.is_some_and(|l| l.is_zero()) {
            session.autologout(out)?;
            return Ok(End::Autologout);
        }
        let tick = session.tick_interval();
        let wait = match (left, tick) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        out.get_mut().set_read_timeout(wait);
        let n = match out.get_mut().read(&mut buf) {
            Ok(0) => {
                session.end_of_input();
                return Ok(End::EndOfInput);
            }
            Ok(n) => n,
            // Silence until a clock ran out, or a signal: tick if the session
            // wants ticks; the autologout clock is checked at the top.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) =>
            {
                if tick.is_some() && session.tick(out)? == Flow::Close {
                    return Ok(End::Closed);
                }
                continue;
            }
            Err(e) if crate::transport::is_corrupt_input(&e) => {
                log::error!("event=corrupt-input reason={:?}", e.to_string());
                session.unreadable_input(out)?;
                return Ok(End::CorruptInput);
            }
            Err(e) => return Err(e),
        };
        last_input = Instant::now();
        // `n <= buf.len()` by the Read contract.
        let flow = session.receive(&buf[..n], out)?;
        if let Some(end) = follow(session, out, edge, flow)? {
            return Ok(end);
        }
    }
}

/// Acts on `flow` until the session wants input again (`None`) or is done.
fn follow<T: Transport>(
    session: &mut Session,
    out: &mut ResponseWriter<T>,
    edge: &mut dyn Edge,
    mut flow: Flow,
) -> io::Result<Option<End>> {
    loop {
        flow = match flow {
            Flow::Continue => return Ok(None),
            Flow::Close => return Ok(Some(End::Closed)),
            Flow::Delay(d) => {
                out.flush()?;
                std::thread::sleep(d);
                session.resume(out)?
            }
            Flow::Login => {
                let Some(user) = session.authenticated_user().cloned() else {
                    return Ok(Some(End::Closed));
                };
                match edge.become_user(&user) {
                    Ok(context) => session.complete_login(context, out)?,
                    Err(_) => session.abort_login(out)?,
                }
            }
            Flow::Compress => {
                out.flush()?;
                let early = session.take_unframed_input();
                out.get_mut().start_compression(&early)?;
                log::info!(
                    "event=compress algorithm=DEFLATE early_octets={}",
                    early.len()
                );
                // Compressed octets the client sent early are inflated at
                // the next read.
                return Ok(None);
            }
            Flow::StartTls => {
                out.flush()?;
                match out.get_mut().start_tls() {
                    Ok(()) => {
                        session.tls_started();
                        let peer = session.peer().map(|p| p.to_string()).unwrap_or_default();
                        let tls = out.get_mut().tls_description().unwrap_or_default();
                        log::info!("event=starttls {peer} {tls}");
                        return Ok(None);
                    }
                    Err(e) => {
                        // Nothing more can be said: the stream is neither
                        // plaintext nor TLS any more.
                        log::info!("event=tls-failed reason={:?}", e.to_string());
                        return Ok(Some(End::TlsFailed));
                    }
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::io::{Read, Write};

    use super::*;

    /// Scripted input: each entry is one read's result (`None` = time out).
    struct Script {
        reads: VecDeque<Option<Vec<u8>>>,
        written: Vec<u8>,
        timeouts: Vec<Option<Duration>>,
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.reads.pop_front() {
                None => Ok(0),
                Some(None) => {
                    // Silence: the wait runs its full length, then times out.
                    if let Some(Some(wait)) = self.timeouts.last() {
                        std::thread::sleep(*wait);
                    }
                    Err(io::ErrorKind::TimedOut.into())
                }
                Some(Some(bytes)) => {
                    buf[..bytes.len()].copy_from_slice(&bytes);
                    Ok(bytes.len())
                }
            }
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Transport for Script {
        fn set_read_timeout(&mut self, timeout: Option<Duration>) {
            self.timeouts.push(timeout);
        }
        fn start_tls(&mut self) -> io::Result<()> {
            Err(io::Error::other("no TLS in this test"))
        }
        fn is_tls(&self) -> bool {
            false
        }
        fn tls_description(&self) -> Option<String> {
            None
        }
        fn start_compression(&mut self, _: &[u8]) -> io::Result<()> {
            Err(io::Error::other("no COMPRESS in this test"))
        }
    }

    struct NoEdge;
    impl Edge for NoEdge {
        fn become_user(&mut self, _: &UserInfo) -> Result<Context, String> {
            Err("not in this test".into())
        }
    }

    fn run(reads: Vec<Option<&[u8]>>) -> (End, String, Vec<Option<Duration>>) {
        let context = Context {
            home: "/nonexistent/mbox-imapd-test/home".into(),
            user: "alice".into(),
            host: "mailhost".into(),
            inbox: "/nonexistent/mbox-imapd-test/inbox".into(),
            mail_dir: "/nonexistent/mbox-imapd-test/mail".into(),
            locking: Default::default(),
            special_use: Default::default(),
        };
        let mut session = Session::new(context, crate::session::Start::Preauth);
        let script = Script {
            reads: reads.into_iter().map(|r| r.map(<[u8]>::to_vec)).collect(),
            written: Vec::new(),
            timeouts: Vec::new(),
        };
        let mut out = ResponseWriter::new(script);
        let timeouts = Timeouts {
            login: Duration::from_secs(60),
            autologout: Duration::from_millis(50),
            idle: Duration::from_secs(1800),
        };
        let end = serve(&mut session, &mut out, Some(timeouts), &mut NoEdge).unwrap();
        let script = out.into_inner().unwrap();
        (
            end,
            String::from_utf8(script.written).unwrap(),
            script.timeouts,
        )
    }

    #[test]
    fn silence_after_login_is_autologout() {
        let (end, out, timeouts) = run(vec![Some(b"a NOOP\r\n"), None]);
        assert_eq!(end, End::Autologout);
        assert!(
            out.ends_with("a OK NOOP completed\r\n* BYE Autologout; idle for too long\r\n"),
            "{out}"
        );
        assert_eq!(timeouts.len(), 2, "{timeouts:?}");
        assert!(
            timeouts
                .iter()
                .all(|t| t.is_some_and(|t| t <= Duration::from_millis(50)))
        );
    }

    #[test]
    fn idle_over_pipes_until_logout() {
        let (end, bytes) =
            serve_over_pipes(b"a IDLE\r\nDONE\r\nb LOGOUT\r\n", Duration::from_secs(5));
        assert_eq!(end, End::Closed);
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.contains("+ idling\r\na OK IDLE terminated\r\n"),
            "{text}"
        );
        assert!(text.ends_with("b OK LOGOUT completed\r\n"), "{text}");
    }

    /// `client` bytes into a preauth session over pipes, the write end kept
    /// open (silence, not EOF); returns how it ended and its raw output.
    fn serve_over_pipes(client: &[u8], autologout: Duration) -> (End, Vec<u8>) {
        use crate::transport::FdStream;

        let (r, w) = nix::unistd::pipe().unwrap();
        let (out_r, out_w) = nix::unistd::pipe().unwrap();
        let mut w = std::fs::File::from(w);
        w.write_all(client).unwrap();
        let context = Context {
            home: "/nonexistent/mbox-imapd-test/home".into(),
            user: "u".into(),
            host: "h".into(),
            inbox: "/nonexistent/mbox-imapd-test/u".into(),
            mail_dir: "/nonexistent/mbox-imapd-test/mail".into(),
            locking: Default::default(),
            special_use: Default::default(),
        };
        let mut session = Session::new(context, crate::session::Start::Preauth);
        let mut out = ResponseWriter::new(FdStream::new(r, out_w, None));
        let timeouts = Timeouts {
            login: autologout,
            autologout,
            idle: autologout,
        };
        let end = serve(&mut session, &mut out, Some(timeouts), &mut NoEdge).unwrap();
        drop(out);
        drop(w);
        let mut bytes = Vec::new();
        std::fs::File::from(out_r).read_to_end(&mut bytes).unwrap();
        (end, bytes)
    }

    /// What follows our plaintext OK to COMPRESS: the compressed stream.
    fn after_compress_ok(bytes: &[u8]) -> &[u8] {
        let ok = b"a OK DEFLATE active\r\n";
        let at = bytes.windows(ok.len()).position(|w| w == ok).unwrap();
        &bytes[at + ok.len()..]
    }

    /// After COMPRESS the loop reads through the layer (compressed input sent
    /// early included) and the autologout BYE goes out compressed.
    #[test]
    fn compress_then_autologout_over_pipes() {
        use crate::transport::deflate::tests::Peer;

        let mut client = Peer::new();
        let mut input = b"a COMPRESS DEFLATE\r\n".to_vec();
        input.extend(client.deflate(b"b NOOP\r\n"));
        let (end, bytes) = serve_over_pipes(&input, Duration::from_millis(200));
        assert_eq!(end, End::Autologout);
        let text = client.inflate(after_compress_ok(&bytes));
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "b OK NOOP completed\r\n* BYE Autologout; idle for too long\r\n"
        );
    }

    #[test]
    fn corrupt_compressed_input_is_a_clean_end() {
        use crate::transport::deflate::tests::Peer;

        let mut input = b"a COMPRESS DEFLATE\r\n".to_vec();
        input.extend_from_slice(&[0xff; 8]);
        let (end, bytes) = serve_over_pipes(&input, Duration::from_secs(5));
        assert_eq!(end, End::CorruptInput);
        assert_eq!(
            Peer::new().inflate(after_compress_ok(&bytes)),
            b"* BYE Corrupt compressed input\r\n"
        );
    }

    #[test]
    fn eof_and_logout_end_cleanly() {
        let (end, _, _) = run(vec![Some(b"a NOOP\r\n")]);
        assert_eq!(end, End::EndOfInput);
        let (end, out, _) = run(vec![Some(b"a LOGOUT\r\nb NOOP\r\n")]);
        assert_eq!(end, End::Closed);
        assert!(out.ends_with("a OK LOGOUT completed\r\n"), "{out}");
    }
}
