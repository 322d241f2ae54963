//! Flow export: one record for every connection that leaves the mirror,
//! written as JSON Lines (`--export json:-` or `json:PATH`). The mirror's
//! thread hands ends to an [`EndSink`] made here, which numbers them (`seq`)
//! and puts them in a bounded spool; a writer thread formats and writes them,
//! so the mirror never waits for the receiver. A full spool drops the record and
//! counts it; the gap in `seq` shows where.

mod record;
mod writer;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use crate::table::{EndReason, EndSink, Row};

pub use record::{EndRecord, Endpoint};

/// Records the spool holds while the receiver is slow.
pub const SPOOL_RECORDS: usize = 65_536;

/// Where records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `json:-`: standard output (the log goes to standard error).
    Stdout,
    /// `json:PATH`: appended to a file, created if missing.
    File(PathBuf),
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(text: &str) -> Result<Target, String> {
        match text.split_once(':') {
            Some(("json", "-")) => Ok(Target::Stdout),
            Some(("json", "")) => Err("json: needs - (stdout) or a file path".into()),
            Some(("json", path)) => Ok(Target::File(PathBuf::from(path))),
            _ => Err(format!("{text:?}: expected json:- or json:PATH")),
        }
    }
}

/// Why export could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the export thread: {0}")]
    Thread(std::io::Error),
}

/// What export did so far, for `/metrics`.
#[derive(Debug, Default)]
pub struct ExportCounters {
    /// Records written to the target.
    pub records: AtomicU64,
    /// Records lost: the spool was full, or the target refused the write.
    pub dropped: AtomicU64,
}

/// Opens `target` and starts its writer thread; returns the sink the mirror
/// calls for each end, and the counters.
pub fn start(target: &Target) -> Result<(EndSink, Arc<ExportCounters>), ExportError> {
    start_with(target, SPOOL_RECORDS)
}

/// [`start`] with a spool of `capacity` records.
pub fn start_with(
    target: &Target,
    capacity: usize,
) -> Result<(EndSink, Arc<ExportCounters>), ExportError> {
    let out = writer::open(target)?;
    let counters = Arc::new(ExportCounters::default());
    let (tx, rx) = mpsc::sync_channel::<EndRecord>(capacity);
    {
        let counters = Arc::clone(&counters);
        std::thread::Builder::new()
            .name("export".into())
            .spawn(move || writer::run(rx, out, &counters))
            .map_err(ExportError::Thread)?;
    }
    let seq = AtomicU64::new(0);
    let sink_counters = Arc::clone(&counters);
    let sink: EndSink = Arc::new(move |row: &Row, last, reason: EndReason| {
        let seq = seq.fetch_add(1, Ordering::Relaxed) + 1;
        let record = EndRecord::new(seq, row, last, reason, record::unix_millis());
        if tx.try_send(record).is_err() {
            sink_counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    });
    Ok((sink, counters))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!("json:-".parse(), Ok(Target::Stdout));
        assert_eq!(
            "json:/var/log/flows.jsonl".parse(),
            Ok(Target::File("/var/log/flows.jsonl".into()))
        );
        assert!("json:".parse::<Target>().is_err());
        assert!("ipfix+udp://127.0.0.1:4739".parse::<Target>().is_err());
        assert!("-".parse::<Target>().is_err());
    }
}
