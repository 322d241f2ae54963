//! The JSON API as the web page speaks it: the session cookie from the
//! login's `Set-Cookie`, the CSRF token from its body sent back with every
//! change.

use axum::http::{header, StatusCode};
use serde_json::Value as Json;

use super::{request, text, Daemon};

/// A logged-in JSON client.
#[derive(Debug, Clone)]
pub struct Session {
    /// `name=value` of the session cookie.
    pub cookie: String,
    pub csrf: String,
}

/// A JSON reply: its status and body (`Null` when empty).
pub type Reply = (StatusCode, Json);

impl Daemon {
    /// `method path` with `body`, as `session` (if any) with its cookie and
    /// CSRF token.
    pub async fn json(
        &self,
        method: &str,
        path: &str,
        session: Option<&Session>,
        body: Option<Json>,
    ) -> Reply {
        let mut call = request(method, path);
        if let Some(session) = session {
            call = call
                .header(header::COOKIE, &session.cookie)
                .header("x-csrf-token", &session.csrf);
        }
        if body.is_some() {
            call = call.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let response = self.send(call.body(body.into()).unwrap()).await;
        let status = response.status();
        let text = text(response).await;
        let json = if text.is_empty() {
            Json::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        };
        (status, json)
    }

    /// `GET path` as `session`.
    pub async fn get(&self, path: &str, session: &Session) -> Reply {
        self.json("GET", path, Some(session), None).await
    }

    /// `POST /api/v1/session` with `body`: the session, or the refusal.
    pub async fn json_login(&self, body: Json) -> Result<Session, Reply> {
        let login = request("POST", "/api/v1/session")
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string().into())
            .unwrap();
        let response = self.send(login).await;
        let status = response.status();
        let cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_string);
        let text = text(response).await;
        let json: Json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        match (status, cookie, json["csrf_token"].as_str()) {
            (StatusCode::OK, Some(cookie), Some(csrf)) => Ok(Session {
                cookie,
                csrf: csrf.to_string(),
            }),
            _ => Err((status, json)),
        }
    }
}

/// A refusal's status and the stable word that names it (`error.code`).
pub fn refusal(reply: &Reply) -> (StatusCode, &str) {
    (reply.0, reply.1["error"]["code"].as_str().unwrap_or(""))
}

/// The ids of a connections page, in order.
pub fn ids(page: &Json) -> Vec<u64> {
    page["connections"]
        .as_array()
        .unwrap_or_else(|| panic!("no connections in {page}"))
        .iter()
        .map(|row| row["id"].as_u64().unwrap())
        .collect()
}
