//! The loop between a [`Session`] and a byte stream: read what the client
//! sent, hand it to the session, and stop at LOGOUT or end of input. The
//! session flushes its output before every wait for input.
//!
//! Generic over `Read`/`Write`: `main` passes stdin and stdout; nothing here
//! names them.

use std::io::{self, Read, Write};

use crate::response::ResponseWriter;
use crate::session::{Flow, Session};

/// Read size: a typical command fits many times; a 64 MB APPEND literal goes
/// through in 16 KB steps.
const READ_CHUNK_OCTETS: usize = 16 * 1024;

/// Greets, then serves commands until LOGOUT or end of input.
pub fn serve<R: Read, W: Write>(
    session: &mut Session,
    mut input: R,
    out: &mut ResponseWriter<W>,
) -> io::Result<()> {
    session.greeting(out)?;
    let mut buf = vec![0u8; READ_CHUNK_OCTETS];
    loop {
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
