//! What the service asks of the kernel itself: deletes, changes, the
//! statistics and the hash table's size; through the pool of ctnetlink sockets (`sockets`) in the
//! daemon, a recording fake in the in-process tests.

use std::fmt::Debug;

use ctnetlink::{Change, Conn, ConnKey, Stats};

/// Deletes one entry, for as long as a series of deletes lasts.
pub type Delete<'a> = dyn FnMut(&ConnKey) -> Result<(), ctnetlink::Error> + 'a;

/// The kernel requests of `kill`, `kill_matching`, `change` and `stats`.
pub trait Kernel: Send + Sync + Debug {
    /// Runs `work` with one connection to the kernel for a series of deletes
    /// (one socket for a whole `kill_matching`). Each delete answers
    /// `ctnetlink::Error::NotFound` for an entry that is gone. Fails
    /// without running `work` when no connection can be had.
    fn deletes(&self, work: &mut dyn FnMut(&mut Delete<'_>)) -> Result<(), ctnetlink::Error>;
    /// Changes one entry and returns it as the kernel then has it: `None`
    /// when the change made it expire at once.
    fn update(&self, key: &ConnKey, change: Change) -> Result<Option<Conn>, ctnetlink::Error>;
    /// The kernel's table size, limit and counters.
    fn stats(&self) -> Result<Stats, ctnetlink::Error>;
    /// `nf_conntrack_buckets` as the served namespace shows it (the hash
    /// table is global: every namespace shows the same), or `None` when it
    /// cannot be read.
    fn buckets(&self) -> Option<u32>;
}
