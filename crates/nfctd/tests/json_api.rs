//! The JSON API (`/api/v1`) against the real daemon: every route, bad
//! parameters named in the error, CSRF refusals that leave the kernel table
//! as it was, and the OpenAPI document checked against the routes that exist.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::json::{request, Session};
use common::{synthetic, Bed, Daemon};

fn setup(n: usize) -> (Bed, Daemon, Session) {
    let bed = Bed::new();
    bed.inject(&synthetic(n));
    let daemon = Daemon::start(&bed, &["--resync-interval", "0"]);
    let session = Session::login(daemon.addr, "{}");
    (bed, daemon, session)
}

fn kernel_ids(bed: &Bed) -> BTreeSet<u32> {
    bed.kernel().iter().map(|c| c.id).collect()
}

fn ids(page: &serde_json::Value) -> Vec<u64> {
    page["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect()
}

#[test]
fn login_sets_an_http_only_strict_cookie_and_logout_ends_the_session() {
    let bed = Bed::new();
    let daemon = Daemon::start(&bed, &[]);
    let reply = request(
        daemon.addr,
        "POST",
        "/api/v1/session",
        &[],
        r#"{"user": "ann"}"#,
    );
    assert_eq!(reply.status, 200);
    let cookie = reply.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert_eq!(reply.json()["role"], "admin");
    assert_eq!(reply.json()["user"], "ann");
    let session = Session::login(daemon.addr, "");
    let me = session.get("/api/v1/session");
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["csrf_token"], session.csrf.as_str());
    // Logging out needs the token too, then the cookie no longer works.
    assert_eq!(
        session
            .send_without_csrf("DELETE", "/api/v1/session", "")
            .status,
        403
    );
    assert_eq!(session.send("DELETE", "/api/v1/session", "").status, 204);
    let gone = session.get("/api/v1/session");
    assert_eq!((gone.status, gone.code().as_str()), (401, "no_session"));
    // Bad bodies are named, never quoted.
    let bad = request(
        daemon.addr,
        "POST",
        "/api/v1/session",
        &[],
        r#"{"user": 5, "x": "SECRETX"}"#,
    );
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("body") && !bad.body.contains("SECRETX"),
        "{}",
        bad.body
    );
    let bad = request(daemon.addr, "POST", "/api/v1/session", &[], "{not json");
    assert_eq!((bad.status, bad.code().as_str()), (400, "invalid_argument"));
}

#[test]
fn connections_are_filtered_sorted_and_paged_in_query_parameters() {
    let (bed, _daemon, s) = setup(30);
    let kernel = bed.kernel();
    let all = s.get("/api/v1/connections?length=1000");
    assert_eq!(all.status, 200);
    let page = all.json();
    assert_eq!(page["total"], 30);
    assert!(
        page["snapshot"].as_str().unwrap().ends_with('Z'),
        "UTC: {}",
        page["snapshot"]
    );
    let want: BTreeSet<u64> = kernel.iter().map(|c| u64::from(c.id)).collect();
    assert_eq!(ids(&page).into_iter().collect::<BTreeSet<_>>(), want);

    // CIDR, comma lists and ports, as the filter language has them.
    let v4 = kernel.iter().filter(|c| c.orig.src.is_ipv4()).count();
    let page = s
        .get("/api/v1/connections?orig_src=198.51.100.0/24&length=0")
        .json();
    assert_eq!(page["total"], v4);
    assert_eq!(page["connections"].as_array().unwrap().len(), 0);
    let tcp_udp = kernel
        .iter()
        .filter(|c| matches!(c.l4proto, 6 | 17))
        .count();
    assert_eq!(
        s.get("/api/v1/connections?proto=tcp,udp&length=0").json()["total"],
        tcp_udp
    );
    let sports: Vec<u16> = kernel
        .iter()
        .map(|c| c.orig.sport)
        .filter(|p| (1024..=1030).contains(p))
        .collect();
    assert_eq!(
        s.get("/api/v1/connections?orig_sport=1024-1030&length=0")
            .json()["total"],
        sports.len()
    );

    // Sorted by timeout descending, ties by id; pages neither overlap nor skip.
    let mut seen = Vec::new();
    for start in (0..30).step_by(7) {
        let page = s
            .get(&format!(
                "/api/v1/connections?order_by=timeout&order_dir=DESC&start={start}&length=7"
            ))
            .json();
        let keys: Vec<(i64, u64)> = page["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (-c["timeout"].as_i64().unwrap(), c["id"].as_u64().unwrap()))
            .collect();
        assert!(
            keys.windows(2).all(|w| w[0] <= w[1]),
            "page {start} out of order: {keys:?}"
        );
        seen.extend(ids(&page));
    }
    assert_eq!(seen.len(), 30);
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>().len(),
        30,
        "pages overlap"
    );

    // Bad parameters: 400, naming the parameter.
    for (query, name) in [
        ("length=ten", "length"),
        ("start=-1", "start"),
        ("order_by=colour", "order_by"),
        ("order_dir=up", "order_dir"),
        ("colour=red", "colour"),
        ("orig_src=10.0.0/8", "orig_src"),
        ("length=99999999", "length"),
    ] {
        let reply = s.get(&format!("/api/v1/connections?{query}"));
        assert_eq!(reply.status, 400, "{query}: {reply:?}");
        assert_eq!(reply.code(), "invalid_argument");
        assert!(
            reply.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains(name),
            "{query}: {}",
            reply.body
        );
    }
    // No cookie: 401.
    let anonymous = request(s.addr, "GET", "/api/v1/connections", &[], "");
    assert_eq!(
        (anonymous.status, anonymous.code().as_str()),
        (401, "no_session")
    );
}

#[test]
fn kill_change_and_kill_matching_act_on_the_kernel_and_need_the_csrf_token() {
    let (bed, _daemon, s) = setup(20);
    let before = kernel_ids(&bed);
    let victim = *before.iter().next().unwrap();
    let path = format!("/api/v1/connections/{victim}");

    // Without the token nothing happens.
    for (method, body) in [("DELETE", ""), ("PATCH", r#"{"mark": 7}"#)] {
        let reply = s.send_without_csrf(method, &path, body);
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (403, "csrf"),
            "{method}"
        );
    }
    let forged = s.send_without_csrf("POST", "/api/v1/connections/kill?proto=tcp", "");
    assert_eq!(forged.status, 403);
    assert_eq!(kernel_ids(&bed), before);

    // Change the mark (above 2^31) and the timeout, then read them in the kernel.
    let reply = s.send("PATCH", &path, r#"{"mark": 3000000000, "timeout": 777}"#);
    assert_eq!(reply.status, 204, "{reply:?}");
    let row = bed.kernel().into_iter().find(|c| c.id == victim).unwrap();
    assert_eq!(row.mark, 3_000_000_000);
    assert!((700..=777).contains(&row.timeout), "{}", row.timeout);
    for (body, why) in [
        ("{}", "give mark"),
        (r#"{"mark": -1}"#, "body"),
        (r#"{"colour": 1}"#, "body"),
    ] {
        let reply = s.send("PATCH", &path, body);
        assert_eq!(reply.status, 400, "{body}");
        assert!(reply.body.contains(why), "{body}: {}", reply.body);
    }
    assert_eq!(
        s.send("PATCH", "/api/v1/connections/x1", r#"{"mark": 1}"#)
            .status,
        400
    );

    // Kill it: gone from the kernel; again: reported missing.
    let reply = s.send("DELETE", &path, "");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["killed"], 1);
    assert!(!kernel_ids(&bed).contains(&victim));
    let again = s.send("DELETE", &path, "").json();
    assert_eq!(
        (again["killed"].as_u64(), again["missing"][0].as_u64()),
        (Some(0), Some(u64::from(victim)))
    );

    // Kill matching: the count comes back, exactly those leave the kernel.
    let udp: BTreeSet<u32> = bed
        .kernel()
        .iter()
        .filter(|c| c.l4proto == 17)
        .map(|c| c.id)
        .collect();
    assert!(!udp.is_empty());
    let reply = s.send("POST", "/api/v1/connections/kill?proto=udp", "");
    assert_eq!(reply.json()["killed"], udp.len());
    assert!(kernel_ids(&bed).is_disjoint(&udp));
    // A filter that constrains nothing is refused.
    for query in ["", "?proto=", "?q="] {
        let reply = s.send("POST", &format!("/api/v1/connections/kill{query}"), "");
        assert_eq!(reply.status, 400, "{query}");
    }
    assert!(!bed.kernel().is_empty());
}

#[test]
fn stats_autorefresh_and_refresh() {
    let (bed, _daemon, s) = setup(10);
    let stats = s.get("/api/v1/stats").json();
    assert_eq!(stats["table_size"], 10);
    assert!(stats["table_limit"].as_u64().unwrap() > 0);
    assert!(stats["kernel"]["found"].is_u64());
    assert_eq!(stats["mirror"]["live"], true);

    let reply = s.send("PUT", "/api/v1/autorefresh", r#"{"on": false}"#);
    assert_eq!(
        (reply.status, reply.json()["on"].as_bool()),
        (200, Some(false))
    );
    assert_eq!(s.get("/api/v1/session").json()["autorefresh"], false);
    // Frozen: a new kernel entry shows only after a refresh.
    let mut extra = synthetic(11).pop().unwrap();
    extra.mark = 1;
    bed.inject(&[extra]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.get("/api/v1/connections?length=0").json()["total"], 10);
    assert_eq!(s.send("POST", "/api/v1/refresh", "").status, 204);
    assert_eq!(s.get("/api/v1/connections?length=0").json()["total"], 11);
    assert_eq!(s.send("PUT", "/api/v1/autorefresh", "").status, 400);
    assert_eq!(
        s.send("PUT", "/api/v1/autorefresh", r#"{"on": "yes"}"#)
            .status,
        400
    );
    assert_eq!(
        s.send_without_csrf("POST", "/api/v1/refresh", "").status,
        403
    );
}

#[test]
fn events_stream_counts_to_a_logged_in_client() {
    let (_bed, daemon, s) = setup(5);
    let mut stream = TcpStream::connect(daemon.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /api/v1/events HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nAccept: text/event-stream\r\n\r\n",
        daemon.addr, s.cookie
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut lines = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 {
        lines.push(line.trim_end().to_string());
        if line.starts_with("data: {\"table_size\"") {
            break;
        }
        line.clear();
    }
    assert!(lines[0].contains("200"), "{lines:?}");
    assert!(lines.iter().any(|l| l == "event: counts"), "{lines:?}");
    let data: serde_json::Value =
        serde_json::from_str(lines.last().unwrap().trim_start_matches("data: ")).unwrap();
    assert_eq!(data["table_size"], 5);
    // Without a session: 401, no stream.
    let reply = request(daemon.addr, "GET", "/api/v1/events", &[], "");
    assert_eq!(reply.status, 401);
}

#[test]
fn the_openapi_document_lists_exactly_the_routes_that_answer() {
    let (_bed, daemon, s) = setup(1);
    let doc = request(daemon.addr, "GET", "/api/v1/openapi.json", &[], "").json();
    assert_eq!(doc["openapi"], "3.1.0", "docs/json-api.md says OpenAPI 3.1");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let expected: BTreeSet<(String, String)> = [
        ("GET", "/api/v1/session"),
        ("POST", "/api/v1/session"),
        ("DELETE", "/api/v1/session"),
        ("GET", "/api/v1/connections"),
        ("DELETE", "/api/v1/connections/{id}"),
        ("PATCH", "/api/v1/connections/{id}"),
        ("POST", "/api/v1/connections/kill"),
        ("GET", "/api/v1/stats"),
        ("PUT", "/api/v1/autorefresh"),
        ("POST", "/api/v1/refresh"),
        ("GET", "/api/v1/events"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(documented, expected);
    // Each documented route is really routed (no 404/405), and a method the
    // document does not list for a path is not (405).
    for (method, path) in &documented {
        if path == "/api/v1/events" {
            continue; // a stream: checked in its own test
        }
        let path = path.replace("{id}", "1");
        let reply = s.send(method, &path, "{}");
        assert!(
            !matches!(reply.status, 404 | 405),
            "{method} {path}: {}",
            reply.status
        );
    }
    assert_eq!(s.send("PUT", "/api/v1/stats", "").status, 405);
    assert_eq!(s.get("/api/v1/nothing").status, 404);
}

#[test]
fn an_event_stream_outlives_the_idle_timeout() {
    // Regression: a streamed answer counted as an idle connection once its
    // headers were out, so the idle timer cut live pages every minute.
    let bed = Bed::new();
    bed.inject(&synthetic(2));
    let daemon = Daemon::start(&bed, &["--idle-timeout", "1"]);
    let s = Session::login(daemon.addr, "{}");
    let mut stream = TcpStream::connect(daemon.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /api/v1/events HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\n\r\n",
        daemon.addr, s.cookie
    )
    .unwrap();
    let started = std::time::Instant::now();
    let mut reader = BufReader::new(stream);
    let mut counts = 0;
    let mut line = String::new();
    while started.elapsed() < Duration::from_millis(3500) {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if line.starts_with("event: counts") {
            counts += 1;
        }
    }
    assert!(
        counts >= 3,
        "the stream ended after {:?} with {counts} events",
        started.elapsed()
    );
}
