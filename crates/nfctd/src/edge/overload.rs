//! Refusals a client should retry: a request refused because too much is
//! waiting (503), or throttled (429). Each says when to try again, in the
//! one `Retry-After` every layer and front gives.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// What `Retry-After` says, in seconds: a short wait, as queues drain fast.
const RETRY_AFTER: &str = "1";

/// Adds `Retry-After` to a refusal's headers.
pub fn retry_later(headers: &mut HeaderMap) {
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER));
}

/// A request refused because too much is waiting: 503 with `Retry-After`,
/// and what was full, as plain text.
#[derive(Debug, Clone, Copy)]
pub struct Overloaded(pub &'static str);

impl IntoResponse for Overloaded {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::SERVICE_UNAVAILABLE, self.0).into_response();
        retry_later(response.headers_mut());
        response
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn overload_is_503_with_retry_after_and_the_reason() {
        let response = Overloaded("queue full\n").into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let headers: Vec<(&str, &str)> = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str(), value.to_str().unwrap()))
            .collect();
        assert_eq!(
            headers,
            [
                ("content-type", "text/plain; charset=utf-8"),
                ("retry-after", "1"),
            ]
        );
    }

    #[tokio::test]
    async fn the_reason_is_the_body() {
        let response = Overloaded("queue full\n").into_response();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"queue full\n");
    }

    #[test]
    fn retry_later_replaces_rather_than_repeats() {
        let mut headers = HeaderMap::new();
        retry_later(&mut headers);
        retry_later(&mut headers);
        assert_eq!(headers.get_all(header::RETRY_AFTER).iter().count(), 1);
        assert_eq!(headers[header::RETRY_AFTER], "1");
    }
}
