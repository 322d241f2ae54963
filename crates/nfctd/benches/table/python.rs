//! The benchmark's peer server: Python's stdlib `SimpleXMLRPCServer`, answering
//! `system.listMethods` with the daemon's own list.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// A child process killed (and reaped) when dropped.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const PY_SERVER: &str = r#"
import json, sys
from xmlrpc.server import SimpleXMLRPCServer, SimpleXMLRPCRequestHandler
names = json.loads(sys.argv[1])
class Handler(SimpleXMLRPCRequestHandler):
    # HTTP/1.1 keeps a connection open when the client asks, which suits one
    # client; the stdlib default, HTTP/1.0, closes after each call, which is
    # how this one-connection-at-a-time server serves several clients.
    protocol_version = sys.argv[2]
server = SimpleXMLRPCServer(("127.0.0.1", 0), requestHandler=Handler, logRequests=False)
server.register_function(lambda: names, "system.listMethods")
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// Starts Python's stdlib XML-RPC server answering `system.listMethods` with
/// `names`, speaking `protocol` ("HTTP/1.1" or the stdlib default "HTTP/1.0").
pub fn start_python(names: &[String], protocol: &str) -> io::Result<(Reaped, SocketAddr)> {
    let list = format!(
        "[{}]",
        names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(PY_SERVER)
        .arg(list)
        .arg(protocol)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| bad("no stdout pipe"))?;
    let child = Reaped(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let port: u16 = line
        .trim()
        .parse()
        .map_err(|_| bad(format!("python server said {line:?}")))?;
    Ok((child, SocketAddr::from(([127, 0, 0, 1], port))))
}
