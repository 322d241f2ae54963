//! `--load`: many keep-alive clients calling a filtered, sorted `view` while
//! the table churns (creates and deletes through ctnetlink), with the daemon
//! in its default options. Reports failures, latency quantiles, each
//! client's progress and the daemon's memory before and after.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ctnetlink::{ConnKey, CtSocket};

use crate::common::http::Client;
use crate::common::raw::{self, int, s, strukt};
use crate::common::Daemon;
use crate::{answer, percentile, rss_kib, Args};

/// Runs the scenario on a table of `n` entries already in the namespace.
pub fn run(a: &Args, n: usize, empty_rss: u64) {
    let daemon = Daemon::spawn(&["--listen", "127.0.0.1:0"]);
    let addr = daemon.addr;
    let pid = daemon.pid().as_raw();
    let rss_start = rss_kib(pid);
    let secs = a.load_secs;
    println!(
        "load: {} keep-alive clients, filtered sorted view (100 rows) for {secs} s, {} changes/s on {n} entries",
        a.clients, a.load_rate
    );
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let stop = Arc::clone(&stop);
        let rate = a.load_rate;
        std::thread::spawn(move || churn(n, rate, &stop))
    };
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let clients: Vec<_> = (0..a.clients)
        .map(|i| {
            let latencies = Arc::clone(&latencies);
            std::thread::spawn(move || client(addr, i, deadline, &latencies))
        })
        .collect();
    let mut progress = Vec::new();
    let mut failures = 0;
    for c in clients {
        let (calls, failed) = c.join().expect("client thread");
        progress.push(calls);
        failures += failed;
    }
    stop.store(true, Ordering::Relaxed);
    let (changes, churn_secs) = churn.join().expect("churn thread");
    let rss_end = rss_kib(pid);
    let mut times = std::mem::take(&mut *latencies.lock().expect("latencies"));
    times.sort_by(f64::total_cmp);
    progress.sort_unstable();
    let calls: usize = progress.iter().sum();
    let ms = |t: f64| format!("{:.1} ms", t * 1e3);
    println!();
    println!(
        "calls: {calls} ({:.0}/s), failed: {failures} [target 0]",
        calls as f64 / secs as f64
    );
    if !times.is_empty() {
        let p99 = percentile(&times, 0.99);
        println!(
            "latency: p50 {} p90 {} p99 {} [target ≤ 100 ms: {}] max {}",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.9)),
            ms(p99),
            if p99 <= 0.1 { "PASS" } else { "FAIL" },
            ms(times[times.len() - 1])
        );
    }
    println!(
        "progress per client: min {} median {} max {} calls [every client > 0: {}]",
        progress[0],
        progress[progress.len() / 2],
        progress[progress.len() - 1],
        if progress[0] > 0 { "PASS" } else { "FAIL" }
    );
    println!(
        "churn: {changes} changes in {churn_secs:.1} s ({:.0}/s)",
        changes as f64 / churn_secs
    );
    println!(
        "daemon RSS: empty {} MiB, loaded start {} MiB, end {} MiB",
        empty_rss / 1024,
        rss_start / 1024,
        rss_end / 1024
    );
}

/// One client: its own session, views until the deadline; (calls, failures).
fn client(
    addr: std::net::SocketAddr,
    i: usize,
    deadline: Instant,
    latencies: &Mutex<Vec<f64>>,
) -> (usize, usize) {
    let mut http = Client::new(addr, true);
    let Ok(login) = http.call(&raw::call("login", &[])) else {
        return (0, 1);
    };
    let sid = s(answer(&login).as_str().unwrap_or(""));
    // Alternate shapes, all filtered and sorted.
    let (filter, by) = match i % 3 {
        0 => (strukt(&[("proto", s("tcp"))]), "rate"),
        1 => (strukt(&[("addr", s("198.19.0.0/16"))]), "orig_src"),
        _ => (strukt(&[("orig_dport", int(443))]), "timeout"),
    };
    let body = raw::call("view", &[sid, filter, s(by), s("DESC"), int(0), int(100)]);
    let (mut calls, mut failed) = (0, 0);
    let mut mine = Vec::new();
    while Instant::now() < deadline {
        let start = Instant::now();
        match http.call(&body) {
            Ok(r) if !r.contains("<name>faultCode</name>") => calls += 1,
            _ => failed += 1,
        }
        mine.push(start.elapsed().as_secs_f64());
    }
    latencies.lock().expect("latencies").extend(mine);
    (calls, failed)
}

/// Creates and deletes entries at `rate` changes a second (half each) until
/// `stop`: new entries from a pool, deletions from the entries present at
/// the start (their ids known from a dump). Returns (changes, seconds).
fn churn(n: usize, rate: usize, stop: &AtomicBool) -> (usize, f64) {
    let mut ct = CtSocket::open().expect("ctnetlink socket");
    let mut doomed: Vec<ConnKey> = ct
        .dump_all()
        .expect("dump")
        .iter()
        .map(|c| c.key())
        .collect();
    let pool = crate::common::synthetic(n + doomed.len()).split_off(n);
    let per_tick = (rate / 100 / 2).max(1); // every 10 ms: creates and as many deletes
    let started = Instant::now();
    let (mut changes, mut next) = (0, 0);
    let mut tick = Instant::now();
    while !stop.load(Ordering::Relaxed) && next + per_tick <= pool.len() && doomed.len() >= per_tick
    {
        let (refused, _) = ct
            .create_many(&pool[next..next + per_tick])
            .expect("create");
        next += per_tick;
        let keys = doomed.split_off(doomed.len() - per_tick);
        let (failed, _) = ct.delete_many(&keys).expect("delete");
        changes += 2 * per_tick - refused - failed;
        tick += Duration::from_millis(10);
        if let Some(wait) = tick.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    (changes, started.elapsed().as_secs_f64())
}
