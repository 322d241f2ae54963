//! A frozen view of the table: a snapshot shared with the mirror and other
//! readers, with one reader's own removals and changes laid over it.

use ctnetlink::ConnKey;

use super::row::Row;
use super::snapshot::Snapshot;

/// A snapshot plus an overlay: the rows gone since it was taken and the rows
/// seen changed. The overlay is laid into the snapshot itself, which copies
/// its chunk list once and then only the chunks holding overlaid rows: a
/// frozen session costs one chunk list (a pointer per 128 rows) plus those
/// chunks, and shares every other chunk with the mirror and other sessions.
#[derive(Debug, Clone)]
pub struct Frozen {
    /// The rows as the session froze them, with the overlay laid in.
    view: Snapshot,
}

impl Frozen {
    /// `snapshot` with an empty overlay.
    pub fn new(snapshot: Snapshot) -> Frozen {
        Frozen { view: snapshot }
    }

    /// The snapshot with the overlay applied; the snapshot itself (no copy)
    /// while the overlay is empty.
    pub fn view(&self) -> Snapshot {
        self.view.clone()
    }

    /// Hides the row of `key` (it was deleted), whatever was recorded for it.
    pub fn forget(&mut self, key: ConnKey) {
        if let Some(slot) = self.view.find(&key) {
            self.view.set(slot, None);
        }
    }

    /// Shows `row` in place of the snapshot's row with the same key. A row
    /// the snapshot does not have (or no longer shows) stays out: the view
    /// only ever narrows.
    pub fn replace(&mut self, row: Row) {
        if let Some(slot) = self.view.find(&row.key()) {
            self.view.set(slot, Some(row));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctnetlink::{Conn, Family, Tuple};
    use std::net::IpAddr;

    fn row(id: u32, src: &str, mark: u32) -> Row {
        let orig = Tuple {
            src: src.parse::<IpAddr>().unwrap(),
            ..Tuple::default()
        };
        let mut conn = Conn::new(id, Family::Ipv4, 6, orig, Tuple::default());
        conn.mark = mark;
        Row::fixture(conn, 0)
    }

    fn frozen() -> (Frozen, Snapshot) {
        let rows = vec![row(1, "192.0.2.1", 0), row(2, "192.0.2.2", 0)];
        let snapshot = Snapshot::from_rows(rows, 0, std::time::SystemTime::now());
        (Frozen::new(snapshot.clone()), snapshot)
    }

    fn ids(snapshot: &Snapshot) -> Vec<u32> {
        snapshot.iter().map(Row::id).collect()
    }

    #[test]
    fn without_an_overlay_the_view_is_the_snapshot_itself() {
        let (f, snapshot) = frozen();
        assert!(f.view().same_rows(&snapshot));
    }

    #[test]
    fn a_forgotten_row_disappears_from_the_view_only() {
        let (mut f, snapshot) = frozen();
        let key = snapshot.get(0).unwrap().key();
        f.forget(key);
        assert_eq!(ids(&f.view()), [2]);
        assert_eq!(ids(&snapshot), [1, 2], "the shared snapshot is untouched");
    }

    #[test]
    fn a_replaced_row_shows_its_new_value_in_place() {
        let (mut f, snapshot) = frozen();
        f.replace(row(2, "192.0.2.2", 7));
        let view = f.view();
        assert_eq!(ids(&view), [1, 2]);
        assert_eq!(view.get(1).unwrap().mark(), 7);
        assert_eq!(snapshot.get(1).unwrap().mark(), 0);
    }

    #[test]
    fn forgetting_wins_over_an_earlier_replacement() {
        let (mut f, snapshot) = frozen();
        f.replace(row(1, "192.0.2.1", 7));
        f.forget(snapshot.get(0).unwrap().key());
        assert_eq!(ids(&f.view()), [2]);
    }

    #[test]
    fn a_replacement_the_snapshot_lacks_stays_out() {
        let (mut f, _) = frozen();
        f.replace(row(3, "192.0.2.3", 0));
        assert_eq!(ids(&f.view()), [1, 2]);
    }
}
