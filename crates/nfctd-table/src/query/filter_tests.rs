//! Tests of `Filter`: every key and form, and every refusal.

use std::sync::Arc;

use super::testutil::{counted, icmp, row, tcp, v6_udp, NOW, NOW_UNIX};
use super::{Context, Filter, FilterSpec, FilterValue, QueryError};
use crate::Row;

type Value = FilterValue;

fn s(t: &str) -> Value {
    FilterValue::text(t)
}

fn arr(items: Vec<Value>) -> Value {
    FilterValue::List(items)
}

fn spec(terms: Vec<(&str, Value)>) -> FilterSpec {
    terms.into_iter().collect()
}

fn filter(key: &str, value: Value) -> Filter {
    Filter::compile(&spec(vec![(key, value)])).unwrap()
}

fn refused(key: &str, value: Value) -> String {
    match Filter::compile(&spec(vec![(key, value)])) {
        Err(e) => e.to_string(),
        Ok(f) => panic!("{key} accepted: {f:?}"),
    }
}

fn ctx() -> Context<'static> {
    Context::new(NOW, NOW_UNIX)
}

/// The ids of `rows` that `key = value` selects.
fn select(rows: &[Row], key: &str, value: Value) -> Vec<u32> {
    let f = filter(key, value);
    rows.iter()
        .filter(|r| f.matches(r, &ctx()))
        .map(|r| r.id())
        .collect()
}

fn table() -> Vec<Row> {
    let mut rows = vec![
        tcp(1, "192.168.0.1", 40000, "10.0.0.1", 80),
        tcp(2, "192.168.0.2", 40001, "10.0.0.2", 443),
        row(3, 17, "10.1.0.1", 5353, "224.0.0.251", 5353),
        icmp(4, "172.16.0.1", "8.8.8.8"),
        v6_udp(5, "2001:db8::1", 53000, "2001:db8:1::53", 53),
        counted(tcp(6, "192.168.1.1", 50000, "1.1.1.1", 22), 1000, 5_000_000),
    ];
    rows[0].edit(|c| c.mark = 0x110);
    rows[1].edit(|c| c.mark = 0x11);
    rows[2].edit(|c| c.zone = 7);
    rows[3].set_rate(12.5);
    rows[4].set_rate(1000.0);
    rows[4].set_deadline(NOW + 5_000);
    rows[5].set_started_unix(NOW_UNIX - 3600);
    rows[5].edit(|c| c.proto_state = Some(7));
    rows
}

#[test]
fn empty_filter_matches_everything() {
    let f = Filter::compile(&FilterSpec::none()).unwrap();
    assert!(f.is_empty());
    assert!(Filter::default().is_empty());
    assert!(table().iter().all(|r| f.matches(r, &ctx())));
}

#[test]
fn absent_values_add_no_test() {
    let members: FilterSpec = ["orig_src", "mark", "proto", "q", "id", "rate", "user"]
        .iter()
        .map(|k| (k.to_string(), Value::Absent))
        .chain([
            ("state".to_owned(), s("")),
            ("port".to_owned(), arr(vec![])),
        ])
        .collect();
    let f = Filter::compile(&members).unwrap();
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn address_keys() {
    let t = table();
    assert_eq!(select(&t, "orig_src", s("192.168.0.0/24")), [1, 2]);
    assert_eq!(select(&t, "orig_ipv4_src", s("192.168.0.2")), [2]);
    assert_eq!(select(&t, "orig_dst", s("10.0.0.0/8")), [1, 2]);
    assert_eq!(select(&t, "orig_ipv4_dst", Value::Int(0x0808_0808)), [4]);
    assert_eq!(select(&t, "repl_src", s("2001:db8::/32")), [5]);
    assert_eq!(select(&t, "repl_dst", s("192.168.0.1")), [1]);
    assert_eq!(select(&t, "orig_src", Value::Int(3_232_235_521)), [1]);
    assert_eq!(select(&t, "addr", s("10.0.0.0/8")), [1, 2, 3]);
    assert_eq!(
        select(&t, "addr", arr(vec![s("8.8.8.8"), s("::/0")])),
        [4, 5]
    );
    assert_eq!(select(&t, "addr", s("0.0.0.0/0")), [1, 2, 3, 4, 6]);
}

#[test]
fn integer_keys() {
    let t = table();
    assert_eq!(select(&t, "orig_sport", Value::Int(40000)), [1]);
    assert_eq!(select(&t, "orig_port_src", s("40000-40001")), [1, 2]);
    assert_eq!(
        select(&t, "orig_dport", arr(vec![Value::Int(22), Value::Int(53)])),
        [5, 6]
    );
    assert_eq!(select(&t, "orig_port_dst", Value::Int(443)), [2]);
    assert_eq!(select(&t, "repl_sport", Value::Int(80)), [1]);
    assert_eq!(select(&t, "repl_dport", Value::Int(0)), [4]);
    assert_eq!(select(&t, "port", Value::Int(53)), [5]);
    assert_eq!(select(&t, "port", s("5353")), [3]);
    assert_eq!(select(&t, "l4proto", Value::Int(17)), [3, 5]);
    assert_eq!(select(&t, "orig_l4proto", s("1-6")), [1, 2, 4, 6]);
    assert_eq!(select(&t, "mark", Value::Int(0x11)), [2]);
    // A 32-bit client's wrapped 0xffff_fff0 finds nothing here, but parses.
    assert_eq!(select(&t, "mark", Value::Int(-16)), [0u32; 0]);
    assert_eq!(select(&t, "mark", s("0x10/0xff")), [1]);
    assert_eq!(select(&t, "mark", s("16/0xf0")), [1, 2]);
    assert_eq!(select(&t, "zone", Value::Int(7)), [3]);
    assert_eq!(select(&t, "timeout", s("0-10")), [5]);
    assert_eq!(select(&t, "timeout", Value::Int(120)), [1, 2, 3, 4, 6]);
    assert_eq!(select(&t, "orig_bytes", Value::Int(1000)), [6]);
    assert_eq!(select(&t, "repl_bytes", s("1000000-")), [6]);
    assert_eq!(select(&t, "orig_packets", Value::Int(1)), [6]);
    assert_eq!(select(&t, "repl_packets", Value::Int(0)), [1, 2, 3, 4, 5]);
    assert_eq!(select(&t, "age", s("3000-")), [6]);
    assert_eq!(select(&t, "age", Value::Int(60)), [1, 2, 3, 4, 5]);
}

#[test]
fn string_keys() {
    let t = table();
    assert_eq!(select(&t, "proto", s("TCP")), [1, 2, 6]);
    assert_eq!(
        select(&t, "proto", arr(vec![s("icmp"), Value::Int(17)])),
        [3, 4, 5]
    );
    assert_eq!(select(&t, "proto", Value::Int(1)), [4]);
    assert_eq!(select(&t, "state", s("established")), [1, 2]);
    assert_eq!(
        select(&t, "state", arr(vec![s("TIME_WAIT"), s("SYN_SENT")])),
        [6]
    );
    assert_eq!(select(&t, "family", s("IPv6")), [5]);
    assert_eq!(
        select(&t, "family", arr(vec![s("ipv4"), s("ipv6")])).len(),
        6
    );
    assert_eq!(select(&t, "status", s("assured")), [1, 2, 6]);
    assert_eq!(
        select(&t, "status", arr(vec![s("CONFIRMED"), s("dying")])).len(),
        6
    );
    assert_eq!(select(&t, "status", s("DYING")), Vec::<u32>::new());
}

#[test]
fn id_rate_and_q() {
    let t = table();
    assert_eq!(select(&t, "id", s("3")), [3]);
    assert_eq!(select(&t, "id", Value::Int(4)), [4]);
    assert_eq!(
        select(&t, "id", arr(vec![s("1"), Value::Int(6), s("99")])),
        [1, 6]
    );
    assert_eq!(select(&t, "rate", Value::Number(12.5)), [4]);
    assert_eq!(select(&t, "rate", Value::Int(1000)), [5]);
    assert_eq!(select(&t, "rate", s("10-2000")), [4, 5]);
    assert_eq!(select(&t, "rate", s("0-0")), [1, 2, 3, 6]);
    assert_eq!(select(&t, "q", s("192.168.0")), [1, 2]);
    assert_eq!(select(&t, "q", s("DB8:1")), [5]);
    assert_eq!(select(&t, "q", s("icmp")), [4]);
    assert_eq!(select(&t, "q", s("time_w")), [6]);
    assert_eq!(select(&t, "q", s("5353")), [3]);
}

#[test]
fn keys_are_anded() {
    let t = table();
    let f = Filter::compile(&spec(vec![
        ("proto", s("tcp")),
        ("orig_src", s("192.168.0.0/16")),
        ("orig_dport", s("0-100")),
    ]))
    .unwrap();
    let ids: Vec<u32> = t
        .iter()
        .filter(|r| f.matches(r, &ctx()))
        .map(|r| r.id())
        .collect();
    assert_eq!(ids, [1, 6]);
    assert!(!f.is_empty());
    // A key given twice is two tests: both must hold (repeated keys are ANDed).
    let twice = Filter::compile(&spec(vec![
        ("orig_dport", s("0-100")),
        ("orig_dport", s("50-500")),
    ]))
    .unwrap();
    let ids: Vec<u32> = t
        .iter()
        .filter(|r| twice.matches(r, &ctx()))
        .map(|r| r.id())
        .collect();
    // Ports 80 and 53 lie in both ranges; the ICMP row's 0 only in the first.
    assert_eq!(ids, [1, 5]);
}

#[test]
fn uid_and_user_need_a_mask() {
    let mut t = table();
    t[0].edit(|c| c.mark = 1000 << 8);
    t[1].edit(|c| c.mark = 1001 << 8);
    let names = |uid: u32| (uid == 1000).then(|| Arc::<str>::from("alice"));
    let with = ctx().with_users(0x00ff_ff00, &names);
    let sel = |key: &str, value: Value, c: &Context| {
        let f = filter(key, value);
        t.iter()
            .filter(|r| f.matches(r, c))
            .map(|r| r.id())
            .collect::<Vec<_>>()
    };
    assert_eq!(sel("uid", Value::Int(1000), &with), [1]);
    assert_eq!(sel("uid", s("1000-1001"), &with), [1, 2]);
    assert_eq!(sel("uid", Value::Int(0), &with), [3, 4, 5, 6]);
    assert_eq!(sel("user", s("ALICE"), &with), [1]);
    assert_eq!(sel("user", s("1001"), &with), [2]);
    assert_eq!(sel("user", s("1000"), &with), Vec::<u32>::new());
    assert_eq!(sel("user", arr(vec![s("alice"), s("1001")]), &with), [1, 2]);
    assert_eq!(sel("q", s("lic"), &with), [1]);
    assert_eq!(sel("uid", Value::Int(0), &ctx()), Vec::<u32>::new());
    assert_eq!(sel("user", s("alice"), &ctx()), Vec::<u32>::new());
}

#[test]
fn refusals_name_the_key() {
    let cases = [
        ("colour", s("red"), "filter \"colour\": unknown key"),
        ("ORIG_SRC", s("1.2.3.4"), "filter \"ORIG_SRC\": unknown key"),
        (
            "orig_src",
            s("10.0.0/8"),
            "filter \"orig_src\": \"10.0.0/8\" is not an address or CIDR prefix",
        ),
        (
            "mark",
            Value::Unsupported("struct"),
            "filter \"mark\": expected int, array of ints or \"LO-HI\"/\"VALUE/MASK\" string, got struct",
        ),
        ("mark", Value::Int(1 << 32), "filter \"mark\": 4294967296 is out of range (0..=4294967295)"),
        ("mark", Value::Int(-(1 << 31) - 1), "filter \"mark\": -2147483649 is out of range (0..=4294967295)"),
        ("timeout", Value::Int(-1), "filter \"timeout\": -1 is out of range (0..=4294967295)"),
        ("port", Value::Int(65536), "filter \"port\": 65536 is out of range (0..=65535)"),
        ("zone", Value::Int(65536), "filter \"zone\": 65536 is out of range (0..=65535)"),
        ("l4proto", Value::Int(256), "filter \"l4proto\": 256 is out of range (0..=255)"),
        ("timeout", s("1-x"), "filter \"timeout\": \"x\" is not a number"),
        ("orig_sport", s("1/2"), "filter \"orig_sport\": \"1/2\" is not a number"),
        ("proto", s("tcpx"), "filter \"proto\": unknown protocol \"tcpx\""),
        ("proto", Value::Int(300), "filter \"proto\": unknown protocol 300"),
        ("proto", Value::Number(6.0), "filter \"proto\": expected string, int or array of them, got double"),
        ("state", s("OPENISH"), "filter \"state\": unknown state \"OPENISH\""),
        ("status", s("assurd"), "filter \"status\": unknown status flag \"assurd\""),
        ("family", s("inet"), "filter \"family\": unknown family \"inet\""),
        ("user", Value::Int(1000), "filter \"user\": expected string or array of strings, got int"),
        ("id", s("abc"), "filter \"id\": \"abc\" is not a connection id"),
        ("rate", s("fast"), "filter \"rate\": \"fast\" is not a rate or \"LO-HI\""),
        ("q", Value::Int(5), "filter \"q\": expected string, got int"),
        ("addr", Value::Unsupported("boolean"), "filter \"addr\": expected address or CIDR string, IPv4 address as int, or array, got boolean"),
    ];
    for (key, value, want) in cases {
        assert_eq!(refused(key, value), want);
    }
}

#[test]
fn refusals_never_echo_much_input() {
    let long = "9".repeat(10_000);
    for key in ["orig_src", "mark", "proto", "id", "rate", "state"] {
        let e = refused(key, s(&long));
        assert!(e.len() < 160, "{key}: {e}");
    }
    let e = refused(&long, s("x"));
    assert!(e.len() < 100, "{e}");
    let first_error = Filter::compile(&spec(vec![("proto", s("tcp")), ("colour", s("red"))]));
    assert!(matches!(first_error, Err(QueryError::Filter { key, .. }) if key == "colour"));
}
