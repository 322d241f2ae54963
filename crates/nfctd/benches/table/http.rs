//! The benchmark's peers over HTTP: a small blocking XML-RPC client (the same one for
//! every server), the real `nfctd` binary as a child, and Python's `SimpleXMLRPCServer`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// A blocking HTTP/1.1 POST client for XML-RPC: keep-alive when asked and allowed by
/// the server's answer, else one TCP connection per call (`Connection: close`).
pub struct Client {
    addr: SocketAddr,
    keep_alive: bool,
    stream: Option<BufReader<TcpStream>>,
}

impl Client {
    pub fn new(addr: SocketAddr, keep_alive: bool) -> Client {
        Client {
            addr,
            keep_alive,
            stream: None,
        }
    }

    /// POSTs `body` to /RPC2 and returns the response body (HTTP 200 only).
    pub fn call(&mut self, body: &str) -> io::Result<String> {
        let reused = self.stream.is_some();
        match self.exchange(body) {
            Err(_) if reused => {
                // The server closed an idle keep-alive connection: once more on a new one.
                self.stream = None;
                self.exchange(body)
            }
            other => other,
        }
    }

    fn exchange(&mut self, body: &str) -> io::Result<String> {
        let mut reader = match self.stream.take() {
            Some(s) => s,
            None => {
                let s = TcpStream::connect(self.addr)?;
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(Duration::from_secs(60)))?;
                BufReader::with_capacity(64 * 1024, s)
            }
        };
        let mut request = format!(
            "POST /RPC2 HTTP/1.1\r\nHost: {}\r\nUser-Agent: nfctd-bench\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if !self.keep_alive {
            request.push_str("Connection: close\r\n");
        }
        request.push_str("\r\n");
        request.push_str(body);
        reader.get_mut().write_all(request.as_bytes())?;

        let mut line = String::new();
        reader.read_line(&mut line)?;
        let mut words = line.split_whitespace();
        let version = words.next().unwrap_or("").to_string();
        let status: u16 = words.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut length = None;
        let mut chunked = false;
        let mut close = version != "HTTP/1.1";
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Err(bad("connection closed in the response head"));
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            match name.as_str() {
                "content-length" => length = value.parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" if value.eq_ignore_ascii_case("close") => close = true,
                "connection" if value.eq_ignore_ascii_case("keep-alive") => close = false,
                _ => {}
            }
        }
        let mut payload = Vec::new();
        if chunked {
            loop {
                line.clear();
                reader.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| bad("bad chunk size"))?;
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                payload.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(n) = length {
            payload.resize(n, 0);
            reader.read_exact(&mut payload)?;
        } else {
            reader.read_to_end(&mut payload)?;
            close = true;
        }
        if self.keep_alive && !close {
            self.stream = Some(reader);
        }
        let text = String::from_utf8(payload).map_err(|_| bad("response is not UTF-8"))?;
        if status != 200 {
            return Err(bad(format!("HTTP {status}: {text}")));
        }
        if text.contains("<fault>") {
            return Err(bad(format!("XML-RPC fault: {text}")));
        }
        Ok(text)
    }
}

/// An XML-RPC call document; `params` are already-rendered `<value>` elements.
pub fn method_call(name: &str, params: &[String]) -> String {
    let mut body =
        format!("<?xml version=\"1.0\"?>\n<methodCall><methodName>{name}</methodName><params>");
    for p in params {
        body.push_str("<param>");
        body.push_str(p);
        body.push_str("</param>");
    }
    body.push_str("</params></methodCall>\n");
    body
}

pub fn string(s: &str) -> String {
    format!("<value><string>{s}</string></value>")
}

pub fn int(i: i64) -> String {
    format!("<value><int>{i}</int></value>")
}

/// A struct of (name, rendered value) members.
pub fn structure(members: &[(&str, String)]) -> String {
    let mut s = String::from("<value><struct>");
    for (name, value) in members {
        s.push_str(&format!("<member><name>{name}</name>{value}</member>"));
    }
    s.push_str("</struct></value>");
    s
}

/// Every string value in a response, in order (`<value><string>x</string></value>` or
/// the untyped `<value>x</value>`).
pub fn strings(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(at) = rest.find("<value>") {
        rest = rest[at + "<value>".len()..].trim_start();
        if let Some(inner) = rest.strip_prefix("<string>") {
            if let Some(end) = inner.find("</string>") {
                out.push(inner[..end].to_string());
            }
        } else if !rest.starts_with('<') {
            if let Some(end) = rest.find("</value>") {
                out.push(rest[..end].to_string());
            }
        }
    }
    out
}

/// The integer value of struct member `name` in a response, if there is one.
pub fn member_int(xml: &str, name: &str) -> Option<i64> {
    let tag = format!("<name>{name}</name>");
    let rest = &xml[xml.find(&tag)? + tag.len()..];
    let digits: String = rest
        .chars()
        .skip_while(|c| !c.is_ascii_digit() && *c != '-')
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    digits.parse().ok()
}

/// A child process killed (and reaped) when dropped.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the real daemon in the current namespace; returns it and its listening address.
pub fn start_daemon(binary: &str, args: &[&str]) -> io::Result<(Reaped, SocketAddr)> {
    let mut child = Command::new(binary)
        .args(args)
        .env("NO_COLOR", "1")
        .env("NFCTD_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().ok_or_else(|| bad("no stderr pipe"))?;
    let child = Reaped(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut log = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let _ = tx.send(Ok(rest.trim().trim_end_matches('/').to_string()));
            }
            log.push(line);
        }
        // Only read if the daemon died before it listened.
        let _ = tx.send(Err(log.join("\n")));
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(Ok(addr)) => {
            let addr = addr
                .parse()
                .map_err(|_| bad(format!("bad address {addr:?}")))?;
            Ok((child, addr))
        }
        Ok(Err(log)) => Err(bad(format!("nfctd exited before listening:\n{log}"))),
        Err(_) => Err(bad("nfctd did not report `listening on` within 120 s")),
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
