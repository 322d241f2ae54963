//! The sender loop for a collector's socket. While the receiver is away or
//! slow it stops taking records, so they wait in the spool (which drops and
//! counts what does not fit); it reconnects after the pause of
//! `export::backoff`, warns once per outage (a connect that fails), and says
//! when the receiver is back. A record counts as sent once written without
//! error; the records of a write that failed are written again, whole, on
//! the next connection (so a receiver can see a record twice across a
//! reconnect, or the cut-off start of one line; never a gap).

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::backoff::{Backoff, Pauses, PAUSES};
use super::super::record::FlowRecord;
use super::super::spool::{Empty, Spool};
use super::stream::{Connector, Stream};

/// Records written per write call at most.
const BATCH_RECORDS: usize = 256;

/// How often an idle sender checks that the receiver is still there.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// The connection as the sender sees it. An outage begins when a connect
/// attempt fails, not when a connection ends: collectors close idle
/// connections (Filebeat after 5 minutes), and a reconnect that works at
/// once is no outage worth a warning (though one that ended before it
/// settled still costs a pause: see `export::backoff`).
struct Link {
    connector: Connector,
    backoff: Backoff,
    stream: Option<Stream>,
    /// Why the last connection ended, for the warning if reconnecting fails.
    ended: Option<String>,
    /// Whether the outage was reported (one warning per outage).
    away: bool,
    /// Whether a connection was ever made (the first one is not a return).
    ever: bool,
}

impl Link {
    /// Writes `bytes` on the connection, connecting first if need be.
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.connect();
        match self.stream.as_mut() {
            Some(stream) => stream.write_all(bytes),
            None => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }

    /// Returns once connected, trying as long as it takes.
    fn connect(&mut self) {
        if self.stream.as_ref().is_some_and(Stream::receiver_gone) {
            self.lost("the receiver closed the connection");
        }
        while self.stream.is_none() {
            self.backoff.sleep();
            match self.connector.connect() {
                Ok(stream) => {
                    let name = &self.connector.name;
                    if self.away {
                        tracing::info!(target = %name, "export receiver is back; sending the spooled records");
                    } else if !self.ever {
                        tracing::info!(target = %name, "export receiver connected");
                    } else {
                        tracing::debug!(target = %name, "export receiver reconnected");
                    }
                    (self.away, self.ever, self.ended) = (false, true, None);
                    self.backoff.connected(Instant::now());
                    self.stream = Some(stream);
                }
                Err(e) => {
                    if !self.away {
                        tracing::warn!(
                            target = %self.connector.name,
                            error = %e,
                            before = self.ended.as_deref().unwrap_or("-"),
                            "export receiver is away; records wait in the spool (beyond it they \
                             are dropped and counted); reconnecting every {} s at most",
                            self.backoff.longest().as_secs_f32()
                        );
                        self.away = true;
                    }
                    self.backoff.failed();
                }
            }
        }
    }

    /// Drops the connection; the next [`Link::connect`] makes a new one.
    fn lost(&mut self, why: impl std::fmt::Display) {
        tracing::debug!(target = %self.connector.name, error = %why, "export connection ended");
        self.ended = Some(why.to_string());
        self.stream = None;
        self.backoff.ended(Instant::now());
    }
}

/// Sends records until the mirror is gone.
pub(super) fn run(spool: Spool, connector: Connector) {
    run_with(spool, connector, PAUSES);
}

pub(super) fn run_with(spool: Spool, connector: Connector, pauses: Pauses) {
    let counters = spool.counters();
    let mut link = Link {
        connector,
        backoff: Backoff::new(pauses),
        stream: None,
        ended: None,
        away: false,
        ever: false,
    };
    // Connect at once, so an unreachable collector is logged at start.
    link.connect();
    // Records taken from the spool and not yet written without error.
    let mut pending: VecDeque<Arc<FlowRecord>> = VecDeque::with_capacity(BATCH_RECORDS);
    let mut bytes = Vec::with_capacity(BATCH_RECORDS * 512);
    loop {
        if pending.is_empty() {
            match spool.recv_timeout(IDLE_CHECK) {
                Ok(record) => pending.push_back(record),
                // Idle: notice a hang-up now, and be connected again before
                // the next record, rather than when it comes.
                Err(Empty::Now) => {
                    link.connect();
                    continue;
                }
                Err(Empty::Closed) => return,
            }
        }
        while pending.len() < BATCH_RECORDS {
            match spool.try_recv() {
                Ok(record) => pending.push_back(record),
                Err(Empty::Now | Empty::Closed) => break,
            }
        }
        bytes.clear();
        pending.retain(|record| {
            let start = bytes.len();
            if serde_json::to_writer(&mut bytes, &**record).is_ok() {
                bytes.push(b'\n');
                true
            } else {
                // Never expected (the record is plain data); skip it, counted.
                bytes.truncate(start);
                counters.add_dropped(1);
                false
            }
        });
        match link.write(&bytes) {
            Ok(()) => {
                counters.add_sent(pending.len() as u64);
                pending.clear();
            }
            // Kept in `pending`: written again on the next connection.
            Err(e) => link.lost(e),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::export::spool::{spool, TargetCounters};
    use crate::export::RecordKind;
    use std::io::{BufRead, BufReader};
    use std::os::unix::net::UnixListener;
    use std::sync::atomic::Ordering;

    const FAST: Pauses = Pauses {
        first: Duration::from_millis(20),
        most: Duration::from_millis(100),
        settled: Duration::from_millis(500),
    };

    fn record(seq: u64) -> Arc<FlowRecord> {
        let conn = ctnetlink::Conn::flow(
            17,
            "192.0.2.1".parse().unwrap(),
            "198.51.100.2".parse().unwrap(),
            5000,
            53,
        );
        let row = nfctd_table::Row::fixture(conn, 1_700_000_000);
        let mut record = FlowRecord::new(RecordKind::End, &row, None, None, 0);
        record.seq = seq;
        Arc::new(record)
    }

    /// Reads `n` lines from the next connection to `listener`; returns their `seq`s.
    fn receive(listener: &UnixListener, n: usize) -> Vec<u64> {
        let (peer, _) = listener.accept().unwrap();
        BufReader::new(peer)
            .lines()
            .take(n)
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
                value["seq"].as_u64().unwrap()
            })
            .collect()
    }

    #[test]
    fn records_made_while_the_receiver_is_away_wait_and_arrive_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flows.sock");
        let counters = Arc::new(TargetCounters::default());
        let (tx, rx) = spool(100, Arc::clone(&counters));
        let connector = Connector::unix(path.clone());
        let sender = std::thread::spawn(move || run_with(rx, connector, FAST));
        for seq in 1..=10 {
            tx.offer(record(seq));
        }
        std::thread::sleep(Duration::from_millis(150));
        let listener = UnixListener::bind(&path).unwrap();
        assert_eq!(receive(&listener, 10), (1..=10).collect::<Vec<_>>());
        // Counted once the write returned, which may be just after the read.
        let sent = || counters.sent.load(Ordering::Relaxed);
        for _ in 0..100 {
            if sent() == 10 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(sent(), 10);

        // The receiver hangs up while nothing is sent; the next records go
        // to its next connection, none lost.
        for seq in 11..=15 {
            tx.offer(record(seq));
        }
        assert_eq!(receive(&listener, 15 - 10), (11..=15).collect::<Vec<_>>());
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 0);
        drop(tx);
        sender.join().unwrap();
    }

    #[test]
    fn a_receiver_that_accepts_and_closes_at_once_is_reconnected_with_growing_pauses() {
        // Like a full Filebeat or haproxy without a backend: it once
        // connected, wrote, lost and reconnected with no pause at all.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let counters = Arc::new(TargetCounters::default());
        let (tx, rx) = spool(100_000, Arc::clone(&counters));
        let connector = Connector::tcp("127.0.0.1".into(), port);
        std::thread::spawn(move || run_with(rx, connector, PAUSES));
        let start = std::time::Instant::now();
        let (mut accepted, mut seq) = (0, 0);
        while start.elapsed() < Duration::from_secs(3) {
            if let Ok((peer, _)) = listener.accept() {
                accepted += 1;
                drop(peer);
            }
            seq += 1;
            tx.offer(record(seq));
            std::thread::sleep(Duration::from_millis(5));
        }
        // At 0, 1 and 3 s (pauses of 1, 2, 4 s).
        assert!((1..=4).contains(&accepted), "{accepted} connections in 3 s");
        // The sender thread is left to end with the test process: it may be
        // in a pause of seconds.
    }

    #[test]
    fn a_receiver_that_stops_reading_counts_as_away_and_the_next_connection_gets_the_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flows.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let counters = Arc::new(TargetCounters::default());
        const N: u64 = 5000;
        let (tx, rx) = spool(N as usize, Arc::clone(&counters));
        let connector =
            Connector::unix(path.clone()).with_write_timeout(Duration::from_millis(200));
        let sender = std::thread::spawn(move || run_with(rx, connector, FAST));
        // Accepted and never read: its buffer fills and a write times out.
        let (stuck, _) = listener.accept().unwrap();
        for seq in 1..=N {
            tx.offer(record(seq));
        }
        let (peer, _) = listener.accept().unwrap();
        let last = BufReader::new(peer)
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
                value["seq"].as_u64().unwrap()
            })
            .find(|seq| *seq == N);
        assert_eq!(
            last,
            Some(N),
            "the last record arrives on the new connection"
        );
        drop(stuck);
        drop(tx);
        sender.join().unwrap();
        // What the stuck connection's buffer held was counted as sent: no
        // stream without acknowledgements can tell it was never read.
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 0);
    }
}
