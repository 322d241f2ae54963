//! Flow export (issue 11, JSON Lines) against the real daemon: one end
//! record per connection that leaves the mirror, with how its end was found
//! (a DESTROY event, a reconciliation dump, or an expiry lookup), every line
//! valid against the shipped schema, and `seq` without gaps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{synthetic, wait_until, Bed, Daemon};
use serde_json::{json, Value as Json};

const SCHEMA: &str = include_str!("../../../packaging/export-record.schema.json");

/// The complete lines written so far. A read can meet a write in progress,
/// as any reader tailing the file can: the text after the last newline is
/// not a line yet.
fn lines(path: &std::path::Path) -> Vec<Json> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON value"))
        .collect()
}

/// The schema's keywords this file uses: type, required, properties,
/// additionalProperties: false, enum, minimum, maximum, `$ref` into `$defs`.
fn validate(value: &Json, schema: &Json, root: &Json, at: &str) {
    if let Some(name) = schema.get("$ref").and_then(Json::as_str) {
        let name = name.strip_prefix("#/$defs/").expect("a local $ref");
        return validate(value, &root["$defs"][name], root, at);
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Json::String(t) => vec![t.as_str()],
            Json::Array(ts) => ts.iter().map(|t| t.as_str().unwrap()).collect(),
            _ => panic!("bad type in schema"),
        };
        let ok = types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            other => panic!("type {other} not handled"),
        });
        assert!(ok, "{at}: {value} is not {types:?}");
    }
    if let Some(allowed) = schema.get("enum").and_then(Json::as_array) {
        assert!(allowed.contains(value), "{at}: {value} not in {allowed:?}");
    }
    if let (Some(min), Some(n)) = (schema.get("minimum"), value.as_u64()) {
        assert!(n >= min.as_u64().unwrap(), "{at}: {n} < {min}");
    }
    if let (Some(max), Some(n)) = (schema.get("maximum"), value.as_u64()) {
        assert!(n <= max.as_u64().unwrap(), "{at}: {n} > {max}");
    }
    let Some(object) = value.as_object() else {
        return;
    };
    for key in schema
        .get("required")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        assert!(object.contains_key(key.as_str().unwrap()), "{at}: no {key}");
    }
    let properties = schema.get("properties").and_then(Json::as_object);
    for (key, v) in object {
        match properties.and_then(|p| p.get(key)) {
            Some(sub) => validate(v, sub, root, &format!("{at}.{key}")),
            None => assert!(
                schema.get("additionalProperties") != Some(&json!(false)),
                "{at}: unknown field {key}"
            ),
        }
    }
}

/// Every line against the schema, here and (where Python's jsonschema is
/// installed) with a full validator; `seq` runs 1, 2, 3 … without a gap.
fn check_lines(path: &std::path::Path, records: &[Json]) {
    let schema: Json = serde_json::from_str(SCHEMA).unwrap();
    for (i, record) in records.iter().enumerate() {
        validate(record, &schema, &schema, &format!("line {}", i + 1));
        assert_eq!(record["seq"], json!(i as u64 + 1), "seq has a gap");
    }
    let has_jsonschema = std::process::Command::new("python3")
        .args(["-c", "import jsonschema"])
        .status()
        .is_ok_and(|s| s.success());
    if has_jsonschema {
        let schema_path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../packaging/export-record.schema.json"
        );
        let script = "import json, sys, jsonschema\n\
            schema = json.load(open(sys.argv[1]))\n\
            jsonschema.Draft202012Validator.check_schema(schema)\n\
            v = jsonschema.Draft202012Validator(schema)\n\
            for n, line in enumerate(open(sys.argv[2]), 1):\n\
            \x20   v.validate(json.loads(line))\n";
        let out = std::process::Command::new("python3")
            .args(["-c", script, schema_path, path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "jsonschema: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_ended_connection_gets_one_record_saying_how_its_end_was_found() {
    let bed = Bed::new().with_accounting();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flows.jsonl");
    let all = synthetic(100);
    // Created before the daemon subscribes: their ends never come as events.
    let mut quiet = all[..40].to_vec();
    for c in &mut quiet[..5] {
        c.timeout = 2; // these run out: the expiry lookup finds them gone
    }
    bed.inject(&quiet);
    let target = format!("json:{}", path.display());
    let daemon = Daemon::start(&bed, &["--resync-interval", "0", "--export", &target]);
    bed.inject(&all[40..]);

    let kernel = bed.kernel();
    let by_src = |c: &ctnetlink::Conn| (c.orig.src, c.orig.sport, c.l4proto, c.orig.icmp_id);
    let id_of = |c: &ctnetlink::Conn| {
        kernel
            .iter()
            .find(|k| by_src(k) == by_src(c))
            .map(|k| k.id)
            .expect("injected")
    };
    let mut expected: BTreeMap<u32, &str> = BTreeMap::new();
    // Ends the event path sees.
    let late: Vec<_> = all[40..70].iter().map(id_of).collect();
    let doomed: Vec<_> = kernel
        .iter()
        .filter(|k| late.contains(&k.id))
        .map(|k| k.key())
        .collect();
    assert_eq!(bed.ct().delete_many(&doomed).unwrap().0, 0);
    expected.extend(late.iter().map(|id| (*id, "event")));
    // Ends only a dump shows.
    let early: Vec<_> = quiet[5..25].iter().map(id_of).collect();
    let doomed: Vec<_> = kernel
        .iter()
        .filter(|k| early.contains(&k.id))
        .map(|k| k.key())
        .collect();
    assert_eq!(bed.ct().delete_many(&doomed).unwrap().0, 0);
    expected.extend(early.iter().map(|id| (*id, "reconciliation")));
    let expiring: Vec<_> = quiet[..5].iter().map(id_of).collect();
    expected.extend(expiring.iter().map(|id| (*id, "timeout")));

    // Let the short timeouts run out and the expiry lookups find them, then
    // reconcile.
    assert!(
        wait_until(Duration::from_secs(15), || lines(&path)
            .iter()
            .filter(|r| r["end_reason"] == "timeout")
            .count()
            == 5),
        "expired entries got no timeout record: {:?}",
        lines(&path)
    );
    let mut py = daemon.client();
    let sid = py.login();
    assert_eq!(py.call("refresh", json!([sid])).ok(), json!(true));
    assert!(
        wait_until(Duration::from_secs(10), || lines(&path).len()
            >= expected.len()),
        "records missing: {} of {}",
        lines(&path).len(),
        expected.len()
    );
    std::thread::sleep(Duration::from_millis(300));
    let records = lines(&path);
    check_lines(&path, &records);

    let got: BTreeMap<u32, &str> = records
        .iter()
        .map(|r| {
            (
                r["id"].as_u64().unwrap() as u32,
                r["end_reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got.len(), records.len(), "one record per connection");
    assert_eq!(got, expected);

    // The fields match the connection the test made.
    for record in &records {
        let id = record["id"].as_u64().unwrap() as u32;
        let made = all.iter().find(|c| id_of(c) == id).unwrap();
        assert_eq!(record["orig"]["src"], json!(made.orig.src.to_string()));
        assert_eq!(record["orig"]["dst"], json!(made.orig.dst.to_string()));
        assert_eq!(record["reply"]["src"], json!(made.reply.src.to_string()));
        assert_eq!(record["protocol_number"], json!(made.l4proto));
        assert_eq!(record["protocol"], json!(common::proto(made.l4proto)));
        assert_eq!(record["family"], json!(made.family.name()));
        assert_eq!(record["mark"], json!(made.mark));
        assert_eq!(record["type"], "end");
        if record["protocol"] == "tcp" || record["protocol"] == "udp" {
            assert_eq!(record["orig"]["sport"], json!(made.orig.sport));
            assert_eq!(record["orig"]["dport"], json!(made.orig.dport));
        }
        assert!(record["start_ms"].as_u64().unwrap() <= record["end_ms"].as_u64().unwrap());
    }
    drop(daemon);
}

#[test]
fn a_bad_export_target_is_refused_with_the_option_named() {
    let (code, log) = common::refused(&["--export", "netflow+udp://127.0.0.1:2055"]);
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("--export"), "{log}");
}
