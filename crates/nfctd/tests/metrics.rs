//! `/metrics` against the real daemon, read with a real Prometheus text
//! parser (the `prometheus_client` Python package's OpenMetrics parser):
//! the counts by protocol equal what the test put in the kernel, the kernel
//! and mirror gauges are there (the hash table's bucket count and the
//! `chaintoolong` and `clash_resolve` counters among them), API calls are counted; the separate
//! `--metrics-listen` listener needs no login while `/metrics` on the main
//! listener follows `--auth`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use common::json::request;
use common::{proto, synthetic, system_python, Bed, Daemon};

/// Parses an exposition with the real parser; returns every sample as
/// `(name, labels) -> value`, or `None` (with a message) when the parser
/// is not installed outside CI.
fn parse(exposition: &str) -> Option<BTreeMap<(String, String), f64>> {
    let script = r#"
import sys, json
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        out.append([s.name, labels, s.value])
print(json.dumps(out))
"#;
    let mut child = Command::new(system_python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let missing = stderr.contains("No module named 'prometheus_client'");
    if !common::available(
        !missing,
        "python3-prometheus-client",
        "apt-get install python3-prometheus-client",
    ) {
        return None;
    }
    assert!(
        out.status.success(),
        "the parser refused the exposition: {stderr}"
    );
    let samples: Vec<(String, String, f64)> = serde_json::from_slice(&out.stdout).unwrap();
    Some(
        samples
            .into_iter()
            .map(|(name, labels, value)| ((name, labels), value))
            .collect(),
    )
}

#[test]
fn metrics_parse_and_match_the_table_the_test_made() {
    let bed = Bed::new();
    bed.inject(&synthetic(40));
    let daemon = Daemon::start(&bed, &["--metrics-listen", "127.0.0.1:0"]);
    // A few API calls to count.
    let mut py = daemon.client();
    let sid = py.login();
    py.call("stats", serde_json::json!([sid])).ok();
    py.call("no_such_method", serde_json::json!([]));

    let scrape = request(daemon.metrics_addr(), "GET", "/metrics", &[], "");
    assert_eq!(scrape.status, 200);
    assert!(
        scrape
            .header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{scrape:?}"
    );
    let Some(samples) = parse(&scrape.body) else {
        return;
    };
    let get = |name: &str, labels: &str| {
        *samples
            .get(&(name.to_string(), labels.to_string()))
            .unwrap_or_else(|| panic!("no sample {name}{{{labels}}} in:\n{}", scrape.body))
    };

    let kernel = bed.kernel();
    let mut by_proto: BTreeMap<&str, f64> = BTreeMap::new();
    for c in &kernel {
        *by_proto.entry(proto(c.l4proto)).or_default() += 1.0;
    }
    for (protocol, n) in &by_proto {
        assert_eq!(
            get(
                "nfctd_table_connections_by_protocol",
                &format!("protocol={protocol}")
            ),
            *n,
            "{protocol}"
        );
    }
    assert_eq!(get("nfctd_table_connections", ""), kernel.len() as f64);
    assert_eq!(get("nfctd_conntrack_entries", ""), kernel.len() as f64);
    assert!(get("nfctd_conntrack_entries_limit", "") > 0.0);
    assert_eq!(get("nfctd_mirror_live", ""), 1.0);
    assert!(get("nfctd_mirror_resyncs_total", "") >= 1.0);
    assert!(get("nfctd_conntrack_stat_drop_total", "") >= 0.0);
    // The hash table's size as the namespace shows it (the host's: it is
    // global), and the namespace's own counters of clashes and refusals on
    // too-long chains, 0 in a namespace this fresh.
    let buckets: f64 = bed
        .sandbox
        .sysctl("net/netfilter/nf_conntrack_buckets")
        .unwrap()
        .parse()
        .unwrap();
    assert!(buckets > 0.0);
    assert_eq!(get("nfctd_conntrack_buckets", ""), buckets);
    assert_eq!(get("nfctd_conntrack_stat_chaintoolong_total", ""), 0.0);
    assert_eq!(get("nfctd_conntrack_stat_clash_resolve_total", ""), 0.0);
    assert_eq!(get("nfctd_conntrack_stat_insert_failed_total", ""), 0.0);
    assert_eq!(
        get(
            "nfctd_api_requests_total",
            "front=xmlrpc,method=stats,outcome=ok"
        ),
        1.0
    );
    assert_eq!(
        get(
            "nfctd_api_requests_total",
            "front=xmlrpc,method=unknown,outcome=unknown_method"
        ),
        1.0
    );
    assert_eq!(get("nfctd_api_sessions", ""), 1.0);
    assert!(
        get(
            "nfctd_api_request_duration_seconds_count",
            "front=xmlrpc,method=login"
        ) >= 1.0
    );
}

#[test]
fn main_listener_metrics_follow_auth_and_the_metrics_listener_is_open() {
    let bed = Bed::new();
    bed.inject(&synthetic(3));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passwd");
    let out = Command::new(env!("CARGO_BIN_EXE_nfctd"))
        .args(["passwd", "add", "prom", "--role", "viewer", "--passwd-file"])
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(b"scrape-secret\n")?;
            child.wait()
        })
        .unwrap();
    assert!(out.success());
    let daemon = Daemon::start(
        &bed,
        &[
            "--auth",
            "password",
            "--passwd-file",
            file.to_str().unwrap(),
            "--metrics-listen",
            "127.0.0.1:0",
        ],
    );
    let main = request(daemon.addr, "GET", "/metrics", &[], "");
    assert_eq!(main.status, 401, "{main:?}");
    assert!(main
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic"));
    assert!(!main.body.contains("nfctd_"));
    // "prom:wrong" and "prom:scrape-secret" in base64.
    let wrong = request(
        daemon.addr,
        "GET",
        "/metrics",
        &[("Authorization", "Basic cHJvbTp3cm9uZw==")],
        "",
    );
    assert_eq!(wrong.status, 401);
    let right = request(
        daemon.addr,
        "GET",
        "/metrics",
        &[("Authorization", "Basic cHJvbTpzY3JhcGUtc2VjcmV0")],
        "",
    );
    assert_eq!(right.status, 200);
    assert!(
        right.body.contains("nfctd_table_connections 3"),
        "{}",
        right.body
    );
    let open = request(daemon.metrics_addr(), "GET", "/metrics", &[], "");
    assert_eq!(open.status, 200);
    // The metrics listener serves nothing else.
    assert_eq!(
        request(daemon.metrics_addr(), "POST", "/RPC2", &[], "").status,
        404
    );
}
