//! The JSON API under `/api/v1`: the same typed service as XML-RPC, with a
//! session cookie and CSRF tokens for browsers, Server-Sent Events for live
//! pages, and an OpenAPI document built from the very handlers that serve.
//! No rule of its own: every check is the service's.

mod connections;
mod error;
mod events;
mod query;
mod session;
mod sessions;
mod table;

use std::sync::Arc;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::edge::{self, Front};
use crate::gate::{Gate, Gates, Refused};
use crate::service::Service;

pub use error::{ErrorBody, JsonError};

/// What every JSON handler gets.
#[derive(Debug, Clone)]
pub struct JsonApi {
    service: Service,
    gates: Gates,
    csrf: session::Csrf,
    events: events::Feed,
}

impl JsonApi {
    /// Runs blocking service work off the executor, sharing the heavy-call
    /// gate with XML-RPC.
    async fn heavy<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Service) -> Result<T, JsonError> + Send + 'static,
    ) -> Result<T, JsonError> {
        self.gated(&self.gates.heavy, work).await
    }

    /// Checks a password off the executor, through the login gate it shares
    /// with XML-RPC.
    async fn login<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Service) -> Result<T, JsonError> + Send + 'static,
    ) -> Result<T, JsonError> {
        self.gated(&self.gates.logins, work).await
    }

    async fn gated<T: Send + 'static>(
        &self,
        gate: &Gate,
        work: impl FnOnce(&Service) -> Result<T, JsonError> + Send + 'static,
    ) -> Result<T, JsonError> {
        let service = self.service.clone();
        match gate.run(move || work(&service)).await {
            Ok(answer) => answer,
            Err(Refused::Overloaded) => Err(JsonError::Overloaded),
            Err(Refused::Failed(e)) => {
                Err(JsonError::Service(crate::service::ApiError::Internal(e)))
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "nfctd JSON API",
        description = "The Netfilter connection-tracking table: sessions, connections, actions, statistics and live events. Filters use the same language as the XML-RPC API."
    ),
    components(schemas(ErrorBody))
)]
struct Doc;

/// The `/api/v1` routes and their OpenAPI document, from one list.
fn routes(api: JsonApi) -> (Router, utoipa::openapi::OpenApi) {
    let v1 = OpenApiRouter::new()
        .routes(routes!(sessions::login, sessions::whoami, sessions::logout))
        .routes(routes!(connections::list))
        .routes(routes!(connections::kill_one, connections::change))
        .routes(routes!(connections::kill_matching))
        .routes(routes!(table::stats))
        .routes(routes!(table::set_autorefresh))
        .routes(routes!(table::refresh))
        .routes(routes!(events::stream))
        .with_state(api);
    OpenApiRouter::with_openapi(Doc::openapi())
        .nest(PREFIX, v1)
        .split_for_parts()
}

/// Where the JSON API lives.
pub const PREFIX: &str = "/api/v1";

/// The JSON API's router, mounted under `/api/v1` (with
/// `/api/v1/openapi.json`), over `service`, sharing `gates` with XML-RPC.
/// At most `max_streams` event streams are open at once.
pub fn router(service: Service, gates: Gates, max_streams: usize) -> Router {
    let api = JsonApi {
        events: events::Feed::new(service.clone(), events::Streams::new(max_streams)),
        service,
        gates,
        csrf: session::Csrf::new(),
    };
    let usage = api.service.usage().clone();
    let (routes, doc) = routes(api);
    let doc = Arc::new(doc);
    // Added after the count: fetching the document is no API call.
    edge::count_routes(routes, usage, Front::Json).route(
        "/api/v1/openapi.json",
        axum::routing::get(move || {
            let doc = Arc::clone(&doc);
            async move { axum::Json((*doc).clone()) }
        }),
    )
}
