//! Flow export: records of connections (their end, interim counts of long
//! ones, NAT binding events) sent to the collectors fleets run. The mirror's
//! thread tells the `tracker` what happens; it makes the records and offers
//! each to every target's bounded `spool`; one sender thread per target
//! formats and sends them (`json`, `ipfix`), so the mirror never waits for a
//! receiver. A full spool drops the record and counts it; the gap in `seq`
//! shows where. The stream senders share how they reach a collector
//! (`collector`) and how long they pause after failing to (`backoff`).

mod backoff;
mod collector;
mod ipfix;
mod json;
mod record;
mod spool;
mod tracker;

use std::sync::Arc;
use std::time::Duration;

use nfctd_table::Observer;

pub use ipfix::IpfixTarget;
pub use json::JsonTarget;
pub use record::{Endpoint, FlowRecord, RecordKind};
pub use spool::TargetCounters;
pub use tracker::RecordCounters;

/// Records each target's spool holds while its receiver is slow or away.
pub const SPOOL_RECORDS: usize = 65_536;

/// Where records go: one `--export` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Json(JsonTarget),
    Ipfix(IpfixTarget),
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(text: &str) -> Result<Target, String> {
        match text.split_once(':') {
            Some(("json", rest)) => JsonTarget::parse(rest).map(Target::Json),
            Some(("ipfix+udp" | "ipfix+tcp", _)) => IpfixTarget::parse(text).map(Target::Ipfix),
            _ => Err(format!(
                "{text:?}: expected json:-, json:PATH, json:unix:PATH, json:tcp://HOST:PORT, ipfix+udp://HOST:PORT or ipfix+tcp://HOST:PORT"
            )),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Json(target) => target.fmt(f),
            Target::Ipfix(target) => target.fmt(f),
        }
    }
}

/// What `--export` and its options ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConfig {
    pub targets: Vec<Target>,
    /// `--export-active-timeout`: interim records' period; `None`: ends only.
    pub active_timeout: Option<Duration>,
    /// `--export-nat-events`: NAT44 binding create and delete events.
    pub nat_events: bool,
    /// Records each target's spool holds.
    pub spool_records: usize,
    /// `--export-domain-id`: IPFIX observation domain; `None`: the served
    /// network namespace's inode number.
    pub domain_id: Option<u32>,
}

/// Why export could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot open {target}: {source}")]
    Open {
        target: String,
        source: std::io::Error,
    },
    #[error("cannot start the export thread: {0}")]
    Thread(std::io::Error),
}

/// What export did so far, for `/metrics`.
#[derive(Debug)]
pub struct ExportStats {
    pub records: Arc<RecordCounters>,
    pub targets: Vec<TargetStats>,
}

/// One target's counters and names.
#[derive(Debug)]
pub struct TargetStats {
    /// As given on the command line.
    pub name: String,
    /// Without file paths, for listeners anyone may scrape: the kind and
    /// the target's place in the `--export` list (`json:file#2`). A path
    /// tells an outsider where the daemon writes.
    pub public_name: String,
    pub counters: Arc<TargetCounters>,
}

impl Target {
    fn public_name(&self, position: usize) -> String {
        match self {
            Target::Json(json::JsonTarget::File(_)) => format!("json:file#{position}"),
            Target::Json(json::JsonTarget::Unix(_)) => format!("json:unix#{position}"),
            _ => self.to_string(),
        }
    }
}

/// Opens every target and starts its sender thread; returns the observer
/// the mirror tells, and the counters.
pub fn start(config: &ExportConfig) -> Result<(Observer, Arc<ExportStats>), ExportError> {
    let mut outputs = Vec::new();
    let mut targets = Vec::new();
    for (index, target) in config.targets.iter().enumerate() {
        let counters = Arc::new(TargetCounters::default());
        let (tx, rx) = spool::spool(config.spool_records, Arc::clone(&counters));
        let thread = std::thread::Builder::new().name("export".into());
        match target {
            Target::Json(json_target) => {
                let out = json::open(json_target)?;
                thread.spawn(move || json::run(rx, out))
            }
            Target::Ipfix(ipfix_target) => {
                let sender = ipfix::open(ipfix_target, config.domain_id)?;
                thread.spawn(move || ipfix::run(sender, rx))
            }
        }
        .map_err(ExportError::Thread)?;
        outputs.push(tx);
        targets.push(TargetStats {
            name: target.to_string(),
            public_name: target.public_name(index + 1),
            counters,
        });
    }
    let records = Arc::new(RecordCounters::default());
    let active_timeout_ms = config
        .active_timeout
        .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
    let tracker = tracker::Tracker::new(
        active_timeout_ms,
        config.nat_events,
        outputs,
        Arc::clone(&records),
    );
    Ok((
        Arc::new(tracker),
        Arc::new(ExportStats { records, targets }),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_as_given() {
        for text in [
            "json:-",
            "json:/var/log/flows.jsonl",
            "json:unix:/run/vector/flows.sock",
            "json:tcp://192.0.2.9:9000",
            "json:tcp://[2001:db8::9]:9000",
            "json:tcp://collector.example:9000",
            "ipfix+udp://127.0.0.1:4739",
            "ipfix+tcp://[::1]:4739",
        ] {
            let target: Target = text.parse().unwrap();
            assert_eq!(target.to_string(), text);
        }
        assert_eq!(
            "json:/var/log/flows.jsonl".parse(),
            Ok(Target::Json(JsonTarget::File(
                "/var/log/flows.jsonl".into()
            )))
        );
        assert!("json:".parse::<Target>().is_err());
        assert!("json:unix:".parse::<Target>().is_err());
        assert!("json:tcp://nohost".parse::<Target>().is_err());
        assert!("-".parse::<Target>().is_err());
    }
}
