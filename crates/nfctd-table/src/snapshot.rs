//! A consistent, shareable view of the table (`Snapshot`) and the chunks of
//! rows it is made of.
//!
//! Rows live in chunks of [`CHUNK`] slots, each chunk behind an `Arc`: a
//! snapshot is the list of chunk pointers, so taking one costs a pointer per
//! chunk (not per row), and the live table copies a chunk only when it
//! writes to one a snapshot still holds. 128 rows a chunk keeps the list of
//! a ten-million-row table under 1 MB while a copy stays 13 KB.

use std::sync::Arc;
use std::time::SystemTime;

use super::row::{Millis, Row};

/// Rows per chunk.
pub const CHUNK: usize = 128;

/// A fixed run of row slots, with which are occupied.
#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    /// Bit `i` set: slot `i` holds a row.
    pub(crate) used: u128,
    pub(crate) rows: [Row; CHUNK],
}

impl Chunk {
    pub(crate) fn empty() -> Chunk {
        Chunk {
            used: 0,
            rows: [Row::VACANT; CHUNK],
        }
    }

    /// The occupied slots' rows, with their slot numbers in the chunk: one
    /// step per set bit, so a sparse chunk costs what it holds.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &Row)> {
        let mut bits = self.used;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            Some((i, &self.rows[i]))
        })
    }
}

/// An immutable view of the whole table at one moment. Cheap to clone (an
/// `Arc`) and to keep: frozen sessions hold one while the mirror moves on,
/// sharing every chunk the mirror has not written to since.
#[derive(Debug, Clone)]
pub struct Snapshot {
    chunks: Arc<Vec<Arc<Chunk>>>,
    len: usize,
    /// Mirror time the view was taken at (timeouts are computed against it).
    pub at: Millis,
    /// Wall-clock time the view was taken at.
    pub taken: SystemTime,
}

impl Snapshot {
    /// A table with no rows, taken now.
    pub fn empty() -> Snapshot {
        Snapshot::from_rows(Vec::new(), 0, SystemTime::now())
    }

    /// A table of `rows` (tests, benchmarks, tables made outside the mirror).
    pub fn from_rows(rows: Vec<Row>, at: Millis, taken: SystemTime) -> Snapshot {
        let len = rows.len();
        let mut chunks = Vec::with_capacity(len.div_ceil(CHUNK));
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let mut chunk = Chunk::empty();
            for (i, row) in rows.by_ref().take(CHUNK).enumerate() {
                chunk.rows[i] = row;
                chunk.used |= 1 << i;
            }
            chunks.push(Arc::new(chunk));
        }
        Snapshot::of_chunks(Arc::new(chunks), len, at, taken)
    }

    pub(crate) fn of_chunks(
        chunks: Arc<Vec<Arc<Chunk>>>,
        len: usize,
        at: Millis,
        taken: SystemTime,
    ) -> Snapshot {
        Snapshot {
            chunks,
            len,
            at,
            taken,
        }
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every row, in memory order: every query scans the whole snapshot,
    /// and walking rows by address lets the hardware stream them.
    pub fn iter(&self) -> impl Iterator<Item = &Row> {
        self.chunks
            .iter()
            .flat_map(|chunk| chunk.iter().map(|(_, row)| row))
    }

    /// Every row with its slot number (its place in memory order).
    pub fn slots(&self) -> impl Iterator<Item = (usize, &Row)> {
        self.chunks
            .iter()
            .enumerate()
            .flat_map(|(c, chunk)| chunk.iter().map(move |(i, row)| (c * CHUNK + i, row)))
    }

    /// The row in slot `slot`, if one is there.
    pub fn get(&self, slot: usize) -> Option<&Row> {
        let chunk = self.chunks.get(slot / CHUNK)?;
        let i = slot % CHUNK;
        (chunk.used >> i & 1 != 0).then(|| &chunk.rows[i])
    }

    /// Whether both are views of the very same rows (no comparison of rows).
    pub fn same_rows(&self, other: &Snapshot) -> bool {
        Arc::ptr_eq(&self.chunks, &other.chunks)
    }

    /// The slot of `key`'s row, by a scan (a snapshot has no index).
    pub(crate) fn find(&self, key: &ctnetlink::ConnKey) -> Option<usize> {
        self.slots()
            .find(|(_, row)| row.id() == key.id && row.is(key))
            .map(|(slot, _)| slot)
    }

    /// Puts `row` in the occupied `slot`, or with `None` empties it; copies
    /// the one chunk (and the chunk list) if shared.
    pub(crate) fn set(&mut self, slot: usize, row: Option<Row>) {
        let (c, i) = (slot / CHUNK, slot % CHUNK);
        let Some(chunk) = self.chunks_mut().get_mut(c) else {
            return;
        };
        let chunk = Arc::make_mut(chunk);
        match row {
            Some(row) => chunk.rows[i] = row,
            None => {
                chunk.used &= !(1 << i);
                chunk.rows[i] = Row::VACANT;
                self.len -= 1;
            }
        }
    }

    pub(crate) fn chunks(&self) -> &[Arc<Chunk>] {
        &self.chunks
    }

    /// The chunk list to change (copied if another snapshot shares it).
    pub(crate) fn chunks_mut(&mut self) -> &mut Vec<Arc<Chunk>> {
        Arc::make_mut(&mut self.chunks)
    }

    pub(crate) fn set_len(&mut self, len: usize) {
        self.len = len;
    }

    /// Unix seconds of `taken`.
    pub fn taken_unix(&self) -> u64 {
        self.taken
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}
