//! `Order` and `run`: sorting the matching rows by one key (ties by id) and
//! cutting out one page: a scan on every core keeps only the first rows by
//! precomputed keys (`key`), and only the page itself is sorted.

use std::cmp::Ordering;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, OnceLock};

use crate::snapshot::{Chunk, CHUNK};

use super::key::{Keyed, Sorter};
use super::{Context, Field, Filter, QueryError};
use crate::clip::quoted;
use crate::{Row, Snapshot};

/// The order of a `view`: one key, ascending or descending; ties are always
/// broken by ascending id, so pages never overlap or skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    /// The key sorted by (`order_by`).
    pub field: Field,
    /// `order_dir` DESC.
    pub descending: bool,
}

impl Default for Order {
    fn default() -> Self {
        Order {
            field: Field::Id,
            descending: false,
        }
    }
}

impl Order {
    /// `order_by` (a key or alias; empty means `id`) and `order_dir`
    /// (`ASC`/`DESC` in any case; empty means `ASC`).
    pub fn parse(order_by: &str, order_dir: &str) -> Result<Order, QueryError> {
        let field = if order_by.is_empty() {
            Field::Id
        } else {
            Field::parse(order_by).ok_or_else(|| QueryError::OrderBy(quoted(order_by)))?
        };
        let descending = if order_dir.is_empty() || order_dir.eq_ignore_ascii_case("asc") {
            false
        } else if order_dir.eq_ignore_ascii_case("desc") {
            true
        } else {
            return Err(QueryError::OrderDir(quoted(order_dir)));
        };
        Ok(Order { field, descending })
    }
}

/// One page of a query.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Rows matching the filter, in the whole snapshot.
    pub total: usize,
    /// The rows of the page, in order (copies: a page is short, and holds
    /// no snapshot alive).
    pub rows: Vec<Row>,
}

/// The rows of `snapshot` matching `filter`, ordered by `order`, from `start`,
/// at most `length` of them. A large snapshot is scanned on every core when
/// no other scan is under way.
pub fn run(
    snapshot: &Snapshot,
    filter: &Filter,
    order: &Order,
    start: usize,
    length: usize,
    ctx: &Context,
) -> Page {
    let (_scanning, running) = Scanning::start();
    let threads = scan_threads(snapshot.len(), running);
    run_on(snapshot, filter, order, start, length, ctx, threads)
}

/// [`run`] with the scan split over `threads` threads (tests force several).
pub(super) fn run_on(
    snapshot: &Snapshot,
    filter: &Filter,
    order: &Order,
    start: usize,
    length: usize,
    ctx: &Context,
    threads: usize,
) -> Page {
    let sorter = Sorter::new(order, snapshot, ctx);
    // The page ends at `end` in the sorted list: each part keeps only its
    // `end` first rows, never every match.
    let keep = if length == 0 {
        0
    } else {
        start.saturating_add(length).min(snapshot.len())
    };
    let (total, mut kept) = scan(snapshot.chunks(), filter, &sorter, keep, threads);
    let end = keep.min(total);
    if start >= end {
        return Page {
            total,
            rows: Vec::new(),
        };
    }
    let cmp = |a: &Keyed, b: &Keyed| sorter.compare(a, b);
    if kept.len() > end {
        // The `end` first rows, in any order, before index `end`.
        kept.select_nth_unstable_by(end, cmp);
        kept.truncate(end);
    }
    if start > 0 {
        // The page's rows, in any order, from index `start`.
        kept.select_nth_unstable_by(start, cmp);
    }
    let page = &mut kept[start..];
    page.sort_unstable_by(cmp);
    Page {
        total,
        rows: page
            .iter()
            .filter_map(|k| snapshot.get(k.index).cloned())
            .collect(),
    }
}

/// Snapshots smaller than this are scanned by the calling thread alone: a
/// thread costs more than it saves there.
const PARALLEL_FROM: usize = 50_000;

/// Scans under way in the process: when others run, the cores are busy
/// already, and more threads would only add switching.
static SCANNING: AtomicUsize = AtomicUsize::new(0);

/// Counts one scan under way while alive.
struct Scanning;

impl Scanning {
    /// Starts counting; returns the guard and how many scans run with it.
    fn start() -> (Scanning, usize) {
        (Scanning, SCANNING.fetch_add(1, AtomicOrdering::Relaxed) + 1)
    }
}

impl Drop for Scanning {
    fn drop(&mut self) {
        SCANNING.fetch_sub(1, AtomicOrdering::Relaxed);
    }
}

/// Threads for a scan of `len` rows while `running` scans (this one
/// included) are under way: every core (at most 4) for a lone big scan.
fn scan_threads(len: usize, running: usize) -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    if len < PARALLEL_FROM || running > 1 {
        return 1;
    }
    *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4)
    })
}

/// Counts the matching rows and keeps the `keep` first of them (by
/// `sorter`), in parts of whole chunks scanned by `threads` threads.
fn scan(
    chunks: &[Arc<Chunk>],
    filter: &Filter,
    sorter: &Sorter,
    keep: usize,
    threads: usize,
) -> (usize, Vec<Keyed>) {
    if threads <= 1 || chunks.len() < 2 {
        return scan_part(chunks, 0, filter, sorter, keep);
    }
    let part = chunks.len().div_ceil(threads);
    let results: Vec<(usize, Vec<Keyed>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .chunks(part)
            .enumerate()
            .skip(1)
            .map(|(i, run)| scope.spawn(move || scan_part(run, i * part, filter, sorter, keep)))
            .collect();
        // The calling thread takes the first part itself.
        let first = chunks.chunks(part).next().unwrap_or(&[]);
        let mut results = vec![scan_part(first, 0, filter, sorter, keep)];
        for handle in handles {
            match handle.join() {
                Ok(r) => results.push(r),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        results
    });
    let total = results.iter().map(|(n, _)| n).sum();
    let mut kept = Vec::with_capacity(results.iter().map(|(_, k)| k.len()).sum());
    for (_, k) in results {
        kept.extend(k);
    }
    (total, kept)
}

/// One part of a scan: the chunks from snapshot chunk `base`.
fn scan_part(
    chunks: &[Arc<Chunk>],
    base: usize,
    filter: &Filter,
    sorter: &Sorter,
    keep: usize,
) -> (usize, Vec<Keyed>) {
    let ctx = sorter.ctx;
    let rows = chunks.iter().enumerate().flat_map(|(c, chunk)| {
        let first = (base + c) * CHUNK;
        chunk.iter().map(move |(i, row)| (first + i, row))
    });
    if keep == 0 {
        return (
            rows.filter(|(_, r)| filter.matches(r, ctx)).count(),
            Vec::new(),
        );
    }
    let mut top = TopK::new(keep, sorter);
    let mut total = 0;
    for (slot, row) in rows {
        if filter.matches(row, ctx) {
            total += 1;
            top.offer(sorter.key(slot, row));
        }
    }
    (total, top.into_kept())
}

/// The `keep` first keys seen so far, kept in a buffer of up to twice that
/// and cut back by selection when it fills: cheaper than a heap, since
/// most keys lose against the current bar with one comparison.
struct TopK<'a> {
    keep: usize,
    buf: Vec<Keyed>,
    /// The last kept key after the latest cut: anything not before it loses.
    bar: Option<Keyed>,
    sorter: &'a Sorter<'a>,
}

impl<'a> TopK<'a> {
    fn new(keep: usize, sorter: &'a Sorter<'a>) -> TopK<'a> {
        TopK {
            keep,
            buf: Vec::with_capacity(keep.saturating_mul(2).min(1 << 16)),
            bar: None,
            sorter,
        }
    }

    fn offer(&mut self, key: Keyed) {
        if let Some(bar) = &self.bar {
            if self.sorter.compare(&key, bar) != Ordering::Less {
                return;
            }
        }
        self.buf.push(key);
        if self.buf.len() >= self.keep.saturating_mul(2).max(64) {
            self.cut();
        }
    }

    fn cut(&mut self) {
        if self.buf.len() <= self.keep {
            return;
        }
        let sorter = self.sorter;
        self.buf
            .select_nth_unstable_by(self.keep - 1, |a, b| sorter.compare(a, b));
        self.buf.truncate(self.keep);
        self.bar = self.buf.last().copied();
    }

    fn into_kept(mut self) -> Vec<Keyed> {
        self.cut();
        self.buf
    }
}
