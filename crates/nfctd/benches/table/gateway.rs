//! The benchmarks' table: a gateway-like set of connections (the shape of
//! the table the view targets were set for) and the `view` shapes measured
//! over it. Shared by
//! path between `query` (in process) and `table` (in the kernel, over HTTP).
#![allow(dead_code)] // each benchmark uses part of it

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ctnetlink::Conn;
use nfctd_table::query::FilterValue;

/// A small deterministic generator (xorshift64*), so every run sees the same table.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `n` distinct connections like a busy gateway's: 90% from 198.19.0.0/16,
/// 9% to 198.18.0.0/16, 1% IPv6; TCP (half of it to port 443), UDP, ICMP.
pub fn gateway(n: usize) -> Vec<Conn> {
    Gateway::new().take(n).collect()
}

/// The connections of [`gateway`], one at a time: entry `i` is the same
/// whether it is made in a fill or later (the churn's new entries are the
/// ones after the fill's).
///
/// Tuples are unique by construction for every `i` below 2^32: the three
/// kinds have disjoint source prefixes (198.19.0.0/16, 10.16.0.0/16,
/// 2001:db8:0:1::/64), and inside a kind the source's low 16 bits are bits
/// 0–15 of `i` while bits 16–31 go into the source port (1024 + `i >> 16`,
/// room for 64,512 · 65,536 entries) or the ICMP echo id (`i >> 16`). No
/// original tuple is another entry's reply tuple either: replies come from
/// 10.0.0.0/12, 198.18.0.0/16 and 2001:db8:0:2::1, which no source uses.
/// The kernel therefore takes every entry, 16,777,216 and far beyond.
///
/// Timeouts are 6 to 7 hours, so nothing expires during a fill of millions
/// (which takes minutes) or the measurements after it.
pub struct Gateway {
    rng: Rng,
    i: usize,
}

impl Gateway {
    pub fn new() -> Gateway {
        Gateway {
            rng: Rng(0x9e37_79b9_7f4a_7c15),
            i: 0,
        }
    }
}

impl Iterator for Gateway {
    type Item = Conn;

    fn next(&mut self) -> Option<Conn> {
        let (i, rng) = (self.i, &mut self.rng);
        self.i += 1;
        let low = (i & 0xffff) as u32;
        let high = (i >> 16) as u16;
        let pick = rng.below(100);
        let (src, dst): (IpAddr, IpAddr) = if pick < 90 {
            (
                Ipv4Addr::from(0xc613_0000 | low).into(),
                Ipv4Addr::from(0x0a00_0000 | rng.below(1 << 20) as u32).into(),
            )
        } else if pick < 99 {
            (
                Ipv4Addr::from(0x0a10_0000 | low).into(),
                Ipv4Addr::from(0xc612_0000 | rng.below(1 << 16) as u32).into(),
            )
        } else {
            (
                Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, low as u16).into(),
                Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1).into(),
            )
        };
        let l4proto = match rng.below(10) {
            0..=5 => 6,
            6..=8 => 17,
            _ if src.is_ipv6() => 58,
            _ => 1,
        };
        let dport = if l4proto == 6 && rng.below(2) == 0 {
            443
        } else {
            1 + rng.below(1023) as u16
        };
        let icmp = l4proto == 1 || l4proto == 58;
        let sport = if icmp { high } else { 1024 + high };
        let mut c = Conn::flow(l4proto, src, dst, sport, dport);
        c.timeout = 6 * 3600 + rng.below(3600) as u32;
        c.proto_state = (l4proto == 6).then_some(3);
        c.mark = rng.below(4) as u32;
        c.status = ctnetlink::names::IPS_CONFIRMED;
        Some(c)
    }
}

/// One `view` shape: a filter, an order and a page.
#[derive(Debug)]
pub struct Shape {
    pub name: &'static str,
    pub filter: Vec<(&'static str, FilterValue)>,
    pub order_by: &'static str,
    pub desc: bool,
    pub start: usize,
}

pub fn shapes() -> Vec<Shape> {
    let t = FilterValue::text;
    let shape = |name, filter, order_by, desc, start| Shape {
        name,
        filter,
        order_by,
        desc,
        start,
    };
    vec![
        shape("{} id ASC", vec![], "id", false, 0),
        shape("{} orig_src ASC", vec![], "orig_src", false, 0),
        shape("{} timeout DESC", vec![], "timeout", true, 0),
        shape("{} rate DESC", vec![], "rate", true, 0),
        shape(
            "addr 198.19/16 orig_bytes DESC",
            vec![("addr", t("198.19.0.0/16"))],
            "orig_bytes",
            true,
            0,
        ),
        shape(
            "q 198.18.1 orig_dst ASC",
            vec![("q", t("198.18.1"))],
            "orig_dst",
            false,
            0,
        ),
        shape(
            "tcp dport 443 timeout DESC",
            vec![("proto", t("tcp")), ("orig_dport", FilterValue::Int(443))],
            "timeout",
            true,
            0,
        ),
        shape(
            "matching nothing",
            vec![("orig_dport", FilterValue::Int(1)), ("proto", t("sctp"))],
            "id",
            false,
            0,
        ),
        shape(
            "{} orig_src start 500000",
            vec![],
            "orig_src",
            false,
            500_000,
        ),
        shape("{} state ASC (text)", vec![], "state", false, 0),
        shape("{} age DESC", vec![], "age", true, 0),
        shape(
            "q tcp (text) rate DESC",
            vec![("q", t("tcp"))],
            "rate",
            true,
            0,
        ),
    ]
}
