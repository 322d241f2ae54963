//! `stats`: the table's size and limit, counts by protocol and state, the
//! kernel's counters and switches, the mirror's own counters, and kernel
//! pressure (`pressure`) with its warnings.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::{ApiError, MirrorStats, Pressure, Reading, Service, Stats, TableCounts};
use crate::accounting;
use nfctd_table::Snapshot;

impl Service {
    /// `stats(sid)`.
    pub fn stats(&self, sid: &str) -> Result<Stats, ApiError> {
        self.session(sid)?;
        self.observe()
    }

    /// What `stats` returns, without a session: for the metrics front,
    /// whose access is decided where it is served (docs/metrics.md).
    pub fn observe(&self) -> Result<Stats, ApiError> {
        let kernel = self.inner.kernel.stats()?;
        let buckets = self.inner.kernel.buckets().map_or(0, u64::from);
        let (pressure, warnings) = self.weigh(&kernel, buckets);
        let (snapshot, loading) = self.loading_snapshot();
        let counts = counts(&snapshot);
        let mirror = self.inner.table.counters();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Ok(Stats {
            table_size: counts.table_size,
            loading,
            kernel_entries: u64::from(kernel.entries),
            table_limit: u64::from(kernel.max_entries),
            buckets,
            by_proto: counts.by_proto,
            by_state: counts.by_state,
            kernel,
            // The served namespace's: every thread of the daemon lives in
            // it, and /proc/sys/net follows the reader's. Unreadable is off.
            accounting: accounting::is_on(accounting::ACCT).unwrap_or(false),
            timestamps: accounting::is_on(accounting::TIMESTAMP).unwrap_or(false),
            mirror: MirrorStats {
                // Not while this answer says it is loading, even if the
                // load ended since.
                live: loading.is_none() && self.inner.table.is_live(),
                events: mirror.events(),
                resyncs: load(&mirror.resyncs),
                overflows: load(&mirror.overflows),
                malformed: load(&mirror.malformed),
                sessions: self.inner.sessions.count(),
            },
            pressure,
            warnings,
        })
    }

    /// Reads the kernel's counters and hash size and judges pressure,
    /// without counting the table: the daemon's periodic reading, and its
    /// first one at start (which logs what is wrong already).
    pub fn check_pressure(&self) -> Result<(Pressure, Vec<String>), ApiError> {
        let kernel = self.inner.kernel.stats()?;
        let buckets = self.inner.kernel.buckets().map_or(0, u64::from);
        Ok(self.weigh(&kernel, buckets))
    }

    fn weigh(&self, kernel: &ctnetlink::Stats, buckets: u64) -> (Pressure, Vec<String>) {
        self.inner.pressure.observe(
            Instant::now(),
            Reading {
                max: u64::from(kernel.max_entries),
                buckets,
                chaintoolong: kernel.chaintoolong,
            },
        )
    }

    /// The live table's size and counts by protocol and state: what live
    /// pages chart. One scan of the table, no kernel request. Shared by all
    /// of a front's live streams, so it takes no session: the front checks
    /// each stream's session ([`Service::is_open`]).
    pub fn table_counts(&self) -> TableCounts {
        counts(&self.inner.table.snapshot())
    }
}

fn counts(snapshot: &Snapshot) -> TableCounts {
    let mut by_proto: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_state: BTreeMap<String, u64> = BTreeMap::new();
    for row in snapshot.iter() {
        *by_proto
            .entry(ctnetlink::names::proto_name(row.l4proto()).into_owned())
            .or_default() += 1;
        let state = ctnetlink::names::state_name(row.l4proto(), row.proto_state());
        if !state.is_empty() {
            *by_state.entry(state.to_string()).or_default() += 1;
        }
    }
    TableCounts {
        table_size: snapshot.len(),
        by_proto,
        by_state,
    }
}
