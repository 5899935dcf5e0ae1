//! The network edge of a connection, before and beside the IMAP session: who
//! the peer is ([`Peer`], [`IpNet`] for the trusted-proxy list), the socket's
//! options ([`socket`]), and the PROXY protocol header a trusted load
//! balancer or login proxy puts in front of the stream ([`proxy`]).
//!
//! The hard part is trust. The address that counts for logs and for the
//! plaintext policy is the socket's peer, unless that peer is a configured
//! trusted proxy: then, and only then, a PROXY header or an
//! `ID ("x-originating-ip" …)` may name the real client. A client that is not
//! trusted never gets its PROXY line read as anything but a (bad) command.

pub mod proxy;
pub mod socket;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address block, `192.0.2.0/24` or `2001:db8::/32`; a bare address is a /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Whether `ip` is inside the block. An IPv4-mapped IPv6 address
    /// (`::ffff:192.0.2.1`, how a dual-stack socket reports an IPv4 peer)
    /// matches the IPv4 block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask_eq(&net.octets(), &ip.octets(), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(ip)) => mask_eq(&net.octets(), &ip.octets(), self.prefix),
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or address/prefix"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: prefix length must be 0..{max}"))?,
        };
        Ok(IpNet { addr, prefix })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `::ffff:a.b.c.d` → `a.b.c.d`; anything else unchanged.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether the first `prefix` bits of `a` and `b` are equal.
fn mask_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a.get(..full) != b.get(..full) {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    match (a.get(full), b.get(full)) {
        (Some(x), Some(y)) => x & mask == y & mask,
        _ => false,
    }
}

/// Who is on the other end of the connection, as far as we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The socket's peer (getpeername on fd 0); `None` for a pipe or a terminal.
    pub socket: Option<IpAddr>,
    /// The socket peer is in `trusted_proxies`.
    pub trusted_proxy: bool,
    /// The client as a trusted proxy reported it (PROXY header or ID
    /// x-originating-ip); `None` when there is no proxy or it did not say.
    pub reported: Option<IpAddr>,
}

impl Peer {
    pub fn new(socket: Option<IpAddr>, trusted: &[IpNet]) -> Self {
        let socket = socket.map(canonical);
        Peer {
            socket,
            trusted_proxy: socket.is_some_and(|ip| trusted.iter().any(|net| net.contains(ip))),
            reported: None,
        }
    }

    /// The client's address for logs and PAM_RHOST.
    pub fn client(&self) -> Option<IpAddr> {
        self.reported.or(self.socket)
    }

    /// Records the client address a trusted proxy reported; ignored otherwise.
    pub fn report(&mut self, client: IpAddr) -> bool {
        if self.trusted_proxy {
            self.reported = Some(canonical(client));
        }
        self.trusted_proxy
    }

    /// The connection does not leave the host: a loopback address, or no IP
    /// socket at all (a pipe or Unix socket, e.g. stunnel's exec mode).
    pub fn is_local(&self) -> bool {
        self.socket.is_none_or(|ip| ip.is_loopback())
    }
}

impl fmt::Display for Peer {
    /// Log fields: `peer=192.0.2.7`, `peer=192.0.2.7 proxy=10.0.0.2` behind a
    /// proxy that named the client, `peer=local` for a pipe.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.reported, self.socket) {
            (Some(client), Some(proxy)) => write!(f, "peer={client} proxy={proxy}"),
            (_, Some(ip)) => write!(f, "peer={ip}"),
            (_, None) => f.write_str("peer=local"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_contain_addresses() {
        let table: &[(&str, &str, bool)] = &[
            ("127.0.0.1", "127.0.0.1", true),
            ("127.0.0.1", "127.0.0.2", false),
            ("127.0.0.0/8", "127.255.0.9", true),
            ("10.1.2.0/23", "10.1.3.255", true),
            ("10.1.2.0/23", "10.1.4.0", false),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("192.0.2.0/24", "::ffff:192.0.2.80", true),
            ("2001:db8::/32", "2001:db8:1::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("::1", "::1", true),
            ("192.0.2.0/24", "2001:db8::1", false),
        ];
        for (net, addr, want) in table {
            let net: IpNet = net.parse().unwrap();
            assert_eq!(net.contains(ip(addr)), *want, "{net} {addr}");
        }
    }

    #[test]
    fn bad_blocks_are_refused() {
        for bad in [
            "",
            "host.example",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/x",
            "1.2.3",
        ] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn only_trusted_peers_may_report_the_client() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let mut direct = Peer::new(Some(ip("192.0.2.1")), &trusted);
        assert!(!direct.report(ip("198.51.100.1")));
        assert_eq!(direct.client(), Some(ip("192.0.2.1")));
        assert_eq!(direct.to_string(), "peer=192.0.2.1");
        let mut proxied = Peer::new(Some(ip("::ffff:10.0.0.2")), &trusted);
        assert!(proxied.trusted_proxy);
        assert!(proxied.report(ip("198.51.100.1")));
        assert_eq!(proxied.client(), Some(ip("198.51.100.1")));
        assert_eq!(proxied.to_string(), "peer=198.51.100.1 proxy=10.0.0.2");
        assert_eq!(Peer::new(None, &trusted).to_string(), "peer=local");
        assert!(Peer::new(None, &trusted).is_local());
        assert!(Peer::new(Some(ip("::1")), &trusted).is_local());
        assert!(Peer::new(Some(ip("::ffff:127.0.0.2")), &trusted).is_local());
        assert!(!direct.is_local());
    }
}
