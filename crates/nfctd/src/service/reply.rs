//! The typed replies of the service; each front writes them in its own wire
//! format. They derive `Serialize` and `ToSchema` so the JSON front and its
//! OpenAPI document come from these very types and cannot drift from them;
//! XML-RPC writes them by hand (`xmlrpc::reply`).

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;
use utoipa::ToSchema;

use nfctd_table::query::Connection;

use super::Pressure;

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
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ViewPage {
    /// Rows matching the filter.
    pub total: usize,
    pub start: usize,
    /// Rows in the table served (after `--ignore`).
    pub table_size: usize,
    /// Present only while the first dump is still loading: the table served
    /// is what was read so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub loading: Option<Loading>,
    pub autorefresh: bool,
    /// When the table state served was taken (RFC 3339, UTC, in JSON).
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub snapshot: SystemTime,
    pub connections: Vec<Connection>,
}

/// How far the first dump got: the daemon answers while it loads a big
/// table, from the rows read so far. Once it is whole this is absent and the
/// mirror is live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Loading {
    /// Kernel entries read so far (hidden ones included).
    pub loaded: u64,
    /// The kernel's entry count when loading began (never below `loaded`).
    /// It includes entries that timed out but were not reaped yet, which the
    /// dump skips, so loading may end below it.
    pub expected: u64,
}

impl From<nfctd_table::Loading> for Loading {
    fn from(l: nfctd_table::Loading) -> Loading {
        Loading {
            loaded: l.loaded,
            expected: l.expected,
        }
    }
}

/// The answer to `kill`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Killed {
    pub killed: usize,
    /// Ids that were not in the table, or were gone from the kernel.
    pub missing: Vec<u32>,
}

/// The answer to `stats`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Stats {
    /// Rows in the mirror (after `--ignore`).
    pub table_size: usize,
    /// Present only while the first dump is still loading.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub loading: Option<Loading>,
    /// The kernel's own entry count, hidden entries included.
    pub kernel_entries: u64,
    pub table_limit: u64,
    /// `nf_conntrack_buckets`, the hash table's size; 0 when it cannot be read.
    pub buckets: u64,
    pub by_proto: BTreeMap<String, u64>,
    pub by_state: BTreeMap<String, u64>,
    #[serde(with = "KernelCounters")]
    #[schema(value_type = KernelCounters)]
    pub kernel: ctnetlink::Stats,
    /// `nf_conntrack_acct`: byte and packet counters (and rates) need it.
    pub accounting: bool,
    /// `nf_conntrack_timestamp`: kernel start times for `age`.
    pub timestamps: bool,
    pub mirror: MirrorStats,
    /// Signs that the hash table is too small (docs/large-tables.md).
    pub pressure: Pressure,
    /// The warnings in words, each saying what to do; empty when all is well.
    pub warnings: Vec<String>,
}

/// The kernel's per-CPU statistics, summed (node_exporter's
/// `node_nf_conntrack_stat_*`).
// Never built: it describes how `ctnetlink::Stats` is written (its counters;
// the entry count and limit are `Stats`' own fields), so that crate needs
// neither serde nor utoipa.
#[derive(Serialize, ToSchema)]
#[serde(remote = "ctnetlink::Stats")]
struct KernelCounters {
    found: u64,
    invalid: u64,
    insert_failed: u64,
    drop: u64,
    early_drop: u64,
    error: u64,
    search_restart: u64,
    /// 0 from kernels that do not count it.
    clash_resolve: u64,
    /// Inserts refused on too-long hash chains; 0 from kernels before 5.15.
    chaintoolong: u64,
}

/// The mirror's own health and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct MirrorStats {
    pub live: bool,
    pub events: u64,
    pub resyncs: u64,
    pub overflows: u64,
    pub malformed: u64,
    pub sessions: usize,
}

/// Who a session is, for a page that reloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SessionInfo {
    pub user: String,
    /// `admin` or `viewer`.
    pub role: &'static str,
    pub autorefresh: bool,
}

impl SessionInfo {
    pub fn is_admin(&self) -> bool {
        self.role == crate::auth::Role::Admin.name()
    }
}

/// The table's size and its counts by protocol and state, for live pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TableCounts {
    pub table_size: usize,
    pub by_proto: BTreeMap<String, u64>,
    pub by_state: BTreeMap<String, u64>,
}

/// A time as RFC 3339 in UTC (`2026-11-27T15:04:05Z`).
fn rfc3339<S: serde::Serializer>(t: &SystemTime, out: S) -> Result<S::Ok, S::Error> {
    let t = time::OffsetDateTime::from(*t);
    let text = t
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(serde::ser::Error::custom)?;
    out.serialize_str(&text)
}
