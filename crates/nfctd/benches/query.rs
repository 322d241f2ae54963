//! The query engine alone, in process: `view`'s filter + sort + page + render
//! over a synthetic snapshot of any size (no kernel, no namespace, no limit
//! on entries), for each view shape of issue 10, with p50 and p99.
//!
//! Run: `cargo bench -p nfctd --bench query [-- --entries 1000000 --runs 30]`
//! (`--shape NAME` runs one shape only, for a profiler).
//!
//! Not a test: `harness = false`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: fail loudly

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ctnetlink::{Conn, Counters, Family, Tuple};
use nfctd::table::query::{render, run, Context, Filter, FilterSpec, FilterValue, Order};
use nfctd::table::{Row, Snapshot};

/// A small deterministic generator (xorshift64*), so every run sees the same table.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const NOW: u64 = 10_000_000;

/// A gateway-like table: 90% of rows from 198.19.0.0/16, 9% from
/// 198.18.0.0/16, 1% IPv6; TCP (half of it to port 443), UDP, ICMP; counters,
/// rates and timeouts spread wide, with many ties.
pub fn table(n: usize) -> Snapshot {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let rows = (0..n)
        .map(|i| {
            let pick = rng.below(100);
            let (src, dst): (IpAddr, IpAddr) = if pick < 90 {
                (
                    Ipv4Addr::from(0xc613_0000 | rng.below(1 << 16) as u32).into(),
                    Ipv4Addr::from(0x0a00_0000 | rng.below(1 << 20) as u32).into(),
                )
            } else if pick < 99 {
                (
                    Ipv4Addr::from(0x0a10_0000 | rng.below(1 << 16) as u32).into(),
                    Ipv4Addr::from(0xc612_0000 | rng.below(1 << 16) as u32).into(),
                )
            } else {
                (
                    Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, rng.below(1 << 16) as u16).into(),
                    Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1).into(),
                )
            };
            let l4proto = match rng.below(10) {
                0..=5 => 6,
                6..=8 => 17,
                _ => 1,
            };
            let sport = 1024 + rng.below(60000) as u16;
            let dport = if l4proto == 6 && rng.below(2) == 0 {
                443
            } else {
                rng.below(1024) as u16
            };
            let orig = Tuple {
                src,
                dst,
                sport,
                dport,
                ..Tuple::default()
            };
            let reply = Tuple {
                src: dst,
                dst: src,
                sport: dport,
                dport: sport,
                ..Tuple::default()
            };
            let mut conn = Conn::new(
                (i as u32).wrapping_mul(2_654_435_761),
                Family::of(&src),
                l4proto,
                orig,
                reply,
            );
            conn.timeout = rng.below(432_000) as u32;
            conn.proto_state = (l4proto == 6).then_some(3);
            conn.mark = rng.below(4) as u32;
            conn.counters = Some(Counters {
                orig_packets: rng.below(1000),
                orig_bytes: rng.below(1 << 30),
                repl_packets: rng.below(1000),
                repl_bytes: rng.below(1 << 30),
            });
            let rate = if rng.below(4) == 0 {
                rng.below(1_000_000) as f64 / 7.0
            } else {
                0.0
            };
            Arc::new(Row {
                deadline: NOW + u64::from(conn.timeout) * 1000,
                started_unix: 1_700_000_000 - rng.below(86_400),
                rate,
                sampled_bytes: 0,
                sampled_at: 0,
                conn,
            })
        })
        .collect();
    Snapshot {
        rows: Arc::new(rows),
        at: NOW,
        taken: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
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

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let mut entries = 1_000_000;
    let mut runs = 30;
    let mut only: Option<String> = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--entries" => {
                entries = it
                    .next()
                    .and_then(|v| v.replace('_', "").parse().ok())
                    .expect("--entries N")
            }
            "--runs" => runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--shape" => only = it.next(),
            _ => {}
        }
    }
    let t = Instant::now();
    let snapshot = table(entries);
    println!(
        "table of {entries} rows built in {:.1} s; {runs} runs per shape, 100 rows per page",
        t.elapsed().as_secs_f64()
    );
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>9}",
        "shape", "total", "p50 ms", "p99 ms", "max ms"
    );
    for shape in shapes() {
        if only.as_deref().is_some_and(|o| !shape.name.contains(o)) {
            continue;
        }
        let spec: FilterSpec = shape.filter.iter().cloned().collect();
        let order = Order::parse(shape.order_by, if shape.desc { "DESC" } else { "ASC" }).unwrap();
        let mut times = Vec::with_capacity(runs);
        let mut total = 0;
        for _ in 0..runs {
            let start = Instant::now();
            let filter = Filter::compile(&spec).unwrap();
            let ctx = Context::at(&snapshot);
            let page = run(&snapshot, &filter, &order, shape.start, 100, &ctx);
            let rendered: Vec<_> = page.rows.iter().map(|r| render(r, &ctx)).collect();
            std::hint::black_box(rendered);
            total = page.total;
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{:<34} {:>9} {:>9.1} {:>9.1} {:>9.1}",
            shape.name,
            total,
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times[times.len() - 1]
        );
    }
}
