//! `view` filters, sorting and paging through the real daemon, each checked
//! against a ground truth computed here from the kernel's own table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;

use common::raw::{self, i8, s};
use common::{ids, proto, synthetic, Answer, Bed, Daemon, Py};
use ctnetlink::Conn;
use serde_json::{json, Value as Json};

/// A filled namespace, its daemon, a logged-in client and the kernel's truth.
struct Fx {
    _bed: Bed,
    daemon: Daemon,
    py: Py,
    sid: String,
    truth: Vec<Conn>,
}

/// 300 synthetic entries plus one from 10.1.2.3 (an address whose integer
/// form fits Python's `<int>`).
fn fixture() -> Fx {
    let bed = Bed::new();
    let mut conns = synthetic(301);
    let extra = conns.last_mut().unwrap();
    extra.orig.src = "10.1.2.3".parse().unwrap();
    extra.reply.dst = "10.1.2.3".parse().unwrap();
    bed.inject(&conns);
    let truth = bed.kernel();
    assert_eq!(truth.len(), 301);
    let daemon = Daemon::start(&bed, &["--resync-interval", "0"]);
    let mut py = daemon.client();
    let sid = py.login();
    let view = py.call("view", json!([sid, {}, "", "", 0, 0])).ok();
    assert_eq!(view["total"], 301);
    Fx {
        _bed: bed,
        daemon,
        py,
        sid,
        truth,
    }
}

fn state(c: &Conn) -> &'static str {
    ctnetlink::names::state_name(c.l4proto, c.proto_state)
}

fn addrs(c: &Conn) -> [IpAddr; 4] {
    [c.orig.src, c.orig.dst, c.reply.src, c.reply.dst]
}

fn ports(c: &Conn) -> [u16; 4] {
    [c.orig.sport, c.orig.dport, c.reply.sport, c.reply.dport]
}

/// Whether `a` lies in the prefix `net` ("addr/len" or a host).
fn in_net(a: IpAddr, net: &str) -> bool {
    let (base, len) = match net.split_once('/') {
        Some((b, l)) => (b.parse::<IpAddr>().unwrap(), l.parse::<u32>().unwrap()),
        None => {
            let b: IpAddr = net.parse().unwrap();
            (b, if b.is_ipv4() { 32 } else { 128 })
        }
    };
    match (a, base) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

fn id_set(view: &Json) -> BTreeSet<String> {
    ids(view).into_iter().collect()
}

impl Fx {
    fn want(&self, pred: &dyn Fn(&Conn) -> bool) -> BTreeSet<String> {
        self.truth
            .iter()
            .filter(|c| pred(c))
            .map(|c| c.id.to_string())
            .collect()
    }

    fn compare(&self, label: &str, view: &Json, want: &BTreeSet<String>, everything: bool) {
        if everything {
            assert_eq!(want.len(), self.truth.len(), "{label}: truth should be all");
        } else {
            assert!(
                !want.is_empty() && want.len() < self.truth.len(),
                "{label}: a weak check ({} of {})",
                want.len(),
                self.truth.len()
            );
        }
        assert_eq!(view["total"], want.len(), "{label}: total");
        assert_eq!(&id_set(view), want, "{label}");
    }

    /// Views with `filter` (through Python) and compares with the rows `pred` selects.
    fn check(&mut self, filter: Json, pred: impl Fn(&Conn) -> bool) {
        self.check_as(filter, false, pred);
    }

    fn check_as(&mut self, filter: Json, everything: bool, pred: impl Fn(&Conn) -> bool) {
        let want = self.want(&pred);
        let view = match self
            .py
            .call("view", json!([self.sid, filter, "", "", 0, 1000]))
        {
            Answer::Ok(v) => v,
            other => panic!("filter {filter}: {other:?}"),
        };
        self.compare(&filter.to_string(), &view, &want, everything);
    }

    /// The same with a hand-built filter struct (for `<i8>` values).
    fn check_raw(&mut self, filter: &[(&str, String)], pred: impl Fn(&Conn) -> bool) {
        let want = self.want(&pred);
        let label = format!("{filter:?}");
        let view = match self.daemon.raw(
            "view",
            &[
                s(&self.sid),
                raw::strukt(filter),
                s(""),
                s(""),
                raw::int(0),
                raw::int(1000),
            ],
        ) {
            Answer::Ok(v) => v,
            other => panic!("{label}: {other:?}"),
        };
        self.compare(&label, &view, &want, false);
    }

    /// All rows in the server's order.
    fn ordered(&mut self, order_by: &str, dir: &str) -> Vec<Json> {
        let view = self
            .py
            .call("view", json!([self.sid, {}, order_by, dir, 0, 1000]))
            .ok();
        assert_eq!(view["total"], self.truth.len());
        view["connections"].as_array().unwrap().clone()
    }

    fn order_ids(&mut self, order_by: &str, dir: &str) -> Vec<String> {
        self.ordered(order_by, dir)
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    }
}

/// The truth sorted by `key` (descending if asked), ties by ascending id.
fn sorted<K: Ord>(truth: &[Conn], key: impl Fn(&Conn) -> K, desc: bool) -> Vec<String> {
    let mut rows: Vec<&Conn> = truth.iter().collect();
    rows.sort_by(|a, b| {
        let o = key(a).cmp(&key(b));
        let o = if desc { o.reverse() } else { o };
        o.then(a.id.cmp(&b.id))
    });
    rows.iter().map(|c| c.id.to_string()).collect()
}

#[test]
fn address_filters_exact_and_cidr_for_both_families() {
    let mut f = fixture();
    f.check(json!({"orig_src": "198.51.100.7"}), |c| {
        c.orig.src == "198.51.100.7".parse::<IpAddr>().unwrap()
    });
    f.check(json!({"orig_src": "198.51.100.0/28"}), |c| {
        in_net(c.orig.src, "198.51.100.0/28")
    });
    f.check(json!({"orig_src": "2001:db8:0:1::e"}), |c| {
        in_net(c.orig.src, "2001:db8:0:1::e")
    });
    f.check(json!({"orig_src": "2001:db8:0:1::/121"}), |c| {
        in_net(c.orig.src, "2001:db8:0:1::/121")
    });
    f.check(json!({"orig_dst": "203.0.113.9"}), |c| {
        in_net(c.orig.dst, "203.0.113.9")
    });
    f.check(json!({"orig_dst": "2001:db8:0:2::/64"}), |c| {
        in_net(c.orig.dst, "2001:db8:0:2::/64")
    });
    f.check(json!({"repl_src": "203.0.113.0/24"}), |c| {
        in_net(c.reply.src, "203.0.113.0/24")
    });
    f.check(json!({"repl_src": "2001:db8:0:2::1"}), |c| {
        in_net(c.reply.src, "2001:db8:0:2::1")
    });
    f.check(json!({"repl_dst": "198.51.100.128/25"}), |c| {
        in_net(c.reply.dst, "198.51.100.128/25")
    });
    f.check(json!({"repl_dst": "2001:db8:0:1::100/120"}), |c| {
        in_net(c.reply.dst, "2001:db8:0:1::100/120")
    });
    f.check(json!({"repl_dst": "10.1.2.3"}), |c| {
        in_net(c.reply.dst, "10.1.2.3")
    });
    // An array is any of its prefixes.
    f.check(
        json!({"orig_src": ["198.51.100.7", "2001:db8:0:1::/124"]}),
        |c| in_net(c.orig.src, "198.51.100.7") || in_net(c.orig.src, "2001:db8:0:1::/124"),
    );
}

#[test]
fn addr_is_any_of_the_four_and_ipv4_may_be_an_integer() {
    let mut f = fixture();
    f.check(json!({"addr": "198.51.100.7"}), |c| {
        addrs(c).iter().any(|a| in_net(*a, "198.51.100.7"))
    });
    f.check(json!({"addr": "2001:db8:0:1::/120"}), |c| {
        addrs(c).iter().any(|a| in_net(*a, "2001:db8:0:1::/120"))
    });
    f.check(json!({"addr": ["198.51.100.3", "2001:db8:0:1::5"]}), |c| {
        addrs(c)
            .iter()
            .any(|a| in_net(*a, "198.51.100.3") || in_net(*a, "2001:db8:0:1::5"))
    });
    // pyctd: an IPv4 address as an integer (10.1.2.3 fits Python's <int>).
    let ten = u32::from("10.1.2.3".parse::<std::net::Ipv4Addr>().unwrap());
    let is_ten = |a: IpAddr| a == "10.1.2.3".parse::<IpAddr>().unwrap();
    f.check(json!({"orig_ipv4_src": ten}), |c| is_ten(c.orig.src));
    f.check(json!({"orig_src": ten}), |c| is_ten(c.orig.src));
    f.check(json!({"addr": ten}), |c| {
        addrs(c).iter().any(|a| is_ten(*a))
    });
    // Above 2^31 the integer needs <i8> (Python refuses to send it).
    let seven = u32::from("198.51.100.7".parse::<std::net::Ipv4Addr>().unwrap());
    f.check_raw(&[("orig_ipv4_src", i8(i64::from(seven)))], |c| {
        in_net(c.orig.src, "198.51.100.7")
    });
    let dst = u32::from("203.0.113.9".parse::<std::net::Ipv4Addr>().unwrap());
    f.check_raw(&[("orig_ipv4_dst", i8(i64::from(dst)))], |c| {
        in_net(c.orig.dst, "203.0.113.9")
    });
}

#[test]
fn integer_filters_take_ints_arrays_ranges_and_masks() {
    let mut f = fixture();
    f.check(json!({"orig_sport": 1030}), |c| c.orig.sport == 1030);
    f.check(json!({"orig_sport": [1030, 1031, 1100]}), |c| {
        [1030, 1031, 1100].contains(&c.orig.sport)
    });
    f.check(json!({"orig_sport": "1100-1150"}), |c| {
        (1100..=1150).contains(&c.orig.sport)
    });
    f.check(json!({"repl_dport": "1100-1150"}), |c| {
        (1100..=1150).contains(&c.reply.dport)
    });
    f.check(json!({"orig_sport": [1030, "1200-1210"]}), |c| {
        c.orig.sport == 1030 || (1200..=1210).contains(&c.orig.sport)
    });
    f.check(json!({"l4proto": 6}), |c| c.l4proto == 6);
    f.check(json!({"l4proto": [17, 132]}), |c| {
        [17, 132].contains(&c.l4proto)
    });
    f.check(json!({"l4proto": "1-17"}), |c| {
        (1..=17).contains(&c.l4proto)
    });
    // `port`: any of the four ports.
    f.check(json!({"port": 1030}), |c| ports(c).contains(&1030));
    f.check(json!({"port": 443}), |c| ports(c).contains(&443));
    f.check(json!({"port": [1030, 1031, 1032, 9999]}), |c| {
        ports(c)
            .iter()
            .any(|p| [1030, 1031, 1032, 9999].contains(p))
    });
    f.check(json!({"port": "1290-1300"}), |c| {
        ports(c).iter().any(|p| (1290..=1300).contains(p))
    });
    // `mark`: ints, ranges and VALUE/MASK.
    let small = f.truth.iter().find(|c| c.mark > 0 && c.mark < 1 << 31);
    let small = small.expect("a mark below 2^31").mark;
    f.check(json!({"mark": small}), |c| c.mark == small);
    let big = f.truth.iter().find(|c| c.mark > 1 << 31).unwrap().mark;
    f.check_raw(&[("mark", i8(i64::from(big)))], |c| c.mark == big);
    f.check(json!({"mark": big.to_string()}), |c| c.mark == big);
    f.check(json!({"mark": "0-2147483647"}), |c| c.mark < 1 << 31);
    f.check(json!({"mark": "0x3/0x3"}), |c| c.mark & 3 == 3);
    f.check(json!({"mark": "16/240"}), |c| c.mark & 0xf0 == 0x10);
    f.check(json!({"mark": ["0x3/0x3", 0]}), |c| {
        c.mark & 3 == 3 || c.mark == 0
    });
}

#[test]
fn string_filters_are_case_insensitive_and_take_arrays() {
    let mut f = fixture();
    f.check(json!({"proto": "TCP"}), |c| c.l4proto == 6);
    f.check(json!({"proto": "Udp"}), |c| c.l4proto == 17);
    f.check(json!({"proto": ["udp", "SCTP"]}), |c| {
        [17, 132].contains(&c.l4proto)
    });
    f.check(json!({"proto": ["icmp", "ICMPv6"]}), |c| {
        [1, 58].contains(&c.l4proto)
    });
    f.check(json!({"state": "established"}), |c| {
        state(c).eq_ignore_ascii_case("established")
    });
    f.check(json!({"state": ["ESTABLISHED", "closed"]}), |c| {
        ["ESTABLISHED", "CLOSED"].contains(&state(c))
    });
    f.check(json!({"family": "IPv6"}), |c| c.orig.src.is_ipv6());
    f.check(json!({"family": "ipv4"}), |c| c.orig.src.is_ipv4());
    f.check_as(json!({"family": ["ipv4", "IPV6"]}), true, |_| true);
    f.check(json!({"status": "assured"}), |c| c.status & 4 != 0);
    f.check(json!({"status": ["seen_reply", "ASSURED"]}), |c| {
        c.status & 6 != 0
    });
    f.check_as(json!({"status": "Confirmed"}), true, |_| true);
    // Keys are ANDed.
    f.check(
        json!({"proto": "tcp", "family": "ipv6", "orig_sport": "1000-1200"}),
        |c| c.l4proto == 6 && c.orig.src.is_ipv6() && (1000..=1200).contains(&c.orig.sport),
    );
}

#[test]
fn id_filters_take_strings_ints_and_arrays() {
    let mut f = fixture();
    let a = f.truth[3].id;
    let b = f.truth[100].id;
    let small = f
        .truth
        .iter()
        .map(|c| c.id)
        .find(|id| *id < 1 << 31)
        .unwrap();
    f.check(json!({"id": a.to_string()}), |c| c.id == a);
    f.check(json!({"id": small}), |c| c.id == small);
    f.check(json!({"id": [a.to_string(), small, b.to_string()]}), |c| {
        [a, b, small].contains(&c.id)
    });
    f.check_raw(&[("id", i8(i64::from(a)))], |c| c.id == a);
    // An id that does not exist matches nothing.
    let absent = (1..).find(|n| f.truth.iter().all(|c| c.id != *n)).unwrap();
    let view =
        f.py.call(
            "view",
            json!([f.sid, {"id": absent.to_string()}, "", "", 0, 10]),
        )
        .ok();
    assert_eq!(view["total"], 0);
}

#[test]
fn q_is_free_text_over_addresses_ports_protocol_and_state() {
    let mut f = fixture();
    let hit = |c: &Conn, q: &str| {
        let q = q.to_ascii_lowercase();
        addrs(c).iter().any(|a| a.to_string().contains(&q))
            || ports(c).iter().any(|p| p.to_string().contains(&q))
            || proto(c.l4proto).contains(&q)
            || state(c).to_ascii_lowercase().contains(&q)
    };
    for q in [
        "100.17",
        "SCTP",
        "2001:DB8:0:1::1",
        "Establ",
        "1.2.3",
        "icmp",
        "115",
    ] {
        f.check(json!({ "q": q }), |c| hit(c, q));
    }
}

#[test]
fn pyctd_aliases_work_in_filters_and_order_by() {
    let mut f = fixture();
    f.check(json!({"orig_ipv4_src": "198.51.100.0/29"}), |c| {
        in_net(c.orig.src, "198.51.100.0/29")
    });
    f.check(json!({"orig_ipv4_dst": "203.0.113.9"}), |c| {
        in_net(c.orig.dst, "203.0.113.9")
    });
    f.check(json!({"orig_port_src": "1024-1100"}), |c| {
        (1024..=1100).contains(&c.orig.sport)
    });
    f.check(json!({"orig_port_dst": 443}), |c| c.orig.dport == 443);
    f.check(json!({"orig_l4proto": 17}), |c| c.l4proto == 17);
    f.check(json!({"orig_l4proto": [1, 58]}), |c| {
        [1, 58].contains(&c.l4proto)
    });

    let t = f.truth.clone();
    assert_eq!(
        f.order_ids("orig_ipv4_src", "ASC"),
        sorted(&t, |c| c.orig.src, false)
    );
    assert_eq!(
        f.order_ids("orig_ipv4_dst", "DESC"),
        sorted(&t, |c| c.orig.dst, true)
    );
    assert_eq!(
        f.order_ids("orig_port_src", "DESC"),
        sorted(&t, |c| c.orig.sport, true)
    );
    assert_eq!(
        f.order_ids("orig_port_dst", "ASC"),
        sorted(&t, |c| c.orig.dport, false)
    );
    assert_eq!(
        f.order_ids("orig_l4proto", "ASC"),
        sorted(&t, |c| c.l4proto, false)
    );
}

#[test]
fn sorting_matches_the_truth_with_id_tie_breaker() {
    let mut f = fixture();
    let t = f.truth.clone();
    for (dir, desc) in [
        ("ASC", false),
        ("DESC", true),
        ("desc", true),
        ("asc", false),
    ] {
        assert_eq!(
            f.order_ids("id", dir),
            sorted(&t, |c| c.id, desc),
            "id {dir}"
        );
        assert_eq!(
            f.order_ids("orig_src", dir),
            sorted(&t, |c| c.orig.src, desc),
            "orig_src {dir}"
        );
        assert_eq!(
            f.order_ids("orig_sport", dir),
            sorted(&t, |c| c.orig.sport, desc),
            "orig_sport {dir}"
        );
        assert_eq!(
            f.order_ids("mark", dir),
            sorted(&t, |c| c.mark, desc),
            "mark {dir}"
        );
        assert_eq!(
            f.order_ids("proto", dir),
            sorted(&t, |c| proto(c.l4proto), desc),
            "proto {dir}"
        );
        assert_eq!(
            f.order_ids("repl_dst", dir),
            sorted(&t, |c| c.reply.dst, desc),
            "repl_dst {dir}"
        );
    }
    // Empty order_by and order_dir mean id ascending.
    assert_eq!(f.order_ids("", ""), sorted(&t, |c| c.id, false));

    // Timeouts run down while we look: sort a frozen snapshot and check the
    // order against the values it shows, and those against the kernel.
    let ok = f.py.call("set_autorefresh", json!([f.sid, 0])).ok();
    assert_eq!(ok, json!(true));
    for (dir, desc) in [("ASC", false), ("desc", true)] {
        let rows = f.ordered("timeout", dir);
        let keyed: Vec<(u64, u32)> = rows
            .iter()
            .map(|r| {
                (
                    r["timeout"].as_u64().unwrap(),
                    r["id"].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect();
        let mut want = keyed.clone();
        want.sort_by(|a, b| {
            let o = a.0.cmp(&b.0);
            let o = if desc { o.reverse() } else { o };
            o.then(a.1.cmp(&b.1))
        });
        assert_eq!(keyed, want, "timeout {dir}");
        for (timeout, id) in &keyed {
            let kernel = t.iter().find(|c| c.id == *id).unwrap().timeout;
            assert!(
                timeout.abs_diff(u64::from(kernel)) <= 3,
                "id {id}: timeout {timeout} vs kernel {kernel}"
            );
        }
    }
}

#[test]
fn odd_sized_pages_tile_the_table() {
    let mut f = fixture();
    f.py.call("set_autorefresh", json!([f.sid, 0])).ok();
    for (order_by, dir, size) in [
        ("orig_src", "ASC", 7usize),
        ("mark", "DESC", 13),
        ("timeout", "asc", 13),
        ("proto", "desc", 7),
    ] {
        let whole =
            f.py.call("view", json!([f.sid, {}, order_by, dir, 0, 1000]))
                .ok();
        let whole = ids(&whole);
        assert_eq!(whole.len(), f.truth.len());
        let mut tiled = Vec::new();
        let mut start = 0;
        loop {
            let page =
                f.py.call("view", json!([f.sid, {}, order_by, dir, start, size]))
                    .ok();
            assert_eq!(page["total"], f.truth.len());
            assert_eq!(page["start"], start);
            let got = ids(&page);
            assert_eq!(page["length"], got.len());
            assert!(got.len() <= size);
            if got.is_empty() {
                break;
            }
            tiled.extend(got);
            start += size;
        }
        assert_eq!(tiled, whole, "{order_by} {dir} by {size}");
    }
    // A filtered table pages the same way.
    let filter = json!({"proto": ["tcp", "udp"]});
    let whole = ids(&f
        .py
        .call(
            "view",
            json!([f.sid, filter, "orig_sport", "DESC", 0, 1000]),
        )
        .ok());
    let mut tiled = Vec::new();
    for start in (0..whole.len() + 7).step_by(7) {
        let page =
            f.py.call(
                "view",
                json!([f.sid, filter, "orig_sport", "DESC", start, 7]),
            )
            .ok();
        tiled.extend(ids(&page));
    }
    assert_eq!(tiled, whole);
}
