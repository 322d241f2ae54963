//! Counting each API call into the usage counters the service keeps, the
//! same way for every front: under a method label from a fixed set (declared
//! methods, routes as declared) so that clients cannot invent new series,
//! with its outcome and how long it took.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;

use crate::service::{CallLabels, MethodLabels, Usage};

/// The front a call came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    XmlRpc,
    Json,
}

impl Front {
    fn label(self) -> &'static str {
        match self {
            Front::XmlRpc => "xmlrpc",
            Front::Json => "json",
        }
    }
}

/// One call, timed from its start until it is recorded.
#[derive(Debug)]
#[must_use = "a call counts only once recorded"]
pub struct Call {
    front: Front,
    started: Instant,
}

impl Call {
    pub fn start(front: Front) -> Call {
        Call {
            front,
            started: Instant::now(),
        }
    }

    /// Counts the call as ended now with `outcome`. `method` must come from
    /// a fixed set, never from raw client input.
    pub fn record(self, usage: &Usage, method: &str, outcome: &'static str) {
        let took = self.started.elapsed();
        let front = self.front.label();
        usage
            .calls
            .get_or_create(&CallLabels {
                front,
                method: method.to_string(),
                outcome,
            })
            .inc();
        usage
            .durations
            .get_or_create(&MethodLabels {
                front,
                method: method.to_string(),
            })
            .observe(took.as_secs_f64());
    }
}

/// Counts every call to `routes` (those it has now) under its HTTP method
/// and route as declared (`{id}` and all), with its status as the outcome.
pub fn count_routes(routes: Router, usage: Usage, front: Front) -> Router {
    routes.route_layer(axum::middleware::from_fn_with_state(
        (usage, front),
        count_route,
    ))
}

async fn count_route(
    State((usage, front)): State<(Usage, Front)>,
    matched: MatchedPath,
    request: Request,
    next: Next,
) -> Response {
    let call = Call::start(front);
    let method = format!("{} {}", request.method(), matched.as_str());
    let response = next.run(request).await;
    call.record(&usage, &method, outcome(response.status()));
    response
}

/// The outcome of an answer, by its status.
fn outcome(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "ok",
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        429 => "too_many_requests",
        503 => "overloaded",
        500..=599 => "error",
        _ => "other",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The call counts as `/metrics` shows them.
    fn exposed(usage: &Usage) -> String {
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register("calls", "", usage.calls.clone());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        text
    }

    #[test]
    fn a_call_counts_once_under_its_front_method_and_outcome() {
        let usage = Usage::default();
        Call::start(Front::XmlRpc).record(&usage, "view", "ok");
        Call::start(Front::XmlRpc).record(&usage, "view", "ok");
        Call::start(Front::Json).record(&usage, "view", "denied");
        let text = exposed(&usage);
        assert!(
            text.contains("calls_total{front=\"xmlrpc\",method=\"view\",outcome=\"ok\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("calls_total{front=\"json\",method=\"view\",outcome=\"denied\"} 1\n"),
            "{text}"
        );
        assert_eq!(text.matches("calls_total{").count(), 2, "{text}");
    }

    #[test]
    fn statuses_become_a_few_outcomes() {
        for (status, word) in [
            (200, "ok"),
            (204, "ok"),
            (400, "bad_request"),
            (401, "unauthorized"),
            (403, "forbidden"),
            (404, "not_found"),
            (409, "conflict"),
            (429, "too_many_requests"),
            (503, "overloaded"),
            (500, "error"),
            (504, "error"),
            (302, "other"),
            (413, "other"),
        ] {
            assert_eq!(
                outcome(StatusCode::from_u16(status).unwrap()),
                word,
                "{status}"
            );
        }
    }

    #[tokio::test]
    async fn routes_count_as_declared_and_others_not_at_all() {
        use tower_service::Service as _;
        let usage = Usage::default();
        let routes = Router::new().route(
            "/things/{id}",
            axum::routing::get(|| async { StatusCode::NOT_FOUND }),
        );
        let mut app = count_routes(routes, usage.clone(), Front::Json)
            .route("/late", axum::routing::get(|| async { "added after" }));
        for path in ["/things/1", "/things/2", "/late"] {
            let request = Request::builder()
                .uri(path)
                .body(axum::body::Body::empty())
                .unwrap();
            app.call(request).await.unwrap();
        }
        let text = exposed(&usage);
        assert!(
            text.contains(
                "calls_total{front=\"json\",method=\"GET /things/{id}\",outcome=\"not_found\"} 2\n"
            ),
            "{text}"
        );
        assert!(!text.contains("/late"), "{text}");
    }
}
