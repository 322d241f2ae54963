//! A big table loads while the daemon answers: from the moment it listens,
//! `view` (XML-RPC and JSON) and `stats` answer from the rows read so far and
//! carry `loading: {loaded, expected}`, `/healthz` says 503 loading, a kill
//! acts at once, and systemd hears `STATUS=loading N of M connections`; once
//! the whole table is in, answers carry no `loading` and count every entry,
//! `/healthz` says 200, and READY=1 comes.
//!
//! The table is nearly as big as a namespace may hold: `nf_conntrack_max`
//! is global (262,144 by default) and a test must not raise it. Filling it
//! takes about 5 s; the daemon as `cargo test` builds it (unoptimised) then
//! loads it in about 3 s, 6 to 7 s while the test asks its questions, which
//! it does from the moment the port opens. An optimised build loads it some
//! ten times faster: there the window is a few tenths of a second. A dump
//! walks the kernel's hash table, which every namespace shares: on a machine
//! whose other namespaces hold millions of entries, the first rows come
//! seconds after the dump begins, and answers until then say `loaded: 0`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::collections::HashSet;
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use common::json::{request, Session};
use common::raw::{array, int, s, strukt};
use common::{Answer, Bed, Daemon};
use serde_json::Value as Json;

/// Entries in the namespace: below the kernel's per-namespace limit
/// (`nf_conntrack_max`, 262,144 here), with room for its own few.
const ENTRIES: usize = 200_000;

/// `loading` of an answer, as (loaded, expected).
fn progress(answer: &Json) -> Option<(u64, u64)> {
    let loading = answer.get("loading")?;
    Some((
        loading["loaded"].as_u64().expect("loaded"),
        loading["expected"].as_u64().expect("expected"),
    ))
}

fn xmlrpc(answer: Answer) -> Json {
    match answer {
        Answer::Ok(value) => value,
        other => panic!("a fault: {other:?}"),
    }
}

#[test]
fn answers_carry_progress_while_the_first_dump_loads_then_the_whole_table() {
    let bed = Bed::new();
    let filling = Instant::now();
    let entries = bed.fill(ENTRIES);
    eprintln!("filled {entries} entries in {:?}", filling.elapsed());

    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify");
    let manager = UnixDatagram::bind(&socket_path).unwrap();
    let netns = bed.sandbox.netns_path();
    let mut command = Command::new(env!("CARGO_BIN_EXE_nfctd"));
    command
        .args([
            "--netns",
            netns.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--auth",
            "none",
        ])
        .env("NOTIFY_SOCKET", &socket_path);
    let started = Instant::now();
    let daemon = Daemon::spawn_command_loading(command);
    let addr = daemon.http_addr();
    let sid = match daemon.raw("login", &[]) {
        Answer::Ok(Json::String(sid)) => sid,
        other => panic!("login: {other:?}"),
    };
    let json = Session::login(addr, "{}");
    let view = || {
        xmlrpc(daemon.raw(
            "view",
            &[s(&sid), strukt(&[]), s(""), s(""), int(0), int(20)],
        ))
    };

    // Ask every kind of question in turn until one answer has no progress.
    let mut loading_views = Vec::new();
    let (mut json_views, mut stats, mut healths) = (0, 0, 0);
    let mut served_ids = HashSet::new();
    // The row killed while loading, and whether the table was still loading then.
    let mut killed: Option<(String, bool)> = None;
    let live_view = loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "still loading after two minutes:\n{}",
            daemon.log()
        );
        let page = view();
        let Some((loaded, expected)) = progress(&page) else {
            break page;
        };
        let table_size = page["table_size"].as_u64().unwrap();
        // Before the kernel hands over its first rows (a dump walks the
        // hash table every namespace shares), `loaded` is 0.
        assert!(
            loaded <= expected && table_size <= loaded && expected > 0,
            "{loaded} of {expected}, {table_size} rows served"
        );
        assert!(!page["autorefresh"].is_null() && !page["snapshot"].is_null());
        for c in page["connections"].as_array().unwrap() {
            served_ids.insert(c["id"].as_str().unwrap().parse::<u32>().unwrap());
        }
        loading_views.push((loaded, expected, table_size));

        // A kill while loading acts at once, and the rest of the dump does
        // not bring the row back.
        if killed.is_none() {
            if let Some(first) = page["connections"].as_array().unwrap().first() {
                let id = first["id"].as_str().unwrap().to_string();
                let answer = xmlrpc(daemon.raw("kill", &[s(&sid), array(&[s(&id)])]));
                assert_eq!(answer["killed"], 1, "{answer}");
                let still_loading = progress(&view()).is_some();
                killed = Some((id, still_loading));
            }
        }
        if let Some((id, _)) = &killed {
            let page = xmlrpc(daemon.raw(
                "view",
                &[
                    s(&sid),
                    strukt(&[("id", s(id))]),
                    s(""),
                    s(""),
                    int(0),
                    int(1),
                ],
            ));
            assert_eq!(page["total"], 0, "the killed row is back: {page}");
        }

        let reply = json.get("/api/v1/connections?length=5");
        assert_eq!(reply.status, 200, "{reply:?}");
        if let Some((loaded, expected)) = progress(&reply.json()) {
            assert!(loaded <= expected, "{reply:?}");
            json_views += usize::from(loaded > 0);
        }
        let reply = json.get("/api/v1/stats");
        assert_eq!(reply.status, 200, "{reply:?}");
        if let Some((loaded, expected)) = progress(&reply.json()) {
            assert!(loaded <= expected, "{reply:?}");
            assert_eq!(reply.json()["mirror"]["live"], false);
            stats += usize::from(loaded > 0);
        }
        let health = request(addr, "GET", "/healthz", &[], "");
        if health.status == 503 {
            assert!(
                health.body.starts_with("table mirror is loading: "),
                "{health:?}"
            );
            assert_eq!(health.header("retry-after"), Some("1"));
            healths += 1;
        }
    };
    let loading_took = started.elapsed();
    eprintln!(
        "live after {loading_took:?}: {} loading views (XML-RPC), {json_views} JSON, {stats} stats, {healths} health; first {:?}, last {:?}",
        loading_views.len(),
        loading_views.first(),
        loading_views.last(),
    );
    // What a user sees while it loads: real progress and some of the rows.
    assert!(
        loading_views
            .iter()
            .any(|&(loaded, _, rows)| loaded > 0 && rows > 0),
        "no answer carried `loading` with rows: {loading_views:?}"
    );
    assert!(
        json_views > 0 && stats > 0,
        "{json_views} JSON views, {stats} stats"
    );
    let (killed, killed_while_loading) = killed.expect("a row was served while loading");
    eprintln!("killed {killed} while loading: {killed_while_loading}");
    let killed: u32 = killed.parse().unwrap();
    // Partial tables are the kernel's real rows, growing.
    let kernel: HashSet<u32> = bed.kernel().iter().map(|c| c.id).collect();
    assert!(!kernel.contains(&killed));
    served_ids.remove(&killed);
    assert!(
        served_ids.is_subset(&kernel),
        "rows served while loading are not the kernel's"
    );
    assert!(loading_views.windows(2).all(|w| w[0].0 <= w[1].0));

    // Once live: the whole table (but the row killed), no progress,
    // anywhere, from now on.
    let whole = Some(entries - 1);
    assert_eq!(live_view["table_size"].as_u64(), whole);
    assert_eq!(live_view["total"].as_u64(), whole);
    assert_eq!(progress(&view()), None);
    let reply = json.get("/api/v1/connections?length=5");
    assert_eq!(progress(&reply.json()), None, "{reply:?}");
    assert_eq!(reply.json()["table_size"].as_u64(), whole);
    let reply = json.get(&format!("/api/v1/connections?id={killed}"));
    assert_eq!(reply.json()["total"], 0, "{reply:?}");
    let reply = json.get("/api/v1/stats");
    assert_eq!(progress(&reply.json()), None, "{reply:?}");
    assert_eq!(reply.json()["mirror"]["live"], true);
    let health = request(addr, "GET", "/healthz", &[], "");
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));

    // systemd heard progress while it loaded (once a second), then READY=1.
    manager
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 1024];
    let mut statuses = Vec::new();
    let ready = loop {
        let n = manager.recv(&mut buf).expect("READY=1 once live");
        let message = String::from_utf8_lossy(&buf[..n]).into_owned();
        if message.lines().any(|l| l == "READY=1") {
            break message;
        }
        statuses.push(message);
    };
    assert!(
        ready.contains(&format!(
            "STATUS=mirror live with {} connections",
            entries - 1
        )),
        "{ready:?}"
    );
    for status in &statuses {
        let numbers: Vec<u64> = status
            .trim_end()
            .strip_prefix("STATUS=loading ")
            .and_then(|rest| rest.strip_suffix(" connections"))
            .map(|rest| rest.split(" of ").map(|n| n.parse().unwrap()).collect())
            .unwrap_or_else(|| panic!("not a progress line: {status:?}"));
        assert!(numbers.len() == 2 && numbers[0] <= numbers[1], "{status:?}");
    }
    eprintln!("{} STATUS lines before READY=1", statuses.len());
    if loading_took > Duration::from_secs(3) {
        assert!(
            !statuses.is_empty(),
            "no STATUS in {loading_took:?} of loading"
        );
    }
}
