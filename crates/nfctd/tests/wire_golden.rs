//! Golden-file wire test: the exact bytes nfctd answers on XML-RPC (`/RPC2`)
//! and on the JSON API (`/api/v1`), compared with the files in
//! `tests/golden/`, so an internal refactor cannot change either wire format
//! unnoticed. The real daemon serves a private namespace holding four fixed
//! connections (TCP and UDP over IPv4, TCP over IPv6, one mark above 2^31);
//! each method and route is called once with a hand-built request, faults and
//! error replies included.
//!
//! What is compared: every XML-RPC reply body (`xmlrpc-*.xml`) and the HTTP
//! head they all share (`xmlrpc-head.txt`); for JSON, the status, every
//! response header but `date` and `content-length`, and the body
//! (`json-*.http`). Each file is the normalized reply followed by one newline.
//! Only values that differ from run to run or from host to host are replaced
//! (see [`Normalizer`]); everything else must match byte for byte.
//!
//! When a wire change is intended, re-bless and review the diff of
//! `tests/golden/` before committing it:
//!
//! ```text
//! NFCTD_BLESS=1 cargo test -p nfctd --test wire_golden
//! ```
//!
//! Blessing also deletes golden files that no reply produces any more.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(unused_imports)] // the bed re-exports `synthetic`, which this fixture does without
mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::raw::{self, array, boolean, int, s, strukt};
use common::users::append;
use common::{http_exchange, wait_until, Bed, Daemon};
use ctnetlink::consts::{IPPROTO_TCP, IPPROTO_UDP};
use ctnetlink::names::{IPS_ASSURED, IPS_CONFIRMED, IPS_SEEN_REPLY};
use ctnetlink::Conn;

// ---------------------------------------------------------------------------
// The fixture.

/// The password of both users. Their hashes are pyctd's unsalted SHA-1 in
/// hex, checked in microseconds, so logins cost nothing:
/// `python3 -c 'import hashlib; print(hashlib.sha1(b"pyctd").hexdigest())'`.
const PASSWORD: &str = "pyctd";
const USERS: &str = "admin:499151674e56117e059b6095fd777bdc98d24757:admin\n\
                     viewer:499151674e56117e059b6095fd777bdc98d24757:viewer\n";

/// The connections served, by label (the label stands for the kernel's
/// random id in the golden files). Original source ports 40001..40004 tell
/// them apart; every timeout is an hour, so none expires during the test.
fn fixture() -> Vec<(&'static str, Conn)> {
    let ip = |a: &str| a.parse::<IpAddr>().unwrap();
    let conn = |l4, src: &str, dst: &str, sport, dport, mark, status, state| {
        let mut c = Conn::flow(l4, ip(src), ip(dst), sport, dport);
        c.mark = mark;
        c.timeout = 3600;
        c.status = status;
        c.proto_state = state;
        c
    };
    let replied = IPS_CONFIRMED | IPS_SEEN_REPLY;
    vec![
        (
            "tcp4",
            conn(
                IPPROTO_TCP,
                "198.51.100.10",
                "192.0.2.20",
                40001,
                443,
                42,
                replied | IPS_ASSURED,
                Some(3), // ESTABLISHED
            ),
        ),
        (
            "udp4",
            conn(
                IPPROTO_UDP,
                "198.51.100.11",
                "192.0.2.53",
                40002,
                53,
                0,
                replied,
                None,
            ),
        ),
        (
            "tcp6",
            conn(
                IPPROTO_TCP,
                "2001:db8::10",
                "2001:db8::20",
                40003,
                22,
                3_000_000_000,
                replied | IPS_ASSURED,
                Some(3),
            ),
        ),
        (
            "ntp4",
            conn(
                IPPROTO_UDP,
                "198.51.100.12",
                "192.0.2.123",
                40004,
                123,
                7,
                IPS_CONFIRMED,
                None,
            ),
        ),
    ]
}

/// A bed holding the fixture, a daemon serving it with the two users, and
/// the connection ids the kernel gave, by label.
struct Setup {
    _bed: Bed,
    _users: tempfile::TempDir,
    daemon: Daemon,
    ids: Vec<(&'static str, u32)>,
}

impl Setup {
    fn new(extra_args: &[&str]) -> Setup {
        let bed = Bed::new();
        let fixture = fixture();
        bed.inject(&fixture.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>());
        let kernel = bed.kernel();
        assert_eq!(kernel.len(), fixture.len(), "{kernel:?}");
        let ids = fixture
            .iter()
            .map(|(label, want)| {
                let got = kernel
                    .iter()
                    .find(|k| k.orig.sport == want.orig.sport)
                    .expect("an injected connection");
                (*label, got.id)
            })
            .collect();

        let users = tempfile::tempdir().unwrap();
        let file = users.path().join("passwd");
        append(&file, USERS);
        let mut args = vec![
            "--passwd-file",
            file.to_str().unwrap(),
            // No periodic dump: the mirror's counters move only with our calls.
            "--resync-interval",
            "0",
        ];
        args.extend_from_slice(extra_args);
        let daemon = Daemon::start(&bed, &args);
        assert!(
            wait_until(Duration::from_secs(10), || {
                send(daemon.addr, &request("GET", "/healthz", &[], "")).status == 200
            }),
            "the mirror never went live:\n{}",
            daemon.log()
        );
        Setup {
            _bed: bed,
            _users: users,
            daemon,
            ids,
        }
    }

    fn id(&self, label: &str) -> u32 {
        self.ids.iter().find(|(l, _)| *l == label).unwrap().1
    }

    /// A normalizer that knows the connection ids.
    fn normalizer(&self) -> Normalizer {
        let mut n = Normalizer::default();
        for (label, id) in &self.ids {
            n.known.push((id.to_string(), format!("{{id:{label}}}")));
        }
        n
    }
}

// ---------------------------------------------------------------------------
// Raw HTTP.

/// One answer, as it came (a chunked body put back together).
#[derive(Debug)]
struct Reply {
    status: u16,
    /// Names as sent (lower case from hyper), in order.
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The status line and every header but those that differ by run only
    /// through the body's length or the clock.
    fn head(&self) -> String {
        let mut out = format!("status: {}\n", self.status);
        for (k, v) in &self.headers {
            if !k.eq_ignore_ascii_case("date") && !k.eq_ignore_ascii_case("content-length") {
                out.push_str(&format!("{k}: {v}\n"));
            }
        }
        out
    }
}

/// A request built by hand: exactly these headers (plus Host, and
/// Content-Length when there is a body or the method carries one), and
/// `Connection: close`.
fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("Connection: close\r\n\r\n");
    out.push_str(body);
    out
}

fn send(addr: SocketAddr, request: &str) -> Reply {
    let (status, head, body) = http_exchange(addr, request.as_bytes());
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { dechunk(&body).0 } else { body };
    Reply {
        status,
        headers,
        body,
    }
}

/// A chunked body's payload, and whether its last chunk came.
fn dechunk(mut raw: &str) -> (String, bool) {
    let mut out = String::new();
    while let Some((size, rest)) = raw.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 {
            return (out, true);
        }
        if rest.len() < n + 2 {
            break;
        }
        out.push_str(&rest[..n]);
        raw = &rest[n + 2..];
    }
    (out, false)
}

/// POSTs a whole XML-RPC call body to /RPC2.
fn xml(addr: SocketAddr, body: &str) -> Reply {
    send(
        addr,
        &request("POST", "/RPC2", &[("Content-Type", "text/xml")], body),
    )
}

fn call(addr: SocketAddr, method: &str, params: &[String]) -> Reply {
    xml(addr, &raw::call(method, params))
}

/// The string an XML-RPC reply carries (a session id).
fn xml_string(reply: &Reply) -> String {
    match raw::parse_response(&reply.body) {
        common::Answer::Ok(v) => v.as_str().expect("a string").to_string(),
        other => panic!("expected a string, got {other:?}"),
    }
}

/// A JSON client's credentials, as raw header values.
struct JsonSession {
    cookie: String,
    csrf: String,
}

fn json_call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    session: Option<&JsonSession>,
    csrf: bool,
    body: &str,
) -> Reply {
    let mut headers = Vec::new();
    if let Some(s) = session {
        headers.push(("Cookie", s.cookie.as_str()));
        if csrf {
            headers.push(("X-CSRF-Token", s.csrf.as_str()));
        }
    }
    if !body.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    send(addr, &request(method, path, &headers, body))
}

/// Logs in over JSON, registering the session id and CSRF token as volatile.
fn json_login(addr: SocketAddr, user: &str, norm: &mut Normalizer) -> (Reply, JsonSession) {
    let body = format!(r#"{{"user":"{user}","password":"{PASSWORD}"}}"#);
    let reply = json_call(addr, "POST", "/api/v1/session", None, false, &body);
    assert_eq!(reply.status, 200, "{reply:?}");
    let cookie = reply
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let sid = cookie.split_once('=').unwrap().1.to_string();
    let parsed: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let csrf = parsed["csrf_token"].as_str().unwrap().to_string();
    norm.secret(&sid, 32, &format!("{{sid:{user}}}"));
    norm.secret(&csrf, 64, &format!("{{csrf:{user}}}"));
    (reply, JsonSession { cookie, csrf })
}

/// Opens the event stream and reads its head and its first event that
/// carries data; the stream is then dropped.
fn first_event(addr: SocketAddr, session: &JsonSession) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(
            request(
                "GET",
                "/api/v1/events",
                &[("Cookie", &session.cookie), ("Accept", "text/event-stream")],
                "",
            )
            .as_bytes(),
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&raw).to_string();
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let (payload, _) = dechunk(rest);
            // Events end with a blank line: keep up to the first one with data.
            let mut end = 0;
            let mut found = false;
            while let Some(at) = payload[end..].find("\n\n") {
                let block = &payload[end..end + at];
                end += at + 2;
                if block.lines().any(|l| l.starts_with("data:")) {
                    found = true;
                    break;
                }
            }
            if found {
                let mut reply = head_only(head);
                reply.body = payload[..end].to_string();
                return reply;
            }
        }
        assert!(Instant::now() < deadline, "no event within 10 s: {text:?}");
        let n = stream.read(&mut buf).expect("the event stream");
        assert!(n > 0, "the event stream ended: {text:?}");
        raw.extend_from_slice(&buf[..n]);
    }
}

/// A reply with only its head parsed.
fn head_only(head: &str) -> Reply {
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Reply {
        status,
        headers: lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect(),
        body: String::new(),
    }
}

// ---------------------------------------------------------------------------
// Normalizing.

/// What a volatile field's value must look like to be replaced. A value of
/// another shape stays as it came, so a change of format still fails.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// Decimal digits: `<int>`/`<i4>`/`<i8>` in XML-RPC, a JSON number.
    Integer,
    /// XML-RPC `<dateTime.iso8601>` `YYYYMMDDTHH:MM:SS`; JSON RFC 3339 in
    /// UTC, `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
    Time,
    /// A JSON string of digits and dots (`0.1.0`).
    Version,
}

/// The fields whose values change from run to run or host to host; each
/// value becomes `{name}` (in JSON a string stays quoted: `"{snapshot}"`).
/// In XML-RPC a field is `<name>NAME</name><value><TYPE>VALUE</TYPE>`, the
/// type tag kept; in JSON it is `"NAME":VALUE` with a scalar value.
const VOLATILE: &[(&str, Shape)] = &[
    // Seconds left: the kernel counts down.
    ("timeout", Shape::Integer),
    // Seconds since the mirror first saw the connection.
    ("age", Shape::Integer),
    // When the table served was taken.
    ("snapshot", Shape::Time),
    // When the event stream's count was taken (Unix ms).
    ("at_ms", Shape::Integer),
    // nf_conntrack_max: the host's.
    ("table_limit", Shape::Integer),
    // The kernel's per-CPU statistics, which differ between kernel versions.
    ("found", Shape::Integer),
    ("invalid", Shape::Integer),
    ("insert_failed", Shape::Integer),
    ("drop", Shape::Integer),
    ("early_drop", Shape::Integer),
    ("error", Shape::Integer),
    ("search_restart", Shape::Integer),
    // The OpenAPI document's `info.version`: the crate's version.
    ("version", Shape::Version),
];

/// Replaces the volatile parts of a reply with fixed placeholders, as
/// narrowly as it can: the [`VOLATILE`] fields by name and shape, and the
/// exact values the test learnt during the run (`known`: connection ids as
/// `{id:LABEL}`, session ids as `{sid:USER}`, CSRF tokens as `{csrf:USER}`),
/// wherever they occur as a whole word. Nothing is sorted or reformatted.
#[derive(Debug, Default)]
struct Normalizer {
    known: Vec<(String, String)>,
}

impl Normalizer {
    /// Registers a random token (a session id, a CSRF token), but only if it
    /// has the promised form: `len` lowercase hex digits.
    fn secret(&mut self, value: &str, len: usize, label: &str) {
        if value.len() == len
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            self.known.push((value.to_string(), label.to_string()));
        }
    }

    fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (name, shape) in VOLATILE {
            out = xml_field(&out, name, *shape);
            out = json_field(&out, name, *shape);
        }
        for (value, label) in &self.known {
            out = replace_word(&out, value, label);
        }
        out
    }
}

fn is_digits(t: &str) -> bool {
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
}

/// `pattern` over `text`: `D` a digit, `?` anything, others literal.
fn fits(text: &str, pattern: &str) -> bool {
    text.len() == pattern.len()
        && text.bytes().zip(pattern.bytes()).all(|(t, p)| match p {
            b'D' => t.is_ascii_digit(),
            b'?' => true,
            _ => t == p,
        })
}

fn rfc3339_utc(t: &str) -> bool {
    let Some(t) = t.strip_suffix('Z') else {
        return false;
    };
    let (whole, fraction) = t.split_once('.').unwrap_or((t, "1"));
    fits(whole, "DDDD-DD-DDTDD:DD:DD") && is_digits(fraction)
}

fn xml_field(text: &str, name: &str, shape: Shape) -> String {
    let key = format!("<name>{name}</name><value><");
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(&key) {
        let after = at + key.len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        let Some(tag_end) = rest.find('>') else {
            continue;
        };
        let tag = &rest[..tag_end];
        let value_start = tag_end + 1;
        let Some(len) = rest[value_start..].find("</") else {
            continue;
        };
        let value = &rest[value_start..value_start + len];
        let ok = match shape {
            Shape::Integer => matches!(tag, "int" | "i4" | "i8") && is_digits(value),
            Shape::Time => tag == "dateTime.iso8601" && fits(value, "DDDDDDDDTDD:DD:DD"),
            Shape::Version => false,
        };
        if ok {
            out.push_str(&rest[..value_start]);
            out.push_str(&format!("{{{name}}}"));
            rest = &rest[value_start + len..];
        }
    }
    out.push_str(rest);
    out
}

fn json_field(text: &str, name: &str, shape: Shape) -> String {
    let key = format!("\"{name}\":");
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(&key) {
        let after = at + key.len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        if rest.starts_with('"') {
            let Some(len) = rest[1..].find('"') else {
                continue;
            };
            let value = &rest[1..1 + len];
            let ok = match shape {
                Shape::Time => rfc3339_utc(value),
                Shape::Version => {
                    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                }
                Shape::Integer => false,
            };
            if ok {
                out.push_str(&format!("\"{{{name}}}\""));
                rest = &rest[len + 2..];
            }
        } else {
            let len = rest.bytes().take_while(u8::is_ascii_digit).count();
            if matches!(shape, Shape::Integer) && len > 0 {
                out.push_str(&format!("{{{name}}}"));
                rest = &rest[len..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Replaces `word` where it stands alone: not next to a letter or digit.
fn replace_word(text: &str, word: &str, label: &str) -> String {
    let mut out = String::new();
    let mut from = 0;
    while let Some(found) = text[from..].find(word) {
        let at = from + found;
        let end = at + word.len();
        let before = text[..at].chars().next_back();
        let after = text[end..].chars().next();
        let alone = !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric());
        out.push_str(&text[from..at]);
        out.push_str(if alone { label } else { word });
        from = end;
    }
    out.push_str(&text[from..]);
    out
}

// ---------------------------------------------------------------------------
// Golden files.

/// Compares replies with `tests/golden/PREFIX*`, or writes them with
/// `NFCTD_BLESS=1`. Collects every mismatch and reports them together.
struct Golden {
    dir: PathBuf,
    prefix: &'static str,
    bless: bool,
    seen: BTreeSet<String>,
    failures: Vec<String>,
}

impl Golden {
    fn new(prefix: &'static str) -> Golden {
        Golden {
            dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden"),
            prefix,
            bless: std::env::var_os("NFCTD_BLESS").is_some_and(|v| v == "1"),
            seen: BTreeSet::new(),
            failures: Vec::new(),
        }
    }

    /// `actual` (already normalized) against the file `name`.
    fn check(&mut self, name: &str, actual: &str) {
        assert!(name.starts_with(self.prefix), "{name}");
        assert!(self.seen.insert(name.to_string()), "{name} checked twice");
        let path = self.dir.join(name);
        let actual = format!("{actual}\n");
        if self.bless {
            std::fs::create_dir_all(&self.dir).unwrap();
            if std::fs::read_to_string(&path).ok().as_deref() != Some(actual.as_str()) {
                std::fs::write(&path, &actual).unwrap();
                println!("blessed {}", path.display());
            }
            return;
        }
        match std::fs::read_to_string(&path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => self.failures.push(diff(&path, &expected, &actual)),
            Err(e) => self.failures.push(format!(
                "{}: cannot read ({e}); the reply was:\n{actual}",
                path.display()
            )),
        }
    }

    /// An XML-RPC reply: HTTP 200 with the shared head, and its body.
    fn xml(&mut self, name: &str, reply: &Reply, norm: &Normalizer, head: &mut Option<String>) {
        let this = reply.head();
        match head {
            None => *head = Some(this),
            Some(first) if *first != this => self.failures.push(format!(
                "{name}: the HTTP head differs from the other XML-RPC replies'\n--- others\n{first}--- this one\n{this}"
            )),
            Some(_) => {}
        }
        self.check(name, &norm.apply(&reply.body));
    }

    /// A JSON reply: status, headers and body.
    fn json(&mut self, name: &str, reply: &Reply, norm: &Normalizer) {
        let text = format!("{}\n{}", reply.head(), reply.body);
        self.check(name, &norm.apply(&text));
    }

    /// Fails on any mismatch, and on golden files of this prefix that no
    /// reply produced (deleted when blessing).
    fn finish(mut self) {
        let mut orphans = Vec::new();
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten() {
            let name = entry.unwrap().file_name().to_string_lossy().to_string();
            if name.starts_with(self.prefix) && !self.seen.contains(&name) {
                orphans.push(name);
            }
        }
        for name in orphans {
            if self.bless {
                std::fs::remove_file(self.dir.join(&name)).unwrap();
                println!("removed {name}: no reply produces it");
            } else {
                self.failures
                    .push(format!("{name}: a golden file that no reply produces"));
            }
        }
        assert!(
            self.failures.is_empty(),
            "{} wire difference(s); if intended, re-bless with \
             `NFCTD_BLESS=1 cargo test -p nfctd --test wire_golden` and review the diff\n\n{}",
            self.failures.len(),
            self.failures.join("\n\n")
        );
    }
}

/// Splits for display only, keeping every byte: after each `>`, `,` and
/// newline, and after a `{` or `[` that opens a JSON object or array, so XML
/// shows a tag a line and JSON a member a line.
fn display_lines(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        let next = bytes.get(i + 1).copied();
        let opens = matches!(b, b'{' | b'[') && matches!(next, Some(b'"' | b'{' | b'['));
        if opens || matches!(b, b'>' | b',' | b'\n') {
            lines.push(&text[start..=i]);
            start = i + 1;
        }
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// The first differing display line, with three lines of context each side.
fn diff(path: &Path, expected: &str, actual: &str) -> String {
    let e = display_lines(expected);
    let a = display_lines(actual);
    let first = (0..e.len().max(a.len()))
        .find(|&i| e.get(i) != a.get(i))
        .unwrap_or(0);
    let show = |lines: &[&str]| {
        let from = first.saturating_sub(3);
        let to = (first + 4).min(lines.len());
        (from..to)
            .map(|i| {
                let mark = if i == first { ">" } else { " " };
                let line = lines[i].replace('\r', "\\r").replace('\n', "\\n");
                format!("  {mark} {:4} | {line}", i + 1)
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let offset = expected
        .bytes()
        .zip(actual.bytes())
        .take_while(|(x, y)| x == y)
        .count();
    format!(
        "{}: differs at byte {offset} (display line {}; lines break after > , {{ [ and newlines)\n--- golden\n{}\n+++ reply\n{}",
        path.display(),
        first + 1,
        show(&e),
        show(&a)
    )
}

// ---------------------------------------------------------------------------
// The tests.

#[test]
fn xmlrpc_replies_match_the_golden_files() {
    let setup = Setup::new(&[]);
    let addr = setup.daemon.addr;
    let mut norm = setup.normalizer();
    let mut golden = Golden::new("xmlrpc-");
    let mut head = None;
    let id = |label: &str| s(&setup.id(label).to_string());
    let login = |user: &str, password: &str| call(addr, "login", &[s(user), s(password)]);

    // Sessions.
    let reply = login("admin", PASSWORD);
    let sid = xml_string(&reply);
    norm.secret(&sid, 32, "{sid:admin}");
    golden.xml("xmlrpc-login.xml", &reply, &norm, &mut head);
    let viewer = xml_string(&login("viewer", PASSWORD));
    norm.secret(&viewer, 32, "{sid:viewer}");
    let reply = login("admin", "wrong");
    golden.xml("xmlrpc-fault-auth-failed.xml", &reply, &norm, &mut head);

    // Reads, before anything changes the table.
    let reply = call(
        addr,
        "view",
        &[
            s(&sid),
            strukt(&[
                ("proto", array(&[s("tcp"), s("udp")])),
                ("orig_sport", s("40000-40003")),
            ]),
            s("mark"),
            s("DESC"),
            int(0),
            int(10),
        ],
    );
    golden.xml("xmlrpc-view.xml", &reply, &norm, &mut head);
    let reply = call(addr, "stats", &[s(&sid)]);
    golden.xml("xmlrpc-stats.xml", &reply, &norm, &mut head);

    // Introspection.
    let reply = call(addr, "system.listMethods", &[]);
    golden.xml("xmlrpc-system-listMethods.xml", &reply, &norm, &mut head);
    let reply = call(addr, "system.methodHelp", &[s("view")]);
    golden.xml("xmlrpc-system-methodHelp.xml", &reply, &norm, &mut head);
    let reply = call(addr, "system.methodSignature", &[s("change")]);
    golden.xml(
        "xmlrpc-system-methodSignature.xml",
        &reply,
        &norm,
        &mut head,
    );
    let reply = call(addr, "system.getCapabilities", &[]);
    golden.xml(
        "xmlrpc-system-getCapabilities.xml",
        &reply,
        &norm,
        &mut head,
    );
    let member = |method: &str, params: &[String]| {
        strukt(&[("methodName", s(method)), ("params", array(params))])
    };
    let reply = call(
        addr,
        "system.multicall",
        &[array(&[
            member(
                "view",
                &[
                    s(&sid),
                    strukt(&[("orig_dport", int(53))]),
                    s(""),
                    s(""),
                    int(0),
                    int(1),
                ],
            ),
            member("stats", &[s("0123456789abcdef0123456789abcdef")]),
            member("no.such.method", &[]),
            member("system.methodSignature", &[s("kill")]),
        ])],
    );
    golden.xml("xmlrpc-system-multicall.xml", &reply, &norm, &mut head);

    // Frozen view, refresh.
    let reply = call(addr, "set_autorefresh", &[s(&sid), int(0)]);
    golden.xml("xmlrpc-set_autorefresh.xml", &reply, &norm, &mut head);
    let reply = call(addr, "refresh", &[s(&sid)]);
    golden.xml("xmlrpc-refresh.xml", &reply, &norm, &mut head);
    let reply = call(addr, "set_autorefresh", &[s(&sid), boolean(true)]);
    assert!(reply.body.contains("<boolean>1</boolean>"), "{reply:?}");

    // Changes.
    let reply = call(addr, "change", &[s(&sid), s("mark"), id("tcp4"), int(4242)]);
    golden.xml("xmlrpc-change-mark.xml", &reply, &norm, &mut head);
    let reply = call(
        addr,
        "change",
        &[s(&sid), s("timeout"), id("udp4"), int(5000)],
    );
    golden.xml("xmlrpc-change-timeout.xml", &reply, &norm, &mut head);
    let reply = call(
        addr,
        "kill_matching",
        &[s(&sid), strukt(&[("orig_dport", int(123))])],
    );
    golden.xml("xmlrpc-kill_matching.xml", &reply, &norm, &mut head);
    // One there, one already gone (killed just above).
    let reply = call(addr, "kill", &[s(&sid), array(&[id("udp4"), id("ntp4")])]);
    golden.xml("xmlrpc-kill.xml", &reply, &norm, &mut head);

    // Faults.
    let reply = call(addr, "no_such_method", &[]);
    golden.xml("xmlrpc-fault-unknown-method.xml", &reply, &norm, &mut head);
    let reply = call(addr, "view", &[s(&sid)]);
    golden.xml("xmlrpc-fault-bad-params.xml", &reply, &norm, &mut head);
    let reply = call(
        addr,
        "view",
        &[s(&sid), s("not a struct"), s(""), s(""), int(0), int(10)],
    );
    golden.xml("xmlrpc-fault-param-type.xml", &reply, &norm, &mut head);
    let reply = call(
        addr,
        "view",
        &[
            s(&sid),
            strukt(&[("orig_src", s("10.0.0.0/40"))]),
            s(""),
            s(""),
            int(0),
            int(10),
        ],
    );
    golden.xml("xmlrpc-fault-bad-filter.xml", &reply, &norm, &mut head);
    let reply = call(
        addr,
        "view",
        &[s(&sid), strukt(&[]), s("colour"), s(""), int(0), int(10)],
    );
    golden.xml("xmlrpc-fault-bad-order_by.xml", &reply, &norm, &mut head);
    let reply = call(addr, "kill", &[s(&viewer), array(&[id("tcp4")])]);
    golden.xml("xmlrpc-fault-denied.xml", &reply, &norm, &mut head);
    let reply = call(addr, "change", &[s(&sid), s("mark"), id("ntp4"), int(1)]);
    golden.xml(
        "xmlrpc-fault-no-such-connection.xml",
        &reply,
        &norm,
        &mut head,
    );
    let reply = xml(addr, "<methodCall><methodName>view</methodName");
    golden.xml("xmlrpc-fault-not-well-formed.xml", &reply, &norm, &mut head);
    let reply = xml(
        addr,
        "<?xml version=\"1.0\"?><methodResponse><params/></methodResponse>",
    );
    golden.xml("xmlrpc-fault-not-a-call.xml", &reply, &norm, &mut head);

    // The end of a session; after it, the session is unknown.
    let reply = call(addr, "logout", &[s(&sid)]);
    golden.xml("xmlrpc-logout.xml", &reply, &norm, &mut head);
    let reply = call(addr, "stats", &[s(&sid)]);
    golden.xml("xmlrpc-fault-not-logged-in.xml", &reply, &norm, &mut head);

    golden.check("xmlrpc-head.txt", head.as_deref().unwrap().trim_end());
    golden.finish();
}

#[test]
fn json_replies_match_the_golden_files() {
    // With --uid-mask, rows carry `uid` and `user`: the mark 42 is uid 0
    // (root everywhere), 3000000000 is uid 45776 (no such user: its number).
    let setup = Setup::new(&["--uid-mask", "0xffff0000"]);
    let addr = setup.daemon.addr;
    let mut norm = setup.normalizer();
    let mut golden = Golden::new("json-");
    let id = |label: &str| setup.id(label);

    // Sessions.
    let (reply, admin) = json_login(addr, "admin", &mut norm);
    golden.json("json-login.http", &reply, &norm);
    let (_, viewer) = json_login(addr, "viewer", &mut norm);
    let reply = json_call(
        addr,
        "POST",
        "/api/v1/session",
        None,
        false,
        r#"{"user":"admin","password":"wrong"}"#,
    );
    golden.json("json-error-auth-failed.http", &reply, &norm);
    let reply = json_call(addr, "GET", "/api/v1/session", Some(&admin), false, "");
    golden.json("json-session.http", &reply, &norm);

    // Reads, before anything changes the table.
    let reply = json_call(
        addr,
        "GET",
        "/api/v1/connections?proto=tcp,udp&orig_sport=40000-40003&order_by=mark&order_dir=asc&start=1&length=2",
        Some(&admin),
        false,
        "",
    );
    golden.json("json-connections.http", &reply, &norm);
    let reply = json_call(
        addr,
        "GET",
        &format!("/api/v1/connections?id={}", id("tcp6")),
        Some(&admin),
        false,
        "",
    );
    golden.json("json-connection-one.http", &reply, &norm);
    let reply = json_call(addr, "GET", "/api/v1/stats", Some(&admin), false, "");
    golden.json("json-stats.http", &reply, &norm);
    let reply = first_event(addr, &admin);
    golden.json("json-events.http", &reply, &norm);
    let reply = json_call(addr, "GET", "/api/v1/openapi.json", None, false, "");
    golden.json("json-openapi.http", &reply, &norm);

    // Frozen view, refresh.
    let reply = json_call(
        addr,
        "PUT",
        "/api/v1/autorefresh",
        Some(&admin),
        true,
        r#"{"on":false}"#,
    );
    golden.json("json-autorefresh.http", &reply, &norm);
    let reply = json_call(addr, "POST", "/api/v1/refresh", Some(&admin), true, "");
    golden.json("json-refresh.http", &reply, &norm);
    let reply = json_call(
        addr,
        "PUT",
        "/api/v1/autorefresh",
        Some(&admin),
        true,
        r#"{"on":true}"#,
    );
    assert_eq!(reply.status, 200, "{reply:?}");

    // Changes.
    let reply = json_call(
        addr,
        "PATCH",
        &format!("/api/v1/connections/{}", id("tcp4")),
        Some(&admin),
        true,
        r#"{"mark":4242,"timeout":5000}"#,
    );
    golden.json("json-change.http", &reply, &norm);
    let reply = json_call(
        addr,
        "POST",
        "/api/v1/connections/kill?orig_dport=123",
        Some(&admin),
        true,
        "",
    );
    golden.json("json-kill-matching.http", &reply, &norm);
    let udp4 = format!("/api/v1/connections/{}", id("udp4"));
    let reply = json_call(addr, "DELETE", &udp4, Some(&admin), true, "");
    golden.json("json-kill.http", &reply, &norm);
    let reply = json_call(addr, "DELETE", &udp4, Some(&admin), true, "");
    golden.json("json-kill-missing.http", &reply, &norm);

    // Errors.
    let reply = json_call(
        addr,
        "GET",
        "/api/v1/connections?orig_src=10.0.0.0/40",
        Some(&admin),
        false,
        "",
    );
    golden.json("json-error-bad-filter.http", &reply, &norm);
    let reply = json_call(
        addr,
        "GET",
        "/api/v1/connections?length=ten",
        Some(&admin),
        false,
        "",
    );
    golden.json("json-error-bad-length.http", &reply, &norm);
    let reply = json_call(addr, "GET", "/api/v1/connections", None, false, "");
    golden.json("json-error-no-session.http", &reply, &norm);
    let reply = json_call(
        addr,
        "PATCH",
        &format!("/api/v1/connections/{}", id("ntp4")),
        Some(&admin),
        true,
        r#"{"mark":1}"#,
    );
    golden.json("json-error-no-such-connection.http", &reply, &norm);
    let tcp6 = format!("/api/v1/connections/{}", id("tcp6"));
    let reply = json_call(addr, "PATCH", &tcp6, Some(&admin), true, "{not json");
    golden.json("json-error-bad-body.http", &reply, &norm);
    let reply = json_call(addr, "PATCH", &tcp6, Some(&admin), true, "{}");
    golden.json("json-error-empty-change.http", &reply, &norm);
    let reply = json_call(addr, "DELETE", &tcp6, Some(&admin), false, "");
    golden.json("json-error-csrf.http", &reply, &norm);
    let reply = json_call(addr, "DELETE", &tcp6, Some(&viewer), true, "");
    golden.json("json-error-denied.http", &reply, &norm);
    let reply = json_call(addr, "GET", "/api/v1/nothing", Some(&admin), false, "");
    golden.json("json-error-not-found.http", &reply, &norm);
    let reply = json_call(addr, "PUT", "/api/v1/stats", Some(&admin), true, "");
    golden.json("json-error-method-not-allowed.http", &reply, &norm);

    // The end of a session; after it, the cookie is no session.
    let reply = json_call(addr, "DELETE", "/api/v1/session", Some(&admin), true, "");
    golden.json("json-logout.http", &reply, &norm);
    let reply = json_call(addr, "GET", "/api/v1/session", Some(&admin), false, "");
    golden.json("json-error-logged-out.http", &reply, &norm);

    golden.finish();
}
