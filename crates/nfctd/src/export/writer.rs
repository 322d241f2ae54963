//! The export thread: takes records from the spool and writes them as JSON
//! lines, flushing whenever the spool runs empty.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};

use super::{EndRecord, ExportCounters, ExportError, Target};

/// Opens the target (a file in append mode, created if missing).
pub(super) fn open(target: &Target) -> Result<Box<dyn Write + Send>, ExportError> {
    match target {
        Target::Stdout => Ok(Box::new(std::io::stdout())),
        Target::File(path) => OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(|f| Box::new(f) as Box<dyn Write + Send>)
            .map_err(|source| ExportError::Open {
                path: path.clone(),
                source,
            }),
    }
}

/// Writes records until every sender is gone.
pub(super) fn run(
    spool: Receiver<EndRecord>,
    out: Box<dyn Write + Send>,
    counters: &ExportCounters,
) {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    // Records written into the buffer but not yet flushed.
    let mut buffered = 0u64;
    let mut failing = false;
    let mut line = Vec::with_capacity(512);
    loop {
        let record = match spool.try_recv() {
            Ok(record) => record,
            Err(TryRecvError::Empty) => {
                flush(&mut out, &mut buffered, counters, &mut failing);
                match spool.recv() {
                    Ok(record) => record,
                    Err(_) => return,
                }
            }
            Err(TryRecvError::Disconnected) => {
                flush(&mut out, &mut buffered, counters, &mut failing);
                return;
            }
        };
        line.clear();
        if serde_json::to_writer(&mut line, &record).is_err() {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        line.push(b'\n');
        match out.write_all(&line) {
            Ok(()) => buffered += 1,
            Err(e) => {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
                report(&e, &mut failing);
            }
        }
    }
}

/// Flushes; the records buffered count as written once the flush succeeds.
fn flush(
    out: &mut BufWriter<Box<dyn Write + Send>>,
    buffered: &mut u64,
    counters: &ExportCounters,
    failing: &mut bool,
) {
    if *buffered == 0 {
        return;
    }
    match out.flush() {
        Ok(()) => {
            counters.records.fetch_add(*buffered, Ordering::Relaxed);
            *failing = false;
        }
        Err(e) => {
            counters.dropped.fetch_add(*buffered, Ordering::Relaxed);
            report(&e, failing);
        }
    }
    *buffered = 0;
}

/// Logs the first failure of a run of them.
fn report(error: &std::io::Error, failing: &mut bool) {
    if !*failing {
        tracing::warn!(error = %error, "writing export records failed; they are counted as dropped");
    }
    *failing = true;
}
