//! `/connections`: one page (filtered, sorted), kill one, change one, kill
//! every match.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ErrorBody, JsonError};
use super::query;
use super::session::{session_for_change, session_id};
use super::sessions::body;
use super::JsonApi;
use crate::service::{Killed, Setting, ViewPage};

/// The query parameters of a connections list. Any connection key (see the
/// `Connection` schema, and `addr`, `port`, `q`) is also a filter, in the
/// XML-RPC API's filter language; a comma lists values, any of which matches.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; `query::parse` reads them
pub struct ListParams {
    /// Any connection key; empty means `id`.
    order_by: Option<String>,
    /// `asc` or `desc`, any case.
    order_dir: Option<String>,
    /// First row, from 0.
    start: Option<u64>,
    /// Rows in the page, 0 to `--max-page` (0: only the totals); default 100.
    length: Option<u64>,
    /// Free text: addresses, ports, protocol, state, user.
    q: Option<String>,
    /// `tcp`, `udp`, ... (comma: any of).
    proto: Option<String>,
    /// An address or CIDR prefix matched against all four addresses.
    addr: Option<String>,
    /// A port, `LO-HI` range or list, matched against all four ports.
    port: Option<String>,
    /// A TCP/SCTP/DCCP state name.
    state: Option<String>,
}

/// One page of connections.
#[utoipa::path(get, path = "/connections", tag = "connections", params(ListParams),
    responses((status = 200, body = ViewPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(api): State<JsonApi>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<ViewPage>, JsonError> {
    let sid = session_id(&headers)?;
    let request = query::parse(raw.as_deref(), api.service.max_page())?;
    let page = api
        .heavy(move |service| Ok(service.view(&sid, &request)?))
        .await?;
    Ok(Json(page))
}

/// Kill one connection.
#[utoipa::path(delete, path = "/connections/{id}", tag = "connections",
    params(("id" = u32, Path, description = "The connection id, as `view` gives it")),
    responses((status = 200, body = Killed), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn kill_one(
    State(api): State<JsonApi>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Killed>, JsonError> {
    let sid = session_for_change(&headers, &api.csrf)?;
    let id = connection_id(&id)?;
    let killed = api
        .heavy(move |service| Ok(service.kill(&sid, &[id])?))
        .await?;
    Ok(Json(killed))
}

/// What to change on a connection: a mark, a timeout, or both.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// The connmark, 0 to 4294967295.
    pub mark: Option<u32>,
    /// Seconds until the entry expires.
    pub timeout: Option<u32>,
}

/// Change a connection's mark and/or timeout.
#[utoipa::path(patch, path = "/connections/{id}", tag = "connections", request_body = Change,
    params(("id" = u32, Path, description = "The connection id")),
    responses((status = 204, description = "Changed"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn change(
    State(api): State<JsonApi>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<axum::http::StatusCode, JsonError> {
    let sid = session_for_change(&headers, &api.csrf)?;
    let id = connection_id(&id)?;
    let change: Change = body(&bytes)?;
    let settings: Vec<Setting> = [
        change.mark.map(Setting::Mark),
        change.timeout.map(Setting::Timeout),
    ]
    .into_iter()
    .flatten()
    .collect();
    if settings.is_empty() {
        return Err(JsonError::invalid("body", "give mark, timeout or both"));
    }
    api.heavy(move |service| {
        for setting in settings {
            service.change(&sid, id, setting)?;
        }
        Ok(())
    })
    .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// How many connections a kill removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct KilledCount {
    pub killed: usize,
}

/// Kill every connection the filter (query parameters, as for the list)
/// selects; a filter that constrains nothing is refused.
#[utoipa::path(post, path = "/connections/kill", tag = "connections", params(ListParams),
    responses((status = 200, body = KilledCount), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn kill_matching(
    State(api): State<JsonApi>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<KilledCount>, JsonError> {
    let sid = session_for_change(&headers, &api.csrf)?;
    let filter = query::parse(raw.as_deref(), api.service.max_page())?.filter;
    let killed = api
        .heavy(move |service| Ok(service.kill_matching(&sid, &filter)?))
        .await?;
    Ok(Json(KilledCount { killed }))
}

fn connection_id(text: &str) -> Result<u32, JsonError> {
    text.parse().map_err(|_| {
        JsonError::invalid("id", "not a connection id (a decimal number 0..4294967295)")
    })
}
