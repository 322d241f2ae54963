//! JSON Lines targets: what `--export json:...` names (stdout, a file, a
//! Unix stream socket, TCP), opening it at start, and the sender loop each
//! kind runs: `file` for stdout and files, `sender` over a `stream` for the
//! sockets a collector listens on.

mod file;
mod sender;
mod stream;

use std::fmt;
use std::path::PathBuf;

use super::spool::Spool;
use super::ExportError;
use stream::Connector;

/// Where JSON lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonTarget {
    /// `json:-`: standard output (the log goes to standard error).
    Stdout,
    /// `json:PATH`: appended to a file, created if missing.
    File(PathBuf),
    /// `json:unix:PATH`: a Unix stream socket (SOCK_STREAM) the collector
    /// listens on, as Vector's and Filebeat's `unix` sources do by default.
    Unix(PathBuf),
    /// `json:tcp://HOST:PORT`: HOST an IP address (IPv6 in brackets) or a
    /// name, resolved again at every connect.
    Tcp { host: String, port: u16 },
}

impl JsonTarget {
    /// Reads what follows `json:`.
    pub(super) fn parse(rest: &str) -> Result<JsonTarget, String> {
        if let Some(path) = rest.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(
                    "json:unix: needs the socket's path, as in json:unix:/run/vector/flows.sock"
                        .into(),
                );
            }
            return Ok(JsonTarget::Unix(PathBuf::from(path)));
        }
        if let Some(address) = rest.strip_prefix("tcp://") {
            return parse_host_port(address).map(|(host, port)| JsonTarget::Tcp { host, port });
        }
        match rest {
            "-" => Ok(JsonTarget::Stdout),
            "" => Err("json: needs - (stdout), a file path, unix:PATH or tcp://HOST:PORT".into()),
            path => Ok(JsonTarget::File(PathBuf::from(path))),
        }
    }
}

/// `HOST:PORT` or `[V6]:PORT`.
fn parse_host_port(address: &str) -> Result<(String, u16), String> {
    let wanted = |why: &str| format!("json:tcp://{address}: {why}; expected tcp://HOST:PORT");
    let (host, port) = if let Some(bracketed) = address.strip_prefix('[') {
        let (v6, after) = bracketed
            .split_once(']')
            .ok_or_else(|| wanted("no ] after the IPv6 address"))?;
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(wanted(&format!("{v6:?} is not an IPv6 address")));
        }
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| wanted("the port is missing"))?;
        (v6, port)
    } else {
        let (host, port) = address
            .rsplit_once(':')
            .ok_or_else(|| wanted("the port is missing"))?;
        if host.contains(':') {
            return Err(wanted(
                "an IPv6 address needs brackets, as in [2001:db8::1]:9000",
            ));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(wanted("the host is missing"));
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(wanted(&format!("{port:?} is not a port (1-65535)"))),
        Ok(port) => Ok((host.to_string(), port)),
    }
}

impl fmt::Display for JsonTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonTarget::Stdout => f.write_str("json:-"),
            JsonTarget::File(path) => write!(f, "json:{}", path.display()),
            JsonTarget::Unix(path) => write!(f, "json:unix:{}", path.display()),
            JsonTarget::Tcp { host, port } if host.contains(':') => {
                write!(f, "json:tcp://[{host}]:{port}")
            }
            JsonTarget::Tcp { host, port } => write!(f, "json:tcp://{host}:{port}"),
        }
    }
}

/// An opened target, ready for its sender thread.
pub(super) enum Output {
    /// Stdout or a file: always there.
    Write(Box<dyn std::io::Write + Send>),
    /// A socket a collector listens on: connected (and reconnected) by the
    /// sender thread.
    Stream(Connector),
}

/// Opens the target: a file now (so a bad path stops the start); a socket
/// later, in the sender thread, since the collector may start after nfctd.
pub(super) fn open(target: &JsonTarget) -> Result<Output, ExportError> {
    match target {
        JsonTarget::Stdout => file::open(None).map(Output::Write),
        JsonTarget::File(path) => file::open(Some(path)).map(Output::Write),
        JsonTarget::Unix(path) => Ok(Output::Stream(Connector::unix(path.clone()))),
        JsonTarget::Tcp { host, port } => Ok(Output::Stream(Connector::tcp(host.clone(), *port))),
    }
}

/// Sends records until the mirror is gone.
pub(super) fn run(spool: Spool, output: Output) {
    match output {
        Output::Write(out) => file::run(spool, out),
        Output::Stream(connector) => sender::run(spool, connector),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn socket_targets_parse_with_their_host_and_port() {
        assert_eq!(
            JsonTarget::parse("tcp://[2001:db8::1]:9000"),
            Ok(JsonTarget::Tcp {
                host: "2001:db8::1".into(),
                port: 9000
            })
        );
        assert_eq!(
            JsonTarget::parse("tcp://collector.example:9000"),
            Ok(JsonTarget::Tcp {
                host: "collector.example".into(),
                port: 9000
            })
        );
        assert_eq!(
            JsonTarget::parse("unix:/run/flows.sock"),
            Ok(JsonTarget::Unix("/run/flows.sock".into()))
        );
    }

    #[test]
    fn malformed_socket_targets_say_what_is_wrong() {
        for (text, why) in [
            ("tcp://nohost", "port is missing"),
            ("tcp://:9000", "host is missing"),
            ("tcp://host:0", "not a port"),
            ("tcp://host:70000", "not a port"),
            ("tcp://host:http", "not a port"),
            ("tcp://2001:db8::1:9000", "needs brackets"),
            ("tcp://[2001:db8::1]", "port is missing"),
            ("tcp://[nohost]:9000", "not an IPv6 address"),
            ("tcp://[2001:db8::1:9000", "no ]"),
            ("unix:", "socket's path"),
        ] {
            let error = JsonTarget::parse(text).unwrap_err();
            assert!(error.contains(why), "{text}: {error}");
        }
    }
}
