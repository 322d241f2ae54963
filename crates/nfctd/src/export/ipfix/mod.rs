//! IPFIX export (RFC 7011) to a collector over UDP or TCP:
//! `ipfix+udp://HOST:PORT`, `ipfix+tcp://HOST:PORT`. The information
//! elements (`ie`), the templates (`template`), a record's bytes
//! (`encode`), messages and sequence numbers (`message`), when templates go
//! out again (`refresh`), and the sender thread (`sender`).

mod encode;
mod ie;
mod message;
mod refresh;
mod sender;
mod template;

use std::net::{SocketAddr, ToSocketAddrs};
use std::os::unix::fs::MetadataExt;

pub(super) use sender::{open, run};

/// How messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// An IPFIX collector: transport, host (a name, or an address) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpfixTarget {
    pub transport: Transport,
    /// A name or an address; an IPv6 address without its brackets.
    pub host: String,
    pub port: u16,
}

impl IpfixTarget {
    /// Reads `ipfix+udp://HOST:PORT` or `ipfix+tcp://HOST:PORT`; HOST may
    /// be an IPv6 address in brackets.
    pub(super) fn parse(text: &str) -> Result<IpfixTarget, String> {
        let usage = || format!("{text:?}: expected ipfix+udp://HOST:PORT or ipfix+tcp://HOST:PORT");
        let (transport, rest) = if let Some(rest) = text.strip_prefix("ipfix+udp://") {
            (Transport::Udp, rest)
        } else if let Some(rest) = text.strip_prefix("ipfix+tcp://") {
            (Transport::Tcp, rest)
        } else {
            return Err(usage());
        };
        let (host, port) = rest.rsplit_once(':').ok_or_else(usage)?;
        let port: u16 = port.parse().map_err(|_| usage())?;
        let host = match host.strip_prefix('[') {
            Some(bracketed) => bracketed.strip_suffix(']').ok_or_else(usage)?,
            None if host.contains(':') => return Err(usage()),
            None => host,
        };
        if host.is_empty() || port == 0 {
            return Err(usage());
        }
        Ok(IpfixTarget {
            transport,
            host: host.to_string(),
            port,
        })
    }

    /// The collector's addresses now (a name is looked up each time).
    pub(super) fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        let found: Vec<SocketAddr> = (self.host.as_str(), self.port).to_socket_addrs()?.collect();
        if found.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} has no address", self.host),
            ));
        }
        Ok(found)
    }
}

impl std::fmt::Display for IpfixTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.transport {
            Transport::Udp => "ipfix+udp",
            Transport::Tcp => "ipfix+tcp",
        };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// The default observation domain: the served network namespace's inode
/// number (low 32 bits), which tells apart the namespaces of one host.
/// Export starts after the namespace join, so this is the served one.
pub fn namespace_domain() -> std::io::Result<u32> {
    let inode = std::fs::metadata("/proc/self/ns/net")?.ino();
    Ok(inode as u32) // truncation is the documented choice
}

/// The kernel's boot time, Unix seconds, low 32 bits (`btime` in
/// /proc/stat); 0 if unreadable. It makes flowIds unique across reboots.
pub fn boot_epoch() -> u32 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    stat.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .map_or(0, |n| n as u32) // truncation is the documented choice
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_as_given() {
        for text in [
            "ipfix+udp://127.0.0.1:4739",
            "ipfix+tcp://collector.example:4739",
            "ipfix+udp://[2001:db8::1]:4739",
        ] {
            assert_eq!(IpfixTarget::parse(text).unwrap().to_string(), text);
        }
        let v6 = IpfixTarget::parse("ipfix+tcp://[::1]:9995").unwrap();
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.transport, Transport::Tcp);
        for bad in [
            "ipfix+udp://127.0.0.1",
            "ipfix+udp://:4739",
            "ipfix+udp://::1:4739",
            "ipfix+udp://[::1:4739",
            "ipfix+udp://h:0",
            "ipfix+udp://h:70000",
            "ipfix+sctp://h:4739",
            "ipfix://h:4739",
        ] {
            assert!(IpfixTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_domain_and_boot_epoch_are_read_from_proc() {
        assert_ne!(namespace_domain().unwrap(), 0);
        assert_ne!(boot_epoch(), 0);
    }
}
