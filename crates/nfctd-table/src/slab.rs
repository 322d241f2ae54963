//! The live rows' storage: slots in copy-on-write chunks, with a free list.
//! A write goes through `Arc::make_mut`, so it copies a chunk only while a
//! published snapshot still holds it; a snapshot is the chunk list itself.

use std::sync::Arc;
use std::time::SystemTime;

use super::row::{Millis, Row};
use super::snapshot::{Chunk, Snapshot, CHUNK};

/// The slab as it was at one moment (see [`Slab::checkpoint`]).
#[derive(Debug)]
pub(crate) struct Checkpoint {
    rows: Snapshot,
}

/// Where rows live: a slot number is `chunk * CHUNK + index in the chunk`.
#[derive(Debug)]
pub(crate) struct Slab {
    /// The chunk list, in a `Snapshot` so that publishing is one `Arc`
    /// clone; mutated in place once no published snapshot shares it.
    rows: Snapshot,
    /// Empty slots below the end, reused first (most recently freed last).
    free: Vec<u32>,
}

impl Slab {
    pub(crate) fn new() -> Slab {
        Slab {
            rows: Snapshot::from_rows(Vec::new(), 0, SystemTime::UNIX_EPOCH),
            free: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// How many chunks (slots / `CHUNK`).
    pub(crate) fn chunk_count(&self) -> usize {
        self.rows.chunks().len()
    }

    pub(crate) fn chunk(&self, c: usize) -> &Chunk {
        &self.rows.chunks()[c]
    }

    /// The row in `slot`; an empty slot reads as a vacant row.
    pub(crate) fn row(&self, slot: u32) -> &Row {
        self.rows.get(slot as usize).unwrap_or(&Row::VACANT)
    }

    fn chunk_mut(&mut self, c: usize) -> &mut Chunk {
        Arc::make_mut(&mut self.rows.chunks_mut()[c])
    }

    /// Puts `row` in a free slot; returns the slot.
    pub(crate) fn insert(&mut self, row: Row) -> u32 {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let chunks = self.rows.chunks_mut();
                chunks.push(Arc::new(Chunk::empty()));
                let first = (chunks.len() - 1) * CHUNK;
                // The new chunk's slots, lowest last so it is taken first.
                let end = first + CHUNK;
                self.free.extend((first + 1..end).rev().map(|s| s as u32));
                first as u32
            }
        };
        let (c, i) = (slot as usize / CHUNK, slot as usize % CHUNK);
        let chunk = self.chunk_mut(c);
        chunk.rows[i] = row;
        chunk.used |= 1 << i;
        let len = self.rows.len() + 1;
        self.rows.set_len(len);
        slot
    }

    /// Replaces the row in an occupied `slot`.
    pub(crate) fn replace(&mut self, slot: u32, row: Row) {
        let (c, i) = (slot as usize / CHUNK, slot as usize % CHUNK);
        self.chunk_mut(c).rows[i] = row;
    }

    /// Empties an occupied `slot`; returns its row.
    pub(crate) fn remove(&mut self, slot: u32) -> Row {
        let (c, i) = (slot as usize / CHUNK, slot as usize % CHUNK);
        let chunk = self.chunk_mut(c);
        chunk.used &= !(1 << i);
        let row = std::mem::replace(&mut chunk.rows[i], Row::VACANT);
        self.free.push(slot);
        let len = self.rows.len() - 1;
        self.rows.set_len(len);
        row
    }

    /// The rows as they are now, to come back to: shares every chunk, so
    /// writes from now on copy the chunks they touch.
    pub(crate) fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            rows: self.rows.clone(),
        }
    }

    /// Back to the rows of `checkpoint`, when nothing was removed since and
    /// `inserted` are the slots filled since.
    pub(crate) fn restore(&mut self, checkpoint: Checkpoint, inserted: &[u32]) {
        let slots = checkpoint.rows.chunks().len() * CHUNK;
        self.rows = checkpoint.rows;
        self.free.retain(|&s| (s as usize) < slots);
        let refilled = inserted.iter().rev().filter(|&&s| (s as usize) < slots);
        self.free.extend(refilled);
    }

    /// Every row with its slot.
    pub(crate) fn slots(&self) -> impl Iterator<Item = (u32, &Row)> {
        self.rows.slots().map(|(s, row)| (s as u32, row))
    }

    /// The rows as a snapshot at `at`: shares every chunk.
    pub(crate) fn snapshot(&self, at: Millis, taken: SystemTime) -> Snapshot {
        let mut snapshot = self.rows.clone();
        (snapshot.at, snapshot.taken) = (at, taken);
        snapshot
    }
}
