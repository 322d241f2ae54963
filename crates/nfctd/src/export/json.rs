//! JSON Lines targets: the sender thread takes records from the spool and
//! writes one JSON line each, flushing whenever the spool runs empty.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use super::spool::{Empty, Spool, TargetCounters};
use super::ExportError;

/// Where JSON lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonTarget {
    /// `json:-`: standard output (the log goes to standard error).
    Stdout,
    /// `json:PATH`: appended to a file, created if missing.
    File(PathBuf),
}

impl JsonTarget {
    /// Reads what follows `json:`.
    pub(super) fn parse(rest: &str) -> Result<JsonTarget, String> {
        match rest {
            "-" => Ok(JsonTarget::Stdout),
            "" => Err("json: needs - (stdout) or a file path".into()),
            path => Ok(JsonTarget::File(PathBuf::from(path))),
        }
    }
}

impl std::fmt::Display for JsonTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JsonTarget::Stdout => f.write_str("json:-"),
            JsonTarget::File(path) => write!(f, "json:{}", path.display()),
        }
    }
}

/// Opens the target (a file in append mode, created if missing), so a bad
/// path stops the start.
pub(super) fn open(target: &JsonTarget) -> Result<Box<dyn Write + Send>, ExportError> {
    match target {
        JsonTarget::Stdout => Ok(Box::new(std::io::stdout())),
        JsonTarget::File(path) => OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(|f| Box::new(f) as Box<dyn Write + Send>)
            .map_err(|source| ExportError::Open {
                target: target.to_string(),
                source,
            }),
    }
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
