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
    /// Clashes between two new entries for the same tuple (packets of one
    /// UDP flow racing on two CPUs) that the kernel resolved instead of
    /// dropping the packet (CTA_STATS_CLASH_RESOLVE). 0 from kernels that do
    /// not send it.
    pub clash_resolve: u64,
    /// Inserts refused (ENOSPC) because the entry's hash chain was longer
    /// than the kernel's limit, a random length from 8 to 64: the hash table
    /// has too few buckets for the entries (CTA_STATS_CHAIN_TOOLONG, Linux
    /// 5.15 and later; 0 from older kernels, which do not send it).
    pub chaintoolong: u64,
}

/// Adds one IPCTNL_MSG_CT_GET_STATS_CPU answer to the totals. A counter the
/// kernel does not send adds nothing; attributes unknown here are skipped.
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
            CTA_STATS_CLASH_RESOLVE => &mut total.clash_resolve,
            CTA_STATS_CHAIN_TOOLONG => &mut total.chaintoolong,
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// CPU 0's answer to IPCTNL_MSG_CT_GET_STATS_CPU (the payload: nfgenmsg,
    /// then the attributes) on Linux 6.18, from a fresh namespace
    /// (`unshare -Urn`, a raw NETLINK_NETFILTER dump request, what
    /// `conntrack -S` sends): attributes 2, 4, 8 (CTA_STATS_INSERT, not
    /// decoded), 9 to 13, 14 (CLASH_RESOLVE) and 15 (CHAIN_TOOLONG), all 0.
    const CPU0_6_18: &str = "00000000\
        080002000000000008000400000000000800080000000000080009000000000008000a00\
        0000000008000b000000000008000c000000000008000d000000000008000e0000000000\
        08000f0000000000";

    /// The same answer with every counter set to a value of its own:
    /// found 1, invalid 2, insert 3, insert_failed 4, drop 5, early_drop 6,
    /// error 7, search_restart 8, clash_resolve 9, chaintoolong 10.
    fn counted() -> Vec<u8> {
        let mut bytes = hex(CPU0_6_18);
        for (n, at) in (4..bytes.len()).step_by(8).enumerate() {
            bytes[at + 7] = u8::try_from(n + 1).unwrap();
        }
        bytes
    }

    #[test]
    fn every_counter_is_read_from_its_attribute() {
        let mut total = Stats::default();
        add_cpu(&mut total, &counted()).unwrap();
        let want = Stats {
            found: 1,
            invalid: 2,
            insert_failed: 4,
            drop: 5,
            early_drop: 6,
            error: 7,
            search_restart: 8,
            clash_resolve: 9,
            chaintoolong: 10,
            ..Stats::default()
        };
        assert_eq!(total, want);
        // A second CPU adds up.
        add_cpu(&mut total, &counted()).unwrap();
        assert_eq!(total.chaintoolong, 20);
        assert_eq!(total.clash_resolve, 18);
        assert_eq!(total.insert_failed, 8);
    }

    #[test]
    fn the_captured_answer_decodes_to_zeros() {
        let mut total = Stats::default();
        add_cpu(&mut total, &hex(CPU0_6_18)).unwrap();
        assert_eq!(total, Stats::default());
    }

    #[test]
    fn a_kernel_without_the_newer_counters_reads_them_as_zero() {
        // What a kernel before CLASH_RESOLVE and CHAIN_TOOLONG sends: the
        // same answer without its last two attributes.
        let mut bytes = counted();
        bytes.truncate(bytes.len() - 16);
        let mut total = Stats::default();
        add_cpu(&mut total, &bytes).unwrap();
        assert_eq!(total.search_restart, 8);
        assert_eq!((total.clash_resolve, total.chaintoolong), (0, 0));
    }

    #[test]
    fn a_truncated_counter_is_an_error() {
        let mut bytes = hex(CPU0_6_18);
        // CHAIN_TOOLONG claims 8 bytes but the message ends 2 bytes early.
        bytes.truncate(bytes.len() - 2);
        assert!(add_cpu(&mut Stats::default(), &bytes).is_err());
    }
}
