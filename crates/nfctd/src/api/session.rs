//! The JSON front's sessions: the session cookie (the edge's) carries the
//! session id; every state-changing request also carries a CSRF token, an
//! HMAC of the session id under a key only this process knows.

use axum::http::HeaderMap;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::JsonError;
use crate::service::ApiError;

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
    crate::edge::session_id(headers)
        .map(str::to_string)
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
    fn no_cookie_is_no_session() {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            axum::http::HeaderValue::from_static("a=1; nfctd_session=abc"),
        );
        assert_eq!(session_id(&h).unwrap(), "abc");
        assert!(matches!(
            session_id(&HeaderMap::new()),
            Err(JsonError::Service(ApiError::BadSession))
        ));
    }
}
