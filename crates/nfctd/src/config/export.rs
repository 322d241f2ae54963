//! The flow-export options: targets, interim records, NAT events, the IPFIX
//! observation domain.

use std::time::Duration;

use crate::export::{ExportConfig, Target, SPOOL_RECORDS};

use super::{bad, ConfigError, Options};

/// Interim records' default period, seconds.
pub const DEFAULT_ACTIVE_TIMEOUT: u64 = 60;

/// `--export` and its options, or `None` when nothing is exported.
pub(super) fn export_config(o: &Options) -> Result<Option<ExportConfig>, ConfigError> {
    let targets = o
        .export
        .iter()
        .map(|text| text.parse::<Target>().map_err(|e| bad("--export", e)))
        .collect::<Result<Vec<_>, _>>()?;
    if targets.is_empty() {
        for (set, option) in [
            (o.export_active_timeout.is_some(), "--export-active-timeout"),
            (o.export_nat_events, "--export-nat-events"),
            (o.export_domain_id.is_some(), "--export-domain-id"),
        ] {
            if set {
                return Err(bad(option, "needs --export"));
            }
        }
        return Ok(None);
    }
    let active_timeout = match o.export_active_timeout.unwrap_or(DEFAULT_ACTIVE_TIMEOUT) {
        0 => None,
        s => Some(Duration::from_secs(s)),
    };
    Ok(Some(ExportConfig {
        targets,
        active_timeout,
        nat_events: o.export_nat_events,
        spool_records: SPOOL_RECORDS,
        domain_id: o.export_domain_id,
    }))
}

/// The reconciliation period export needs: interim records are read from the
/// reconciliation dumps, so they come at least every active timeout.
pub(super) fn resync_for_export(
    resync: Option<Duration>,
    export: Option<&ExportConfig>,
) -> Option<Duration> {
    match (resync, export.and_then(|e| e.active_timeout)) {
        (Some(r), Some(t)) => Some(r.min(t)),
        (None, Some(t)) => Some(t),
        (r, None) => r,
    }
}
