//! What the service reads and edits the table through: the live mirror in
//! the daemon, rows made by hand in the in-process tests.

use std::fmt::Debug;

use ctnetlink::{Conn, ConnKey};
use nfctd_table::{Loading, Millis, Mirror, MirrorCounters, MirrorError, ResyncReport, Snapshot};

/// What the service and the fronts ask of the table, with the mirror's
/// meaning: `forget` and `observe` return once a snapshot showing them is
/// published; `watch` never waits.
pub trait Table: Send + Sync + Debug {
    /// The latest published view of the table.
    fn snapshot(&self) -> Snapshot;
    /// Now on the clock row deadlines are measured on.
    fn now(&self) -> Millis;
    /// Whether the table follows the kernel.
    fn is_live(&self) -> bool;
    /// How far the first dump got while it runs (the snapshot then holds
    /// the rows read so far); `None` once live.
    fn loading(&self) -> Option<Loading>;
    fn counters(&self) -> &MirrorCounters;
    /// A full reconciliation with the kernel, waited for.
    fn resync(&self) -> Result<ResyncReport, MirrorError>;
    /// Drops entries deleted in the kernel.
    fn forget(&self, keys: Vec<ConnKey>);
    /// Keeps the counters of rows a view served fresh for a while.
    fn watch(&self, keys: Vec<ConnKey>);
    /// Records the kernel's fresh view of entries (after a change).
    fn observe(&self, conns: Vec<Conn>);
}

impl Table for Mirror {
    fn snapshot(&self) -> Snapshot {
        Mirror::snapshot(self)
    }

    fn now(&self) -> Millis {
        Mirror::now(self)
    }

    fn is_live(&self) -> bool {
        Mirror::is_live(self)
    }

    fn loading(&self) -> Option<Loading> {
        Mirror::loading(self)
    }

    fn counters(&self) -> &MirrorCounters {
        Mirror::counters(self)
    }

    fn resync(&self) -> Result<ResyncReport, MirrorError> {
        Mirror::resync(self)
    }

    fn forget(&self, keys: Vec<ConnKey>) {
        Mirror::forget(self, keys);
    }

    fn watch(&self, keys: Vec<ConnKey>) {
        Mirror::watch(self, keys);
    }

    fn observe(&self, conns: Vec<Conn>) {
        Mirror::observe(self, conns);
    }
}
