//! Regression tests for defects found in review, each named after what broke,
//! through the real daemon in a private namespace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::raw::{self, s};
use common::{synthetic, wait_until, Bed, Daemon};
use ctnetlink::consts::IPPROTO_GRE;
use ctnetlink::Conn;
use serde_json::json;

/// An update event carries the TCP state only when the state changed: a mark
/// set by a firewall rule on live traffic must not blank the state. (Changes
/// made through ctnetlink report every field, so real traffic is needed.)
#[test]
fn a_mark_set_by_a_rule_on_live_traffic_keeps_the_tcp_state() {
    use std::io::{Read, Write};
    let bed = Bed::new().with_tracking();
    let daemon = Daemon::start(&bed, &["--resync-interval", "0"]);
    let mut py = daemon.client();
    let sid = py.login();
    let (mut client, echo) = common::echo_connection(&bed, "192.0.2.1:8080");
    let talk = |client: &mut std::net::TcpStream| {
        client.write_all(b"ping").unwrap();
        let mut answer = [0u8; 4];
        client.read_exact(&mut answer).unwrap();
    };
    talk(&mut client);
    let filter = json!({"orig_dport": 8080});
    let established = wait_until(Duration::from_secs(10), || {
        py.call("view", json!([sid, filter, "", "", 0, 1])).ok()["connections"][0]["state"]
            == "ESTABLISHED"
    });
    assert!(established, "the connection never showed ESTABLISHED");

    bed.nft(&[
        "add", "rule", "inet", "nfctd", "out", "tcp", "dport", "8080", "ct", "mark", "set", "42",
    ]);
    let mut row = json!(null);
    let marked = wait_until(Duration::from_secs(10), || {
        talk(&mut client);
        row = py.call("view", json!([sid, filter, "", "", 0, 1])).ok()["connections"][0].clone();
        row["mark"] == 42
    });
    assert!(marked, "the mark never showed: {row}");
    assert_eq!(row["state"], "ESTABLISHED", "{row}");
    drop(client);
    echo.join().unwrap();
}

/// GRE keys travel as ports: without them the kernel refused kill and change.
#[test]
fn gre_connections_can_be_changed_and_killed() {
    let bed = Bed::new();
    let mut gre = Conn::flow(
        IPPROTO_GRE,
        "192.0.2.5".parse().unwrap(),
        "198.51.100.9".parse().unwrap(),
        7,
        9,
    );
    gre.timeout = 300;
    bed.inject(&[gre]);
    let daemon = Daemon::start(&bed, &[]);
    let mut py = daemon.client();
    let sid = py.login();
    let id = bed.kernel()[0].id.to_string();
    assert_eq!(
        py.call("change", json!([sid, "mark", id, 5])).ok(),
        json!(true)
    );
    assert_eq!(bed.kernel()[0].mark, 5);
    let killed = py.call("kill", json!([sid, [id]])).ok();
    assert_eq!(killed["killed"], 1, "{killed}");
    assert!(bed.kernel().is_empty());
}

/// A timeout of 0 makes the entry expire at once: the change succeeded.
#[test]
fn change_of_timeout_to_zero_succeeds_and_the_entry_leaves() {
    let bed = Bed::new();
    bed.inject(&synthetic(3));
    let daemon = Daemon::start(&bed, &[]);
    let mut py = daemon.client();
    let sid = py.login();
    let id = bed.kernel()[0].id.to_string();
    assert_eq!(
        py.call("change", json!([sid, "timeout", id, 0])).ok(),
        json!(true)
    );
    assert!(bed.kernel().iter().all(|c| c.id.to_string() != id));
    let view = py.call("view", json!([sid, {"id": id}, "", "", 0, 1])).ok();
    assert_eq!(view["total"], 0);
    assert!(daemon.log().contains("expired at once"), "{}", daemon.log());
}

/// A user name is the caller's text: it must not be able to write audit lines.
#[test]
fn a_user_name_cannot_forge_audit_lines() {
    let bed = Bed::new();
    let daemon = Daemon::start(&bed, &[]);
    let mut py = daemon.client();
    let forged =
        "x\n2099-01-01T00:00:00Z  INFO audit: kill session=deadbeef user=root id=1 result=killed";
    // Refused outright (a line break in a name is never a user), and logged
    // without the name.
    assert_eq!(py.call("login", json!([forged, "pw"])).fault_code(), 4);
    assert!(wait_until(Duration::from_secs(10), || daemon
        .log()
        .contains("login")));
    assert!(
        daemon
            .log()
            .lines()
            .all(|line| !line.starts_with("2099-01-01")),
        "{}",
        daemon.log()
    );
}

/// Method names inside system.multicall are the caller's text too.
#[test]
fn multicall_faults_do_not_repeat_a_long_method_name() {
    let bed = Bed::new();
    let daemon = Daemon::start(&bed, &[]);
    let long = "m".repeat(5000);
    let calls = raw::array(&[raw::strukt(&[
        ("methodName", s(&long)),
        ("params", raw::array(&[])),
    ])]);
    let (status, body) = daemon.post("/RPC2", raw::call("system.multicall", &[calls]).as_bytes());
    assert_eq!(status, 200);
    assert!(body.contains("unknown method"), "{body}");
    assert!(
        !body.contains(&"m".repeat(100)),
        "the fault repeats the name"
    );
}

/// Each value of a filter array is tried on every row: lists are bounded.
#[test]
fn an_overlong_filter_list_is_refused_naming_the_key() {
    let bed = Bed::new();
    let daemon = Daemon::start(&bed, &[]);
    let mut py = daemon.client();
    let sid = py.login();
    let ids: Vec<String> = (0..2000).map(|i| i.to_string()).collect();
    let fault = py.call("view", json!([sid, {"id": ids}, "", "", 0, 10]));
    assert_eq!(fault.fault_code(), 4);
    assert!(
        fault.fault_string().contains("\"id\"") && fault.fault_string().contains("1024"),
        "{fault:?}"
    );
}

/// Every frozen session may pin a table state: their number is bounded, and
/// the refusal says why and what to do.
#[test]
fn frozen_sessions_are_bounded_with_a_clear_refusal() {
    let bed = Bed::new();
    let daemon = Daemon::start(&bed, &[]);
    let mut py = daemon.client();
    let sids: Vec<String> = (0..=nfctd::MAX_FROZEN).map(|_| py.login()).collect();
    for sid in &sids[..nfctd::MAX_FROZEN] {
        assert_eq!(
            py.call("set_autorefresh", json!([sid, 0])).ok(),
            json!(true)
        );
    }
    let last = &sids[nfctd::MAX_FROZEN];
    let fault = py.call("set_autorefresh", json!([last, 0]));
    assert_eq!(fault.fault_code(), 4);
    assert!(
        fault.fault_string().contains("autorefresh off"),
        "{fault:?}"
    );
    py.call("logout", json!([sids[0]])).ok();
    assert_eq!(
        py.call("set_autorefresh", json!([last, 0])).ok(),
        json!(true)
    );
}

/// Killing in bulk publishes the table once, not once per connection.
#[test]
fn kill_matching_in_bulk_leaves_exactly_the_rest() {
    let bed = Bed::new();
    bed.inject(&synthetic(3000));
    let daemon = Daemon::start(&bed, &["--resync-interval", "0"]);
    let mut py = daemon.client();
    let sid = py.login();
    let udp: Vec<u32> = bed
        .kernel()
        .iter()
        .filter(|c| c.l4proto == 17)
        .map(|c| c.id)
        .collect();
    let out = py
        .call("kill_matching", json!([sid, {"proto": "udp"}]))
        .ok();
    assert_eq!(out["killed"], udp.len());
    let left = bed.kernel();
    assert_eq!(left.len(), 3000 - udp.len());
    assert!(left.iter().all(|c| c.l4proto != 17));
    let view = py.call("view", json!([sid, {}, "", "", 0, 0])).ok();
    assert_eq!(view["total"], left.len());
}
