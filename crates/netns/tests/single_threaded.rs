//! enter_private()/join() need a single-threaded process: this test has no harness (plain
//! `main`, one thread) and re-executes itself once per scenario, since both change the process.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::MetadataExt;
use std::process::Command;

const ROLE: &str = "NETNS_TEST_ROLE";

fn netns_inode() -> u64 {
    std::fs::metadata("/proc/self/ns/net").unwrap().ino()
}

fn socket(protocol: i32) -> std::os::fd::OwnedFd {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockProtocol, SockType};
    let proto = match protocol {
        libc::NETLINK_ROUTE => SockProtocol::NetlinkRoute,
        _ => SockProtocol::NetlinkNetFilter,
    };
    socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        proto,
    )
    .unwrap()
}

/// Runs this binary again with `role` and `arg`; returns its stdout, failing on a bad exit.
fn rerun(role: &str, arg: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .env(ROLE, role)
        .arg(arg)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child {role} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// Child: the demo path — move into a private namespace, then configure it from inside.
fn child_enter() {
    let before = netns_inode();
    netns::enter_private().unwrap();
    assert_ne!(before, netns_inode());
    netns::setup_loopback(
        &socket(libc::NETLINK_ROUTE),
        &[(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 24)],
    )
    .unwrap();
    netns::enable_conntrack(&socket(libc::NETLINK_NETFILTER)).unwrap();
    netns::set_sysctl("net/netfilter/nf_conntrack_acct", "1").unwrap();
    assert_eq!(
        netns::sysctl("net/netfilter/nf_conntrack_acct").unwrap(),
        "1"
    );
    let l = std::net::TcpListener::bind("192.0.2.1:0").unwrap();
    std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    print!("ok");
}

/// Child: the `--netns PATH` path — join the given namespace, print its inode.
fn child_join(path: &str) {
    netns::join(path.as_ref()).unwrap();
    // Sockets made now live in the joined namespace, where the parent configured lo.
    std::net::TcpListener::bind("192.0.2.1:0").unwrap();
    print!("{}", netns_inode());
}

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    match std::env::var(ROLE).as_deref() {
        Ok("enter") => return child_enter(),
        Ok("join") => return child_join(&arg),
        _ => {}
    }
    // Test harness flags (e.g. --list from cargo's test listing) are not ours: run nothing then.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    assert_eq!(rerun("enter", ""), "ok");
    println!("test enter_private_in_fresh_process ... ok");

    let sb = netns::Sandbox::create().unwrap();
    sb.setup_loopback(&[(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 24)])
        .unwrap();
    let want = std::fs::metadata(sb.netns_path()).unwrap().ino();
    let got: u64 = rerun("join", sb.netns_path().to_str().unwrap())
        .parse()
        .unwrap();
    assert_eq!(got, want);
    println!("test join_sandbox_netns ... ok");

    let err = netns::join("/nonexistent/netns".as_ref()).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/netns"), "{err}");
    println!("test join_error_names_path ... ok");
}
