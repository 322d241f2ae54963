//! Kernel conntrack statistics: the per-CPU counters and the global entry count.

use crate::attr::{be_u32, Attrs};
use crate::consts::*;
use crate::error::DecodeError;

/// The kernel's conntrack counters, summed over CPUs, and the table's size and limit.
///
/// The counters are those of the socket's network namespace, counted since it
/// was created (`conntrack -S` shows them per CPU).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Entries in the table now (CTA_STATS_GLOBAL_ENTRIES).
    pub entries: u32,
    /// The table's limit, `nf_conntrack_max` (CTA_STATS_GLOBAL_MAX_ENTRIES).
    pub max_entries: u32,
    /// Tuple lookups that found the tuple in use, e.g. NAT looking for a free one (CTA_STATS_FOUND).
    pub found: u64,
    /// Packets conntrack could not track (CTA_STATS_INVALID).
    pub invalid: u64,
    /// New entries that could not be inserted, e.g. on a clash with an entry
    /// another CPU inserted first (CTA_STATS_INSERT_FAILED).
    pub insert_failed: u64,
    /// Packets dropped because no entry could be made for them, e.g. with the
    /// table full (CTA_STATS_DROP).
    pub drop: u64,
    /// Unassured entries evicted to make room in a full table (CTA_STATS_EARLY_DROP).
    pub early_drop: u64,
    /// ICMP and ICMPv6 packets the error checks refused (CTA_STATS_ERROR).
    pub error: u64,
    /// Hash-chain walks restarted because the table changed under them (CTA_STATS_SEARCH_RESTART).
    pub search_restart: u64,
}

/// Adds one IPCTNL_MSG_CT_GET_STATS_CPU answer to the totals.
pub fn add_cpu(total: &mut Stats, payload: &[u8]) -> Result<(), DecodeError> {
    let attrs = payload
        .get(NFGENMSG_LEN..)
        .ok_or(DecodeError::Missing("nfgenmsg header"))?;
    for item in Attrs::new(attrs) {
        let (kind, p) = item?;
        let slot = match kind {
            CTA_STATS_FOUND => &mut total.found,
            CTA_STATS_INVALID => &mut total.invalid,
            CTA_STATS_INSERT_FAILED => &mut total.insert_failed,
            CTA_STATS_DROP => &mut total.drop,
            CTA_STATS_EARLY_DROP => &mut total.early_drop,
            CTA_STATS_ERROR => &mut total.error,
            CTA_STATS_SEARCH_RESTART => &mut total.search_restart,
            _ => continue,
        };
        *slot += u64::from(be_u32(kind, p)?);
    }
    Ok(())
}

/// Decodes the IPCTNL_MSG_CT_GET_STATS answer: (entries, max entries).
pub fn decode_global(payload: &[u8]) -> Result<(u32, u32), DecodeError> {
    let attrs = payload
        .get(NFGENMSG_LEN..)
        .ok_or(DecodeError::Missing("nfgenmsg header"))?;
    let (mut entries, mut max) = (0, 0);
    for item in Attrs::new(attrs) {
        let (kind, p) = item?;
        match kind {
            CTA_STATS_GLOBAL_ENTRIES => entries = be_u32(kind, p)?,
            CTA_STATS_GLOBAL_MAX_ENTRIES => max = be_u32(kind, p)?,
            _ => {}
        }
    }
    Ok((entries, max))
}
