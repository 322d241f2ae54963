//! The table as a whole: statistics, autorefresh, refresh.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ErrorBody, JsonError};
use super::session::{session_for_change, session_id};
use super::sessions::body;
use super::JsonApi;
use crate::service::Stats;

/// Table size and limit, counts, kernel and mirror counters.
#[utoipa::path(get, path = "/stats", tag = "table",
    responses((status = 200, body = Stats), (status = 401, body = ErrorBody)))]
pub async fn stats(
    State(api): State<JsonApi>,
    headers: HeaderMap,
) -> Result<Json<Stats>, JsonError> {
    let sid = session_id(&headers)?;
    let stats = api.heavy(move |service| Ok(service.stats(&sid)?)).await?;
    Ok(Json(stats))
}

/// Autorefresh on (the live table) or off (a frozen snapshot).
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Autorefresh {
    pub on: bool,
}

/// Turn autorefresh on or off.
#[utoipa::path(put, path = "/autorefresh", tag = "table", request_body = Autorefresh,
    responses((status = 200, body = Autorefresh), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn set_autorefresh(
    State(api): State<JsonApi>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Result<Json<Autorefresh>, JsonError> {
    let sid = session_for_change(&headers, &api.csrf)?;
    let wanted: Option<Autorefresh> = if bytes.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(body(&bytes)?)
    };
    let on = wanted
        .ok_or_else(|| JsonError::invalid("on", "missing: send {\"on\": true} or {\"on\": false}"))?
        .on;
    api.service.set_autorefresh(&sid, on)?;
    Ok(Json(Autorefresh { on }))
}

/// Reconcile with the kernel; with autorefresh off, take a new snapshot.
#[utoipa::path(post, path = "/refresh", tag = "table",
    responses((status = 204, description = "Refreshed"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn refresh(
    State(api): State<JsonApi>,
    headers: HeaderMap,
) -> Result<StatusCode, JsonError> {
    let sid = session_for_change(&headers, &api.csrf)?;
    api.heavy(move |service| Ok(service.refresh(&sid)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}
