//! A blocking HTTP/1.1 XML-RPC client that keeps its connection alive when
//! asked and the server agrees: the benchmark's one client for every server
//! it measures. (`http_post` in the bed's root stays the raw one-shot poster
//! for malformed requests.)

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
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
            "POST /RPC2 HTTP/1.1\r\nHost: {}\r\nUser-Agent: nfctd-testbed\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n",
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
