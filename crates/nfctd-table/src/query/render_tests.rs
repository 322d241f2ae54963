//! Tests of rendering one row as the API's connection.

use std::borrow::Cow;
use std::sync::Arc;

use super::testutil::{counted, icmp, tcp, v6_udp, NOW, NOW_UNIX};
use super::Context;
use super::{render, Connection, Owner};

fn ip(s: &str) -> std::net::IpAddr {
    s.parse().unwrap()
}

#[test]
fn renders_every_key() {
    let mut row = counted(
        tcp(4_000_000_000, "192.168.0.1", 40000, "10.0.0.1", 80),
        100,
        200,
    );
    row.edit(|c| c.mark = 42);
    row.edit(|c| c.zone = 3);
    row.set_rate(1.5);
    row.set_deadline(NOW + 30_500);
    let got = render(&row, &Context::new(NOW, NOW_UNIX));
    let want = Connection {
        id: 4_000_000_000,
        family: "ipv4",
        proto: Cow::Borrowed("tcp"),
        l4proto: 6,
        orig_src: ip("192.168.0.1"),
        orig_dst: ip("10.0.0.1"),
        repl_src: ip("10.0.0.1"),
        repl_dst: ip("192.168.0.1"),
        orig_sport: 40000,
        orig_dport: 80,
        repl_sport: 80,
        repl_dport: 40000,
        state: "ESTABLISHED",
        status: vec!["SEEN_REPLY", "ASSURED", "CONFIRMED"],
        mark: 42,
        timeout: 30,
        zone: 3,
        orig_bytes: 100,
        orig_packets: 1,
        repl_bytes: 200,
        repl_packets: 2,
        rate: 1.5,
        age: 60,
        owner: None,
    };
    assert_eq!(got, want);
}

#[test]
fn renders_stateless_portless_and_v6() {
    let ctx = Context::new(NOW, NOW_UNIX);
    let c = render(&icmp(1, "172.16.0.1", "8.8.8.8"), &ctx);
    assert_eq!(c.state, "");
    assert_eq!(c.orig_sport, 0);
    assert_eq!(c.proto, "icmp");
    assert_eq!(c.orig_bytes, 0);
    assert_eq!(c.status, vec!["CONFIRMED"]);
    assert_eq!(c.owner, None);
    let mut row = v6_udp(2, "2001:DB8::1", 53, "::1", 5353);
    row.set_deadline(0);
    row.set_started_unix(NOW_UNIX + 10);
    let c = render(&row, &ctx);
    assert_eq!(c.family, "ipv6");
    assert_eq!(c.orig_src.to_string(), "2001:db8::1");
    assert_eq!(c.timeout, 0);
    assert_eq!(c.age, 0);
}

#[test]
fn renders_uid_and_user_with_a_mask() {
    let mut row = tcp(1, "10.0.0.1", 1, "10.0.0.2", 2);
    row.edit(|c| c.mark = (1000 << 16) | 5);
    let names = |uid: u32| (uid == 1000).then(|| Arc::<str>::from("alice"));
    let ctx = Context::new(NOW, NOW_UNIX).with_users(0xffff_0000, &names);
    let owner = |uid, user: &str| {
        Some(Owner {
            uid,
            user: user.into(),
        })
    };
    assert_eq!(render(&row, &ctx).owner, owner(1000, "alice"));
    row.edit(|c| c.mark = 1001 << 16);
    assert_eq!(render(&row, &ctx).owner, owner(1001, "1001"));
}
