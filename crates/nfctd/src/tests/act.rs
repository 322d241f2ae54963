//! `kill`, `kill_matching` and `change`: the kernel is asked, and the table
//! follows.

use axum::http::StatusCode;
use ctnetlink::Change;
use serde_json::json;

use crate::testing::xmlrpc::{change, ids, members, view};
use crate::testing::{conns, Daemon, Write};
use crate::xmlrpc::Value;

/// Every id a session sees, in id order.
async fn all_ids(daemon: &Daemon, sid: &str) -> Vec<u32> {
    ids(&daemon.call("view", &view(sid, Value::Nil)).await.unwrap())
}

/// The connection `id` as `view` shows it.
async fn row(daemon: &Daemon, sid: &str, id: u32) -> Option<Value> {
    let one = members([("id", Value::str(id.to_string()))]);
    let page = daemon.call("view", &view(sid, one)).await.unwrap();
    match page.member("connections") {
        Some(Value::Array(rows)) => rows.first().cloned(),
        _ => None,
    }
}

#[tokio::test]
async fn kill_deletes_in_the_kernel_and_the_row_leaves_the_table() {
    let fixture = conns(5);
    let daemon = Daemon::new(&["--auth", "none"], fixture.clone());
    let sid = daemon.login(None).await;
    let kill = [
        Value::str(&sid),
        Value::Array(vec![Value::str("3"), Value::int(3), Value::str("99")]),
    ];
    let killed = daemon.call("kill", &kill).await.unwrap();
    assert_eq!(killed.member("killed"), Some(&Value::Int(1)));
    assert_eq!(
        killed.member("missing"),
        Some(&Value::Array(vec![Value::str("99")]))
    );
    assert_eq!(daemon.kernel.writes(), [Write::Delete(fixture[2].key())]);
    assert_eq!(all_ids(&daemon, &sid).await, [1, 2, 4, 5]);
}

#[tokio::test]
async fn kill_matching_deletes_what_the_filter_selects() {
    let fixture = conns(10);
    let daemon = Daemon::new(&["--auth", "none"], fixture.clone());
    let sid = daemon.login(None).await;
    let tcp = |c: &ctnetlink::Conn| c.l4proto == ctnetlink::consts::IPPROTO_TCP;
    let filter = [Value::str(&sid), members([("proto", Value::str("tcp"))])];
    let killed = daemon.call("kill_matching", &filter).await.unwrap();
    let n = fixture.iter().filter(|c| tcp(c)).count();
    assert_eq!(killed.member("killed"), Some(&Value::int(n as i64)));
    let rest: Vec<u32> = fixture.iter().filter(|c| !tcp(c)).map(|c| c.id).collect();
    assert_eq!(all_ids(&daemon, &sid).await, rest);
    assert_eq!(daemon.kernel.writes().len(), n);

    let everything = [Value::str(&sid), Value::Struct(Vec::new())];
    let fault = daemon.fault("kill_matching", &everything).await;
    assert_eq!(fault.code, 4, "an empty filter would kill everything");
}

#[tokio::test]
async fn change_sets_the_mark_in_the_kernel_and_the_table_shows_it() {
    let fixture = conns(3);
    let daemon = Daemon::new(&["--auth", "none"], fixture.clone());
    let sid = daemon.login(None).await;
    let mark = change(&sid, "mark", "2", 42);
    assert_eq!(daemon.call("change", &mark).await, Ok(Value::Bool(true)));
    assert_eq!(
        daemon.kernel.writes(),
        [Write::Update(fixture[1].key(), Change::Mark(42))]
    );
    let shown = row(&daemon, &sid, 2).await.unwrap();
    assert_eq!(shown.member("mark"), Some(&Value::Int(42)));
}

#[tokio::test]
async fn a_timeout_of_0_ends_the_connection() {
    let daemon = Daemon::new(&["--auth", "none"], conns(3));
    let sid = daemon.login(None).await;
    let expire = change(&sid, "timeout", "1", 0);
    assert_eq!(daemon.call("change", &expire).await, Ok(Value::Bool(true)));
    assert_eq!(all_ids(&daemon, &sid).await, [2, 3]);
}

#[tokio::test]
async fn the_json_api_deletes_and_patches() {
    let fixture = conns(4);
    let daemon = Daemon::new(&["--auth", "none"], fixture.clone());
    let session = daemon.json_login(json!({})).await.unwrap();
    let (status, killed) = daemon
        .json("DELETE", "/api/v1/connections/1", Some(&session), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{killed}");
    assert_eq!(killed, json!({"killed": 1, "missing": []}));
    let (status, _) = daemon
        .json(
            "PATCH",
            "/api/v1/connections/2",
            Some(&session),
            Some(json!({"mark": 7, "timeout": 120})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        daemon.kernel.writes(),
        [
            Write::Delete(fixture[0].key()),
            Write::Update(fixture[1].key(), Change::Mark(7)),
            Write::Update(fixture[1].key(), Change::Timeout(120)),
        ]
    );
    let (_, page) = daemon.get("/api/v1/connections?length=10", &session).await;
    let rows = page["connections"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{page}");
    let two = rows.iter().find(|r| r["id"] == 2).unwrap();
    assert_eq!(two["mark"], 7);
    assert!(
        (115..=120).contains(&two["timeout"].as_u64().unwrap()),
        "{two}"
    );
}
