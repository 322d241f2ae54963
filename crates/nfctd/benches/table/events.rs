//! Backlogs of conntrack events drained with the mirror thread's own `drain_events`.

use std::collections::HashSet;
use std::time::Instant;

use ctnetlink::{ConnKey, CtSocket, EventSocket};
use nfctd_table::{drain_events, Clock, RowSet};

use crate::{common, unix_now};

#[derive(Default)]
pub struct EventRun {
    pub new: usize,
    pub destroyed: usize,
    pub updated: usize,
    pub malformed: usize,
    pub seconds: f64,
    pub backlogs: usize,
    pub batch: usize,
    pub rcvbuf: usize,
}

impl EventRun {
    pub fn total(&self) -> usize {
        self.new + self.destroyed + self.updated
    }
}

/// Builds backlogs of events on a subscribed socket without reading (create a batch of
/// entries, later delete them) and times draining each backlog with the mirror thread's
/// own `drain_events`,
/// until `target` events were drained. The batch fits the receive buffer the kernel
/// granted: SO_RCVBUFFORCE needs CAP_NET_ADMIN in the initial namespace, so inside a
/// private one the buffer stops at net.core.rmem_max (doubled). Halves on overflow.
pub fn event_backlogs(
    ct: &mut CtSocket,
    rows: &mut RowSet,
    clock: &Clock,
    n: usize,
    max: usize,
    target: usize,
) -> Result<EventRun, String> {
    let mut events = EventSocket::subscribe(256 << 20).map_err(|e| e.to_string())?;
    let rcvbuf = socket2::SockRef::from(&events)
        .recv_buffer_size()
        .map_err(|e| e.to_string())?;
    // About 1 KiB of buffer per event (skb overhead included), with a safety margin.
    let mut batch = (rcvbuf / 2048)
        .min(target / 2)
        .min(max.saturating_sub(n + 1000));
    let pool: Vec<_> = common::synthetic(n + batch).split_off(n);
    let mut run = EventRun {
        rcvbuf,
        ..EventRun::default()
    };
    while run.total() < target {
        if batch < 100 {
            return Err(format!("overflowed even with {batch}-entry batches"));
        }
        let extra = &pool[..batch];
        let (refused, first) = ct.create_many(extra).map_err(|e| e.to_string())?;
        if refused > 0 {
            return Err(format!("{refused} extra entries refused: {first:?}"));
        }
        let wanted: HashSet<_> = extra
            .iter()
            .map(|c| (c.family, c.l4proto, c.orig))
            .collect();
        let created = drain(&mut events, rows, clock, &mut run);
        let deleted = match created {
            Ok(()) => {
                // Untimed: the kernel's ids of the new entries, from the rows they made.
                let keys: Vec<ConnKey> = rows
                    .snapshot(0, std::time::SystemTime::now())
                    .iter()
                    .filter(|r| wanted.contains(&(r.family(), r.l4proto(), r.orig())))
                    .map(|r| r.key())
                    .collect();
                let (failed, first) = ct.delete_many(&keys).map_err(|e| e.to_string())?;
                if failed > 0 {
                    return Err(format!("{failed} deletes refused: {first:?}"));
                }
                drain(&mut events, rows, clock, &mut run)
            }
            Err(e) => Err(e),
        };
        run.backlogs += 2;
        run.batch = run.batch.max(batch);
        if let Err(e) = deleted {
            println!("events: {e} with a batch of {batch}; halving the batch");
            batch /= 2;
            // Remove what is left of the batch (by tuple: 32-bit ids may collide) and
            // settle the rows the lost events left behind.
            let dump = ct.dump_all().map_err(|e| e.to_string())?;
            let left: Vec<ConnKey> = dump
                .iter()
                .filter(|c| wanted.contains(&(c.family, c.l4proto, c.orig)))
                .map(|c| c.key())
                .collect();
            ct.delete_many(&left).map_err(|e| e.to_string())?;
            rows.replace(
                ct.dump_all().map_err(|e| e.to_string())?,
                clock.now(),
                unix_now(),
            );
            while matches!(events.recv(|_| {}), Ok(n) if n > 0) {}
        }
    }
    Ok(run)
}

/// Reads every waiting event into `rows` (timed into `run`), batch by batch, with the
/// function the mirror's thread runs.
fn drain(
    events: &mut EventSocket,
    rows: &mut RowSet,
    clock: &Clock,
    run: &mut EventRun,
) -> Result<(), String> {
    let start = Instant::now();
    let result = loop {
        match drain_events(events, rows, clock) {
            Ok(batch) => {
                run.new += batch.new;
                run.destroyed += batch.destroyed;
                run.updated += batch.updated;
                run.malformed += batch.malformed;
                if !batch.full() {
                    break Ok(());
                }
            }
            Err(e) => break Err(e.to_string()),
        }
    };
    run.seconds += start.elapsed().as_secs_f64();
    result
}
