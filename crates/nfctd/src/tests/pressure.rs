//! Kernel pressure through every front, over the fake kernel: a rise of
//! `chaintoolong` becomes a warning in `stats` (XML-RPC and JSON) and the
//! counter in `/metrics`; an unreadable bucket count is 0 in `stats`, absent
//! from `/metrics`, and never a ratio warning. The ratio against the real
//! kernel's numbers is tests/pressure.rs'.

use axum::http::StatusCode;
use serde_json::json;

use crate::testing::{conns, request, text, Daemon};
use crate::xmlrpc::Value;

fn warnings(stats: &Value) -> Vec<String> {
    match stats.member("warnings") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|w| match w {
                Value::Str(s) => s.clone(),
                other => panic!("a warning that is not a string: {other:?}"),
            })
            .collect(),
        other => panic!("no warnings array: {other:?}"),
    }
}

async fn metrics(daemon: &Daemon) -> String {
    let response = daemon
        .send(request("GET", "/metrics").body(Default::default()).unwrap())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    text(response).await
}

#[tokio::test]
async fn a_rise_of_chaintoolong_is_a_warning_in_stats_and_counted_in_metrics() {
    let daemon = Daemon::new(&["--auth", "none"], conns(3));
    let sid = daemon.login(None).await;
    let args = [Value::str(&sid)];
    // The first reading is the baseline: refusals before it are not recent.
    daemon.kernel.refuse_inserts(2);
    let stats = daemon.call("stats", &args).await.unwrap();
    assert_eq!(warnings(&stats), Vec::<String>::new());
    let pressure = stats.member("pressure").unwrap();
    assert_eq!(pressure.member("chaintoolong_recent"), Some(&Value::Int(0)));
    assert_eq!(pressure.member("ratio_high"), Some(&Value::Bool(false)));
    assert_eq!(pressure.member("ratio_limit"), Some(&Value::Double(8.0)));
    assert_eq!(pressure.member("window_secs"), Some(&Value::Int(600)));
    assert_eq!(stats.member("buckets"), Some(&Value::Int(262_144)));
    let kernel = stats.member("kernel").unwrap();
    assert_eq!(kernel.member("chaintoolong"), Some(&Value::Int(2)));
    assert_eq!(kernel.member("clash_resolve"), Some(&Value::Int(0)));

    daemon.kernel.refuse_inserts(3);
    let stats = daemon.call("stats", &args).await.unwrap();
    let said = warnings(&stats);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("refused 3 inserts on too-long hash chains"),
        "{}",
        said[0]
    );
    assert!(
        said[0].contains("echo 524288 > /sys/module/nf_conntrack/parameters/hashsize"),
        "{}",
        said[0]
    );
    let pressure = stats.member("pressure").unwrap();
    assert_eq!(pressure.member("chaintoolong_recent"), Some(&Value::Int(3)));
    assert_eq!(
        pressure.member("suggested_hashsize"),
        Some(&Value::Int(524_288))
    );

    // JSON says the same; the counter stays flat, the warning stays for the window.
    let session = daemon.json_login(json!({})).await.unwrap();
    let (status, body) = daemon.get("/api/v1/stats", &session).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["kernel"]["chaintoolong"], 5);
    assert_eq!(body["buckets"], 262_144);
    assert_eq!(body["pressure"]["chaintoolong_recent"], 3);
    assert_eq!(body["pressure"]["ratio_high"], false);
    assert_eq!(body["warnings"][0].as_str(), Some(said[0].as_str()));

    let exposition = metrics(&daemon).await;
    assert!(
        exposition.contains("\nnfctd_conntrack_stat_chaintoolong_total 5\n"),
        "{exposition}"
    );
    assert!(
        exposition.contains("\nnfctd_conntrack_stat_clash_resolve_total 0\n"),
        "{exposition}"
    );
    assert!(
        exposition.contains("\nnfctd_conntrack_buckets 262144\n"),
        "{exposition}"
    );
}

#[tokio::test]
async fn an_unreadable_bucket_count_is_0_in_stats_and_absent_from_metrics() {
    // A limit any ratio would pass: only the missing count keeps it quiet.
    let daemon = Daemon::new(&["--auth", "none", "--pressure-ratio", "0.001"], conns(1));
    daemon.kernel.set_buckets(None);
    let sid = daemon.login(None).await;
    let stats = daemon.call("stats", &[Value::str(&sid)]).await.unwrap();
    assert_eq!(stats.member("buckets"), Some(&Value::Int(0)));
    assert_eq!(warnings(&stats), Vec::<String>::new());
    let exposition = metrics(&daemon).await;
    assert!(
        !exposition.contains("nfctd_conntrack_buckets"),
        "{exposition}"
    );
    assert!(
        exposition.contains("nfctd_conntrack_entries_limit"),
        "{exposition}"
    );

    // Once readable, the same limit warns.
    daemon.kernel.set_buckets(Some(1024));
    let stats = daemon.call("stats", &[Value::str(&sid)]).await.unwrap();
    let said = warnings(&stats);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with(
            "nf_conntrack_max (262144) is 256.0 times nf_conntrack_buckets (1024), above 0.001"
        ),
        "{}",
        said[0]
    );
    let pressure = stats.member("pressure").unwrap();
    assert_eq!(pressure.member("ratio_high"), Some(&Value::Bool(true)));
}
