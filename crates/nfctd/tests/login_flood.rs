//! Logins have a gate of their own: a flood of failed logins from many
//! addresses (each check slow on purpose) leaves a logged-in administrator's
//! views their heavy-call slots, and logins cannot ride in a
//! `system.multicall`, which would take a heavy slot for them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::time::{Duration, Instant};

use common::raw::{self, s};
use common::users::add_user;
use common::{synthetic, Answer, Bed, Daemon};
use serde_json::json;

/// One XML-RPC call from `from` on a new connection: the HTTP status.
fn post_from(from: Ipv4Addr, addr: SocketAddr, body: &str) -> u16 {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::V4(SocketAddrV4::new(from, 0)).into())
        .unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn password_daemon(bed: &Bed, dir: &tempfile::TempDir) -> Daemon {
    let file = dir.path().join("passwd");
    add_user(&file, "admin", "admin-pw", "admin");
    Daemon::start(
        bed,
        &[
            "--auth",
            "password",
            "--passwd-file",
            file.to_str().unwrap(),
            "--login-attempts",
            "100000",
        ],
    )
}

#[test]
fn a_login_flood_leaves_an_administrators_views_their_slots() {
    let bed = Bed::new();
    bed.inject(&synthetic(50));
    let dir = tempfile::tempdir().unwrap();
    let daemon = password_daemon(&bed, &dir);
    let mut admin = daemon.client();
    let sid = admin.call("login", json!(["admin", "admin-pw"])).ok();
    let sid = sid.as_str().unwrap().to_string();
    let addr = daemon.addr;

    let flood_ends = Instant::now() + Duration::from_secs(15);
    let (views, refused) = std::thread::scope(|scope| {
        // 300 clients from 100 addresses, each failing logins as fast as
        // the daemon answers them.
        for i in 0..300u32 {
            scope.spawn(move || {
                let from = Ipv4Addr::new(127, 0, 1, 1 + (i % 100) as u8);
                let call = raw::call("login", &[s(&format!("nobody{i}")), s("wrong")]);
                while Instant::now() < flood_ends {
                    post_from(from, addr, &call);
                }
            });
        }
        std::thread::sleep(Duration::from_secs(2));
        let mut views = Vec::new();
        let mut refused = 0;
        while Instant::now() + Duration::from_secs(1) < flood_ends {
            let started = Instant::now();
            match admin.call("view", json!([sid, {}, "", "", 0, 10])) {
                Answer::Ok(page) => {
                    assert_eq!(page["total"], 50);
                    views.push(started.elapsed());
                }
                other => {
                    refused += 1;
                    eprintln!("view during the flood: {other:?}");
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        (views, refused)
    });
    let mut sorted = views.clone();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    let slowest = *sorted.last().unwrap();
    eprintln!(
        "login flood (300 clients, 100 addresses): {} views answered, {refused} refused; median {median:?}, slowest {slowest:?}",
        views.len()
    );
    assert_eq!(refused, 0, "views were refused during the login flood");
    assert!(
        slowest < Duration::from_secs(2),
        "a view waited {slowest:?} behind the logins"
    );
}

#[test]
fn a_login_cannot_ride_in_a_multicall() {
    let bed = Bed::new();
    let dir = tempfile::tempdir().unwrap();
    let daemon = password_daemon(&bed, &dir);
    let member = |method: &str, params: Vec<String>| {
        raw::strukt(&[("methodName", s(method)), ("params", raw::array(&params))])
    };
    let calls = raw::array(&[
        member("login", vec![s("admin"), s("admin-pw")]),
        member("system.listMethods", vec![]),
    ]);
    let answer = daemon.post_call(&raw::call("system.multicall", &[calls]));
    let results = answer.ok();
    assert_eq!(results[0]["faultCode"], 4, "{results}");
    assert!(
        results[0]["faultString"]
            .as_str()
            .unwrap()
            .contains("cannot carry login"),
        "{results}"
    );
    assert!(results[1][0].is_array(), "{results}");
}
