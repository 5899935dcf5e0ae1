//! The client's byte stream as the connection loop sees it: fd 0 for input,
//! fd 1 for output (under inetd both are the socket), in the clear or through
//! TLS, optionally compressed (COMPRESS=DEFLATE, [`deflate`]), with a read
//! timeout.
//!
//! Layers, from the session outwards: DEFLATE (after COMPRESS), TLS (after
//! STARTTLS or with `--tls`), the fds. RFC 4978 §3 fixes that order: TLS
//! first, then COMPRESS; STARTTLS is a not-authenticated command and COMPRESS
//! an authenticated one, so the other order cannot be asked for.
//!
//! The hard parts:
//! - Timeouts. Autologout needs "no input for N minutes", and a blocking
//!   read(2) has no deadline, so every wait for input is a poll(2) on the
//!   input fd first. With TLS, plaintext rustls already decrypted is served
//!   before waiting on the socket, or a buffered command would sit unread
//!   until the timeout.
//! - Switching to TLS mid-stream (STARTTLS). The switch happens after the
//!   server's OK is flushed and before another octet is read; anything the
//!   client sent after STARTTLS is either gone (the session discarded what it
//!   had read) or still in the socket, where rustls reads it as TLS records
//!   and fails the handshake if it is not. Nothing plaintext survives.
//! - Switching to DEFLATE mid-stream (COMPRESS). Our OK goes out uncompressed
//!   and flushed; from the next octet both directions are compressed. Input
//!   the session had already read past the command is compressed data the
//!   client sent early, and is inflated first.
//! - The SIGBUS handler writes to fd 1 behind all of this. Each layer tells
//!   it what the wire can take at that instant (`signals::set_client_stream`):
//!   plaintext takes the BYE line, DEFLATE right after a sync flush takes it
//!   as a final block, TLS or DEFLATE mid-block take nothing (the process
//!   exits without a word, which the client sees as a closed connection).
//! - End of stream. A TLS peer that closes without close_notify, EOF, EPIPE
//!   and ECONNRESET all mean "the client is gone", which the caller treats as
//!   a clean end.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use rustls::{ServerConfig, ServerConnection};

use crate::mailstore::signals::{self, ClientStream};
pub use deflate::is_corrupt_input;
use deflate::{Deflate, WireMark};

pub mod deflate;

/// What the connection loop needs of a stream (tests use an in-memory one).
pub trait Transport: Read + Write {
    /// Bounds every later wait for input; a read that waits longer fails
    /// with `ErrorKind::TimedOut`. `None` waits forever.
    fn set_read_timeout(&mut self, timeout: Option<Duration>);
    /// Runs the TLS handshake as the server (within the read timeout);
    /// afterwards reads and writes go through TLS.
    fn start_tls(&mut self) -> io::Result<()>;
    /// Whether TLS is active.
    fn is_tls(&self) -> bool;
    /// `version=… cipher=…` of the TLS session, for the log.
    fn tls_description(&self) -> Option<String>;
    /// Flushes, then compresses both directions from the next octet on
    /// (RFC 4978 COMPRESS=DEFLATE), inside TLS if it is active. `early` is
    /// input already read past the COMPRESS command: compressed octets.
    fn start_compression(&mut self, early: &[u8]) -> io::Result<()>;
}

/// The real stream over two file descriptors.
pub struct FdStream {
    wire: Wire,
    /// COMPRESS=DEFLATE, once the client asked for it: between the session
    /// and `wire`.
    deflate: Option<Box<Deflate>>,
}

/// The fds, in the clear or through TLS.
struct Wire {
    input: File,
    output: File,
    tls_config: Option<Arc<ServerConfig>>,
    tls: Option<Box<ServerConnection>>,
    timeout: Option<Duration>,
}

impl FdStream {
    /// `input` and `output` may be the same socket (inetd) or two pipes.
    /// `tls_config` is what `start_tls` will use; `None` = no TLS here.
    pub fn new(input: OwnedFd, output: OwnedFd, tls_config: Option<Arc<ServerConfig>>) -> Self {
        FdStream {
            wire: Wire {
                input: File::from(input),
                output: File::from(output),
                tls_config,
                tls: None,
                timeout: None,
            },
            deflate: None,
        }
    }

    /// Under COMPRESS: compressed octets read and written so far (the log's
    /// session summary).
    pub fn compressed_octets(&self) -> Option<(u64, u64)> {
        self.deflate.as_ref().map(|d| d.wire_octets())
    }
}

/// Tells the SIGBUS handler where a DEFLATE stream over plaintext stands.
fn mark_plain_deflate(mark: WireMark) {
    signals::set_client_stream(match mark {
        WireMark::MidStream => ClientStream::Opaque,
        WireMark::AtSyncPoint => ClientStream::DeflateAtSyncPoint,
    });
}

/// Inside TLS nothing can be written behind rustls's back.
fn mark_tls_deflate(_: WireMark) {}

impl Wire {
    /// Waits for input until the timeout; `Err(TimedOut)` if none came.
    fn wait_for_input(&self, deadline: Option<Instant>) -> io::Result<()> {
        loop {
            let timeout = match deadline {
                None => PollTimeout::NONE,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                    PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX)
                }
            };
            let mut fds = [PollFd::new(self.input.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, timeout) {
                // POLLIN, POLLHUP or POLLERR: the read that follows tells which.
                Ok(n) if n > 0 => return Ok(()),
                Ok(_) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                }
                // A signal (a kiss of death): let the caller look at once.
                Err(Errno::EINTR) => return Err(io::ErrorKind::Interrupted.into()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.timeout.map(|t| Instant::now() + t)
    }

    /// Sends every TLS record rustls has ready.
    fn flush_tls(&mut self) -> io::Result<()> {
        if let Some(tls) = self.tls.as_mut() {
            while tls.wants_write() {
                tls.write_tls(&mut self.output)?;
            }
        }
        self.output.flush()
    }

    /// Reads TLS records from the socket and processes them; `Ok(false)` at EOF.
    fn pump_tls(&mut self, deadline: Option<Instant>) -> io::Result<bool> {
        self.wait_for_input(deadline)?;
        let Some(tls) = self.tls.as_mut() else {
            return Ok(false);
        };
        if tls.read_tls(&mut self.input)? == 0 {
            return Ok(false);
        }
        if let Err(e) = tls.process_new_packets() {
            // Send the alert rustls queued, then fail.
            let _ = self.flush_tls();
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        Ok(true)
    }

    /// Reads plaintext (decrypted, under TLS), waiting at most until `deadline`.
    fn read_by(&mut self, buf: &mut [u8], deadline: Option<Instant>) -> io::Result<usize> {
        if self.tls.is_none() {
            self.wait_for_input(deadline)?;
            return self.input.read(buf);
        }
        loop {
            if let Some(tls) = self.tls.as_mut() {
                match tls.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // The peer closed the TCP connection without close_notify:
                    // for us that is the end of input like any other.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                    Err(e) => return Err(e),
                }
            }
            self.flush_tls()?;
            if !self.pump_tls(deadline)? {
                return Ok(0);
            }
        }
    }

    fn start_tls(&mut self) -> io::Result<()> {
        let Some(config) = self.tls_config.clone() else {
            return Err(io::Error::other("TLS is not configured"));
        };
        if self.tls.is_some() {
            return Err(io::Error::other("TLS is already active"));
        }
        let conn = ServerConnection::new(config).map_err(io::Error::other)?;
        self.tls = Some(Box::new(conn));
        // From here a plaintext line on fd 1 would break the TLS stream.
        signals::set_client_stream(ClientStream::Opaque);
        let deadline = self.deadline();
        while self.tls.as_ref().is_some_and(|t| t.is_handshaking()) {
            self.flush_tls()?;
            match self.pump_tls(deadline) {
                Ok(true) => {}
                Ok(false) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.flush_tls()
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.tls.is_none() {
            return self.output.write(buf);
        }
        loop {
            let Some(tls) = self.tls.as_mut() else {
                return Ok(0);
            };
            let n = tls.writer().write(buf)?;
            self.flush_tls()?;
            // rustls takes nothing when its send buffer is full; it was just
            // flushed, so the next round takes some.
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_tls()
    }
}

impl Transport for FdStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.wire.timeout = timeout;
    }

    fn start_tls(&mut self) -> io::Result<()> {
        if self.deflate.is_some() {
            // RFC 4978 §3: TLS first, then COMPRESS (and the session's states
            // never allow STARTTLS after COMPRESS).
            return Err(io::Error::other("TLS cannot start inside COMPRESS"));
        }
        self.wire.start_tls()
    }

    fn is_tls(&self) -> bool {
        self.wire.tls.is_some()
    }

    fn tls_description(&self) -> Option<String> {
        let tls = self.wire.tls.as_ref()?;
        let version = tls.protocol_version().map(|v| format!("{v:?}"));
        let suite = tls
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()));
        Some(format!(
            "version={} cipher={}",
            version.unwrap_or_default(),
            suite.unwrap_or_default()
        ))
    }

    fn start_compression(&mut self, early: &[u8]) -> io::Result<()> {
        if self.deflate.is_some() {
            return Err(io::Error::other("COMPRESS is already active"));
        }
        self.wire.flush()?;
        let mark = if self.wire.tls.is_some() {
            mark_tls_deflate
        } else {
            // Nothing compressed is on the wire yet: a final block may follow.
            signals::set_client_stream(ClientStream::DeflateAtSyncPoint);
            mark_plain_deflate
        };
        self.deflate = Some(Box::new(Deflate::new(early, mark)));
        Ok(())
    }
}

impl Read for FdStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One deadline for the whole read, however many wire reads DEFLATE
        // needs to produce a first octet (a client trickling empty blocks
        // must not hold off the session's ticks).
        let deadline = self.wire.deadline();
        match self.deflate.as_mut() {
            None => self.wire.read_by(buf, deadline),
            Some(deflate) => deflate.read(buf, |room| self.wire.read_by(room, deadline)),
        }
    }
}

impl Write for FdStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.deflate.as_mut() {
            None => self.wire.write(buf),
            Some(deflate) => deflate.write(buf, &mut self.wire),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.deflate.as_mut() {
            None => self.wire.flush(),
            Some(deflate) => deflate.flush(&mut self.wire),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixStream;
    use std::thread;

    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
    use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

    use super::*;

    fn pair() -> (UnixStream, FdStream, UnixStream) {
        let (client, server) = UnixStream::pair().unwrap();
        let input = OwnedFd::from(server.try_clone().unwrap());
        let output = OwnedFd::from(server.try_clone().unwrap());
        (
            client,
            FdStream::new(input, output, Some(server_config().0)),
            server,
        )
    }

    /// A self-signed certificate for "localhost", and a client that trusts it.
    fn server_config() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let der = CertificateDer::from(cert.cert.der().to_vec());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![der.clone()], key)
            .unwrap();
        let mut roots = RootCertStore::empty();
        roots.add(der).unwrap();
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        (Arc::new(server), Arc::new(client))
    }

    #[test]
    fn plain_reads_time_out() {
        let (mut client, mut stream, _keep) = pair();
        stream.set_read_timeout(Some(Duration::from_millis(50)));
        let mut buf = [0u8; 16];
        let e = stream.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        client.write_all(b"a NOOP\r\n").unwrap();
        assert_eq!(stream.read(&mut buf).unwrap(), 8);
        drop(client);
        drop(_keep);
        assert_eq!(stream.read(&mut buf).unwrap(), 0, "EOF");
    }

    #[test]
    fn tls_round_trip_after_plaintext() {
        let (client, mut stream, _keep) = pair();
        let (server_cfg, client_cfg) = server_config();
        stream.wire.tls_config = Some(server_cfg);
        stream.set_read_timeout(Some(Duration::from_secs(10)));
        let peer = thread::spawn(move || {
            let mut plain = client;
            plain.write_all(b"a STARTTLS\r\n").unwrap();
            // As a real client does: wait for the OK before the ClientHello.
            let mut ok = [0u8; 6];
            plain.read_exact(&mut ok).unwrap();
            assert_eq!(&ok, b"a OK\r\n");
            let name = ServerName::try_from("localhost").unwrap();
            let conn = ClientConnection::new(client_cfg, name).unwrap();
            let mut tls = StreamOwned::new(conn, plain);
            tls.write_all(b"b NOOP\r\n").unwrap();
            let mut answer = [0u8; 6];
            tls.read_exact(&mut answer).unwrap();
            answer
        });
        let mut buf = [0u8; 64];
        assert_eq!(stream.read(&mut buf).unwrap(), 12);
        stream.write_all(b"a OK\r\n").unwrap();
        stream.flush().unwrap();
        stream.start_tls().unwrap();
        assert!(stream.is_tls());
        assert!(stream.tls_description().unwrap().contains("TLSv1_3"));
        let n = stream.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"b NOOP\r\n");
        stream.write_all(b"b OK\r\n").unwrap();
        stream.flush().unwrap();
        assert_eq!(&peer.join().unwrap(), b"b OK\r\n");
    }

    /// RFC 4978 §3: first TLS, then COMPRESS. The OK goes out as TLS
    /// plaintext; after it the TLS plaintext is raw DEFLATE both ways.
    #[test]
    fn compression_inside_tls() {
        use super::deflate::tests::Peer;

        let (client, mut stream, _keep) = pair();
        let (server_cfg, client_cfg) = server_config();
        stream.wire.tls_config = Some(server_cfg);
        stream.set_read_timeout(Some(Duration::from_secs(10)));
        let peer = thread::spawn(move || {
            let name = ServerName::try_from("localhost").unwrap();
            let conn = ClientConnection::new(client_cfg, name).unwrap();
            let mut tls = StreamOwned::new(conn, client);
            tls.write_all(b"a COMPRESS DEFLATE\r\n").unwrap();
            let mut ok = [0u8; 21];
            tls.read_exact(&mut ok).unwrap();
            assert_eq!(&ok, b"a OK DEFLATE active\r\n");
            let mut deflate = Peer::new();
            tls.write_all(&deflate.deflate(b"b NOOP\r\n")).unwrap();
            tls.flush().unwrap();
            // Read TLS plaintext until it inflates to the whole answer.
            let mut answer = Vec::new();
            let mut buf = [0u8; 256];
            while !answer.ends_with(b"b OK\r\n") {
                let n = tls.read(&mut buf).unwrap();
                assert!(n > 0, "EOF after {answer:?}");
                answer.extend(deflate.inflate(&buf[..n]));
            }
            answer
        });
        stream.start_tls().unwrap();
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"a COMPRESS DEFLATE\r\n");
        stream.write_all(b"a OK DEFLATE active\r\n").unwrap();
        stream.start_compression(b"").unwrap();
        assert!(stream.is_tls());
        let n = stream.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"b NOOP\r\n");
        stream.write_all(b"* 1 EXISTS\r\nb OK\r\n").unwrap();
        stream.flush().unwrap();
        assert_eq!(peer.join().unwrap(), b"* 1 EXISTS\r\nb OK\r\n");
        // TLS cannot start again, nor inside COMPRESS.
        assert!(stream.start_tls().is_err());
        assert!(stream.start_compression(b"").is_err());
    }

    #[test]
    fn plaintext_after_starttls_fails_the_handshake() {
        let (mut client, mut stream, _keep) = pair();
        stream.set_read_timeout(Some(Duration::from_secs(5)));
        client.write_all(b"b LOGIN alice secret\r\n").unwrap();
        let e = stream.start_tls().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    }

    #[test]
    fn a_silent_handshake_times_out() {
        let (_client, mut stream, _keep) = pair();
        stream.set_read_timeout(Some(Duration::from_millis(50)));
        assert_eq!(
            stream.start_tls().unwrap_err().kind(),
            io::ErrorKind::TimedOut
        );
    }
}
