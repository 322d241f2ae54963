//! The session cookie: its name and attributes, reading it from a request,
//! setting and clearing it. What a session id may do is the service's; the
//! JSON API's CSRF tokens are the JSON API's.

use axum::http::{header, HeaderMap, HeaderValue};

/// The cookie's name.
const COOKIE: &str = "nfctd_session";

/// The session id in the request's cookie, if it carries one: the first
/// `nfctd_session` among all its `Cookie` headers. Cookies of other services
/// on the same host name are passed over, as is a header that is not text.
pub fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cookies(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::COOKIE, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let h = cookies(&["a=1; nfctd_session=abc; b=2"]);
        assert_eq!(session_id(&h), Some("abc"));
        assert_eq!(session_id(&HeaderMap::new()), None);
    }

    #[test]
    fn every_cookie_header_is_read_and_the_first_match_wins() {
        let h = cookies(&["a=1", "nfctd_session=first", "nfctd_session=second"]);
        assert_eq!(session_id(&h), Some("first"));
        let h = cookies(&["nfctd_session=one; nfctd_session=two"]);
        assert_eq!(session_id(&h), Some("one"));
    }

    #[test]
    fn only_the_exact_name_matches() {
        let h = cookies(&["xnfctd_session=a; nfctd_session_old=b; NFCTD_SESSION=c"]);
        assert_eq!(session_id(&h), None);
        let h = cookies(&["nfctd_session"]);
        assert_eq!(session_id(&h), None, "a pair without '=' is no cookie");
    }

    #[test]
    fn spaces_around_pairs_go_and_values_stay_whole() {
        let h = cookies(&["  a=1 ;   nfctd_session=ab=cd ; b=2"]);
        assert_eq!(session_id(&h), Some("ab=cd"));
        let h = cookies(&["nfctd_session="]);
        assert_eq!(
            session_id(&h),
            Some(""),
            "empty: a session the service will not know"
        );
    }

    #[test]
    fn a_header_that_is_not_text_is_passed_over() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_bytes(b"nfctd_session=\xff").unwrap(),
        );
        h.append(header::COOKIE, HeaderValue::from_static("nfctd_session=ok"));
        assert_eq!(session_id(&h), Some("ok"));
    }

    #[test]
    fn the_cookie_is_secure_over_tls_only() {
        let over_tls = set_cookie("ab", true);
        assert_eq!(
            over_tls.to_str().unwrap(),
            "nfctd_session=ab; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        assert_eq!(
            set_cookie("ab", false).to_str().unwrap(),
            "nfctd_session=ab; Path=/; HttpOnly; SameSite=Strict"
        );
    }

    #[test]
    fn clearing_names_the_same_cookie_and_what_it_sets() {
        let cleared = clear_cookie();
        let cleared = cleared.to_str().unwrap();
        assert!(cleared.starts_with(&format!("{COOKIE}=;")));
        let set = set_cookie("", false);
        let set = set.to_str().unwrap();
        assert_eq!(cleared, format!("{set}; Max-Age=0"));
    }
}
