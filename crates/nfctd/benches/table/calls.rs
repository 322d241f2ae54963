//! Small-call throughput against a server: sequential, from several threads, and with wrk.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::http::Client;

/// Sequential calls per second for about two seconds (capped to spare ephemeral ports).
pub fn rate(addr: SocketAddr, keep_alive: bool, body: &str) -> f64 {
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
pub fn rate_concurrent(addr: SocketAddr, clients: usize, body: &str) -> f64 {
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
pub fn wrk_rate(addr: SocketAddr, body: &str) -> Option<f64> {
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
