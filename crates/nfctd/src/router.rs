//! The router: every front merged into one (the XML-RPC routes, the JSON
//! API, `/metrics`, the web UI) with `GET /healthz`, behind the Host/Origin
//! guard, the body limit and the request timeout; and the router of
//! `--metrics-listen`. Connections and listeners are `net`'s, the heavy-call
//! gate is `gate`'s, what the fronts share of HTTP is `edge`'s.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::gate::{Gate, Gates};
use crate::hosts::{self, AllowedHosts};
use crate::net::inbound::MAX_BODY;
use crate::service::Service;
use crate::xmlrpc::WideInt;

/// Logins checking a password at once (most of them wait for one of the
/// few password-checking threads, or sit out the response-time floor);
/// more wait their turn.
pub const LOGIN_CALLS: usize = 16;
/// Logins waiting for a slot, at most; one more is answered 503.
pub const LOGIN_QUEUE: usize = 256;
/// A request that takes longer is answered 408 (work already started finishes).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Heavy calls (kernel requests, scans of the whole table) running at once;
/// more wait their turn, so a burst of them cannot pile up threads and memory.
pub const HEAVY_CALLS: usize = 8;
/// Heavy calls waiting for a slot, at most, by default; one more is answered
/// 503 with `Retry-After` at once rather than left hanging.
/// (256: a hundred keep-alive clients viewing at once all wait.)
pub const HEAVY_QUEUE: usize = 256;

/// How the routes behave, beyond the service itself.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub wide_int: WideInt,
    /// Heavy calls that may wait for a slot (beyond them: 503).
    pub heavy_queue: usize,
    /// The names and addresses `Host` and `Origin` may carry.
    pub allowed_hosts: AllowedHosts,
    /// Server-Sent Event streams open at once, at most: each holds a
    /// connection for as long as its session lives.
    pub max_streams: usize,
}

/// The share of the connection cap that event streams may hold.
pub fn max_streams(max_connections: usize) -> usize {
    (max_connections / 4).max(1)
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            wide_int: WideInt::default(),
            heavy_queue: HEAVY_QUEUE,
            allowed_hosts: AllowedHosts::default(),
            max_streams: max_streams(crate::net::ConnLimits::default().max_connections),
        }
    }
}

/// The router, over a service.
pub fn app_with(service: Service, options: AppOptions) -> Router {
    let gates = Gates {
        heavy: Arc::new(Gate::new(HEAVY_CALLS, options.heavy_queue)),
        logins: Arc::new(Gate::new(LOGIN_CALLS, LOGIN_QUEUE)),
    };
    let xmlrpc = crate::xmlrpc::router(service.clone(), gates.clone(), MAX_BODY, options.wide_int);
    let json = crate::api::router(service.clone(), gates.clone(), options.max_streams);
    let metrics =
        crate::metrics::router(service.clone(), crate::metrics::Access::FollowsAuth, gates);
    let health = Router::new()
        .route("/healthz", get(healthz))
        .with_state(service);
    xmlrpc
        .merge(health)
        .merge(json)
        .merge(metrics)
        .merge(crate::web::router())
        .layer(DefaultBodyLimit::disable())
        // The connection layer refuses a larger body before reading it
        // (`net::inbound`); this limit stays for the router driven in process.
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        // Outermost: a foreign Host learns nothing, not even which routes exist.
        .layer(middleware::from_fn_with_state(
            Arc::new(options.allowed_hosts),
            hosts::guard,
        ))
}

/// What the `--metrics-listen` listener serves: `/metrics` alone, open to
/// scrapers, behind the same Host guard as everything else.
pub fn metrics_app(service: Service, allowed_hosts: AllowedHosts) -> Router {
    // A gate of its own: scrapers, who need no login, cannot take the API's slots.
    let gate = Arc::new(Gate::new(1, 4));
    let gates = Gates {
        heavy: Arc::clone(&gate),
        logins: gate,
    };
    crate::metrics::router(service, crate::metrics::Access::Open, gates).layer(
        middleware::from_fn_with_state(Arc::new(allowed_hosts), hosts::guard),
    )
}

/// 200 once the mirror is live. While the first dump loads, 503 with
/// `Retry-After` and the progress: the answers hold only part of the table,
/// so a readiness check (or a load balancer) should wait.
async fn healthz(State(service): State<Service>) -> Response {
    let table = service.table();
    if table.is_live() {
        (StatusCode::OK, "ok\n").into_response()
    } else if let Some(l) = table.loading() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "1")],
            format!("table mirror is loading: {} of {}\n", l.loaded, l.expected),
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "table mirror is not live\n",
        )
            .into_response()
    }
}
