//! The JSON front's sessions: an HttpOnly, SameSite=Strict cookie carries the
//! session id; every state-changing request also carries a CSRF token, an
//! HMAC of the session id under a key only this process knows.

use axum::http::{header, HeaderMap, HeaderValue};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::JsonError;
use crate::service::ApiError;

/// The cookie's name.
pub const COOKIE: &str = "nfctd_session";
/// The header a state-changing request carries its token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Makes and checks CSRF tokens.
#[derive(Clone)]
pub struct Csrf {
    key: [u8; 32],
}

impl std::fmt::Debug for Csrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Csrf { .. }")
    }
}

impl Csrf {
    /// A fresh random key: tokens die with the process, like sessions.
    pub fn new() -> Csrf {
        Csrf {
            key: rand::random(),
        }
    }

    /// The token of session `sid`.
    pub fn token(&self, sid: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(sid.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn matches(&self, sid: &str, token: &str) -> bool {
        self.token(sid).as_bytes().ct_eq(token.as_bytes()).into()
    }
}

impl Default for Csrf {
    fn default() -> Self {
        Csrf::new()
    }
}

/// The session id from the request's cookie; no cookie is "no session".
pub fn session_id(headers: &HeaderMap) -> Result<String, JsonError> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .ok_or(JsonError::Service(ApiError::BadSession))
}

/// The session id of a state-changing request, checked against its CSRF token.
pub fn session_for_change(headers: &HeaderMap, csrf: &Csrf) -> Result<String, JsonError> {
    let sid = session_id(headers)?;
    let token = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if csrf.matches(&sid, token) {
        Ok(sid)
    } else {
        Err(JsonError::Csrf)
    }
}

/// The client's address, when the server recorded it (in-process tests do not).
pub fn peer(parts: &axum::http::request::Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip())
}

/// `Set-Cookie` for a new session: not readable by scripts, never sent by
/// another site's requests, and over HTTPS never sent over plain HTTP
/// (cookies ignore ports and schemes, so a plain listener on the same host
/// would otherwise receive it).
pub fn set_cookie(sid: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={sid}; Path=/; HttpOnly; SameSite=Strict{secure}");
    // A session id is 32 hex digits: always a valid header value.
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("nfctd_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_to_the_session_and_the_process() {
        let csrf = Csrf::new();
        let t = csrf.token("aa");
        assert_eq!(t.len(), 64);
        assert!(csrf.matches("aa", &t));
        assert!(!csrf.matches("ab", &t));
        assert!(!csrf.matches("aa", ""));
        assert!(!Csrf::new().matches("aa", &t));
    }

    #[test]
    fn the_cookie_is_secure_over_tls_only() {
        let over_tls = set_cookie("ab", true);
        assert!(over_tls
            .to_str()
            .unwrap()
            .ends_with("HttpOnly; SameSite=Strict; Secure"));
        assert!(!set_cookie("ab", false).to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; nfctd_session=abc; b=2"),
        );
        assert_eq!(session_id(&h).unwrap(), "abc");
        assert!(session_id(&HeaderMap::new()).is_err());
    }
}
