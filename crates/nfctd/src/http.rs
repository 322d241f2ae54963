//! The HTTP surface: routes (`POST /RPC2`, `POST /`, `GET /healthz`, the JSON
//! API, the web UI at `GET /`), body limit and request timeout, and serving on
//! already-bound listeners.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Semaphore;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::service::Service;
use crate::xmlrpc::{self, dispatch, Fault, FaultCode, Limits, WideInt};

/// Largest request body accepted (XML-RPC calls are small; a bigger body is refused with 413).
pub const MAX_BODY: usize = 1024 * 1024;
/// A request that takes longer is answered 408 (work already started finishes).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Heavy calls (kernel requests, scans of the whole table) running at once;
/// more wait their turn, so a burst of them cannot pile up threads and memory.
pub const HEAVY_CALLS: usize = 8;

/// What every handler gets: the service, the gate for heavy calls, and how
/// XML-RPC writes integers beyond 32 bits.
#[derive(Debug, Clone)]
pub struct Api {
    service: Service,
    heavy: Arc<Semaphore>,
    wide_int: WideInt,
}

/// The router, over a service; tests drive it in-process.
pub fn app(service: Service, wide_int: WideInt) -> Router {
    let heavy = Arc::new(Semaphore::new(HEAVY_CALLS));
    let json = crate::api::router(service.clone(), Arc::clone(&heavy));
    let api = Api {
        service,
        heavy,
        wide_int,
    };
    Router::new()
        .route("/RPC2", post(xmlrpc_call))
        .route("/", post(xmlrpc_call))
        .route("/healthz", get(healthz))
        .with_state(api)
        .merge(json)
        .merge(crate::web::router())
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
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

/// The client's address, when the server recorded it (in-process tests do not).
fn peer(parts: &Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

async fn xmlrpc_call(State(api): State<Api>, parts: Parts, body: Bytes) -> Response {
    let peer = peer(&parts);
    let limits = Limits {
        max_body: MAX_BODY,
        ..Limits::default()
    };
    let service = api.service.clone();
    let wide = api.wide_int;
    let xml = if body.len() <= INLINE_BODY {
        match xmlrpc::parse_call(&body, &limits) {
            Ok(call) if dispatch::is_quick(&call.name) => answer(&service, &call, peer, wide),
            Ok(call) => blocking(&api.heavy, move || answer(&service, &call, peer, wide)).await,
            Err(e) => xmlrpc::render_fault(&e.into()),
        }
    } else {
        blocking(&api.heavy, move || {
            match xmlrpc::parse_call(&body, &limits) {
                Ok(call) => answer(&service, &call, peer, wide),
                Err(e) => xmlrpc::render_fault(&e.into()),
            }
        })
        .await
    };
    ([(header::CONTENT_TYPE, "text/xml")], xml).into_response()
}

/// Kernel requests and scans of big tables block: keep them off the executor,
/// at most [`HEAVY_CALLS`] at a time. The permit goes with the work: if the
/// request times out, the work still runs to its end (what was sent to the
/// kernel is not undone) and keeps its slot until then.
async fn blocking(gate: &Arc<Semaphore>, work: impl FnOnce() -> String + Send + 'static) -> String {
    // The semaphore is never closed, so acquiring only waits.
    let Ok(permit) = Arc::clone(gate).acquire_owned().await else {
        return xmlrpc::render_fault(&Fault::internal());
    };
    tokio::task::spawn_blocking(move || {
        let answer = work();
        drop(permit);
        answer
    })
    .await
    .unwrap_or_else(|e| {
        tracing::error!(error = %e, "request handler failed");
        xmlrpc::render_fault(&Fault::internal())
    })
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
            xmlrpc::render_fault(&fault)
        }
    }
}

/// Serves `app` on every listener until `shutdown` resolves.
pub async fn serve(
    app: Router,
    listeners: Vec<std::net::TcpListener>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    for listener in listeners {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let mut stop = stop_rx.clone();
        let app = app.clone();
        servers.push(tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
        }));
    }
    shutdown.await;
    let _ = stop_tx.send(true);
    for server in servers {
        server.await.map_err(std::io::Error::other)??;
    }
    Ok(())
}
