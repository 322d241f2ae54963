//! Finding a row's slot by its connection: a hash table of slot numbers
//! (4 bytes and a control byte per entry) hashed by conntrack id, each entry
//! compared by the whole key read from its row. Connections whose 32-bit ids
//! collide (about n²/2³³ pairs) are simply two entries with one hash.

use hashbrown::HashTable;

use ctnetlink::ConnKey;

use super::slab::Slab;

/// Slots by connection.
#[derive(Debug)]
pub(crate) struct Index {
    table: HashTable<u32>,
    /// Mixed into the hash so that ids chosen by others cannot pile up.
    seed: u64,
}

/// A 64-bit hash of an id: a folded multiply, whose high and low bits both
/// depend on every bit of the id.
fn hash(seed: u64, id: u32) -> u64 {
    let product = u128::from(u64::from(id) ^ seed) * 0x9e37_79b9_7f4a_7c15;
    (product >> 64) as u64 ^ product as u64
}

impl Index {
    pub(crate) fn new() -> Index {
        use std::hash::{BuildHasher, Hasher};
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Index {
            table: HashTable::new(),
            seed,
        }
    }

    /// The slot of `key`'s row.
    pub(crate) fn find(&self, slab: &Slab, key: &ConnKey) -> Option<u32> {
        self.table
            .find(hash(self.seed, key.id), |&slot| slab.row(slot).is(key))
            .copied()
    }

    /// Records that `slot` holds a row whose key is not indexed yet.
    pub(crate) fn insert(&mut self, slab: &Slab, slot: u32) {
        let seed = self.seed;
        let id = slab.row(slot).id();
        self.table
            .insert_unique(hash(seed, id), slot, |&s| hash(seed, slab.row(s).id()));
    }

    /// Forgets `slot`, which holds a row with this id.
    pub(crate) fn remove(&mut self, id: u32, slot: u32) {
        if let Ok(entry) = self.table.find_entry(hash(self.seed, id), |&s| s == slot) {
            entry.remove();
        }
    }

    /// Bytes the table holds (for the documentation's sums and tests).
    #[cfg(test)]
    pub(crate) fn bytes_per_entry(&self) -> f64 {
        let buckets = self.table.capacity() as f64 * 8.0 / 7.0;
        buckets * 5.0 / self.table.len().max(1) as f64
    }
}
