//! Loopback setup over rtnetlink: bring `lo` up and give it addresses, with hand-built messages.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{bind, connect, getsockname, listen, Backlog, SockaddrStorage};

use crate::nl::{Request, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST};
use crate::Error;

/// The kernel gives `lo` this index in every network namespace (LOOPBACK_IFINDEX, include/net/net_namespace.h).
const LOOPBACK_IFINDEX: i32 = 1;
const IFA_ADDRESS: u16 = libc::IFA_ADDRESS;
const IFA_LOCAL: u16 = libc::IFA_LOCAL;
const IFA_FLAGS: u16 = 8;
const IFA_F_NODAD: u32 = 0x02;

/// Brings up `lo` and adds `addrs` (address, prefix length) to it, in the namespace that
/// `route_sock` (a NETLINK_ROUTE socket) was created in, which must be the caller's own:
/// it then waits, up to 5 seconds, until every address takes a TCP connection, testing
/// with sockets it makes in the namespace it runs in.
///
/// IPv6 addresses get IFA_F_NODAD so they skip duplicate detection. An address that is
/// already there is replaced, so calling this twice is harmless. Every message is
/// ACK-checked; a refusal names the address.
pub fn setup_loopback(route_sock: &OwnedFd, addrs: &[(IpAddr, u8)]) -> Result<(), Error> {
    configure_loopback(route_sock, addrs)?;
    wait_routable(addrs, |domain| {
        nix::sys::socket::socket(
            if domain == libc::AF_INET6 {
                nix::sys::socket::AddressFamily::Inet6
            } else {
                nix::sys::socket::AddressFamily::Inet
            },
            nix::sys::socket::SockType::Stream,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(|errno| Error::Netlink {
            what: "a socket to test the new addresses".into(),
            errno,
        })
    })
}

/// How long a new address may take to become usable.
const USABLE_WITHIN: Duration = Duration::from_secs(5);

/// Waits until every address in `addrs` takes a TCP connection, testing with
/// two stream sockets from `tcp(domain)` made in the namespace. Routing alone
/// is not enough: an IPv6 address gets its local route only when the kernel's
/// address work runs after the add (even with IFA_F_NODAD), and until then the
/// prefix route lets a UDP connect pass while a TCP connect meets ENETUNREACH;
/// on two busy cores that window was seen to last past a first probe.
pub(crate) fn wait_routable(
    addrs: &[(IpAddr, u8)],
    tcp: impl Fn(i32) -> Result<OwnedFd, Error>,
) -> Result<(), Error> {
    let started = Instant::now();
    for &(addr, _) in addrs {
        loop {
            match probe(addr, &tcp)? {
                Ok(()) => break,
                Err(_) if started.elapsed() < USABLE_WITHIN => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(errno) => {
                    return Err(Error::Netlink {
                        what: format!("waiting for {addr} on lo to take connections"),
                        errno,
                    })
                }
            }
        }
    }
    Ok(())
}

/// One try: listen on `addr`, connect to it. The outer error is a socket that
/// could not be made; the inner one the kernel's answer to this try.
fn probe(
    addr: IpAddr,
    tcp: &impl Fn(i32) -> Result<OwnedFd, Error>,
) -> Result<Result<(), Errno>, Error> {
    let domain = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let listener = tcp(domain)?;
    let client = tcp(domain)?;
    let attempt = || -> Result<(), Errno> {
        bind(
            listener.as_raw_fd(),
            &SockaddrStorage::from(SocketAddr::new(addr, 0)),
        )?;
        listen(&listener, Backlog::new(1)?)?;
        let local: SockaddrStorage = getsockname(listener.as_raw_fd())?;
        connect(client.as_raw_fd(), &local)
    };
    Ok(attempt())
}

/// [`setup_loopback`] without the wait for routes.
pub(crate) fn configure_loopback(
    route_sock: &OwnedFd,
    addrs: &[(IpAddr, u8)],
) -> Result<(), Error> {
    let mut req = Request::new();
    req.begin(
        libc::RTM_NEWLINK,
        NLM_F_REQUEST | NLM_F_ACK,
        &ifinfomsg_up(),
        "bringing up lo (RTM_NEWLINK)",
    );
    req.end();
    for &(addr, prefix) in addrs {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(Error::InvalidPrefix { addr, prefix });
        }
        let what = format!("adding {addr}/{prefix} to lo (RTM_NEWADDR)");
        let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
        req.begin(libc::RTM_NEWADDR, flags, &ifaddrmsg(addr, prefix), what);
        let octets = match addr {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        req.attr(IFA_LOCAL, &octets).attr(IFA_ADDRESS, &octets);
        if addr.is_ipv6() {
            req.attr(IFA_FLAGS, &IFA_F_NODAD.to_ne_bytes());
        }
        req.end();
    }
    req.transact(route_sock)
}

/// struct ifinfomsg { family: u8, pad: u8, type: u16, index: i32, flags: u32, change: u32 }
fn ifinfomsg_up() -> [u8; 16] {
    let up = libc::IFF_UP as u32;
    let mut m = [0u8; 16];
    m[0] = libc::AF_UNSPEC as u8;
    m[4..8].copy_from_slice(&LOOPBACK_IFINDEX.to_ne_bytes());
    m[8..12].copy_from_slice(&up.to_ne_bytes());
    m[12..16].copy_from_slice(&up.to_ne_bytes());
    m
}

/// struct ifaddrmsg { family: u8, prefixlen: u8, flags: u8, scope: u8, index: u32 }
fn ifaddrmsg(addr: IpAddr, prefix: u8) -> [u8; 8] {
    let (family, flags) = match addr {
        IpAddr::V4(_) => (libc::AF_INET, 0),
        IpAddr::V6(_) => (libc::AF_INET6, IFA_F_NODAD as u8),
    };
    let scope = if addr.is_loopback() {
        libc::RT_SCOPE_HOST
    } else {
        libc::RT_SCOPE_UNIVERSE
    };
    let mut m = [0u8; 8];
    m[0] = family as u8;
    m[1] = prefix;
    m[2] = flags;
    m[3] = scope;
    m[4..8].copy_from_slice(&(LOOPBACK_IFINDEX as u32).to_ne_bytes());
    m
}
