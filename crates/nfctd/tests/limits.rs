//! Limits under abuse (docs/install-and-configuration.md, "Network and limits"): a flood of half-sent
//! requests under a soft limit of 1,024 files locks nobody out and is closed
//! after the header timeout; idle keep-alive connections are closed; the
//! connection cap evicts the longest-silent connection; a full heavy-call
//! queue answers 503 with Retry-After; capabilities are dropped.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{http_exchange, synthetic, Bed, Daemon};
use serde_json::json;

const LOGIN: &[u8] =
    b"<?xml version=\"1.0\"?><methodCall><methodName>login</methodName><params/></methodCall>";
const HALF_HEAD: &[u8] = b"POST /RPC2 HTTP/1.1\r\nHost: x\r\n";

/// Whether the server closed `stream` (EOF or reset) within `wait`.
fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    stream
        .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
        .unwrap();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

fn half_sent(daemon: &Daemon) -> TcpStream {
    let mut stream = TcpStream::connect(daemon.addr).unwrap();
    stream.write_all(HALF_HEAD).unwrap();
    stream
}

/// A flood of half-sent heads: 1,100 connections that each send half a request head
/// and wait, against a daemon started with a soft limit of 1,024 open files.
#[test]
fn a_flood_of_half_sent_requests_locks_nobody_out() {
    // This process holds 1,100 sockets itself.
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    assert!(
        hard >= 2048,
        "the test needs a hard open-file limit of 2048 or more, not {hard}"
    );

    let bed = Bed::new();
    bed.inject(&synthetic(10));
    let header_timeout = 3;
    let daemon = Daemon::start_with_nofile(
        &bed,
        1024,
        &["--header-timeout", &header_timeout.to_string()],
    );
    assert!(daemon.log().contains("from=1024"), "{}", daemon.log());

    // Python starts before the flood, so its start-up is not timed below.
    let mut client = daemon.client();
    client.call("system.listMethods", json!([])).ok();

    let began = Instant::now();
    let mut flood: Vec<TcpStream> = (0..1100).map(|_| half_sent(&daemon)).collect();
    let flooded = began.elapsed();

    // A new client's login on a new connection, timed from its connect.
    let started = Instant::now();
    let (status, body) = common::http_post(daemon.addr, "/RPC2", LOGIN);
    let login = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("methodResponse") && !body.contains("fault"),
        "{body}"
    );
    assert!(
        login < Duration::from_secs(1),
        "login took {login:?} during the flood"
    );
    // A whole session too (Python's keep-alive connection may have been evicted; it reconnects).
    let sid = client.login();
    let view = client.call("view", json!([sid, {}, "", "", 0, 5])).ok();
    assert_eq!(view["total"], 10);

    // Every half-open socket is closed by the server, at the latest after the
    // header timeout (the first ones sooner: evicted at the cap of 1,024).
    let deadline = began + Duration::from_secs(header_timeout + 3);
    let mut open = 0;
    for stream in &mut flood {
        if !closed_within(stream, deadline.saturating_duration_since(Instant::now())) {
            open += 1;
        }
    }
    let all_closed = began.elapsed();
    assert_eq!(
        open, 0,
        "{open} half-open sockets still open after {all_closed:?}"
    );
    assert!(!daemon.log().contains("accept failed"), "{}", daemon.log());
    eprintln!(
        "flood: 1100 half-sent heads in {flooded:?}; login during the flood {login:?}; all closed {all_closed:?} after the flood began"
    );
    // And the daemon serves on as before.
    assert_eq!(
        client.call("view", json!([sid, {}, "", "", 0, 5])).ok()["total"],
        10
    );
}

#[test]
fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let bed = Bed::new();
    let daemon = Daemon::start(&bed, &["--idle-timeout", "2"]);
    let mut stream = TcpStream::connect(daemon.addr).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.ends_with(b"ok\n") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the answer");
        answer.extend_from_slice(&buf[..n]);
    }
    let idle_since = Instant::now();
    assert!(
        !closed_within(&mut stream, Duration::from_millis(1500)),
        "closed too early"
    );
    assert!(
        closed_within(&mut stream, Duration::from_secs(3)),
        "idle connection still open"
    );
    let idle = idle_since.elapsed();
    assert!(idle >= Duration::from_millis(1900), "{idle:?}");
}

#[test]
fn at_the_connection_cap_the_longest_silent_connection_makes_room() {
    let bed = Bed::new();
    let daemon = Daemon::start(&bed, &["--max-connections", "8", "--header-timeout", "60"]);
    let mut silent: Vec<TcpStream> = Vec::new();
    for _ in 0..8 {
        silent.push(half_sent(&daemon));
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut client = daemon.client();
    let started = Instant::now();
    client.login();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        closed_within(&mut silent[0], Duration::from_secs(2)),
        "the oldest was not evicted"
    );
    for stream in &mut silent[2..] {
        assert!(
            !closed_within(stream, Duration::from_millis(50)),
            "a newer one was evicted"
        );
    }
}

#[test]
fn a_full_heavy_call_queue_answers_503_with_retry_after() {
    let bed = Bed::new();
    bed.inject(&synthetic(20_000));
    let daemon = Daemon::start(&bed, &["--heavy-queue", "0"]);
    let sid = daemon.client().login();
    let body = format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>refresh</methodName><params><param><value><string>{sid}</string></value></param></params></methodCall>"
    );
    let request = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut overloaded = None;
    let mut served = 0;
    for _round in 0..5 {
        let answers: Vec<(u16, String, String)> = std::thread::scope(|scope| {
            let calls: Vec<_> = (0..40)
                .map(|_| scope.spawn(|| http_exchange(daemon.addr, request.as_bytes())))
                .collect();
            calls.into_iter().map(|c| c.join().unwrap()).collect()
        });
        for (status, head, body) in answers {
            match status {
                200 => {
                    assert!(body.contains("<boolean>1</boolean>"), "{body}");
                    served += 1;
                }
                503 => overloaded = Some((head, body)),
                other => panic!("unexpected {other}: {head}\n{body}"),
            }
        }
        if overloaded.is_some() {
            break;
        }
    }
    let (head, body) =
        overloaded.expect("40 concurrent refreshes never filled 8 slots and an empty queue");
    assert!(
        head.to_ascii_lowercase().contains("\r\nretry-after: 1"),
        "{head}"
    );
    assert!(!body.contains("methodResponse"), "{body}");
    assert!(served > 0);
}

/// In the bed the daemon joins a user namespace it owns, so it holds every
/// capability there and must drop all but CAP_NET_ADMIN, bounding set included.
#[test]
fn capabilities_are_dropped_to_net_admin() {
    let bed = Bed::new();
    let daemon = Daemon::start(&bed, &[]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.pid())).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap()
    };
    let net_admin = 1u64 << 12;
    assert_eq!(field("CapEff:"), net_admin, "{status}");
    assert_eq!(field("CapPrm:"), net_admin, "{status}");
    assert_eq!(field("CapBnd:"), net_admin, "{status}");
    assert_eq!(field("CapInh:"), 0, "{status}");
    assert_eq!(field("CapAmb:"), 0, "{status}");
    assert!(
        daemon.log().contains("kept=CAP_NET_ADMIN"),
        "{}",
        daemon.log()
    );
}
