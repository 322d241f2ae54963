//! The service's typed replies as XML-RPC values: struct keys as the API
//! documents them (docs/xmlrpc-api.md), ids as decimal strings (a u32 does not fit `<int>`), times
//! as UTC `dateTime.iso8601`. How wide integers go out is the renderer's
//! business (`WideInt`).

use std::collections::BTreeMap;
use std::time::SystemTime;

use time::OffsetDateTime;

use crate::service::{Killed, Loading, Stats, ViewPage};
use crate::xmlrpc::Value;
use nfctd_table::query::{Connection, Shown};

fn int<T: TryInto<i64>>(n: T) -> Value {
    // Only u64 counters can exceed i64, and none will in practice: saturate.
    Value::Int(n.try_into().unwrap_or(i64::MAX))
}

fn members(pairs: Vec<(&str, Value)>) -> Value {
    Value::Struct(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// `view`'s answer; `loading` only while the first dump runs.
pub fn view_page(page: &ViewPage) -> Value {
    let mut pairs = vec![
        ("total", int(page.total)),
        ("start", int(page.start)),
        ("length", int(page.connections.len())),
        ("table_size", int(page.table_size)),
    ];
    pairs.extend(page.loading.as_ref().map(|l| ("loading", loading(l))));
    pairs.extend([
        ("autorefresh", Value::Bool(page.autorefresh)),
        ("snapshot", Value::DateTime(iso8601(page.snapshot))),
        (
            "connections",
            Value::Array(page.connections.iter().map(connection).collect()),
        ),
    ]);
    members(pairs)
}

/// How far the first dump got: `{loaded, expected}`.
fn loading(l: &Loading) -> Value {
    members(vec![
        ("loaded", int(l.loaded)),
        ("expected", int(l.expected)),
    ])
}

/// One connection: each key nfctd-table declares, in its order
/// (docs/xmlrpc-api.md, "Methods"), written by the kind of its value.
pub fn connection(c: &Connection) -> Value {
    Value::Struct(
        c.shown()
            .map(|(field, shown)| (field.name().to_owned(), value(shown)))
            .collect(),
    )
}

/// One key's value: ids and addresses as strings, flag names as an array.
fn value(shown: Shown<'_>) -> Value {
    match shown {
        Shown::Id(id) => Value::Str(id.to_string()),
        Shown::Int(n) => int(n),
        Shown::Number(x) => Value::Double(x),
        Shown::Text(t) => Value::str(t),
        Shown::Addr(a) => Value::Str(a.to_string()),
        Shown::Texts(names) => Value::Array(names.iter().map(|t| Value::str(*t)).collect()),
    }
}

/// `kill`'s answer; missing ids as strings, like the ids `view` gives.
pub fn killed(k: &Killed) -> Value {
    members(vec![
        ("killed", int(k.killed)),
        (
            "missing",
            Value::Array(
                k.missing
                    .iter()
                    .map(|id| Value::Str(id.to_string()))
                    .collect(),
            ),
        ),
    ])
}

/// `stats`' answer.
pub fn stats(s: &Stats) -> Value {
    let counts = |m: &BTreeMap<String, u64>| {
        Value::Struct(m.iter().map(|(k, v)| (k.clone(), int(*v))).collect())
    };
    let k = &s.kernel;
    let m = &s.mirror;
    let p = &s.pressure;
    let mut pairs = vec![("table_size", int(s.table_size))];
    pairs.extend(s.loading.as_ref().map(|l| ("loading", loading(l))));
    pairs.extend([
        ("kernel_entries", int(s.kernel_entries)),
        ("table_limit", int(s.table_limit)),
        ("buckets", int(s.buckets)),
        ("by_proto", counts(&s.by_proto)),
        ("by_state", counts(&s.by_state)),
        (
            "kernel",
            members(vec![
                ("found", int(k.found)),
                ("invalid", int(k.invalid)),
                ("insert_failed", int(k.insert_failed)),
                ("drop", int(k.drop)),
                ("early_drop", int(k.early_drop)),
                ("error", int(k.error)),
                ("search_restart", int(k.search_restart)),
                ("clash_resolve", int(k.clash_resolve)),
                ("chaintoolong", int(k.chaintoolong)),
            ]),
        ),
        ("accounting", Value::Bool(s.accounting)),
        ("timestamps", Value::Bool(s.timestamps)),
        (
            "mirror",
            members(vec![
                ("live", Value::Bool(m.live)),
                ("events", int(m.events)),
                ("resyncs", int(m.resyncs)),
                ("overflows", int(m.overflows)),
                ("malformed", int(m.malformed)),
                ("sessions", int(m.sessions)),
            ]),
        ),
        (
            "pressure",
            members(vec![
                ("ratio_limit", Value::Double(p.ratio_limit)),
                ("ratio_high", Value::Bool(p.ratio_high)),
                ("chaintoolong_recent", int(p.chaintoolong_recent)),
                ("window_secs", int(p.window_secs)),
                ("suggested_hashsize", int(p.suggested_hashsize)),
            ]),
        ),
        (
            "warnings",
            Value::Array(s.warnings.iter().map(|w| Value::Str(w.clone())).collect()),
        ),
    ]);
    members(pairs)
}

/// XML-RPC's dateTime.iso8601 form, in UTC: `20261126T13:12:19`.
pub fn iso8601(t: SystemTime) -> String {
    let t = OffsetDateTime::from(t);
    format!(
        "{:04}{:02}{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use ctnetlink::{Conn, Counters, Family, Tuple};
    use nfctd_table::query::{render, Context, Field};
    use nfctd_table::Row;
    use utoipa::{PartialSchema, ToSchema};

    use super::*;

    /// A connection rendered from a row with values past `<int>` (id, mark,
    /// bytes); with a uid mask when `owned`, every user named alice.
    fn sample(owned: bool) -> Connection {
        let ip = |s: &str| s.parse().unwrap();
        let orig = Tuple {
            src: ip("192.0.2.1"),
            dst: ip("198.51.100.1"),
            sport: 40000,
            dport: 443,
            ..Tuple::default()
        };
        let reply = Tuple {
            src: orig.dst,
            dst: orig.src,
            sport: orig.dport,
            dport: orig.sport,
            ..Tuple::default()
        };
        let mut conn = Conn::new(4_000_000_000, Family::Ipv4, 6, orig, reply);
        conn.proto_state = Some(3);
        conn.status = ctnetlink::names::IPS_ASSURED;
        conn.mark = 3_000_000_000;
        conn.counters = Some(Counters {
            orig_bytes: 5_000_000_000,
            orig_packets: 1,
            ..Counters::default()
        });
        let mut row = Row::fixture(conn, 1_700_000_000 - 9);
        row.set_rate(2.5);
        let ctx = Context::new(0, 1_700_000_000);
        let alice = |_uid: u32| Some(Arc::<str>::from("alice"));
        if owned {
            render(&row, &ctx.with_users(0xffff, &alice))
        } else {
            render(&row, &ctx)
        }
    }

    #[test]
    fn every_connection_key_in_spec_order_and_ids_as_strings() {
        let names = |v: &Value| match v {
            Value::Struct(m) => m.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            _ => panic!("not a struct"),
        };
        let plain = connection(&sample(false));
        let all: Vec<String> = Field::ALL.iter().map(|f| f.name().to_string()).collect();
        assert_eq!(names(&plain), all[..all.len() - 2]);
        let owned = connection(&sample(true));
        assert_eq!(names(&owned), all);
        assert_eq!(plain.member("id"), Some(&Value::str("4000000000")));
        assert_eq!(plain.member("mark"), Some(&Value::Int(3_000_000_000)));
        assert_eq!(plain.member("orig_bytes"), Some(&Value::Int(5_000_000_000)));
        assert_eq!(plain.member("rate"), Some(&Value::Double(2.5)));
        assert_eq!(plain.member("orig_src"), Some(&Value::str("192.0.2.1")));
        assert_eq!(
            plain.member("status"),
            Some(&Value::Array(vec![Value::str("ASSURED")]))
        );
        assert_eq!(owned.member("user"), Some(&Value::str("alice")));
    }

    /// Every key nfctd-table declares reaches both fronts: the XML-RPC
    /// struct and the JSON body, in the declared order, and the OpenAPI
    /// schema of `Connection` (with the `Owner` it refers to).
    #[test]
    fn every_declared_key_reaches_both_fronts() {
        let declared: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
        let c = sample(true);

        let Value::Struct(members) = connection(&c) else {
            panic!("not a struct");
        };
        let xmlrpc: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(xmlrpc, declared);

        let json = serde_json::to_string(&c).unwrap();
        let at: Vec<usize> = declared
            .iter()
            .map(|k| {
                json.find(&format!("\"{k}\":"))
                    .unwrap_or_else(|| panic!("{k} not in {json}"))
            })
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "out of order: {json}");
        let body: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(body.as_object().unwrap().len(), declared.len(), "{json}");

        let mut refs = Vec::new();
        Connection::schemas(&mut refs);
        let refs: Vec<(String, serde_json::Value)> = refs
            .into_iter()
            .map(|(name, schema)| (name, serde_json::to_value(schema).unwrap()))
            .collect();
        let mut documented = BTreeSet::new();
        properties(
            &serde_json::to_value(Connection::schema()).unwrap(),
            &refs,
            &mut documented,
        );
        assert_eq!(documented, declared.into_iter().map(String::from).collect());
    }

    /// The property names of a schema, following `allOf`, `oneOf` and
    /// `$ref`s into `refs`.
    fn properties(
        schema: &serde_json::Value,
        refs: &[(String, serde_json::Value)],
        found: &mut BTreeSet<String>,
    ) {
        if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
            found.extend(props.keys().cloned());
        }
        if let Some(target) = schema.get("$ref").and_then(|r| r.as_str()) {
            let name = target.rsplit('/').next().unwrap();
            let (_, referred) = refs.iter().find(|(n, _)| n == name).unwrap();
            properties(referred, refs, found);
        }
        for list in ["allOf", "oneOf", "anyOf"] {
            for part in schema
                .get(list)
                .and_then(|l| l.as_array())
                .into_iter()
                .flatten()
            {
                properties(part, refs, found);
            }
        }
    }

    #[test]
    fn dates_are_utc() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        // 2026-11-18 11:06:40 UTC, whatever the machine's time zone.
        assert_eq!(iso8601(t), "20261118T11:06:40");
    }

    #[test]
    fn missing_ids_are_strings() {
        let v = killed(&Killed {
            killed: 1,
            missing: vec![4_000_000_000],
        });
        assert_eq!(
            v.member("missing"),
            Some(&Value::Array(vec![Value::str("4000000000")]))
        );
    }
}
