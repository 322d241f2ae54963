//! Hostile and unusual XML-RPC bodies against the real daemon: each is answered
//! with a fault or a 4xx that does not repeat the payload, and the daemon keeps
//! serving; plus the wire types (`<i8>`, `<i4>`, `<nil/>`) a pyctd client meets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::raw::{self, i8, nil, s};
use common::{ids, int_keys, synthetic, Answer, Bed, Daemon};
use serde_json::json;

/// Text planted in hostile bodies; no answer may repeat it.
const MARK: &str = "PAYLOADxq7z";

fn setup(n: usize) -> (Bed, Daemon, String) {
    let bed = Bed::new();
    bed.inject(&synthetic(n));
    let daemon = Daemon::start(&bed, &[]);
    let sid = daemon.client().login();
    (bed, daemon, sid)
}

/// A normal call still works and the process is alive.
fn still_serving(daemon: &mut Daemon, sid: &str, total: usize) {
    assert!(daemon.is_running(), "the daemon died:\n{}", daemon.log());
    let view = daemon
        .raw(
            "view",
            &[
                s(sid),
                raw::strukt(&[]),
                s(""),
                s(""),
                raw::int(0),
                raw::int(5),
            ],
        )
        .ok();
    assert_eq!(view["total"], total);
}

/// Posts `body`; expects a fault (HTTP 200) or a 4xx, never echoing MARK.
/// Returns the fault code, or the HTTP status for a 4xx.
fn refused(daemon: &Daemon, body: &[u8]) -> i64 {
    let started = Instant::now();
    let (status, answer) = daemon.post("/RPC2", body);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        !answer.contains(MARK),
        "the answer repeats the payload: {}",
        &answer[..answer.len().min(500)]
    );
    match status {
        200 => match raw::parse_response(&answer) {
            Answer::Fault(code, message) => {
                assert!(message.len() < 300, "fault string too long: {message}");
                code
            }
            other => panic!("accepted a hostile body: {other:?}"),
        },
        400..=499 => i64::from(status),
        other => panic!("HTTP {other}: {answer}"),
    }
}

#[test]
fn malformed_xml_is_fault_32700_without_echo() {
    let (_bed, mut daemon, sid) = setup(3);
    let bodies = [
        format!("<methodCall><methodName>view</methodName><params><param><value><string>{MARK}</string></value></param>"),
        format!("<methodCall><methodName>{MARK}</methodName></methodCall"),
        format!("<methodCall><methodName>view</methodName><params><param><value><string>{MARK}&bogus;</string></value></param></params></methodCall>"),
        format!("<methodCall><methodName>view</methodName></methodCall><{MARK}/>"),
        format!("{MARK} is not xml at all"),
        format!("<methodCall attr=\"{MARK}><methodName>x</methodName></methodCall>"),
        String::new(),
    ];
    for body in &bodies {
        let code = refused(&daemon, body.as_bytes());
        assert!(code == -32700 || code == -32600, "{code} for {body}");
    }
    assert_eq!(refused(&daemon, bodies[0].as_bytes()), -32700);
    assert_eq!(refused(&daemon, bodies[2].as_bytes()), -32700);
    // Not UTF-8 either.
    let mut bad =
        b"<methodCall><methodName>view</methodName><params><param><value><string>".to_vec();
    bad.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    bad.extend_from_slice(b"</string></value></param></params></methodCall>");
    let code = refused(&daemon, &bad);
    assert!(code == -32700 || code == -32600, "{code}");
    still_serving(&mut daemon, &sid, 3);
}

#[test]
fn well_formed_non_calls_are_fault_32600_without_echo() {
    let (_bed, mut daemon, sid) = setup(3);
    let bodies = [
        format!("<?xml version=\"1.0\"?><methodResponse><params><param><value><string>{MARK}</string></value></param></params></methodResponse>"),
        format!("<methodCall><params><param><value><string>{MARK}</string></value></param></params></methodCall>"),
        // Short element names may be quoted; long ones are not.
        format!("<methodCall><methodName>view</methodName><params><param><value><{MARK}{MARK}{MARK}>1</{MARK}{MARK}{MARK}></value></param></params></methodCall>"),
        format!("<methodCall><methodName>view</methodName><params><param><value><boolean>{MARK}</boolean></value></param></params></methodCall>"),
        format!("<methodCall><methodName>view</methodName><params><param><value><double>{MARK}</double></value></param></params></methodCall>"),
        format!("<methodCall><methodName>view</methodName><params><param><value><base64>{MARK}!!</base64></value></param></params></methodCall>"),
        format!("<methodCall><methodName>view</methodName><params><param><value><dateTime.iso8601>{MARK}</dateTime.iso8601></value></param></params></methodCall>"),
        format!("<methodCall><methodName>{MARK} has spaces!</methodName></methodCall>"),
        format!("<methodCall><methodName>view</methodName><params><param><value><struct><member><value><int>1</int></value></member></struct></value></param></params></methodCall><!-- {MARK} -->"),
    ];
    for body in &bodies {
        assert_eq!(refused(&daemon, body.as_bytes()), -32600, "{body}");
    }
    still_serving(&mut daemon, &sid, 3);
}

#[test]
fn entity_bomb_is_refused_at_once() {
    let (_bed, mut daemon, sid) = setup(3);
    let mut dtd = String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
    dtd.push_str(&format!("<!ENTITY lol0 \"{MARK}\">"));
    for i in 1..10 {
        let prev = format!("&lol{};", i - 1);
        dtd.push_str(&format!("<!ENTITY lol{i} \"{}\">", prev.repeat(10)));
    }
    dtd.push_str("]><methodCall><methodName>view</methodName><params><param><value><string>&lol9;</string></value></param></params></methodCall>");
    let code = refused(&daemon, dtd.as_bytes());
    assert!(code == -32700 || code == -32600, "{code}");
    // An external entity, too.
    let xxe = format!("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><methodCall><methodName>{MARK}</methodName><params><param><value><string>&e;</string></value></param></params></methodCall>");
    let code = refused(&daemon, xxe.as_bytes());
    assert!(code == -32700 || code == -32600, "{code}");
    still_serving(&mut daemon, &sid, 3);
}

#[test]
fn deep_nesting_is_refused_without_a_crash() {
    let (_bed, mut daemon, sid) = setup(3);
    let depth = 10_000;
    let mut body = String::from("<methodCall><methodName>view</methodName><params><param>");
    body.push_str(&"<value><array><data>".repeat(depth));
    body.push_str(&format!("<value><string>{MARK}</string></value>"));
    body.push_str(&"</data></array></value>".repeat(depth));
    body.push_str("</param></params></methodCall>");
    assert_eq!(refused(&daemon, body.as_bytes()), -32600);
    // Structs nest the same way, and unclosed nesting too.
    let mut body = String::from("<methodCall><methodName>view</methodName><params><param>");
    body.push_str(&"<value><struct><member><name>a</name>".repeat(depth));
    body.push_str(&format!("<value>{MARK}</value>"));
    body.push_str(&"</member></struct></value>".repeat(depth));
    body.push_str("</param></params></methodCall>");
    assert_eq!(refused(&daemon, body.as_bytes()), -32600);
    let mut body = String::from("<methodCall><methodName>view</methodName><params><param>");
    body.push_str(&"<value><array><data>".repeat(depth));
    let code = refused(&daemon, body.as_bytes());
    assert!(code == -32600 || code == -32700, "{code}");
    // 64 levels are still fine (a filter value of nested arrays: fault 4, not a crash).
    let mut body =
        String::from("<methodCall><methodName>system.listMethods</methodName><params><param>");
    body.push_str(&"<value><array><data>".repeat(60));
    body.push_str(&"</data></array></value>".repeat(60));
    body.push_str("</param></params></methodCall>");
    assert_eq!(refused(&daemon, body.as_bytes()), -32602);
    still_serving(&mut daemon, &sid, 3);
}

#[test]
fn an_oversized_body_is_refused() {
    let (_bed, mut daemon, sid) = setup(3);
    // Announced too big: refused from the headers, before any body is read.
    let mut stream = std::net::TcpStream::connect(daemon.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n<methodCall>",
        2 << 20
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // Sent whole: 413, or the connection closed while we were still writing.
    let filler = MARK.repeat((1 << 20) / MARK.len() + 1000);
    let body = format!("<methodCall><methodName>view</methodName><params><param><value><string>{filler}</string></value></param></params></methodCall>");
    assert!(body.len() > 1 << 20);
    let (status, answer) = daemon.post("/RPC2", body.as_bytes());
    assert!(status == 413 || status == 0, "HTTP {status}");
    assert!(!answer.contains(MARK));
    // Just under the limit is read, parsed and answered: here with the
    // fault for a user name over 256 bytes, which does not quote it.
    let ok_size = "x".repeat((1 << 20) - 400);
    let (status, answer) = daemon.post(
        "/RPC2",
        raw::call("login", &[s(&ok_size), s("pw")]).as_bytes(),
    );
    assert_eq!(status, 200);
    match raw::parse_response(&answer) {
        Answer::Fault(4, message) => assert!(!message.contains("xxxx"), "{message}"),
        other => panic!("{other:?}"),
    }
    still_serving(&mut daemon, &sid, 3);
}

#[test]
fn overflowing_integers_are_faults() {
    let (_bed, mut daemon, sid) = setup(3);
    let view = |start: &str| {
        raw::call(
            "view",
            &[
                s(&sid),
                raw::strukt(&[]),
                s(""),
                s(""),
                start.to_string(),
                raw::int(5),
            ],
        )
    };
    for bad in [
        "<value><int>99999999999999999999</int></value>",
        "<value><i4>-99999999999999999999</i4></value>",
        "<value><i8>99999999999999999999</i8></value>",
        "<value><i8>-9223372036854775809</i8></value>",
        "<value><int>12abc</int></value>",
        "<value><int></int></value>",
        "<value><double>1e999999</double></value>",
    ] {
        let code = refused(&daemon, view(bad).as_bytes());
        assert!(code == -32600 || code == -32602, "{code} for {bad}");
    }
    // In range but not valid for its place: fault 4 naming the argument.
    let f = raw::parse_response(&daemon.post("/RPC2", view(&i8(-7)).as_bytes()).1);
    assert_eq!(f.fault_code(), 4);
    assert!(f.fault_string().contains("start"));
    // <int> text beyond 32 bits is read wide (Frontier and Ruby send it so),
    // then checked against its parameter: a start that large is just past the end.
    let far = raw::parse_response(
        &daemon
            .post(
                "/RPC2",
                view("<value><int>99999999999</int></value>").as_bytes(),
            )
            .1,
    );
    assert_eq!(far.ok()["total"], 3);
    for id in [
        i8(1 << 32),
        i8(-(1 << 31) - 1),
        i8(i64::MAX),
        "<value><i4>4294967296</i4></value>".to_string(),
    ] {
        let answer = daemon.raw("kill", &[s(&sid), raw::array(&[id])]);
        assert_eq!(answer.fault_code(), 4, "{answer:?}");
    }
    let answer = daemon.raw("change", &[s(&sid), s("mark"), s("1"), i8(1 << 32)]);
    assert_eq!(answer.fault_code(), 4, "{answer:?}");
    let answer = daemon.raw(
        "view",
        &[
            s(&sid),
            raw::strukt(&[("mark", i8(1 << 33))]),
            s(""),
            s(""),
            raw::int(0),
            raw::int(5),
        ],
    );
    assert_eq!(answer.fault_code(), 4, "{answer:?}");
    still_serving(&mut daemon, &sid, 3);
}

#[test]
fn long_inputs_are_clipped_in_fault_strings() {
    let (_bed, mut daemon, sid) = setup(3);
    let long = format!("{}{MARK}", "k".repeat(200));
    let mut py = daemon.client();
    let cases = [
        json!([sid, {long.clone(): 1}, "", "", 0, 5]),
        json!([sid, {"orig_src": long.clone()}, "", "", 0, 5]),
        json!([sid, {"proto": long.clone()}, "", "", 0, 5]),
        json!([sid, {"mark": long.clone()}, "", "", 0, 5]),
        json!([sid, {}, long.clone(), "", 0, 5]),
        json!([sid, {}, "", long.clone(), 0, 5]),
    ];
    for params in cases {
        let f = py.call("view", params.clone());
        assert_eq!(f.fault_code(), 4, "{params}");
        assert!(!f.fault_string().contains(MARK), "{f:?}");
        assert!(f.fault_string().len() < 300, "{f:?}");
    }
    let f = py.call("change", json!([sid, long, "1", 1]));
    assert_eq!(f.fault_code(), 4);
    assert!(!f.fault_string().contains(MARK), "{f:?}");
    let f = py.call("kill", json!([sid, [long]]));
    assert_eq!(f.fault_code(), 4);
    assert!(!f.fault_string().contains(MARK), "{f:?}");
    still_serving(&mut daemon, &sid, 3);
}

#[test]
fn ints_come_back_as_ints_and_big_ones_as_i8() {
    let bed = Bed::new();
    let conns = synthetic(12);
    bed.inject(&conns);
    let daemon = Daemon::start(&bed, &[]);
    let mut py = daemon.client();
    let sid = py.login();
    let view = py.call("view", json!([sid, {}, "", "", 0, 100])).ok();
    for key in ["total", "start", "length", "table_size"] {
        assert!(view[key].is_i64(), "{key}: {}", view[key]);
    }
    let truth = bed.kernel();
    let mut big_marks = 0;
    let int_keys = int_keys();
    assert!(int_keys.contains(&"mark"), "{int_keys:?}");
    for row in view["connections"].as_array().unwrap() {
        for key in &int_keys {
            assert!(row[key].is_i64(), "{key} is not an int: {}", row[key]);
        }
        let id = row["id"].as_str().unwrap();
        let c = truth.iter().find(|c| c.id.to_string() == id).unwrap();
        assert_eq!(row["mark"].as_u64(), Some(u64::from(c.mark)));
        if c.mark > i32::MAX as u32 {
            big_marks += 1;
        }
    }
    assert!(big_marks > 0, "no mark above 2^31 in the fixture");
    // On the wire: <int> when it fits 32 bits, <i8> otherwise.
    let (_, body) = daemon.post(
        "/RPC2",
        raw::call(
            "view",
            &[
                s(&sid),
                raw::strukt(&[]),
                s("mark"),
                s("DESC"),
                raw::int(0),
                raw::int(1),
            ],
        )
        .as_bytes(),
    );
    let top = truth.iter().map(|c| c.mark).max().unwrap();
    assert!(top > i32::MAX as u32);
    assert!(body.contains(&format!("<i8>{top}</i8>")), "{body}");
    assert!(body.contains("<int>0</int>"), "{body}");
}

#[test]
fn nil_stands_for_any_optional_parameter() {
    let (_bed, daemon, sid) = setup(9);
    let view = |params: &[String]| daemon.raw("view", params);
    // nil order_by and order_dir.
    let v = view(&[
        s(&sid),
        raw::strukt(&[]),
        nil(),
        nil(),
        raw::int(0),
        raw::int(100),
    ])
    .ok();
    assert_eq!(v["total"], 9);
    assert_eq!(v["length"], 9);
    let by_id = ids(&v);
    let mut sorted = by_id.clone();
    sorted.sort_by_key(|id| id.parse::<u32>().unwrap());
    assert_eq!(by_id, sorted, "nil order_by is id ascending");
    // nil filters and nil start; <i4> for length.
    let v = view(&[
        s(&sid),
        nil(),
        s("proto"),
        nil(),
        nil(),
        "<value><i4>4</i4></value>".into(),
    ])
    .ok();
    assert_eq!(v["total"], 9);
    assert_eq!(v["length"], 4);
    // A nil filter value constrains nothing; Apache's namespaced <ex:nil/> works too.
    let v = view(&[
        s(&sid),
        raw::strukt(&[
            ("proto", nil()),
            ("mark", "<value><ex:nil/></value>".into()),
        ]),
        s(""),
        s(""),
        raw::int(0),
        raw::int(100),
    ])
    .ok();
    assert_eq!(v["total"], 9);
    // Python with allow_none sends None the same way.
    let mut py = daemon.client();
    let v = py
        .call("view", json!([sid, {"proto": null}, null, null, 0, 100]))
        .ok();
    assert_eq!(v["total"], 9);
    // The root path serves XML-RPC too.
    let (status, body) = daemon.post("/", raw::call("system.listMethods", &[]).as_bytes());
    assert_eq!(status, 200);
    assert!(matches!(raw::parse_response(&body), Answer::Ok(_)));
}

/// A burst of heavy calls from many clients at once is queued, not dropped:
/// every one gets its full, correct answer.
#[test]
fn a_burst_of_concurrent_views_is_answered_in_full() {
    let bed = Bed::new();
    bed.inject(&synthetic(2000));
    let daemon = Daemon::start(&bed, &[]);
    let sid = daemon.client().login();
    let body = raw::call(
        "view",
        &[
            s(&sid),
            raw::strukt(&[]),
            s("timeout"),
            s("DESC"),
            raw::int(0),
            raw::int(500),
        ],
    );
    let answers: Vec<(u16, String)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..40)
            .map(|_| scope.spawn(|| daemon.post("/RPC2", body.as_bytes())))
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for (status, xml) in answers {
        assert_eq!(status, 200);
        assert!(!xml.contains("faultCode"), "{}", &xml[..xml.len().min(300)]);
        assert_eq!(xml.matches("<name>id</name>").count(), 500);
    }
}
