//! Address prefixes for `--admin-from`: the clients trusted enough that a
//! user name locked out from elsewhere does not lock them out too.

use std::net::IpAddr;

/// Prefixes trusted by default: the host itself, over IPv4 and IPv6.
pub const DEFAULT_ADMIN_FROM: [&str; 2] = ["127.0.0.1/32", "::1/128"];

/// An address prefix, `ADDR/LEN` or a bare address (one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    network: IpAddr,
    len: u8,
}

/// Why a text is not a [`Prefix`]; never quotes the text, the caller does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("is not an address or ADDR/LEN prefix")]
    Syntax,
    #[error("has a prefix length out of range (0..={0})")]
    Length(u8),
}

impl std::str::FromStr for Prefix {
    type Err = PrefixError;

    fn from_str(text: &str) -> Result<Prefix, PrefixError> {
        let (addr, len) = match text.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| PrefixError::Syntax)?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(len) => len.parse::<u8>().map_err(|_| PrefixError::Syntax)?,
        };
        if len > max {
            return Err(PrefixError::Length(max));
        }
        Ok(Prefix { network, len })
    }
}

impl Prefix {
    /// Whether `addr` lies in the prefix. An IPv4-mapped IPv6 address (a
    /// dual-stack listener's view of an IPv4 client) counts as IPv4.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, addr) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.len)
    }
}

/// The defaults, parsed.
pub fn default_admin_from() -> Vec<Prefix> {
    DEFAULT_ADMIN_FROM
        .iter()
        .filter_map(|text| text.parse().ok())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_parse_and_match() {
        let p: Prefix = "10.1.0.0/16".parse().unwrap();
        assert!(p.contains(ip("10.1.200.3")) && !p.contains(ip("10.2.0.1")));
        assert!(
            p.contains(ip("::ffff:10.1.0.9")),
            "mapped IPv4 counts as IPv4"
        );
        let host: Prefix = "192.0.2.7".parse().unwrap();
        assert!(host.contains(ip("192.0.2.7")) && !host.contains(ip("192.0.2.8")));
        let all: Prefix = "::/0".parse().unwrap();
        assert!(all.contains(ip("2001:db8::1")) && !all.contains(ip("192.0.2.1")));
        let v6: Prefix = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        assert_eq!(default_admin_from().len(), 2);
        assert!(default_admin_from().iter().any(|p| p.contains(ip("::1"))));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "host",
            "10.0.0.0/x",
            "10.0.0.0/",
        ] {
            assert!(bad.parse::<Prefix>().is_err(), "{bad:?}");
        }
    }
}
