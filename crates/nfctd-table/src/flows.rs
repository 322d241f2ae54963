//! How the mirror tells the rest of the house about connections beginning,
//! being refreshed by a full dump, and ending, and how an end was found. The
//! mirror knows no record format: whoever wants flows (the `export` area)
//! hands it a [`FlowObserver`].

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

/// Serialized as its [`name`](EndReason::name), as flow records carry it.
impl serde::Serialize for EndReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
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

/// Told of the mirror's connections as they come and go. Every method runs
/// on the mirror's thread: keep it short and never block.
pub trait FlowObserver: Send + Sync {
    /// A connection entered the mirror: its NEW event, or found by a dump
    /// (the first dump at start included).
    fn began(&self, row: &Row);

    /// A connection left because it ended, found so as `reason` says; called
    /// once per connection. `last` is the kernel's final view when the end
    /// came with one (a DESTROY event, whose counters are final).
    fn ended(&self, row: &Row, last: Option<&Conn>, reason: EndReason);

    /// A full dump just refreshed every row: their counters are current.
    fn reconciled(&self, rows: &mut dyn Iterator<Item = &Row>);
}

/// The observer the mirror holds.
pub type Observer = Arc<dyn FlowObserver>;
