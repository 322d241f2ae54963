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
                ApiError::Kernel(cause) => match **cause {
                    // ENOENT: the connection is gone.
                    ctnetlink::Error::NotFound => (StatusCode::NOT_FOUND, "no_such_connection"),
                    // The request was fine; the kernel said no (EBUSY, ENOMEM,
                    // EPERM: the message says the daemon lacks CAP_NET_ADMIN).
                    _ => (StatusCode::CONFLICT, "kernel_refused"),
                },
                ApiError::PartlyKilled { .. } => (StatusCode::CONFLICT, "kernel_refused"),
                ApiError::TooManyLogins => (StatusCode::TOO_MANY_REQUESTS, "too_many_logins"),
                ApiError::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
                ApiError::MirrorStopped | ApiError::Internal(_) => {
                    (StatusCode::INTERNAL_SERVER_ERROR, "internal")
                }
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

    /// The status, code word and message a service error is answered with.
    fn answer(e: ApiError) -> (u16, String, String) {
        let error = JsonError::Service(e);
        let (status, code) = error.status_and_code();
        let response = error.into_response();
        assert_eq!(response.status(), status);
        let body = futures_util::FutureExt::now_or_never(axum::body::to_bytes(
            response.into_body(),
            usize::MAX,
        ))
        .unwrap()
        .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], code);
        let message = body["error"]["message"].as_str().unwrap().to_string();
        (status.as_u16(), code.to_string(), message)
    }

    #[test]
    fn kernel_refusals_keep_their_cause() {
        let gone = answer(ctnetlink::Error::NotFound.into());
        assert_eq!(
            gone,
            (
                404,
                "no_such_connection".into(),
                "no such connection: it is gone from the kernel table".into()
            )
        );
        let denied = answer(ctnetlink::Error::PermissionDenied.into());
        assert_eq!(
            denied,
            (
                409,
                "kernel_refused".into(),
                "the kernel refused the operation: permission denied by the kernel: \
                 ctnetlink needs CAP_NET_ADMIN over the network namespace"
                    .into()
            )
        );
        let busy = answer(ctnetlink::Error::from_errno("delete", libc::EBUSY).into());
        assert_eq!((busy.0, busy.1.as_str()), (409, "kernel_refused"));
        let partly = answer(ApiError::PartlyKilled {
            killed: 0,
            refused: 1,
            first: std::sync::Arc::new(ctnetlink::Error::PermissionDenied),
        });
        assert_eq!((partly.0, partly.1.as_str()), (409, "kernel_refused"));
    }

    #[test]
    fn a_stopped_mirror_is_an_internal_error_that_says_so() {
        let stopped = answer(nfctd_table::MirrorError::Stopped.into());
        assert_eq!(
            stopped,
            (
                500,
                "internal".into(),
                "internal error: the mirror thread stopped".into()
            )
        );
        // Other internal errors keep their details for the log.
        let other = answer(ApiError::Internal("a panic".into()));
        assert_eq!(other.2, "internal error");
    }
}
