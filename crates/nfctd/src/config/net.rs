//! The network options: listeners (plain and TLS), certificates, connection
//! limits, allowed hosts, the heavy-call queue.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::net::{ConnLimits, TlsFiles};
use nfctd_table::clip;

use super::{bad, ConfigError, Options, DEFAULT_LISTEN};

/// A `--listen` value: `ADDR:PORT`, `http://ADDR:PORT` or `https://ADDR:PORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ListenAddr {
    /// `Some(true)` for https://, `Some(false)` for http://, `None` when bare.
    pub tls: Option<bool>,
    pub addr: SocketAddr,
}

impl std::str::FromStr for ListenAddr {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let (tls, rest) = if let Some(rest) = text.strip_prefix("https://") {
            (Some(true), rest)
        } else if let Some(rest) = text.strip_prefix("http://") {
            (Some(false), rest)
        } else {
            (None, text)
        };
        let addr = rest.trim_end_matches('/').parse().map_err(|_| {
            format!("{text:?} is not [http[s]://]ADDR:PORT (an IP address and a port)")
        })?;
        Ok(ListenAddr { tls, addr })
    }
}

impl TryFrom<String> for ListenAddr {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

/// Where to serve, and whether with TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub tls: bool,
}

/// The validated network settings.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Every listener, in the order given (`Config::listen` lists the same addresses).
    pub endpoints: Vec<Endpoint>,
    pub tls: Option<TlsFiles>,
    pub allowed_hosts: Vec<String>,
    pub limits: ConnLimits,
    pub heavy_queue: usize,
}

pub(super) fn net_config(o: &Options) -> Result<NetConfig, ConfigError> {
    let tls = match (&o.tls_cert, &o.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        (None, None) => None,
        (Some(_), None) => return Err(bad("--tls-cert", "needs --tls-key as well")),
        (None, Some(_)) => return Err(bad("--tls-key", "needs --tls-cert as well")),
    };
    let given = if o.listen.is_empty() {
        vec![DEFAULT_LISTEN.parse().map_err(|e| bad("--listen", e))?]
    } else {
        o.listen.clone()
    };
    let mut endpoints = Vec::new();
    for l in given {
        let tls_on = l.tls.unwrap_or(tls.is_some());
        if tls_on && tls.is_none() {
            return Err(bad(
                "--listen",
                format!("https://{} needs --tls-cert and --tls-key", l.addr),
            ));
        }
        endpoints.push(Endpoint {
            addr: l.addr,
            tls: tls_on,
        });
    }
    for name in &o.allowed_host {
        let valid = !name.is_empty()
            && name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !valid {
            return Err(bad(
                "--allowed-host",
                format!(
                    "{:?} is not a host name (letters, digits, dots, hyphens; no port)",
                    clip::clip(name)
                ),
            ));
        }
    }
    let defaults = ConnLimits::default();
    let secs = |value: Option<u64>, option: &'static str, default: Duration| match value {
        Some(0) => Err(bad(option, "must be at least 1 second")),
        Some(s) => Ok(Duration::from_secs(s)),
        None => Ok(default),
    };
    let max_connections = match o.max_connections {
        Some(0) => return Err(bad("--max-connections", "must be at least 1")),
        Some(n) => n,
        None => defaults.max_connections,
    };
    Ok(NetConfig {
        endpoints,
        tls,
        allowed_hosts: o.allowed_host.clone(),
        limits: ConnLimits {
            header_timeout: secs(
                o.header_timeout,
                "--header-timeout",
                defaults.header_timeout,
            )?,
            idle_timeout: secs(o.idle_timeout, "--idle-timeout", defaults.idle_timeout)?,
            max_connections,
        },
        heavy_queue: o.heavy_queue.unwrap_or(crate::router::HEAVY_QUEUE),
    })
}
