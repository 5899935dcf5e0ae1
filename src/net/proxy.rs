//! The PROXY protocol (HAProxy's, versions 1 and 2): a header a load balancer
//! or login proxy sends before anything else, naming the client it is
//! relaying for. We read it only from a configured trusted proxy
//! (`trusted_proxies`), before the greeting, and only for the log's sake.
//!
//! ```text
//! v1: "PROXY TCP4 192.0.2.7 198.51.100.1 56324 143\r\n"   (at most 107 octets)
//! v2: \r\n\r\n\0\r\nQUIT\n, ver/cmd, family, length (2, big-endian), addresses, TLVs
//! ```
//!
//! The hard part is reading exactly the header and not one octet more: what
//! follows belongs to the next layer (with implicit TLS, the ClientHello). So
//! [`read_header`] first peeks (`MSG_PEEK`) to see whether a header is there
//! at all, then consumes the v1 line octet by octet, or the v2 fixed part and
//! then exactly its declared length. And it never waits past its deadline: a
//! trusted proxy that sends no header gets the greeting after the wait.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{MsgFlags, recv};
use thiserror::Error;

/// The v2 signature (12 octets).
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 header, CRLF included (the specification's bound).
const V1_MAX_OCTETS: usize = 107;
/// The v2 fixed part: signature, ver/cmd, family, length.
const V2_FIXED_OCTETS: usize = 16;
/// How long to wait between peeks at a header that has only partly arrived.
const PARTIAL_RETRY: Duration = Duration::from_millis(5);

/// What a complete header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// Relayed for this client.
    Client(IpAddr),
    /// v1 `UNKNOWN` or v2 `LOCAL` (a health check, or an unsupported
    /// family): the connection's own peer stands.
    Unknown,
}

/// The result of looking at the first octets of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parse {
    /// A header is complete: it and its length in octets.
    Done(Header, usize),
    /// What is there so far could still become a header.
    Incomplete,
    /// The stream does not start with a PROXY header.
    NotProxy,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProxyError {
    #[error("malformed PROXY header: {0}")]
    Malformed(&'static str),
    #[error("no PROXY header within {0:?}")]
    Missing(Duration),
    #[error("reading the PROXY header: {0}")]
    Io(Errno),
    #[error("connection closed inside the PROXY header")]
    Closed,
}

/// Parses a header at the start of `buf`.
pub fn parse(buf: &[u8]) -> Result<Parse, ProxyError> {
    if starts_like(buf, b"PROXY ") {
        return parse_v1(buf);
    }
    if starts_like(buf, V2_SIGNATURE) {
        return parse_v2(buf);
    }
    Ok(Parse::NotProxy)
}

/// Whether `buf` and `signature` agree on their common length.
fn starts_like(buf: &[u8], signature: &[u8]) -> bool {
    let n = buf.len().min(signature.len());
    buf.get(..n) == signature.get(..n)
}

fn parse_v1(buf: &[u8]) -> Result<Parse, ProxyError> {
    let malformed = ProxyError::Malformed;
    let window = buf.get(..buf.len().min(V1_MAX_OCTETS)).unwrap_or(buf);
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        return if buf.len() >= V1_MAX_OCTETS {
            Err(malformed("v1 line longer than 107 octets"))
        } else {
            Ok(Parse::Incomplete)
        };
    };
    let line = window.get(..lf).unwrap_or(&[]);
    let line = line
        .strip_suffix(b"\r")
        .ok_or(malformed("v1 line must end in CRLF"))?;
    let line = std::str::from_utf8(line).map_err(|_| malformed("v1 line is not ASCII"))?;
    let words: Vec<&str> = line.split(' ').collect();
    let header = match words.as_slice() {
        ["PROXY", "UNKNOWN", ..] => Header::Unknown,
        ["PROXY", family @ ("TCP4" | "TCP6"), src, dst, sport, dport] => {
            let src: IpAddr = src.parse().map_err(|_| malformed("v1 source address"))?;
            let dst: IpAddr = dst
                .parse()
                .map_err(|_| malformed("v1 destination address"))?;
            if (*family == "TCP4") != (src.is_ipv4() && dst.is_ipv4()) {
                return Err(malformed("v1 address family mismatch"));
            }
            for port in [sport, dport] {
                port.parse::<u16>().map_err(|_| malformed("v1 port"))?;
            }
            Header::Client(src)
        }
        _ => return Err(malformed("v1 line: expected PROXY TCP4|TCP6|UNKNOWN ...")),
    };
    Ok(Parse::Done(header, lf + 1))
}

fn parse_v2(buf: &[u8]) -> Result<Parse, ProxyError> {
    let malformed = ProxyError::Malformed;
    let Some(fixed) = buf.get(..V2_FIXED_OCTETS) else {
        return Ok(Parse::Incomplete);
    };
    // `fixed` has exactly 16 octets, so these indices are in bounds.
    let (ver_cmd, family, len) = (
        fixed[12],
        fixed[13],
        u16::from_be_bytes([fixed[14], fixed[15]]),
    );
    if ver_cmd >> 4 != 2 {
        return Err(malformed("v2 version must be 2"));
    }
    let total = V2_FIXED_OCTETS + usize::from(len);
    let Some(body) = buf.get(V2_FIXED_OCTETS..total) else {
        return Ok(Parse::Incomplete);
    };
    let header = match (ver_cmd & 0x0f, family >> 4) {
        (0x0, _) => Header::Unknown, // LOCAL
        (0x1, 0x1) => {
            let a: [u8; 4] = body
                .get(..4)
                .and_then(|s| s.try_into().ok())
                .ok_or(malformed("v2 IPv4 addresses"))?;
            if body.len() < 12 {
                return Err(malformed("v2 IPv4 addresses"));
            }
            Header::Client(IpAddr::V4(Ipv4Addr::from(a)))
        }
        (0x1, 0x2) => {
            let a: [u8; 16] = body
                .get(..16)
                .and_then(|s| s.try_into().ok())
                .ok_or(malformed("v2 IPv6 addresses"))?;
            if body.len() < 36 {
                return Err(malformed("v2 IPv6 addresses"));
            }
            Header::Client(IpAddr::V6(Ipv6Addr::from(a)))
        }
        (0x1, _) => Header::Unknown, // AF_UNSPEC or AF_UNIX: nothing to log
        _ => return Err(malformed("v2 command must be LOCAL or PROXY")),
    };
    Ok(Parse::Done(header, total))
}

/// How a trusted peer's header is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Take a header if one arrives within the wait; else go on without.
    Optional,
    /// A header must arrive within the wait.
    Required,
}

/// Reads a PROXY header from the socket `fd`, consuming exactly its octets.
/// `Ok(None)`: no header (nothing consumed).
pub fn read_header(
    fd: BorrowedFd<'_>,
    wait: Duration,
    expect: Expect,
) -> Result<Option<Header>, ProxyError> {
    let deadline = Instant::now() + wait;
    let mut peek = [0u8; V2_FIXED_OCTETS];
    let decided = loop {
        if !wait_readable(fd, deadline)? {
            return match expect {
                Expect::Optional => Ok(None),
                Expect::Required => Err(ProxyError::Missing(wait)),
            };
        }
        let n = recv(fd.as_raw_fd(), &mut peek, MsgFlags::MSG_PEEK).map_err(ProxyError::Io)?;
        if n == 0 {
            return Err(ProxyError::Closed);
        }
        let seen = peek.get(..n).unwrap_or(&[]);
        let is_v1 = starts_like(seen, b"PROXY ");
        let is_v2 = starts_like(seen, V2_SIGNATURE);
        match (is_v1, is_v2) {
            (false, false) if expect == Expect::Required => {
                return Err(ProxyError::Malformed(
                    "the stream does not start with a PROXY header",
                ));
            }
            (false, false) => return Ok(None),
            (true, _) if n >= 6 => break Version::One,
            (_, true) if n >= V2_FIXED_OCTETS => break Version::Two,
            // A prefix of a signature: wait for the rest.
            _ => std::thread::sleep(PARTIAL_RETRY),
        }
    };
    let mut header = Vec::with_capacity(V1_MAX_OCTETS);
    match decided {
        Version::One => {
            while !header.ends_with(b"\n") && header.len() < V1_MAX_OCTETS {
                let mut byte = [0u8; 1];
                read_exact(fd, &mut byte, deadline, wait)?;
                header.extend_from_slice(&byte);
            }
        }
        Version::Two => {
            header.resize(V2_FIXED_OCTETS, 0);
            read_exact(fd, &mut header, deadline, wait)?;
            let len = usize::from(u16::from_be_bytes([header[14], header[15]]));
            let mut body = vec![0u8; len];
            read_exact(fd, &mut body, deadline, wait)?;
            header.extend_from_slice(&body);
        }
    }
    match parse(&header)? {
        Parse::Done(h, _) => Ok(Some(h)),
        Parse::Incomplete | Parse::NotProxy => Err(ProxyError::Malformed("truncated header")),
    }
}

enum Version {
    One,
    Two,
}

/// Waits until `fd` is readable or `deadline` passes (`Ok(false)`).
fn wait_readable(fd: BorrowedFd<'_>, deadline: Instant) -> Result<bool, ProxyError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(ProxyError::Io(e)),
        }
    }
}

fn read_exact(
    fd: BorrowedFd<'_>,
    mut buf: &mut [u8],
    deadline: Instant,
    wait: Duration,
) -> Result<(), ProxyError> {
    while !buf.is_empty() {
        if !wait_readable(fd, deadline)? {
            return Err(ProxyError::Missing(wait));
        }
        match recv(fd.as_raw_fd(), buf, MsgFlags::empty()) {
            Ok(0) => return Err(ProxyError::Closed),
            Ok(n) => buf = buf.get_mut(n..).unwrap_or_default(),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(ProxyError::Io(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A v2 PROXY header for TCP over IPv4 or IPv6, with `tlv` appended.
    pub(crate) fn v2(src: IpAddr, tlv: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.push(0x21);
        let mut body = Vec::new();
        match src {
            IpAddr::V4(a) => {
                h.push(0x11);
                body.extend(a.octets());
                body.extend([127, 0, 0, 1]);
            }
            IpAddr::V6(a) => {
                h.push(0x21);
                body.extend(a.octets());
                body.extend(Ipv6Addr::LOCALHOST.octets());
            }
        }
        body.extend(1234u16.to_be_bytes());
        body.extend(143u16.to_be_bytes());
        body.extend(tlv);
        h.extend((body.len() as u16).to_be_bytes());
        h.extend(body);
        h
    }

    #[test]
    fn v1_headers() {
        let table: &[(&[u8], Result<Parse, ProxyError>)] = &[
            (
                b"PROXY TCP4 192.0.2.7 127.0.0.1 5000 143\r\na1 NOOP",
                Ok(Parse::Done(Header::Client(ip("192.0.2.7")), 41)),
            ),
            (
                b"PROXY TCP6 2001:db8::7 ::1 5000 143\r\n",
                Ok(Parse::Done(Header::Client(ip("2001:db8::7")), 37)),
            ),
            (b"PROXY UNKNOWN\r\n", Ok(Parse::Done(Header::Unknown, 15))),
            (
                b"PROXY UNKNOWN ffff::1 ::1 1 2\r\n",
                Ok(Parse::Done(Header::Unknown, 31)),
            ),
            (b"PRO", Ok(Parse::Incomplete)),
            (b"PROXY TCP4 192.0.2.7", Ok(Parse::Incomplete)),
            (b"a1 LOGIN x y\r\n", Ok(Parse::NotProxy)),
            (b"\x16\x03\x01\x02\x00", Ok(Parse::NotProxy)),
            (
                b"PROXY TCP4 192.0.2.7 127.0.0.1 5000 143\n",
                Err(ProxyError::Malformed("v1 line must end in CRLF")),
            ),
            (
                b"PROXY TCP4 2001:db8::1 127.0.0.1 5000 143\r\n",
                Err(ProxyError::Malformed("v1 address family mismatch")),
            ),
            (
                b"PROXY TCP4 192.0.2.7 127.0.0.1 70000 143\r\n",
                Err(ProxyError::Malformed("v1 port")),
            ),
            (
                b"PROXY TCP4 nonsense 127.0.0.1 1 2\r\n",
                Err(ProxyError::Malformed("v1 source address")),
            ),
            (
                b"PROXY UDP4 192.0.2.7 127.0.0.1 1 2\r\n",
                Err(ProxyError::Malformed(
                    "v1 line: expected PROXY TCP4|TCP6|UNKNOWN ...",
                )),
            ),
        ];
        for (input, want) in table {
            assert_eq!(parse(input), *want, "{:?}", String::from_utf8_lossy(input));
        }
        let long = [b"PROXY ".as_slice(), &[b'x'; 200]].concat();
        assert!(parse(&long).is_err());
    }

    #[test]
    fn v2_headers() {
        let h = v2(ip("192.0.2.7"), b"");
        assert_eq!(
            parse(&h),
            Ok(Parse::Done(Header::Client(ip("192.0.2.7")), 28))
        );
        let h6 = v2(ip("2001:db8::7"), &[0x04, 0, 1, 0]);
        assert_eq!(
            parse(&h6),
            Ok(Parse::Done(Header::Client(ip("2001:db8::7")), 56))
        );
        for cut in 0..h.len() {
            assert_eq!(parse(&h[..cut]), Ok(Parse::Incomplete), "cut {cut}");
        }
        let mut local = V2_SIGNATURE.to_vec();
        local.extend([0x20, 0x00, 0, 0]);
        assert_eq!(parse(&local), Ok(Parse::Done(Header::Unknown, 16)));
        let mut bad_version = h.clone();
        bad_version[12] = 0x11;
        assert!(parse(&bad_version).is_err());
        let mut short = V2_SIGNATURE.to_vec();
        short.extend([0x21, 0x11, 0, 4, 1, 2, 3, 4]);
        assert_eq!(
            parse(&short),
            Err(ProxyError::Malformed("v2 IPv4 addresses"))
        );
    }

    #[test]
    fn reading_consumes_exactly_the_header() {
        for header in [
            b"PROXY TCP4 192.0.2.7 127.0.0.1 5000 143\r\n".to_vec(),
            v2(ip("192.0.2.7"), &[1, 0, 2, b'h', b'2']),
        ] {
            let (mut client, server) = UnixStream::pair().unwrap();
            client.write_all(&header).unwrap();
            client.write_all(b"\x16\x03\x01rest").unwrap();
            let got = read_header(server.as_fd(), Duration::from_secs(5), Expect::Required);
            assert_eq!(got, Ok(Some(Header::Client(ip("192.0.2.7")))));
            drop(client);
            let mut rest = Vec::new();
            (&server).read_to_end(&mut rest).unwrap();
            assert_eq!(rest, b"\x16\x03\x01rest");
        }
    }

    #[test]
    fn no_header_is_not_consumed_and_silence_ends_the_wait() {
        let (mut client, server) = UnixStream::pair().unwrap();
        client.write_all(b"a1 CAPABILITY\r\n").unwrap();
        let got = read_header(server.as_fd(), Duration::from_secs(5), Expect::Optional);
        assert_eq!(got, Ok(None));
        let mut first = [0u8; 2];
        (&server).read_exact(&mut first).unwrap();
        assert_eq!(&first, b"a1");

        let (_quiet, server) = UnixStream::pair().unwrap();
        let started = Instant::now();
        let wait = Duration::from_millis(50);
        assert_eq!(
            read_header(server.as_fd(), wait, Expect::Optional),
            Ok(None)
        );
        assert_eq!(
            read_header(server.as_fd(), wait, Expect::Required),
            Err(ProxyError::Missing(wait))
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_stalled_header_times_out() {
        let (mut client, server) = UnixStream::pair().unwrap();
        client.write_all(b"PROXY TCP4 192.0.2.7").unwrap();
        let wait = Duration::from_millis(100);
        assert_eq!(
            read_header(server.as_fd(), wait, Expect::Optional),
            Err(ProxyError::Missing(wait))
        );
    }
}
