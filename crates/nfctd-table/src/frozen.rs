//! A frozen view of the table: a snapshot shared with the mirror and other
//! readers, with one reader's own removals and changes laid over it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ctnetlink::ConnKey;

use super::row::{Row, Snapshot};

/// A snapshot plus an overlay: the rows gone since it was taken and the rows
/// seen changed. The overlay keeps the snapshot shared (sessions with
/// autorefresh off each hold one) instead of copying it per holder.
#[derive(Debug, Clone)]
pub struct Frozen {
    /// The rows as they were when the session froze.
    pub snapshot: Snapshot,
    gone: HashSet<ConnKey>,
    changed: HashMap<ConnKey, Arc<Row>>,
}

impl Frozen {
    /// `snapshot` with an empty overlay.
    pub fn new(snapshot: Snapshot) -> Frozen {
        Frozen {
            snapshot,
            gone: HashSet::new(),
            changed: HashMap::new(),
        }
    }

    /// The snapshot with the overlay applied; the snapshot itself (no copy)
    /// while the overlay is empty.
    pub fn view(&self) -> Snapshot {
        if self.gone.is_empty() && self.changed.is_empty() {
            return self.snapshot.clone();
        }
        let rows = self
            .snapshot
            .rows
            .iter()
            .filter_map(|row| {
                let key = row.conn.key();
                if self.gone.contains(&key) {
                    return None;
                }
                Some(
                    self.changed
                        .get(&key)
                        .map_or_else(|| Arc::clone(row), Arc::clone),
                )
            })
            .collect();
        Snapshot {
            rows: Arc::new(rows),
            ..self.snapshot.clone()
        }
    }

    /// Hides the row of `key` (it was deleted), whatever was recorded for it.
    pub fn forget(&mut self, key: ConnKey) {
        self.changed.remove(&key);
        self.gone.insert(key);
    }

    /// Shows `row` in place of the snapshot's row with the same key. A row
    /// the snapshot does not have stays out: the view only ever narrows.
    pub fn replace(&mut self, row: Arc<Row>) {
        self.changed.insert(row.conn.key(), row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctnetlink::{Conn, Family, Tuple};
    use std::net::IpAddr;

    fn row(id: u32, src: &str, mark: u32) -> Arc<Row> {
        let orig = Tuple {
            src: src.parse::<IpAddr>().unwrap(),
            ..Tuple::default()
        };
        let mut conn = Conn::new(id, Family::Ipv4, 6, orig, Tuple::default());
        conn.mark = mark;
        Arc::new(Row::fixture(conn, 0))
    }

    fn frozen() -> Frozen {
        let rows = vec![row(1, "192.0.2.1", 0), row(2, "192.0.2.2", 0)];
        Frozen::new(Snapshot {
            rows: Arc::new(rows),
            ..Snapshot::empty()
        })
    }

    fn ids(snapshot: &Snapshot) -> Vec<u32> {
        snapshot.rows.iter().map(|r| r.conn.id).collect()
    }

    #[test]
    fn without_an_overlay_the_view_is_the_snapshot_itself() {
        let f = frozen();
        assert!(Arc::ptr_eq(&f.view().rows, &f.snapshot.rows));
    }

    #[test]
    fn a_forgotten_row_disappears_from_the_view_only() {
        let mut f = frozen();
        let key = f.snapshot.rows[0].conn.key();
        f.forget(key);
        assert_eq!(ids(&f.view()), [2]);
        assert_eq!(ids(&f.snapshot), [1, 2], "the shared snapshot is untouched");
    }

    #[test]
    fn a_replaced_row_shows_its_new_value_in_place() {
        let mut f = frozen();
        f.replace(row(2, "192.0.2.2", 7));
        let view = f.view();
        assert_eq!(ids(&view), [1, 2]);
        assert_eq!(view.rows[1].conn.mark, 7);
        assert!(Arc::ptr_eq(&view.rows[0], &f.snapshot.rows[0]));
        assert_eq!(f.snapshot.rows[1].conn.mark, 0);
    }

    #[test]
    fn forgetting_wins_over_an_earlier_replacement() {
        let mut f = frozen();
        f.replace(row(1, "192.0.2.1", 7));
        f.forget(f.snapshot.rows[0].conn.key());
        assert_eq!(ids(&f.view()), [2]);
    }

    #[test]
    fn a_replacement_the_snapshot_lacks_stays_out() {
        let mut f = frozen();
        f.replace(row(3, "192.0.2.3", 0));
        assert_eq!(ids(&f.view()), [1, 2]);
    }
}
