//! `view` and the JSON list: filter, order and page over a table of rows.

use axum::http::StatusCode;

use crate::testing::xmlrpc::{ids, members};
use crate::testing::{conns, json, Daemon};
use crate::xmlrpc::Value;

/// The ids of the UDP connections of `n`, by source port from the highest.
fn udp_by_sport_desc(n: usize) -> Vec<u32> {
    let mut udp: Vec<_> = conns(n)
        .into_iter()
        .filter(|c| c.l4proto == ctnetlink::consts::IPPROTO_UDP)
        .collect();
    udp.sort_by_key(|c| std::cmp::Reverse(c.orig.sport));
    udp.iter().map(|c| c.id).collect()
}

#[tokio::test]
async fn view_filters_orders_and_pages() {
    let daemon = Daemon::new(&["--auth", "none"], conns(40));
    let sid = daemon.login(None).await;
    let udp = udp_by_sport_desc(40);
    let view = |start: i64, length: i64| {
        [
            Value::str(&sid),
            members([("proto", Value::str("udp"))]),
            Value::str("orig_sport"),
            Value::str("desc"),
            Value::int(start),
            Value::int(length),
        ]
    };
    let page = daemon.call("view", &view(1, 3)).await.unwrap();
    assert_eq!(ids(&page), udp[1..4]);
    assert_eq!(page.member("total"), Some(&Value::int(udp.len() as i64)));
    assert_eq!(page.member("table_size"), Some(&Value::Int(40)));
    // Past the end: the totals, no rows.
    let page = daemon.call("view", &view(100, 3)).await.unwrap();
    assert!(ids(&page).is_empty());
    assert_eq!(page.member("total"), Some(&Value::int(udp.len() as i64)));
}

#[tokio::test]
async fn the_json_list_pages_the_same_rows() {
    let daemon = Daemon::new(&["--auth", "none"], conns(40));
    let session = daemon.json_login(serde_json::json!({})).await.unwrap();
    let query = "proto=udp&order_by=orig_sport&order_dir=desc&start=1&length=3";
    let path = format!("/api/v1/connections?{query}");
    let (status, page) = daemon.get(&path, &session).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let want: Vec<u64> = udp_by_sport_desc(40)[1..4]
        .iter()
        .map(|&id| id.into())
        .collect();
    assert_eq!(json::ids(&page), want);
}

#[tokio::test]
async fn a_page_longer_than_max_page_is_refused() {
    let daemon = Daemon::new(&["--auth", "none", "--max-page", "5"], conns(10));
    let sid = daemon.login(None).await;
    let too_long = [
        Value::str(&sid),
        Value::Nil,
        Value::str("id"),
        Value::str("asc"),
        Value::int(0),
        Value::int(6),
    ];
    let fault = daemon.fault("view", &too_long).await;
    assert_eq!(fault.code, 4);
    assert!(fault.message.contains("length"), "{}", fault.message);
}
