//! A mirror whose thread stopped: health says so, a refresh is refused,
//! the last rows are still served.

use axum::body::Body;
use axum::http::StatusCode;
use serde_json::json;

use crate::testing::json::refusal;
use crate::testing::xmlrpc::view;
use crate::testing::{conns, request, Daemon};
use crate::xmlrpc::Value;

#[tokio::test]
async fn refresh_is_refused_and_health_fails_once_the_mirror_stopped() {
    let daemon = Daemon::new(&["--auth", "none"], conns(3));
    let sid = daemon.login(None).await;
    let session = daemon.json_login(json!({})).await.unwrap();
    let healthz = || request("GET", "/healthz").body(Body::empty()).unwrap();
    assert_eq!(daemon.send(healthz()).await.status(), StatusCode::OK);
    assert_eq!(
        daemon.call("refresh", &[Value::str(&sid)]).await,
        Ok(Value::Bool(true))
    );

    daemon.table.stop();
    assert_eq!(
        daemon.send(healthz()).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    let fault = daemon.fault("refresh", &[Value::str(&sid)]).await;
    // Nothing the kernel refused: the daemon itself is broken.
    assert_eq!(fault.code, -32603, "{}", fault.message);
    assert!(
        fault.message.contains("mirror thread stopped"),
        "{}",
        fault.message
    );
    let reply = daemon
        .json("POST", "/api/v1/refresh", Some(&session), None)
        .await;
    assert_eq!(
        refusal(&reply),
        (StatusCode::INTERNAL_SERVER_ERROR, "internal")
    );
    let stats = daemon.call("stats", &[Value::str(&sid)]).await.unwrap();
    let live = stats.member("mirror").and_then(|m| m.member("live"));
    assert_eq!(live, Some(&Value::Bool(false)));
    let page = daemon.call("view", &view(&sid, Value::Nil)).await.unwrap();
    assert_eq!(page.member("table_size"), Some(&Value::Int(3)));
}
