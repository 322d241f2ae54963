//! What one request may hold and how long: a body that pauses too long is
//! answered 408, large bodies share a bounded pool (503 beyond it), a head
//! larger than 32 KiB is refused, event streams are capped per session and
//! in all; and two things an outsider should not learn or a maintainer
//! should: the metrics listener names no export file, and `NFCTD_LOG=debug`
//! logs each request.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::json::{request, Session};
use common::{synthetic, wait_until, Bed, Daemon};

/// Reads what the daemon answers until it closes, or `wait` passes.
fn answer(stream: &mut TcpStream, wait: Duration) -> String {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).to_string()
}

fn post_head(addr: SocketAddr, length: usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {length}\r\n\r\n"
    )
    .unwrap();
    stream
}

#[test]
fn a_body_that_pauses_longer_than_the_header_timeout_is_answered_408() {
    let bed = Bed::new();
    let daemon = Daemon::start(&bed, &["--header-timeout", "2"]);
    let mut stream = post_head(daemon.addr, 100);
    stream.write_all(b"<?xml").unwrap();
    let started = Instant::now();
    let text = answer(&mut stream, Duration::from_secs(10));
    let took = started.elapsed();
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("too slow"), "{text}");
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(6),
        "{took:?}"
    );
    // A byte before each pause ends keeps it going.
    let mut stream = post_head(daemon.addr, 3);
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(1200));
        stream.write_all(b"x").unwrap();
    }
    std::thread::sleep(Duration::from_millis(1200));
    stream.write_all(b"x").unwrap();
    let text = answer(&mut stream, Duration::from_secs(5));
    // Three bytes of nonsense: a well-formed XML-RPC fault, not a timeout.
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("<fault>"), "{text}");
}

/// Bodies past 16 KiB draw on one pool of 64 MiB: 80 unfinished bodies of
/// nearly 1 MiB fill it, the next large one is answered 503 with
/// Retry-After, small calls go on, and the pool is whole again once the
/// bodies are gone.
#[test]
fn large_bodies_share_a_bounded_pool() {
    let bed = Bed::new();
    let daemon = Daemon::start(&bed, &[]);
    let before = common::http_post(daemon.addr, "/RPC2", b"<x/>");
    assert_eq!(before.0, 200);
    let chunk = vec![b' '; 64 * 1024];
    let mut held = Vec::new();
    let mut refused = None;
    for _ in 0..80 {
        let mut stream = post_head(daemon.addr, 1_000_000);
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut sent = 0;
        while sent + chunk.len() < 1_000_000 {
            if stream.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len();
        }
        // A refused body is answered at once and its connection closed
        // (the writes above may have failed on it).
        let text = answer(&mut stream, Duration::from_millis(100));
        if text.is_empty() {
            held.push(stream);
        } else {
            refused = Some(text);
            break;
        }
    }
    let refused = refused.expect("80 bodies of nearly 1 MiB never met the 64 MiB pool");
    eprintln!("large bodies: {} held, then {refused:?}", held.len());
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(
        refused.to_ascii_lowercase().contains("retry-after: 1"),
        "{refused}"
    );
    // Each holds 1,000,000 - 16,384 bytes of the pool: 68 fit.
    assert!(
        (66..=70).contains(&held.len()),
        "{} bodies of ~1 MiB fit a 64 MiB pool",
        held.len()
    );
    // Small calls need no pool.
    let (status, body) = common::http_post(daemon.addr, "/RPC2", b"<x/>");
    assert_eq!(status, 200, "{body}");
    drop(held);
    assert!(wait_until(Duration::from_secs(5), || {
        let mut stream = post_head(daemon.addr, 900_000);
        stream.write_all(&vec![b' '; 900_000]).is_ok()
            && answer(&mut stream, Duration::from_secs(5)).starts_with("HTTP/1.1 200")
    }));
}

#[test]
fn a_request_head_over_32_kib_is_refused() {
    let bed = Bed::new();
    let daemon = Daemon::start(&bed, &[]);
    let mut stream = TcpStream::connect(daemon.addr).unwrap();
    let cookie = "a".repeat(40 * 1024);
    let _ = write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\n\r\n"
    );
    let text = answer(&mut stream, Duration::from_secs(5));
    assert!(text.starts_with("HTTP/1.1 431"), "{text:.200}");
    // A browser-sized head is fine.
    let mut stream = TcpStream::connect(daemon.addr).unwrap();
    let cookie = "a".repeat(8 * 1024);
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let text = answer(&mut stream, Duration::from_secs(5));
    assert!(text.starts_with("HTTP/1.1 200"), "{text:.200}");
}

/// Opens `/api/v1/events` and returns the status and the open stream.
fn open_events(session: &Session) -> (u16, TcpStream) {
    let mut stream = TcpStream::connect(session.addr).unwrap();
    write!(
        stream,
        "GET /api/v1/events HTTP/1.1\r\nHost: localhost\r\nCookie: {}\r\n\r\n",
        session.cookie
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "closed in the head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, stream)
}

/// A stream holds its connection for as long as the session lives: 4 per
/// session, 8 per user over all their sessions, and a quarter of
/// --max-connections in all.
#[test]
fn event_streams_are_capped_per_session_per_user_and_in_all() {
    let bed = Bed::new();
    bed.inject(&synthetic(3));
    let daemon = Daemon::start(&bed, &["--max-connections", "48"]);
    let open_n = |session: &Session, n: usize| -> Vec<TcpStream> {
        (0..n)
            .map(|_| {
                let (status, stream) = open_events(session);
                assert_eq!(status, 200);
                stream
            })
            .collect()
    };
    let a1 = Session::login(daemon.addr, r#"{"user":"a"}"#);
    let mut streams = open_n(&a1, 4);
    let (status, mut refused) = open_events(&a1);
    assert_eq!(status, 429, "five for one session");
    let mut body = [0u8; 512];
    let n = refused.read(&mut body).unwrap();
    assert!(
        String::from_utf8_lossy(&body[..n]).contains("too_many_streams"),
        "{}",
        String::from_utf8_lossy(&body[..n])
    );
    // The same user's other sessions: 8 streams in all.
    let a2 = Session::login(daemon.addr, r#"{"user":"a"}"#);
    streams.extend(open_n(&a2, 4));
    let a3 = Session::login(daemon.addr, r#"{"user":"a"}"#);
    assert_eq!(open_events(&a3).0, 429, "nine for one user");
    // 48 / 4 = 12 in all.
    let b = Session::login(daemon.addr, r#"{"user":"b"}"#);
    streams.extend(open_n(&b, 4));
    let c = Session::login(daemon.addr, r#"{"user":"c"}"#);
    assert_eq!(open_events(&c).0, 429, "thirteen in all");
    // A stream that ends gives its place back.
    drop(streams.remove(0));
    assert!(wait_until(Duration::from_secs(5), || {
        let (status, stream) = open_events(&c);
        if status == 200 {
            streams.push(stream);
        }
        status == 200
    }));
}

#[test]
fn the_metrics_listener_names_no_export_file_and_the_main_one_does() {
    let bed = Bed::new().with_accounting();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret-place").join("records.jsonl");
    std::fs::create_dir(file.parent().unwrap()).unwrap();
    let target = format!("json:{}", file.display());
    let daemon = Daemon::start(
        &bed,
        &["--export", &target, "--metrics-listen", "127.0.0.1:0"],
    );
    let open = request(daemon.metrics_addr(), "GET", "/metrics", &[], "");
    assert_eq!(open.status, 200);
    assert!(!open.body.contains("secret-place"), "{}", open.body);
    assert!(
        open.body
            .contains("nfctd_export_records_total{target=\"json:file#1\"}"),
        "{}",
        open.body
    );
    // Logged in (here --auth none), the main listener names the target as given.
    let main = request(daemon.addr, "GET", "/metrics", &[], "");
    assert!(main.body.contains("secret-place"), "{}", main.body);
}

#[test]
fn nfctd_log_debug_logs_each_request() {
    let bed = Bed::new();
    let netns = bed.sandbox.netns_path();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_nfctd"));
    command
        .args([
            "--netns",
            netns.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--passwd-file", "/nonexistent/nfctd-test-passwd"])
        .env("NFCTD_LOG", "debug");
    let daemon = Daemon::spawn_command(command);
    let (status, _) = common::http_post(daemon.addr, "/RPC2", b"<x/>");
    assert_eq!(status, 200);
    assert!(
        wait_until(Duration::from_secs(5), || daemon
            .log()
            .lines()
            .any(|l| l.contains("DEBUG")
                && l.contains("request answered")
                && l.contains("/RPC2"))),
        "{}",
        daemon.log()
    );
    // At the default level, none.
    let quiet = Daemon::start(&bed, &[]);
    common::http_post(quiet.addr, "/RPC2", b"<x/>");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!quiet.log().contains("DEBUG"), "{}", quiet.log());
}
