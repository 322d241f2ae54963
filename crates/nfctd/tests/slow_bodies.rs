//! Bodies sent slowly, as an attacker on the management network sends them
//! without logging in: a byte per TCP segment (memory), and 1,024 sockets
//! that each keep a request body unfinished, reconnecting whenever they are
//! closed (connection slots). The daemon's memory stays bounded and a normal
//! client keeps getting its answers. Figures are printed; bounds asserted.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{synthetic, Bed, Daemon};

const CALL: &str =
    "<?xml version=\"1.0\"?><methodCall><methodName>system.listMethods</methodName><params/></methodCall>";

const MIB: u64 = 1024 * 1024;

/// The attacks load both cores: one at a time, so each measures itself.
static ONE_ATTACK_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_attack_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_ATTACK_AT_A_TIME
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// One XML-RPC call on a new connection, as a normal client makes it,
/// retrying a connection the daemon closed, within `budget`. The time it
/// took when answered 200 within the budget.
fn normal_call(addr: SocketAddr, budget: Duration) -> Option<Duration> {
    let started = Instant::now();
    let request = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{CALL}",
        CALL.len()
    );
    while started.elapsed() < budget {
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, budget) else {
            continue;
        };
        let left = budget.saturating_sub(started.elapsed());
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        if stream.write_all(request.as_bytes()).is_err() {
            continue;
        }
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        if answer.starts_with(b"HTTP/1.1 200") && answer.ends_with(b"</methodResponse>") {
            let took = started.elapsed();
            return (took <= budget).then_some(took);
        }
    }
    None
}

/// Calls every `period` until `stop`; each call's time, or `None` when not
/// answered within `budget`.
fn normal_client(
    addr: SocketAddr,
    period: Duration,
    budget: Duration,
    stop: &AtomicBool,
) -> Vec<Option<Duration>> {
    let mut calls = Vec::new();
    while !stop.load(Ordering::Acquire) {
        calls.push(normal_call(addr, budget));
        std::thread::sleep(period);
    }
    calls
}

fn summary(calls: &[Option<Duration>]) -> (f64, Duration, Duration) {
    let mut answered: Vec<Duration> = calls.iter().flatten().copied().collect();
    answered.sort();
    let share = answered.len() as f64 / calls.len().max(1) as f64;
    let median = answered
        .get(answered.len() / 2)
        .copied()
        .unwrap_or_default();
    let max = answered.last().copied().unwrap_or_default();
    (share, median, max)
}

/// The first finding: 64 connections each declaring a 1,000,000-byte body
/// and sending 30,000 bytes of it one byte per segment (TCP_NODELAY), to the
/// XML-RPC and the JSON login routes. When bodies were kept as hyper handed
/// them over, each segment pinned a piece of a read buffer.
#[test]
fn bodies_trickled_a_byte_per_segment_hold_bounded_memory() {
    let _alone = one_attack_at_a_time();
    let bed = Bed::new();
    bed.inject(&synthetic(10));
    let daemon = Daemon::start(&bed, &[]);
    let addr = daemon.addr;
    for _ in 0..5 {
        assert!(normal_call(addr, Duration::from_secs(5)).is_some());
    }
    let start = common::rss(daemon.pid());
    let stop = AtomicBool::new(false);
    let peak = AtomicU64::new(start);
    let (calls, held) = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            while !stop.load(Ordering::Acquire) {
                peak.fetch_max(common::rss(daemon.pid()), Ordering::AcqRel);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        // 64 writers of a byte per system call take both cores: every
        // answer counts, within 5 s.
        let client = scope.spawn(|| {
            normal_client(
                addr,
                Duration::from_millis(100),
                Duration::from_secs(5),
                &stop,
            )
        });
        // Four writers, each sending a byte to each of its 16 connections in
        // turn, then pausing: every byte is a segment of its own, and the
        // daemon, reading faster than one connection sends, sees each alone.
        let tricklers: Vec<_> = (0..4)
            .map(|writer| {
                scope.spawn(move || {
                    let mut streams: Vec<TcpStream> = (0..16)
                        .map(|i| {
                            let path = if (writer + i) % 2 == 0 { "/RPC2" } else { "/api/v1/session" };
                            let mut stream = TcpStream::connect(addr).unwrap();
                            stream.set_nodelay(true).unwrap();
                            write!(
                                stream,
                                "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: 1000000\r\n\r\n"
                            )
                            .unwrap();
                            stream
                        })
                        .collect();
                    for _ in 0..30_000 {
                        for stream in &mut streams {
                            stream.write_all(b"x").unwrap();
                        }
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    streams
                })
            })
            .collect();
        // The bodies stay unfinished while memory is read.
        let held: Vec<TcpStream> = tricklers
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, Ordering::Release);
        sampler.join().unwrap();
        (client.join().unwrap(), held)
    });
    let holding = common::rss(daemon.pid());
    drop(held);
    let peak = peak.load(Ordering::Acquire);
    let (share, median, max) = summary(&calls);
    eprintln!(
        "trickle: RSS {} MiB at start, {} MiB peak, {} MiB holding 64 unfinished bodies of 30,000 bytes; \
         normal client: {}/{} answered, median {median:?}, max {max:?}",
        start / MIB,
        peak / MIB,
        holding / MIB,
        calls.iter().flatten().count(),
        calls.len()
    );
    assert!(
        peak <= start + 64 * MIB,
        "RSS grew from {} to {} MiB",
        start / MIB,
        peak / MIB
    );
    assert_eq!(share, 1.0, "the normal client missed answers: {calls:?}");
    // The unfinished bodies end with their connections, and the daemon serves on.
    assert!(normal_call(addr, Duration::from_secs(5)).is_some());
}

/// A socket that sends a request head declaring a large body, then a byte
/// every 3 s, reconnecting as soon as the daemon answers or closes it.
async fn slow_body(addr: SocketAddr, until: tokio::time::Instant, connects: Arc<AtomicU64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const HEAD: &[u8] =
        b"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: 1000000\r\n\r\n";
    while tokio::time::Instant::now() < until {
        let Ok(Ok(mut stream)) =
            tokio::time::timeout_at(until, tokio::net::TcpStream::connect(addr)).await
        else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        connects.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        if stream.write_all(HEAD).await.is_err() {
            continue;
        }
        let mut buf = [0u8; 512];
        loop {
            tokio::select! {
                _ = stream.read(&mut buf) => break,
                _ = tokio::time::sleep(Duration::from_secs(3)) => {
                    if stream.write_all(b"x").await.is_err() {
                        break;
                    }
                }
                _ = tokio::time::sleep_until(until) => return,
            }
        }
    }
}

/// 1,024 slow-body sockets for `seconds` against a daemon started with
/// `--max-connections max`; returns the normal client's calls and the
/// attackers' connects.
fn slow_body_attack(max: usize, seconds: u64) -> (Vec<Option<Duration>>, u64, u64, u64) {
    let bed = Bed::new();
    bed.inject(&synthetic(10));
    let daemon = Daemon::start(&bed, &["--max-connections", &max.to_string()]);
    let addr = daemon.addr;
    assert!(normal_call(addr, Duration::from_secs(5)).is_some());
    let start = common::rss(daemon.pid());
    let connects = Arc::new(AtomicU64::new(0));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let until = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let attackers: Vec<_> = {
        let _entered = runtime.enter();
        (0..1024)
            .map(|_| runtime.spawn(slow_body(addr, until, Arc::clone(&connects))))
            .collect()
    };
    // The flood has filled the table before the client starts.
    std::thread::sleep(Duration::from_secs(2));
    let stop = AtomicBool::new(false);
    let peak = AtomicU64::new(start);
    let calls = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            while !stop.load(Ordering::Acquire) {
                peak.fetch_max(common::rss(daemon.pid()), Ordering::AcqRel);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let client = scope.spawn(|| {
            normal_client(
                addr,
                Duration::from_millis(200),
                Duration::from_secs(1),
                &stop,
            )
        });
        std::thread::sleep(Duration::from_secs(seconds - 2));
        stop.store(true, Ordering::Release);
        sampler.join().unwrap();
        client.join().unwrap()
    });
    runtime.block_on(async {
        for attacker in attackers {
            let _ = attacker.await;
        }
    });
    (
        calls,
        connects.load(Ordering::Relaxed),
        start,
        peak.load(Ordering::Acquire),
    )
}

/// The second finding: slow bodies held every slot, and a normal client got
/// 5 answers in 235 tries. Now a connection still sending its body can be
/// pushed out like an idle one when the table is full.
#[test]
fn slow_bodies_with_reconnects_leave_a_normal_client_its_answers() {
    // This process holds 1,024 sockets and more.
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    assert!(
        hard >= 2048,
        "the test needs a hard open-file limit of 2048 or more"
    );
    let _alone = one_attack_at_a_time();
    for max in [1024, 50] {
        let (calls, connects, start, peak) = slow_body_attack(max, 60);
        let (share, median, worst) = summary(&calls);
        eprintln!(
            "slow bodies, --max-connections {max}: normal client {}/{} answered within 1 s ({:.1}%), \
             median {median:?}, slowest {worst:?}; attackers connected {connects} times; RSS {} -> {} MiB peak",
            calls.iter().flatten().count(),
            calls.len(),
            share * 100.0,
            start / MIB,
            peak / MIB
        );
        assert!(
            share >= 0.95,
            "--max-connections {max}: only {:.1}% answered within 1 s",
            share * 100.0
        );
        assert!(
            peak <= start + 192 * MIB,
            "RSS {} -> {} MiB",
            start / MIB,
            peak / MIB
        );
    }
}
