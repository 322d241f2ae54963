//! The sender loop for stdout and files: it takes records from the spool and
//! writes one JSON line each, flushing whenever the spool runs empty. A
//! failed write drops the record (counted): a file has no receiver to wait for.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::super::spool::{Empty, Spool, TargetCounters};
use super::super::ExportError;
use super::JsonTarget;

/// Opens `path` in append mode (created if missing), so a bad path stops the
/// start; `None` is stdout.
pub(super) fn open(path: Option<&Path>) -> Result<Box<dyn Write + Send>, ExportError> {
    let Some(path) = path else {
        return Ok(Box::new(std::io::stdout()));
    };
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(|f| Box::new(f) as Box<dyn Write + Send>)
        .map_err(|source| ExportError::Open {
            target: JsonTarget::File(path.to_path_buf()).to_string(),
            source,
        })
}

/// Writes records until the mirror is gone.
pub(super) fn run(spool: Spool, out: Box<dyn Write + Send>) {
    let counters = spool.counters();
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    // Records written into the buffer but not yet flushed.
    let mut buffered = 0u64;
    let mut failing = false;
    let mut line = Vec::with_capacity(512);
    loop {
        let record = match spool.try_recv() {
            Ok(record) => record,
            Err(Empty::Now) => {
                flush(&mut out, &mut buffered, counters, &mut failing);
                match spool.recv() {
                    Ok(record) => record,
                    Err(_) => return,
                }
            }
            Err(Empty::Closed) => {
                flush(&mut out, &mut buffered, counters, &mut failing);
                return;
            }
        };
        line.clear();
        if serde_json::to_writer(&mut line, &*record).is_err() {
            counters.add_dropped(1);
            continue;
        }
        line.push(b'\n');
        match out.write_all(&line) {
            Ok(()) => buffered += 1,
            Err(e) => {
                counters.add_dropped(1);
                report(&e, &mut failing);
            }
        }
    }
}

/// Flushes; the records buffered count as sent once the flush succeeds.
fn flush(
    out: &mut BufWriter<Box<dyn Write + Send>>,
    buffered: &mut u64,
    counters: &TargetCounters,
    failing: &mut bool,
) {
    if *buffered == 0 {
        return;
    }
    match out.flush() {
        Ok(()) => {
            counters.add_sent(*buffered);
            *failing = false;
        }
        Err(e) => {
            counters.add_dropped(*buffered);
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
