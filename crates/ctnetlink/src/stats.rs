//! Kernel conntrack statistics: the per-CPU counters and the global entry count.

use crate::attr::{be_u32, Attrs};
use crate::consts::*;
use crate::error::DecodeError;

/// The kernel's conntrack counters, summed over CPUs, and the table's size and limit.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub entries: u32,
    pub max_entries: u32,
    pub found: u64,
    pub invalid: u64,
    pub insert_failed: u64,
    pub drop: u64,
    pub early_drop: u64,
    pub error: u64,
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
