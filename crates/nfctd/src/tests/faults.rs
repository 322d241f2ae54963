//! Calls the daemon refuses, and the fault codes clients tell them apart by.

use axum::http::StatusCode;

use crate::testing::json::refusal;
use crate::testing::xmlrpc::{members, read_reply, view};
use crate::testing::{conns, Daemon};
use crate::xmlrpc::Value;

#[tokio::test]
async fn a_bad_filter_is_fault_4_and_400() {
    let daemon = Daemon::new(&["--auth", "none"], conns(3));
    let sid = daemon.login(None).await;
    for filter in [
        members([("no_such_key", Value::str("1"))]),
        members([("orig_src", Value::str("10.0.0.0/33"))]),
    ] {
        let fault = daemon.fault("view", &view(&sid, filter)).await;
        assert_eq!(fault.code, 4, "{}", fault.message);
    }
    let session = daemon.json_login(serde_json::json!({})).await.unwrap();
    let reply = daemon
        .get("/api/v1/connections?no_such_key=1", &session)
        .await;
    assert_eq!(
        refusal(&reply),
        (StatusCode::BAD_REQUEST, "invalid_argument")
    );
}

#[tokio::test]
async fn unknown_methods_bad_params_and_bad_sessions_have_their_codes() {
    let daemon = Daemon::new(&["--auth", "none"], conns(3));
    let sid = daemon.login(None).await;
    let unknown = daemon.fault("no.such.method", &[]).await;
    assert_eq!(unknown.code, -32601);
    assert!(unknown.message.contains("no.such.method"), "{unknown:?}");
    // Too few parameters, and one of the wrong type.
    assert_eq!(daemon.fault("kill", &[Value::str(&sid)]).await.code, -32602);
    let start = [
        Value::str(&sid),
        Value::Nil,
        Value::Nil,
        Value::Nil,
        Value::Bool(true),
    ];
    assert_eq!(daemon.fault("view", &start).await.code, -32602);
    let stranger = [Value::str("0123456789abcdef0123456789abcdef")];
    assert_eq!(daemon.fault("stats", &stranger).await.code, 2);
}

#[tokio::test]
async fn a_body_that_is_not_xml_rpc_is_a_fault_too() {
    let daemon = Daemon::new(&["--auth", "none"], conns(1));
    let cut_short = daemon.post_xml("<methodCall><methodName>".into()).await;
    assert_eq!(read_reply(&cut_short.unwrap()).unwrap_err().code, -32700);
    let not_a_call = "<?xml version=\"1.0\"?><methodResponse/>";
    let reply = daemon.post_xml(not_a_call.into()).await;
    assert_eq!(read_reply(&reply.unwrap()).unwrap_err().code, -32600);
}
