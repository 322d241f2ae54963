//! What a refusal by the kernel becomes: a kill or change the kernel says
//! no to, an entry the kernel no longer has, statistics it will not give.

use axum::http::StatusCode;
use ctnetlink::Error::{NotFound, PermissionDenied};
use serde_json::json;

use crate::testing::json::refusal;
use crate::testing::xmlrpc::{change, kill, view};
use crate::testing::{conns, Daemon};
use crate::xmlrpc::Value;

/// How many rows `sid` sees.
async fn table_size(daemon: &Daemon, sid: &str) -> Option<Value> {
    let page = daemon.call("view", &view(sid, Value::Nil)).await.unwrap();
    page.member("table_size").cloned()
}

#[tokio::test]
async fn a_refused_kill_is_fault_6_and_409_and_the_row_stays() {
    let daemon = Daemon::new(&["--auth", "none"], conns(3));
    let sid = daemon.login(None).await;
    daemon.kernel.refuse_next(PermissionDenied);
    let fault = daemon.fault("kill", &kill(&sid, &["1"])).await;
    assert_eq!(fault.code, 6, "{}", fault.message);
    assert_eq!(table_size(&daemon, &sid).await, Some(Value::Int(3)));

    let session = daemon.json_login(json!({})).await.unwrap();
    daemon.kernel.refuse_next(PermissionDenied);
    let reply = daemon
        .json("DELETE", "/api/v1/connections/1", Some(&session), None)
        .await;
    assert_eq!(refusal(&reply), (StatusCode::CONFLICT, "kernel_refused"));
    assert_eq!(daemon.kernel.conns().len(), 3);
}

#[tokio::test]
async fn an_entry_gone_from_the_kernel_is_reported_missing_and_leaves_the_table() {
    let daemon = Daemon::new(&["--auth", "none"], conns(3));
    let sid = daemon.login(None).await;
    daemon.kernel.refuse_next(NotFound);
    let killed = daemon.call("kill", &kill(&sid, &["2"])).await.unwrap();
    assert_eq!(killed.member("killed"), Some(&Value::Int(0)));
    let missing = Value::Array(vec![Value::str("2")]);
    assert_eq!(killed.member("missing"), Some(&missing));
    assert_eq!(table_size(&daemon, &sid).await, Some(Value::Int(2)));
}

#[tokio::test]
async fn a_change_to_a_gone_entry_is_fault_5_and_404_and_a_refused_one_6_and_409() {
    let daemon = Daemon::new(&["--auth", "none"], conns(3));
    let sid = daemon.login(None).await;
    daemon.kernel.refuse_next(NotFound);
    let gone = daemon.fault("change", &change(&sid, "mark", "1", 1)).await;
    assert_eq!(gone.code, 5, "{}", gone.message);
    let size = table_size(&daemon, &sid).await;
    assert_eq!(size, Some(Value::Int(2)), "the gone entry left the table");
    daemon.kernel.refuse_next(PermissionDenied);
    let refused = daemon.fault("change", &change(&sid, "mark", "2", 1)).await;
    assert_eq!(refused.code, 6, "{}", refused.message);

    let session = daemon.json_login(json!({})).await.unwrap();
    let patch = |id: u32| format!("/api/v1/connections/{id}");
    let mark = || Some(json!({"mark": 1}));
    daemon.kernel.refuse_next(NotFound);
    let reply = daemon
        .json("PATCH", &patch(2), Some(&session), mark())
        .await;
    assert_eq!(
        refusal(&reply),
        (StatusCode::NOT_FOUND, "no_such_connection")
    );
    daemon.kernel.refuse_next(PermissionDenied);
    let reply = daemon
        .json("PATCH", &patch(3), Some(&session), mark())
        .await;
    assert_eq!(refusal(&reply), (StatusCode::CONFLICT, "kernel_refused"));
    assert!(daemon.kernel.writes().is_empty());
}

#[tokio::test]
async fn statistics_the_kernel_refuses_are_fault_6_and_409() {
    let daemon = Daemon::new(&["--auth", "none"], conns(3));
    let sid = daemon.login(None).await;
    let stats = daemon.call("stats", &[Value::str(&sid)]).await.unwrap();
    assert_eq!(stats.member("kernel_entries"), Some(&Value::Int(3)));
    daemon.kernel.refuse_next(PermissionDenied);
    assert_eq!(daemon.fault("stats", &[Value::str(&sid)]).await.code, 6);
    let session = daemon.json_login(json!({})).await.unwrap();
    daemon.kernel.refuse_next(PermissionDenied);
    let reply = daemon.get("/api/v1/stats", &session).await;
    assert_eq!(refusal(&reply), (StatusCode::CONFLICT, "kernel_refused"));
}
