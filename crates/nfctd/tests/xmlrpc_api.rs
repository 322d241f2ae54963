//! Every XML-RPC method (docs/xmlrpc-api.md) through the real daemon and Python's
//! xmlrpc.client: sessions, view, kill, kill_matching, change, refresh and
//! autorefresh, stats, introspection, multicall, and each fault code's trigger.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::raw::{self, i8, s};
use common::{ids, int_keys, proto, synthetic, wait_until, Answer, Bed, Daemon};
use ctnetlink::Conn;
use nfctd_table::query::Field;
use serde_json::{json, Value as Json};

fn kernel_ids(bed: &Bed) -> BTreeSet<String> {
    bed.kernel().iter().map(|c| c.id.to_string()).collect()
}

fn all(py: &mut common::Py, sid: &str) -> Json {
    py.call("view", json!([sid, {}, "", "", 0, 1000])).ok()
}

/// A fresh namespace with `n` entries and a daemon serving it.
fn setup(n: usize, args: &[&str]) -> (Bed, Daemon) {
    let bed = Bed::new();
    bed.inject(&synthetic(n));
    let daemon = Daemon::start(&bed, args);
    (bed, daemon)
}

#[test]
fn login_and_logout() {
    let (_bed, daemon) = setup(3, &[]);
    let mut py = daemon.client();
    let a = py.login();
    let b = py.login();
    assert_ne!(a, b);
    assert!(a.len() >= 32, "session id {a:?} is too short for 128 bits");
    // pyctd's auth_sha style login(user, password) is accepted with --auth none.
    let c = py.call("login", json!(["alice", "secret"])).ok();
    assert!(c.as_str().unwrap().len() >= 32);
    assert_eq!(all(&mut py, &a)["total"], 3);

    assert_eq!(py.call("logout", json!([a])).ok(), json!(true));
    let after = py.call("view", json!([a, {}, "", "", 0, 10]));
    assert_eq!(after.fault_code(), 2);
    assert_eq!(py.call("logout", json!([a])).fault_code(), 2);
    assert_eq!(py.call("refresh", json!([a])).fault_code(), 2);
    // The other session is untouched.
    assert_eq!(all(&mut py, &b)["total"], 3);
}

#[test]
fn view_renders_every_field_as_the_kernel_has_it() {
    let (bed, daemon) = setup(30, &[]);
    let truth: BTreeMap<String, Conn> = bed
        .kernel()
        .into_iter()
        .map(|c| (c.id.to_string(), c))
        .collect();
    let mut py = daemon.client();
    let sid = py.login();
    let view = all(&mut py, &sid);
    assert_eq!(view["total"], 30);
    assert_eq!(view["start"], 0);
    assert_eq!(view["length"], 30);
    assert_eq!(view["table_size"], 30);
    assert_eq!(view["autorefresh"], true);
    let stamp = view["snapshot"]["$datetime"].as_str().expect("a dateTime");
    assert!(
        stamp.len() == 17 && &stamp[8..9] == "T" && stamp[..8].bytes().all(|b| b.is_ascii_digit()),
        "{stamp}"
    );
    let int_keys = int_keys();
    let rows = view["connections"].as_array().unwrap();
    assert_eq!(rows.len(), 30);
    for row in rows {
        let c = &truth[row["id"].as_str().unwrap()];
        let family = if c.orig.src.is_ipv4() { "ipv4" } else { "ipv6" };
        assert_eq!(row["family"], family);
        assert_eq!(row["proto"], proto(c.l4proto));
        assert_eq!(row["l4proto"], c.l4proto);
        assert_eq!(row["orig_src"], c.orig.src.to_string());
        assert_eq!(row["orig_dst"], c.orig.dst.to_string());
        assert_eq!(row["repl_src"], c.reply.src.to_string());
        assert_eq!(row["repl_dst"], c.reply.dst.to_string());
        assert_eq!(row["orig_sport"], c.orig.sport);
        assert_eq!(row["orig_dport"], c.orig.dport);
        assert_eq!(row["repl_sport"], c.reply.sport);
        assert_eq!(row["repl_dport"], c.reply.dport);
        assert_eq!(
            row["state"],
            ctnetlink::names::state_name(c.l4proto, c.proto_state)
        );
        if c.l4proto == 6 {
            assert_eq!(row["state"], "ESTABLISHED");
        }
        let status: Vec<&str> = row["status"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(status.contains(&"CONFIRMED"), "{status:?}");
        assert_eq!(status.contains(&"ASSURED"), c.status & 4 != 0);
        assert_eq!(status.contains(&"SEEN_REPLY"), c.status & 2 != 0);
        assert_eq!(row["mark"], c.mark, "mark comes back as a (Python) int");
        assert_eq!(row["zone"], 0);
        let timeout = row["timeout"].as_u64().unwrap();
        assert!(timeout.abs_diff(u64::from(c.timeout)) <= 3);
        for key in &int_keys {
            assert!(row[key].is_u64(), "{key} is not an int: {row}");
        }
        assert!(row["rate"].is_f64(), "rate is not a double: {row}");
        for field in Field::ALL {
            let present = row.get(field.name()).is_some();
            assert_eq!(present, !field.needs_uid_mask(), "{}: {row}", field.name());
        }
    }
    // length 0 returns only the totals; start past the end returns nothing.
    let totals = py.call("view", json!([sid, {}, "", "", 0, 0])).ok();
    assert_eq!(
        (totals["total"].clone(), totals["length"].clone()),
        (json!(30), json!(0))
    );
    assert!(totals["connections"].as_array().unwrap().is_empty());
    let past = py.call("view", json!([sid, {}, "", "", 500, 10])).ok();
    assert_eq!(past["total"], 30);
    assert_eq!(past["length"], 0);
}

#[test]
fn stats_counts_agree_with_the_kernel() {
    let (bed, daemon) = setup(120, &[]);
    let truth = bed.kernel();
    let mut py = daemon.client();
    let sid = py.login();
    let stats = py.call("stats", json!([sid])).ok();
    assert_eq!(stats["kernel_entries"], 120);
    assert_eq!(stats["table_size"], 120);
    assert!(stats["table_limit"].as_u64().unwrap() >= 120);
    let mut by_proto: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_state: BTreeMap<String, u64> = BTreeMap::new();
    for c in &truth {
        *by_proto.entry(proto(c.l4proto).into()).or_default() += 1;
        let st = ctnetlink::names::state_name(c.l4proto, c.proto_state);
        if !st.is_empty() {
            *by_state.entry(st.into()).or_default() += 1;
        }
    }
    assert_eq!(by_proto.len(), 5);
    let got: BTreeMap<String, u64> = stats["by_proto"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(got, by_proto);
    let got: BTreeMap<String, u64> = stats["by_state"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(got, by_state);
    for key in [
        "found",
        "invalid",
        "insert_failed",
        "drop",
        "early_drop",
        "error",
        "search_restart",
        "clash_resolve",
        "chaintoolong",
    ] {
        assert!(stats["kernel"][key].is_u64(), "kernel.{key}: {stats}");
    }
    assert!(stats["accounting"].is_boolean());
    assert!(stats["timestamps"].is_boolean());
    assert_eq!(stats["accounting"], false);
    assert_eq!(py.call("stats", json!(["nope"])).fault_code(), 2);

    // Accounting switched on in the namespace shows up.
    let bed2 = Bed::new().with_accounting();
    let daemon2 = Daemon::start(&bed2, &[]);
    let mut py2 = daemon2.client();
    let sid2 = py2.login();
    let stats2 = py2.call("stats", json!([sid2])).ok();
    assert_eq!(stats2["accounting"], true);
    assert_eq!(stats2["timestamps"], true);
    assert_eq!(stats2["kernel_entries"], 0);
}

#[test]
fn introspection_methods() {
    let (_bed, daemon) = setup(1, &[]);
    let mut py = daemon.client();
    let methods = py.call("system.listMethods", json!([])).ok();
    let methods: BTreeSet<&str> = methods
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    for m in [
        "login",
        "logout",
        "view",
        "kill",
        "kill_matching",
        "change",
        "refresh",
        "set_autorefresh",
        "stats",
        "system.listMethods",
        "system.methodHelp",
        "system.methodSignature",
        "system.multicall",
        "system.getCapabilities",
    ] {
        assert!(methods.contains(m), "{m} missing from {methods:?}");
        let help = py.call("system.methodHelp", json!([m])).ok();
        assert!(!help.as_str().unwrap().is_empty(), "no help for {m}");
        let sig = py.call("system.methodSignature", json!([m])).ok();
        let sig = sig.as_array().unwrap();
        assert!(!sig.is_empty(), "no signature for {m}");
        for one in sig {
            assert!(one.as_array().unwrap().iter().all(Json::is_string));
        }
    }
    let view_sig = py.call("system.methodSignature", json!(["view"])).ok();
    assert_eq!(
        view_sig,
        json!([["struct", "string", "struct", "string", "string", "int", "int"]])
    );
    assert!(py
        .call("system.methodHelp", json!(["view"]))
        .ok()
        .as_str()
        .unwrap()
        .contains("view("));
    assert_eq!(
        py.call("system.methodHelp", json!(["no_such"]))
            .fault_code(),
        -32601
    );
    let caps = py.call("system.getCapabilities", json!([])).ok();
    for key in ["xmlrpc", "system.multicall", "introspection", "nil"] {
        assert!(caps[key]["specUrl"].is_string(), "{key}: {caps}");
        assert!(caps[key]["specVersion"].is_i64(), "{key}: {caps}");
    }
}

#[test]
fn multicall_puts_each_fault_in_its_slot() {
    let (_bed, daemon) = setup(5, &[]);
    let mut py = daemon.client();
    let sid = py.login();
    let calls = json!([
        {"methodName": "view", "params": [sid, {}, "", "", 0, 10]},
        {"methodName": "view", "params": ["bogus", {}, "", "", 0, 10]},
        {"methodName": "stats", "params": [sid]},
        {"methodName": "no.such.method", "params": []},
        {"methodName": "view", "params": [sid, {"nosuchkey": 1}, "", "", 0, 10]},
        {"methodName": "view", "params": [sid]},
        {"methodName": "system.listMethods", "params": []},
    ]);
    let out = py.call("system.multicall", json!([calls])).ok();
    let out = out.as_array().unwrap();
    assert_eq!(out.len(), 7);
    assert_eq!(out[0].as_array().unwrap().len(), 1);
    assert_eq!(out[0][0]["total"], 5);
    assert_eq!(out[1]["faultCode"], 2);
    assert!(out[1]["faultString"].is_string());
    assert_eq!(out[2][0]["kernel_entries"], 5);
    assert_eq!(out[3]["faultCode"], -32601);
    assert_eq!(out[4]["faultCode"], 4);
    assert!(out[4]["faultString"]
        .as_str()
        .unwrap()
        .contains("nosuchkey"));
    assert_eq!(out[5]["faultCode"], -32602);
    assert!(out[6][0].as_array().unwrap().len() >= 14);
    // The whole call is refused only when it is not an array.
    assert_eq!(
        py.call("system.multicall", json!(["x"])).fault_code(),
        -32602
    );
    // At most 8 heavy members run (one multicall holds one heavy slot); the
    // rest get fault 4 in their slots, and quick members still run.
    let mut members: Vec<_> = (0..10)
        .map(|_| json!({"methodName": "stats", "params": [sid]}))
        .collect();
    members.push(json!({"methodName": "system.listMethods", "params": []}));
    let out = py.call("system.multicall", json!([members])).ok();
    let slots = out.as_array().unwrap();
    assert!(
        slots[..8].iter().all(|s| s[0]["table_size"].is_u64()),
        "{out}"
    );
    assert!(slots[8..10].iter().all(|s| s["faultCode"] == 4), "{out}");
    assert!(slots[10][0].is_array());
}

#[test]
fn kill_by_int_i8_and_string_ids_reports_missing_and_spares_the_rest() {
    let (bed, daemon) = setup(60, &["--resync-interval", "0"]);
    let before = bed.kernel();
    let mut py = daemon.client();
    let sid = py.login();
    let small = before.iter().find(|c| c.id < 1 << 31).unwrap().id;
    let big = before
        .iter()
        .map(|c| c.id)
        .find(|id| *id >= 1 << 31 && *id != small)
        .unwrap_or_else(|| before.iter().find(|c| c.id != small).unwrap().id);
    let text = before
        .iter()
        .map(|c| c.id)
        .find(|id| ![small, big].contains(id))
        .unwrap();
    let absent = (1..).find(|n| before.iter().all(|c| c.id != *n)).unwrap();

    // <int> through Python, with a missing id next to it.
    let out = py.call("kill", json!([sid, [small, absent]])).ok();
    assert_eq!(out["killed"], 1);
    assert_eq!(out["missing"], json!([absent.to_string()]));
    // <i8> (Python cannot send ids above 2^31-1).
    let out = daemon
        .raw("kill", &[s(&sid), raw::array(&[i8(i64::from(big))])])
        .ok();
    assert_eq!(out["killed"], 1);
    assert_eq!(out["missing"], json!([]));
    // A decimal string, twice: one connection.
    let out = py
        .call("kill", json!([sid, [text.to_string(), text.to_string()]]))
        .ok();
    assert_eq!(out["killed"], 1);
    // Killing it again: it is missing now.
    let out = py.call("kill", json!([sid, [text.to_string()]])).ok();
    assert_eq!(out["killed"], 0);
    assert_eq!(out["missing"], json!([text.to_string()]));

    let killed = [small, big, text];
    let want: BTreeSet<String> = before
        .iter()
        .filter(|c| !killed.contains(&c.id))
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(want.len(), 57);
    assert_eq!(kernel_ids(&bed), want);
    // The served table follows at once.
    assert_eq!(
        ids(&all(&mut py, &sid))
            .into_iter()
            .collect::<BTreeSet<_>>(),
        want
    );
    // An id that is no number at all is an invalid argument.
    assert_eq!(py.call("kill", json!([sid, ["12ab"]])).fault_code(), 4);
    // Below i32: not a wrapped u32 either.
    assert_eq!(
        py.call("kill", json!([sid, ["-2147483649"]])).fault_code(),
        4
    );
    assert_eq!(kernel_ids(&bed), want);
}

#[test]
fn change_mark_and_timeout_in_the_kernel() {
    let (bed, daemon) = setup(20, &["--resync-interval", "0"]);
    let before = bed.kernel();
    let mut py = daemon.client();
    let sid = py.login();
    let kernel_row = |id: u32| bed.kernel().into_iter().find(|c| c.id == id).unwrap();

    // A mark above 2^31 as <i8>, the id as <i8> or <int> as it fits.
    let a = before[0].id;
    let out = daemon.raw(
        "change",
        &[s(&sid), s("mark"), i8(i64::from(a)), i8(3_000_000_000)],
    );
    assert_eq!(out, Answer::Ok(json!(true)));
    assert_eq!(kernel_row(a).mark, 3_000_000_000);
    // The same through Python: the big value as a decimal string, the id too.
    let b = before[1].id;
    let out = py.call("change", json!([sid, "mark", b.to_string(), "4000000000"]));
    assert_eq!(out, Answer::Ok(json!(true)));
    assert_eq!(kernel_row(b).mark, 4_000_000_000);
    let out = py.call("change", json!([sid, "mark", b.to_string(), 77]));
    assert_eq!(out, Answer::Ok(json!(true)));
    assert_eq!(kernel_row(b).mark, 77);
    // The view shows the new mark (as an <i8> int) at once.
    let view = py
        .call("view", json!([sid, {"id": a.to_string()}, "", "", 0, 1]))
        .ok();
    assert_eq!(view["connections"][0]["mark"], 3_000_000_000u64);

    // Timeout.
    let c = before[2].id;
    let out = py.call("change", json!([sid, "timeout", c.to_string(), 5000]));
    assert_eq!(out, Answer::Ok(json!(true)));
    let t = kernel_row(c).timeout;
    assert!((4990..=5000).contains(&t), "kernel timeout {t}");
    let view = py
        .call("view", json!([sid, {"id": c.to_string()}, "", "", 0, 1]))
        .ok();
    let shown = view["connections"][0]["timeout"].as_u64().unwrap();
    assert!((4990..=5000).contains(&shown), "shown timeout {shown}");

    // Nothing else changed.
    for (old, new) in before.iter().zip(bed.kernel()) {
        if ![a, b, c].contains(&old.id) {
            assert_eq!((old.id, old.mark), (new.id, new.mark));
        }
    }

    // Unknown field: fault 4 naming field_name; bad values: fault 4.
    let f = py.call("change", json!([sid, "zone", a.to_string(), 1]));
    assert_eq!(f.fault_code(), 4);
    assert!(f.fault_string().contains("field_name"), "{f:?}");
    assert_eq!(
        py.call("change", json!([sid, "mark", a.to_string(), "-2147483649"]))
            .fault_code(),
        4
    );
    assert_eq!(
        py.call("change", json!([sid, "timeout", a.to_string(), -1]))
            .fault_code(),
        4
    );
    assert_eq!(
        py.call("change", json!([sid, "mark", a.to_string(), "4294967296"]))
            .fault_code(),
        4
    );
    assert_eq!(kernel_row(a).mark, 3_000_000_000);

    // A gone id: never existed, and deleted behind the daemon's back.
    let absent = (1..).find(|n| before.iter().all(|c| c.id != *n)).unwrap();
    let f = py.call("change", json!([sid, "mark", absent.to_string(), 1]));
    assert_eq!(f.fault_code(), 5, "{f:?}");
    let doomed = before[3].clone();
    bed.ct().delete_many(&[doomed.key()]).unwrap();
    let f = py.call("change", json!([sid, "mark", doomed.id.to_string(), 1]));
    assert_eq!(f.fault_code(), 5, "{f:?}");
    assert_eq!(bed.kernel().len(), 19);
}

#[test]
fn kill_matching_kills_exactly_the_matching_set() {
    let (bed, daemon) = setup(150, &["--resync-interval", "0"]);
    let before = bed.kernel();
    let mut py = daemon.client();
    let sid = py.login();

    // Empty filters are refused and kill nothing.
    for empty in [json!({}), json!({"q": ""}), json!({"proto": []})] {
        let f = py.call("kill_matching", json!([sid, empty]));
        assert_eq!(f.fault_code(), 4, "{empty}: {f:?}");
    }
    let f = py.call("kill_matching", json!([sid, {"bogus": 1}]));
    assert_eq!(f.fault_code(), 4);
    assert!(f.fault_string().contains("bogus"));
    assert_eq!(bed.kernel().len(), 150);

    let matches = |c: &Conn| (1030..=1080).contains(&c.orig.sport) && c.l4proto != 17;
    let doomed: BTreeSet<u32> = before.iter().filter(|c| matches(c)).map(|c| c.id).collect();
    assert!(doomed.len() > 10);
    let out = py
        .call(
            "kill_matching",
            json!([sid, {"orig_sport": "1030-1080", "proto": ["tcp", "sctp", "icmp", "icmpv6"]}]),
        )
        .ok();
    assert_eq!(out["killed"], doomed.len());
    let want: BTreeSet<String> = before
        .iter()
        .filter(|c| !doomed.contains(&c.id))
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(kernel_ids(&bed), want);
    assert_eq!(all(&mut py, &sid)["total"], want.len());
    // Again: nothing left to kill.
    let out = py
        .call(
            "kill_matching",
            json!([sid, {"orig_sport": "1030-1080", "proto": "tcp"}]),
        )
        .ok();
    assert_eq!(out["killed"], 0);
}

#[test]
fn frozen_and_live_views() {
    let bed = Bed::new();
    let conns = synthetic(80);
    bed.inject(&conns[..50]);
    let daemon = Daemon::start(&bed, &["--resync-interval", "0"]);
    let mut py = daemon.client();
    let frozen = py.login();
    let live = py.login();
    assert_eq!(all(&mut py, &frozen)["autorefresh"], true);

    assert_eq!(
        py.call("set_autorefresh", json!([frozen, 0])).ok(),
        json!(true)
    );
    let first = all(&mut py, &frozen);
    assert_eq!(first["autorefresh"], false);
    assert_eq!(first["total"], 50);
    assert!(first["snapshot"]["$datetime"].is_string());

    bed.inject(&conns[50..]);
    assert!(
        wait_until(Duration::from_secs(10), || all(&mut py, &live)["total"]
            == 80),
        "the live session never saw the new entries"
    );
    let still = all(&mut py, &frozen);
    assert_eq!(still["total"], 50);
    assert_eq!(still["table_size"], 50);
    assert_eq!(still["snapshot"], first["snapshot"]);
    assert_eq!(ids(&still), ids(&first));

    // refresh() takes a new snapshot; the session stays frozen.
    assert_eq!(py.call("refresh", json!([frozen])).ok(), json!(true));
    let refreshed = all(&mut py, &frozen);
    assert_eq!(refreshed["total"], 80);
    assert_eq!(refreshed["autorefresh"], false);
    let doomed: Vec<_> = bed.kernel().iter().take(5).map(Conn::key).collect();
    bed.ct().delete_many(&doomed).unwrap();
    assert!(wait_until(Duration::from_secs(10), || all(&mut py, &live)
        ["total"]
        == 75));
    assert_eq!(all(&mut py, &frozen)["total"], 80);

    // Back to live with a boolean.
    assert_eq!(
        py.call("set_autorefresh", json!([frozen, true])).ok(),
        json!(true)
    );
    let back = all(&mut py, &frozen);
    assert_eq!(back["autorefresh"], true);
    assert_eq!(back["total"], 75);
    // pyctd's int 1 and boolean false work too; other ints are refused.
    assert_eq!(
        py.call("set_autorefresh", json!([frozen, false])).ok(),
        json!(true)
    );
    assert_eq!(all(&mut py, &frozen)["autorefresh"], false);
    assert_eq!(
        py.call("set_autorefresh", json!([frozen, 1])).ok(),
        json!(true)
    );
    assert_eq!(all(&mut py, &frozen)["autorefresh"], true);
    assert_eq!(
        py.call("set_autorefresh", json!([frozen, 2])).fault_code(),
        4
    );
    assert_eq!(
        py.call("set_autorefresh", json!([frozen, "yes"]))
            .fault_code(),
        -32602
    );
    assert_eq!(
        py.call("set_autorefresh", json!(["nope", 0])).fault_code(),
        2
    );
}

#[test]
fn refresh_with_autorefresh_on_reconciles() {
    let (bed, daemon) = setup(40, &["--resync-interval", "0"]);
    let mut py = daemon.client();
    let sid = py.login();
    assert_eq!(all(&mut py, &sid)["total"], 40);
    // Entries made before the daemon subscribed never report their deletion.
    let doomed: Vec<_> = bed.kernel().iter().take(7).map(Conn::key).collect();
    bed.ct().delete_many(&doomed).unwrap();
    assert_eq!(py.call("refresh", json!([sid])).ok(), json!(true));
    let view = all(&mut py, &sid);
    assert_eq!(
        ids(&view).into_iter().collect::<BTreeSet<_>>(),
        kernel_ids(&bed)
    );
    assert_eq!(view["total"], 33);
}

#[test]
fn sessions_expire_when_idle_and_activity_slides_the_timeout() {
    let (_bed, daemon) = setup(2, &["--session-timeout", "1"]);
    let mut py = daemon.client();
    let busy = py.login();
    let idle = py.login();
    // 2 s of activity every 0.4 s: longer than the timeout, never idle for it.
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(all(&mut py, &busy)["total"], 2);
    }
    assert_eq!(
        py.call("view", json!([idle, {}, "", "", 0, 1]))
            .fault_code(),
        2
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        py.call("view", json!([busy, {}, "", "", 0, 1]))
            .fault_code(),
        2
    );
    // A new login works.
    let again = py.login();
    assert_eq!(all(&mut py, &again)["total"], 2);
}

#[test]
fn each_fault_code_has_its_trigger() {
    let (_bed, daemon) = setup(10, &["--max-page", "50"]);
    let mut py = daemon.client();
    let sid = py.login();

    // 2: unknown session.
    for method in ["view", "stats", "refresh", "logout"] {
        let params = if method == "view" {
            json!(["0123456789abcdef", {}, "", "", 0, 1])
        } else {
            json!(["0123456789abcdef"])
        };
        assert_eq!(py.call(method, params).fault_code(), 2, "{method}");
    }
    assert_eq!(py.call("kill", json!(["", ["1"]])).fault_code(), 2);

    // 4: invalid arguments, the string naming the argument.
    let v = |py: &mut common::Py, filters: Json, by: &str, dir: &str, start: i64, len: i64| {
        py.call("view", json!([sid, filters, by, dir, start, len]))
    };
    let f = v(&mut py, json!({"nosuchkey": 1}), "", "", 0, 10);
    assert_eq!(f.fault_code(), 4);
    assert!(f.fault_string().contains("nosuchkey"), "{f:?}");
    let f = v(&mut py, json!({"orig_sport": "abc"}), "", "", 0, 10);
    assert_eq!(f.fault_code(), 4);
    assert!(f.fault_string().contains("orig_sport"), "{f:?}");
    let f = v(&mut py, json!({"orig_src": "10.0.0.0/40"}), "", "", 0, 10);
    assert!(f.fault_string().contains("orig_src"), "{f:?}");
    let f = v(&mut py, json!({"proto": "tcpx"}), "", "", 0, 10);
    assert_eq!(f.fault_code(), 4);
    assert!(f.fault_string().contains("proto"), "{f:?}");
    let f = v(&mut py, json!({"port": 70000}), "", "", 0, 10);
    assert_eq!(f.fault_code(), 4);
    let f = v(&mut py, json!({}), "", "UP", 0, 10);
    assert_eq!(f.fault_code(), 4);
    assert!(f.fault_string().contains("order_dir"), "{f:?}");
    let f = v(&mut py, json!({}), "nosuchcolumn", "", 0, 10);
    assert_eq!(f.fault_code(), 4);
    assert!(f.fault_string().contains("order_by"), "{f:?}");
    let f = v(&mut py, json!({}), "", "", 0, 51);
    assert_eq!(f.fault_code(), 4);
    assert!(f.fault_string().contains("length"), "{f:?}");
    assert_eq!(v(&mut py, json!({}), "", "", 0, 50).ok()["total"], 10);
    let f = v(&mut py, json!({}), "", "", -1, 10);
    assert_eq!(f.fault_code(), 4);
    assert!(f.fault_string().contains("start"), "{f:?}");
    assert_eq!(v(&mut py, json!({}), "", "", 0, -1).fault_code(), 4);

    // 5: no such connection.
    let f = py.call("change", json!([sid, "timeout", "1", 10]));
    assert_eq!(f.fault_code(), 5);

    // -32601: unknown method.
    let f = py.call("no_such_method", json!([]));
    assert_eq!(f.fault_code(), -32601);
    assert_eq!(py.call("system.nope", json!([])).fault_code(), -32601);

    // -32602: wrong number or types of parameters.
    assert_eq!(py.call("view", json!([sid])).fault_code(), -32602);
    assert_eq!(
        py.call("view", json!([sid, {}, "", "", 0, 10, 1]))
            .fault_code(),
        -32602
    );
    assert_eq!(
        py.call("view", json!([sid, "not a struct", "", "", 0, 10]))
            .fault_code(),
        -32602
    );
    let f = py.call("view", json!([sid, {}, "", "", "zero", 10]));
    assert_eq!(f.fault_code(), 4);
    assert!(f.fault_string().contains("start"), "{f:?}");
    assert_eq!(
        py.call("view", json!([sid, {}, "", "", [0], 10]))
            .fault_code(),
        -32602
    );
    assert_eq!(
        py.call("view", json!([17, {}, "", "", 0, 10])).fault_code(),
        -32602
    );
    assert_eq!(py.call("kill", json!([sid])).fault_code(), -32602);
    assert_eq!(
        py.call("kill", json!([sid, {"id": 1}])).fault_code(),
        -32602
    );
    assert_eq!(
        py.call("change", json!([sid, "mark", "1"])).fault_code(),
        -32602
    );
    assert_eq!(
        py.call("change", json!([sid, "mark", "1", [1]]))
            .fault_code(),
        -32602
    );
    assert_eq!(py.call("stats", json!([])).fault_code(), -32602);
    assert_eq!(
        py.call("system.listMethods", json!([1])).fault_code(),
        -32602
    );
    assert_eq!(
        py.call("login", json!(["a", "b", "c"])).fault_code(),
        -32602
    );

    // -32700: not well-formed XML.
    let (status, body) = daemon.post("/RPC2", b"<methodCall><methodName>view</methodName");
    assert_eq!(status, 200);
    assert_eq!(raw::parse_response(&body).fault_code(), -32700);
    // -32600: well-formed but not a call.
    let response = r#"<?xml version="1.0"?><methodResponse><params><param><value><int>1</int></value></param></params></methodResponse>"#;
    let (_, body) = daemon.post("/RPC2", response.as_bytes());
    assert_eq!(raw::parse_response(&body).fault_code(), -32600);
    let (_, body) = daemon.post("/RPC2", b"<methodCall><params/></methodCall>");
    assert_eq!(raw::parse_response(&body).fault_code(), -32600);

    // The session survived all that.
    assert_eq!(v(&mut py, json!({}), "", "", 0, 50).ok()["total"], 10);
}

/// Unix seconds of an XML-RPC dateTime `YYYYMMDDTHH:MM:SS` (UTC).
fn unix_of(stamp: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| stamp[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(4..6), n(6..8));
    let (hh, mm, ss) = (n(9..11), n(12..14), n(15..17));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + hh * 3600 + mm * 60 + ss
}

#[test]
fn snapshot_is_the_utc_time_of_the_table_served() {
    let (_bed, daemon) = setup(4, &[]);
    let mut py = daemon.client();
    let sid = py.login();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    };
    let stamp = |v: &Json| unix_of(v["snapshot"]["$datetime"].as_str().unwrap());
    let live = stamp(&all(&mut py, &sid));
    assert!(
        (live - now()).abs() <= 2,
        "live snapshot {live} vs now {}",
        now()
    );
    py.call("set_autorefresh", json!([sid, 0])).ok();
    let frozen = stamp(&all(&mut py, &sid));
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        stamp(&all(&mut py, &sid)),
        frozen,
        "a frozen snapshot keeps its time"
    );
    py.call("refresh", json!([sid])).ok();
    let refreshed = stamp(&all(&mut py, &sid));
    assert!(refreshed > frozen && (refreshed - now()).abs() <= 2);
}

/// Kill and change act on the kernel by tuple and id; only an id that
/// is gone is `missing` (kill) or fault 5 (change). A session with autorefresh
/// off must still reach connections newer than its frozen snapshot.
#[test]
fn a_frozen_session_reaches_connections_newer_than_its_snapshot() {
    let bed = Bed::new();
    let conns = synthetic(20);
    bed.inject(&conns[..10]);
    let daemon = Daemon::start(&bed, &["--resync-interval", "0"]);
    let mut py = daemon.client();
    let sid = py.login();
    let other = py.login();
    let old: BTreeSet<u32> = bed.kernel().iter().map(|c| c.id).collect();
    py.call("set_autorefresh", json!([sid, 0])).ok();
    bed.inject(&conns[10..]);
    assert!(wait_until(Duration::from_secs(10), || all(&mut py, &other)
        ["total"]
        == 20));
    let new: Vec<u32> = bed
        .kernel()
        .iter()
        .map(|c| c.id)
        .filter(|id| !old.contains(id))
        .collect();
    assert_eq!(new.len(), 10);

    let out = py.call("change", json!([sid, "mark", new[0].to_string(), 42]));
    assert_eq!(out, Answer::Ok(json!(true)), "change of a live connection");
    let out = py.call("kill", json!([sid, [new[1].to_string()]])).ok();
    assert_eq!(out["killed"], 1, "kill of a live connection: {out}");
    assert_eq!(out["missing"], json!([]));
    assert!(bed.kernel().iter().all(|c| c.id != new[1]));

    // What the session itself kills or changes shows in its frozen view.
    let mut old = old.into_iter();
    let (killed, changed) = (old.next().unwrap(), old.next().unwrap());
    assert_eq!(
        py.call("kill", json!([sid, [killed.to_string()]])).ok()["killed"],
        1
    );
    py.call("change", json!([sid, "mark", changed.to_string(), 4242]))
        .ok();
    let frozen = py.call("view", json!([sid, {}, "id", "ASC", 0, 100])).ok();
    assert_eq!(frozen["autorefresh"], false);
    assert_eq!(
        frozen["total"], 9,
        "the killed row left the frozen view: {frozen}"
    );
    let rows = frozen["connections"].as_array().unwrap();
    let row = rows
        .iter()
        .find(|c| c["id"].as_str() == Some(changed.to_string().as_str()))
        .unwrap();
    assert_eq!(row["mark"], 4242);
}

#[test]
fn uid_and_user_keys_need_the_uid_mask() {
    let bed = Bed::new();
    bed.inject(&synthetic(5));
    let daemon = Daemon::start(&bed, &[]);
    let mut py = daemon.client();
    let sid = py.login();
    let fault = py.call("view", json!([sid, {"user": "root"}, "", "", 0, 10]));
    assert_eq!(fault.fault_code(), 4);
    assert!(fault.fault_string().contains("user") && fault.fault_string().contains("--uid-mask"));
    let fault = py.call("view", json!([sid, {}, "uid", "ASC", 0, 10]));
    assert_eq!(fault.fault_code(), 4);
    assert!(fault.fault_string().contains("uid"));

    let masked = Daemon::start(&bed, &["--uid-mask", "0xffff0000"]);
    let mut py = masked.client();
    let sid = py.login();
    let view = py.call("view", json!([sid, {}, "uid", "DESC", 0, 10])).ok();
    let kernel = bed.kernel();
    for row in view["connections"].as_array().unwrap() {
        let conn = kernel
            .iter()
            .find(|c| Some(c.id.to_string().as_str()) == row["id"].as_str())
            .unwrap();
        assert_eq!(row["uid"], u64::from(conn.mark >> 16));
        let expected_user = if conn.mark >> 16 == 0 {
            "root".to_string()
        } else {
            nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(conn.mark >> 16))
                .ok()
                .flatten()
                .map(|u| u.name)
                .unwrap_or((conn.mark >> 16).to_string())
        };
        assert_eq!(row["user"], expected_user);
    }
}
