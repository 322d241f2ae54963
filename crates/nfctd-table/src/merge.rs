//! How one kernel observation of a connection updates its mirrored row:
//! deadline, start time and byte rate. Pure; the mirror calls it.

use std::sync::Arc;

use ctnetlink::Conn;

use super::row::{Millis, Row};

/// Counter samples closer together than this do not replace the rate: a dump
/// right after an event would otherwise give a wild rate from a tiny interval.
pub const MIN_RATE_INTERVAL: Millis = 1000;

/// A deadline this close to the previous one is the same deadline seen again
/// (the kernel reports whole seconds left).
const DEADLINE_SLACK: Millis = 2000;

/// The row for `conn` observed at mirror time `now` (wall time `now_unix`),
/// carrying over what only earlier observations know. When the observation
/// tells nothing new (an idle connection seen by another dump), the previous
/// row itself is returned: snapshots then share it instead of each holding a
/// copy, and nothing needs publishing.
pub fn observe(previous: Option<&Arc<Row>>, conn: Conn, now: Millis, now_unix: u64) -> Arc<Row> {
    let row = merge(previous, conn, now, now_unix);
    match previous {
        Some(prev) if same_news(prev, &row) => Arc::clone(prev),
        _ => Arc::new(row),
    }
}

/// Whether `new` says nothing that `prev` did not: same kernel fields but the
/// seconds left, the same deadline within the slack, and no traffic since.
fn same_news(prev: &Row, new: &Row) -> bool {
    new.deadline.abs_diff(prev.deadline) <= DEADLINE_SLACK
        && new.rate == prev.rate
        && new.sampled_bytes == prev.sampled_bytes
        && new.started_unix == prev.started_unix
        && Conn {
            timeout: prev.conn.timeout,
            ..new.conn.clone()
        } == prev.conn
}

fn merge(previous: Option<&Arc<Row>>, mut conn: Conn, now: Millis, now_unix: u64) -> Row {
    let deadline = now.saturating_add(u64::from(conn.timeout) * 1000);
    let Some(prev) = previous else {
        let bytes = conn.counters.map(|c| c.total_bytes()).unwrap_or(0);
        let started_unix = conn
            .start_ns
            .map(|ns| ns.get() / 1_000_000_000)
            .unwrap_or(now_unix);
        return Row {
            conn,
            deadline,
            started_unix,
            rate: 0.0,
            sampled_bytes: bytes,
            sampled_at: now,
        };
    };
    // Events carry counters, timestamps and the protocol state only sometimes
    // (the state only when it changed): keep what we knew.
    if conn.proto_state.is_none() {
        conn.proto_state = prev.conn.proto_state;
    }
    if conn.counters.is_none() {
        conn.counters = prev.conn.counters;
    }
    if conn.start_ns.is_none() {
        conn.start_ns = prev.conn.start_ns;
    }
    let started_unix = conn
        .start_ns
        .map(|ns| ns.get() / 1_000_000_000)
        .unwrap_or(prev.started_unix);
    let bytes = conn.counters.map(|c| c.total_bytes()).unwrap_or(0);
    let elapsed = now.saturating_sub(prev.sampled_at);
    let (rate, sampled_bytes, sampled_at) = if elapsed >= MIN_RATE_INTERVAL {
        let delta = bytes.saturating_sub(prev.sampled_bytes) as f64;
        (delta * 1000.0 / elapsed as f64, bytes, now)
    } else {
        (prev.rate, prev.sampled_bytes, prev.sampled_at)
    };
    Row {
        conn,
        deadline,
        started_unix,
        rate,
        sampled_bytes,
        sampled_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctnetlink::{Counters, Family, Tuple};

    fn conn(bytes: u64, timeout: u32) -> Conn {
        let mut c = Conn::new(1, Family::Ipv4, 6, Tuple::default(), Tuple::default());
        c.timeout = timeout;
        c.counters = Some(Counters {
            orig_bytes: bytes,
            ..Counters::default()
        });
        c
    }

    #[test]
    fn rate_is_bytes_per_second_over_the_observed_interval() {
        let first = observe(None, conn(1000, 60), 10_000, 100);
        assert_eq!(first.rate, 0.0);
        assert_eq!(first.deadline, 70_000);
        let second = observe(Some(&first), conn(5000, 50), 12_000, 102);
        assert_eq!(second.rate, 2000.0);
        assert_eq!(second.started_unix, 100);
    }

    #[test]
    fn close_samples_keep_the_previous_rate_and_missing_counters_are_kept() {
        let first = observe(None, conn(1000, 60), 10_000, 100);
        let second = observe(Some(&first), conn(9000, 60), 13_000, 103);
        let mut without = conn(0, 30);
        without.counters = None;
        let third = observe(Some(&second), without, 13_100, 103);
        assert_eq!(third.rate, second.rate);
        assert_eq!(third.conn.counters, second.conn.counters);
    }

    /// Regression: the kernel sends the state only when it changed, so an
    /// event for a mark change must not wipe it.
    #[test]
    fn an_event_without_state_keeps_the_known_state() {
        let mut established = conn(0, 60);
        established.proto_state = Some(3);
        let first = observe(None, established, 0, 0);
        let mut marked = conn(0, 60);
        marked.mark = 42;
        let second = observe(Some(&first), marked, 500, 0);
        assert_eq!((second.conn.proto_state, second.conn.mark), (Some(3), 42));
    }

    #[test]
    fn seeing_an_idle_connection_again_shares_its_row() {
        let first = observe(None, conn(1000, 60), 10_000, 100);
        // 5 s later the kernel says 55 s left: the same deadline, no traffic.
        let again = observe(Some(&first), conn(1000, 55), 15_000, 105);
        assert!(Arc::ptr_eq(&first, &again));
        // Traffic, a refreshed timeout or a new mark each make a new row.
        assert!(!Arc::ptr_eq(
            &first,
            &observe(Some(&first), conn(2000, 55), 15_000, 105)
        ));
        assert!(!Arc::ptr_eq(
            &first,
            &observe(Some(&first), conn(1000, 60), 15_000, 105)
        ));
        let mut marked = conn(1000, 55);
        marked.mark = 1;
        assert!(!Arc::ptr_eq(
            &first,
            &observe(Some(&first), marked, 15_000, 105)
        ));
    }

    #[test]
    fn kernel_start_timestamp_wins_over_first_sight() {
        let mut c = conn(0, 10);
        c.start_ns = std::num::NonZeroU64::new(50 * 1_000_000_000);
        assert_eq!(observe(None, c, 0, 100).started_unix, 50);
    }
}
