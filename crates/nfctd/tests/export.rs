//! Flow export (JSON Lines) against the real daemon: one end
//! record per connection that leaves the mirror, with how its end was found
//! (a DESTROY event, a reconciliation dump, or an expiry lookup); interim
//! records and NAT events; collectors on a Unix or TCP socket that start
//! late and go away; every line valid against the shipped schema, and `seq`
//! without gaps. Export refuses to start without the kernel's accounting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::export::{check_lines, check_received, lines, metric, scrape, Collector, Place};
use common::{synthetic, wait_until, Bed, Daemon};
use ctnetlink::Conn;
use serde_json::{json, Value as Json};

#[test]
fn every_ended_connection_gets_one_record_saying_how_its_end_was_found() {
    let bed = Bed::new().with_accounting();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flows.jsonl");
    let fillers = synthetic(2100).split_off(100);
    let all = synthetic(100);
    // Created before the daemon subscribes. Whether their ends come as
    // events depends on the whole host: since Linux 6.3 an entry gets the
    // event extension if any ctnetlink listener exists in any namespace
    // ("make event listener tracking global"), as other tests' daemons do.
    let mut quiet = all[..40].to_vec();
    for c in &mut quiet[..5] {
        c.timeout = 2; // these run out: the expiry lookup finds them gone
    }
    bed.inject(&quiet);
    let target = format!("json:{}", path.display());
    // A small event buffer (128 KiB as the kernel counts it), so the test
    // can overflow it on purpose below.
    let daemon = Daemon::start(
        &bed,
        &[
            "--resync-interval",
            "0",
            "--event-buffer",
            "65536",
            "--export",
            &target,
        ],
    );
    bed.inject(&all[40..]);

    let kernel = bed.kernel();
    let by_src = |c: &ctnetlink::Conn| (c.orig.src, c.orig.sport, c.l4proto, c.orig.icmp_id);
    let id_of = |c: &ctnetlink::Conn| {
        kernel
            .iter()
            .find(|k| by_src(k) == by_src(c))
            .map(|k| k.id)
            .expect("injected")
    };
    let mut expected: BTreeMap<u32, &str> = BTreeMap::new();
    // Ends the event path sees.
    let late: Vec<_> = all[40..70].iter().map(id_of).collect();
    let doomed: Vec<_> = kernel
        .iter()
        .filter(|k| late.contains(&k.id))
        .map(|k| k.key())
        .collect();
    assert_eq!(bed.ct().delete_many(&doomed).unwrap().0, 0);
    expected.extend(late.iter().map(|id| (*id, "event")));
    // The lookup of an entry past its timeout makes the kernel kill it:
    // its DESTROY event, if the kernel gave it one (see above), is applied
    // before the lookup's answer and ends the row by "event"; without one
    // the lookup's answer ends it by "timeout".
    let expiring: Vec<_> = quiet[..5].iter().map(id_of).collect();
    const EXPIRED: &str = "event or timeout";
    expected.extend(expiring.iter().map(|id| (*id, EXPIRED)));
    // Let the short timeouts run out and the expiry lookups find them.
    let count = |reason: &str| {
        lines(&path)
            .iter()
            .filter(|r| r["end_reason"] == reason)
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(15), || count("timeout")
            + count("event")
            == expiring.len() + late.len()),
        "expired entries got no timeout record: {:?}",
        lines(&path)
    );

    // Ends only a dump shows: while the daemon is stopped, 2,000 new
    // entries fill its event buffer, so the DESTROY events of the deletes
    // after them (if the kernel makes any) are lost; resumed, the daemon
    // sees the overflow and reconciles.
    let early: Vec<_> = quiet[5..25].iter().map(id_of).collect();
    let doomed: Vec<_> = kernel
        .iter()
        .filter(|k| early.contains(&k.id))
        .map(|k| k.key())
        .collect();
    let signal = |sig| nix::sys::signal::kill(daemon.pid(), sig).unwrap();
    signal(nix::sys::signal::Signal::SIGSTOP);
    bed.inject(&fillers);
    assert_eq!(bed.ct().delete_many(&doomed).unwrap().0, 0);
    signal(nix::sys::signal::Signal::SIGCONT);
    expected.extend(early.iter().map(|id| (*id, "reconciliation")));
    let mut py = daemon.client();
    let sid = py.login();
    assert_eq!(py.call("refresh", json!([sid])).ok(), json!(true));
    assert!(
        wait_until(Duration::from_secs(10), || lines(&path).len()
            >= expected.len()),
        "records missing: {} of {}",
        lines(&path).len(),
        expected.len()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        metric(&scrape(&daemon), "nfctd_mirror_overflows_total", "") >= 1,
        "the fillers overflowed the event buffer"
    );
    let records = lines(&path);
    check_lines(&path, &records);

    let got: BTreeMap<u32, &str> = records
        .iter()
        .map(|r| {
            let id = r["id"].as_u64().unwrap() as u32;
            let reason = r["end_reason"].as_str().unwrap();
            match reason {
                "event" | "timeout" if expiring.contains(&id) => (id, EXPIRED),
                _ => (id, reason),
            }
        })
        .collect();
    assert_eq!(got.len(), records.len(), "one record per connection");
    assert_eq!(got, expected);

    // The fields match the connection the test made.
    for record in &records {
        let id = record["id"].as_u64().unwrap() as u32;
        let made = all.iter().find(|c| id_of(c) == id).unwrap();
        assert_eq!(record["orig"]["src"], json!(made.orig.src.to_string()));
        assert_eq!(record["orig"]["dst"], json!(made.orig.dst.to_string()));
        assert_eq!(record["reply"]["src"], json!(made.reply.src.to_string()));
        assert_eq!(record["protocol_number"], json!(made.l4proto));
        assert_eq!(record["protocol"], json!(common::proto(made.l4proto)));
        assert_eq!(record["family"], json!(made.family.name()));
        assert_eq!(record["mark"], json!(made.mark));
        assert_eq!(record["type"], "end");
        if record["protocol"] == "tcp" || record["protocol"] == "udp" {
            assert_eq!(record["orig"]["sport"], json!(made.orig.sport));
            assert_eq!(record["orig"]["dport"], json!(made.orig.dport));
        }
        assert!(record["start_ms"].as_u64().unwrap() <= record["end_ms"].as_u64().unwrap());
    }
    drop(daemon);
}

#[test]
fn a_bad_export_target_is_refused_with_the_option_named() {
    let (code, log) = common::refused(&["--export", "netflow+udp://127.0.0.1:2055"]);
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("--export"), "{log}");
}

/// Makes `conns` in the bed and then ends them all (DESTROY events the
/// daemon sees); returns the ids the kernel gave them.
fn make_and_end(bed: &Bed, conns: &[Conn]) -> Vec<u32> {
    let before: Vec<u32> = bed.kernel().iter().map(|c| c.id).collect();
    bed.inject(conns);
    let made: Vec<Conn> = bed
        .kernel()
        .into_iter()
        .filter(|c| !before.contains(&c.id))
        .collect();
    assert_eq!(made.len(), conns.len());
    let keys: Vec<_> = made.iter().map(Conn::key).collect();
    assert_eq!(bed.ct().delete_many(&keys).unwrap().0, 0);
    made.iter().map(|c| c.id).collect()
}

/// The export metrics of `target`: (ends made, sent, dropped, spooled).
fn export_counts(daemon: &Daemon, target: &str) -> (u64, u64, u64, u64) {
    let text = scrape(daemon);
    let label = format!("target=\"{target}\"");
    (
        metric(&text, "nfctd_export_flow_ends_total", ""),
        metric(&text, "nfctd_export_records_total", &label),
        metric(&text, "nfctd_export_dropped_total", &label),
        metric(&text, "nfctd_export_spooled", &label),
    )
}

/// A collector absent at the start, then listening, then gone and back:
/// what was made meanwhile waits in the spool and arrives, in order, none
/// dropped; one warning per outage, one note per return.
fn a_collector_that_comes_late_and_goes_away_misses_nothing(place: Place, target: &str) {
    let bed = Bed::new().with_accounting();
    let dir = tempfile::tempdir().unwrap();
    let mut collector = Collector::new(place);
    let daemon = Daemon::start(
        &bed,
        &[
            "--resync-interval",
            "0",
            "--export-active-timeout",
            "0",
            "--export",
            target,
        ],
    );
    let all = synthetic(50);
    let mut ids = make_and_end(&bed, &all[..30]);
    assert!(
        wait_until(Duration::from_secs(10), || export_counts(&daemon, target)
            == (30, 0, 0, 30)),
        "the records wait in the spool while nobody listens: {:?}\n{}",
        export_counts(&daemon, target),
        daemon.log()
    );
    assert!(daemon.log().contains("export receiver is away"));

    collector.listen(&bed);
    assert!(
        wait_until(Duration::from_secs(30), || collector.received().len() >= 30),
        "spooled records reach the collector once it listens: {} of 30\n{}",
        collector.received().len(),
        daemon.log()
    );

    collector.stop();
    // The idle sender notices the hang-up by itself.
    assert!(
        wait_until(Duration::from_secs(10), || daemon
            .log()
            .matches("export receiver is away")
            .count()
            == 2),
        "{}",
        daemon.log()
    );
    ids.extend(make_and_end(&bed, &all[30..]));
    assert!(wait_until(Duration::from_secs(10), || export_counts(
        &daemon, target
    )
    .0 == 50));
    assert_eq!(
        export_counts(&daemon, target).1,
        30,
        "nothing sent while away"
    );
    collector.listen(&bed);
    assert!(
        wait_until(Duration::from_secs(30), || collector.received().len() >= 50),
        "records made while the collector was away arrive when it is back: {} of 50\n{}",
        collector.received().len(),
        daemon.log()
    );
    std::thread::sleep(Duration::from_millis(300));

    let records = check_received(dir.path(), &collector.received());
    let (made, sent, dropped, spooled) = export_counts(&daemon, target);
    assert_eq!((made, sent, dropped, spooled), (50, 50, 0, 0));
    assert_eq!(records.len() as u64 + dropped, made);
    let got: Vec<u32> = records
        .iter()
        .map(|r| r["id"].as_u64().unwrap() as u32)
        .collect();
    let (mut got_sorted, mut ids_sorted) = (got.clone(), ids.clone());
    got_sorted.sort_unstable();
    ids_sorted.sort_unstable();
    assert_eq!(got_sorted, ids_sorted, "one record per connection made");
    assert!(records.iter().all(|r| r["end_reason"] == "event"));
    let log = daemon.log();
    assert_eq!(log.matches("export receiver is away").count(), 2, "{log}");
    assert_eq!(log.matches("export receiver is back").count(), 2, "{log}");
}

#[test]
fn a_unix_socket_collector_gets_every_record_across_its_outages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flows.sock");
    let target = format!("json:unix:{}", path.display());
    a_collector_that_comes_late_and_goes_away_misses_nothing(Place::Unix(path), &target);
}

#[test]
fn a_tcp_collector_named_by_host_name_gets_every_record_across_its_outages() {
    // In the daemon's namespace (the bed's); the name is resolved at each
    // connect, and localhost may give ::1 first, where nobody listens.
    let place = Place::Tcp("127.0.0.1:9000".parse().unwrap());
    a_collector_that_comes_late_and_goes_away_misses_nothing(place, "json:tcp://localhost:9000");
}

#[test]
fn interim_records_and_nat_events_are_written_and_valid() {
    let bed = Bed::new().with_accounting().with_tracking();
    let (_dir, path, daemon) = exporting_to_file(
        &bed,
        &[
            "--export-active-timeout",
            "1",
            "--resync-interval",
            "1",
            "--export-nat-events",
        ],
    );
    // Masqueraded: replies go to 203.0.113.1:61000.
    let mut nat = Conn::flow(
        17,
        "192.0.2.1".parse().unwrap(),
        "198.51.100.7".parse().unwrap(),
        5000,
        53,
    );
    nat.reply.dst = "203.0.113.1".parse().unwrap();
    nat.reply.dport = 61000;
    nat.timeout = 120;
    bed.inject(std::slice::from_ref(&nat));

    // A TCP flow whose counters grow over several active timeouts.
    let (mut client, echo) = common::echo_connection(&bed, "192.0.2.1:7000");
    let kinds = |kind: &str| lines(&path).iter().filter(|r| r["type"] == kind).count();
    assert!(
        wait_until(Duration::from_secs(20), || {
            use std::io::{Read, Write};
            let mut back = [0u8; 100];
            client.write_all(&[b'x'; 100]).unwrap();
            client.read_exact(&mut back).unwrap();
            std::thread::sleep(Duration::from_millis(100));
            kinds("interim") >= 2
        }),
        "interim records of a growing flow: {:?}",
        lines(&path)
    );
    drop(client);
    echo.join().unwrap();

    let made = bed
        .kernel()
        .into_iter()
        .find(|c| c.orig.sport == 5000)
        .expect("the NAT entry");
    bed.ct().delete(&made.key()).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || kinds("nat_delete") == 1),
        "{:?}",
        lines(&path)
    );
    std::thread::sleep(Duration::from_millis(300));
    let records = lines(&path);
    check_lines(&path, &records);
    let nat_records: Vec<&Json> = records.iter().filter(|r| r["id"] == made.id).collect();
    let nat_kinds: Vec<&str> = nat_records
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(nat_kinds, ["nat_create", "end", "nat_delete"]);
    assert_eq!(nat_records[0]["reply"]["dst"], "203.0.113.1");
    assert!(nat_records[0].get("orig_bytes").is_none());
    // Interim records carry what the flow did since its previous record.
    let interim: Vec<&Json> = records.iter().filter(|r| r["type"] == "interim").collect();
    assert!(interim
        .iter()
        .all(|r| r["orig_bytes"].as_u64().unwrap() > 0));
    assert!(interim.iter().all(|r| r.get("end_reason").is_none()));
    // The closed flow's last bytes (its FIN exchange) may still bring one
    // more interim record at the next reconciliation: the metric and the
    // file agree once it is written.
    assert!(
        wait_until(Duration::from_secs(5), || {
            let made = metric(&scrape(&daemon), "nfctd_export_interim_records_total", "");
            made == kinds("interim") as u64
        }),
        "{:?}",
        lines(&path)
    );
    assert!(kinds("interim") <= interim.len() + 1);
    let text = scrape(&daemon);
    assert_eq!(metric(&text, "nfctd_export_nat_events_total", ""), 2);
}

#[test]
fn export_refuses_to_start_without_accounting_naming_both_sysctls() {
    let bed = Bed::new();
    let netns = bed.sandbox.netns_path();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nfctd"))
        .args([
            "--netns",
            netns.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--passwd-file",
            "/nonexistent/nfctd-test-passwd",
            "--export",
            "json:-",
        ])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let exited = wait_until(Duration::from_secs(20), || {
        child.try_wait().unwrap().is_some()
    });
    if !exited {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(exited, "nfctd started without accounting: {log}");
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        log.contains("nf_conntrack_acct") && log.contains("nf_conntrack_timestamp"),
        "{log}"
    );
    assert!(log.contains("--enable-accounting"), "{log}");

    let daemon = Daemon::start(&bed, &["--export", "json:-", "--enable-accounting"]);
    assert!(scrape(&daemon).contains("nfctd_export_records_total"));
}

#[test]
fn malformed_socket_targets_are_refused_naming_export() {
    for target in [
        "json:tcp://nohost",
        "json:unix:",
        "json:tcp://[2001:db8::1]",
    ] {
        let (code, log) = common::refused(&["--export", target]);
        assert_eq!(code, Some(2), "{target}: {log}");
        assert!(log.contains("--export"), "{target}: {log}");
    }
}

/// A daemon in `bed` writing JSON lines to a file in a new directory
/// (kept while the returned guard lives), with `args` besides.
fn exporting_to_file(bed: &Bed, args: &[&str]) -> (tempfile::TempDir, PathBuf, Daemon) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flows.jsonl");
    let target = format!("json:{}", path.display());
    let mut all = vec!["--export", target.as_str()];
    all.extend_from_slice(args);
    let daemon = Daemon::start(bed, &all);
    (dir, path, daemon)
}

/// Sends `rounds` echoes of 1000 bytes over `client`.
fn exchange(client: &mut std::net::TcpStream, rounds: usize) {
    use std::io::{Read, Write};
    let mut back = [0u8; 1000];
    for _ in 0..rounds {
        client.write_all(&[b'x'; 1000]).unwrap();
        client.read_exact(&mut back).unwrap();
    }
}

/// The kernel's entry of the flow to `dport`, and the daemon's XML-RPC
/// `kill` of it; returns the entry as the kernel had it just before.
fn kill_through_the_api(bed: &Bed, daemon: &Daemon, dport: u16) -> Conn {
    let conn = bed
        .kernel()
        .into_iter()
        .find(|c| c.orig.dport == dport)
        .expect("the flow's entry");
    let mut py = daemon.client();
    let sid = py.login();
    py.call("kill", json!([sid, [conn.id.to_string()]])).ok();
    conn
}

/// The records of the connection `conn` (id and original tuple).
fn records_of(path: &std::path::Path, conn: &Conn) -> Vec<Json> {
    lines(path)
        .into_iter()
        .filter(|r| {
            r["id"] == conn.id && r["orig"]["sport"] == conn.orig.sport && r["type"] != "nat_create"
        })
        .collect()
}

#[test]
fn a_flow_killed_through_the_api_ends_with_the_kernels_final_counts() {
    let bed = Bed::new().with_accounting().with_tracking();
    // No reconciliation and no interim records: the mirror knows the flow's
    // counters only from its events (NEW, ESTABLISHED), long before the
    // 40 kB below; only the DESTROY event of the kill has the final ones.
    let (_dir, path, daemon) = exporting_to_file(
        &bed,
        &["--resync-interval", "0", "--export-active-timeout", "0"],
    );
    let (mut client, echo) = common::echo_connection(&bed, "192.0.2.1:7002");
    exchange(&mut client, 20);
    std::thread::sleep(Duration::from_millis(200)); // the last ACKs
    let conn = kill_through_the_api(&bed, &daemon, 7002);
    let total = conn.counters.expect("accounting is on");
    assert!(total.orig_bytes > 20_000, "{total:?}");
    assert!(wait_until(Duration::from_secs(10), || !records_of(
        &path, &conn
    )
    .is_empty()));
    let records = records_of(&path, &conn);
    assert_eq!(records.len(), 1, "{records:?}");
    let end = &records[0];
    assert_eq!(end["type"], "end");
    assert_eq!(end["end_reason"], "event");
    for (field, kernel) in [
        ("orig_bytes", total.orig_bytes),
        ("orig_packets", total.orig_packets),
        ("reply_bytes", total.repl_bytes),
        ("reply_packets", total.repl_packets),
    ] {
        assert_eq!(end[field], kernel, "{field}: {end}");
    }
    drop(client);
    echo.join().unwrap();
}

#[test]
fn interim_and_end_records_of_a_flow_add_up_to_the_kernels_count() {
    let bed = Bed::new().with_accounting().with_tracking();
    let (_dir, path, daemon) = exporting_to_file(
        &bed,
        &["--export-active-timeout", "1", "--resync-interval", "1"],
    );
    let (mut client, echo) = common::echo_connection(&bed, "192.0.2.1:7003");
    let interim_of_flow = || {
        lines(&path)
            .iter()
            .filter(|r| r["type"] == "interim" && r["orig"]["dport"] == 7003)
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(20), || {
            exchange(&mut client, 1);
            std::thread::sleep(Duration::from_millis(100));
            interim_of_flow() >= 2
        }),
        "{:?}",
        lines(&path)
    );
    exchange(&mut client, 5); // counted only by the end record
    std::thread::sleep(Duration::from_millis(200));
    let conn = kill_through_the_api(&bed, &daemon, 7003);
    let total = conn.counters.expect("accounting is on");
    assert!(wait_until(Duration::from_secs(10), || records_of(
        &path, &conn
    )
    .iter()
    .any(|r| r["type"] == "end")));
    let records = records_of(&path, &conn);
    let all = lines(&path);
    check_lines(&path, &all);
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert!(kinds.len() >= 3 && kinds[..kinds.len() - 1].iter().all(|k| *k == "interim"));
    assert_eq!(kinds.last(), Some(&"end"), "{kinds:?}");
    let sum = |field: &str| {
        records
            .iter()
            .map(|r| r[field].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(sum("orig_bytes"), total.orig_bytes);
    assert_eq!(sum("orig_packets"), total.orig_packets);
    assert_eq!(sum("reply_bytes"), total.repl_bytes);
    assert_eq!(sum("reply_packets"), total.repl_packets);
    // Each record's counts begin where the previous one's ended.
    assert!(records[0].get("counts_since_ms").is_none());
    for pair in records.windows(2) {
        assert_eq!(pair[1]["counts_since_ms"], pair[0]["end_ms"], "{pair:?}");
    }
    drop(client);
    echo.join().unwrap();
}
