//! nfctd against its peers, measured in one run; prints ratios, not absolute claims.
//!
//! Run: `cargo bench -p nfctd --bench table [-- --entries 200000 --runs 5]`
//! (no root needed: the bench moves itself into a private user+net namespace first,
//! fills that namespace's conntrack table with synthetic entries through ctnetlink, and
//! everything it spawns — `conntrack`, `python3`, the `nfctd` binary — lives there too).
//!
//! What it measures (targets in brackets; docs/benchmarks.md has the results):
//! 1. dump + decode into the mirror's `RowSet` vs `conntrack -L > /dev/null` [≤ 0.5×];
//! 2. heap bytes per entry of a `RowSet` plus one published snapshot, via a
//!    counting global allocator [≤ 300 B]; the dump's `Vec<Conn>` reported apart, and the
//!    growth after `Mirror::start` as a cross-check;
//! 3. draining a backlog of conntrack events (create then delete a batch) with the
//!    mirror thread's own `table::drain_events` (read, decode, apply) [≥ 100,000 events/s];
//! 4. `view` over HTTP from the real daemon, filtered (`tcp`, `orig_dport` 443) and
//!    unfiltered, ordered by timeout DESC, 100 rows, vs `conntrack -L -p tcp --dport 443`
//!    [≥ 20× faster];
//!    4c. every view shape of `table/gateway.rs`, p50 and p99, each call a new
//!    page so the daemon's page cache cannot answer [p50 ≤ 50 ms, p99 ≤ 100 ms];
//!    2c. the daemon's resident memory over an empty daemon's, after 3 refreshes [≤ 250 B];
//! 5. `refresh(sid)` (a full reconciliation) vs `conntrack -L` [≤ 0.5×];
//! 6. sequential `system.listMethods` calls/s vs Python's `SimpleXMLRPCServer` serving the
//!    same list, same client, keep-alive and `Connection: close` [≥ 10×].
//!
//! `--load` runs the load scenario instead (`table/load.rs`). The table is the gateway-like
//! set of `table/gateway.rs`; as root the bench first raises the global nf_conntrack_max.
//!
//! Not a test: `harness = false`, and `cargo test` does not run benches.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: fail loudly

#[path = "table/alloc.rs"]
mod alloc;
/// The integration tests' bed: the daemon's start-up, the XML-RPC builders and
/// readers, the HTTP client. Shared by path rather than copied, so the bench
/// and the tests cannot drift apart.
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "table/gateway.rs"]
mod gateway;
#[path = "table/load.rs"]
mod load;
#[path = "shared/percentile.rs"]
mod percentile;
#[path = "table/python.rs"]
mod python;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::http::Client;
use common::raw::{self, int, s, strukt};
use common::Daemon;
use ctnetlink::{ConnKey, CtSocket, EventSocket};
use nfctd_table::query::FilterValue;
use nfctd_table::{drain_events, Clock, Mirror, MirrorConfig, RowSet};
use percentile::percentile;
use serde_json::Value as Json;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

#[derive(Debug)]
pub struct Args {
    entries: usize,
    runs: usize,
    events: usize,
    /// Calls per view shape.
    view_runs: usize,
    /// The load scenario instead of the measurements (`--load`).
    load: bool,
    load_secs: u64,
    clients: usize,
    churn: usize,
}

fn args() -> Args {
    let mut a = Args {
        entries: 200_000,
        runs: 5,
        events: 100_000,
        view_runs: 30,
        load: false,
        load_secs: 60,
        clients: 100,
        churn: 4000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = |name: &str| -> usize {
            inline
                .clone()
                .or_else(|| it.next())
                .and_then(|v| v.replace('_', "").parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match name.as_str() {
            "--entries" => a.entries = value("--entries"),
            "--runs" => a.runs = value("--runs").max(1),
            "--events" => a.events = value("--events").max(2),
            "--view-runs" => a.view_runs = value("--view-runs").max(1),
            "--load" => a.load = true,
            "--load-secs" => a.load_secs = value("--load-secs") as u64,
            "--clients" => a.clients = value("--clients").max(1),
            "--churn" => a.churn = value("--churn"),
            _ => {} // `--bench` from cargo, filters: ignored
        }
    }
    a
}

/// Resident memory of a process, KiB (VmRSS).
pub fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// `nf_conntrack_max` is global: only root in the initial namespace may
/// raise it, so the bench tries before it enters its own namespace. Without
/// root the table stops at the limit and the bench says so.
fn raise_conntrack_max(entries: usize) {
    let name = "net/netfilter/nf_conntrack_max";
    let current: usize = netns::sysctl(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let wanted = entries + entries / 4 + 10_000;
    if current >= wanted {
        return;
    }
    match netns::set_sysctl(name, &wanted.to_string()) {
        Ok(()) => println!("nf_conntrack_max raised from {current} to {wanted}"),
        Err(e) => {
            // The line names the sysctl already: the cause alone.
            let e =
                std::error::Error::source(&e).map_or_else(|| e.to_string(), ToString::to_string);
            println!(
                "nf_conntrack_max is {current} and cannot be raised here ({e}): run as root, or `sysctl -w net.netfilter.nf_conntrack_max={wanted}` first"
            )
        }
    }
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

fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed().as_secs_f64(), out)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn ms(s: f64) -> String {
    format!("{:.1} ms", s * 1e3)
}

/// One line of the result table.
struct Line {
    what: String,
    value: String,
    peer: String,
    ratio: String,
    target: String,
    verdict: &'static str,
}

#[derive(Default)]
struct Report {
    lines: Vec<Line>,
}

impl Report {
    fn info(&mut self, what: &str, value: String, peer: String) {
        self.push(what, value, peer, "-".into(), "-".into(), "");
    }

    fn push(
        &mut self,
        what: &str,
        value: String,
        peer: String,
        ratio: String,
        target: String,
        verdict: &'static str,
    ) {
        self.lines.push(Line {
            what: what.into(),
            value,
            peer,
            ratio,
            target,
            verdict,
        });
    }

    /// Our time against the peer's time; passes when ours/peer ≤ `max`.
    fn time_ratio(&mut self, what: &str, ours: f64, peer: Option<f64>, max: f64) {
        match peer {
            Some(p) => {
                let r = ours / p;
                let ok = if r <= max { "PASS" } else { "FAIL" };
                self.push(
                    what,
                    ms(ours),
                    ms(p),
                    format!("{r:.3}×"),
                    format!("≤ {max}×"),
                    ok,
                );
            }
            None => self.push(
                what,
                ms(ours),
                "(no conntrack)".into(),
                "-".into(),
                format!("≤ {max}×"),
                "SKIP",
            ),
        }
    }

    /// How many times faster we are than the peer (peer time / our time, or our rate / peer rate).
    fn speedup(
        &mut self,
        what: &str,
        value: String,
        peer: Option<String>,
        speedup: Option<f64>,
        min: f64,
    ) {
        match (peer, speedup) {
            (Some(p), Some(s)) => {
                let ok = if s >= min { "PASS" } else { "FAIL" };
                self.push(
                    what,
                    value,
                    p,
                    format!("{s:.1}× faster"),
                    format!("≥ {min}× faster"),
                    ok,
                );
            }
            _ => self.push(
                what,
                value,
                "(no peer)".into(),
                "-".into(),
                format!("≥ {min}× faster"),
                "SKIP",
            ),
        }
    }

    fn print(&self) {
        let headers = ["measurement", "nfctd", "peer", "ratio", "target", ""];
        let rows: Vec<[&str; 6]> = self
            .lines
            .iter()
            .map(|l| {
                [
                    l.what.as_str(),
                    &l.value,
                    &l.peer,
                    &l.ratio,
                    &l.target,
                    l.verdict,
                ]
            })
            .collect();
        let mut widths = headers.map(|h| h.chars().count());
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: [&str; 6]| {
            let text: Vec<String> = cells
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
                .collect();
            println!("{}", text.join(" | ").trim_end());
        };
        line(headers);
        println!("{}", widths.map(|w| "-".repeat(w)).join("-+-"));
        for r in rows {
            line(r);
        }
    }
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
    raise_conntrack_max(a.entries);
    // Before any thread exists: the kernel refuses a new user namespace to a threaded process.
    netns::enter_private().expect("private user+net namespace (unshare)");
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
        "entries: {}   cores: {cores}   kernel: {}   peer: {peer_version}   runs: {}",
        a.entries,
        kernel.trim(),
        a.runs
    );

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

    let mut ct = CtSocket::open().expect("ctnetlink socket");
    let fixtures = gateway::gateway(a.entries);
    let (t_fill, result) = time(|| ct.create_many(&fixtures).expect("create_many"));
    let (refused, first) = result;
    drop(fixtures);
    let (count, max) = ct.global_counts().expect("conntrack counts");
    println!(
        "filled: {count} entries (limit {max}) in {}{}",
        ms(t_fill),
        if refused > 0 {
            format!(", {refused} refused: {first:?}")
        } else {
            String::new()
        }
    );
    let n = count as usize;
    if n < a.entries {
        println!(
            "note: the table holds {n} entries, not {}: nf_conntrack_max ({max}) is global and only root in the initial namespace can raise it (sysctl -w net.netfilter.nf_conntrack_max={}); the numbers below are for {n} entries",
            a.entries, a.entries
        );
    }
    if a.load {
        load::run(&a, n, empty_rss);
        return;
    }
    let mut report = Report::default();
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
    match event_backlogs(&mut ct, &mut rows, &clock, n, max as usize, a.events) {
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
    let daemon = Daemon::spawn(&["--listen", "127.0.0.1:0", "--resync-interval", "0"]);
    let addr = daemon.addr;
    let mut client = Client::new(addr, true);
    let sid = answer(&client.call(&raw::call("login", &[])).expect("login"));
    let sid = s(sid.as_str().expect("a session id"));
    // 2c: resident memory of the daemon over the empty one, after refreshes.
    for _ in 0..3 {
        client
            .call(&raw::call("refresh", std::slice::from_ref(&sid)))
            .expect("refresh");
    }
    let full_rss = rss_kib(daemon.pid().as_raw());
    let per_entry = (full_rss.saturating_sub(empty_rss) * 1024) as f64 / n as f64;
    report.push(
        "2c. daemon RSS growth per entry (3 refreshes)",
        format!("{per_entry:.0} B"),
        format!(
            "{} MiB over {} MiB empty",
            full_rss / 1024,
            empty_rss / 1024
        ),
        "-".into(),
        "≤ 250 B".into(),
        if per_entry <= 250.0 { "PASS" } else { "FAIL" },
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
    for shape in gateway::shapes() {
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
        let dir = if shape.desc { "DESC" } else { "ASC" };
        let filter = strukt(&members);
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
        let ok = p50 <= 0.050 && p99 <= 0.100;
        report.push(
            &format!("4c. view {}", shape.name),
            format!("p50 {} p99 {}", ms(p50), ms(p99)),
            format!(
                "{} rows match",
                answer(&last)["total"].as_i64().unwrap_or(-1)
            ),
            "-".into(),
            "p50 ≤ 50 ms, p99 ≤ 100 ms".into(),
            if ok { "PASS" } else { "FAIL" },
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
    report.info(
        "   daemon RSS after the views above",
        format!("{} MiB", rss_kib(daemon.pid().as_raw()) / 1024),
        "-".into(),
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
        let ours = rate(addr, keep_alive, &list_call);
        let peer = python.as_ref().ok().map(|(_, py)| {
            // A fresh connection, closed at once: the Python server is single-threaded and
            // would otherwise wait on this idle keep-alive connection.
            let mut c = Client::new(*py, false);
            let same = method_names(&c.call(&list_call).expect("python listMethods"));
            assert_eq!(same, names, "both servers answer the same document");
            drop(c);
            rate(*py, keep_alive, &list_call)
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
    let ours = rate_concurrent(addr, clients, &list_call);
    let python10 = python::start_python(&names, "HTTP/1.0");
    let peer = python10
        .as_ref()
        .ok()
        .map(|(_, py)| rate_concurrent(*py, clients, &list_call));
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
        wrk_rate(addr, &list_call),
        python10
            .as_ref()
            .ok()
            .and_then(|(_, py)| wrk_rate(*py, &list_call)),
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
}

#[derive(Default)]
struct EventRun {
    new: usize,
    destroyed: usize,
    updated: usize,
    malformed: usize,
    seconds: f64,
    backlogs: usize,
    batch: usize,
    rcvbuf: usize,
}

impl EventRun {
    fn total(&self) -> usize {
        self.new + self.destroyed + self.updated
    }
}

/// Builds backlogs of events on a subscribed socket without reading (create a batch of
/// entries, later delete them) and times draining each backlog with the mirror thread's
/// own `drain_events`,
/// until `target` events were drained. The batch fits the receive buffer the kernel
/// granted: SO_RCVBUFFORCE needs CAP_NET_ADMIN in the initial namespace, so inside a
/// private one the buffer stops at net.core.rmem_max (doubled). Halves on overflow.
fn event_backlogs(
    ct: &mut CtSocket,
    rows: &mut RowSet,
    clock: &Clock,
    n: usize,
    max: usize,
    target: usize,
) -> Result<EventRun, String> {
    let mut events = EventSocket::subscribe(256 << 20).map_err(|e| e.to_string())?;
    let rcvbuf = socket2::SockRef::from(&events)
        .recv_buffer_size()
        .map_err(|e| e.to_string())?;
    // About 1 KiB of buffer per event (skb overhead included), with a safety margin.
    let mut batch = (rcvbuf / 2048)
        .min(target / 2)
        .min(max.saturating_sub(n + 1000));
    let pool: Vec<_> = common::synthetic(n + batch).split_off(n);
    let mut run = EventRun {
        rcvbuf,
        ..EventRun::default()
    };
    while run.total() < target {
        if batch < 100 {
            return Err(format!("overflowed even with {batch}-entry batches"));
        }
        let extra = &pool[..batch];
        let (refused, first) = ct.create_many(extra).map_err(|e| e.to_string())?;
        if refused > 0 {
            return Err(format!("{refused} extra entries refused: {first:?}"));
        }
        let wanted: HashSet<_> = extra
            .iter()
            .map(|c| (c.family, c.l4proto, c.orig))
            .collect();
        let created = drain(&mut events, rows, clock, &mut run);
        let deleted = match created {
            Ok(()) => {
                // Untimed: the kernel's ids of the new entries, from the rows they made.
                let keys: Vec<ConnKey> = rows
                    .snapshot(0, std::time::SystemTime::now())
                    .iter()
                    .filter(|r| wanted.contains(&(r.family(), r.l4proto(), r.orig())))
                    .map(|r| r.key())
                    .collect();
                let (failed, first) = ct.delete_many(&keys).map_err(|e| e.to_string())?;
                if failed > 0 {
                    return Err(format!("{failed} deletes refused: {first:?}"));
                }
                drain(&mut events, rows, clock, &mut run)
            }
            Err(e) => Err(e),
        };
        run.backlogs += 2;
        run.batch = run.batch.max(batch);
        if let Err(e) = deleted {
            println!("events: {e} with a batch of {batch}; halving the batch");
            batch /= 2;
            // Remove what is left of the batch (by tuple: 32-bit ids may collide) and
            // settle the rows the lost events left behind.
            let dump = ct.dump_all().map_err(|e| e.to_string())?;
            let left: Vec<ConnKey> = dump
                .iter()
                .filter(|c| wanted.contains(&(c.family, c.l4proto, c.orig)))
                .map(|c| c.key())
                .collect();
            ct.delete_many(&left).map_err(|e| e.to_string())?;
            rows.replace(
                ct.dump_all().map_err(|e| e.to_string())?,
                clock.now(),
                unix_now(),
            );
            while matches!(events.recv(|_| {}), Ok(n) if n > 0) {}
        }
    }
    Ok(run)
}

/// Reads every waiting event into `rows` (timed into `run`), batch by batch, with the
/// function the mirror's thread runs.
fn drain(
    events: &mut EventSocket,
    rows: &mut RowSet,
    clock: &Clock,
    run: &mut EventRun,
) -> Result<(), String> {
    let start = Instant::now();
    let result = loop {
        match drain_events(events, rows, clock) {
            Ok(batch) => {
                run.new += batch.new;
                run.destroyed += batch.destroyed;
                run.updated += batch.updated;
                run.malformed += batch.malformed;
                if !batch.full() {
                    break Ok(());
                }
            }
            Err(e) => break Err(e.to_string()),
        }
    };
    run.seconds += start.elapsed().as_secs_f64();
    result
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

/// Sequential calls per second for about two seconds (capped to spare ephemeral ports).
fn rate(addr: SocketAddr, keep_alive: bool, body: &str) -> f64 {
    let mut client = Client::new(addr, keep_alive);
    for _ in 0..50 {
        client.call(body).expect("warm-up call");
    }
    let start = Instant::now();
    let mut done = 0u32;
    while start.elapsed() < Duration::from_secs(2) && (keep_alive || done < 25_000) {
        client.call(body).expect("call");
        done += 1;
    }
    f64::from(done) / start.elapsed().as_secs_f64()
}

/// Calls per second from `clients` threads asking for keep-alive (the server
/// may close anyway), for about two seconds.
fn rate_concurrent(addr: SocketAddr, clients: usize, body: &str) -> f64 {
    let start = Instant::now();
    let done: u32 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                scope.spawn(|| {
                    let mut client = Client::new(addr, true);
                    let mut done = 0u32;
                    while start.elapsed() < Duration::from_secs(2) && done < 100_000 {
                        client.call(body).expect("call");
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    f64::from(done) / start.elapsed().as_secs_f64()
}

/// Calls per second that `wrk -t2 -c8 -d3s` gets from the server, posting `body`.
fn wrk_rate(addr: SocketAddr, body: &str) -> Option<f64> {
    let dir = std::env::temp_dir().join(format!("nfctd-bench-wrk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let script = dir.join("post.lua");
    let lua = format!(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"text/xml\"\nwrk.body = [[{body}]]\n"
    );
    std::fs::write(&script, lua).ok()?;
    let out = std::process::Command::new("wrk")
        .args(["-t2", "-c8", "-d3s", "-s"])
        .arg(&script)
        .arg(format!("http://{addr}/RPC2"))
        .output()
        .ok()?;
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("Non-2xx") || text.contains("Socket errors: connect") {
        println!("note: wrk reported errors against {addr}:\n{text}");
    }
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}
