//! `Order` and `run`: sorting the matching rows by one key (ties by id) and
//! cutting out one page, by partial selection rather than a full sort.

use std::cmp::Ordering;
use std::sync::Arc;

use super::extract::{datum, Datum};
use super::{Context, Field, Filter, QueryError};
use crate::clip::quoted;
use crate::table::{Row, Snapshot};

/// The order of a `view`: one key, ascending or descending; ties are always
/// broken by ascending id, so pages never overlap or skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    pub field: Field,
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

    fn compare(&self, a: &(Datum, &Arc<Row>), b: &(Datum, &Arc<Row>)) -> Ordering {
        let by_key = a.0.compare(&b.0);
        let by_key = if self.descending {
            by_key.reverse()
        } else {
            by_key
        };
        by_key.then_with(|| a.1.conn.id.cmp(&b.1.conn.id))
    }
}

/// One page of a query.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Rows matching the filter, in the whole snapshot.
    pub total: usize,
    /// The rows of the page, in order.
    pub rows: Vec<Arc<Row>>,
}

/// The rows of `snapshot` matching `filter`, ordered by `order`, from `start`,
/// at most `length` of them.
pub fn run(
    snapshot: &Snapshot,
    filter: &Filter,
    order: &Order,
    start: usize,
    length: usize,
    ctx: &Context,
) -> Page {
    let matching = snapshot.rows.iter().filter(|row| filter.matches(row, ctx));
    if length == 0 {
        return Page {
            total: matching.count(),
            rows: Vec::new(),
        };
    }
    // Sort keys are read once per row, not once per comparison.
    let mut keyed: Vec<(Datum, &Arc<Row>)> = matching
        .map(|row| (datum(order.field, row, ctx), row))
        .collect();
    let total = keyed.len();
    if start >= total {
        return Page {
            total,
            rows: Vec::new(),
        };
    }
    let end = start.saturating_add(length).min(total);
    let cmp = |a: &(Datum, &Arc<Row>), b: &(Datum, &Arc<Row>)| order.compare(a, b);
    if end < total {
        // The `end` first rows, in any order, before index `end`.
        keyed.select_nth_unstable_by(end, cmp);
    }
    let head = &mut keyed[..end];
    if start > 0 {
        // The page's rows, in any order, from index `start`.
        head.select_nth_unstable_by(start, cmp);
    }
    let page = &mut head[start..];
    page.sort_unstable_by(cmp);
    Page {
        total,
        rows: page.iter().map(|(_, row)| Arc::clone(row)).collect(),
    }
}
