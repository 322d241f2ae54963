//! The JSON front's errors: an HTTP status and `{"error": {"code", "message"}}`,
//! the message naming the parameter that was wrong.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::ApiError;

/// A refused or failed JSON call.
#[derive(Debug)]
pub enum JsonError {
    /// The service refused or failed.
    Service(ApiError),
    /// A state-changing request without the session's CSRF token.
    Csrf,
    /// Busy: too many heavy calls waiting.
    Overloaded,
    /// The session, or everybody together, holds as many event streams as allowed.
    /// (what was full, in words).
    TooManyStreams(String),
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable word: `auth_failed`, `no_session`, `denied`, `csrf`,
    /// `invalid_argument`, `no_such_connection`, `kernel_refused`,
    /// `too_many_logins`, `too_many_streams`, `overloaded`, `internal`.
    pub code: &'static str,
    /// What was wrong, naming the parameter; never the request body.
    pub message: String,
}

impl From<ApiError> for JsonError {
    fn from(e: ApiError) -> JsonError {
        JsonError::Service(e)
    }
}

impl JsonError {
    /// An invalid parameter, named.
    pub fn invalid(parameter: &str, why: impl std::fmt::Display) -> JsonError {
        JsonError::Service(ApiError::invalid(parameter, why))
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            JsonError::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            JsonError::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            JsonError::TooManyStreams(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_streams"),
            JsonError::Service(e) => match e {
                ApiError::AuthFailed => (StatusCode::UNAUTHORIZED, "auth_failed"),
                ApiError::BadSession => (StatusCode::UNAUTHORIZED, "no_session"),
                ApiError::Denied(_) => (StatusCode::FORBIDDEN, "denied"),
                ApiError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_argument"),
                ApiError::NoSuchConnection(_) => (StatusCode::NOT_FOUND, "no_such_connection"),
                // The request was fine; the kernel said no (EBUSY, ENOMEM...).
                ApiError::Kernel(_) => (StatusCode::CONFLICT, "kernel_refused"),
                ApiError::TooManyLogins => (StatusCode::TOO_MANY_REQUESTS, "too_many_logins"),
                ApiError::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
                ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
        }
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            JsonError::Service(ApiError::Internal(detail)) => {
                tracing::error!(error = %detail, "internal error");
                "internal error".to_string()
            }
            JsonError::Service(e) => e.to_string(),
            JsonError::Csrf => {
                "this request changes state and needs the session's X-CSRF-Token header".into()
            }
            JsonError::Overloaded => "too many requests at once; retry shortly".into(),
            JsonError::TooManyStreams(why) => why.clone(),
        };
        let body = Json(ErrorBody {
            error: ErrorDetail { code, message },
        });
        let mut response = (status, body).into_response();
        if matches!(
            self,
            JsonError::Overloaded
                | JsonError::TooManyStreams(_)
                | JsonError::Service(ApiError::TooManyLogins | ApiError::Overloaded)
        ) {
            crate::edge::retry_later(response.headers_mut());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overload_and_throttling_say_when_to_retry() {
        for (error, status) in [
            (JsonError::Overloaded, 503),
            (JsonError::Service(ApiError::Overloaded), 503),
            (JsonError::Service(ApiError::TooManyLogins), 429),
        ] {
            let response = error.into_response();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(
                response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()),
                Some("1")
            );
        }
        let response = JsonError::Service(ApiError::AuthFailed).into_response();
        assert!(response.headers().get("retry-after").is_none());
    }
}
