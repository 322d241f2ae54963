//! `--admin-from`: the clients trusted enough that a user name locked out
//! from elsewhere does not lock them out too.

use std::net::IpAddr;

use nfctd_table::cidr::Cidr;

/// Prefixes trusted by default: the host itself, over IPv4 and IPv6.
pub const DEFAULT_ADMIN_FROM: [&str; 2] = ["127.0.0.1/32", "::1/128"];

/// The defaults, parsed.
pub fn default_admin_from() -> Vec<Cidr> {
    DEFAULT_ADMIN_FROM
        .iter()
        .filter_map(|text| text.parse().ok())
        .collect()
}

/// Whether `addr` lies in one of the `trusted` prefixes. An IPv4-mapped
/// IPv6 address (a dual-stack listener's view of an IPv4 client) counts as
/// the IPv4 address it carries.
pub fn is_trusted(trusted: &[Cidr], addr: IpAddr) -> bool {
    let addr = match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    };
    trusted.iter().any(|cidr| cidr.contains(&addr))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn trusted_prefixes_match_mapped_ipv4_as_ipv4() {
        let trusted: Vec<Cidr> = vec!["10.1.0.0/16".parse().unwrap()];
        assert!(is_trusted(&trusted, ip("10.1.200.3")));
        assert!(!is_trusted(&trusted, ip("10.2.0.1")));
        assert!(
            is_trusted(&trusted, ip("::ffff:10.1.0.9")),
            "mapped IPv4 counts as IPv4"
        );
        let defaults = default_admin_from();
        assert_eq!(defaults.len(), 2);
        assert!(is_trusted(&defaults, ip("::1")));
        assert!(is_trusted(&defaults, ip("127.0.0.1")));
        assert!(!is_trusted(&defaults, ip("127.0.0.2")));
    }
}
