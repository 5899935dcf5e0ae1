//! The loop between a [`Session`] and a byte stream: read what the client
//! sent, hand it to the session, and stop at LOGOUT or end of input. The
//! session flushes its output before every wait for input.
//!
//! Generic over the input and output: `main` passes stdin and stdout; nothing
//! here names them. The input must also offer its fd ([`Input`]), because
//! waiting is done with poll(2) and a timeout: while a mailbox is selected the
//! session wants a [`Session::tick`] about twice a second even when the client
//! is silent (IDLE reports new mail within a second, quiet-period checkpoints,
//! kiss of death). poll works on what inetd and ssh give us (a socket or a
//! pipe), where a read timeout would not.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::response::ResponseWriter;
use crate::session::{Flow, Session};

/// Read size: a typical command fits many times; a 64 MB APPEND literal goes
/// through in 16 KB steps. Also at least the 8 KB buffer of `StdinLock`, so
/// std's reader never keeps bytes that poll(2) could not see (a read at least
/// as large as an empty `BufReader`'s buffer bypasses it).
const READ_CHUNK_OCTETS: usize = 16 * 1024;

/// What [`serve`] reads from: a byte stream with an fd to wait on.
pub trait Input: Read + AsFd {}

impl<T: Read + AsFd> Input for T {}

/// Greets, then serves commands until LOGOUT or end of input.
pub fn serve<R: Input, W: Write>(
    session: &mut Session,
    mut input: R,
    out: &mut ResponseWriter<W>,
) -> io::Result<()> {
    session.greeting(out)?;
    let mut buf = vec![0u8; READ_CHUNK_OCTETS];
    loop {
        if let Some(interval) = session.tick_interval()
            && !readable(&input, interval)?
        {
            if session.tick(out)? == Flow::Close {
                return Ok(());
            }
            continue;
        }
        let n = match input.read(&mut buf) {
            Ok(0) => {
                session.end_of_input();
                return Ok(());
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // `n <= buf.len()` by the Read contract.
        if session.receive(&buf[..n], out)? == Flow::Close {
            return Ok(());
        }
    }
}

/// Waits up to `timeout` for `input` to become readable: `true` when a read
/// will not block (data, end of input, or an error the read will report),
/// `false` on timeout or when a signal interrupted the wait (a kiss of death
/// is then seen by the tick at once).
fn readable(input: &impl AsFd, timeout: Duration) -> io::Result<bool> {
    let millis = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(input.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(millis)) {
        Ok(0) => Ok(false),
        Ok(_) => Ok(true),
        Err(Errno::EINTR) => Ok(false),
        Err(e) => Err(io::Error::from(e)),
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::time::Instant;

    use super::*;

    fn pipe() -> (File, File) {
        let (r, w) = nix::unistd::pipe().unwrap();
        (File::from(r), File::from(w))
    }

    #[test]
    fn readable_times_out_then_sees_data_and_eof() {
        let (r, mut w) = pipe();
        let started = Instant::now();
        assert!(!readable(&r, Duration::from_millis(50)).unwrap());
        assert!(started.elapsed() >= Duration::from_millis(40));
        w.write_all(b"x").unwrap();
        assert!(readable(&r, Duration::from_millis(50)).unwrap());
        drop(w);
        let mut r = r;
        let mut buf = [0u8; 4];
        assert_eq!(r.read(&mut buf).unwrap(), 1);
        // End of input is "readable": the read returns 0.
        assert!(readable(&r, Duration::from_millis(50)).unwrap());
    }

    #[test]
    fn serve_over_a_pipe_until_logout() {
        let (r, mut w) = pipe();
        w.write_all(b"a IDLE\r\nDONE\r\nb LOGOUT\r\n").unwrap();
        let context = crate::command::Context {
            home: "/nonexistent/mbox-imapd-test/home".into(),
            user: "u".into(),
            host: "h".into(),
            inbox: "/nonexistent/mbox-imapd-test/u".into(),
            mail_dir: "/nonexistent/mbox-imapd-test/mail".into(),
            locking: Default::default(),
        };
        let mut session = Session::new(context, crate::session::Start::Preauth);
        let mut out = ResponseWriter::new(Vec::new());
        serve(&mut session, r, &mut out).unwrap();
        let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
        assert!(
            text.contains("+ idling\r\na OK IDLE terminated\r\n"),
            "{text}"
        );
        assert!(text.ends_with("b OK LOGOUT completed\r\n"), "{text}");
    }
}
