//! The service's typed replies as XML-RPC values: struct keys as the API
//! documents them (docs/xmlrpc-api.md), ids as decimal strings (a u32 does not fit `<int>`), times
//! as UTC `dateTime.iso8601`. How wide integers go out is the renderer's
//! business (`WideInt`).

use std::collections::BTreeMap;
use std::time::SystemTime;

use time::OffsetDateTime;

use crate::service::{Killed, Stats, ViewPage};
use crate::xmlrpc::Value;
use nfctd_table::query::Connection;

fn int<T: TryInto<i64>>(n: T) -> Value {
    // Only u64 counters can exceed i64, and none will in practice: saturate.
    Value::Int(n.try_into().unwrap_or(i64::MAX))
}

fn members(pairs: Vec<(&str, Value)>) -> Value {
    Value::Struct(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// `view`'s answer.
pub fn view_page(page: &ViewPage) -> Value {
    members(vec![
        ("total", int(page.total)),
        ("start", int(page.start)),
        ("length", int(page.connections.len())),
        ("table_size", int(page.table_size)),
        ("autorefresh", Value::Bool(page.autorefresh)),
        ("snapshot", Value::DateTime(iso8601(page.snapshot))),
        (
            "connections",
            Value::Array(page.connections.iter().map(connection).collect()),
        ),
    ])
}

/// One connection, keys in the order docs/xmlrpc-api.md lists them ("Methods").
pub fn connection(c: &Connection) -> Value {
    let text = |t: &str| Value::str(t);
    let addr = |a: &std::net::IpAddr| Value::Str(a.to_string());
    let mut pairs = vec![
        ("id", Value::Str(c.id.to_string())),
        ("family", text(c.family)),
        ("proto", text(&c.proto)),
        ("l4proto", int(c.l4proto)),
        ("orig_src", addr(&c.orig_src)),
        ("orig_dst", addr(&c.orig_dst)),
        ("repl_src", addr(&c.repl_src)),
        ("repl_dst", addr(&c.repl_dst)),
        ("orig_sport", int(c.orig_sport)),
        ("orig_dport", int(c.orig_dport)),
        ("repl_sport", int(c.repl_sport)),
        ("repl_dport", int(c.repl_dport)),
        ("state", text(c.state)),
        (
            "status",
            Value::Array(c.status.iter().map(|s| text(s)).collect()),
        ),
        ("mark", int(c.mark)),
        ("timeout", int(c.timeout)),
        ("zone", int(c.zone)),
        ("orig_bytes", int(c.orig_bytes)),
        ("orig_packets", int(c.orig_packets)),
        ("repl_bytes", int(c.repl_bytes)),
        ("repl_packets", int(c.repl_packets)),
        ("rate", Value::Double(c.rate)),
        ("age", int(c.age)),
    ];
    if let Some(owner) = &c.owner {
        pairs.push(("uid", int(owner.uid)));
        pairs.push(("user", text(&owner.user)));
    }
    members(pairs)
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
    members(vec![
        ("table_size", int(s.table_size)),
        ("kernel_entries", int(s.kernel_entries)),
        ("table_limit", int(s.table_limit)),
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
    ])
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
    use std::borrow::Cow;
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use nfctd_table::query::{Field, Owner};

    fn sample(owner: Option<Owner>) -> Connection {
        let ip = |s: &str| s.parse().unwrap();
        Connection {
            id: 4_000_000_000,
            family: "ipv4",
            proto: Cow::Borrowed("tcp"),
            l4proto: 6,
            orig_src: ip("192.0.2.1"),
            orig_dst: ip("198.51.100.1"),
            repl_src: ip("198.51.100.1"),
            repl_dst: ip("192.0.2.1"),
            orig_sport: 40000,
            orig_dport: 443,
            repl_sport: 443,
            repl_dport: 40000,
            state: "ESTABLISHED",
            status: vec!["ASSURED"],
            mark: 3_000_000_000,
            timeout: 30,
            zone: 0,
            orig_bytes: 5_000_000_000,
            orig_packets: 1,
            repl_bytes: 0,
            repl_packets: 0,
            rate: 2.5,
            age: 9,
            owner,
        }
    }

    #[test]
    fn every_connection_key_in_spec_order_and_ids_as_strings() {
        let names = |v: &Value| match v {
            Value::Struct(m) => m.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            _ => panic!("not a struct"),
        };
        let plain = connection(&sample(None));
        let all: Vec<String> = Field::ALL.iter().map(|f| f.name().to_string()).collect();
        assert_eq!(names(&plain), all[..all.len() - 2]);
        let owned = connection(&sample(Some(Owner {
            uid: 1000,
            user: "alice".into(),
        })));
        assert_eq!(names(&owned), all);
        assert_eq!(plain.member("id"), Some(&Value::str("4000000000")));
        assert_eq!(plain.member("mark"), Some(&Value::Int(3_000_000_000)));
        assert_eq!(plain.member("orig_bytes"), Some(&Value::Int(5_000_000_000)));
        assert_eq!(owned.member("user"), Some(&Value::str("alice")));
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
