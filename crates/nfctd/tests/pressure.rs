//! Kernel pressure against the real kernel: `stats` (XML-RPC and JSON)
//! carries the hash table's bucket count and the `clash_resolve` and
//! `chaintoolong` counters as the namespace has them, and warns, in `stats`
//! and in the log at start, when `nf_conntrack_max / nf_conntrack_buckets`
//! is above `--pressure-ratio`.
//!
//! Neither number can be changed from a test: in a child network namespace
//! both sysctls are read-only (mode 0444) and show the host's values (the
//! hash table is one for all namespaces, and only root in the initial
//! namespace may resize it), and a test must not touch the host's. So the
//! ratio warning is exercised by setting `--pressure-ratio` below and above
//! the ratio the namespace really shows, and the first test pins those facts.
//! A rise of `chaintoolong` takes millions of entries (4 refusals in
//! 4,000,000 inserts with 262,144 buckets), out of a test's reach: the
//! in-process tests show it through the fronts (src/tests/pressure.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::json::Session;
use common::{synthetic, Bed, Daemon};
use serde_json::{json, Value as Json};

/// `nf_conntrack_max` and `nf_conntrack_buckets` as the bed's namespace shows them.
fn max_and_buckets(bed: &Bed) -> (u64, u64) {
    let read = |name: &str| -> u64 {
        bed.sandbox
            .sysctl(&format!("net/netfilter/{name}"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    (read("nf_conntrack_max"), read("nf_conntrack_buckets"))
}

/// The octal mode of a file under the namespace's /proc/sys (read with
/// `stat` inside it: /proc/sys/net shows the reader's namespace).
fn mode_inside(bed: &Bed, path: &str) -> String {
    let out = bed
        .command("stat")
        .args(["-c", "%a", path])
        .output()
        .expect("nsenter and stat");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn warnings(stats: &Json) -> Vec<String> {
    stats["warnings"]
        .as_array()
        .unwrap_or_else(|| panic!("no warnings array: {stats}"))
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_child_namespace_sees_the_hosts_hash_table_read_only() {
    let bed = Bed::new();
    let (max, buckets) = max_and_buckets(&bed);
    assert!(max > 0 && buckets > 0);
    // Global: the same values as this process's (the host's) namespace.
    let host = |name: &str| -> u64 {
        std::fs::read_to_string(format!("/proc/sys/net/netfilter/{name}"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    assert_eq!(host("nf_conntrack_buckets"), buckets);
    assert_eq!(host("nf_conntrack_max"), max);
    // Read-only in the child, for its own root too: only the mode is looked
    // at, nothing is written.
    for name in ["nf_conntrack_buckets", "nf_conntrack_max"] {
        assert_eq!(
            mode_inside(&bed, &format!("/proc/sys/net/netfilter/{name}")),
            "444",
            "{name}"
        );
    }
    // The per-namespace switches stay writable there.
    assert_eq!(
        mode_inside(&bed, "/proc/sys/net/netfilter/nf_conntrack_acct"),
        "644"
    );
}

#[test]
fn stats_carry_buckets_and_the_new_counters_and_warn_only_above_the_limit() {
    let bed = Bed::new();
    bed.inject(&synthetic(10));
    let (max, buckets) = max_and_buckets(&bed);
    let ratio = max as f64 / buckets as f64;
    // The default limit, 8: the host's ratio decides (1 with its defaults).
    let daemon = Daemon::start(&bed, &["--metrics-listen", "127.0.0.1:0"]);
    let mut py = daemon.client();
    let sid = py.login();
    let stats = py.call("stats", json!([sid])).ok();
    assert_eq!(stats["buckets"], buckets, "{stats}");
    assert_eq!(stats["table_limit"], max, "{stats}");
    // A fresh namespace: its own counters start at 0 and 10 inserts through
    // ctnetlink neither clash nor meet a long chain.
    assert_eq!(stats["kernel"]["chaintoolong"], 0, "{stats}");
    assert_eq!(stats["kernel"]["clash_resolve"], 0, "{stats}");
    let pressure = &stats["pressure"];
    assert_eq!(pressure["ratio_limit"], 8.0, "{stats}");
    assert_eq!(pressure["ratio_high"], ratio > 8.0, "{stats}");
    assert_eq!(pressure["chaintoolong_recent"], 0, "{stats}");
    assert_eq!(pressure["window_secs"], 600, "{stats}");
    assert_eq!(warnings(&stats).len(), usize::from(ratio > 8.0), "{stats}");

    // JSON says the same.
    let session = Session::login(daemon.http_addr(), "{}");
    let reply = session.get("/api/v1/stats");
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["buckets"], buckets);
    assert_eq!(body["kernel"]["chaintoolong"], 0);
    assert_eq!(body["kernel"]["clash_resolve"], 0);
    assert_eq!(body["pressure"], stats["pressure"]);
    assert_eq!(body["warnings"], stats["warnings"]);
}

#[test]
fn a_limit_below_the_namespaces_ratio_warns_at_start_and_in_stats() {
    let bed = Bed::new();
    let (max, buckets) = max_and_buckets(&bed);
    let ratio = max as f64 / buckets as f64;
    let limit = ratio / 2.0;
    let limit_text = limit.to_string();
    let daemon = Daemon::start(&bed, &["--pressure-ratio", &limit_text]);
    // The advice: the table's limit at half the warning ratio per bucket.
    let suggested = (max as f64 / (limit / 2.0)).ceil() as u64;
    let said = format!(
        "nf_conntrack_max ({max}) is {ratio:.1} times nf_conntrack_buckets ({buckets}), above {limit_text}:"
    );
    let command = format!("echo {suggested} > /sys/module/nf_conntrack/parameters/hashsize");
    // Logged once at start, as a warning.
    let log = daemon.log();
    let line = log
        .lines()
        .find(|l| l.contains(&said))
        .unwrap_or_else(|| panic!("no pressure warning at start in:\n{log}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains(&command), "{line}");
    assert_eq!(log.matches(&said).count(), 1, "{log}");

    let mut py = daemon.client();
    let sid = py.login();
    let stats = py.call("stats", json!([sid])).ok();
    let pressure = &stats["pressure"];
    assert_eq!(pressure["ratio_high"], true, "{stats}");
    assert_eq!(pressure["ratio_limit"], limit, "{stats}");
    assert_eq!(pressure["suggested_hashsize"], suggested, "{stats}");
    let warned = warnings(&stats);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].starts_with(&said), "{}", warned[0]);
    assert!(warned[0].contains(&command), "{}", warned[0]);
    assert!(
        warned[0].contains(&format!("options nf_conntrack hashsize={suggested}")),
        "{}",
        warned[0]
    );
    // Asking again does not log it again.
    py.call("stats", json!([sid])).ok();
    assert_eq!(daemon.log().matches(&said).count(), 1);
}

#[test]
fn a_limit_above_the_namespaces_ratio_or_zero_is_quiet() {
    let bed = Bed::new();
    let (max, buckets) = max_and_buckets(&bed);
    let above = (2.0 * max as f64 / buckets as f64).to_string();
    for limit in [above.as_str(), "0"] {
        let daemon = Daemon::start(&bed, &["--pressure-ratio", limit]);
        let mut py = daemon.client();
        let sid = py.login();
        let stats = py.call("stats", json!([sid])).ok();
        assert_eq!(stats["pressure"]["ratio_high"], false, "{limit}: {stats}");
        assert_eq!(stats["pressure"]["suggested_hashsize"], 0, "{stats}");
        assert_eq!(warnings(&stats), Vec::<String>::new(), "{limit}");
        let log = daemon.log();
        assert!(!log.contains("nf_conntrack_buckets"), "{limit}: {log}");
    }
}

#[test]
fn a_bad_pressure_ratio_is_refused_naming_the_option() {
    for bad in ["-1", "NaN", "inf", "eight"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_nfctd"))
            .arg(format!("--pressure-ratio={bad}"))
            .args(["--auth", "none"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--pressure-ratio"), "{bad}: {stderr}");
    }
}
