//! nfctd against its peers, measured in one run; prints ratios, not absolute claims.
//!
//! Run: `cargo bench -p nfctd --bench table [-- --entries 200000 --runs 5]`;
//! `--entries 1000000,10000000` runs the whole bench once per size, `--churn 60`
//! adds the churn run, `--fill-only` fills, counts a dump and stops.
//! No root needed: the bench moves itself into a private user+net namespace (as root,
//! a net namespace alone), fills that namespace's conntrack table through ctnetlink
//! (`table/fill.rs`), and everything it spawns — `conntrack`, `python3`, the `nfctd`
//! binary — lives there too. As root it first raises the global hash size and
//! nf_conntrack_max for the size asked and restores them at the end (`table/kernel.rs`).
//!
//! What it measures (targets in brackets; the 1M target first, then 10M where they differ;
//! docs/benchmarks.md has the results):
//! 0. the fill: entries a dump returns, refusals by errno;
//! 1. dump + decode into the mirror's `RowSet` vs `conntrack -L > /dev/null` [≤ 0.5×];
//! 2. heap bytes per entry of a `RowSet` plus one published snapshot, via a
//!    counting global allocator [≤ 300 B]; the dump's `Vec<Conn>` reported apart, and the
//!    growth after `Mirror::start` as a cross-check;
//!    2c/2d. the daemon's resident memory over an empty daemon's, after 3 refreshes and
//!    after every view shape [≤ 150 B];
//!    2e. its peak during a refresh over its steady state [≤ 1.25×];
//! 3. draining a backlog of conntrack events (create then delete a batch) with the
//!    mirror thread's own `table::drain_events` (read, decode, apply) [≥ 100,000 events/s];
//! 4. `view` over HTTP from the real daemon, filtered (`tcp`, `orig_dport` 443) and
//!    unfiltered, ordered by timeout DESC, 100 rows, vs `conntrack -L -p tcp --dport 443`
//!    [≥ 20× faster];
//!    4c. every view shape of `table/gateway.rs`, p50 and p99, each call a new
//!    page so the daemon's page cache cannot answer [≤ 25/50 ms; ≤ 100/200 ms];
//!    4e. from spawn to the first page served [≤ 1 s; ≤ 2 s];
//! 5. `refresh(sid)` (a full reconciliation) vs `conntrack -L` [≤ 0.5×];
//! 6. sequential `system.listMethods` calls/s vs Python's `SimpleXMLRPCServer` serving the
//!    same list, same client, keep-alive and `Connection: close` [≥ 10×];
//! 7. (to 9.) with `--churn SECS` (`table/churn.rs`): creates and deletes as fast as one thread
//!    drives them [≥ 50,000 events/s] while 20 clients view [p99 ≤ 300 ms], the mirror
//!    against a dump once quiet [the same ids and tuples]; the same churn against a
//!    64 KiB event buffer, for what an overflow's reconciliation costs;
//! 10. the daemon's memory after the view shapes under glibc malloc settings
//!     (`table/malloc.rs`) [≤ 150 B].
//!
//! `--load` runs the load scenario instead (`table/load.rs`). The table is the gateway-like
//! set of `table/gateway.rs`.
//!
//! Not a test: `harness = false`, and `cargo test` does not run benches.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: fail loudly

#[path = "table/alloc.rs"]
mod alloc;
#[path = "table/calls.rs"]
mod calls;
#[path = "table/churn.rs"]
mod churn;
/// The integration tests' bed: the daemon's start-up, the XML-RPC builders and
/// readers, the HTTP client. Shared by path rather than copied, so the bench
/// and the tests cannot drift apart.
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "table/events.rs"]
mod events;
#[path = "table/fill.rs"]
mod fill;
#[path = "table/gateway.rs"]
mod gateway;
#[path = "table/kernel.rs"]
mod kernel;
#[path = "table/load.rs"]
mod load;
#[path = "table/malloc.rs"]
mod malloc;
#[path = "shared/percentile.rs"]
mod percentile;
#[path = "table/python.rs"]
mod python;
#[path = "table/report.rs"]
mod report;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::http::Client;
use common::raw::{self, int, s, strukt};
use common::Daemon;
use ctnetlink::CtSocket;
use nfctd_table::query::FilterValue;
use nfctd_table::{Clock, Mirror, MirrorConfig, RowSet};
use percentile::percentile;
use report::Report;
use serde_json::Value as Json;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

#[derive(Debug)]
pub struct Args {
    /// Table sizes; with more than one, the bench runs itself once per size.
    entries: Vec<usize>,
    runs: usize,
    events: usize,
    /// Calls per view shape.
    view_runs: usize,
    /// The load scenario instead of the measurements (`--load`).
    load: bool,
    load_secs: u64,
    clients: usize,
    /// Changes per second in the load scenario (`--load-rate`).
    load_rate: usize,
    /// Seconds of the churn run (`--churn`), 0 for none.
    churn: u64,
    /// Fill, count the dump and stop (`--fill-only`).
    fill_only: bool,
}

fn args() -> Args {
    let mut a = Args {
        entries: vec![200_000],
        runs: 5,
        events: 100_000,
        view_runs: 30,
        load: false,
        load_secs: 60,
        clients: 100,
        load_rate: 4000,
        churn: 0,
        fill_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut text = || inline.clone().or_else(|| it.next()).unwrap_or_default();
        let number = |name: &str, v: &str| -> usize {
            v.replace('_', "")
                .parse()
                .unwrap_or_else(|_| panic!("{name} needs a number, got {v:?}"))
        };
        let mut value = |name: &str| number(name, &text());
        match name.as_str() {
            "--entries" => {
                let list = text();
                a.entries = list.split(',').map(|v| number("--entries", v)).collect();
            }
            "--runs" => a.runs = value("--runs").max(1),
            "--events" => a.events = value("--events").max(2),
            "--view-runs" => a.view_runs = value("--view-runs").max(1),
            "--load" => a.load = true,
            "--load-secs" => a.load_secs = value("--load-secs") as u64,
            "--clients" => a.clients = value("--clients").max(1),
            "--load-rate" => a.load_rate = value("--load-rate"),
            "--churn" => a.churn = value("--churn") as u64,
            "--fill-only" => a.fill_only = true,
            _ => {} // `--bench` from cargo, filters: ignored
        }
    }
    a
}

/// Resident memory of a process, KiB (VmRSS).
pub fn rss_kib(pid: i32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// A KiB line of /proc/PID/status (`VmRSS:`, `VmHWM:`).
pub fn status_kib(pid: i32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Times each call; returns the sorted times and the last answer.
fn timed(client: &mut Client, bodies: impl Iterator<Item = String>) -> (Vec<f64>, String) {
    let mut last = String::new();
    let mut times: Vec<f64> = bodies
        .map(|body| {
            let (t, r) = time(|| client.call(&body).expect("call"));
            last = r;
            t
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times, last)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed().as_secs_f64(), out)
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn ms(s: f64) -> String {
    format!("{:.1} ms", s * 1e3)
}

/// Median wall time of `conntrack ARGS > /dev/null` over `runs`, or None without the tool.
fn conntrack(args: &[&str], runs: usize) -> Option<f64> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let (t, status) = time(|| {
            Command::new("conntrack")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
        });
        match status {
            Ok(s) if s.success() => times.push(t),
            Ok(s) => {
                eprintln!("conntrack {args:?} failed ({s}); skipping that comparison");
                return None;
            }
            Err(e) => {
                eprintln!("cannot run `conntrack` ({e}): install it with `apt-get install conntrack`; skipping that comparison");
                return None;
            }
        }
    }
    Some(median(times))
}

/// Lines `conntrack ARGS` prints (one per entry), untimed, for a sanity check.
fn conntrack_count(args: &[&str]) -> Option<usize> {
    let out = Command::new("conntrack")
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    Some(
        out.stdout
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
    )
}

fn main() {
    let a = args();
    if a.entries.len() > 1 {
        // One process per size: each its own namespace, table and limits.
        for entries in &a.entries {
            let mut argv: Vec<String> = std::env::args().skip(1).collect();
            for (i, arg) in argv.clone().iter().enumerate() {
                if arg == "--entries" {
                    argv[i + 1] = entries.to_string();
                } else if arg.starts_with("--entries=") {
                    argv[i] = format!("--entries={entries}");
                }
            }
            let status = Command::new(std::env::current_exe().expect("the bench's path"))
                .args(argv)
                .status()
                .expect("the bench again");
            assert!(status.success(), "the run with {entries} entries failed");
            println!();
        }
        return;
    }
    let entries = a.entries[0];
    // Before any thread exists: the guard is a fork, and the kernel refuses
    // a new user namespace to a threaded process.
    let guard = kernel::raise(entries);
    let namespace = kernel::enter_namespace();
    let route = socket2::Socket::new(
        socket2::Domain::from(libc::AF_NETLINK),
        socket2::Type::RAW,
        Some(socket2::Protocol::from(libc::NETLINK_ROUTE)),
    )
    .expect("NETLINK_ROUTE socket");
    netns::setup_loopback(&route.into(), &[]).expect("loopback up");
    // Many short-lived loopback connections in the Connection: close runs.
    let _ = netns::set_sysctl("net/ipv4/ip_local_port_range", "1024 65000");

    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = netns::sysctl("kernel/osrelease").unwrap_or_default();
    let peer_version = Command::new("conntrack")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "missing (apt-get install conntrack)".into());
    println!("nfctd table benchmark");
    println!(
        "entries: {entries}   cores: {cores}   kernel: {}   peer: {peer_version}   runs: {}   {namespace}",
        kernel.trim(),
        a.runs
    );

    // Every entry announces its end (DESTROY), as entries made while the
    // daemon listens do; with the default (2) the fill's entries, made before
    // any listener, would end silently and only a reconciliation would see it.
    netns::set_sysctl("net/netfilter/nf_conntrack_events", "1").expect("nf_conntrack_events");
    let mut ct = CtSocket::open().expect("ctnetlink socket");
    if a.fill_only {
        fill::fill(&mut ct, entries);
        if let Some(guard) = guard {
            guard.restore();
        }
        return;
    }

    // The daemon over an empty table: the base its resident memory grows from.
    let empty_rss = {
        let daemon = Daemon::spawn(&["--listen", "127.0.0.1:0", "--resync-interval", "0"]);
        let mut client = Client::new(daemon.addr, true);
        let sid = answer(&client.call(&raw::call("login", &[])).expect("login"));
        let sid = s(sid.as_str().expect("a session id"));
        for _ in 0..3 {
            client
                .call(&raw::call("refresh", std::slice::from_ref(&sid)))
                .expect("refresh");
        }
        rss_kib(daemon.pid().as_raw())
    };

    let filled = fill::fill(&mut ct, entries);
    let (n, max) = (filled.entries, filled.max);
    if n < entries {
        println!("note: the numbers below are for {n} entries, not {entries}");
    }
    if a.load {
        load::run(&a, n, empty_rss);
        if let Some(guard) = guard {
            guard.restore();
        }
        return;
    }
    let mut report = Report::default();
    filled.line(&mut report);
    let clock = Clock::new();
    let hidden: nfctd_table::Hidden = Arc::new(|_| false);

    // 1 + 2: the mirror's reconciliation path — the dump streamed into a new
    // RowSet while the kernel fills the next datagram — timed and weighed.
    let (mut dump_times, mut receive_times) = (Vec::new(), Vec::new());
    let mut rows = RowSet::new(Arc::clone(&hidden));
    let (mut dump_bytes, mut rowset_bytes, mut peak_bytes) = (0, 0, 0);
    for _ in 0..a.runs {
        // Receive + decode alone: the floor the kernel's dump work sets.
        let before = alloc::live();
        let (t, dump) = time(|| ct.dump_all().expect("dump"));
        receive_times.push(t);
        dump_bytes = alloc::live() - before;
        drop(dump);

        drop(std::mem::replace(
            &mut rows,
            RowSet::new(Arc::clone(&hidden)),
        ));
        let before = alloc::live();
        alloc::reset_peak();
        let start = Instant::now();
        rows.replace_with(clock.now(), unix_now(), |sink| ct.dump(sink).map(|_| ()))
            .expect("dump");
        dump_times.push(start.elapsed().as_secs_f64());
        rowset_bytes = alloc::live() - before;
        peak_bytes = alloc::peak() - before;
    }
    let base_rows = rows.len();
    assert_eq!(
        base_rows, n,
        "every dumped entry has a row, shared ids included"
    );
    let before_snapshot = alloc::live();
    let snapshot = rows.snapshot(clock.now(), std::time::SystemTime::now());
    let snapshot_bytes = alloc::live() - before_snapshot;
    let t_dump = median(dump_times);
    let t_receive = median(receive_times);

    let t_list = conntrack(&["-L"], a.runs);
    report.time_ratio(
        "1. dump streamed into RowSet (vs conntrack -L)",
        t_dump,
        t_list,
        0.5,
    );
    report.info(
        "   receive + decode alone (dump_all)",
        ms(t_receive),
        "-".into(),
    );
    let per = |bytes: usize| bytes as f64 / base_rows as f64;
    let held = per(rowset_bytes + snapshot_bytes);
    report.push(
        "2. heap/entry: RowSet + snapshot",
        format!("{held:.0} B"),
        "-".into(),
        "-".into(),
        "≤ 300 B".into(),
        if held <= 300.0 { "PASS" } else { "FAIL" },
    );
    report.info(
        "   of which RowSet / snapshot",
        format!("{:.0} B / {:.0} B", per(rowset_bytes), per(snapshot_bytes)),
        "-".into(),
    );
    report.info(
        "   transient: dump_all Vec<Conn> / peak in replace",
        format!("{:.0} B / {:.0} B", per(dump_bytes), per(peak_bytes)),
        "-".into(),
    );
    drop(snapshot);

    // 3: backlogs of events, drained with decode + apply.
    match events::event_backlogs(&mut ct, &mut rows, &clock, n, max as usize, a.events) {
        Ok(run) => {
            let rate = run.total() as f64 / run.seconds;
            report.push(
                "3. events drained (decode + apply)",
                format!("{rate:.0}/s"),
                "-".into(),
                "-".into(),
                "≥ 100000/s".into(),
                if rate >= 100_000.0 { "PASS" } else { "FAIL" },
            );
            report.info(
                "   events: new / destroy / update / bad",
                format!(
                    "{} / {} / {} / {} in {} ({} backlogs of ≤ {}, rcvbuf {} KiB)",
                    run.new,
                    run.destroyed,
                    run.updated,
                    run.malformed,
                    ms(run.seconds),
                    run.backlogs,
                    run.batch,
                    run.rcvbuf / 1024
                ),
                "-".into(),
            );
        }
        Err(e) => report.push(
            "3. events drained",
            e,
            "-".into(),
            "-".into(),
            "≥ 100000/s".into(),
            "FAIL",
        ),
    }
    if rows.len() != base_rows {
        println!(
            "note: after the events the row set holds {} rows, not {base_rows} (an event id collided with a row's id)",
            rows.len()
        );
    }
    drop(rows);

    // 4-6: the real daemon over HTTP.
    let t_filtered = conntrack(&["-L", "-p", "tcp", "--dport", "443"], a.runs);
    let filtered_count = conntrack_count(&["-L", "-p", "tcp", "--dport", "443"]);
    // 4e: from spawn to the first page served (the daemon loads the table
    // before it listens).
    let spawned = Instant::now();
    let daemon = Daemon::spawn(&["--listen", "127.0.0.1:0", "--resync-interval", "0"]);
    let listening = spawned.elapsed().as_secs_f64();
    let addr = daemon.addr;
    let mut client = Client::new(addr, true);
    let sid = answer(&client.call(&raw::call("login", &[])).expect("login"));
    let sid = s(sid.as_str().expect("a session id"));
    let first_page = raw::call(
        "view",
        &[
            sid.clone(),
            strukt(&[]),
            s("id"),
            s("ASC"),
            int(0),
            int(100),
        ],
    );
    while client
        .call(&first_page)
        .map_or(true, |r| r.contains("<name>faultCode</name>"))
    {
        assert!(
            spawned.elapsed() < Duration::from_secs(300),
            "no page within 5 minutes of the start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let t_first = spawned.elapsed().as_secs_f64();
    let first_max = if n > 1_000_000 { 2.0 } else { 1.0 };
    report.check(
        "4e. first page served after spawn",
        format!("{t_first:.2} s"),
        format!("listening after {listening:.2} s"),
        format!("≤ {first_max} s"),
        t_first <= first_max,
    );
    // 2c: resident memory of the daemon over the empty one, after refreshes.
    for _ in 0..3 {
        client
            .call(&raw::call("refresh", std::slice::from_ref(&sid)))
            .expect("refresh");
    }
    let pid = daemon.pid().as_raw();
    let full_rss = rss_kib(pid);
    let growth = |rss: u64| (rss.saturating_sub(empty_rss) * 1024) as f64 / n as f64;
    let per_entry = growth(full_rss);
    report.check(
        "2c. daemon RSS growth per entry (3 refreshes)",
        format!("{per_entry:.0} B"),
        format!(
            "{} MiB over {} MiB empty",
            full_rss / 1024,
            empty_rss / 1024
        ),
        "≤ 150 B".into(),
        per_entry <= 150.0,
    );
    // 2e: the peak of one reconciliation over the steady state: the kernel's
    // high-water mark (VmHWM), reset first (clear_refs 5).
    let steady = rss_kib(pid);
    let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    client
        .call(&raw::call("refresh", std::slice::from_ref(&sid)))
        .expect("refresh");
    let peak = status_kib(pid, "VmHWM:");
    let over = peak as f64 / steady as f64;
    report.check(
        "2e. peak RSS in a refresh over steady",
        format!("{over:.2}×"),
        format!(
            "{} MiB peak, {} MiB steady{}",
            peak / 1024,
            steady / 1024,
            if reset {
                ""
            } else {
                " (VmHWM not reset: since start)"
            }
        ),
        "≤ 1.25×".into(),
        over <= 1.25,
    );
    let view = |filters: String, order_by: &str, dir: &str, start: i64| {
        raw::call(
            "view",
            &[
                sid.clone(),
                filters,
                s(order_by),
                s(dir),
                int(start),
                int(100),
            ],
        )
    };
    let filtered = view(
        strukt(&[("proto", s("tcp")), ("orig_dport", int(443))]),
        "timeout",
        "DESC",
        0,
    );
    let unfiltered = view(strukt(&[]), "timeout", "DESC", 0);
    timed(&mut client, std::iter::repeat_n(filtered.clone(), 2)); // warm-up
                                                                  // Each call a page one row further on: never answered from the page cache.
    let cold = |client: &mut Client, filter: &str, count: usize| {
        timed(
            client,
            (1..=count).map(|i| view(filter.to_string(), "timeout", "DESC", i as i64)),
        )
    };
    let tcp443 = strukt(&[("proto", s("tcp")), ("orig_dport", int(443))]);
    let (times, last) = cold(&mut client, &tcp443, 20);
    let t_view = median(times);
    let total = answer(&last)["total"].as_i64();
    let (times, answer_all) = cold(&mut client, &strukt(&[]), 20);
    let t_view_all = median(times);
    report.speedup(
        "4. view tcp dport 443, timeout DESC, 100 rows",
        ms(t_view),
        t_filtered.map(|t| format!("{} (-L -p tcp --dport 443)", ms(t))),
        t_filtered.map(|t| t / t_view),
        20.0,
    );
    report.info(
        "   matches: view total / conntrack lines",
        format!(
            "{} / {}",
            total.unwrap_or(-1),
            filtered_count.map_or("-".into(), |c| c.to_string())
        ),
        "-".into(),
    );
    report.speedup(
        "4b. view no filter, timeout DESC, 100 rows",
        ms(t_view_all),
        t_list.map(|t| format!("{} (-L)", ms(t))),
        t_list.map(|t| t / t_view_all),
        20.0,
    );
    report.info(
        "   view total (no filter)",
        answer(&answer_all)["total"]
            .as_i64()
            .unwrap_or(-1)
            .to_string(),
        "-".into(),
    );
    // 4c: every view shape of `gateway`, p50 and p99 over HTTP.
    let (p50_max, p99_max) = if n > 1_000_000 {
        (0.100, 0.200)
    } else {
        (0.025, 0.050)
    };
    for shape in gateway::shapes() {
        let dir = if shape.desc { "DESC" } else { "ASC" };
        let filter = shape_filter(&shape);
        let body = view(filter.clone(), shape.order_by, dir, shape.start as i64);
        timed(&mut client, std::iter::repeat_n(body.clone(), 1)); // warm-up
                                                                  // Each call asks for a page one row further on: a question the
                                                                  // daemon's page cache has not seen, so every call computes.
        let (times, last) = timed(
            &mut client,
            (1..=a.view_runs).map(|i| {
                view(
                    filter.clone(),
                    shape.order_by,
                    dir,
                    (shape.start + i) as i64,
                )
            }),
        );
        let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
        report.check(
            &format!("4c. view {}", shape.name),
            format!("p50 {} p99 {}", ms(p50), ms(p99)),
            format!(
                "{} rows match",
                answer(&last)["total"].as_i64().unwrap_or(-1)
            ),
            format!("p50 ≤ {}, p99 ≤ {}", ms(p50_max), ms(p99_max)),
            p50 <= p50_max && p99 <= p99_max,
        );
    }
    // 4d: the same question again and again: answered from the page cache.
    let (times, _) = timed(&mut client, std::iter::repeat_n(unfiltered.clone(), 20));
    report.info(
        "4d. view repeated (page cache), timeout DESC",
        format!(
            "p50 {} p99 {}",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99))
        ),
        "-".into(),
    );
    let viewed_rss = rss_kib(pid);
    let per_entry = growth(viewed_rss);
    report.check(
        "2d. daemon RSS growth per entry after the views",
        format!("{per_entry:.0} B"),
        format!("{} MiB", viewed_rss / 1024),
        "≤ 150 B".into(),
        per_entry <= 150.0,
    );
    let refresh = raw::call("refresh", std::slice::from_ref(&sid));
    let (times, _) = timed(&mut client, std::iter::repeat_n(refresh.clone(), a.runs));
    let t_refresh = median(times);
    report.time_ratio(
        "5. refresh(sid) over HTTP (vs conntrack -L)",
        t_refresh,
        t_list,
        0.5,
    );

    // 6: the same small document from both servers, the same client and request.
    let list_call = raw::call("system.listMethods", &[]);
    let names = method_names(&client.call(&list_call).expect("listMethods"));
    let python = python::start_python(&names, "HTTP/1.1");
    if let Err(e) = &python {
        eprintln!(
            "cannot start python3's SimpleXMLRPCServer ({e}); skipping the small-call comparison"
        );
    }
    for keep_alive in [true, false] {
        let mode = if keep_alive {
            "keep-alive"
        } else {
            "Connection: close"
        };
        let ours = calls::rate(addr, keep_alive, &list_call);
        let peer = python.as_ref().ok().map(|(_, py)| {
            // A fresh connection, closed at once: the Python server is single-threaded and
            // would otherwise wait on this idle keep-alive connection.
            let mut c = Client::new(*py, false);
            let same = method_names(&c.call(&list_call).expect("python listMethods"));
            assert_eq!(same, names, "both servers answer the same document");
            drop(c);
            calls::rate(*py, keep_alive, &list_call)
        });
        report.speedup(
            &format!("6. system.listMethods calls/s, {mode}"),
            format!("{ours:.0}/s"),
            peer.map(|p| format!("{p:.0}/s (python3 SimpleXMLRPCServer)")),
            peer.map(|p| ours / p),
            10.0,
        );
    }
    // 6c: several clients at once, each asking for keep-alive. Python's
    // server in its stdlib default (HTTP/1.0) closes after every call, which
    // is how it serves several clients; nfctd keeps the connections.
    let clients = 8;
    let ours = calls::rate_concurrent(addr, clients, &list_call);
    let python10 = python::start_python(&names, "HTTP/1.0");
    let peer = python10
        .as_ref()
        .ok()
        .map(|(_, py)| calls::rate_concurrent(*py, clients, &list_call));
    drop(python10);
    report.speedup(
        &format!("6c. system.listMethods calls/s, {clients} clients"),
        format!("{ours:.0}/s"),
        peer.map(|p| format!("{p:.0}/s (python3 SimpleXMLRPCServer, HTTP/1.0)")),
        peer.map(|p| ours / p),
        10.0,
    );
    // 6w: the same with wrk (`apt-get install wrk`), whose C client leaves
    // more of the two cores to the servers than the client threads above.
    let python10 = python::start_python(&names, "HTTP/1.0");
    match (
        calls::wrk_rate(addr, &list_call),
        python10
            .as_ref()
            .ok()
            .and_then(|(_, py)| calls::wrk_rate(*py, &list_call)),
    ) {
        (Some(ours), Some(peer)) => report.speedup(
            "6w. system.listMethods calls/s, wrk -c8",
            format!("{ours:.0}/s"),
            Some(format!(
                "{peer:.0}/s (python3 SimpleXMLRPCServer, HTTP/1.0)"
            )),
            Some(ours / peer),
            10.0,
        ),
        _ => println!("note: wrk not found or failed (apt-get install wrk): row 6w skipped"),
    }
    drop(python10);
    drop(python);
    drop(daemon);

    // 7-9: churn, overflow recovery; 10: malloc settings and memory after views.
    if a.churn > 0 {
        churn::run(&mut report, n, a.churn, &mut churn::Pool::after(entries));
    }
    malloc::run(&mut report, n, empty_rss);

    // 2b: the real mirror, started in-process (its thread lives until the bench exits).
    let before = alloc::live();
    let (t_start, mirror) = time(|| {
        Mirror::start(MirrorConfig {
            resync_interval: None,
            hidden,
            event_buffer: 32 << 20,
            reliable_events: false,
            observer: None,
        })
        .expect("mirror")
    });
    let grown = alloc::live().saturating_sub(before);
    report.info(
        "2b. heap/entry after Mirror::start (+published)",
        format!(
            "{:.0} B ({} rows, start {})",
            per(grown),
            mirror.snapshot().len(),
            ms(t_start)
        ),
        "-".into(),
    );

    println!();
    report.print();
    println!();
    println!("times are medians ({} runs for conntrack, dump and refresh; 20 for view); heap counted by a global allocator (requested sizes, not malloc overhead)", a.runs);
    if let Some(guard) = guard {
        guard.restore();
    }
}

/// A view shape's filter as an XML-RPC struct.
pub fn shape_filter(shape: &gateway::Shape) -> String {
    let members: Vec<(&str, String)> = shape
        .filter
        .iter()
        .map(|(k, v)| {
            let value = match v {
                FilterValue::Int(i) => int(*i),
                FilterValue::Text(t) => s(t),
                other => panic!("no such bench filter value {other:?}"),
            };
            (*k, value)
        })
        .collect();
    strukt(&members)
}

/// The value of an XML-RPC response (a fault already failed the call).
fn answer(body: &str) -> Json {
    raw::parse_response(body).ok()
}

/// The names a `system.listMethods` response lists.
fn method_names(body: &str) -> Vec<String> {
    answer(body)
        .as_array()
        .expect("an array of names")
        .iter()
        .map(|n| n.as_str().expect("a name").to_string())
        .collect()
}
