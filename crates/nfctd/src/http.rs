//! The HTTP surface: the XML-RPC routes (`POST /RPC2`, `POST /`), `GET
//! /healthz`, the JSON API, the web UI and `/metrics` merged in, the
//! Host/Origin guard, body limit and request timeout. Connections and
//! listeners are `net`'s; the heavy-call gate is `gate`'s.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::gate::{Gate, Gates, Refused};
use crate::hosts::{self, AllowedHosts};
use crate::service::Service;
use crate::xmlrpc::{self, dispatch, Cost, Fault, FaultCode, Limits, WideInt};

/// Largest request body accepted; the connection layer reads bodies (see
/// `net::inbound`), the layer below stays for the router driven in process.
pub use crate::net::inbound::MAX_BODY;
/// What `Retry-After` says to a call refused for overload, in seconds.
pub use crate::net::inbound::RETRY_AFTER;

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

/// What every handler gets: the service, the gates for heavy calls and
/// logins, and how XML-RPC writes integers beyond 32 bits.
#[derive(Debug, Clone)]
pub struct Api {
    service: Service,
    gates: Gates,
    wide_int: WideInt,
}

/// The router, over a service.
pub fn app_with(service: Service, options: AppOptions) -> Router {
    let gates = Gates {
        heavy: Arc::new(Gate::new(HEAVY_CALLS, options.heavy_queue)),
        logins: Arc::new(Gate::new(LOGIN_CALLS, LOGIN_QUEUE)),
    };
    let json = crate::api::router(service.clone(), gates.clone(), options.max_streams);
    let metrics = crate::metrics::router(
        service.clone(),
        crate::metrics::Access::FollowsAuth,
        gates.clone(),
    );
    let api = Api {
        service,
        gates,
        wide_int: options.wide_int,
    };
    Router::new()
        .route("/RPC2", post(xmlrpc_call))
        .route("/", post(xmlrpc_call))
        .route("/healthz", get(healthz))
        .with_state(api)
        .merge(json)
        .merge(metrics)
        .merge(crate::web::router())
        .layer(DefaultBodyLimit::disable())
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

/// The heavy-call queue is full: answered 503 with `Retry-After`, whatever the front.
#[derive(Debug, Clone, Copy)]
pub struct Overloaded;

impl IntoResponse for Overloaded {
    fn into_response(self) -> Response {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, RETRY_AFTER)],
            "overloaded: too many heavy calls waiting; retry later\n",
        )
            .into_response()
    }
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

async fn healthz(State(api): State<Api>) -> Response {
    if api.service.mirror().is_live() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "table mirror is not live\n",
        )
            .into_response()
    }
}

/// Bodies up to this size are parsed on the executor: parsing them costs
/// microseconds, less than a hand-over to a blocking thread.
const INLINE_BODY: usize = 16 * 1024;

async fn xmlrpc_call(State(api): State<Api>, parts: Parts, body: Bytes) -> Response {
    let peer = crate::api::peer(&parts);
    let limits = Limits {
        max_body: MAX_BODY,
        ..Limits::default()
    };
    let service = api.service.clone();
    let wide = api.wide_int;
    let parsed = if body.len() <= INLINE_BODY {
        Ok(xmlrpc::parse_call(&body, &limits))
    } else {
        // A large body is parsed off the executor, holding a heavy slot for
        // the parse only: the call then goes where its cost says.
        api.gates
            .heavy
            .run(move || xmlrpc::parse_call(&body, &limits))
            .await
    };
    let xml = match parsed {
        Err(refused) => gate_refusal(refused),
        Ok(Err(e)) => Ok(Fault::from(e).render()),
        Ok(Ok(call)) => match dispatch::cost(&call.name) {
            Cost::Quick => Ok(answer(&service, &call, peer, wide)),
            Cost::Login => {
                blocking(&api.gates.logins, move || {
                    answer(&service, &call, peer, wide)
                })
                .await
            }
            Cost::Heavy => {
                blocking(&api.gates.heavy, move || {
                    answer(&service, &call, peer, wide)
                })
                .await
            }
        },
    };
    match xml {
        Ok(xml) => ([(header::CONTENT_TYPE, "text/xml")], xml).into_response(),
        Err(overloaded) => overloaded.into_response(),
    }
}

/// Kernel requests and scans of big tables block: through the gate, off the
/// executor.
async fn blocking(
    gate: &Gate,
    work: impl FnOnce() -> String + Send + 'static,
) -> Result<String, Overloaded> {
    gate.run(work).await.or_else(gate_refusal)
}

/// What a caller gets when its gated work did not run or did not finish.
fn gate_refusal(refused: Refused) -> Result<String, Overloaded> {
    match refused {
        Refused::Overloaded => Err(Overloaded),
        Refused::Failed(e) => {
            tracing::error!(error = %e, "request handler failed");
            Ok(Fault::internal().render())
        }
    }
}

fn answer(
    service: &Service,
    call: &xmlrpc::MethodCall,
    peer: Option<std::net::IpAddr>,
    wide: WideInt,
) -> String {
    match dispatch::dispatch(service, call, peer) {
        Ok(value) => xmlrpc::render_response(&value, wide),
        Err(fault) => {
            if fault.code == FaultCode::Internal {
                tracing::error!(method = %call.name, error = %fault.message, "internal error");
            }
            fault.render()
        }
    }
}
