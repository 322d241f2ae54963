//! The mirror's rows keyed by conntrack id, and the rules for changing them:
//! hidden connections stay out, observations merge, a dump replaces everything.

use std::collections::HashMap;
use std::sync::Arc;

use ctnetlink::{Conn, Event, EventKind};

use super::merge::observe;
use super::mirror::Hidden;
use super::row::{Millis, Row};

/// The rows of the live table. Owned by one writer (the mirror thread).
pub struct RowSet {
    rows: HashMap<u32, Arc<Row>>,
    hidden: Hidden,
}

impl std::fmt::Debug for RowSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowSet")
            .field("len", &self.rows.len())
            .finish_non_exhaustive()
    }
}

impl RowSet {
    pub fn new(hidden: Hidden) -> RowSet {
        RowSet {
            rows: HashMap::new(),
            hidden,
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Applies one event; returns whether the rows changed.
    pub fn apply(&mut self, event: Event, now: Millis, now_unix: u64) -> bool {
        match event.kind {
            EventKind::Destroy => self.remove(event.conn.id),
            EventKind::New | EventKind::Update => self.upsert(event.conn, now, now_unix),
        }
    }

    /// Records a kernel view of one connection; returns whether the rows changed.
    pub fn upsert(&mut self, conn: Conn, now: Millis, now_unix: u64) -> bool {
        if (self.hidden)(&conn) {
            return false;
        }
        let id = conn.id;
        let row = observe(self.rows.get(&id), conn, now, now_unix);
        self.rows.insert(id, Arc::new(row));
        true
    }

    /// Drops one connection; returns whether it was there.
    pub fn remove(&mut self, id: u32) -> bool {
        self.rows.remove(&id).is_some()
    }

    /// Replaces every row with a full dump, keeping what earlier observations
    /// knew about connections still present. Returns (added, removed).
    pub fn replace(&mut self, dump: Vec<Conn>, now: Millis, now_unix: u64) -> (usize, usize) {
        let mut rows = HashMap::with_capacity(dump.len());
        let mut added = 0;
        for conn in dump {
            if (self.hidden)(&conn) {
                continue;
            }
            let previous = self.rows.get(&conn.id);
            added += usize::from(previous.is_none());
            rows.insert(conn.id, Arc::new(observe(previous, conn, now, now_unix)));
        }
        let removed = self.rows.keys().filter(|id| !rows.contains_key(id)).count();
        self.rows = rows;
        (added, removed)
    }

    /// Rows whose kernel timeout has run out by `now`.
    pub fn expired(&self, now: Millis) -> Vec<Arc<Row>> {
        self.rows
            .values()
            .filter(|row| row.deadline <= now)
            .cloned()
            .collect()
    }

    /// Every row, for a snapshot.
    pub fn to_vec(&self) -> Vec<Arc<Row>> {
        self.rows.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctnetlink::{Family, Tuple};
    use std::net::IpAddr;

    fn conn(id: u32, src: &str) -> Conn {
        let orig = Tuple {
            src: src.parse::<IpAddr>().unwrap(),
            ..Tuple::default()
        };
        let mut c = Conn::new(id, Family::Ipv4, 6, orig, Tuple::default());
        c.timeout = 10;
        c
    }

    fn loopback_hidden() -> Hidden {
        Arc::new(|c: &Conn| c.orig.src.is_loopback())
    }

    #[test]
    fn events_create_update_and_destroy_rows_and_hidden_ones_stay_out() {
        let mut set = RowSet::new(loopback_hidden());
        let event = |kind, c| Event { kind, conn: c };
        assert!(set.apply(event(EventKind::New, conn(1, "192.0.2.1")), 0, 0));
        assert!(!set.apply(event(EventKind::New, conn(2, "127.0.0.1")), 0, 0));
        assert!(set.apply(event(EventKind::Update, conn(1, "192.0.2.1")), 5000, 5));
        assert_eq!(set.len(), 1);
        assert_eq!(set.to_vec()[0].deadline, 15_000);
        assert!(set.apply(event(EventKind::Destroy, conn(1, "192.0.2.1")), 0, 0));
        assert!(set.is_empty());
    }

    #[test]
    fn a_dump_replaces_everything_and_reports_the_difference() {
        let mut set = RowSet::new(loopback_hidden());
        set.upsert(conn(1, "192.0.2.1"), 0, 100);
        set.upsert(conn(2, "192.0.2.2"), 0, 100);
        let (added, removed) = set.replace(
            vec![
                conn(2, "192.0.2.2"),
                conn(3, "192.0.2.3"),
                conn(4, "127.0.0.1"),
            ],
            1000,
            101,
        );
        assert_eq!((added, removed, set.len()), (1, 1, 2));
        let kept = set.to_vec().into_iter().find(|r| r.conn.id == 2).unwrap();
        assert_eq!(
            kept.started_unix, 100,
            "a row that survives keeps its first sight"
        );
        assert_eq!(set.expired(11_000).len(), 2);
        assert_eq!(set.expired(10_999).len(), 0);
    }
}
