//! A full heavy-call gate: every front answers 503 with `Retry-After` at
//! once, and the calls already running still finish.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, StatusCode};
use serde_json::json;

use crate::router::HEAVY_CALLS;
use crate::testing::xmlrpc::call;
use crate::testing::{conns, request, Daemon};
use crate::xmlrpc::Value;

#[tokio::test]
async fn a_full_heavy_gate_answers_503_on_every_front() {
    // No queue: the gate is full once its running calls are.
    let daemon = Arc::new(Daemon::new(
        &["--auth", "none", "--heavy-queue", "0"],
        conns(3),
    ));
    let sid = daemon.login(None).await;
    let session = daemon.json_login(json!({})).await.unwrap();
    daemon.kernel.hold();
    let running: Vec<_> = (0..HEAVY_CALLS)
        .map(|_| {
            let (daemon, sid) = (Arc::clone(&daemon), sid.clone());
            tokio::spawn(async move { daemon.call("stats", &[Value::str(&sid)]).await })
        })
        .collect();
    let all_held = async {
        while daemon.kernel.held() < HEAVY_CALLS {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), all_held)
        .await
        .expect("every running call reaches the kernel");

    let refused = daemon.post_xml(call("stats", &[Value::str(&sid)])).await;
    assert_eq!(refused, Err(StatusCode::SERVICE_UNAVAILABLE));
    let list = request("GET", "/api/v1/connections")
        .header(header::COOKIE, &session.cookie)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = daemon.send(list).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key(header::RETRY_AFTER));

    daemon.kernel.release();
    for call in running {
        let stats = call.await.unwrap().unwrap();
        assert_eq!(stats.member("kernel_entries"), Some(&Value::Int(3)));
    }
}
