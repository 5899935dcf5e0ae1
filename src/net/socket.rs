//! Socket options and the peer address of the connection inetd handed us on
//! fd 0. Under inetd, xinetd or systemd `Accept=yes`, fds 0 and 1 are one
//! TCP socket; under a tunnel or in tests they are pipes, and then every
//! function here is a harmless no-op that says so.
//!
//! Keepalive matters for the typical IMAP client: it sits in IDLE or simply
//! open for hours, and a stateful firewall or NAT between it and us forgets
//! the connection after some minutes of silence. TCP keepalive probes keep
//! the state alive, and also let us notice a client that vanished.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use nix::sys::socket::{SockaddrStorage, getpeername, setsockopt, sockopt};
use nix::sys::time::TimeVal;

/// Probe interval and count after the first keepalive probe: a dead peer is
/// noticed within `idle + 5 × 60 s`.
const KEEPALIVE_INTERVAL_SECS: u32 = 60;
const KEEPALIVE_PROBES: u32 = 5;

/// The peer's address if `fd` is an IP socket.
pub fn peer_address(fd: BorrowedFd<'_>) -> Option<IpAddr> {
    let addr: SockaddrStorage = getpeername(fd.as_raw_fd()).ok()?;
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    addr.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
}

/// Turns on TCP keepalive with the first probe after `idle` of silence.
pub fn set_keepalive(fd: BorrowedFd<'_>, idle: Duration) -> nix::Result<()> {
    let idle_secs = u32::try_from(idle.as_secs().max(1)).unwrap_or(u32::MAX);
    setsockopt(&fd, sockopt::KeepAlive, &true)?;
    setsockopt(&fd, sockopt::TcpKeepIdle, &idle_secs)?;
    setsockopt(&fd, sockopt::TcpKeepInterval, &KEEPALIVE_INTERVAL_SECS)?;
    setsockopt(&fd, sockopt::TcpKeepCount, &KEEPALIVE_PROBES)
}

/// Bounds how long one write may block on a client that stopped reading
/// (`SO_SNDTIMEO`); the write then fails and the session ends.
pub fn set_send_timeout(fd: BorrowedFd<'_>, timeout: Duration) -> nix::Result<()> {
    let secs = i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX);
    setsockopt(&fd, sockopt::SendTimeout, &TimeVal::new(secs, 0))
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    use super::*;

    #[test]
    fn tcp_peer_and_options() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        assert_eq!(
            peer_address(server.as_fd()),
            Some(client.local_addr().unwrap().ip())
        );
        set_keepalive(server.as_fd(), Duration::from_secs(300)).unwrap();
        assert!(nix::sys::socket::getsockopt(&server, sockopt::KeepAlive).unwrap());
        assert_eq!(
            nix::sys::socket::getsockopt(&server, sockopt::TcpKeepIdle).unwrap(),
            300
        );
        set_send_timeout(server.as_fd(), Duration::from_secs(30)).unwrap();
    }

    #[test]
    fn pipes_and_unix_sockets_have_no_ip_peer() {
        let (a, _b) = UnixStream::pair().unwrap();
        assert_eq!(peer_address(a.as_fd()), None);
        assert!(set_keepalive(a.as_fd(), Duration::from_secs(60)).is_err());
    }
}
