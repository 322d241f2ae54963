//! The integer and nil rules of docs/xmlrpc-api.md, rule by rule against the real daemon,
//! with bodies written the way the client libraries that need each rule write
//! them (PHP ext/xmlrpc, Perl Frontier::Client, Ruby xmlrpc, 32-bit clients).
//! The libraries themselves run in `xmlrpc_interop.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::SystemTime;

use common::raw::{self, i8, int, nil, s};
use common::{ids, synthetic, Bed, Daemon};
use ctnetlink::Conn;

/// A bed of `n` synthetic entries; the first has mark 3,000,000,000.
fn bed(n: usize) -> Bed {
    let bed = Bed::new();
    let mut conns = synthetic(n);
    conns[0].mark = 3_000_000_000;
    bed.inject(&conns);
    bed
}

fn login(daemon: &Daemon) -> String {
    daemon.client().login()
}

/// An id above 2^31 (about half of all ids are; 40 entries make one certain).
fn big_id(kernel: &[Conn]) -> u32 {
    kernel
        .iter()
        .map(|c| c.id)
        .find(|id| *id >= 1 << 31)
        .expect("an id above 2^31")
}

fn view_body(sid: &str, filters: String, start: String, length: String) -> String {
    raw::call("view", &[s(sid), filters, s(""), s(""), start, length])
}

/// PHP ext/xmlrpc: an empty array() is `<array><data/></array>`, null is
/// `<string/>`; web forms send numbers as strings.
const EMPTY_ARRAY: &str = "<value><array><data/></array></value>";
const PHP_NULL: &str = "<value><string/></value>";

#[test]
fn no_filters_in_every_form_clients_send_it() {
    let bed = bed(12);
    let daemon = Daemon::start(&bed, &[]);
    let sid = login(&daemon);
    for (what, filters) in [
        ("empty array", EMPTY_ARRAY.to_string()),
        ("empty string", PHP_NULL.to_string()),
        ("nil", nil()),
        ("empty struct", raw::strukt(&[])),
    ] {
        let page = daemon
            .post_call(&view_body(&sid, filters, s("0"), s("100")))
            .ok();
        assert_eq!(page["total"], 12, "{what}");
        assert_eq!(page["length"], 12, "{what}");
    }
    // kill_matching still refuses a filter that constrains nothing.
    for filters in [EMPTY_ARRAY.to_string(), PHP_NULL.to_string(), nil()] {
        let answer = daemon.raw("kill_matching", &[s(&sid), filters]);
        assert_eq!(answer.fault_code(), 4, "{answer:?}");
    }
    assert_eq!(bed.kernel().len(), 12);
}

#[test]
fn start_and_length_as_strings_nil_and_php_null() {
    let bed = bed(12);
    let daemon = Daemon::start(&bed, &[]);
    let sid = login(&daemon);
    let page = daemon
        .post_call(&view_body(&sid, raw::strukt(&[]), s(" 10 "), s("5")))
        .ok();
    assert_eq!(
        (page["start"].as_i64(), page["length"].as_i64()),
        (Some(10), Some(2))
    );
    // Length not given (nil or PHP's null): 0, so only the totals come back.
    for length in [nil(), PHP_NULL.to_string()] {
        let page = daemon
            .post_call(&view_body(
                &sid,
                raw::strukt(&[]),
                PHP_NULL.to_string(),
                length,
            ))
            .ok();
        assert_eq!(page["total"], 12);
        assert_eq!(page["length"], 0);
        assert_eq!(page["connections"].as_array().unwrap().len(), 0);
    }
    // A string that is no number: fault 4 naming the parameter.
    let f = daemon.post_call(&view_body(&sid, raw::strukt(&[]), s("0"), s("ten")));
    assert_eq!(f.fault_code(), 4);
    assert!(f.fault_string().contains("length"), "{f:?}");
}

#[test]
fn ids_wrapped_by_32_bit_clients_and_wide_i4_kill_the_right_connection() {
    let bed = bed(40);
    let daemon = Daemon::start(&bed, &["--resync-interval", "0"]);
    let sid = login(&daemon);
    let kernel = bed.kernel();
    let big = big_id(&kernel);
    let other = kernel
        .iter()
        .map(|c| c.id)
        .find(|id| *id >= 1 << 31 && *id != big)
        .unwrap_or_else(|| kernel.iter().map(|c| c.id).find(|id| *id != big).unwrap());
    // PHP on a 32-bit build, or after an (int) cast: the id as a negative <int>.
    let wrapped = i64::from(big as i32);
    assert!(wrapped < 0);
    let out = daemon
        .raw("kill", &[s(&sid), raw::array(&[int(wrapped)])])
        .ok();
    assert_eq!(out["killed"], 1, "{out}");
    // Frontier::Client and Ruby: the id as <i4> with text beyond 32 bits.
    let i4 = format!("<value><i4>{other}</i4></value>");
    let out = daemon.raw("kill", &[s(&sid), raw::array(&[i4])]).ok();
    assert_eq!(out["killed"], 1, "{out}");
    let left: Vec<u32> = bed.kernel().iter().map(|c| c.id).collect();
    assert_eq!(left.len(), 38);
    assert!(!left.contains(&big) && !left.contains(&other));
    // Out of range for an id even when read wide: fault 4, nothing touched.
    for id in [
        "<value><i4>4294967296</i4></value>".to_string(),
        int(-2_147_483_649),
    ] {
        assert_eq!(
            daemon
                .raw("kill", &[s(&sid), raw::array(&[id])])
                .fault_code(),
            4
        );
    }
    assert_eq!(bed.kernel().len(), 38);
}

#[test]
fn marks_wrapped_or_wide_reach_the_kernel_and_filters() {
    let bed = bed(10);
    let daemon = Daemon::start(&bed, &["--resync-interval", "0"]);
    let sid = login(&daemon);
    let target = bed
        .kernel()
        .iter()
        .find(|c| c.mark != 3_000_000_000)
        .unwrap()
        .id;
    let mark_of = |id: u32| bed.kernel().iter().find(|c| c.id == id).unwrap().mark;
    // 3,000,000,000 from a 32-bit client: -1294967296 as an <int>.
    let wrapped = int(-1_294_967_296);
    let done = daemon.raw(
        "change",
        &[s(&sid), s("mark"), s(&target.to_string()), wrapped],
    );
    assert_eq!(done.ok(), true);
    assert_eq!(mark_of(target), 3_000_000_000);
    // The same value in a wide <i4>, and as a decimal string.
    for value in [
        "<value><i4>3000000001</i4></value>".to_string(),
        s("3000000002"),
    ] {
        let done = daemon.raw(
            "change",
            &[s(&sid), s("mark"), s(&target.to_string()), value],
        );
        assert_eq!(done.ok(), true);
    }
    assert_eq!(mark_of(target), 3_000_000_002);
    // A timeout is not wrapped: -1 is refused and nothing changes.
    let refused = daemon.raw(
        "change",
        &[s(&sid), s("timeout"), s(&target.to_string()), int(-1)],
    );
    assert_eq!(refused.fault_code(), 4);
    // Filters read a wrapped mark the same way.
    let page = daemon
        .post_call(&view_body(
            &sid,
            raw::strukt(&[("mark", int(-1_294_967_296))]),
            int(0),
            int(100),
        ))
        .ok();
    assert_eq!(page["total"], 1, "{page}");
}

#[test]
fn ipv4_addresses_as_integers_wrapped_by_ip2long() {
    let bed = bed(12);
    let daemon = Daemon::start(&bed, &[]);
    let sid = login(&daemon);
    // ip2long("203.0.113.9") on a 32-bit PHP: 3405803785 - 2^32.
    let by = |value: String| {
        daemon
            .post_call(&view_body(
                &sid,
                raw::strukt(&[("orig_ipv4_dst", value)]),
                int(0),
                int(0),
            ))
            .ok()["total"]
            .as_i64()
            .unwrap()
    };
    let v4 = bed
        .kernel()
        .iter()
        .filter(|c| c.orig.dst.to_string() == "203.0.113.9")
        .count() as i64;
    assert!(v4 > 0);
    assert_eq!(by(int(-889_163_511)), v4);
    assert_eq!(by(i8(3_405_803_785)), v4);
    assert_eq!(by(s("3405803785")), v4);
    assert_eq!(by(s("203.0.113.9")), v4);
}

#[test]
fn the_autorefresh_flag_as_int_boolean_or_string() {
    let bed = bed(3);
    let daemon = Daemon::start(&bed, &[]);
    let sid = login(&daemon);
    let autorefresh = || {
        daemon
            .post_call(&view_body(&sid, raw::strukt(&[]), int(0), int(0)))
            .ok()["autorefresh"]
            .clone()
    };
    for (flag, on) in [
        (s("0"), false),
        (s("1"), true),
        (raw::boolean(false), false),
        (int(1), true),
    ] {
        assert_eq!(daemon.raw("set_autorefresh", &[s(&sid), flag]).ok(), true);
        assert_eq!(autorefresh(), on);
    }
    assert_eq!(
        daemon
            .raw("set_autorefresh", &[s(&sid), int(2)])
            .fault_code(),
        4
    );
}

#[test]
fn repeated_filter_keys_are_anded() {
    let bed = bed(30);
    let daemon = Daemon::start(&bed, &[]);
    let sid = login(&daemon);
    let count = |members: &[(&str, String)]| {
        daemon
            .post_call(&view_body(&sid, raw::strukt(members), int(0), int(1000)))
            .ok()
    };
    let low = count(&[("orig_sport", s("1024-1033"))]);
    let both = count(&[
        ("orig_sport", s("1024-1033")),
        ("orig_sport", s("1030-2000")),
    ]);
    let want: Vec<String> = bed
        .kernel()
        .iter()
        .filter(|c| (1030..=1033).contains(&c.orig.sport))
        .map(|c| c.id.to_string())
        .collect();
    assert!(low["total"].as_u64().unwrap() > both["total"].as_u64().unwrap());
    let mut got = ids(&both);
    got.sort();
    let mut want = want;
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn snapshot_times_are_utc() {
    let bed = bed(2);
    let daemon = Daemon::start(&bed, &[]);
    let sid = login(&daemon);
    let (_, body) = daemon.post("/RPC2", view_body(&sid, nil(), int(0), int(0)).as_bytes());
    let stamp = body
        .split("<dateTime.iso8601>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("a dateTime.iso8601")
        .to_string();
    // The same instant, written by this process in UTC.
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let utc = |secs: u64| {
        let out = std::process::Command::new("date")
            .args(["-u", "-d", &format!("@{secs}"), "+%Y%m%dT%H:%M:%S"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let window: Vec<String> = (now.saturating_sub(30)..=now + 1).map(utc).collect();
    assert!(
        window.contains(&stamp),
        "{stamp} is not UTC now ({:?})",
        window.last()
    );
}

/// Reads the raw text of the value a response gives `key` in the first connection.
fn raw_member(body: &str, key: &str) -> String {
    let at = body.find(&format!("<name>{key}</name>")).expect(key);
    let rest = &body[at..];
    let start = rest.find("<value>").unwrap() + "<value>".len();
    let end = rest.find("</value>").unwrap();
    rest[start..end].to_string()
}

#[test]
fn wide_integers_go_out_as_the_option_says() {
    let bed = bed(4);
    let marked = bed
        .kernel()
        .into_iter()
        .find(|c| c.mark == 3_000_000_000)
        .unwrap()
        .id;
    for (option, want) in [
        (None, "<i8>3000000000</i8>"),
        (Some("i8"), "<i8>3000000000</i8>"),
        (Some("double"), "<double>3000000000</double>"),
        (Some("string"), "<string>3000000000</string>"),
    ] {
        let args: Vec<&str> = option
            .map(|o| vec!["--xmlrpc-wide-int", o])
            .unwrap_or_default();
        let daemon = Daemon::start(&bed, &args);
        let sid = login(&daemon);
        let filters = raw::strukt(&[("id", s(&marked.to_string()))]);
        let (_, body) = daemon.post("/RPC2", view_body(&sid, filters, int(0), int(1)).as_bytes());
        assert_eq!(raw_member(&body, "mark"), want, "{option:?}");
        // Small integers stay <int> and ids stay strings whatever the option.
        assert_eq!(raw_member(&body, "total"), "<int>1</int>", "{option:?}");
        assert_eq!(
            raw_member(&body, "id"),
            format!("<string>{marked}</string>"),
            "{option:?}"
        );
    }
}
