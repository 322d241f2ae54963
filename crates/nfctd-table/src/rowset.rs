//! The mirror's rows and the rules for changing them: hidden connections stay
//! out, observations merge, a dump replaces everything (`reconcile.rs`).
//!
//! Rows live in a [`Slab`] of copy-on-write chunks and are found through an
//! [`Index`] of slots. A connection is identified by its id *and* its
//! original tuple ([`ConnKey`]): ids are 32-bit hashes, and a few collide in
//! a large table.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::SystemTime;

use ctnetlink::{Conn, ConnKey, Event, EventKind};

use super::ended_lately::EndedLately;
use super::flows::{EndReason, Observer};
use super::index::Index;
use super::merge::{first_sight, observe};
use super::row::{Millis, Row};
use super::slab::Slab;
use super::snapshot::Snapshot;

/// Which connections the mirror keeps out of sight (`--ignore`).
pub type Hidden = Arc<dyn Fn(&Conn) -> bool + Send + Sync>;

/// The rows of the live table. Owned by one writer (the mirror thread).
pub struct RowSet {
    pub(super) slab: Slab,
    pub(super) index: Index,
    pub(super) hidden: Hidden,
    /// Told of rows that begin, are reconciled and end (export).
    pub(super) observer: Option<Observer>,
    /// With an observer: the connections it was told ended lately.
    pub(super) ended_lately: EndedLately,
}

impl std::fmt::Debug for RowSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowSet")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl RowSet {
    /// An empty set that keeps out what `hidden` selects.
    pub fn new(hidden: Hidden) -> RowSet {
        RowSet {
            slab: Slab::new(),
            index: Index::new(),
            hidden,
            observer: None,
            ended_lately: EndedLately::default(),
        }
    }

    /// Tells `observer` of every connection that begins or ends from now on,
    /// and of every reconciliation.
    pub fn set_observer(&mut self, observer: Option<Observer>) {
        self.observer = observer;
    }

    /// Changes which connections stay out. Rows already in are not touched:
    /// the caller resyncs, and the dump applies the new rule to every row.
    pub fn set_hidden(&mut self, hidden: Hidden) {
        self.hidden = hidden;
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.slab.len() == 0
    }

    /// The row of this connection, if mirrored.
    pub fn get(&self, key: &ConnKey) -> Option<&Row> {
        let slot = self.index.find(&self.slab, key)?;
        Some(self.slab.row(slot))
    }

    /// Applies one event; returns whether the rows changed.
    pub fn apply(&mut self, event: Event, now: Millis, now_unix: u64) -> bool {
        match event.kind {
            EventKind::Destroy => {
                let ended = self.end(&event.conn.key(), Some(&event.conn), EndReason::Event);
                if !ended {
                    self.unseen_end(event.conn, now, now_unix);
                }
                ended
            }
            EventKind::New | EventKind::Update => self.upsert(event.conn, now, now_unix),
        }
    }

    /// A DESTROY for a connection without a row: one the mirror never held
    /// (its NEW event was lost in an overflow and it ended before the
    /// recovery dump) still gets its end told, from the event alone, unless
    /// it is hidden or its end was already told (by a dump, a lookup, a
    /// kill whose event was not read yet, or a repeated event).
    fn unseen_end(&mut self, conn: Conn, now: Millis, now_unix: u64) {
        let Some(observer) = &self.observer else {
            return;
        };
        if (self.hidden)(&conn) || self.ended_lately.take(&conn.key()) {
            return;
        }
        let row = first_sight(conn.clone(), now, now_unix);
        observer.ended(&row, Some(&conn), EndReason::Event);
        self.ended_lately.note(conn.key());
    }

    /// Records a kernel view of one connection; returns whether the rows changed.
    pub fn upsert(&mut self, conn: Conn, now: Millis, now_unix: u64) -> bool {
        if (self.hidden)(&conn) {
            return false;
        }
        match self.index.find(&self.slab, &conn.key()) {
            Some(slot) => match observe(Some(self.slab.row(slot)), conn, now, now_unix) {
                Some(row) => {
                    self.slab.replace(slot, row);
                    true
                }
                None => false, // nothing new
            },
            None => {
                let row = first_sight(conn, now, now_unix);
                if let Some(observer) = &self.observer {
                    observer.began(&row);
                }
                self.add(row);
                true
            }
        }
    }

    /// Puts a row whose key is not held yet in.
    pub(super) fn add(&mut self, row: Row) {
        let slot = self.slab.insert(row);
        self.index.insert(&self.slab, slot);
    }

    /// Takes the row in `slot` out.
    pub(super) fn take_slot(&mut self, slot: u32) -> Row {
        self.index.remove(self.slab.row(slot).id(), slot);
        self.slab.remove(slot)
    }

    /// Drops the connection with this id and tuple because it ended (found
    /// so as `reason` says); returns whether it was there.
    pub fn remove(&mut self, key: &ConnKey, reason: EndReason) -> bool {
        self.end(key, None, reason)
    }

    /// [`RowSet::remove`], with the kernel's last view of it if the end came with one.
    fn end(&mut self, key: &ConnKey, last: Option<&Conn>, reason: EndReason) -> bool {
        let Some(slot) = self.index.find(&self.slab, key) else {
            return false;
        };
        let row = self.take_slot(slot);
        if let Some(observer) = &self.observer {
            observer.ended(&row, last, reason);
            self.ended_lately.note(*key);
        }
        true
    }

    /// Replaces every row with a full dump that `fill` feeds in one connection
    /// at a time, keeping what earlier observations knew about connections
    /// still present. Returns (added, removed), or `fill`'s error with the
    /// rows left as they were.
    pub fn replace_with<E>(
        &mut self,
        now: Millis,
        now_unix: u64,
        fill: impl FnOnce(&mut dyn FnMut(Conn)) -> Result<(), E>,
    ) -> Result<(usize, usize), E> {
        self.replace_with_ending(now, now_unix, |sink| fill(sink).map(|()| HashSet::new()))
    }

    /// [`RowSet::replace_with`] for a dump already in memory.
    pub fn replace(&mut self, dump: Vec<Conn>, now: Millis, now_unix: u64) -> (usize, usize) {
        let filled: Result<_, std::convert::Infallible> =
            self.replace_with(now, now_unix, |sink| {
                dump.into_iter().for_each(sink);
                Ok(())
            });
        match filled {
            Ok(counts) => counts,
            Err(never) => match never {},
        }
    }

    pub(super) fn rows(&self) -> impl Iterator<Item = &Row> {
        self.slab.slots().map(|(_, row)| row)
    }

    /// Rows whose kernel timeout has run out by `now`.
    pub fn expired(&self, now: Millis) -> Vec<Row> {
        self.rows()
            .filter(|row| row.deadline() <= now)
            .cloned()
            .collect()
    }

    /// Every row as a snapshot taken at `at`: one pointer per chunk, every
    /// chunk shared until the next write to it.
    pub fn snapshot(&self, at: Millis, taken: SystemTime) -> Snapshot {
        self.slab.snapshot(at, taken)
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

    fn event(kind: EventKind, conn: Conn) -> Event {
        Event { kind, conn }
    }

    #[test]
    fn events_create_update_and_destroy_rows_and_hidden_ones_stay_out() {
        let mut set = RowSet::new(loopback_hidden());
        assert!(set.apply(event(EventKind::New, conn(1, "192.0.2.1")), 0, 0));
        assert!(!set.apply(event(EventKind::New, conn(2, "127.0.0.1")), 0, 0));
        assert!(set.apply(event(EventKind::Update, conn(1, "192.0.2.1")), 5000, 5));
        assert_eq!(set.len(), 1);
        assert_eq!(set.rows().next().unwrap().deadline(), 15_000);
        assert!(set.apply(event(EventKind::Destroy, conn(1, "192.0.2.1")), 0, 0));
        assert!(set.is_empty());
    }

    #[test]
    fn a_dump_replaces_everything_and_reports_the_difference() {
        let mut set = RowSet::new(loopback_hidden());
        set.upsert(conn(1, "192.0.2.1"), 0, 100);
        set.upsert(conn(2, "192.0.2.2"), 0, 100);
        let dump = vec![
            conn(2, "192.0.2.2"),
            conn(3, "192.0.2.3"),
            conn(4, "127.0.0.1"),
        ];
        let (added, removed) = set.replace(dump, 5000, 105);
        assert_eq!((added, removed, set.len()), (1, 1, 2));
        let kept = set.rows().find(|r| r.id() == 2).unwrap();
        assert_eq!(
            kept.started_unix(),
            100,
            "a row that survives keeps its first sight"
        );
        assert_eq!(set.expired(15_000).len(), 2);
        assert_eq!(set.expired(14_999).len(), 0);
    }

    /// Regression: ids are 32-bit hashes; two live connections can share one.
    #[test]
    fn connections_sharing_an_id_are_both_kept_and_removed_by_tuple() {
        let mut set = RowSet::new(loopback_hidden());
        let (a, b, c) = (
            conn(7, "192.0.2.1"),
            conn(7, "192.0.2.2"),
            conn(7, "192.0.2.3"),
        );
        for x in [&a, &b, &c] {
            assert!(set.upsert(x.clone(), 0, 0));
        }
        assert!(
            set.upsert(b.clone(), 5000, 5),
            "an update of the second replaces it"
        );
        assert_eq!(set.len(), 3);
        assert!(
            set.remove(&a.key(), EndReason::Event),
            "removing the first promotes another"
        );
        assert!(!set.remove(&a.key(), EndReason::Event));
        assert_eq!(set.len(), 2);
        assert!(set.apply(event(EventKind::Destroy, c.clone()), 0, 0));
        let left: Vec<&Row> = set.rows().collect();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].orig(), b.orig);
        assert!(set.remove(&b.key(), EndReason::Event));
        assert!(set.is_empty());
        let (added, removed) = set.replace(vec![a.clone(), b.clone(), c.clone()], 0, 0);
        assert_eq!((added, removed, set.len()), (3, 0, 3));
        let (added, removed) = set.replace(vec![b], 0, 0);
        assert_eq!((added, removed, set.len()), (0, 2, 1));
    }

    /// The rate a view serves for a row follows the counter
    /// samples (targeted lookups of a watched row) the test feeds in: bytes
    /// over the interval since the last sample, and samples under 1 s apart
    /// keep the previous rate.
    #[test]
    fn served_rate_follows_a_controlled_counter_sequence() {
        use crate::query::{render, run, Context, Filter, Order};
        use ctnetlink::Counters;
        let counted = |orig: u64, repl: u64| {
            let mut c = conn(9, "192.0.2.9");
            c.timeout = 100;
            c.counters = Some(Counters {
                orig_bytes: orig,
                repl_bytes: repl,
                ..Counters::default()
            });
            c
        };
        let served = |set: &RowSet, now: u64| {
            let snap = set.snapshot(now, SystemTime::now());
            let ctx = Context::at(&snap);
            let page = run(&snap, &Filter::default(), &Order::default(), 0, 10, &ctx);
            render(&page.rows[0], &ctx).rate
        };
        let mut set = RowSet::new(loopback_hidden());
        // (mirror ms, orig bytes, reply bytes, rate served after it)
        let sequence = [
            (0, 0, 0, 0.0),
            (1_000, 150_000, 50_000, 200_000.0),
            (2_000, 300_000, 100_000, 200_000.0),
            (2_500, 900_000, 100_000, 200_000.0), // too close: kept
            (4_000, 1_000_000, 200_000, 400_000.0), // 800 kB over 2 s
            (5_000, 1_000_000, 200_000, 0.0),     // idle
        ];
        for (at, orig, repl, rate) in sequence {
            set.upsert(counted(orig, repl), at, 1_700_000_000);
            assert_eq!(served(&set, at), rate, "at {at} ms");
        }
    }

    /// A published snapshot stays exactly as it was while another
    /// thread applies events to the rows it came from.
    #[test]
    fn snapshots_are_isolated_from_concurrent_events() {
        use crate::query::{render, run, Connection, Context, Filter, Order};
        use crate::Snapshot;
        let mut set = RowSet::new(loopback_hidden());
        for i in 0..2000u32 {
            set.upsert(conn(i, &format!("10.0.{}.{}", i / 256, i % 256)), 0, 0);
        }
        let snap = set.snapshot(0, SystemTime::UNIX_EPOCH);
        let read = |snap: &Snapshot| -> (usize, Vec<Connection>) {
            let ctx = Context::at(snap);
            let order = Order::parse("orig_src", "DESC").unwrap();
            let page = run(snap, &Filter::default(), &order, 100, 500, &ctx);
            (
                page.total,
                page.rows.iter().map(|r| render(r, &ctx)).collect(),
            )
        };
        let before = read(&snap);
        let writer = std::thread::spawn(move || {
            for round in 0..20u32 {
                for i in 0..2000u32 {
                    let c = conn(i, &format!("10.0.{}.{}", i / 256, i % 256));
                    let kind = match (i + round) % 3 {
                        0 => EventKind::Destroy,
                        1 => EventKind::Update,
                        _ => EventKind::New,
                    };
                    let mut c2 = c.clone();
                    c2.mark = round;
                    set.apply(event(kind, c2), u64::from(round) * 1000, 0);
                }
                set.upsert(conn(100_000 + round, "10.9.9.9"), 0, 0);
            }
            set.len()
        });
        let mut reads = 0;
        while !writer.is_finished() || reads < 5 {
            assert_eq!(read(&snap), before);
            reads += 1;
        }
        let after = writer.join().unwrap();
        assert_eq!(read(&snap), before);
        assert_eq!(snap.len(), 2000);
        assert_ne!(after, 0);
    }

    /// Writes down what the rows tell their observer.
    #[derive(Default)]
    struct Notes(std::sync::Mutex<Vec<String>>);

    impl crate::FlowObserver for Notes {
        fn began(&self, row: &Row) {
            self.0.lock().unwrap().push(format!("began {}", row.id()));
        }
        fn ended(&self, row: &Row, last: Option<&Conn>, reason: EndReason) {
            let how = if last.is_some() {
                " with last view"
            } else {
                ""
            };
            let line = format!("ended {} by {}{how}", row.id(), reason.name());
            self.0.lock().unwrap().push(line);
        }
        fn reconciled(&self, rows: &mut dyn Iterator<Item = &Row>) {
            let mut ids: Vec<u32> = rows.map(|row| row.id()).collect();
            ids.sort_unstable();
            self.0.lock().unwrap().push(format!("reconciled {ids:?}"));
        }
    }

    #[test]
    fn every_ended_row_is_reported_once_with_how_its_end_was_found() {
        let notes = Arc::new(Notes::default());
        let mut set = RowSet::new(loopback_hidden());
        set.set_observer(Some(Arc::clone(&notes) as Observer));
        for (id, src) in [
            (1, "192.0.2.1"),
            (2, "192.0.2.2"),
            (3, "192.0.2.3"),
            (4, "192.0.2.4"),
        ] {
            set.upsert(conn(id, src), 0, 0);
        }
        // An update of a known row is no new beginning.
        set.upsert(conn(1, "192.0.2.1"), 5, 0);
        assert!(set.apply(event(EventKind::Destroy, conn(1, "192.0.2.1")), 0, 0));
        assert!(!set.apply(event(EventKind::Destroy, conn(1, "192.0.2.1")), 0, 0));
        assert!(set.remove(&conn(2, "192.0.2.2").key(), EndReason::Timeout));
        // 3 is missing from the dump; 4 becomes hidden, which is no end; 5
        // is new, and listed twice.
        set.set_hidden(Arc::new(|c: &Conn| c.id == 4));
        let five = conn(5, "192.0.2.5");
        set.replace(vec![conn(4, "192.0.2.4"), five.clone(), five], 0, 0);
        assert_eq!(
            *notes.0.lock().unwrap(),
            vec![
                "began 1",
                "began 2",
                "began 3",
                "began 4",
                "ended 1 by event with last view",
                "ended 2 by timeout",
                "began 5",
                "ended 3 by reconciliation",
                "reconciled [5]",
            ]
        );
    }

    #[test]
    fn a_row_whose_destroy_event_is_still_coming_outlives_the_dump_and_ends_by_it() {
        let notes = Arc::new(Notes::default());
        let mut set = RowSet::new(loopback_hidden());
        set.set_observer(Some(Arc::clone(&notes) as Observer));
        let (waiting, gone) = (conn(1, "192.0.2.1"), conn(2, "192.0.2.2"));
        set.upsert(waiting.clone(), 0, 0);
        set.upsert(gone, 0, 0);
        // Neither is in the dump; the kernel still holds 1 for its event.
        let ending: HashSet<ConnKey> = [waiting.key()].into();
        let filled: Result<_, std::convert::Infallible> =
            set.replace_with_ending(0, 0, |_| Ok(ending));
        assert_eq!(filled.unwrap(), (0, 1));
        assert_eq!(set.len(), 1);
        assert!(set.apply(event(EventKind::Destroy, waiting), 0, 0));
        assert_eq!(
            *notes.0.lock().unwrap(),
            vec![
                "began 1",
                "began 2",
                "ended 2 by reconciliation",
                "reconciled [1]",
                "ended 1 by event with last view",
            ]
        );
    }

    #[test]
    fn a_destroy_for_a_connection_never_held_is_an_end_but_one_already_told_is_not() {
        let notes = Arc::new(Notes::default());
        let mut set = RowSet::new(loopback_hidden());
        set.set_observer(Some(Arc::clone(&notes) as Observer));
        let (dumped_out, killed, unseen) = (
            conn(1, "192.0.2.1"),
            conn(2, "192.0.2.2"),
            conn(3, "192.0.2.3"),
        );
        set.upsert(dumped_out.clone(), 0, 0);
        set.upsert(killed.clone(), 0, 0);
        set.replace(vec![killed.clone()], 0, 0); // 1 ends by the dump
        set.remove(&killed.key(), EndReason::Event); // a kill, event unread
        for late in [dumped_out, killed, unseen.clone(), unseen] {
            set.apply(event(EventKind::Destroy, late), 0, 0);
        }
        set.apply(event(EventKind::Destroy, conn(4, "127.0.0.1")), 0, 0);
        assert_eq!(
            *notes.0.lock().unwrap(),
            vec![
                "began 1",
                "began 2",
                "ended 1 by reconciliation",
                "reconciled [2]",
                "ended 2 by event",
                "ended 3 by event with last view",
            ]
        );
    }
}
