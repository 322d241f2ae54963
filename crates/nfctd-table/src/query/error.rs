//! `QueryError`: why a filter or an order was refused, in words naming the argument.

use crate::clip::clip;

/// A refused filter, `order_by` or `order_dir` (XML-RPC fault 4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A filter key that is unknown, or whose value has the wrong type or syntax.
    #[error("filter \"{key}\": {why}")]
    Filter {
        /// The key, quoted and clipped as given.
        key: String,
        /// What is wrong with its value.
        why: String,
    },
    /// `order_by` names no connection key; holds the quoted, clipped input.
    #[error("order_by: unknown key {0}")]
    OrderBy(String),
    /// `order_dir` is neither ASC nor DESC; holds the quoted, clipped input.
    #[error("order_dir: expected ASC or DESC, got {0}")]
    OrderDir(String),
}

impl QueryError {
    /// An error about filter `key` (clipped: the key is user input too).
    pub(super) fn filter(key: &str, why: impl Into<String>) -> QueryError {
        QueryError::Filter {
            key: clip(key),
            why: why.into(),
        }
    }
}
