//! The query engine alone, in process: `view`'s filter + sort + page + render
//! over a synthetic snapshot of any size (no kernel, no namespace, no limit
//! on entries), for each view shape of `table/gateway.rs`, with p50 and p99.
//!
//! Run: `cargo bench -p nfctd --bench query [-- --entries 1000000 --runs 30]`
//! (`--shape NAME` runs one shape only, for a profiler).
//!
//! Not a test: `harness = false`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: fail loudly

#[path = "table/gateway.rs"]
mod gateway;
#[path = "shared/percentile.rs"]
mod percentile;

use std::time::{Duration, Instant, SystemTime};

use ctnetlink::Counters;
use nfctd_table::query::{render, run, Context, Filter, FilterSpec, Order};
use nfctd_table::{Row, Snapshot};
use percentile::percentile;

/// The gateway table as mirrored rows, with counters, rates, ages and ids
/// the kernel would have given them.
fn table(n: usize) -> Snapshot {
    let mut rng = gateway::Rng(0x1234_5678_9abc_def1);
    let rows = gateway::gateway(n)
        .into_iter()
        .enumerate()
        .map(|(i, mut conn)| {
            conn.id = (i as u32).wrapping_mul(2_654_435_761);
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
            let deadline = NOW + u64::from(conn.timeout) * 1000;
            Row::fixture(conn, 1_700_000_000 - rng.below(86_400))
                .with_deadline(deadline)
                .with_rate(rate)
        })
        .collect();
    Snapshot::from_rows(
        rows,
        NOW,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    )
}

const NOW: u64 = 10_000_000;

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
    for shape in gateway::shapes() {
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
