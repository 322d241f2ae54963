//! The DNS-rebinding and cross-site guard: which `Host` and `Origin` values a
//! request may carry, as an axum middleware in front of every route.
//!
//! A web page the administrator opens can rebind its own name to 127.0.0.1
//! and then talk to the daemon as a same-origin page, or post a `text/plain`
//! form across sites. So, as Jupyter and Transmission did after their
//! rebinding CVEs: the `Host` must be a loopback name or address, a listen
//! address, or a name the administrator allowed; and a POST whose `Origin` is
//! present must come from such a host too. A request without `Origin` is from
//! a non-browser client and is fine.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use nfctd_table::clip;

/// The hosts a request may name.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    /// `--allowed-host` names, lower case, without a trailing dot.
    names: Vec<String>,
    /// The listen addresses' IPs.
    addrs: Vec<IpAddr>,
    /// A listen address is a wildcard (0.0.0.0, ::): any of this machine's
    /// addresses may be in `Host`. An address literal cannot be rebound, so
    /// admitting them all opens nothing to a rebinding page.
    any_addr: bool,
}

impl AllowedHosts {
    pub fn new(listen: &[SocketAddr], names: &[String]) -> AllowedHosts {
        AllowedHosts {
            names: names.iter().map(|n| normalise(n)).collect(),
            addrs: listen.iter().map(SocketAddr::ip).collect(),
            any_addr: listen.iter().any(|a| a.ip().is_unspecified()),
        }
    }

    /// Whether `authority` (`host`, `host:port`, `[v6]`, `[v6]:port`) is allowed.
    pub fn allows(&self, authority: &str) -> bool {
        let Some(host) = host_of(authority) else {
            return false;
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            return ip.is_loopback() || self.any_addr || self.addrs.contains(&ip);
        }
        let host = normalise(host);
        host == "localhost" || self.names.contains(&host)
    }
}

fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The host part of an authority, without port or IPv6 brackets.
fn host_of(authority: &str) -> Option<&str> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        return (after.is_empty() || is_port(after.strip_prefix(':')?)).then_some(v6);
    }
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if is_port(port) => host,
        Some(_) => return None,
        None => authority,
    };
    (!host.is_empty() && !host.contains(['/', '@', ' '])).then_some(host)
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The host part of an `Origin` (`scheme://host[:port]`); `null` has none.
fn origin_authority(origin: &str) -> Option<&str> {
    let (_, rest) = origin.split_once("://")?;
    Some(rest.trim_end_matches('/'))
}

/// The middleware: 403 for a foreign `Host`, or for a request that changes
/// something (any method but GET, HEAD, OPTIONS) from another origin.
pub async fn guard(State(allowed): State<Arc<AllowedHosts>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .map(|h| h.to_str().unwrap_or("\u{fffd}"))
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    // No Host at all is an HTTP/1.0 client, never a browser.
    if let Some(host) = host {
        if !allowed.allows(host) {
            tracing::info!(host = %clip::quoted(host), "refused: Host is not an allowed name");
            return refuse("the Host header names no allowed host (see --allowed-host)");
        }
    }
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("\u{fffd}");
            // Same origin: the page that sends it was served by this very
            // host and port, not by another site or another local service.
            let same = origin_authority(origin).is_some_and(|a| {
                allowed.allows(a) && host.is_none_or(|h| normalise(a) == normalise(h))
            });
            if !same {
                tracing::info!(origin = %clip::quoted(origin), "refused: cross-site Origin");
                return refuse("cross-site request refused (Origin is not an allowed host)");
            }
        }
    }
    next.run(req).await
}

fn refuse(why: &'static str) -> Response {
    (StatusCode::FORBIDDEN, format!("forbidden: {why}\n")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> AllowedHosts {
        AllowedHosts::new(
            &["192.0.2.7:8020".parse().unwrap()],
            &["Nfctd.Example.".to_string()],
        )
    }

    #[test]
    fn loopback_listen_and_named_hosts_pass() {
        let a = allowed();
        for host in [
            "localhost",
            "LOCALHOST:8020",
            "localhost.",
            "127.0.0.1",
            "127.3.4.5:1",
            "[::1]",
            "[::1]:8020",
            "192.0.2.7:8020",
            "nfctd.example",
            "nfctd.example.:443",
        ] {
            assert!(a.allows(host), "{host}");
        }
    }

    #[test]
    fn foreign_and_malformed_hosts_fail() {
        let a = allowed();
        for host in [
            "attacker.example",
            "localhost.attacker.example",
            "192.0.2.8",
            "[2001:db8::1]:80",
            "",
            ":80",
            "localhost:http",
            "user@localhost",
            "[::1",
            "::1",
        ] {
            assert!(!a.allows(host), "{host}");
        }
    }

    #[test]
    fn a_wildcard_listener_admits_address_literals_not_names() {
        let a = AllowedHosts::new(&["0.0.0.0:8020".parse().unwrap()], &[]);
        assert!(a.allows("203.0.113.9:8020"));
        assert!(!a.allows("rebind.example:8020"));
    }

    #[test]
    fn origins_are_read_to_their_host() {
        assert_eq!(
            origin_authority("http://localhost:8020"),
            Some("localhost:8020")
        );
        assert_eq!(origin_authority("https://a.example"), Some("a.example"));
        assert_eq!(origin_authority("null"), None);
    }
}
