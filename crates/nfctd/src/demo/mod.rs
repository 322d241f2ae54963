//! `nfctd demo`: a private user+network namespace with a living table —
//! synthetic entries that come and go, plus real traffic that moves counters
//! and walks through TCP states — so the daemon can be seen working without root.

mod synthetic;
mod traffic;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nix::sys::socket::{socket, AddressFamily, SockFlag, SockProtocol, SockType};

/// The demo's addresses: documentation prefixes (RFC 5737, RFC 3849) on the
/// namespace's own loopback, so nothing can ever leave it.
pub const SERVER_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const CLIENTS_V4: [Ipv4Addr; 3] = [
    Ipv4Addr::new(198, 51, 100, 10),
    Ipv4Addr::new(198, 51, 100, 11),
    Ipv4Addr::new(203, 0, 113, 5),
];
pub const SERVER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
pub const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10);

/// Moves the process into a fresh namespace and prepares it: loopback with the
/// demo addresses, tracking switched on, accounting and timestamps on.
/// Must run while the process is single-threaded.
pub fn enter() -> Result<(), netns::Error> {
    netns::enter_private()?;
    let route = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )
    .map_err(|errno| netns::Error::Netlink {
        what: "NETLINK_ROUTE socket".into(),
        errno,
    })?;
    let mut addrs: Vec<(IpAddr, u8)> = vec![
        (SERVER_V4.into(), 24),
        (SERVER_V6.into(), 64),
        (CLIENT_V6.into(), 64),
    ];
    addrs.extend(CLIENTS_V4.iter().map(|a| (IpAddr::from(*a), 24)));
    netns::setup_loopback(&route, &addrs)?;
    let nfnl = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkNetFilter,
    )
    .map_err(|errno| netns::Error::Netlink {
        what: "NETLINK_NETFILTER socket".into(),
        errno,
    })?;
    netns::enable_conntrack(&nfnl)?;
    for name in crate::accounting::SYSCTLS {
        netns::set_sysctl(name, "1")?;
    }
    Ok(())
}

/// Starts the demo's background threads (synthetic churn and real traffic).
pub fn start_traffic() -> std::io::Result<()> {
    synthetic::start()?;
    traffic::start()?;
    tracing::info!("demo namespace is live: synthetic entries and real traffic on 192.0.2.0/24, 198.51.100.0/24, 2001:db8::/64");
    Ok(())
}
