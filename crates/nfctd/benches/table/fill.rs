//! Fills the namespace's table with the gateway set through ctnetlink and
//! counts what a dump returns: refusals reported by errno.

use std::collections::BTreeMap;
use std::time::Instant;

use ctnetlink::{errno_words, CtSocket};

use crate::gateway::Gateway;

/// What a fill made.
pub struct Filled {
    /// Entries a dump returned after the fill: the table's size.
    pub entries: usize,
    /// The kernel's `nf_conntrack_count` and limit, for comparison.
    pub count: u32,
    pub max: u32,
    pub seconds: f64,
    /// Refused creates by errno, in words.
    pub refused: String,
}

/// Creates `n` gateway entries in chunks (the whole set is never held), then
/// dumps the table and counts it, and prints a line on each.
pub fn fill(ct: &mut CtSocket, n: usize) -> Filled {
    const CHUNK: usize = 65_536;
    let mut refused = BTreeMap::new();
    let mut gateway = Gateway::new();
    let start = Instant::now();
    let mut done = 0;
    let mut next_report = 1_000_000;
    while done < n {
        let chunk: Vec<_> = gateway.by_ref().take(CHUNK.min(n - done)).collect();
        ct.create_many_each(&chunk, |_, errno| *refused.entry(errno).or_insert(0) += 1)
            .expect("create_many");
        done += chunk.len();
        if done >= next_report && n >= 2_000_000 {
            println!(
                "  fill: {done} sent in {:.0} s",
                start.elapsed().as_secs_f64()
            );
            next_report += 1_000_000;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let (count, max) = ct.global_counts().expect("conntrack counts");
    let (t_dump, entries) = crate::time(|| ct.dump(|_| {}).expect("dump").entries);
    let refusals = if refused.is_empty() {
        "none refused".to_string()
    } else {
        refused
            .iter()
            .map(|(errno, k)| format!("{k} refused with errno {errno} ({})", errno_words(*errno)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "filled: {entries} entries in a dump ({n} creates in {:.1} s, {:.0}/s; {refusals}); nf_conntrack_count {count}, limit {max}; counting dump {}",
        seconds,
        n as f64 / seconds,
        crate::ms(t_dump)
    );
    if refused.contains_key(&libc::ENOSPC) {
        println!("note: ENOSPC is the kernel refusing an insert into a long hash chain (`chaintoolong`): raise hashsize to entries/4 (as root the bench does)");
    }
    if entries < n && entries as u32 + 1000 >= max {
        println!(
            "note: the table stopped at nf_conntrack_max ({max}); it is global and only root in the initial namespace can raise it"
        );
    }
    if (count as usize) > entries {
        println!(
            "note: nf_conntrack_count exceeds the dump by {}: entries expired but not yet reaped",
            count as usize - entries
        );
    }
    Filled {
        entries,
        count,
        max,
        seconds,
        refused: refusals,
    }
}

impl Filled {
    /// The fill as a line of the result table.
    pub fn line(&self, report: &mut crate::report::Report) {
        report.info(
            "0. fill: entries in a dump",
            self.entries.to_string(),
            format!(
                "{:.1} s; {}; nf_conntrack_count {}",
                self.seconds, self.refused, self.count
            ),
        );
    }
}
