//! Running under a service manager: `--enable-accounting`
//! switches the served namespace's counters and timestamps on; READY=1 reaches
//! NOTIFY_SOCKET once the mirror is live and the listeners answer, STOPPING=1
//! at shutdown; `nfctd man` and `nfctd completions` print what packaging installs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

use common::{http_exchange, synthetic, Bed, Daemon};

const ACCT: &str = "net/netfilter/nf_conntrack_acct";
const TSTAMP: &str = "net/netfilter/nf_conntrack_timestamp";

fn nfctd(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nfctd"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scrape(daemon: &Daemon) -> String {
    let (status, _, body) = http_exchange(
        daemon.http_addr(),
        b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn enable_accounting_switches_both_sysctls_on_in_the_served_namespace() {
    let bed = Bed::new();
    // A fresh namespace starts with both off.
    assert_eq!(bed.sandbox.sysctl(ACCT).unwrap(), "0");
    assert_eq!(bed.sandbox.sysctl(TSTAMP).unwrap(), "0");
    let daemon = Daemon::start(&bed, &["--enable-accounting"]);
    assert_eq!(bed.sandbox.sysctl(ACCT).unwrap(), "1");
    assert_eq!(bed.sandbox.sysctl(TSTAMP).unwrap(), "1");
    let log = daemon.log();
    assert!(
        log.contains("accounting: switched on")
            && log.contains("net.netfilter.nf_conntrack_acct")
            && log.contains("net.netfilter.nf_conntrack_timestamp"),
        "{log}"
    );
    assert!(
        scrape(&daemon).contains("nfctd_table_accounting_enabled 1"),
        "the metric follows the sysctl"
    );
}

#[test]
fn accounting_is_left_alone_without_the_option_and_not_rewritten_when_on() {
    let bed = Bed::new();
    let daemon = Daemon::start(&bed, &[]);
    assert_eq!(bed.sandbox.sysctl(ACCT).unwrap(), "0");
    assert!(!daemon.log().contains("accounting:"));
    assert!(scrape(&daemon).contains("nfctd_table_accounting_enabled 0"));
    drop(daemon);

    let bed = bed.with_accounting();
    let daemon = Daemon::start(&bed, &["--enable-accounting"]);
    let log = daemon.log();
    assert!(log.contains("accounting: already on"), "{log}");
    assert!(!log.contains("switched on"), "{log}");
}

#[test]
fn ready_once_serving_and_stopping_at_shutdown() {
    let bed = Bed::new();
    bed.inject(&synthetic(3));
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify");
    let manager = UnixDatagram::bind(&socket_path).unwrap();
    manager
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();

    let netns = bed.sandbox.netns_path();
    let mut command = Command::new(env!("CARGO_BIN_EXE_nfctd"));
    command
        .args([
            "--netns",
            netns.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("NOTIFY_SOCKET", &socket_path);
    let daemon = Daemon::spawn_command(command);

    let mut buf = [0u8; 1024];
    // Progress comes first while loading takes more than a second (here only
    // when the machine's shared conntrack hash table is crowded).
    let ready = loop {
        let n = manager.recv(&mut buf).expect("READY=1 within 20 s");
        let message = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !message.starts_with("STATUS=loading ") {
            break message;
        }
    };
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    assert!(
        ready.contains("STATUS=mirror live with 3 connections"),
        "{ready:?}"
    );
    // Ready means answering: the mirror is live and the listener serves.
    let (status, _, body) = http_exchange(
        daemon.http_addr(),
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{body}");

    assert_eq!(daemon.stop(), Some(0));
    let n = manager.recv(&mut buf).expect("STOPPING=1 at shutdown");
    let stopping = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
    // Nothing else was sent: one READY, one STOPPING.
    manager.set_nonblocking(true).unwrap();
    assert!(manager.recv(&mut buf).is_err());
}

#[test]
fn without_notify_socket_nothing_is_attempted() {
    let bed = Bed::new();
    let daemon = Daemon::start(&bed, &[]);
    assert!(!daemon.log().contains("NOTIFY_SOCKET"));
    assert_eq!(daemon.stop(), Some(0));
}

#[test]
fn man_prints_the_manual_page_of_every_option() {
    let (code, man, stderr) = nfctd(&["man"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        man.starts_with(".ie") || man.contains(".TH nfctd 8"),
        "{man}"
    );
    assert!(man.contains(".TH nfctd 8"), "section 8");
    for needle in [
        "enable\\-accounting",
        "passwd\\-file",
        "tls\\-cert",
        "EXIT STATUS",
        "SIGNALS",
        "FILES",
        "/etc/nfctd/nfctd.toml",
        "NOTIFY_SOCKET",
    ] {
        assert!(man.contains(needle), "{needle} missing from nfctd(8)");
    }
    // roff that man(1) renders without complaint.
    let groff = Command::new("groff")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !common::available(groff, "groff", "apt-get install groff-base") {
        return;
    }
    if let Ok(out) = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(man.as_bytes())?;
            child.wait_with_output()
        })
    {
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(warnings.trim().is_empty(), "groff: {warnings}");
    }
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef nfctd"),
        ("fish", "complete -c nfctd"),
    ] {
        let (code, script, stderr) = nfctd(&["completions", shell]);
        assert_eq!(code, Some(0), "{shell}: {stderr}");
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains("enable-accounting") && script.contains("passwd"),
            "{shell} completes options and subcommands"
        );
    }
    if let Ok(out) = Command::new("bash")
        .arg("-n")
        .arg("-c")
        .arg(nfctd(&["completions", "bash"]).1)
        .output()
    {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (code, _, stderr) = nfctd(&["completions", "tcsh"]);
    assert_eq!(code, Some(2), "{stderr}");
}
