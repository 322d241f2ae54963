//! In-crate tests against real namespaces (no root needed): sandbox isolation, sockets,
//! sysctls, conntrack switch-on, holder lifetime.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use nix::errno::Errno;
use nix::sys::socket::{
    bind, connect, getsockname, listen, recv, send, Backlog, MsgFlags, SockaddrStorage,
};

use crate::nl::{Messages, Request, NLMSG_DONE, NLM_F_DUMP, NLM_F_REQUEST};
use crate::{Error, Sandbox};

const V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

fn sandbox_with_lo() -> Sandbox {
    let sb = Sandbox::create().unwrap();
    sb.setup_loopback(&[(IpAddr::V4(V4), 24), (IpAddr::V6(V6), 64)])
        .unwrap();
    sb
}

fn inode(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).unwrap().ino()
}

/// Binds `fd` to `addr` and listens; returns the bound address.
fn listen_on(fd: &OwnedFd, addr: SocketAddr) -> SocketAddr {
    bind(fd.as_raw_fd(), &SockaddrStorage::from(addr)).unwrap();
    listen(fd, Backlog::new(8).unwrap()).unwrap();
    let local: SockaddrStorage = getsockname(fd.as_raw_fd()).unwrap();
    if let Some(v4) = local.as_sockaddr_in() {
        SocketAddr::from((v4.ip(), v4.port()))
    } else {
        let v6 = local.as_sockaddr_in6().unwrap();
        SocketAddr::from((v6.ip(), v6.port()))
    }
}

/// One TCP connection with a little data each way, between two sockets of the sandbox.
fn tcp_exchange(sb: &Sandbox, ip: IpAddr) {
    let domain = if ip.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let mut fds = sb
        .sockets(&[
            (domain, libc::SOCK_STREAM, 0),
            (domain, libc::SOCK_STREAM, 0),
        ])
        .unwrap();
    let client = fds.pop().unwrap();
    let server = fds.pop().unwrap();
    let addr = listen_on(&server, SocketAddr::new(ip, 0));
    let listener = TcpListener::from(server);
    connect(client.as_raw_fd(), &SockaddrStorage::from(addr))
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    let mut client = TcpStream::from(client);
    let (mut accepted, _) = listener.accept().unwrap();
    client.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    accepted.read_exact(&mut buf).unwrap();
    accepted.write_all(b"pong").unwrap();
    client.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong");
}

/// Counts conntrack entries of `family` with a ctnetlink dump (IPCTNL_MSG_CT_GET, NLM_F_DUMP).
fn conntrack_count(sb: &Sandbox, family: i32) -> usize {
    let sock = sb.netfilter_socket().unwrap();
    let mut req = Request::new();
    req.begin(
        (1 << 8) | 1,
        NLM_F_REQUEST | NLM_F_DUMP,
        &[family as u8, 0, 0, 0],
        "ct dump",
    );
    req.end();
    send(sock.as_raw_fd(), req.bytes(), MsgFlags::empty()).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut count = 0;
    loop {
        let n = recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty()).unwrap();
        for (ty, _, payload) in Messages::new(&buf[..n]) {
            match ty {
                NLMSG_DONE => return count,
                2 => panic!("ct dump failed: {:?}", &payload[..4]),
                _ => count += 1,
            }
        }
    }
}

#[test]
fn sandbox_has_its_own_netns() {
    let sb = Sandbox::create().unwrap();
    let ours = inode("/proc/self/ns/net".as_ref());
    assert_ne!(ours, inode(&sb.netns_path()));
    assert_ne!(
        inode("/proc/self/ns/user".as_ref()),
        inode(&sb.userns_path())
    );
    let other = Sandbox::create().unwrap();
    assert_ne!(inode(&other.netns_path()), inode(&sb.netns_path()));
}

#[test]
fn sockets_live_in_the_namespace() {
    let sb = sandbox_with_lo();
    tcp_exchange(&sb, IpAddr::V4(V4));
    tcp_exchange(&sb, IpAddr::V6(V6)); // usable at once thanks to IFA_F_NODAD
                                       // The same address does not exist in the host namespace.
    let host = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Stream,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    let addr = SockaddrStorage::from(SocketAddr::new(IpAddr::V4(V4), 0));
    assert_eq!(bind(host.as_raw_fd(), &addr), Err(Errno::EADDRNOTAVAIL));
}

#[test]
fn passed_descriptors_arrive_close_on_exec() {
    // Several at once, in one SCM_RIGHTS message; each must carry FD_CLOEXEC on receipt so a
    // program started meanwhile cannot inherit a socket of the namespace.
    let sb = sandbox_with_lo();
    let fds = sb
        .sockets(&[
            (libc::AF_INET, libc::SOCK_STREAM, 0),
            (libc::AF_INET6, libc::SOCK_DGRAM, 0),
            (libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE),
        ])
        .unwrap();
    assert_eq!(fds.len(), 3);
    for fd in &fds {
        let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(
            flags & libc::FD_CLOEXEC,
            0,
            "fd {} lacks FD_CLOEXEC",
            fd.as_raw_fd()
        );
    }
}

#[test]
fn setup_loopback_is_idempotent_and_checks_prefixes() {
    let sb = sandbox_with_lo();
    sb.setup_loopback(&[(IpAddr::V4(V4), 24), (IpAddr::V6(V6), 64)])
        .unwrap();
    let err = sb.setup_loopback(&[(IpAddr::V4(V4), 33)]).unwrap_err();
    assert!(
        matches!(err, Error::InvalidPrefix { prefix: 33, .. }),
        "{err}"
    );
}

#[test]
fn kernel_refusals_name_the_address() {
    let sb = Sandbox::create().unwrap();
    // A multicast address as a local address is refused by the kernel (EINVAL).
    let bad: IpAddr = "ff02::1".parse().unwrap();
    let err = sb.setup_loopback(&[(bad, 64)]).unwrap_err();
    assert!(err.to_string().contains("ff02::1/64"), "{err}");
    assert!(err.errno().is_some(), "{err}");
}

#[test]
fn sysctl_round_trip_leaves_the_host_alone() {
    const NAME: &str = "net/netfilter/nf_conntrack_acct";
    let host_before = crate::sysctl(NAME).unwrap();
    let sb = Sandbox::create().unwrap();
    assert_eq!(sb.sysctl(NAME).unwrap(), "0");
    sb.set_sysctl(NAME, "1").unwrap();
    assert_eq!(sb.sysctl(NAME).unwrap(), "1");
    assert_eq!(sb.sysctl("net.netfilter.nf_conntrack_acct").unwrap(), "1");
    assert_eq!(crate::sysctl(NAME).unwrap(), host_before);
    let err = sb.set_sysctl("../../etc/passwd", "x").unwrap_err();
    assert!(matches!(err, Error::InvalidSysctlName(_)));
}

#[test]
fn conntrack_tracks_real_traffic_only_once_enabled() {
    let sb = sandbox_with_lo();
    tcp_exchange(&sb, IpAddr::V4(V4));
    tcp_exchange(&sb, IpAddr::V6(V6));
    assert_eq!(conntrack_count(&sb, libc::AF_INET), 0);
    assert_eq!(conntrack_count(&sb, libc::AF_INET6), 0);
    sb.enable_conntrack().unwrap();
    sb.enable_conntrack().unwrap(); // idempotent: replaces the table
    tcp_exchange(&sb, IpAddr::V4(V4));
    assert_eq!(conntrack_count(&sb, libc::AF_INET), 1);
    tcp_exchange(&sb, IpAddr::V6(V6));
    assert_eq!(conntrack_count(&sb, libc::AF_INET6), 1);
}

#[test]
fn drop_reaps_the_holder() {
    let sb = Sandbox::create().unwrap();
    let proc_dir = std::path::PathBuf::from(format!("/proc/{}", sb.holder_pid()));
    assert!(proc_dir.exists());
    drop(sb);
    assert!(!proc_dir.exists());
}

#[test]
fn moving_the_process_needs_a_single_thread() {
    // The test harness runs tests on threads, so these must refuse before touching anything.
    assert!(crate::enter::thread_count() > 1);
    let err = crate::enter_private().unwrap_err();
    assert!(
        matches!(
            err,
            Error::MultiThreaded {
                op: "enter_private",
                ..
            }
        ),
        "{err}"
    );
    let sb = Sandbox::create().unwrap();
    let err = crate::join(&sb.netns_path()).unwrap_err();
    assert!(
        matches!(err, Error::MultiThreaded { op: "join", .. }),
        "{err}"
    );
}
