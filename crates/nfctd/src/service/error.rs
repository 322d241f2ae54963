//! The one error type of the API: every front renders it (XML-RPC as a fault
//! with its numbered code, JSON as a status and body); the mapping lives with each front.

use std::sync::Arc;

use nfctd_table::MirrorError;

/// A refused or failed API call. Messages name the argument and never repeat a request body.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("authentication failed")]
    AuthFailed,
    #[error("unknown or expired session")]
    BadSession,
    #[error("permission denied: {0}")]
    Denied(String),
    #[error("invalid argument: {0}")]
    Invalid(String),
    #[error("no such connection: {0}")]
    NoSuchConnection(String),
    /// The kernel refused a request. The cause stays typed: a connection
    /// that is gone (`NotFound`) is not the same answer as other refusals.
    #[error("{}", kernel_words(.0))]
    Kernel(Arc<ctnetlink::Error>),
    /// The kernel refused some of a kill's deletes; the others were done.
    #[error("the kernel refused the operation: killed {killed}, refused {refused}: {first}")]
    PartlyKilled {
        killed: usize,
        refused: usize,
        first: Arc<ctnetlink::Error>,
    },
    /// The mirror's thread is gone: the table is no longer followed.
    #[error("internal error: {}", MirrorError::Stopped)]
    MirrorStopped,
    #[error("too many failed logins; retry later")]
    TooManyLogins,
    /// Too much work waiting (password checks): retry shortly.
    #[error("overloaded: too many logins being checked; retry shortly")]
    Overloaded,
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(argument: &str, why: impl std::fmt::Display) -> ApiError {
        ApiError::Invalid(format!("{argument}: {why}"))
    }
}

/// A kernel refusal in words: a connection gone from the kernel reads as
/// the missing connection it is.
fn kernel_words(e: &ctnetlink::Error) -> String {
    match e {
        ctnetlink::Error::NotFound => {
            ApiError::NoSuchConnection("it is gone from the kernel table".into()).to_string()
        }
        other => format!("the kernel refused the operation: {other}"),
    }
}

impl From<ctnetlink::Error> for ApiError {
    fn from(e: ctnetlink::Error) -> ApiError {
        ApiError::Kernel(Arc::new(e))
    }
}

impl From<MirrorError> for ApiError {
    fn from(e: MirrorError) -> ApiError {
        match e {
            MirrorError::Kernel(e) => ApiError::Kernel(e),
            MirrorError::Stopped => ApiError::MirrorStopped,
            // Only a start makes a thread; a running mirror never says this.
            e @ MirrorError::Thread(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<nfctd_table::query::QueryError> for ApiError {
    fn from(e: nfctd_table::query::QueryError) -> ApiError {
        ApiError::Invalid(e.to_string())
    }
}
