//! A table made of rows in place of the mirror: what the service forgets
//! and observes changes its rows at once, and it can be told to act as a
//! mirror still loading its first dump, or one whose thread stopped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use ctnetlink::{Conn, ConnKey};
use nfctd_table::{
    Clock, Loading, Millis, MirrorCounters, MirrorError, ResyncReport, Row, Snapshot,
};

use crate::service::Table;

/// Rows started this long before the table was made, in seconds.
const AGE: u64 = 60;

#[derive(Debug)]
pub struct Rows {
    clock: Clock,
    published: Mutex<Snapshot>,
    stopped: AtomicBool,
    loading: Mutex<Option<Loading>>,
    counters: MirrorCounters,
}

impl Rows {
    /// A live table of `conns`, each row counting its timeout down from now.
    pub fn new(conns: Vec<Conn>) -> Rows {
        let table = Rows {
            clock: Clock::new(),
            published: Mutex::new(Snapshot::empty()),
            stopped: AtomicBool::new(false),
            loading: Mutex::new(None),
            counters: MirrorCounters::default(),
        };
        let started = nfctd_table::unix_millis() / 1000 - AGE;
        let rows = conns
            .into_iter()
            .map(|conn| table.row(conn, started))
            .collect();
        table.publish(rows);
        table
    }

    /// From now on, acts as a mirror whose thread stopped: not live, every
    /// resync refused, forgets and observes lost, the last rows still served.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
    }

    /// From now on, acts as a mirror whose first dump has read `loaded` of
    /// `expected` entries (its rows are what was read); `None`: live again.
    pub fn set_loading(&self, loading: Option<(u64, u64)>) {
        *self.loading.lock().unwrap_or_else(|p| p.into_inner()) =
            loading.map(|(loaded, expected)| Loading { loaded, expected });
    }

    fn row(&self, conn: Conn, started_unix: u64) -> Row {
        let deadline = self.clock.now() + u64::from(conn.timeout) * 1000;
        Row::fixture(conn, started_unix).with_deadline(deadline)
    }

    fn lock(&self) -> MutexGuard<'_, Snapshot> {
        self.published.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, rows: Vec<Row>) {
        *self.lock() = Snapshot::from_rows(rows, self.clock.now(), SystemTime::now());
    }
}

impl Table for Rows {
    fn snapshot(&self) -> Snapshot {
        self.lock().clone()
    }

    fn now(&self) -> Millis {
        self.clock.now()
    }

    fn is_live(&self) -> bool {
        !self.stopped.load(Ordering::Acquire) && self.loading().is_none()
    }

    fn loading(&self) -> Option<Loading> {
        *self.loading.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn counters(&self) -> &MirrorCounters {
        &self.counters
    }

    fn resync(&self) -> Result<ResyncReport, MirrorError> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(MirrorError::Stopped);
        }
        let rows = self.snapshot().iter().cloned().collect::<Vec<_>>();
        let entries = rows.len();
        self.publish(rows);
        self.counters.resyncs.fetch_add(1, Ordering::Relaxed);
        Ok(ResyncReport {
            entries,
            added: 0,
            removed: 0,
        })
    }

    fn forget(&self, keys: Vec<ConnKey>) {
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        let mut rows = self.snapshot().iter().cloned().collect::<Vec<_>>();
        rows.retain(|r| !keys.iter().any(|key| r.is(key)));
        self.publish(rows);
    }

    /// The rows have no counters to keep fresh.
    fn watch(&self, _keys: Vec<ConnKey>) {}

    fn observe(&self, conns: Vec<Conn>) {
        if self.stopped.load(Ordering::Acquire) {
            return;
        }
        let mut rows = self.snapshot().iter().cloned().collect::<Vec<_>>();
        for conn in conns {
            match rows.iter_mut().find(|r| r.is(&conn.key())) {
                Some(row) => *row = self.row(conn, row.started_unix()),
                None => rows.push(self.row(conn, nfctd_table::unix_millis() / 1000)),
            }
        }
        self.publish(rows);
    }
}
