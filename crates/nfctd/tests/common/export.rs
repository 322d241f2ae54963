//! What the flow-export tests share: reading JSON lines as a tailing reader
//! does, checking them against the shipped schema (here, and with Python's
//! jsonschema where installed), test collectors listening on a Unix or TCP
//! socket that can go away and come back, and reading `/metrics`.

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value as Json};

use super::{Bed, Daemon};

pub const SCHEMA: &str = include_str!("../../../../packaging/export-record.schema.json");
pub const SCHEMA_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../packaging/export-record.schema.json"
);

/// The complete lines written so far. A read can meet a write in progress,
/// as any reader tailing the file can: the text after the last newline is
/// not a line yet.
pub fn lines(path: &Path) -> Vec<Json> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON value"))
        .collect()
}

/// The schema's keywords this file uses: type, required, properties,
/// additionalProperties: false, enum, const, minimum, maximum, `$ref` into
/// `$defs`, allOf, anyOf, if/then/else, not.
fn validate(value: &Json, schema: &Json, root: &Json, at: &str) -> Result<(), String> {
    if let Some(name) = schema.get("$ref").and_then(Json::as_str) {
        let name = name.strip_prefix("#/$defs/").expect("a local $ref");
        return validate(value, &root["$defs"][name], root, at);
    }
    for sub in schema
        .get("allOf")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        validate(value, sub, root, at)?;
    }
    if let Some(choices) = schema.get("anyOf").and_then(Json::as_array) {
        if !choices.iter().any(|c| validate(value, c, root, at).is_ok()) {
            return Err(format!("{at}: {value} matches none of {choices:?}"));
        }
    }
    if let Some(condition) = schema.get("if") {
        let branch = if validate(value, condition, root, at).is_ok() {
            schema.get("then")
        } else {
            schema.get("else")
        };
        if let Some(branch) = branch {
            validate(value, branch, root, at)?;
        }
    }
    if let Some(not) = schema.get("not") {
        if validate(value, not, root, at).is_ok() {
            return Err(format!("{at}: {value} matches {not}, which it must not"));
        }
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Json::String(t) => vec![t.as_str()],
            Json::Array(ts) => ts.iter().map(|t| t.as_str().unwrap()).collect(),
            _ => panic!("bad type in schema"),
        };
        let ok = types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            other => panic!("type {other} not handled"),
        });
        if !ok {
            return Err(format!("{at}: {value} is not {types:?}"));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Json::as_array) {
        if !allowed.contains(value) {
            return Err(format!("{at}: {value} not in {allowed:?}"));
        }
    }
    if let Some(constant) = schema.get("const") {
        if constant != value {
            return Err(format!("{at}: {value} is not {constant}"));
        }
    }
    if let (Some(min), Some(n)) = (schema.get("minimum"), value.as_u64()) {
        if n < min.as_u64().unwrap() {
            return Err(format!("{at}: {n} < {min}"));
        }
    }
    if let (Some(max), Some(n)) = (schema.get("maximum"), value.as_u64()) {
        if n > max.as_u64().unwrap() {
            return Err(format!("{at}: {n} > {max}"));
        }
    }
    let Some(object) = value.as_object() else {
        return Ok(());
    };
    for key in schema
        .get("required")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        if !object.contains_key(key.as_str().unwrap()) {
            return Err(format!("{at}: no {key}"));
        }
    }
    let properties = schema.get("properties").and_then(Json::as_object);
    for (key, v) in object {
        match properties.and_then(|p| p.get(key)) {
            Some(sub) => validate(v, sub, root, &format!("{at}.{key}"))?,
            None if schema.get("additionalProperties") == Some(&json!(false)) => {
                return Err(format!("{at}: unknown field {key}"))
            }
            None => {}
        }
    }
    Ok(())
}

/// Every record against the schema, here and (where Python's jsonschema is
/// installed) with a full validator, which reads the lines from `path`;
/// `seq` runs 1, 2, 3 … without a gap.
pub fn check_lines(path: &Path, records: &[Json]) {
    let schema: Json = serde_json::from_str(SCHEMA).unwrap();
    for (i, record) in records.iter().enumerate() {
        if let Err(e) = validate(record, &schema, &schema, &format!("line {}", i + 1)) {
            panic!("{e}");
        }
        assert_eq!(record["seq"], json!(i as u64 + 1), "seq has a gap");
    }
    let has_jsonschema = std::process::Command::new(super::system_python())
        .args(["-c", "import jsonschema"])
        .status()
        .is_ok_and(|s| s.success());
    if !super::available(
        has_jsonschema,
        "python3-jsonschema",
        "apt-get install python3-jsonschema",
    ) {
        return;
    }
    let script = "import json, sys, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        jsonschema.Draft202012Validator.check_schema(schema)\n\
        v = jsonschema.Draft202012Validator(schema)\n\
        for n, line in enumerate(open(sys.argv[2]), 1):\n\
        \x20   v.validate(json.loads(line))\n";
    let out = std::process::Command::new(super::system_python())
        .args(["-c", script, SCHEMA_PATH, path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "jsonschema: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Like [`check_lines`] for lines a test collector received: they are
/// written to a file in `dir` for the Python validator.
pub fn check_received(dir: &Path, received: &[String]) -> Vec<Json> {
    let path = dir.join("received.jsonl");
    let mut text = received.join("\n");
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    let records = lines(&path);
    check_lines(&path, &records);
    records
}

/// Where a test collector listens.
#[derive(Debug, Clone)]
pub enum Place {
    /// A Unix stream socket's path (a path works across namespaces).
    Unix(PathBuf),
    /// A TCP address on the bed namespace's loopback, where the daemon runs.
    Tcp(SocketAddr),
}

/// A test collector: accepts connections one after another and keeps every
/// complete line any of them sent, in order; it can go away (listener and
/// connection closed) and come back at the same place.
pub struct Collector {
    pub place: Place,
    received: Arc<Mutex<Vec<String>>>,
    running: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl Collector {
    /// A collector at `place`, not listening yet.
    pub fn new(place: Place) -> Collector {
        Collector {
            place,
            received: Arc::default(),
            running: None,
        }
    }

    /// Starts listening (again); `bed` makes TCP listeners in its namespace.
    pub fn listen(&mut self, bed: &Bed) {
        assert!(self.running.is_none(), "already listening");
        let listener = match &self.place {
            Place::Unix(path) => {
                let _ = std::fs::remove_file(path);
                let listener = UnixListener::bind(path).unwrap();
                listener.set_nonblocking(true).unwrap();
                Listener::Unix(listener)
            }
            Place::Tcp(addr) => {
                let socket = socket2::Socket::from(bed.socket(libc::SOCK_STREAM));
                socket.set_reuse_address(true).unwrap();
                socket.bind(&(*addr).into()).unwrap();
                socket.listen(8).unwrap();
                let listener: TcpListener = socket.into();
                listener.set_nonblocking(true).unwrap();
                Listener::Tcp(listener)
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::clone(&self.received);
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || serve(listener, &received, &stopping));
        self.running = Some((stop, thread));
    }

    /// Goes away: the listener and any connection are closed.
    pub fn stop(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            stop.store(true, Ordering::Relaxed);
            thread.join().unwrap();
        }
        if let Place::Unix(path) = &self.place {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Every complete line received so far.
    pub fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(listener: Listener, received: &Mutex<Vec<String>>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let accepted: std::io::Result<Box<dyn Read>> = match &listener {
            Listener::Unix(l) => l.accept().map(|(s, _)| {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
                Box::new(s) as Box<dyn Read>
            }),
            Listener::Tcp(l) => l.accept().map(|(s, _)| {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
                Box::new(s) as Box<dyn Read>
            }),
        };
        match accepted {
            Ok(mut stream) => read_lines(&mut *stream, received, stop),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Keeps the complete lines of one connection until it ends or `stop`;
/// a cut-off last line is not a line.
fn read_lines(stream: &mut dyn Read, received: &Mutex<Vec<String>>, stop: &AtomicBool) {
    let mut partial = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                partial.extend_from_slice(&buf[..n]);
                if let Some(end) = partial.iter().rposition(|b| *b == b'\n') {
                    let complete: Vec<u8> = partial.drain(..=end).collect();
                    let text = String::from_utf8(complete).unwrap();
                    received
                        .lock()
                        .unwrap()
                        .extend(text.lines().map(str::to_string));
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

/// The daemon's `/metrics` text.
pub fn scrape(daemon: &Daemon) -> String {
    let reply = super::json::request(daemon.addr, "GET", "/metrics", &[], "");
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// The sum of the samples of `name` whose labels contain `labels` (e.g.
/// `how="event"`; empty: all of them), as a scrape shows them.
pub fn metric(text: &str, name: &str, labels: &str) -> u64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, series_labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            (series_name == name && series_labels.contains(labels))
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .map(|v| v as u64)
        .sum()
}
