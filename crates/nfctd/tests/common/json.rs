//! A small JSON API client over plain HTTP/1.1 (`Connection: close`): a
//! session cookie and a CSRF token kept between calls, every answer's status
//! and body returned as they came.

use std::net::SocketAddr;

use serde_json::Value as Json;

/// One answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// An HTTP answer as it came: its status (0 when the first line carries
    /// none), its headers as sent and in order, and its body, a chunked one
    /// put back together (as far as its chunks came).
    pub fn parse(raw: &str) -> Reply {
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
        let body = if chunked {
            dechunk(body)
        } else {
            body.to_string()
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn json(&self) -> Json {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `error.code` of an error answer.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

/// Sends one request and reads the whole answer.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        raw.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    raw.push_str("\r\n");
    raw.push_str(body);
    Reply::parse(&super::http_answer(addr, raw.as_bytes()))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A logged-in JSON client.
#[derive(Debug, Clone)]
pub struct Session {
    pub addr: SocketAddr,
    pub cookie: String,
    pub csrf: String,
    pub role: String,
}

impl Session {
    /// Logs in with `body` (a JSON object); panics unless 200.
    pub fn login(addr: SocketAddr, body: &str) -> Session {
        Session::from_login(addr, &request(addr, "POST", "/api/v1/session", &[], body))
    }

    /// The session a login's answer opened; panics unless 200.
    pub fn from_login(addr: SocketAddr, reply: &Reply) -> Session {
        assert_eq!(reply.status, 200, "{reply:?}");
        let cookie = reply
            .header("set-cookie")
            .and_then(|c| c.split(';').next())
            .expect("a session cookie")
            .to_string();
        let json = reply.json();
        Session {
            addr,
            cookie,
            csrf: json["csrf_token"].as_str().unwrap().to_string(),
            role: json["role"].as_str().unwrap().to_string(),
        }
    }

    /// A read: the cookie only.
    pub fn get(&self, path: &str) -> Reply {
        request(self.addr, "GET", path, &[("Cookie", &self.cookie)], "")
    }

    /// A change: cookie and CSRF token.
    pub fn send(&self, method: &str, path: &str, body: &str) -> Reply {
        request(
            self.addr,
            method,
            path,
            &[("Cookie", &self.cookie), ("X-CSRF-Token", &self.csrf)],
            body,
        )
    }

    /// A change without the CSRF token, as a forged cross-site request would be.
    pub fn send_without_csrf(&self, method: &str, path: &str, body: &str) -> Reply {
        request(self.addr, method, path, &[("Cookie", &self.cookie)], body)
    }
}
