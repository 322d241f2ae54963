//! Reconciliation: a full dump merged into the live rows while it streams.
//!
//! Each dumped connection is looked up as it arrives: a held row is marked
//! seen (a bitmap per chunk, kept outside the chunks, so marking writes
//! nothing a snapshot shares) and updated in place when the dump tells
//! something new; a new connection is added at once. A rollback point taken
//! first (the chunk list, as a snapshot holds it, and the free list) makes a
//! dump that fails halfway leave the rows exactly as they were: the writes
//! copied the chunks they touched, so the point still holds the old ones,
//! and only the added rows need leaving the index. No second row set or map
//! is built: what a reconciliation costs beyond the table is the chunks it
//! changed, and an idle table's costs nothing. Observers hear of it only
//! once the dump is whole: new rows begin, unseen rows end (or stay, named as
//! ending; or leave quietly, newly hidden), then every row is reconciled.

use std::collections::HashSet;

use ctnetlink::{Conn, ConnKey};

use super::flows::EndReason;
use super::merge::{first_sight, observe};
use super::row::Millis;
use super::rowset::RowSet;
use super::snapshot::CHUNK;

/// Sets `slot`'s bit; returns whether it was clear.
fn mark(seen: &mut Vec<u128>, slot: u32) -> bool {
    let (c, bit) = (slot as usize / CHUNK, 1u128 << (slot as usize % CHUNK));
    if seen.len() <= c {
        seen.resize(c + 1, 0);
    }
    let fresh = seen[c] & bit == 0;
    seen[c] |= bit;
    fresh
}

impl RowSet {
    /// [`RowSet::replace_with`], where `fill` also names connections that
    /// ended but whose DESTROY event is still on its way (the kernel's dying
    /// list under `--reliable-events`): missing from the dump, their rows stay
    /// as they are, so the event ends them with the final counters rather
    /// than the dump ending them without.
    pub fn replace_with_ending<E>(
        &mut self,
        now: Millis,
        now_unix: u64,
        fill: impl FnOnce(&mut dyn FnMut(Conn)) -> Result<HashSet<ConnKey>, E>,
    ) -> Result<(usize, usize), E> {
        let before = self.len();
        let rollback = self.slab.checkpoint();
        let mut seen: Vec<u128> = vec![0; self.slab.chunk_count()];
        // Rows hidden by a new rule leave without their connection ending.
        let mut now_hidden = HashSet::new();
        // Told only once the dump is whole: a dump that fails halfway
        // changes nothing, and its retry would tell them again.
        let mut began = Vec::new();
        let mut kept = 0;
        let filled = fill(&mut |conn: Conn| {
            let slot = self.index.find(&self.slab, &conn.key());
            if (self.hidden)(&conn) {
                now_hidden.extend(slot);
                return;
            }
            match slot {
                Some(slot) => {
                    // A dump may repeat an entry: count each key once (one
                    // added by this dump is marked already).
                    if mark(&mut seen, slot) {
                        kept += 1;
                    }
                    if let Some(row) = observe(Some(self.slab.row(slot)), conn, now, now_unix) {
                        self.slab.replace(slot, row);
                    }
                }
                None => {
                    let slot = self.slab.insert(first_sight(conn, now, now_unix));
                    self.index.insert(&self.slab, slot);
                    mark(&mut seen, slot);
                    began.push(slot);
                }
            }
        });
        let ending = match filled {
            Ok(ending) => ending,
            Err(e) => {
                for &slot in &began {
                    self.index.remove(self.slab.row(slot).id(), slot);
                }
                self.slab.restore(rollback, &began);
                return Err(e);
            }
        };
        drop(rollback);
        let observer = self.observer.clone();
        if let Some(observer) = &observer {
            for &slot in &began {
                observer.began(self.slab.row(slot));
            }
        }
        let mut ended_here = Vec::new();
        for c in 0..self.slab.chunk_count() {
            let mut unseen = self.slab.chunk(c).used & !seen.get(c).copied().unwrap_or(0);
            while unseen != 0 {
                let slot = (c * CHUNK) as u32 + unseen.trailing_zeros();
                unseen &= unseen - 1;
                if now_hidden.contains(&slot) {
                    self.take_slot(slot);
                    continue;
                }
                let key = self.slab.row(slot).key();
                if ending.contains(&key) {
                    kept += 1;
                    continue;
                }
                let row = self.take_slot(slot);
                if let Some(observer) = &observer {
                    observer.ended(&row, None, EndReason::Reconciliation);
                    ended_here.push(key);
                }
            }
        }
        if observer.is_some() {
            self.ended_lately.turn();
            for key in ended_here {
                self.ended_lately.note(key);
            }
        }
        if let Some(observer) = &observer {
            observer.reconciled(&mut self.rows());
        }
        Ok((began.len(), before - kept))
    }
}
