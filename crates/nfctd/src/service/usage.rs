//! How the API is used: calls by front, method and outcome, their durations,
//! and failed logins. The HTTP edge records calls here; the metrics front
//! exposes them. Kept as prometheus-client metrics, which are plain shared
//! counters until a scrape encodes them.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

/// One call's labels: which front, which method, how it ended. Methods and
/// outcomes come from fixed lists (declared methods, fault or error names),
/// so the label sets stay few whatever clients send.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub front: &'static str,
    pub method: String,
    pub outcome: &'static str,
}

/// Duration labels: front and method.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub front: &'static str,
    pub method: String,
}

type Durations = Family<MethodLabels, Histogram, fn() -> Histogram>;

/// The API's usage counters.
#[derive(Debug, Clone)]
pub struct Usage {
    pub calls: Family<CallLabels, Counter>,
    pub durations: Durations,
    pub failed_logins: Counter,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            calls: Family::default(),
            durations: Family::new_with_constructor(|| {
                // 100 µs to about 100 s.
                Histogram::new(exponential_buckets(0.000_1, 4.0, 11))
            }),
            failed_logins: Counter::default(),
        }
    }
}
