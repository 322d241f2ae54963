//! The typed replies of the service; each front writes them in its own wire
//! format.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::table::query::Connection;

/// A session id: 128 random bits as 32 hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId(pub String);

impl std::fmt::Debug for SessionId {
    // A bearer secret: debug output shows only the tag the audit log uses.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionId({}…)", self.0.get(..8).unwrap_or(""))
    }
}

/// One page of `view`.
#[derive(Debug, Clone)]
pub struct ViewPage {
    /// Rows matching the filter.
    pub total: usize,
    pub start: usize,
    /// Rows in the table served (after `--ignore`).
    pub table_size: usize,
    pub autorefresh: bool,
    /// When the table state served was taken.
    pub snapshot: SystemTime,
    pub connections: Vec<Connection>,
}

/// The answer to `kill`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Killed {
    pub killed: usize,
    /// Ids that were not in the table, or were gone from the kernel.
    pub missing: Vec<u32>,
}

/// The answer to `stats`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Rows in the mirror (after `--ignore`).
    pub table_size: usize,
    pub by_proto: BTreeMap<String, u64>,
    pub by_state: BTreeMap<String, u64>,
    /// The kernel's entry count (hidden entries included), its limit, and
    /// its per-CPU statistics summed.
    pub kernel: ctnetlink::Stats,
    /// `nf_conntrack_acct`: byte and packet counters (and rates) need it.
    pub accounting: bool,
    /// `nf_conntrack_timestamp`: kernel start times for `age`.
    pub timestamps: bool,
    pub mirror: MirrorStats,
}

/// The mirror's own health and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MirrorStats {
    pub live: bool,
    pub events: u64,
    pub resyncs: u64,
    pub overflows: u64,
    pub malformed: u64,
    pub sessions: usize,
}
