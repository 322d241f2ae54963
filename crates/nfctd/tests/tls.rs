//! HTTPS: served with a certificate the test makes and a
//! client that verifies it, beside a plain HTTP listener; a TLS listener
//! never answers plain HTTP; SIGHUP serves a new certificate and refuses a
//! bad one; bad TLS options exit 2 naming the option and the file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{http_exchange, http_post, refused, synthetic, wait_until, Answer, Bed, Daemon, Py};
use serde_json::json;

const LOGIN: &[u8] =
    b"<?xml version=\"1.0\"?><methodCall><methodName>login</methodName><params/></methodCall>";

/// A self-signed certificate for localhost and 127.0.0.1: (certificate PEM, key PEM).
fn make_cert() -> (String, String) {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    (made.cert.pem(), made.signing_key.serialize_pem())
}

/// Writes a certificate as the served pair (`cert.pem`, `key.pem`) and as a
/// client's trust file `ca-NAME.pem`; returns the trust file.
fn install(dir: &Path, name: &str, (cert, key): &(String, String)) -> PathBuf {
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
    let ca = dir.join(format!("ca-{name}.pem"));
    std::fs::write(&ca, cert).unwrap();
    ca
}

fn tls_args(dir: &Path) -> [String; 4] {
    [
        "--tls-cert".into(),
        dir.join("cert.pem").to_str().unwrap().into(),
        "--tls-key".into(),
        dir.join("key.pem").to_str().unwrap().into(),
    ]
}

fn https_url(daemon: &Daemon) -> String {
    format!("https://localhost:{}/RPC2", daemon.https_addr().port())
}

#[test]
fn https_is_served_with_a_verified_certificate_beside_plain_http() {
    let bed = Bed::new();
    bed.inject(&synthetic(3));
    let dir = tempfile::tempdir().unwrap();
    let ca = install(dir.path(), "one", &make_cert());
    let args = tls_args(dir.path());
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.extend(["--listen", "http://127.0.0.1:0"]);
    // The bed's own bare `--listen 127.0.0.1:0` is HTTPS, since a certificate is given.
    let daemon = Daemon::start(&bed, &all);
    assert_eq!(daemon.listeners.len(), 2, "{:?}", daemon.listeners);
    assert!(daemon.listeners[0].0 && !daemon.listeners[1].0);

    let mut client = Py::new_tls(&https_url(&daemon), &ca);
    let sid = client.login();
    let view = client.call("view", json!([sid, {}, "", "", 0, 10])).ok();
    assert_eq!(view["total"], 3);

    // A client that trusts another certificate refuses ours.
    let (other, _) = make_cert();
    let other_ca = dir.path().join("ca-other.pem");
    std::fs::write(&other_ca, other).unwrap();
    match Py::new_tls(&https_url(&daemon), &other_ca).call("login", json!([])) {
        Answer::Http(0, message) => {
            assert!(message.contains("CERTIFICATE_VERIFY_FAILED"), "{message}")
        }
        other => panic!("an untrusted certificate was accepted: {other:?}"),
    }

    // Plain HTTP to the TLS port: no HTTP answer, and the connection closes.
    let started = Instant::now();
    let request = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        LOGIN.len()
    );
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(LOGIN);
    let (status, head, _) = http_exchange(daemon.https_addr(), &bytes);
    assert_eq!(status, 0, "plain HTTP got an HTTP answer: {head:?}");
    assert!(
        !head.contains("HTTP/") && !head.contains("methodResponse"),
        "{head:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // The plain listener serves plain HTTP at the same time.
    let (status, body) = http_post(daemon.http_addr(), "/RPC2", LOGIN);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("methodResponse"), "{body}");
}

#[test]
fn sighup_serves_a_new_certificate_and_keeps_it_over_a_bad_one() {
    let bed = Bed::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_one = install(dir.path(), "one", &make_cert());
    let args = tls_args(dir.path());
    let all: Vec<&str> = args.iter().map(String::as_str).collect();
    let daemon = Daemon::start(&bed, &all);
    Py::new_tls(&https_url(&daemon), &ca_one).login();
    let hup = || nix::sys::signal::kill(daemon.pid(), nix::sys::signal::Signal::SIGHUP).unwrap();
    let count = |needle: &str| daemon.log().matches(needle).count();

    let ca_two = install(dir.path(), "two", &make_cert());
    hup();
    assert!(
        wait_until(Duration::from_secs(5), || count(
            "reloaded what=\"TLS certificate\""
        ) == 1),
        "{}",
        daemon.log()
    );
    Py::new_tls(&https_url(&daemon), &ca_two).login();
    match Py::new_tls(&https_url(&daemon), &ca_one).call("login", json!([])) {
        Answer::Http(0, _) => {}
        other => panic!("the old certificate is still served: {other:?}"),
    }

    // A bad certificate, then a key that does not match: refused, logged, the second one stays.
    std::fs::write(dir.path().join("cert.pem"), "not a certificate\n").unwrap();
    hup();
    assert!(
        wait_until(Duration::from_secs(5), || count("reload refused") == 1),
        "{}",
        daemon.log()
    );
    let (cert_three, _) = make_cert();
    std::fs::write(dir.path().join("cert.pem"), cert_three).unwrap();
    hup();
    assert!(
        wait_until(Duration::from_secs(5), || count("reload refused") == 2),
        "{}",
        daemon.log()
    );
    assert!(daemon.log().contains("--tls-cert"), "{}", daemon.log());
    Py::new_tls(&https_url(&daemon), &ca_two).login();
    let mut daemon = daemon;
    assert!(daemon.is_running());
}

#[test]
fn bad_tls_options_exit_2_naming_the_option_and_file() {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), "one", &make_cert());
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnonsense\n").unwrap();
    let garbage = garbage.to_str().unwrap();
    let (_, other_key) = make_cert();
    let other = dir.path().join("other-key.pem");
    std::fs::write(&other, other_key).unwrap();
    let other = other.to_str().unwrap();

    for (args, names) in [
        (vec!["--tls-cert", cert], vec!["--tls-cert", "--tls-key"]),
        (vec!["--tls-key", key], vec!["--tls-key", "--tls-cert"]),
        (
            vec!["--tls-cert", "/nonexistent/cert.pem", "--tls-key", key],
            vec!["--tls-cert", "/nonexistent/cert.pem"],
        ),
        (
            vec!["--tls-cert", cert, "--tls-key", "/nonexistent/key.pem"],
            vec!["--tls-key", "/nonexistent/key.pem"],
        ),
        (
            vec!["--tls-cert", garbage, "--tls-key", key],
            vec!["--tls-cert", garbage],
        ),
        (
            vec!["--tls-cert", cert, "--tls-key", cert],
            vec!["--tls-key", cert],
        ),
        (
            vec!["--tls-cert", cert, "--tls-key", other],
            vec!["--tls-cert", other],
        ),
        (
            vec!["--listen", "https://127.0.0.1:0"],
            vec!["--listen", "--tls-cert"],
        ),
        (vec!["--listen", "ftp://127.0.0.1:0"], vec!["--listen"]),
    ] {
        let (code, stderr) = refused(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        for name in names {
            assert!(
                stderr.contains(name),
                "{args:?}: {name} missing from {stderr}"
            );
        }
    }
}
