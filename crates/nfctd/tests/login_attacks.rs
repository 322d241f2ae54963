//! Attacks on login through the real daemon: line breaks and NUL smuggled
//! into a user name or password, blanks around a name or oversized
//! arguments meant to slip past a lockout, a crowd of concurrent failed
//! logins (memory), response times that would tell which users exist, and a
//! flood of addresses and names meant to make the throttle forget a lockout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::raw;
use common::users::{add_user, append, recording_program};
use common::{json, synthetic, Answer, Bed, Daemon};

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// An XML-RPC string that may hold control characters, as character
/// references (a raw CR would be normalised away by the XML parser).
fn xml_string(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() => out.push_str(&format!("&#{};", c as u32)),
            c => out.push(c),
        }
    }
    format!("<value><string>{out}</string></value>")
}

/// A keep-alive HTTP/1.1 connection to the daemon from a chosen source
/// address (127.0.0.0/8 is all local), for XML-RPC logins.
struct Conn {
    reader: BufReader<TcpStream>,
    to: SocketAddr,
}

impl Conn {
    fn new(from: Ipv4Addr, to: SocketAddr) -> Conn {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let local: SocketAddr = (from, 0).into();
        socket.bind(&local.into()).unwrap();
        socket.connect(&to.into()).unwrap();
        let stream: TcpStream = socket.into();
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        Conn {
            reader: BufReader::new(stream),
            to,
        }
    }

    /// POSTs an XML-RPC body; returns the HTTP status and the answer (a
    /// non-200 status gives `Answer::Http`).
    fn post(&mut self, body: &str) -> Answer {
        let head = format!(
            "POST /RPC2 HTTP/1.1\r\nHost: {}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
            self.to,
            body.len()
        );
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: i64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).unwrap();
        let body = String::from_utf8_lossy(&body).to_string();
        if status != 200 {
            return Answer::Http(status, body);
        }
        raw::parse_response(&body)
    }

    /// `login(user)` or `login(user, password)`.
    fn login(&mut self, user: &str, password: Option<&str>) -> Answer {
        let mut params = vec![xml_string(user)];
        params.extend(password.map(xml_string));
        self.post(&raw::call("login", &params))
    }
}

/// One login on a new connection from `from`.
fn login_from(daemon: &Daemon, from: &str, user: &str, password: &str) -> Answer {
    Conn::new(from.parse().unwrap(), daemon.addr).login(user, Some(password))
}

/// 0 for a session id, else the fault code (or the HTTP status, negated).
fn code(answer: &Answer) -> i64 {
    match answer {
        Answer::Ok(_) => 0,
        Answer::Fault(c, _) => *c,
        Answer::Http(status, _) => -status,
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Line breaks and NUL, in the user name or the password, each one a way
/// to make a line-oriented backend read another user than the throttle counted.
const INJECTIONS: [(&str, &str, &str); 7] = [
    ("alice\nopen sesame", "x", "user"),
    ("mallory\nalice", "open sesame", "user"),
    ("alice\r", "open sesame", "user"),
    ("alice\0", "open sesame", "user"),
    ("alice", "wrong\nopen sesame", "password"),
    ("alice", "open sesame\r", "password"),
    ("alice", "open\0sesame", "password"),
];

/// Every injection, over XML-RPC and the JSON API, is refused as an invalid
/// argument naming the field, without echoing it.
fn injections_are_refused(daemon: &Daemon, from: &str) {
    for (user, password, field) in INJECTIONS {
        let answer = login_from(daemon, from, user, password);
        match &answer {
            Answer::Fault(4, message) => {
                assert!(
                    message.contains(field) && message.contains("line break or NUL"),
                    "{user:?} {password:?}: {message}"
                );
                assert!(!message.contains("sesame") && !message.contains("mallory"));
            }
            // XML 1.0 has no NUL, not even as a reference: the parser may
            // refuse the call before any method sees it.
            Answer::Fault(-32700 | -32600, _) if format!("{user}{password}").contains('\0') => {}
            other => panic!("{user:?} {password:?}: {other:?}"),
        }
        let body = serde_json::json!({"user": user, "password": password}).to_string();
        let reply = json::request(daemon.addr, "POST", "/api/v1/session", &[], &body);
        assert_eq!(reply.status, 400, "{user:?} {password:?}: {}", reply.body);
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            reply.code() == "invalid_argument" && message.contains(field),
            "{message}"
        );
        assert!(!message.contains("sesame") && !message.contains("mallory"));
    }
}

#[test]
fn line_breaks_and_nul_are_refused_before_any_backend_or_throttle_sees_them() {
    let bed = Bed::new();
    let dir = tempfile::tempdir().unwrap();
    let (program, calls) = recording_program(dir.path(), "alice", "open sesame");
    let passwd = dir.path().join("passwd");
    add_user(&passwd, "alice", "open sesame", "admin");

    for backend in ["command", "password", "none"] {
        let mut args = vec!["--auth", backend, "--login-attempts", "3"];
        let program_arg = program.to_str().unwrap();
        let passwd_arg = passwd.to_str().unwrap();
        match backend {
            "command" => args.extend(["--auth-command", program_arg]),
            "password" => args.extend(["--passwd-file", passwd_arg]),
            _ => {}
        }
        let daemon = Daemon::start(&bed, &args);
        let started = Instant::now();
        injections_are_refused(&daemon, "127.0.0.2");
        if backend == "command" {
            assert!(!calls.exists(), "the program ran for an injection");
        }
        if backend == "none" {
            assert_eq!(code(&login_from(&daemon, "127.0.0.2", "alice", "x")), 0);
            continue;
        }
        // Nothing was counted: three real failures are still needed to lock
        // alice; once locked, no injection gets her checked.
        for _ in 0..3 {
            assert_eq!(code(&login_from(&daemon, "127.0.0.3", "alice", "guess")), 1);
        }
        injections_are_refused(&daemon, "127.0.0.4");
        assert_eq!(
            code(&login_from(&daemon, "127.0.0.5", "alice", "open sesame")),
            7,
            "{backend}: alice stays locked"
        );
        if backend == "command" {
            let lines = std::fs::read_to_string(&calls).unwrap().lines().count();
            assert_eq!(lines, 3, "the program ran for the three real failures only");
        }
        eprintln!("{backend}: injections refused, {:?}", started.elapsed());
        let log = daemon.log();
        assert!(log.contains("line break or NUL"), "{log}");
        assert!(!log.contains("sesame"), "{log}");
    }
}

#[test]
fn concurrent_failed_logins_keep_memory_bounded_and_give_it_back() {
    let bed = Bed::new();
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    for i in 0..4 {
        add_user(&passwd, &format!("user{i}"), &format!("pw{i}"), "viewer");
    }
    let daemon = Daemon::start(
        &bed,
        &[
            "--passwd-file",
            passwd.to_str().unwrap(),
            "--login-attempts",
            "100000",
            "--heavy-queue",
            "1024",
        ],
    );
    let pid = daemon.pid();
    // The checking threads take their memory as the daemon starts.
    std::thread::sleep(Duration::from_millis(500));
    let before = mib(common::rss(pid));

    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(common::rss(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    const LOGINS: usize = 256;
    let barrier = Arc::new(Barrier::new(LOGINS));
    let started = Instant::now();
    let addr = daemon.addr;
    let clients: Vec<_> = (0..LOGINS)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                // 64 client addresses, 127.0.0.2 to 127.0.0.65.
                let from = Ipv4Addr::new(127, 0, 0, 2 + (i % 64) as u8);
                let mut conn = Conn::new(from, addr);
                let user = if i % 2 == 0 {
                    format!("user{}", i % 4)
                } else {
                    format!("nobody{i}")
                };
                barrier.wait();
                code(&conn.login(&user, Some("wrong")))
            })
        })
        .collect();
    let codes: Vec<i64> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let took = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let during = mib(peak.load(Ordering::Relaxed));
    std::thread::sleep(Duration::from_secs(2));
    let after = mib(common::rss(pid));
    eprintln!(
        "{LOGINS} concurrent failed logins in {took:?}: RSS {before:.1} MiB before, {during:.1} MiB at most during, {after:.1} MiB after"
    );
    assert!(codes.iter().all(|&c| c == 1), "{codes:?}");
    assert!(during - before < 150.0, "{during:.1} MiB vs {before:.1}");
    assert!(after - before < 50.0, "{after:.1} MiB vs {before:.1}");
}

#[test]
fn response_times_do_not_tell_which_users_exist_or_how_they_are_hashed() {
    let bed = Bed::new();
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    add_user(&passwd, "argon", "secret", "viewer");
    append(
        &passwd,
        concat!(
            // openssl passwd -6 -salt saltsalt secret
            "six:$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1:viewer\n",
            // openssl passwd -5 -salt saltsalt secret
            "five:$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA:viewer\n",
            // python3 -c 'import crypt; print(crypt.crypt("secret", "$y$j9T$saltsaltsaltsalt$"))'
            "yes:$y$j9T$saltsaltsaltsalt$.Zt5W26jjocuW0wIHGgB6AJelofw6GEpOypHGyow2y5:viewer\n",
            // python3 -c 'import hashlib; print(hashlib.sha1(b"pyctd").hexdigest())'
            "hexsha:499151674e56117e059b6095fd777bdc98d24757:viewer\n",
            // python3 -c 'import base64,hashlib; print(base64.b64encode(hashlib.sha1(b"pyctd").digest()).decode())'
            "b64sha:{SHA}SZFRZ05WEX4Fm2CV/Xd73JjSR1c=:viewer\n",
        ),
    );
    let daemon = Daemon::start(
        &bed,
        &[
            "--passwd-file",
            passwd.to_str().unwrap(),
            "--login-attempts",
            "100000",
        ],
    );
    let kinds = ["unknown", "argon", "six", "five", "yes", "hexsha", "b64sha"];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); kinds.len()];
    const WARM: usize = 2;
    const ROUNDS: usize = 17;
    let mut conn = Conn::new(Ipv4Addr::new(127, 0, 0, 2), daemon.addr);
    for round in 0..WARM + ROUNDS {
        for (k, kind) in kinds.iter().enumerate() {
            let user = if *kind == "unknown" {
                format!("nobody{round}")
            } else {
                kind.to_string()
            };
            let t = Instant::now();
            let answer = conn.login(&user, Some("wrong"));
            let took = t.elapsed();
            assert_eq!(code(&answer), 1, "{user}");
            if round >= WARM {
                samples[k].push(took);
            }
        }
    }
    let medians: Vec<Duration> = samples.into_iter().map(median).collect();
    let unknown = medians[0].as_secs_f64();
    let mut report = String::new();
    for (kind, m) in kinds.iter().zip(&medians) {
        report.push_str(&format!("{kind} {:.1} ms, ", m.as_secs_f64() * 1000.0));
    }
    eprintln!("median failed-login times over {ROUNDS} rounds: {report}");
    for (kind, m) in kinds.iter().zip(&medians) {
        let off = (m.as_secs_f64() - unknown).abs() / unknown;
        assert!(
            off <= 0.2,
            "{kind} differs by {:.0}%: {report}",
            off * 100.0
        );
    }
}

#[test]
fn a_flood_of_addresses_and_names_does_not_free_a_locked_admin() {
    let bed = Bed::new();
    bed.inject(&synthetic(3));
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    add_user(&passwd, "admin", "admin-pw", "admin");
    let daemon = Daemon::start(&bed, &["--passwd-file", passwd.to_str().unwrap()]);

    // Locked from the network (default: 5 failures within 60 s).
    for _ in 0..5 {
        assert_eq!(code(&login_from(&daemon, "127.0.0.2", "admin", "guess")), 1);
    }
    let locked_at = Instant::now();
    assert_eq!(
        code(&login_from(&daemon, "127.0.0.3", "admin", "admin-pw")),
        7
    );

    // 5,000 addresses, each spending its five attempts on fresh names
    // without a password: 25,000 names, more than the throttle keeps.
    const ADDRS: usize = 5000;
    const THREADS: usize = 4;
    let addr = daemon.addr;
    let flood: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let mut refused = 0;
                for i in (t..ADDRS).step_by(THREADS) {
                    let from = Ipv4Addr::new(127, 1 + (i / 250) as u8, (i % 250) as u8, 1);
                    let mut conn = Conn::new(from, addr);
                    for j in 0..5 {
                        let c = code(&conn.login(&format!("flood-{i}-{j}"), None));
                        assert!(c == 1 || c == 7, "{c}");
                        refused += usize::from(c == 7);
                    }
                }
                refused
            })
        })
        .collect();
    let throttled: usize = flood.into_iter().map(|f| f.join().unwrap()).sum();
    let flooded_in = locked_at.elapsed();
    eprintln!(
        "flood of {} password-less logins from {ADDRS} addresses in {flooded_in:?} ({throttled} throttled)",
        ADDRS * 5
    );
    assert!(
        flooded_in < Duration::from_secs(50),
        "the flood must end inside the window"
    );

    // Still locked from the network, with the right password...
    assert_eq!(
        code(&login_from(&daemon, "127.0.0.4", "admin", "admin-pw")),
        7
    );
    // ...while the administrator on the host (--admin-from default) gets in.
    let answer = login_from(&daemon, "127.0.0.1", "admin", "admin-pw");
    let sid = answer.ok().as_str().unwrap().to_string();
    let view = daemon
        .client()
        .call("view", serde_json::json!([sid, {}, "", "", 0, 10]))
        .ok();
    assert_eq!(common::ids(&view).len(), 3, "the session works");
    // And that success did not unlock the name for the network.
    assert_eq!(
        code(&login_from(&daemon, "127.0.0.4", "admin", "admin-pw")),
        7
    );
    let log = daemon.log();
    assert!(log.contains("too many failures"), "{log}");
}

/// Names a program reading with `read -r` takes for `admin`, or that are
/// too long, and a password too long to be anyone's, each with the
/// argument it is refused for and a word of the message.
fn variants() -> Vec<(String, String, &'static str, &'static str)> {
    let right = "open sesame".to_string();
    let mut v: Vec<(String, String, &str, &str)> = [
        (" admin", "whitespace"),
        ("admin ", "whitespace"),
        ("\u{a0}admin", "whitespace"),
        ("\tadmin", "control character"),
        ("admin\t", "control character"),
        // XML 1.0 allows no C0 control but tab, line feed and CR.
        ("ad\u{85}min", "control character"),
    ]
    .into_iter()
    .map(|(user, why)| (user.to_string(), right.clone(), "user", why))
    .collect();
    v.push(("a".repeat(300), right.clone(), "user", "at most 256 bytes"));
    v.push((
        "admin".to_string(),
        "p".repeat(5000),
        "password",
        "at most 4096 bytes",
    ));
    v
}

#[test]
fn blank_control_and_oversized_variants_of_a_locked_name_are_refused_before_the_program_runs() {
    let bed = Bed::new();
    let dir = tempfile::tempdir().unwrap();
    // The documentation's old example: `read -r` strips blanks around the
    // name, so " admin" used to be checked as admin, a name not locked.
    let (program, calls) = recording_program(dir.path(), "admin", "open sesame");
    let daemon = Daemon::start(
        &bed,
        &[
            "--auth",
            "command",
            "--auth-command",
            program.to_str().unwrap(),
        ],
    );
    let ran = || {
        std::fs::read_to_string(&calls)
            .unwrap_or_default()
            .lines()
            .count()
    };
    for i in 0..5 {
        let from = format!("127.0.3.{}", i + 1);
        assert_eq!(code(&login_from(&daemon, &from, "admin", "guess")), 1);
    }
    assert_eq!(ran(), 5);
    assert_eq!(
        code(&login_from(&daemon, "127.0.3.10", "admin", "open sesame")),
        7,
        "admin is locked"
    );
    for (k, (user, password, field, why)) in variants().into_iter().enumerate() {
        let from = format!("127.0.4.{}", k + 1);
        match login_from(&daemon, &from, &user, &password) {
            Answer::Fault(4, message) => assert!(
                message.contains(field) && message.contains(why) && !message.contains("sesame"),
                "{user:?}: {message}"
            ),
            other => panic!("{user:?}: {other:?}"),
        }
        let body = serde_json::json!({"user": user, "password": password}).to_string();
        let reply = json::request(daemon.addr, "POST", "/api/v1/session", &[], &body);
        assert_eq!(reply.status, 400, "{user:?}: {}", reply.body);
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            reply.code() == "invalid_argument" && message.contains(field) && message.contains(why),
            "{user:?}: {message}"
        );
        // The metrics page's Basic auth goes through the same check.
        use base64::Engine as _;
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        let scrape = json::request(
            daemon.addr,
            "GET",
            "/metrics",
            &[("Authorization", basic.as_str())],
            "",
        );
        assert_eq!(scrape.status, 401, "{user:?}");
        assert!(!scrape.body.contains("nfctd_"));
    }
    assert_eq!(ran(), 5, "the program ran for no variant");
    // Nothing a variant did unlocked the name or counted against anyone.
    assert_eq!(
        code(&login_from(&daemon, "127.0.3.11", "admin", "open sesame")),
        7
    );
    assert_eq!(
        code(&login_from(&daemon, "127.0.0.1", "admin", "open sesame")),
        0
    );
    let log = daemon.log();
    assert!(
        log.contains("must not begin or end with whitespace"),
        "{log}"
    );
    assert!(!log.contains("sesame"), "{log}");
}
