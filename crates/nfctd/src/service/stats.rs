//! `stats`: the table's size and limit, counts by protocol and state, the
//! kernel's counters and switches, and the mirror's own counters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use ctnetlink::CtSocket;

use super::{int, ApiError, Service};
use crate::value::Value;

impl Service {
    /// `stats(sid)`: table size and limit, counts by protocol and state, kernel
    /// counters, accounting/timestamp switches, and the mirror's own counters.
    pub fn stats(&self, sid: &str) -> Result<Value, ApiError> {
        self.session(sid)?;
        let kernel = CtSocket::open().and_then(|mut s| s.stats())?;
        let snapshot = self.inner.mirror.snapshot();
        let mut by_proto: BTreeMap<String, i64> = BTreeMap::new();
        let mut by_state: BTreeMap<String, i64> = BTreeMap::new();
        for row in snapshot.rows.iter() {
            let c = &row.conn;
            *by_proto
                .entry(ctnetlink::names::proto_name(c.l4proto).into_owned())
                .or_default() += 1;
            let state = ctnetlink::names::state_name(c.l4proto, c.proto_state);
            if !state.is_empty() {
                *by_state.entry(state.to_string()).or_default() += 1;
            }
        }
        let counts = |m: BTreeMap<String, i64>| {
            Value::Struct(m.into_iter().map(|(k, v)| (k, Value::Int(v))).collect())
        };
        let mirror = self.inner.mirror.counters();
        let load = |c: &AtomicU64| int(c.load(Ordering::Relaxed));
        Ok(Value::Struct(vec![
            ("table_size".into(), int(snapshot.len())),
            ("kernel_entries".into(), int(kernel.entries)),
            ("table_limit".into(), int(kernel.max_entries)),
            ("by_proto".into(), counts(by_proto)),
            ("by_state".into(), counts(by_state)),
            (
                "kernel".into(),
                Value::Struct(vec![
                    ("found".into(), int(kernel.found)),
                    ("invalid".into(), int(kernel.invalid)),
                    ("insert_failed".into(), int(kernel.insert_failed)),
                    ("drop".into(), int(kernel.drop)),
                    ("early_drop".into(), int(kernel.early_drop)),
                    ("error".into(), int(kernel.error)),
                    ("search_restart".into(), int(kernel.search_restart)),
                ]),
            ),
            (
                "accounting".into(),
                Value::Bool(sysctl_on("nf_conntrack_acct")),
            ),
            (
                "timestamps".into(),
                Value::Bool(sysctl_on("nf_conntrack_timestamp")),
            ),
            (
                "mirror".into(),
                Value::Struct(vec![
                    ("live".into(), Value::Bool(self.inner.mirror.is_live())),
                    ("events".into(), load(&mirror.events)),
                    ("resyncs".into(), load(&mirror.resyncs)),
                    ("overflows".into(), load(&mirror.overflows)),
                    ("malformed".into(), load(&mirror.malformed)),
                    ("sessions".into(), int(self.inner.sessions.count())),
                ]),
            ),
        ]))
    }
}

/// Whether a netfilter sysctl of the served namespace is on. Every thread of
/// the daemon lives in that namespace, and /proc/sys/net follows the reader's.
fn sysctl_on(name: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/netfilter/{name}"))
        .map(|v| v.trim() == "1")
        .unwrap_or(false)
}
