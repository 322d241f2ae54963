//! `GET /metrics`: the Prometheus text exposition (OpenMetrics). The table,
//! the kernel's counters and the mirror's are read at each scrape; the API's
//! usage is kept by the service as calls happen. Names carry `nfctd_`;
//! where node_exporter has the same quantity (`node_nf_conntrack_entries`,
//! `_entries_limit`, `_stat_*`) the meaning is the same, so alerts carry over.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;

use crate::edge::{self, Overloaded};
use crate::gate::{Gates, Refused};
use crate::service::{ApiError, Credentials, Service};

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProtocolLabel {
    protocol: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetLabel {
    target: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HowLabel {
    how: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

/// Who may scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone who reaches the listener: `--metrics-listen`, since scrapers
    /// do not log in.
    Open,
    /// As `--auth` says: with a backend, a session cookie of the JSON API or
    /// HTTP Basic credentials (Prometheus' `basic_auth`) checked by it.
    FollowsAuth,
}

/// What a scrape needs.
#[derive(Debug, Clone)]
struct Scrape {
    service: Service,
    access: Access,
    /// Password checks and the scrape itself are blocking work: through a
    /// gate, so a flood of scrapes queues and then gets 503 instead of piling
    /// up threads.
    gates: Gates,
}

/// The `/metrics` route over `service`: password checks through the login
/// gate, the scrape itself through the heavy one.
pub fn router(service: Service, access: Access, gates: Gates) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Scrape {
            service,
            access,
            gates,
        })
}

/// What a scrape refused by a full queue gets.
const OVERLOADED: Overloaded = Overloaded("overloaded; retry later\n");

async fn scrape(
    State(Scrape {
        service,
        access,
        gates,
    }): State<Scrape>,
    parts: Parts,
) -> Response {
    if access == Access::FollowsAuth && service.requires_login() {
        let checked = {
            let service = service.clone();
            let headers = parts.headers.clone();
            let peer = edge::peer(&parts);
            gates
                .logins
                .run(move || allowed(&service, &headers, peer))
                .await
        };
        if checked == Err(Refused::Overloaded) {
            return OVERLOADED.into_response();
        }
        if !matches!(checked, Ok(true)) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic realm=\"nfctd metrics\"")],
                "log in, or scrape the --metrics-listen address\n",
            )
                .into_response();
        }
    }
    // Reading the kernel's statistics and counting the table block briefly.
    let encoded = gates.heavy.run(move || encode(&service, access)).await;
    match encoded {
        Ok(Ok(text)) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(Refused::Overloaded) => OVERLOADED.into_response(),
        Ok(Err(e)) => unavailable(&e),
        Err(Refused::Failed(e)) => unavailable(&e),
    }
}

/// A scrape that failed: logged, and answered 500.
fn unavailable(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "metrics scrape failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "metrics unavailable\n").into_response()
}

/// A live session cookie, or Basic credentials the backend accepts (any role:
/// metrics are read-only).
fn allowed(service: &Service, headers: &HeaderMap, peer: Option<std::net::IpAddr>) -> bool {
    if let Some(sid) = edge::session_id(headers) {
        if service.is_open(sid) {
            return true;
        }
    }
    let Some(credentials) = basic_credentials(headers) else {
        return false;
    };
    service.authenticate(&credentials, peer).is_ok()
}

/// `Authorization: Basic base64(user:password)`.
fn basic_credentials(headers: &HeaderMap) -> Option<Credentials> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some(Credentials {
        user: Some(user.to_string()),
        password: Some(password.to_string()),
    })
}

fn gauge(value: u64) -> ConstGauge {
    ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX))
}

/// Why a scrape could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error(transparent)]
    Stats(#[from] ApiError),
    #[error(transparent)]
    Encode(#[from] std::fmt::Error),
}

/// The whole exposition, as `access` may see it.
pub fn encode(service: &Service, access: Access) -> Result<String, ScrapeError> {
    let stats = service.observe()?;
    let mut r = Registry::with_prefix("nfctd");

    r.register(
        "conntrack_entries",
        "Entries in the kernel's table, hidden ones included (node_nf_conntrack_entries)",
        gauge(stats.kernel_entries),
    );
    r.register(
        "conntrack_entries_limit",
        "The kernel table's size limit, nf_conntrack_max (node_nf_conntrack_entries_limit)",
        gauge(stats.table_limit),
    );
    // Absent rather than 0 when unreadable: a ratio over 0 buckets would
    // read as infinite and fire the ratio alert.
    if stats.buckets > 0 {
        r.register(
            "conntrack_buckets",
            "The kernel's conntrack hash table size, nf_conntrack_buckets (global: every namespace shows the same)",
            gauge(stats.buckets),
        );
    }
    let k = stats.kernel;
    for (name, value, help) in [
        (
            "conntrack_stat_found",
            k.found,
            "Lookups that found an entry (node_nf_conntrack_stat_found)",
        ),
        (
            "conntrack_stat_invalid",
            k.invalid,
            "Packets conntrack could not track (node_nf_conntrack_stat_invalid)",
        ),
        (
            "conntrack_stat_insert_failed",
            k.insert_failed,
            "Entries that could not be inserted (node_nf_conntrack_stat_insert_failed)",
        ),
        (
            "conntrack_stat_drop",
            k.drop,
            "Packets dropped because of a failed lookup or insert (node_nf_conntrack_stat_drop)",
        ),
        (
            "conntrack_stat_early_drop",
            k.early_drop,
            "Entries dropped to make room in a full table (node_nf_conntrack_stat_early_drop)",
        ),
        (
            "conntrack_stat_error",
            k.error,
            "Packets rejected by ICMP error handling",
        ),
        (
            "conntrack_stat_search_restart",
            k.search_restart,
            "Lookups restarted by a concurrent change (node_nf_conntrack_stat_search_restart)",
        ),
        (
            "conntrack_stat_clash_resolve",
            k.clash_resolve,
            "Clashes between new entries for one tuple that were resolved instead of dropping the packet (0 from kernels that do not count them)",
        ),
        (
            "conntrack_stat_chaintoolong",
            k.chaintoolong,
            "Inserts refused because the entry's hash chain was too long: too few hash buckets (0 from kernels before 5.15)",
        ),
    ] {
        r.register(name, help, ConstCounter::new(value));
    }
    r.register(
        "table_connections",
        "Connections in the served mirror, after --ignore",
        gauge(stats.table_size as u64),
    );
    let by_proto = Family::<ProtocolLabel, Gauge>::default();
    for (protocol, n) in &stats.by_proto {
        by_proto
            .get_or_create(&ProtocolLabel {
                protocol: protocol.clone(),
            })
            .set(i64::try_from(*n).unwrap_or(i64::MAX));
    }
    r.register(
        "table_connections_by_protocol",
        "Connections in the mirror by protocol",
        by_proto,
    );
    let by_state = Family::<StateLabel, Gauge>::default();
    for (state, n) in &stats.by_state {
        by_state
            .get_or_create(&StateLabel {
                state: state.clone(),
            })
            .set(i64::try_from(*n).unwrap_or(i64::MAX));
    }
    r.register(
        "table_connections_by_state",
        "Connections in the mirror by TCP/SCTP/DCCP state",
        by_state,
    );
    r.register(
        "table_accounting_enabled",
        "1 when nf_conntrack_acct is on (byte counters and rates need it)",
        gauge(u64::from(stats.accounting)),
    );

    let m = service.table().counters();
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let events = Family::<KindLabel, Counter>::default();
    for (kind, counter) in [
        ("new", &m.events_new),
        ("update", &m.events_update),
        ("destroy", &m.events_destroy),
    ] {
        events
            .get_or_create(&KindLabel { kind })
            .inc_by(load(counter));
    }
    r.register(
        "mirror_events",
        "Conntrack events applied to the mirror, by kind",
        events,
    );
    r.register(
        "mirror_resyncs",
        "Full reconciliations with the kernel's table",
        ConstCounter::new(load(&m.resyncs)),
    );
    r.register(
        "mirror_resync_seconds",
        "Time spent in full reconciliations",
        ConstCounter::new(load(&m.resync_micros) as f64 / 1e6),
    );
    r.register(
        "mirror_overflows",
        "Event socket overflows, each followed by a resync",
        ConstCounter::new(load(&m.overflows)),
    );
    r.register(
        "mirror_malformed",
        "Netlink messages that did not decode",
        ConstCounter::new(load(&m.malformed)),
    );
    let last = load(&m.last_resync_unix_ms);
    let age = if last == 0 {
        f64::NAN
    } else {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        (now.as_millis() as f64 - last as f64).max(0.0) / 1000.0
    };
    r.register(
        "mirror_age_seconds",
        "Time since the last full reconciliation",
        ConstGauge::new(age),
    );
    r.register(
        "mirror_live",
        "1 while the mirror follows the kernel",
        gauge(u64::from(stats.mirror.live)),
    );

    if let Some(export) = service.export_stats() {
        register_export(&mut r, export, access);
    }

    let usage = service.usage();
    r.register(
        "api_requests",
        "API calls by front, method and outcome",
        usage.calls.clone(),
    );
    r.register_with_unit(
        "api_request_duration",
        "API call durations by front and method",
        prometheus_client::registry::Unit::Seconds,
        usage.durations.clone(),
    );
    r.register(
        "api_sessions",
        "Live sessions",
        gauge(service.session_count() as u64),
    );
    r.register(
        "api_failed_logins",
        "Logins refused (bad credentials or throttled)",
        usage.failed_logins.clone(),
    );

    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &r)?;
    Ok(out)
}

/// Flow export: records made by kind, and what each target did with them.
fn register_export(r: &mut Registry, export: &crate::export::ExportStats, access: Access) {
    use nfctd_table::EndReason;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let ends = Family::<HowLabel, Counter>::default();
    for how in [
        EndReason::Event,
        EndReason::Reconciliation,
        EndReason::Timeout,
    ] {
        ends.get_or_create(&HowLabel { how: how.name() })
            .inc_by(export.records.ends_found_by(how));
    }
    r.register(
        "export_flow_ends",
        "End records made, by how the end was found (event, reconciliation: missing from a full dump, timeout: found gone past its timeout)",
        ends,
    );
    r.register(
        "export_interim_records",
        "Interim records made for long flows (--export-active-timeout)",
        ConstCounter::new(load(&export.records.interim)),
    );
    r.register(
        "export_nat_events",
        "NAT44 binding create and delete events made (--export-nat-events)",
        ConstCounter::new(load(&export.records.nat_events)),
    );
    let sent = Family::<TargetLabel, Counter>::default();
    let dropped = Family::<TargetLabel, Counter>::default();
    let spooled = Family::<TargetLabel, Gauge>::default();
    for target in &export.targets {
        let counters = &target.counters;
        let label = TargetLabel {
            target: match access {
                Access::Open => target.public_name.clone(),
                Access::FollowsAuth => target.name.clone(),
            },
        };
        sent.get_or_create(&label).inc_by(load(&counters.sent));
        dropped
            .get_or_create(&label)
            .inc_by(load(&counters.dropped));
        spooled
            .get_or_create(&label)
            .set(i64::try_from(load(&counters.spooled)).unwrap_or(i64::MAX));
    }
    r.register(
        "export_records",
        "Records sent to each --export target",
        sent,
    );
    r.register(
        "export_dropped",
        "Records lost per target: its spool was full or it refused them",
        dropped,
    );
    r.register(
        "export_spooled",
        "Records waiting in each target's spool",
        spooled,
    );
}
