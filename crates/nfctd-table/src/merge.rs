//! How one kernel observation of a connection updates its mirrored row:
//! deadline, start time and byte rate. Pure; the mirror calls it.

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
/// tells nothing new (an idle connection seen by another dump), `None`: the
/// previous row stays as it is, so nothing is written, no chunk a snapshot
/// shares is copied, and nothing needs publishing.
pub fn observe(previous: Option<&Row>, conn: Conn, now: Millis, now_unix: u64) -> Option<Row> {
    let mut row = merge(previous, conn, now, now_unix);
    match previous {
        Some(prev) if row.deadline().abs_diff(prev.deadline()) <= DEADLINE_SLACK => {
            // The same news but the seconds left and the sample time (the
            // rate and sampled bytes did not move): every other field equal.
            let times = row.times();
            row.set_times(prev.times());
            if row == *prev {
                return None;
            }
            row.set_times(times);
            Some(row)
        }
        _ => Some(row),
    }
}

/// [`observe`] of a connection the mirror holds no row for.
pub fn first_sight(conn: Conn, now: Millis, now_unix: u64) -> Row {
    merge(None, conn, now, now_unix)
}

fn merge(previous: Option<&Row>, mut conn: Conn, now: Millis, now_unix: u64) -> Row {
    let deadline = now.saturating_add(u64::from(conn.timeout) * 1000);
    let Some(prev) = previous else {
        let bytes = conn.counters.map(|c| c.total_bytes()).unwrap_or(0);
        let started_unix = conn
            .start_ns
            .map(|ns| ns.get() / 1_000_000_000)
            .unwrap_or(now_unix);
        return Row::observed(&conn, deadline, started_unix, 0.0, (bytes, now));
    };
    // Events carry counters, timestamps and the protocol state only sometimes
    // (the state only when it changed): keep what we knew.
    if conn.proto_state.is_none() {
        conn.proto_state = prev.proto_state();
    }
    if conn.counters.is_none() {
        conn.counters = prev.counters();
    }
    if conn.start_ns.is_none() {
        conn.start_ns = prev.start_ns();
    }
    let started_unix = conn
        .start_ns
        .map(|ns| ns.get() / 1_000_000_000)
        .unwrap_or(prev.started_unix());
    let bytes = conn.counters.map(|c| c.total_bytes()).unwrap_or(0);
    let (prev_bytes, prev_at) = prev.sampled();
    let elapsed = now.saturating_sub(prev_at);
    let (rate, sampled) = if elapsed >= MIN_RATE_INTERVAL {
        let delta = bytes.saturating_sub(prev_bytes) as f64;
        (delta * 1000.0 / elapsed as f64, (bytes, now))
    } else {
        (prev.rate(), (prev_bytes, prev_at))
    };
    Row::observed(&conn, deadline, started_unix, rate, sampled)
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
        let first = first_sight(conn(1000, 60), 10_000, 100);
        assert_eq!(first.rate(), 0.0);
        assert_eq!(first.deadline(), 70_000);
        let second = observe(Some(&first), conn(5000, 50), 12_000, 102).unwrap();
        assert_eq!(second.rate(), 2000.0);
        assert_eq!(second.started_unix(), 100);
    }

    #[test]
    fn close_samples_keep_the_previous_rate_and_missing_counters_are_kept() {
        let first = first_sight(conn(1000, 60), 10_000, 100);
        let second = observe(Some(&first), conn(9000, 60), 13_000, 103).unwrap();
        let mut without = conn(0, 30);
        without.counters = None;
        let third = observe(Some(&second), without, 13_100, 103).unwrap();
        assert_eq!(third.rate(), second.rate());
        assert_eq!(third.counters(), second.counters());
    }

    /// Regression: the kernel sends the state only when it changed, so an
    /// event for a mark change must not wipe it.
    #[test]
    fn an_event_without_state_keeps_the_known_state() {
        let mut established = conn(0, 60);
        established.proto_state = Some(3);
        let first = first_sight(established, 0, 0);
        let mut marked = conn(0, 60);
        marked.mark = 42;
        let second = observe(Some(&first), marked, 500, 0).unwrap();
        assert_eq!((second.proto_state(), second.mark()), (Some(3), 42));
    }

    #[test]
    fn seeing_an_idle_connection_again_shares_its_row() {
        let first = first_sight(conn(1000, 60), 10_000, 100);
        // 5 s later the kernel says 55 s left: the same deadline, no traffic.
        assert_eq!(observe(Some(&first), conn(1000, 55), 15_000, 105), None);
        // Traffic, a refreshed timeout or a new mark each make a new row.
        assert!(observe(Some(&first), conn(2000, 55), 15_000, 105).is_some());
        assert!(observe(Some(&first), conn(1000, 60), 15_000, 105).is_some());
        let mut marked = conn(1000, 55);
        marked.mark = 1;
        assert!(observe(Some(&first), marked, 15_000, 105).is_some());
    }

    #[test]
    fn kernel_start_timestamp_wins_over_first_sight() {
        let mut c = conn(0, 10);
        c.start_ns = std::num::NonZeroU64::new(50 * 1_000_000_000);
        assert_eq!(first_sight(c, 0, 100).started_unix(), 50);
    }
}
