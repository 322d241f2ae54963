//! `QueryError`: why a filter or an order was refused, in words naming the argument.

/// How much of a user's input an error message repeats, at most.
const ECHO_CHARS: usize = 64;

/// A refused filter, `order_by` or `order_dir` (XML-RPC fault 4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A filter key that is unknown, or whose value has the wrong type or syntax.
    #[error("filter \"{key}\": {why}")]
    Filter { key: String, why: String },
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

/// User input made safe to repeat: at most [`ECHO_CHARS`] characters, control
/// characters and quotes replaced, an ellipsis where it was cut.
pub(super) fn clip(input: &str) -> String {
    let mut out: String = input
        .chars()
        .take(ECHO_CHARS)
        .map(|c| if c.is_control() || c == '"' { '?' } else { c })
        .collect();
    if input.chars().nth(ECHO_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// [`clip`] in double quotes.
pub(super) fn quoted(input: &str) -> String {
    format!("\"{}\"", clip(input))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn long_input_is_clipped() {
        let long = "x".repeat(1000);
        let q = quoted(&long);
        assert_eq!(q.chars().count(), ECHO_CHARS + 3);
        assert!(q.ends_with("…\""));
        assert_eq!(quoted("a\"b\nc"), "\"a?b?c\"");
        let e = QueryError::filter(&long, "unknown key").to_string();
        assert!(e.len() < 100, "{e}");
    }
}
