//! How the mirror tells the rest of the house that a connection left it, and
//! how its end was found. The mirror knows no record format: whoever wants
//! ends (the `export` area) hands it an [`EndSink`].

use std::sync::Arc;

use ctnetlink::Conn;

use super::row::Row;

/// How the mirror learnt that a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// The kernel's DESTROY event (or its reply to a delete made through nfctd).
    Event,
    /// Missing from a full dump (periodic, on demand, or after an event overflow).
    Reconciliation,
    /// A lookup of a row past its timeout (or of a watched row) found it gone.
    Timeout,
}

impl EndReason {
    /// The name records and metrics carry.
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Event => "event",
            EndReason::Reconciliation => "reconciliation",
            EndReason::Timeout => "timeout",
        }
    }
}

/// Called once for every row that leaves the mirror because its connection
/// ended, on the mirror's thread: keep it short and never block. `last` is
/// the kernel's final view when the end came with one (a DESTROY event,
/// whose counters are final).
pub type EndSink = Arc<dyn Fn(&Row, Option<&Conn>, EndReason) + Send + Sync>;
