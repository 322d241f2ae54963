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

use common::json::{Reply, Session};
use common::raw::{self, array, boolean, int, s, strukt};
use common::users::append;
use common::{http_answer, wait_until, Bed, Daemon};
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

/// The status line and every header of a reply but those that differ by
/// run only through the body's length or the clock.
fn compared_head(reply: &Reply) -> String {
    let mut out = format!("status: {}\n", reply.status);
    for (k, v) in &reply.headers {
        if !k.eq_ignore_ascii_case("date") && !k.eq_ignore_ascii_case("content-length") {
            out.push_str(&format!("{k}: {v}\n"));
        }
    }
    out
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

/// One answer, as it came (a chunked body put back together; header names
/// as sent, lower case from hyper, in order).
fn send(addr: SocketAddr, request: &str) -> Reply {
    Reply::parse(&http_answer(addr, request.as_bytes()))
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

fn json_call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    session: Option<&Session>,
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
fn json_login(addr: SocketAddr, user: &str, norm: &mut Normalizer) -> (Reply, Session) {
    let body = format!(r#"{{"user":"{user}","password":"{PASSWORD}"}}"#);
    let reply = json_call(addr, "POST", "/api/v1/session", None, false, &body);
    let session = Session::from_login(addr, &reply);
    let sid = session.cookie.split_once('=').unwrap().1;
    norm.secret(sid, 32, &format!("{{sid:{user}}}"));
    norm.secret(&session.csrf, 64, &format!("{{csrf:{user}}}"));
    (reply, session)
}

/// Opens the event stream and reads its head and its first event that
/// carries data; the stream is then dropped.
fn first_event(addr: SocketAddr, session: &Session) -> Reply {
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
        if text.contains("\r\n\r\n") {
            let mut reply = Reply::parse(&text);
            // Events end with a blank line: keep up to the first one with data.
            let mut end = 0;
            let mut found = false;
            while let Some(at) = reply.body[end..].find("\n\n") {
                let block = &reply.body[end..end + at];
                end += at + 2;
                if block.lines().any(|l| l.starts_with("data:")) {
                    found = true;
                    break;
                }
            }
            if found {
                reply.body.truncate(end);
                return reply;
            }
        }
        assert!(Instant::now() < deadline, "no event within 10 s: {text:?}");
        let n = stream.read(&mut buf).expect("the event stream");
        assert!(n > 0, "the event stream ended: {text:?}");
        raw.extend_from_slice(&buf[..n]);
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
    // nf_conntrack_buckets: the host's too (the hash table is global).
    ("buckets", Shape::Integer),
    // The kernel's per-CPU statistics, which differ between kernel versions.
    ("found", Shape::Integer),
    ("invalid", Shape::Integer),
    ("insert_failed", Shape::Integer),
    ("drop", Shape::Integer),
    ("early_drop", Shape::Integer),
    ("error", Shape::Integer),
    ("search_restart", Shape::Integer),
    ("clash_resolve", Shape::Integer),
    ("chaintoolong", Shape::Integer),
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

/// Copies `text`; after each `key`, where `value` accepts what follows as
/// `Some((n, by))`, its first `n` bytes become `by`.
fn after_each(text: &str, key: &str, value: impl Fn(&str) -> Option<(usize, String)>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(key) {
        let after = at + key.len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        if let Some((n, by)) = value(rest) {
            out.push_str(&by);
            rest = &rest[n..];
        }
    }
    out.push_str(rest);
    out
}

fn xml_field(text: &str, name: &str, shape: Shape) -> String {
    let key = format!("<name>{name}</name><value><");
    after_each(text, &key, |rest| {
        let tag_end = rest.find('>')?;
        let tag = &rest[..tag_end];
        let value_start = tag_end + 1;
        let len = rest[value_start..].find("</")?;
        let value = &rest[value_start..value_start + len];
        let ok = match shape {
            Shape::Integer => matches!(tag, "int" | "i4" | "i8") && is_digits(value),
            Shape::Time => tag == "dateTime.iso8601" && fits(value, "DDDDDDDDTDD:DD:DD"),
            Shape::Version => false,
        };
        let kept = &rest[..value_start];
        ok.then(|| (value_start + len, format!("{kept}{{{name}}}")))
    })
}

fn json_field(text: &str, name: &str, shape: Shape) -> String {
    let key = format!("\"{name}\":");
    after_each(text, &key, |rest| {
        if let Some(quoted) = rest.strip_prefix('"') {
            let value = &quoted[..quoted.find('"')?];
            let ok = match shape {
                Shape::Time => rfc3339_utc(value),
                Shape::Version => {
                    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                }
                Shape::Integer => false,
            };
            ok.then(|| (value.len() + 2, format!("\"{{{name}}}\"")))
        } else {
            let len = rest.bytes().take_while(u8::is_ascii_digit).count();
            let ok = matches!(shape, Shape::Integer) && len > 0;
            ok.then(|| (len, format!("{{{name}}}")))
        }
    })
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
        let this = compared_head(reply);
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
        let text = format!("{}\n{}", compared_head(reply), reply.body);
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
    let login = |user: &str, password: &str| raw::call("login", &[s(user), s(password)]);

    // Sessions.
    let reply = xml(addr, &login("admin", PASSWORD));
    let sid = xml_string(&reply);
    norm.secret(&sid, 32, "{sid:admin}");
    golden.xml("xmlrpc-login.xml", &reply, &norm, &mut head);
    let viewer = xml_string(&xml(addr, &login("viewer", PASSWORD)));
    norm.secret(&viewer, 32, "{sid:viewer}");

    // Each call body is POSTed in turn and its reply compared with its golden
    // file. The order matters: the later calls read what the earlier changed.
    let walk = |golden: &mut Golden, head: &mut Option<String>, calls: &[(&str, String)]| {
        for (name, body) in calls {
            golden.xml(name, &xml(addr, body), &norm, head);
        }
    };
    let member = |method: &str, params: &[String]| {
        strukt(&[("methodName", s(method)), ("params", array(params))])
    };
    let view = |filter: String, order_by: &str, order_dir: &str| {
        let (from, to) = (int(0), int(10));
        raw::call(
            "view",
            &[s(&sid), filter, s(order_by), s(order_dir), from, to],
        )
    };
    walk(
        &mut golden,
        &mut head,
        &[
            ("xmlrpc-fault-auth-failed.xml", login("admin", "wrong")),
            // Reads, before anything changes the table.
            (
                "xmlrpc-view.xml",
                view(
                    strukt(&[
                        ("proto", array(&[s("tcp"), s("udp")])),
                        ("orig_sport", s("40000-40003")),
                    ]),
                    "mark",
                    "DESC",
                ),
            ),
            ("xmlrpc-stats.xml", raw::call("stats", &[s(&sid)])),
            // Introspection.
            (
                "xmlrpc-system-listMethods.xml",
                raw::call("system.listMethods", &[]),
            ),
            (
                "xmlrpc-system-methodHelp.xml",
                raw::call("system.methodHelp", &[s("view")]),
            ),
            (
                "xmlrpc-system-methodSignature.xml",
                raw::call("system.methodSignature", &[s("change")]),
            ),
            (
                "xmlrpc-system-getCapabilities.xml",
                raw::call("system.getCapabilities", &[]),
            ),
            (
                "xmlrpc-system-multicall.xml",
                raw::call(
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
                ),
            ),
            // Frozen view, refresh.
            (
                "xmlrpc-set_autorefresh.xml",
                raw::call("set_autorefresh", &[s(&sid), int(0)]),
            ),
            ("xmlrpc-refresh.xml", raw::call("refresh", &[s(&sid)])),
        ],
    );
    let reply = call(addr, "set_autorefresh", &[s(&sid), boolean(true)]);
    assert!(reply.body.contains("<boolean>1</boolean>"), "{reply:?}");
    let change = |sid: &str, field: &str, label: &str, value: i64| {
        raw::call("change", &[s(sid), s(field), id(label), int(value)])
    };
    walk(
        &mut golden,
        &mut head,
        &[
            // Changes.
            ("xmlrpc-change-mark.xml", change(&sid, "mark", "tcp4", 4242)),
            (
                "xmlrpc-change-timeout.xml",
                change(&sid, "timeout", "udp4", 5000),
            ),
            (
                "xmlrpc-kill_matching.xml",
                raw::call(
                    "kill_matching",
                    &[s(&sid), strukt(&[("orig_dport", int(123))])],
                ),
            ),
            // One there, one already gone (killed just above).
            (
                "xmlrpc-kill.xml",
                raw::call("kill", &[s(&sid), array(&[id("udp4"), id("ntp4")])]),
            ),
            // Faults.
            (
                "xmlrpc-fault-unknown-method.xml",
                raw::call("no_such_method", &[]),
            ),
            ("xmlrpc-fault-bad-params.xml", raw::call("view", &[s(&sid)])),
            (
                "xmlrpc-fault-param-type.xml",
                view(s("not a struct"), "", ""),
            ),
            (
                "xmlrpc-fault-bad-filter.xml",
                view(strukt(&[("orig_src", s("10.0.0.0/40"))]), "", ""),
            ),
            (
                "xmlrpc-fault-bad-order_by.xml",
                view(strukt(&[]), "colour", ""),
            ),
            (
                "xmlrpc-fault-denied.xml",
                raw::call("kill", &[s(&viewer), array(&[id("tcp4")])]),
            ),
            (
                "xmlrpc-fault-no-such-connection.xml",
                change(&sid, "mark", "ntp4", 1),
            ),
            (
                "xmlrpc-fault-not-well-formed.xml",
                "<methodCall><methodName>view</methodName".to_string(),
            ),
            (
                "xmlrpc-fault-not-a-call.xml",
                "<?xml version=\"1.0\"?><methodResponse><params/></methodResponse>".to_string(),
            ),
            // The end of a session; after it, the session is unknown.
            ("xmlrpc-logout.xml", raw::call("logout", &[s(&sid)])),
            (
                "xmlrpc-fault-not-logged-in.xml",
                raw::call("stats", &[s(&sid)]),
            ),
        ],
    );

    golden.check("xmlrpc-head.txt", head.as_deref().unwrap().trim_end());
    golden.finish();
}

/// One JSON call and the golden file of its reply: (file, method, path,
/// session, whether with the CSRF token, body).
type JsonCase<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Option<&'a Session>,
    bool,
    &'a str,
);

#[test]
fn json_replies_match_the_golden_files() {
    // With --uid-mask, rows carry `uid` and `user`: the mark 42 is uid 0
    // (root everywhere), 3000000000 is uid 45776 (no such user: its number).
    let setup = Setup::new(&["--uid-mask", "0xffff0000"]);
    let addr = setup.daemon.addr;
    let mut norm = setup.normalizer();
    let mut golden = Golden::new("json-");

    // Sessions.
    let (reply, admin) = json_login(addr, "admin", &mut norm);
    golden.json("json-login.http", &reply, &norm);
    let (_, viewer) = json_login(addr, "viewer", &mut norm);
    let (admin, viewer) = (Some(&admin), Some(&viewer));

    // Each call is made in turn and its reply compared with its golden file.
    // The order matters: the later calls read what the earlier changed.
    let walk = |golden: &mut Golden, cases: &[JsonCase]| {
        for &(name, method, path, session, csrf, body) in cases {
            let reply = json_call(addr, method, path, session, csrf, body);
            golden.json(name, &reply, &norm);
        }
    };
    let conn = |label: &str| format!("/api/v1/connections/{}", setup.id(label));
    let (tcp4, udp4, ntp4, tcp6) = (conn("tcp4"), conn("udp4"), conn("ntp4"), conn("tcp6"));
    let tcp6_only = format!("/api/v1/connections?id={}", setup.id("tcp6"));
    let wrong = r#"{"user":"admin","password":"wrong"}"#;
    let page = "/api/v1/connections?proto=tcp,udp&orig_sport=40000-40003\
                &order_by=mark&order_dir=asc&start=1&length=2";

    #[rustfmt::skip]
    let first: &[JsonCase] = &[
        ("json-error-auth-failed.http", "POST", "/api/v1/session", None, false, wrong),
        ("json-session.http", "GET", "/api/v1/session", admin, false, ""),
        // Reads, before anything changes the table.
        ("json-connections.http", "GET", page, admin, false, ""),
        ("json-connection-one.http", "GET", &tcp6_only, admin, false, ""),
        ("json-stats.http", "GET", "/api/v1/stats", admin, false, ""),
    ];
    walk(&mut golden, first);
    let reply = first_event(addr, admin.unwrap());
    golden.json("json-events.http", &reply, &norm);
    #[rustfmt::skip]
    let frozen: &[JsonCase] = &[
        ("json-openapi.http", "GET", "/api/v1/openapi.json", None, false, ""),
        // Frozen view, refresh.
        ("json-autorefresh.http", "PUT", "/api/v1/autorefresh", admin, true, r#"{"on":false}"#),
        ("json-refresh.http", "POST", "/api/v1/refresh", admin, true, ""),
    ];
    walk(&mut golden, frozen);
    let on = r#"{"on":true}"#;
    let reply = json_call(addr, "PUT", "/api/v1/autorefresh", admin, true, on);
    assert_eq!(reply.status, 200, "{reply:?}");
    #[rustfmt::skip]
    let rest: &[JsonCase] = &[
        // Changes.
        ("json-change.http", "PATCH", &tcp4, admin, true, r#"{"mark":4242,"timeout":5000}"#),
        ("json-kill-matching.http", "POST", "/api/v1/connections/kill?orig_dport=123", admin, true, ""),
        ("json-kill.http", "DELETE", &udp4, admin, true, ""),
        ("json-kill-missing.http", "DELETE", &udp4, admin, true, ""),
        // Errors.
        ("json-error-bad-filter.http", "GET", "/api/v1/connections?orig_src=10.0.0.0/40", admin, false, ""),
        ("json-error-bad-length.http", "GET", "/api/v1/connections?length=ten", admin, false, ""),
        ("json-error-no-session.http", "GET", "/api/v1/connections", None, false, ""),
        ("json-error-no-such-connection.http", "PATCH", &ntp4, admin, true, r#"{"mark":1}"#),
        ("json-error-bad-body.http", "PATCH", &tcp6, admin, true, "{not json"),
        ("json-error-empty-change.http", "PATCH", &tcp6, admin, true, "{}"),
        ("json-error-csrf.http", "DELETE", &tcp6, admin, false, ""),
        ("json-error-denied.http", "DELETE", &tcp6, viewer, true, ""),
        ("json-error-not-found.http", "GET", "/api/v1/nothing", admin, false, ""),
        ("json-error-method-not-allowed.http", "PUT", "/api/v1/stats", admin, true, ""),
        // The end of a session; after it, the cookie is no session.
        ("json-logout.http", "DELETE", "/api/v1/session", admin, true, ""),
        ("json-error-logged-out.http", "GET", "/api/v1/session", admin, false, ""),
    ];
    walk(&mut golden, rest);

    golden.finish();
}
