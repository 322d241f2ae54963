//! A table still loading its first dump: `view` (XML-RPC and JSON) and
//! `stats` answer from the rows read so far and carry `loading: {loaded,
//! expected}`, every other field as a live table's; `/healthz` says 503
//! loading; the OpenAPI document describes the field. Once live, no answer
//! carries it.

use axum::body::Body;
use axum::http::StatusCode;
use serde_json::{json, Value as Json};

use crate::testing::xmlrpc::{ids, members, view};
use crate::testing::{conns, json, request, text, Daemon};
use crate::xmlrpc::Value;

/// A struct's keys, in the order sent.
fn keys(value: &Value) -> Vec<String> {
    match value {
        Value::Struct(pairs) => pairs.iter().map(|(k, _)| k.clone()).collect(),
        other => panic!("not a struct: {other:?}"),
    }
}

/// `value` without `key`, its time (`snapshot`) left out and its rows by id
/// only: their timeouts and ages count seconds between two answers.
fn without(value: &Value, key: &str) -> Vec<(String, Value)> {
    match value {
        Value::Struct(pairs) => pairs
            .iter()
            .filter(|(k, _)| k != key && k != "snapshot")
            .map(|(k, v)| match k.as_str() {
                "connections" => {
                    let ids = ids(value).into_iter().map(i64::from).map(Value::Int);
                    (k.clone(), Value::Array(ids.collect()))
                }
                _ => (k.clone(), v.clone()),
            })
            .collect(),
        other => panic!("not a struct: {other:?}"),
    }
}

fn without_json(value: &Json, key: &str) -> Json {
    let mut value = value.clone();
    let ids = json::ids(&value);
    let object = value.as_object_mut().unwrap();
    object.remove(key);
    object.remove("snapshot");
    object.insert("connections".into(), json!(ids));
    value
}

#[tokio::test]
async fn answers_carry_progress_while_loading_and_nothing_else_changes() {
    let daemon = Daemon::new(&["--auth", "none"], conns(12));
    let sid = daemon.login(None).await;
    let session = daemon.json_login(json!({})).await.unwrap();
    let healthz = || request("GET", "/healthz").body(Body::empty()).unwrap();

    daemon.table.set_loading(Some((12, 40)));
    let progress = members([("loaded", Value::Int(12)), ("expected", Value::Int(40))]);
    let loading_page = daemon.call("view", &view(&sid, Value::Nil)).await.unwrap();
    assert_eq!(loading_page.member("loading"), Some(&progress));
    assert_eq!(
        keys(&loading_page),
        [
            "total",
            "start",
            "length",
            "table_size",
            "loading",
            "autorefresh",
            "snapshot",
            "connections"
        ]
    );
    let loading_stats = daemon.call("stats", &[Value::str(&sid)]).await.unwrap();
    assert_eq!(loading_stats.member("loading"), Some(&progress));
    let live = loading_stats
        .member("mirror")
        .and_then(|m| m.member("live"));
    assert_eq!(live, Some(&Value::Bool(false)));
    let (status, loading_json) = daemon.get("/api/v1/connections", &session).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        loading_json["loading"],
        json!({"loaded": 12, "expected": 40})
    );
    let (_, loading_json_stats) = daemon.get("/api/v1/stats", &session).await;
    assert_eq!(
        loading_json_stats["loading"],
        json!({"loaded": 12, "expected": 40})
    );
    let health = daemon.send(healthz()).await;
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        health.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    assert_eq!(text(health).await, "table mirror is loading: 12 of 40\n");

    // Live: the same answers without `loading`, and not a key more or less.
    daemon.table.set_loading(None);
    let page = daemon.call("view", &view(&sid, Value::Nil)).await.unwrap();
    assert_eq!(page.member("loading"), None);
    assert_eq!(without(&page, "loading"), without(&loading_page, "loading"));
    let stats = daemon.call("stats", &[Value::str(&sid)]).await.unwrap();
    assert_eq!(stats.member("loading"), None);
    assert_eq!(
        without(&stats, "mirror"),
        without(&loading_stats, "mirror")
            .into_iter()
            .filter(|(k, _)| k != "loading")
            .collect::<Vec<_>>()
    );
    let (_, json_page) = daemon.get("/api/v1/connections", &session).await;
    assert_eq!(json_page.get("loading"), None);
    assert_eq!(
        without_json(&json_page, "loading"),
        without_json(&loading_json, "loading")
    );
    let (_, json_stats) = daemon.get("/api/v1/stats", &session).await;
    assert_eq!(json_stats.get("loading"), None);
    assert_eq!(json_stats["mirror"]["live"], true);
    let health = daemon.send(healthz()).await;
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_openapi_document_describes_loading_as_optional() {
    let daemon = Daemon::new(&["--auth", "none"], conns(1));
    let response = daemon
        .send(
            request("GET", "/api/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let doc: Json = serde_json::from_str(&text(response).await).unwrap();
    let schemas = &doc["components"]["schemas"];
    let loading = &schemas["Loading"];
    for field in ["loaded", "expected"] {
        assert_eq!(loading["properties"][field]["type"], "integer", "{loading}");
    }
    for reply in ["ViewPage", "Stats"] {
        let schema = &schemas[reply];
        assert_eq!(
            schema["properties"]["loading"]["$ref"], "#/components/schemas/Loading",
            "{reply}: {schema}"
        );
        let required = schema["required"].as_array().unwrap();
        assert!(!required.contains(&json!("loading")), "{reply}: {schema}");
    }
}
