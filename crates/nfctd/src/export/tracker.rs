//! What turns the mirror's news into records: the [`FlowObserver`] export
//! hands the mirror. It numbers records (`seq`), keeps what each long flow
//! reported last so interim and end records carry deltas, decides which
//! connections get NAT events, and offers every record to each target's spool.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ctnetlink::{Conn, ConnKey, Family};

use super::record::{counters_of, start_millis, Counts, FlowRecord, RecordKind};
use super::spool::SpoolSender;
use nfctd_table::{unix_millis, EndReason, FlowObserver, Row};

/// Records made so far, by kind, for `/metrics`.
#[derive(Debug, Default)]
pub struct RecordCounters {
    /// End records by how the end was found: event, reconciliation, timeout.
    pub ends: [AtomicU64; 3],
    pub interim: AtomicU64,
    pub nat_events: AtomicU64,
}

impl RecordCounters {
    pub fn ends_found_by(&self, reason: EndReason) -> u64 {
        self.ends[reason_index(reason)].load(Ordering::Relaxed)
    }
}

fn reason_index(reason: EndReason) -> usize {
    match reason {
        EndReason::Event => 0,
        EndReason::Reconciliation => 1,
        EndReason::Timeout => 2,
    }
}

/// What a long flow's last record reported up to.
#[derive(Debug, Clone, Copy)]
struct Reported {
    /// Unix milliseconds of that record.
    at_ms: u64,
    counts: Counts,
}

pub(super) struct Tracker {
    seq: AtomicU64,
    /// Interim records' period, ms; `None`: end records only.
    active_timeout_ms: Option<u64>,
    nat_events: bool,
    /// Flows that had an interim record. Only the mirror's thread touches
    /// it; the lock only satisfies `Sync`.
    reported: Mutex<HashMap<ConnKey, Reported>>,
    outputs: Vec<SpoolSender>,
    counters: Arc<RecordCounters>,
}

impl Tracker {
    pub(super) fn new(
        active_timeout_ms: Option<u64>,
        nat_events: bool,
        outputs: Vec<SpoolSender>,
        counters: Arc<RecordCounters>,
    ) -> Tracker {
        Tracker {
            seq: AtomicU64::new(0),
            active_timeout_ms,
            nat_events,
            reported: Mutex::default(),
            outputs,
            counters,
        }
    }

    /// Numbers `record` and offers it to every target; returns whether
    /// one took it (a full spool counts its drop).
    fn emit(&self, mut record: FlowRecord) -> bool {
        record.seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let record = Arc::new(record);
        let mut taken = false;
        for output in &self.outputs {
            taken |= output.offer(Arc::clone(&record));
        }
        taken
    }

    /// The NAT event `kind` for `row` if export asks for them and the
    /// connection is NAT44 (RFC 8158 has no NAT66 events; IPv6 NAT shows in
    /// the flow records' post-NAT fields).
    fn nat_event(&self, kind: RecordKind, row: &Row, last: Option<&Conn>, at_ms: u64) {
        if !self.nat_events || row.family() != Family::Ipv4 {
            return;
        }
        let record = FlowRecord::new(kind, row, last, None, at_ms);
        if record.is_nat() {
            self.counters.nat_events.fetch_add(1, Ordering::Relaxed);
            self.emit(record);
        }
    }

    fn reported(&self) -> std::sync::MutexGuard<'_, HashMap<ConnKey, Reported>> {
        self.reported.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl FlowObserver for Tracker {
    fn began(&self, row: &Row) {
        self.nat_event(RecordKind::NatCreate, row, None, start_millis(row));
    }

    fn ended(&self, row: &Row, last: Option<&Conn>, reason: EndReason) {
        let now = unix_millis();
        let total = counters_of(row, last).unwrap_or_default();
        let before = self.reported().remove(&row.key());
        let counts = before.map_or(total, |b| total.since(b.counts));
        self.counters.ends[reason_index(reason)].fetch_add(1, Ordering::Relaxed);
        let mut record = FlowRecord::end(row, last, reason, counts, now);
        record.counts_since_ms = before.map(|b| b.at_ms);
        self.emit(record);
        self.nat_event(RecordKind::NatDelete, row, last, now);
    }

    fn reconciled(&self, rows: &mut dyn Iterator<Item = &Row>) {
        let Some(period) = self.active_timeout_ms else {
            return;
        };
        let now = unix_millis();
        let mut before = std::mem::take(&mut *self.reported());
        let mut after = HashMap::with_capacity(before.len());
        for row in rows {
            let started = start_millis(row);
            let key = row.key();
            if now.saturating_sub(started) < period {
                // Young, or the clock stepped back: not due; a report it
                // had stays, or the end would repeat what it counted.
                if let Some(last) = before.remove(&key) {
                    after.insert(key, last);
                }
                continue;
            }
            let last = before.remove(&key);
            let due = now.saturating_sub(last.map_or(started, |r| r.at_ms)) >= period;
            let Some(counts) = counters_of(row, None).filter(|_| due) else {
                if let Some(last) = last {
                    after.insert(key, last);
                }
                continue;
            };
            let delta = counts.since(last.map_or(Counts::default(), |r| r.counts));
            // An idle flow's period passes without a record, as in NetFlow
            // caches: only flows that moved are reported.
            if delta.is_zero() {
                after.insert(key, Reported { at_ms: now, counts });
                continue;
            }
            self.counters.interim.fetch_add(1, Ordering::Relaxed);
            let mut record = FlowRecord::new(RecordKind::Interim, row, None, Some(delta), now);
            record.counts_since_ms = last.map(|r| r.at_ms);
            if self.emit(record) {
                after.insert(key, Reported { at_ms: now, counts });
            } else if let Some(last) = last {
                // No target took it (spools full): the next record of this
                // flow carries these counts too, so the sums still hold.
                after.insert(key, last);
            }
        }
        // Flows reported before and now gone without an end (hidden by a new
        // --ignore list) are forgotten with `before`.
        *self.reported() = after;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::export::spool::{spool, Spool, TargetCounters};
    use ctnetlink::Counters;

    fn tracker(active_timeout_ms: Option<u64>, nat_events: bool) -> (Tracker, Spool) {
        let (tx, rx) = spool(64, Arc::new(TargetCounters::default()));
        let counters = Arc::new(RecordCounters::default());
        (
            Tracker::new(active_timeout_ms, nat_events, vec![tx], counters),
            rx,
        )
    }

    fn row(id: u32, bytes: u64, started_unix: u64) -> Row {
        let mut conn = Conn::flow(
            6,
            "10.0.0.2".parse().unwrap(),
            "198.51.100.7".parse().unwrap(),
            40000,
            443,
        );
        conn.id = id;
        conn.counters = Some(Counters {
            orig_packets: bytes / 100,
            orig_bytes: bytes,
            repl_packets: 1,
            repl_bytes: 60,
        });
        Row::fixture(conn, started_unix)
    }

    fn drain(spool: &Spool) -> Vec<Arc<FlowRecord>> {
        std::iter::from_fn(|| spool.try_recv().ok()).collect()
    }

    #[test]
    fn interim_and_end_records_carry_deltas_that_add_up_to_the_total() {
        let (tracker, out) = tracker(Some(60_000), false);
        let now_s = unix_millis() / 1000;
        let old = row(1, 1000, now_s - 3600);
        let young = row(2, 500, now_s);
        tracker.reconciled(&mut [&old, &young].into_iter());
        // Grown, but reported a moment ago: not due again yet.
        let grown = row(1, 5000, now_s - 3600);
        tracker.reconciled(&mut std::iter::once(&grown));
        tracker.ended(&grown, None, EndReason::Event);
        tracker.ended(&young, None, EndReason::Reconciliation);
        let records = drain(&out);
        let kinds: Vec<_> = records.iter().map(|r| (r.seq, r.kind, r.id)).collect();
        assert_eq!(
            kinds,
            vec![
                (1, RecordKind::Interim, 1),
                (2, RecordKind::End, 1),
                (3, RecordKind::End, 2)
            ]
        );
        let bytes: Vec<u64> = records
            .iter()
            .map(|r| r.counts.unwrap().orig_bytes)
            .collect();
        assert_eq!(bytes, vec![1000, 4000, 500]);
        assert_eq!(records[1].counts.unwrap().reply_bytes, 0);
        assert_eq!(records[2].end_reason, Some(EndReason::Reconciliation));
        assert_eq!(tracker.counters.interim.load(Ordering::Relaxed), 1);
        assert_eq!(tracker.counters.ends_found_by(EndReason::Event), 1);
        assert!(tracker.reported().is_empty(), "an ended flow is forgotten");
    }

    #[test]
    fn without_an_active_timeout_only_ends_are_recorded() {
        let (tracker, out) = tracker(None, false);
        let old = row(1, 1000, 1);
        tracker.began(&old);
        tracker.reconciled(&mut std::iter::once(&old));
        assert!(drain(&out).is_empty());
    }

    #[test]
    fn nat_bindings_get_create_and_delete_events_around_the_end_record() {
        let (tracker, out) = tracker(None, true);
        let plain = row(1, 10, 1_700_000_000);
        let mut masqueraded = row(2, 10, 1_700_000_000);
        masqueraded.edit(|c| c.reply.dst = "203.0.113.1".parse().unwrap());
        tracker.began(&plain);
        tracker.began(&masqueraded);
        tracker.ended(&masqueraded, None, EndReason::Event);
        tracker.ended(&plain, None, EndReason::Event);
        let kinds: Vec<_> = drain(&out).iter().map(|r| (r.kind, r.id)).collect();
        assert_eq!(
            kinds,
            vec![
                (RecordKind::NatCreate, 2),
                (RecordKind::End, 2),
                (RecordKind::NatDelete, 2),
                (RecordKind::End, 1)
            ]
        );
    }

    #[test]
    fn a_full_spool_counts_drops_and_seq_shows_the_gap() {
        let (tx, rx) = spool(2, Arc::new(TargetCounters::default()));
        let tracker = Tracker::new(None, false, vec![tx], Arc::default());
        for id in 1..=5 {
            tracker.ended(&row(id, 1, 1), None, EndReason::Event);
        }
        assert_eq!(rx.counters().dropped.load(Ordering::Relaxed), 3);
        assert_eq!(rx.counters().spooled.load(Ordering::Relaxed), 2);
        let seqs: Vec<u64> = drain(&rx).iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![1, 2]);
        assert_eq!(rx.counters().spooled.load(Ordering::Relaxed), 0);
        tracker.ended(&row(9, 1, 1), None, EndReason::Event);
        assert_eq!(drain(&rx)[0].seq, 6);
    }

    #[test]
    fn a_record_after_an_interim_one_says_when_its_counts_begin() {
        let (tracker, out) = tracker(Some(60_000), false);
        let now_s = unix_millis() / 1000;
        let old = row(1, 1000, now_s - 3600);
        tracker.reconciled(&mut std::iter::once(&old));
        tracker.ended(&row(1, 3000, now_s - 3600), None, EndReason::Event);
        let records = drain(&out);
        assert_eq!(records[0].counts_since_ms, None, "counts from the start");
        assert_eq!(records[0].period_start_ms(), records[0].start_ms);
        assert_eq!(records[1].counts_since_ms, Some(records[0].end_ms));
        assert_eq!(records[1].period_start_ms(), records[0].end_ms);
        assert_eq!(records[1].start_ms, records[0].start_ms);
    }

    #[test]
    fn a_clock_step_back_keeps_what_a_flow_reported() {
        let (tracker, out) = tracker(Some(60_000), false);
        let now_s = unix_millis() / 1000;
        tracker.reconciled(&mut std::iter::once(&row(1, 1000, now_s - 3600)));
        // The same flow now looks young: its start is after "now".
        let stepped = row(1, 1500, now_s + 3600);
        tracker.reconciled(&mut std::iter::once(&stepped));
        tracker.ended(&stepped, None, EndReason::Event);
        let bytes: Vec<u64> = drain(&out)
            .iter()
            .map(|r| r.counts.unwrap().orig_bytes)
            .collect();
        assert_eq!(
            bytes,
            vec![1000, 500],
            "the end does not repeat the interim"
        );
    }

    #[test]
    fn an_interim_record_no_target_took_is_carried_by_the_next_record() {
        let (tx, rx) = spool(1, Arc::new(TargetCounters::default()));
        let tracker = Tracker::new(Some(60_000), false, vec![tx], Arc::default());
        let now_s = unix_millis() / 1000;
        tracker.ended(&row(9, 1, 1), None, EndReason::Event); // fills the spool
        tracker.reconciled(&mut std::iter::once(&row(1, 1000, now_s - 3600)));
        assert_eq!(rx.counters().dropped.load(Ordering::Relaxed), 1);
        drain(&rx);
        tracker.ended(&row(1, 1800, now_s - 3600), None, EndReason::Event);
        let end = &drain(&rx)[0];
        assert_eq!(
            end.counts.unwrap().orig_bytes,
            1800,
            "the lost interim's 1000 too"
        );
        assert_eq!(end.counts_since_ms, None);
    }
}
