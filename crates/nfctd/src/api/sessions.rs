//! `/session`: log in (sets the cookie, returns the CSRF token), who am I,
//! log out.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ErrorBody, JsonError};
use super::session::{session_for_change, session_id};
use super::JsonApi;
use crate::edge::{clear_cookie, over_tls, peer, set_cookie};
use crate::service::{Credentials, SessionInfo};

/// Login arguments; both may be left out with `--auth none`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub user: Option<String>,
    pub password: Option<String>,
}

/// A session as the page needs it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    #[serde(flatten)]
    pub info: SessionInfo,
    /// Send it back in `X-CSRF-Token` with every state-changing request.
    pub csrf_token: String,
}

/// Reads a JSON body into `T`, naming what was wrong (never quoting it).
pub(super) fn body<T: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, JsonError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        // serde_json's messages may quote the offending value: keep only
        // the kind of error and where it is.
        let why = match e.classify() {
            serde_json::error::Category::Data => "a field has the wrong type or name",
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "not well-formed JSON"
            }
            serde_json::error::Category::Io => "unreadable",
        };
        JsonError::invalid(
            "body",
            format!("{why} (line {}, column {})", e.line(), e.column()),
        )
    })
}

/// Log in.
#[utoipa::path(post, path = "/session", request_body = Login, tag = "session",
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = SessionView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 503, description = "Too many logins waiting to be checked; retry after Retry-After", body = ErrorBody)))]
pub async fn login(
    State(api): State<JsonApi>,
    parts: Parts,
    bytes: axum::body::Bytes,
) -> Result<Response, JsonError> {
    let login: Login = body(&bytes)?;
    let credentials = Credentials {
        user: login.user,
        password: login.password,
    };
    let peer = peer(&parts);
    let secure = over_tls(&parts);
    let (sid, info) = api
        .login(move |service| {
            let sid = service.login(&credentials, peer)?;
            let info = service.whoami(&sid.0)?;
            Ok((sid, info))
        })
        .await?;
    let view = SessionView {
        info,
        csrf_token: api.csrf.token(&sid.0),
    };
    let mut response = Json(view).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&sid.0, secure));
    Ok(response)
}

/// The current session.
#[utoipa::path(get, path = "/session", tag = "session",
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody)))]
pub async fn whoami(
    State(api): State<JsonApi>,
    headers: HeaderMap,
) -> Result<Json<SessionView>, JsonError> {
    let sid = session_id(&headers)?;
    let info = api.service.whoami(&sid)?;
    Ok(Json(SessionView {
        info,
        csrf_token: api.csrf.token(&sid),
    }))
}

/// Log out.
#[utoipa::path(delete, path = "/session", tag = "session",
    responses((status = 204, description = "Logged out; the cookie is cleared"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn logout(State(api): State<JsonApi>, headers: HeaderMap) -> Result<Response, JsonError> {
    let sid = session_for_change(&headers, &api.csrf)?;
    api.service.logout(&sid)?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_cookie())],
    )
        .into_response())
}
