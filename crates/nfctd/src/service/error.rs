//! The one error type of the API: every front renders it (XML-RPC as a fault
//! with its numbered code, JSON as a status and body); the mapping lives with each front.

/// A refused or failed API call. Messages name the argument and never repeat a request body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    #[error("the kernel refused the operation: {0}")]
    Kernel(String),
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

impl From<ctnetlink::Error> for ApiError {
    fn from(e: ctnetlink::Error) -> ApiError {
        match e {
            ctnetlink::Error::NotFound => {
                ApiError::NoSuchConnection("it is gone from the kernel table".into())
            }
            other => ApiError::Kernel(other.to_string()),
        }
    }
}

impl From<nfctd_table::query::QueryError> for ApiError {
    fn from(e: nfctd_table::query::QueryError) -> ApiError {
        ApiError::Invalid(e.to_string())
    }
}
