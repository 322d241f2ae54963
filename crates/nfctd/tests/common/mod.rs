//! The integration test bed: a private user+net namespace per test (no root
//! needed), filled through ctnetlink or real traffic; the real `nfctd` binary
//! started against it; an independent client (Python's xmlrpc.client), a raw
//! HTTP poster, hand-built XML-RPC (`raw`), a keep-alive client (`http`), a
//! JSON API client with cookie and CSRF token (`json`);
//! and the kernel's truth read straight from ctnetlink. The benchmark
//! (`benches/table.rs`) includes this module too, so both start the daemon
//! and speak XML-RPC the same way.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test uses part of the bed

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ctnetlink::{Conn, CtSocket};
use netns::Sandbox;
use serde_json::{json, Value as Json};

pub use ctnetlink::fixtures::synthetic;

pub mod collector;
pub mod export;
pub mod http;
pub mod json;
pub mod raw;
pub mod users;

/// A private namespace with addresses on its loopback.
pub struct Bed {
    pub sandbox: Sandbox,
}

impl Bed {
    pub fn new() -> Bed {
        let sandbox = Sandbox::create().expect("private user+net namespace");
        let addrs: [(IpAddr, u8); 3] = [
            ("192.0.2.1".parse().unwrap(), 24),
            ("198.51.100.1".parse().unwrap(), 24),
            ("2001:db8::1".parse().unwrap(), 64),
        ];
        sandbox.setup_loopback(&addrs).expect("loopback addresses");
        Bed { sandbox }
    }

    /// Turns on byte/packet accounting and start timestamps.
    pub fn with_accounting(self) -> Bed {
        self.sandbox
            .set_sysctl("net/netfilter/nf_conntrack_acct", "1")
            .unwrap();
        self.sandbox
            .set_sysctl("net/netfilter/nf_conntrack_timestamp", "1")
            .unwrap();
        self
    }

    /// Makes the namespace track real traffic.
    pub fn with_tracking(self) -> Bed {
        self.sandbox.enable_conntrack().unwrap();
        self
    }

    /// A ctnetlink socket inside the namespace: the kernel's truth, without the daemon.
    pub fn ct(&self) -> CtSocket {
        CtSocket::from_fd(self.sandbox.netfilter_socket().unwrap()).unwrap()
    }

    pub fn inject(&self, conns: &[Conn]) {
        let (failed, first) = self.ct().create_many(conns).unwrap();
        assert_eq!(failed, 0, "injection refused: {first:?}");
    }

    /// Creates `n` synthetic entries; returns how many the namespace holds.
    /// The kernel's hash table is shared by every namespace on the machine:
    /// when other tables crowd it, a few creates fail for a hash chain too
    /// long (ENOSPC, counted as `chaintoolong`). Those are left out.
    pub fn fill(&self, n: usize) -> u64 {
        let (failed, first) = self.ct().create_many(&synthetic(n)).unwrap();
        let crowded = matches!(&first, Some(ctnetlink::Error::Kernel { errno, .. }) if *errno == libc::ENOSPC);
        assert!(
            failed == 0 || (crowded && failed < n / 10),
            "{failed} of {n} creates refused: {first:?}"
        );
        let (count, _) = self.ct().global_counts().unwrap();
        u64::from(count)
    }

    pub fn kernel(&self) -> Vec<Conn> {
        self.ct().dump_all().unwrap()
    }

    /// `program` to run inside the namespace, as its user (nsenter).
    pub fn command(&self, program: &str) -> Command {
        let pid = self.sandbox.holder_pid().to_string();
        let mut command = Command::new("nsenter");
        command.args([
            "--target",
            &pid,
            "--user",
            "--net",
            "--preserve-credentials",
            program,
        ]);
        command
    }

    /// Runs `nft ARGS` inside the namespace (nftables must be installed).
    pub fn nft(&self, args: &[&str]) {
        let out = self
            .command("nft")
            .args(args)
            .output()
            .expect("nsenter and nft (apt-get install nftables)");
        assert!(
            out.status.success(),
            "nft {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A TCP or UDP socket living in the namespace.
    pub fn socket(&self, ty: i32) -> std::os::fd::OwnedFd {
        self.sandbox.socket(libc::AF_INET, ty, 0).unwrap()
    }
}

/// The real daemon binary serving a bed's namespace on host loopback.
pub struct Daemon {
    child: Child,
    /// The first listener's address (`url()` uses its scheme).
    pub addr: SocketAddr,
    /// Every listener, in the order logged: (TLS?, address).
    pub listeners: Vec<(bool, SocketAddr)>,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    pub fn start(bed: &Bed, args: &[&str]) -> Daemon {
        let netns = bed.sandbox.netns_path();
        let mut all = vec![
            "--netns",
            netns.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ];
        // The default backend depends on whether /etc/nfctd/passwd exists:
        // point it at a file that never does, unless the test chose.
        if !args.contains(&"--passwd-file") {
            all.extend_from_slice(&["--passwd-file", "/nonexistent/nfctd-test-passwd"]);
        }
        all.extend_from_slice(args);
        Daemon::spawn(&all)
    }

    /// Runs `nfctd ARGS`, waiting for its "listening on" line.
    pub fn spawn(args: &[&str]) -> Daemon {
        let mut command = Command::new(env!("CARGO_BIN_EXE_nfctd"));
        command.args(args);
        Daemon::spawn_command(command)
    }

    /// Like [`Daemon::start`], with the soft RLIMIT_NOFILE set to `soft` first
    /// (through the shell's `ulimit`, as an init script would).
    pub fn start_with_nofile(bed: &Bed, soft: u64, args: &[&str]) -> Daemon {
        let netns = bed.sandbox.netns_path();
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -Sn {soft} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_nfctd"))
            .args([
                "--netns",
                netns.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ])
            .args(args);
        Daemon::spawn_command(command)
    }

    /// Runs the daemon `command` describes, waiting for its "listening on"
    /// lines and then for its mirror to be live (the whole table loaded).
    pub fn spawn_command(command: Command) -> Daemon {
        let mut daemon = Daemon::spawn_command_loading(command);
        let live = wait_until(Duration::from_secs(60), || {
            daemon.log().contains("table mirror is live") || !daemon.is_running()
        });
        assert!(
            live && daemon.is_running(),
            "nfctd did not load its table:\n{}",
            daemon.log()
        );
        daemon
    }

    /// Like [`Daemon::start`], returning as soon as the daemon listens: it
    /// may still be loading its table.
    pub fn start_loading(bed: &Bed, args: &[&str]) -> Daemon {
        let netns = bed.sandbox.netns_path();
        let mut command = Command::new(env!("CARGO_BIN_EXE_nfctd"));
        command.args([
            "--netns",
            netns.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--passwd-file",
            "/nonexistent/nfctd-test-passwd",
        ]);
        command.args(args);
        Daemon::spawn_command_loading(command)
    }

    /// Runs the daemon `command` describes, waiting only for its "listening
    /// on" lines: it answers from then on, while its table may still load.
    pub fn spawn_command_loading(mut command: Command) -> Daemon {
        // Info unless the test chose a level.
        if !command.get_envs().any(|(k, _)| k == "NFCTD_LOG") {
            command.env("NFCTD_LOG", "info");
        }
        let mut child = command
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nfctd binary");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("listening on ").nth(1) {
                    let _ = tx.send(url.trim_end_matches('/').to_string());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let parse = |url: String| -> (bool, SocketAddr) {
            match url.split_once("://") {
                Some(("https", addr)) => (true, addr.parse().unwrap()),
                Some(("http", addr)) => (false, addr.parse().unwrap()),
                _ => panic!("unexpected listening line {url:?}"),
            }
        };
        let first = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(url) => parse(url),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!("nfctd did not start:\n{}", log.lock().unwrap());
            }
        };
        // The other listeners are logged right after the first.
        let mut listeners = vec![first];
        while let Ok(url) = rx.recv_timeout(Duration::from_millis(200)) {
            listeners.push(parse(url));
        }
        Daemon {
            child,
            addr: first.1,
            listeners,
            log,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.listeners[0].0 { "https" } else { "http" };
        format!("{scheme}://{}/RPC2", self.addr)
    }

    /// The first plain-HTTP listener.
    pub fn http_addr(&self) -> SocketAddr {
        self.listeners
            .iter()
            .find(|(tls, _)| !tls)
            .expect("an HTTP listener")
            .1
    }

    /// The first HTTPS listener.
    pub fn https_addr(&self) -> SocketAddr {
        self.listeners
            .iter()
            .find(|(tls, _)| *tls)
            .expect("an HTTPS listener")
            .1
    }

    /// The address of the `--metrics-listen` listener, from the log.
    pub fn metrics_addr(&self) -> SocketAddr {
        let mut found = None;
        wait_until(Duration::from_secs(5), || {
            found = self
                .log()
                .lines()
                .find_map(|l| l.split("serving /metrics on http://").nth(1))
                .and_then(|rest| rest.split('/').next())
                .and_then(|a| a.parse().ok());
            found.is_some()
        });
        found.expect("a --metrics-listen line in the log")
    }

    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.child.id() as i32)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// A Python xmlrpc.client session against this daemon.
    pub fn client(&self) -> Py {
        Py::new(&self.url())
    }

    /// POSTs a raw body; returns the HTTP status and the response body.
    pub fn post(&self, path: &str, body: &[u8]) -> (u16, String) {
        http_post(self.addr, path, body)
    }

    /// Stops with SIGTERM and returns the exit code.
    pub fn stop(mut self) -> Option<i32> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `request` as-is on a new connection and reads until the server
/// closes: the whole answer, as text.
pub fn http_answer(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).to_string()
}

/// Sends `request` as-is on a new connection and reads until the server
/// closes: (status, head, body). Status 0 when the answer is not HTTP.
pub fn http_exchange(addr: SocketAddr, request: &[u8]) -> (u16, String, String) {
    let text = http_answer(addr, request);
    let status = if text.starts_with("HTTP/1.") {
        text.split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    } else {
        0
    };
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_string(), body.to_string())
}

/// Runs `nfctd ARGS` expecting it to refuse to start: (exit code, stderr).
pub fn refused(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nfctd"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("nfctd binary");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// A minimal HTTP/1.1 POST (Connection: close), so malformed bodies can be sent as-is.
pub fn http_post(addr: SocketAddr, path: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Python's xmlrpc.client, one process per client, one call per JSON line.
pub struct Py {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// What a call gave: a value, a fault (code, string), or an HTTP error.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Ok(Json),
    Fault(i64, String),
    Http(i64, String),
}

impl Answer {
    pub fn ok(self) -> Json {
        match self {
            Answer::Ok(v) => v,
            other => panic!("expected a value, got {other:?}"),
        }
    }

    pub fn fault_code(&self) -> i64 {
        match self {
            Answer::Fault(code, _) => *code,
            other => panic!("expected a fault, got {other:?}"),
        }
    }

    pub fn fault_string(&self) -> &str {
        match self {
            Answer::Fault(_, s) => s,
            other => panic!("expected a fault, got {other:?}"),
        }
    }
}

impl Py {
    pub fn new(url: &str) -> Py {
        Py::with_args(&[url])
    }

    /// An HTTPS client that trusts only the certificates in `cafile` and checks the host name.
    pub fn new_tls(url: &str, cafile: &std::path::Path) -> Py {
        Py::with_args(&[url, cafile.to_str().unwrap()])
    }

    fn with_args(args: &[&str]) -> Py {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/common/client.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Py {
            child,
            stdin,
            stdout,
        }
    }

    pub fn call(&mut self, method: &str, params: Json) -> Answer {
        let line = json!({"m": method, "p": params}).to_string();
        writeln!(self.stdin, "{line}").unwrap();
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).unwrap();
        let v: Json =
            serde_json::from_str(&answer).unwrap_or_else(|_| panic!("client said {answer:?}"));
        if let Some(ok) = v.get("ok") {
            return Answer::Ok(ok.clone());
        }
        let pair = |key| {
            let p = &v[key];
            (
                p[0].as_i64().unwrap_or(0),
                p[1].as_str().unwrap_or("").to_string(),
            )
        };
        if v.get("fault").is_some() {
            let (c, s) = pair("fault");
            return Answer::Fault(c, s);
        }
        let (c, s) = pair("http");
        Answer::Http(c, s)
    }

    /// login() and return the session id.
    pub fn login(&mut self) -> String {
        self.call("login", json!([]))
            .ok()
            .as_str()
            .unwrap()
            .to_string()
    }
}

impl Drop for Py {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The system Python, where Debian's python3-* packages live (a `python3`
/// earlier on PATH may be another installation, such as pyenv's).
pub fn system_python() -> &'static str {
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// The one rule for a tool or library a test needs: present, go on; absent,
/// skip with a message on a workstation, fail when `CI` is set (`.ci/run`
/// installs everything). Returns whether to go on.
pub fn available(found: bool, what: &str, install: &str) -> bool {
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{what} is missing and CI is set: {install}"
        );
        println!("skipping: {what} is not available ({install})");
    }
    found
}

/// Polls `check` until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The ids of a view's connections, as strings.
pub fn ids(view: &Json) -> Vec<String> {
    view["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

/// A TCP connection inside the bed's namespace to an echo server on `addr`
/// (run by the returned thread until the client hangs up).
pub fn echo_connection(bed: &Bed, addr: &str) -> (TcpStream, std::thread::JoinHandle<()>) {
    let addr: SocketAddr = addr.parse().unwrap();
    let listener = socket2::Socket::from(bed.socket(libc::SOCK_STREAM));
    listener.set_reuse_address(true).unwrap();
    listener.bind(&addr.into()).unwrap();
    listener.listen(4).unwrap();
    let listener: std::net::TcpListener = listener.into();
    let client = socket2::Socket::from(bed.socket(libc::SOCK_STREAM));
    client.connect(&addr.into()).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = peer.read(&mut buf) {
            if n == 0 || peer.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    (client.into(), echo)
}

/// The protocol names the API must render for the fixtures' protocols, written
/// out here rather than taken from the daemon's own table.
pub fn proto(l4: u8) -> &'static str {
    match l4 {
        1 => "icmp",
        6 => "tcp",
        17 => "udp",
        47 => "gre",
        58 => "icmpv6",
        132 => "sctp",
        other => panic!("unexpected protocol {other}"),
    }
}

/// The connection keys nfctd-table declares as integers (`<int>` or `<i8>` on
/// XML-RPC, numbers in JSON), those present without a uid mask: taken from
/// the declaration, so a new key is checked without an edit here.
pub fn int_keys() -> Vec<&'static str> {
    use nfctd_table::query::{render, Context, Shown};
    let row = nfctd_table::Row::fixture(synthetic(1).remove(0), 0);
    render(&row, &Context::new(0, 0))
        .shown()
        .filter(|(_, value)| matches!(value, Shown::Int(_)))
        .map(|(field, _)| field.name())
        .collect()
}

/// A process's resident memory (VmRSS), in bytes.
pub fn rss(pid: nix::unistd::Pid) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib * 1024
}
