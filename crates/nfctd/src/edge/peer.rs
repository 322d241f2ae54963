//! What a request carries about its connection: the client's address and
//! whether it came over TLS. The connection layer marks every request with
//! [`mark`] and routes read the marks here, so only this module knows how
//! they are kept.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::Extensions;

/// Marks a request that came over TLS.
#[derive(Debug, Clone, Copy)]
struct OverTls;

/// Marks a request as coming from `peer`, over TLS or not.
pub fn mark(extensions: &mut Extensions, peer: SocketAddr, tls: bool) {
    extensions.insert(ConnectInfo(peer));
    if tls {
        extensions.insert(OverTls);
    }
}

/// The client's address, when the server recorded it (a router driven in
/// process has no connection to record).
pub fn peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

/// Whether the request came over TLS (the session cookie is then `Secure`).
pub fn over_tls(parts: &Parts) -> bool {
    parts.extensions.get::<OverTls>().is_some()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parts(extensions: Extensions) -> Parts {
        let (mut parts, ()) = axum::http::Request::new(()).into_parts();
        parts.extensions = extensions;
        parts
    }

    fn marked(peer: &str, tls: bool) -> Parts {
        let mut extensions = Extensions::new();
        mark(&mut extensions, peer.parse().unwrap(), tls);
        parts(extensions)
    }

    #[test]
    fn a_marked_request_names_its_peer_and_transport() {
        let over_https = marked("[2001:db8::7]:4431", true);
        assert_eq!(peer(&over_https), Some("2001:db8::7".parse().unwrap()));
        assert!(over_tls(&over_https));
        let over_http = marked("192.0.2.1:80", false);
        assert_eq!(peer(&over_http), Some("192.0.2.1".parse().unwrap()));
        assert!(!over_tls(&over_http));
    }

    #[test]
    fn axums_connect_info_is_read_as_the_peer() {
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo::<SocketAddr>("198.51.100.9:1".parse().unwrap()));
        assert_eq!(
            peer(&parts(extensions)),
            Some("198.51.100.9".parse().unwrap())
        );
    }

    #[test]
    fn an_unmarked_request_has_no_peer() {
        let parts = parts(Extensions::new());
        assert_eq!(peer(&parts), None);
        assert!(!over_tls(&parts));
    }
}
