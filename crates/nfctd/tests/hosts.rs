//! DNS rebinding and cross-site requests: a foreign `Host`
//! and a cross-site `Origin` are refused with 403 on every route, and
//! `--allowed-host` admits a name.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use common::{http_exchange, refused, synthetic, Bed, Daemon};

const LOGIN: &str =
    "<?xml version=\"1.0\"?><methodCall><methodName>login</methodName><params/></methodCall>";

/// A POST of `login()` with these extra header lines.
fn post(daemon: &Daemon, headers: &str) -> (u16, String) {
    let request = format!(
        "POST /RPC2 HTTP/1.1\r\n{headers}Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{LOGIN}",
        LOGIN.len()
    );
    let (status, _, body) = http_exchange(daemon.addr, request.as_bytes());
    (status, body)
}

fn get(daemon: &Daemon, path: &str, headers: &str) -> u16 {
    let request = format!("GET {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n");
    http_exchange(daemon.addr, request.as_bytes()).0
}

#[test]
fn a_foreign_host_is_refused_on_every_route() {
    let bed = Bed::new();
    bed.inject(&synthetic(5));
    let daemon = Daemon::start(&bed, &[]);
    let port = daemon.addr.port();

    // A DNS rebinding attack: a session for a page on another name.
    let (status, body) = post(&daemon, "Host: attacker.example\r\n");
    assert_eq!(status, 403, "{body}");
    assert!(!body.contains("methodResponse"), "{body}");
    assert!(body.contains("--allowed-host"), "{body}");
    let (status, _) = post(&daemon, &format!("Host: attacker.example:{port}\r\n"));
    assert_eq!(status, 403);
    assert_eq!(get(&daemon, "/healthz", "Host: attacker.example\r\n"), 403);
    assert_eq!(get(&daemon, "/nowhere", "Host: attacker.example\r\n"), 403);
    assert_eq!(
        get(&daemon, "/healthz", "Host: localhost.attacker.example\r\n"),
        403
    );
    assert_eq!(get(&daemon, "/healthz", "Host: 192.0.2.1\r\n"), 403);

    // Loopback names and addresses, with or without a port; no Host at all (HTTP/1.0).
    for host in [
        "localhost".to_string(),
        format!("localhost:{port}"),
        format!("LocalHost:{port}"),
        "127.0.0.1".to_string(),
        format!("127.0.0.1:{port}"),
        "127.1.2.3".to_string(),
        "[::1]".to_string(),
        format!("[::1]:{port}"),
    ] {
        let (status, body) = post(&daemon, &format!("Host: {host}\r\n"));
        assert_eq!(status, 200, "Host: {host}: {body}");
        assert!(body.contains("methodResponse"), "{body}");
        assert_eq!(get(&daemon, "/healthz", &format!("Host: {host}\r\n")), 200);
    }
    let request = format!(
        "POST /RPC2 HTTP/1.0\r\nContent-Length: {}\r\n\r\n{LOGIN}",
        LOGIN.len()
    );
    assert_eq!(http_exchange(daemon.addr, request.as_bytes()).0, 200);
    // The refusals are logged, with the Host quoted through the clip rule.
    assert!(daemon.log().contains("refused: Host"), "{}", daemon.log());
}

#[test]
fn a_cross_site_origin_is_refused_for_posts() {
    let bed = Bed::new();
    let daemon = Daemon::start(&bed, &[]);
    let port = daemon.addr.port();
    let host = format!("Host: 127.0.0.1:{port}\r\n");

    for origin in [
        "http://attacker.example",
        "https://attacker.example:443",
        "http://localhost.attacker.example",
        "null",
        "garbage",
        // Allowed hosts, but not this origin: another local service, or
        // another port, is another site.
        &format!("http://localhost:{port}"),
        &format!("http://127.0.0.1:{}", port.wrapping_add(1)),
        "https://[::1]",
    ] {
        let (status, body) = post(&daemon, &format!("{host}Origin: {origin}\r\n"));
        assert_eq!(status, 403, "Origin: {origin}: {body}");
        assert!(body.contains("cross-site"), "{body}");
    }
    let origin = format!("http://127.0.0.1:{port}");
    let (status, body) = post(&daemon, &format!("{host}Origin: {origin}\r\n"));
    assert_eq!(status, 200, "Origin: {origin}: {body}");
    // A GET changes nothing: a foreign Origin there is not refused.
    assert_eq!(
        get(
            &daemon,
            "/healthz",
            &format!("{host}Origin: http://attacker.example\r\n")
        ),
        200
    );
}

#[test]
fn allowed_host_admits_a_name_for_host_and_origin() {
    let bed = Bed::new();
    let daemon = Daemon::start(
        &bed,
        &[
            "--allowed-host",
            "nfctd.example",
            "--allowed-host",
            "Ops.Example.",
        ],
    );
    let port = daemon.addr.port();
    for headers in [
        format!("Host: nfctd.example:{port}\r\n"),
        "Host: NFCTD.example\r\nOrigin: https://nfctd.example\r\n".to_string(),
        format!("Host: ops.example:{port}\r\nOrigin: http://ops.example:{port}\r\n"),
    ] {
        let (status, body) = post(&daemon, &headers);
        assert_eq!(status, 200, "{headers}: {body}");
    }
    let (status, _) = post(&daemon, "Host: other.example\r\n");
    assert_eq!(status, 403);
    let (status, _) = post(
        &daemon,
        "Host: nfctd.example\r\nOrigin: http://other.example\r\n",
    );
    assert_eq!(status, 403);
}

#[test]
fn a_bad_allowed_host_is_refused_at_start() {
    for name in ["nfctd.example:8020", "http://nfctd.example", ""] {
        let (code, stderr) = refused(&["--allowed-host", name]);
        assert_eq!(code, Some(2), "{name:?}: {stderr}");
        assert!(stderr.contains("--allowed-host"), "{stderr}");
    }
}
