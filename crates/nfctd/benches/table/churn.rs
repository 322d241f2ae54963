//! `--churn SECS`: on the filled table, one thread creates and deletes entries
//! through ctnetlink as fast as it can while 20 clients call `view` over
//! HTTP; then, once the daemon is quiet, its table is compared with a kernel
//! dump. Also the cost of an event overflow: the same churn against a daemon
//! with a tiny event buffer, and its `overflows`/`resyncs`/resync time.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ctnetlink::{ConnKey, CtSocket};

use crate::common::http::Client;
use crate::common::raw::{self, int, s, strukt};
use crate::common::Daemon;
use crate::gateway::{self, Gateway};
use crate::report::Report;
use crate::{answer, ms, percentile};

/// The clients viewing during the churn.
const CLIENTS: usize = 20;
/// Rows per page when reading the daemon's whole table.
const PAGE: usize = 50_000;

/// The pool of new entries: the gateway set after the fill's `n`, so every
/// create is a tuple the table does not hold.
pub struct Pool(Gateway);

impl Pool {
    pub fn after(n: usize) -> Pool {
        let mut g = Gateway::new();
        g.by_ref().take(n).for_each(drop);
        Pool(g)
    }
}

/// What one churn phase saw.
struct Phase {
    /// Events/s driven with no viewers (0 when not measured).
    solo: f64,
    events: usize,
    refused: usize,
    seconds: f64,
    latencies: Vec<f64>,
    failed_views: usize,
    overflows: i64,
    resyncs: i64,
    resync_seconds: f64,
    quiet_after: f64,
    mismatch: Mismatch,
}

#[derive(Debug, Default)]
struct Mismatch {
    kernel: usize,
    daemon: usize,
    missing: usize,
    extra: usize,
}

impl Mismatch {
    fn exact(&self) -> bool {
        self.missing == 0 && self.extra == 0 && self.kernel == self.daemon
    }
}

/// Runs the churn phases on a table of `n` entries and adds their lines to `report`.
pub fn run(report: &mut Report, n: usize, secs: u64, pool: &mut Pool) {
    println!("churn: {secs} s with {CLIENTS} viewers (default daemon options)");
    let main = phase(pool, n, &[], secs, CLIENTS);
    let rate = main.events as f64 / main.seconds;
    report.check(
        "7. churn: creates + deletes driven through ctnetlink",
        format!("{rate:.0} events/s"),
        format!(
            "with {CLIENTS} viewers: {} in {:.1} s, {} refused",
            main.events, main.seconds, main.refused
        ),
        "≥ 50000/s".into(),
        rate >= 50_000.0,
    );
    report.check(
        "   churn rate, 3 s with no viewers",
        format!("{:.0} events/s", main.solo),
        "-".into(),
        "≥ 50000/s".into(),
        main.solo >= 50_000.0,
    );
    let (p50, p99) = quantiles(&main.latencies);
    report.check(
        "   view during churn, 20 clients (p50 / p99)",
        format!("p50 {} p99 {}", ms(p50), ms(p99)),
        format!(
            "{} calls, {} failed",
            main.latencies.len(),
            main.failed_views
        ),
        "p99 ≤ 300 ms, 0 failed".into(),
        p99 <= 0.300 && main.failed_views == 0,
    );
    mirror_lines(report, "   ", &main);

    // The overflow path: a 64 KiB event buffer cannot hold the churn's events.
    let short = (secs / 4).max(10);
    println!("churn: {short} s against a daemon with a 64 KiB event buffer (forcing overflows)");
    let forced = phase(pool, n, &["--event-buffer", "65536"], short, 0);
    report.info(
        "8. overflow: --event-buffer 65536, churn",
        format!(
            "{:.0} events/s for {:.1} s",
            forced.events as f64 / forced.seconds,
            forced.seconds
        ),
        "-".into(),
    );
    mirror_lines(report, "   ", &forced);
    if main.overflows > 0 {
        println!(
            "churn: {short} s with a 64 MiB event buffer (the default one overflowed {} times)",
            main.overflows
        );
        let big = phase(pool, n, &["--event-buffer", "67108864"], short, CLIENTS);
        report.info(
            "9. churn with --event-buffer 67108864",
            format!("{} overflows", big.overflows),
            format!("default: {} in {secs} s", main.overflows),
        );
    }
}

fn quantiles(times: &[f64]) -> (f64, f64) {
    if times.is_empty() {
        return (0.0, 0.0);
    }
    (percentile(times, 0.5), percentile(times, 0.99))
}

/// The overflow, reconciliation and exactness lines of one phase.
fn mirror_lines(report: &mut Report, indent: &str, p: &Phase) {
    let mean = if p.resyncs > 0 {
        format!(
            ", {} per reconciliation",
            ms(p.resync_seconds / p.resyncs as f64)
        )
    } else {
        String::new()
    };
    report.info(
        &format!("{indent}daemon overflows / resyncs during the run"),
        format!("{} / {}{mean}", p.overflows, p.resyncs),
        format!("quiet {} after the churn stopped", ms(p.quiet_after)),
    );
    let m = &p.mismatch;
    report.check(
        &format!("{indent}mirror exact after quiescence (ids + tuples)"),
        format!("{} rows vs {} in a dump", m.daemon, m.kernel),
        format!("{} missing, {} extra", m.missing, m.extra),
        "same set".into(),
        m.exact(),
    );
}

/// One daemon (started with `args`), `secs` of churn with `clients` viewers,
/// then quiescence and the comparison.
fn phase(pool: &mut Pool, n: usize, args: &[&str], secs: u64, clients: usize) -> Phase {
    let mut all = vec![
        "--listen",
        "127.0.0.1:0",
        "--resync-interval",
        "0",
        "--max-page",
        "50000",
    ];
    all.extend_from_slice(args);
    let daemon = Daemon::spawn(&all);
    let addr = daemon.addr;
    let before = counters(addr);
    let mut ct = CtSocket::open().expect("ctnetlink socket");
    let mut doomed = Vec::new();
    doom(&mut ct, &mut doomed, n);
    // The driver alone first: the rate the kernel and the daemon allow
    // when no viewer competes for the cores.
    let solo = if clients > 0 {
        let (events, _, seconds) = drive(&mut ct, &mut pool.0, &mut doomed, n, 3);
        events as f64 / seconds
    } else {
        0.0
    };
    let stop = Arc::new(AtomicBool::new(false));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let viewers: Vec<_> = (0..clients)
        .map(|i| {
            let (stop, latencies) = (Arc::clone(&stop), Arc::clone(&latencies));
            std::thread::spawn(move || viewer(addr, i, &stop, &latencies))
        })
        .collect();
    let (events, refused, seconds) = drive(&mut ct, &mut pool.0, &mut doomed, n, secs);
    stop.store(true, Ordering::Relaxed);
    let failed_views = viewers
        .into_iter()
        .map(|v| v.join().expect("viewer thread"))
        .sum();
    drop(doomed);
    let quiet = Instant::now();
    wait_quiet(addr);
    let quiet_after = quiet.elapsed().as_secs_f64();
    let after = counters(addr);
    let mismatch = compare(&mut ct, addr);
    let mut latencies = std::mem::take(&mut *latencies.lock().expect("latencies"));
    latencies.sort_by(f64::total_cmp);
    drop(daemon);
    Phase {
        solo,
        events,
        refused,
        seconds,
        latencies,
        failed_views,
        overflows: after.overflows - before.overflows,
        resyncs: after.resyncs - before.resyncs,
        resync_seconds: after.resync_seconds - before.resync_seconds,
        quiet_after,
        mismatch,
    }
}

/// The entries to delete, in table order, from a dump (their ids with
/// them); as many as a fast minute needs at most.
fn doom(ct: &mut CtSocket, doomed: &mut Vec<ConnKey>, n: usize) {
    doomed.clear();
    ct.dump(|c| {
        if doomed.len() < 4_000_000.min(n) {
            doomed.push(c.key());
        }
    })
    .expect("dump");
}

/// Creates and deletes in batches, as fast as the kernel answers, for
/// `secs`: (events the kernel accepted, refused, seconds). When the entries
/// to delete run out (a small table), a dump names more, in the time counted.
fn drive(
    ct: &mut CtSocket,
    pool: &mut Gateway,
    doomed: &mut Vec<ConnKey>,
    n: usize,
    secs: u64,
) -> (usize, usize, f64) {
    const BATCH: usize = 256;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let (mut events, mut refused) = (0, 0);
    while Instant::now() < deadline {
        if doomed.len() < BATCH {
            doom(ct, doomed, n);
        }
        let new: Vec<_> = pool.by_ref().take(BATCH).collect();
        let (r, _) = ct.create_many(&new).expect("create");
        let keys = doomed.split_off(doomed.len() - BATCH);
        let (f, _) = ct.delete_many(&keys).expect("delete");
        events += 2 * BATCH - r - f;
        refused += r + f;
    }
    (events, refused, start.elapsed().as_secs_f64())
}

/// One viewer: its own session, the gateway shapes in turn, each call a page
/// one row further on; returns its failed calls.
fn viewer(addr: SocketAddr, i: usize, stop: &AtomicBool, latencies: &Mutex<Vec<f64>>) -> usize {
    let mut http = Client::new(addr, true);
    let Ok(login) = http.call(&raw::call("login", &[])) else {
        return 1;
    };
    let sid = s(answer(&login).as_str().unwrap_or(""));
    let shapes = gateway::shapes();
    let mut failed = 0;
    let mut mine = Vec::new();
    let mut k = i;
    while !stop.load(Ordering::Relaxed) {
        let shape = &shapes[k % shapes.len()];
        let body = raw::call(
            "view",
            &[
                sid.clone(),
                crate::shape_filter(shape),
                s(shape.order_by),
                s(if shape.desc { "DESC" } else { "ASC" }),
                int((shape.start + k) as i64),
                int(100),
            ],
        );
        let start = Instant::now();
        match http.call(&body) {
            Ok(r) if !r.contains("<name>faultCode</name>") => {
                mine.push(start.elapsed().as_secs_f64())
            }
            _ => failed += 1,
        }
        k += 1;
    }
    latencies.lock().expect("latencies").extend(mine);
    failed
}

#[derive(Default)]
struct Counters {
    events: i64,
    overflows: i64,
    resyncs: i64,
    resync_seconds: f64,
}

/// The mirror's counters from `/metrics`.
fn counters(addr: SocketAddr) -> Counters {
    let text = get(addr, "/metrics");
    let value = |name: &str| -> f64 {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(' '))
            .filter(|(k, _)| k.contains(name))
            .filter_map(|(_, v)| v.trim().parse::<f64>().ok())
            .sum()
    };
    Counters {
        events: value("mirror_events") as i64,
        overflows: value("mirror_overflows") as i64,
        resyncs: value("mirror_resyncs") as i64,
        resync_seconds: value("mirror_resync_seconds"),
    }
}

/// A plain HTTP GET, the body.
fn get(addr: SocketAddr, path: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// Waits until the daemon's event and resync counters stand still for a second.
fn wait_quiet(addr: SocketAddr) {
    let mut last = (-1, -1);
    let mut still = 0;
    let deadline = Instant::now() + Duration::from_secs(600);
    while still < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        let c = counters(addr);
        let now = (c.events, c.resyncs);
        still = if now == last { still + 1 } else { 0 };
        last = now;
    }
}

type Identity = (u32, IpAddr, IpAddr, u16, u16);

/// The daemon's whole table (a frozen snapshot, paged by id) against a
/// kernel dump: the same set of ids and original tuples?
fn compare(ct: &mut CtSocket, addr: SocketAddr) -> Mismatch {
    let mut kernel: HashSet<Identity> = HashSet::new();
    ct.dump(|c| {
        kernel.insert((c.id, c.orig.src, c.orig.dst, c.orig.sport, c.orig.dport));
    })
    .expect("dump");
    let mut http = Client::new(addr, true);
    let sid = s(answer(&http.call(&raw::call("login", &[])).expect("login"))
        .as_str()
        .expect("a session id"));
    http.call(&raw::call(
        "set_autorefresh",
        &[sid.clone(), raw::boolean(false)],
    ))
    .expect("freeze");
    let mut m = Mismatch {
        kernel: kernel.len(),
        ..Mismatch::default()
    };
    let mut start = 0;
    loop {
        let body = raw::call(
            "view",
            &[
                sid.clone(),
                strukt(&[]),
                s("id"),
                s("ASC"),
                int(start as i64),
                int(PAGE as i64),
            ],
        );
        let page = answer(&http.call(&body).expect("view"));
        let rows = page["connections"].as_array().cloned().unwrap_or_default();
        for row in &rows {
            let addr = |k: &str| row[k].as_str().and_then(|a| a.parse().ok());
            let port = |k: &str| row[k].as_i64().unwrap_or(0) as u16;
            let id = row["id"]
                .as_str()
                .and_then(|i| i.parse().ok())
                .unwrap_or(0u32);
            m.daemon += 1;
            match (addr("orig_src"), addr("orig_dst")) {
                (Some(src), Some(dst)) => {
                    if !kernel.remove(&(id, src, dst, port("orig_sport"), port("orig_dport"))) {
                        m.extra += 1;
                    }
                }
                _ => m.extra += 1,
            }
        }
        start += rows.len();
        if rows.len() < PAGE {
            break;
        }
    }
    m.missing = kernel.len();
    m
}
