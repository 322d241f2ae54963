//! `Cidr`: an address prefix (`10.0.0.0/8`, `2001:db8::/32`, or one address),
//! used by filters, by the configuration's `--ignore` and by `--admin-from`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An address prefix. Host bits given in the text are cleared
/// (`10.1.2.3/8` is `10.0.0.0/8`). An IPv4 prefix never contains an IPv6
/// address, not even an IPv4-mapped one, and the other way round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a text is not a [`Cidr`]; reads after the quoted text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// Neither an address nor `address/length`.
    #[error("is not an address or CIDR prefix")]
    Syntax,
    /// A length beyond the family's bits.
    #[error("has a prefix length out of range (0..={max})")]
    PrefixLength {
        /// 32 for IPv4, 128 for IPv6.
        max: u8,
    },
}

impl Cidr {
    /// The prefix of `addr` with `prefix` leading bits.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Cidr, CidrError> {
        let max = max_prefix(&addr);
        if prefix > max {
            return Err(CidrError::PrefixLength { max });
        }
        let network = match addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask32(prefix))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask128(prefix))),
        };
        Ok(Cidr { network, prefix })
    }

    /// The prefix holding exactly `addr` (/32 or /128).
    pub fn host(addr: IpAddr) -> Cidr {
        Cidr {
            network: addr,
            prefix: max_prefix(&addr),
        }
    }

    /// Whether `addr` lies in this prefix (same family only).
    pub fn contains(&self, addr: &IpAddr) -> bool {
        match (self.network, addr) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                u32::from(*a) & mask32(self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                u128::from(*a) & mask128(self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

fn max_prefix(addr: &IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Cidr, CidrError> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| CidrError::Syntax)?;
        let Some(prefix) = prefix else {
            return Ok(Cidr::host(addr));
        };
        if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CidrError::Syntax);
        }
        let max = max_prefix(&addr);
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| CidrError::PrefixLength { max })?;
        Cidr::new(addr, prefix)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_prefixes_and_hosts() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains(&ip("10.255.1.2")));
        assert!(!c.contains(&ip("11.0.0.1")));
        let c: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(c.contains(&ip("2001:db8:1::5")));
        assert!(!c.contains(&ip("2001:db9::1")));
        let c: Cidr = "192.168.0.1".parse().unwrap();
        assert_eq!(c.to_string(), "192.168.0.1/32");
        assert!(c.contains(&ip("192.168.0.1")));
        assert!(!c.contains(&ip("192.168.0.2")));
        let c: Cidr = "::1".parse().unwrap();
        assert_eq!(c.to_string(), "::1/128");
        assert!(c.contains(&ip("::1")));
    }

    #[test]
    fn zero_prefix_and_host_bits() {
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(&ip("1.2.3.4")));
        assert!(!all.contains(&ip("::1")));
        let all6: Cidr = "::/0".parse().unwrap();
        assert!(all6.contains(&ip("2001:db8::1")));
        assert!(!all6.contains(&ip("1.2.3.4")));
        let c: Cidr = "10.1.2.3/8".parse().unwrap();
        assert_eq!(c.to_string(), "10.0.0.0/8");
        assert!(c.contains(&ip("10.9.9.9")));
    }

    #[test]
    fn families_never_mix() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(!c.contains(&ip("::ffff:10.0.0.1")));
        let c: Cidr = "::ffff:0:0/96".parse().unwrap();
        assert!(!c.contains(&ip("10.0.0.1")));
    }

    #[test]
    fn rejects_bad_text() {
        for bad in [
            "",
            "10.0.0/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/8/8",
            "x",
            "10.0.0.0/a",
        ] {
            assert_eq!(bad.parse::<Cidr>(), Err(CidrError::Syntax), "{bad}");
        }
        assert_eq!(
            "10.0.0.0/33".parse::<Cidr>(),
            Err(CidrError::PrefixLength { max: 32 })
        );
        assert_eq!(
            "::/129".parse::<Cidr>(),
            Err(CidrError::PrefixLength { max: 128 })
        );
        assert_eq!(
            "::/999".parse::<Cidr>(),
            Err(CidrError::PrefixLength { max: 128 })
        );
        assert_eq!("1.2.3.4/1000".parse::<Cidr>(), Err(CidrError::Syntax));
    }
}
