//! Tests of rendering one row as the API's connection struct.

use std::sync::Arc;

use super::render::render;
use super::testutil::{counted, icmp, tcp, v6_udp, NOW, NOW_UNIX};
use super::{render_struct, Context};
use crate::value::Value;

fn s(t: &str) -> Value {
    Value::str(t)
}

#[test]
fn renders_every_key_in_order() {
    let mut row = counted(
        tcp(4_000_000_000, "192.168.0.1", 40000, "10.0.0.1", 80),
        100,
        200,
    );
    row.conn.mark = 42;
    row.conn.zone = 3;
    row.rate = 1.5;
    row.deadline = NOW + 30_500;
    let got = render(&row, &Context::new(NOW, NOW_UNIX));
    let want = vec![
        ("id", s("4000000000")),
        ("family", s("ipv4")),
        ("proto", s("tcp")),
        ("l4proto", Value::Int(6)),
        ("orig_src", s("192.168.0.1")),
        ("orig_dst", s("10.0.0.1")),
        ("repl_src", s("10.0.0.1")),
        ("repl_dst", s("192.168.0.1")),
        ("orig_sport", Value::Int(40000)),
        ("orig_dport", Value::Int(80)),
        ("repl_sport", Value::Int(80)),
        ("repl_dport", Value::Int(40000)),
        ("state", s("ESTABLISHED")),
        (
            "status",
            Value::Array(vec![s("SEEN_REPLY"), s("ASSURED"), s("CONFIRMED")]),
        ),
        ("mark", Value::Int(42)),
        ("timeout", Value::Int(30)),
        ("zone", Value::Int(3)),
        ("orig_bytes", Value::Int(100)),
        ("orig_packets", Value::Int(1)),
        ("repl_bytes", Value::Int(200)),
        ("repl_packets", Value::Int(2)),
        ("rate", Value::Double(1.5)),
        ("age", Value::Int(60)),
    ];
    assert_eq!(got, want);
}

#[test]
fn renders_stateless_portless_and_v6() {
    let ctx = Context::new(NOW, NOW_UNIX);
    let row = icmp(1, "172.16.0.1", "8.8.8.8");
    let v = render_struct(&row, &ctx);
    assert_eq!(v.member("state"), Some(&s("")));
    assert_eq!(v.member("orig_sport"), Some(&Value::Int(0)));
    assert_eq!(v.member("proto"), Some(&s("icmp")));
    assert_eq!(v.member("orig_bytes"), Some(&Value::Int(0)));
    assert_eq!(
        v.member("status"),
        Some(&Value::Array(vec![s("CONFIRMED")]))
    );
    assert_eq!(v.member("uid"), None);
    let mut row = v6_udp(2, "2001:DB8::1", 53, "::1", 5353);
    row.deadline = 0;
    row.started_unix = NOW_UNIX + 10;
    let v = render_struct(&row, &ctx);
    assert_eq!(v.member("family"), Some(&s("ipv6")));
    assert_eq!(v.member("orig_src"), Some(&s("2001:db8::1")));
    assert_eq!(v.member("timeout"), Some(&Value::Int(0)));
    assert_eq!(v.member("age"), Some(&Value::Int(0)));
}

#[test]
fn renders_uid_and_user_with_a_mask() {
    let mut row = tcp(1, "10.0.0.1", 1, "10.0.0.2", 2);
    row.conn.mark = (1000 << 16) | 5;
    let names = |uid: u32| (uid == 1000).then(|| Arc::<str>::from("alice"));
    let ctx = Context::new(NOW, NOW_UNIX).with_users(0xffff_0000, &names);
    let got = render(&row, &ctx);
    assert_eq!(got.len(), 25);
    assert_eq!(got[23], ("uid", Value::Int(1000)));
    assert_eq!(got[24], ("user", s("alice")));
    row.conn.mark = 1001 << 16;
    let got = render(&row, &ctx);
    assert_eq!(got[24], ("user", s("1001")));
}
