//! Authentication through the real daemon: the password, command and none
//! backends, every hash kind the password file reads, `nfctd passwd`, the
//! role matrix with the kernel table checked after every refusal, login
//! throttling, and reloads that end a removed user's sessions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::raw::{self, s};
use common::users::{add_user, append, passwd, script};
use common::{synthetic, wait_until, Answer, Bed, Daemon};
use serde_json::{json, Value as Json};

const NFCTD: &str = env!("CARGO_BIN_EXE_nfctd");

fn login(py: &mut common::Py, user: &str, password: &str) -> Answer {
    py.call("login", json!([user, password]))
}

fn sid(answer: Answer) -> String {
    answer.ok().as_str().unwrap().to_string()
}

/// What the refused calls must not touch: every entry's id and mark.
fn table(bed: &Bed) -> Vec<(u32, u32)> {
    let mut t: Vec<_> = bed.kernel().iter().map(|c| (c.id, c.mark)).collect();
    t.sort_unstable();
    t
}

/// A login posted from a chosen loopback address (127.0.0.0/8 is all
/// local), so throttling per address can be told apart from per user.
fn login_from(daemon: &Daemon, from: &str, user: &str, password: &str) -> Answer {
    let body = raw::call("login", &[s(user), s(password)]);
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let local: SocketAddr = format!("{from}:0").parse().unwrap();
    socket.bind(&local.into()).unwrap();
    socket.connect(&daemon.addr.into()).unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    let head = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: {}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        daemon.addr,
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    raw::parse_response(answer.split_once("\r\n\r\n").unwrap().1)
}

fn code(answer: &Answer) -> i64 {
    match answer {
        Answer::Ok(_) => 0,
        other => other.fault_code(),
    }
}

struct Users {
    _dir: tempfile::TempDir,
    file: PathBuf,
}

/// A password file with `admin` (role admin) and `viewer` (role viewer).
fn two_users() -> Users {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passwd");
    add_user(&file, "admin", "admin-pw", "admin");
    add_user(&file, "viewer", "viewer-pw", "viewer");
    Users { _dir: dir, file }
}

#[test]
fn password_file_hashes_of_every_kind() {
    let bed = Bed::new();
    let users = two_users();
    append(
        &users.file,
        concat!(
            // python3 -c 'import hashlib; print(hashlib.sha1(b"pyctd").hexdigest())'
            "hexsha:499151674e56117e059b6095fd777bdc98d24757:viewer\n",
            // python3 -c 'import base64,hashlib; print(base64.b64encode(hashlib.sha1(b"pyctd").digest()).decode())'
            "b64sha:{SHA}SZFRZ05WEX4Fm2CV/Xd73JjSR1c=:admin\n",
            // openssl passwd -6 -salt saltsalt secret
            "six:$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1:viewer\n",
            // openssl passwd -5 -salt saltsalt secret
            "five:$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA:viewer\n",
            // python3 -c 'import crypt; print(crypt.crypt("secret", "$y$j9T$saltsaltsaltsalt$"))'
            "yes:$y$j9T$saltsaltsaltsalt$.Zt5W26jjocuW0wIHGgB6AJelofw6GEpOypHGyow2y5:viewer\n",
        ),
    );
    let file = users.file.to_str().unwrap();
    // No --auth: the file exists, so the backend is `password`.
    let daemon = Daemon::start(&bed, &["--passwd-file", file, "--login-attempts", "1000"]);
    let mut py = daemon.client();
    for (user, right) in [
        ("admin", "admin-pw"),
        ("viewer", "viewer-pw"),
        ("hexsha", "pyctd"),
        ("b64sha", "pyctd"),
        ("six", "secret"),
        ("five", "secret"),
        ("yes", "secret"),
    ] {
        assert!(login(&mut py, user, right).ok().is_string(), "{user}");
        for wrong in ["", "x", &format!("{right} "), &right.to_uppercase()] {
            assert_eq!(
                login(&mut py, user, wrong).fault_code(),
                1,
                "{user} {wrong:?}"
            );
        }
    }
    assert_eq!(login(&mut py, "nobody", "pyctd").fault_code(), 1);
    assert_eq!(py.call("login", json!([])).fault_code(), 1, "no arguments");
    assert_eq!(
        py.call("login", json!(["admin"])).fault_code(),
        1,
        "no password"
    );
    let log = daemon.log();
    assert!(
        log.contains("unsalted SHA-1"),
        "a warning to rehash:\n{log}"
    );
    assert!(log.contains("login failed"), "{log}");
    for secret in ["admin-pw", "4991516", "$6$saltsalt", "SZFRZ05WEX4Fm2CV"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

#[test]
fn role_matrix_with_the_kernel_checked_after_every_refusal() {
    let bed = Bed::new();
    bed.inject(&synthetic(12));
    let users = two_users();
    let daemon = Daemon::start(&bed, &["--passwd-file", users.file.to_str().unwrap()]);
    let mut py = daemon.client();
    let admin = sid(login(&mut py, "admin", "admin-pw"));
    let viewer = sid(login(&mut py, "viewer", "viewer-pw"));
    let bad = "0".repeat(32);
    let ids: Vec<String> = bed.kernel().iter().map(|c| c.id.to_string()).collect();
    let before = table(&bed);

    let calls = |sid: &str, id: &str| -> Vec<(&'static str, Json)> {
        vec![
            ("view", json!([sid, {}, "", "", 0, 5])),
            ("refresh", json!([sid])),
            ("set_autorefresh", json!([sid, 1])),
            ("stats", json!([sid])),
            ("kill", json!([sid, [id]])),
            ("kill_matching", json!([sid, {"id": id}])),
            ("change", json!([sid, "mark", id, 7])),
            (
                "system.multicall",
                json!([[{"methodName": "kill", "params": [sid, [id]]}]]),
            ),
        ]
    };
    let writes = ["kill", "kill_matching", "change"];
    for (method, params) in calls(&bad, &ids[0]) {
        let answer = py.call(method, params);
        match method {
            "system.multicall" => assert_eq!(answer.ok()[0]["faultCode"], 2),
            _ => assert_eq!(answer.fault_code(), 2, "bad session, {method}"),
        }
        assert_eq!(
            table(&bed),
            before,
            "bad session, {method} touched the kernel"
        );
    }
    for (method, params) in calls(&viewer, &ids[0]) {
        let answer = py.call(method, params);
        match method {
            "system.multicall" => assert_eq!(answer.ok()[0]["faultCode"], 3),
            m if writes.contains(&m) => assert_eq!(answer.fault_code(), 3, "viewer, {m}"),
            m => assert!(matches!(answer, Answer::Ok(_)), "viewer, {m}: {answer:?}"),
        }
        assert_eq!(table(&bed), before, "viewer, {method} touched the kernel");
    }
    // Introspection needs no session.
    for (method, params) in [
        ("system.listMethods", json!([])),
        ("system.methodHelp", json!(["kill"])),
        ("system.methodSignature", json!(["kill"])),
        ("system.getCapabilities", json!([])),
    ] {
        assert!(matches!(py.call(method, params), Answer::Ok(_)), "{method}");
    }
    // The admin may do everything, and it reaches the kernel.
    for (i, (method, params)) in calls(&admin, &ids[1]).into_iter().enumerate() {
        let params = if method == "kill_matching" {
            json!([admin, {"id": ids[2]}])
        } else if method == "change" {
            json!([admin, "mark", ids[3], 7])
        } else if method == "system.multicall" {
            json!([[{"methodName": "kill", "params": [admin, [ids[4]]]}]])
        } else {
            params
        };
        let answer = py.call(method, params);
        assert!(
            matches!(answer, Answer::Ok(_)),
            "admin call {i}, {method}: {answer:?}"
        );
    }
    let after = table(&bed);
    assert_eq!(
        after.len(),
        before.len() - 3,
        "kill, kill_matching and multicall's kill"
    );
    let changed = ids[3].parse::<u32>().unwrap();
    assert!(after.contains(&(changed, 7)));
    // Logout ends each session; the bad one cannot log out.
    assert_eq!(py.call("logout", json!([bad])).fault_code(), 2);
    for sid in [&viewer, &admin] {
        assert_eq!(py.call("logout", json!([sid])).ok(), json!(true));
        assert_eq!(
            py.call("view", json!([sid, {}, "", "", 0, 1])).fault_code(),
            2
        );
    }
}

#[test]
fn failed_logins_are_throttled_per_user_and_per_address() {
    let bed = Bed::new();
    let users = two_users();
    add_user(&users.file, "bob", "bob-pw", "viewer");
    let daemon = Daemon::start(
        &bed,
        &[
            "--passwd-file",
            users.file.to_str().unwrap(),
            "--login-attempts",
            "3",
            "--login-window",
            "3",
        ],
    );
    // Per user: three failures for admin from .2, then even the right
    // password from elsewhere is refused unchecked (7), while bob may log in.
    for _ in 0..3 {
        assert_eq!(code(&login_from(&daemon, "127.0.0.2", "admin", "guess")), 1);
    }
    let limited_at = Instant::now();
    assert_eq!(
        code(&login_from(&daemon, "127.0.0.3", "admin", "admin-pw")),
        7
    );
    assert_eq!(code(&login_from(&daemon, "127.0.0.3", "bob", "bob-pw")), 0);

    // Per address: three failures from .4 under different names.
    for user in ["u1", "u2", "viewer"] {
        assert_eq!(code(&login_from(&daemon, "127.0.0.4", user, "guess")), 1);
    }
    assert_eq!(code(&login_from(&daemon, "127.0.0.4", "bob", "bob-pw")), 7);
    assert_eq!(
        code(&login_from(&daemon, "127.0.0.5", "viewer", "viewer-pw")),
        0
    );

    // A success resets the user's and the address's counts.
    for _ in 0..2 {
        for _ in 0..2 {
            assert_eq!(code(&login_from(&daemon, "127.0.0.6", "bob", "guess")), 1);
        }
        assert_eq!(code(&login_from(&daemon, "127.0.0.6", "bob", "bob-pw")), 0);
    }

    // The window passes and admin may log in again.
    std::thread::sleep(Duration::from_secs(3).saturating_sub(limited_at.elapsed()));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        code(&login_from(&daemon, "127.0.0.2", "admin", "admin-pw")),
        0
    );
    let log = daemon.log();
    assert!(
        log.contains("too many failures") && log.contains("127.0.0.4"),
        "{log}"
    );
}

#[test]
fn a_removed_user_loses_their_sessions_and_a_changed_role_applies() {
    let bed = Bed::new();
    bed.inject(&synthetic(3));
    let users = two_users();
    add_user(&users.file, "bob", "bob-pw", "admin");
    let daemon = Daemon::start(&bed, &["--passwd-file", users.file.to_str().unwrap()]);
    let mut py = daemon.client();
    let admin = sid(login(&mut py, "admin", "admin-pw"));
    let bob = sid(login(&mut py, "bob", "bob-pw"));
    let view =
        |py: &mut common::Py, sid: &str| code(&py.call("view", json!([sid, {}, "", "", 0, 1])));

    // Removed, then noticed by the daemon's own check of the file.
    let out = passwd(&users.file, &["del", "bob"], "");
    assert!(out.status.success());
    assert!(wait_until(Duration::from_secs(10), || view(&mut py, &bob) == 2));
    assert_eq!(view(&mut py, &admin), 0, "other users keep their sessions");
    assert_eq!(login(&mut py, "bob", "bob-pw").fault_code(), 1);

    // Demoted, then SIGHUP: the session stays, with the new role.
    add_user(&users.file, "admin", "admin-pw", "viewer");
    let pid = daemon.pid();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    let id = bed.kernel()[0].id.to_string();
    assert!(wait_until(Duration::from_secs(10), || {
        code(&py.call("change", json!([admin, "mark", id, 1]))) == 3
    }));
    assert_eq!(view(&mut py, &admin), 0);

    // A broken file is refused and the users read before stay.
    append(&users.file, "broken line\n");
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    assert!(wait_until(Duration::from_secs(10), || daemon
        .log()
        .contains("refused")));
    assert!(login(&mut py, "viewer", "viewer-pw").ok().is_string());
    assert_eq!(view(&mut py, &admin), 0);
}

#[test]
fn the_passwd_command_and_the_files_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passwd");
    add_user(&file, "alice", "correct horse", "admin");
    add_user(&file, "bob", "battery", "viewer");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains("correct horse") && !text.contains("battery"),
        "{text}"
    );
    assert!(text.lines().all(|l| l.contains(":$argon2id$")), "{text}");

    let out = passwd(&file, &["list"], "");
    let listed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(listed, "alice\tadmin\nbob\tviewer\n");
    assert!(passwd(&file, &["del", "alice"], "").status.success());
    assert_eq!(
        String::from_utf8_lossy(&passwd(&file, &["list"], "").stdout),
        "bob\tviewer\n"
    );
    assert_eq!(passwd(&file, &["del", "alice"], "").status.code(), Some(1));
    for bad in ["a:b", "", &"x".repeat(65)] {
        assert_eq!(
            passwd(&file, &["add", bad], "pw\n").status.code(),
            Some(2),
            "{bad:?}"
        );
    }
    assert_eq!(
        passwd(&file, &["add", "carol", "--role", "root"], "pw\n")
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        passwd(&file, &["add", "carol"], "\n").status.code(),
        Some(2),
        "empty password"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left behind"
    );

    // A file others may read stops the daemon: exit 2, naming the file.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = Command::new(NFCTD)
        .args(["--listen", "127.0.0.1:0", "--passwd-file"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(file.to_str().unwrap()) && err.contains("0640"),
        "{err}"
    );
    // So does `--auth password` without the file.
    let out = Command::new(NFCTD)
        .args(["--auth", "password", "--passwd-file", "/nonexistent/passwd"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/passwd"));
}

#[test]
fn the_command_backend_reads_stdin_grants_roles_and_times_out() {
    let bed = Bed::new();
    bed.inject(&synthetic(2));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let program = script(
        dir.path(),
        "auth.sh",
        &format!(
            r#"echo "$#" > {d}/argc; env > {d}/env
read -r user; read -r pass
[ "$user" = alice ] && [ "$pass" = 'open sesame' ] && {{ echo admin; exit 0; }}
[ "$user" = bob ] && [ "$pass" = hunter2 ] && exit 0
exit 1"#
        ),
    );
    let daemon = Daemon::start(
        &bed,
        &[
            "--auth",
            "command",
            "--auth-command",
            program.to_str().unwrap(),
        ],
    );
    let mut py = daemon.client();
    let alice = sid(login(&mut py, "alice", "open sesame"));
    let bob = sid(login(&mut py, "bob", "hunter2"));
    assert_eq!(login(&mut py, "alice", "hunter2").fault_code(), 1);
    assert_eq!(login(&mut py, "mallory", "open sesame").fault_code(), 1);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("argc")).unwrap(),
        "0\n"
    );
    let env = std::fs::read_to_string(dir.path().join("env")).unwrap();
    assert!(!env.contains("open sesame") && !env.contains("hunter2"));

    let id = bed.kernel()[0].id.to_string();
    let before = table(&bed);
    assert_eq!(
        py.call("change", json!([bob, "mark", id, 9])).fault_code(),
        3,
        "bob is a viewer"
    );
    assert_eq!(table(&bed), before);
    assert_eq!(
        py.call("change", json!([alice, "mark", id, 9])).ok(),
        json!(true)
    );

    // A program that never answers is killed, and the login refused.
    let hang = script(dir.path(), "hang.sh", "sleep 60; exit 0");
    let daemon = Daemon::start(
        &bed,
        &[
            "--auth",
            "command",
            "--auth-command",
            hang.to_str().unwrap(),
        ],
    );
    let mut py = daemon.client();
    let start = Instant::now();
    assert_eq!(login(&mut py, "alice", "x").fault_code(), 1);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(15),
        "{took:?}"
    );
    // The fault can come back before the log reader has the daemon's line.
    assert!(
        wait_until(Duration::from_secs(5), || daemon.log().contains("killed")),
        "{}",
        daemon.log()
    );
}

#[test]
fn a_password_file_of_another_user_or_in_an_open_directory_stops_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passwd");
    add_user(&file, "alice", "pw", "admin");
    let start = |file: &Path| {
        Command::new(NFCTD)
            .args(["--listen", "127.0.0.1:0", "--passwd-file"])
            .arg(file)
            .output()
            .unwrap()
    };
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = start(&file);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(file.to_str().unwrap()) && err.contains("chmod o-w"),
        "{err}"
    );
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped the owner check: changing a file's owner needs root");
        return;
    }
    std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
    let out = start(&file);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(file.to_str().unwrap()) && err.contains("uid 65534") && err.contains("chown"),
        "{err}"
    );
}

#[test]
fn a_deleted_password_file_is_logged_once_and_its_return_once() {
    let bed = Bed::new();
    let users = two_users();
    let daemon = Daemon::start(&bed, &["--passwd-file", users.file.to_str().unwrap()]);
    let text = std::fs::read_to_string(&users.file).unwrap();
    std::fs::remove_file(&users.file).unwrap();
    // The watcher looks every second: three looks at a missing file.
    std::thread::sleep(Duration::from_millis(3500));
    let gone = |log: &str| log.matches("password file is gone").count();
    assert_eq!(gone(&daemon.log()), 1, "{}", daemon.log());
    assert!(!daemon.log().contains("ERROR"), "{}", daemon.log());
    let mut py = daemon.client();
    assert!(
        login(&mut py, "admin", "admin-pw").ok().is_string(),
        "the users stay"
    );
    // Back whole, as `nfctd passwd` writes it: a file with its final mode
    // renamed into place, so no look can catch it half written or too open.
    let temp = users.file.with_extension("new");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    std::fs::rename(&temp, &users.file).unwrap();
    assert!(wait_until(Duration::from_secs(5), || daemon
        .log()
        .contains("password file re-read")));
    std::thread::sleep(Duration::from_millis(2500));
    let log = daemon.log();
    assert_eq!(log.matches("password file re-read").count(), 1, "{log}");
    assert_eq!(gone(&log), 1, "{log}");
}

#[test]
fn auth_none_is_the_default_without_a_password_file_and_every_session_is_admin() {
    let bed = Bed::new();
    bed.inject(&synthetic(1));
    let daemon = Daemon::start(&bed, &["--passwd-file", "/nonexistent/passwd"]);
    let mut py = daemon.client();
    let sid = sid(py.call("login", json!(["anyone", "anything"])));
    let id = bed.kernel()[0].id.to_string();
    assert_eq!(
        py.call("change", json!([sid, "mark", id, 3])).ok(),
        json!(true)
    );
    let _: IpAddr = daemon.addr.ip();
}
