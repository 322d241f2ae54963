//! Loss accounting under an event storm: 50,000 connections end
//! in one burst while the event buffer is small, so the kernel's DESTROY
//! events overflow it. Every connection still gets exactly one end record,
//! found by its event or by the reconciliation that follows; the metrics
//! add up to the records written, and `seq` has no gap. With
//! `--reliable-events` the kernel re-sends the DESTROY events that did not
//! fit instead of losing them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::export::{check_lines, lines, metric, scrape};
use common::{synthetic, wait_until, Bed, Daemon};
use ctnetlink::Conn;

const CONNECTIONS: usize = 50_000;
/// The reconciliation period the daemon runs with.
const RESYNC_SECS: u64 = 5;

/// How often the daemon reconciles in a burst test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reconcile {
    /// Every [`RESYNC_SECS`].
    Periodically,
    /// Only when the test asks (`refresh`): an end can only come by event.
    OnRequest,
}

/// How one burst went.
#[derive(Debug)]
#[allow(dead_code)] // `until_written` is measured to be printed
struct Burst {
    by_event: u64,
    by_reconciliation: u64,
    /// From the start of the deletes until the last record was written.
    until_written: Duration,
    /// Event socket overflows the daemon saw.
    overflows: u64,
}

/// Starts the daemon with a small event buffer (and `extra`), fills the
/// table, ends every connection at once, and checks that each one got
/// exactly one end record and that the metrics account for all of them.
fn burst(reconcile: Reconcile, extra: &[&str]) -> Burst {
    let bed = Bed::new().with_accounting();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flows.jsonl");
    let target = format!("json:{}", path.display());
    let resync = match reconcile {
        Reconcile::Periodically => RESYNC_SECS.to_string(),
        Reconcile::OnRequest => "0".to_string(),
    };
    let mut args = vec![
        "--export",
        &target,
        "--resync-interval",
        &resync,
        "--event-buffer",
        "65536",
        "--export-active-timeout",
        "0",
    ];
    args.extend_from_slice(extra);
    let daemon = Daemon::start(&bed, &args);
    // Made while the daemon listens: entries made before a listener
    // subscribed never send events (nf_conntrack_events=2), so their ends
    // could only ever be found by reconciliation.
    bed.inject(&synthetic(CONNECTIONS));
    if reconcile == Reconcile::OnRequest {
        // With --reliable-events a NEW event that did not fit is lost
        // without an overflow to say so: a reconciliation finds those.
        let mut py = daemon.client();
        let sid = py.login();
        assert_eq!(
            py.call("refresh", serde_json::json!([sid])).ok(),
            serde_json::json!(true)
        );
    }
    let mirrored = || metric(&scrape(&daemon), "nfctd_table_connections", "");
    assert!(
        wait_until(Duration::from_secs(120), || mirrored()
            == CONNECTIONS as u64),
        "the mirror has {} of {CONNECTIONS}",
        mirrored()
    );
    let made: Vec<Conn> = bed.kernel();
    assert_eq!(made.len(), CONNECTIONS);
    let keys: Vec<_> = made.iter().map(Conn::key).collect();

    let started = Instant::now();
    assert_eq!(bed.ct().delete_many(&keys).unwrap().0, 0);
    // One reconciliation period finds what the events missed; the rest is
    // slack for a slow machine, not a claim about speed.
    let written = wait_until(Duration::from_secs(RESYNC_SECS + 120), || {
        lines(&path).len() >= CONNECTIONS
    });
    let until_written = started.elapsed();
    assert!(
        written,
        "{} of {CONNECTIONS} end records\n{}",
        lines(&path).len(),
        daemon.log()
    );
    std::thread::sleep(Duration::from_millis(500));

    let records = lines(&path);
    assert_eq!(records.len(), CONNECTIONS, "one record per connection");
    check_lines(&path, &records);
    // Conntrack ids are hashes: among 50,000 two may well be equal, so a
    // connection is its id and original tuple.
    let identity =
        |id: u64, proto: u64, src: &str, sport: u64, dst: &str, dport: u64, icmp_id: u64| {
            format!("{id} {proto} {src} {sport} {dst} {dport} {icmp_id}")
        };
    let mut reasons: BTreeMap<String, String> = BTreeMap::new();
    for record in &records {
        assert_eq!(record["type"], "end");
        let orig = &record["orig"];
        let key = identity(
            record["id"].as_u64().unwrap(),
            record["protocol_number"].as_u64().unwrap(),
            orig["src"].as_str().unwrap(),
            orig["sport"].as_u64().unwrap(),
            orig["dst"].as_str().unwrap(),
            orig["dport"].as_u64().unwrap(),
            orig["icmp_id"].as_u64().unwrap_or(0),
        );
        let reason = record["end_reason"].as_str().unwrap().to_string();
        assert!(reason == "event" || reason == "reconciliation", "{record}");
        assert!(
            reasons.insert(key.clone(), reason).is_none(),
            "two records of {key}"
        );
    }
    let mut made_keys: Vec<String> = made
        .iter()
        .map(|c| {
            identity(
                u64::from(c.id),
                u64::from(c.l4proto),
                &c.orig.src.to_string(),
                u64::from(c.orig.sport),
                &c.orig.dst.to_string(),
                u64::from(c.orig.dport),
                u64::from(c.orig.icmp_id),
            )
        })
        .collect();
    made_keys.sort();
    assert_eq!(
        reasons.keys().cloned().collect::<Vec<_>>(),
        made_keys,
        "the records name the connections made"
    );

    let text = scrape(&daemon);
    let ends = |how: &str| {
        metric(
            &text,
            "nfctd_export_flow_ends_total",
            &format!("how=\"{how}\""),
        )
    };
    let (by_event, by_reconciliation) = (ends("event"), ends("reconciliation"));
    assert_eq!(ends("timeout"), 0);
    assert_eq!(by_event + by_reconciliation, CONNECTIONS as u64);
    let counted = |reason: &str| reasons.values().filter(|r| *r == reason).count() as u64;
    assert_eq!(
        (by_event, by_reconciliation),
        (counted("event"), counted("reconciliation"))
    );
    let label = format!("target=\"{target}\"");
    assert_eq!(
        metric(&text, "nfctd_export_records_total", &label),
        records.len() as u64
    );
    assert_eq!(metric(&text, "nfctd_export_dropped_total", &label), 0);
    Burst {
        by_event,
        by_reconciliation,
        until_written,
        overflows: metric(&text, "nfctd_mirror_overflows_total", ""),
    }
}

#[test]
fn every_end_of_a_burst_is_recorded_once_by_event_or_reconciliation() {
    let burst = burst(Reconcile::Periodically, &[]);
    println!("without --reliable-events: {burst:?}");
    // Whether the kernel really lost events depends on how fast this
    // machine reads them: assert it only when the daemon saw an overflow.
    if burst.overflows > 0 {
        assert!(
            burst.by_reconciliation > 0,
            "events were lost, yet no end came by reconciliation: {burst:?}"
        );
    } else {
        println!("no event was lost in this run: every end came by its event");
    }
}

/// The same burst with `--reliable-events`. Measured here (kernel 6.18)
/// with periodic reconciliation too, every 5 s and every 1 s: every end came
/// by its event, within 3–4 s, since a reconciliation keeps the rows the
/// kernel's dying list names. An event already delivered but not yet read
/// when a reconciliation starts can still lose that race, so the assertion
/// is made without periodic reconciliation: then an end can only come by
/// its event, and none may be missing.
#[test]
fn with_reliable_events_every_end_of_a_burst_comes_by_its_event() {
    let burst = burst(Reconcile::OnRequest, &["--reliable-events"]);
    println!("with --reliable-events: {burst:?}");
    assert_eq!(burst.overflows, 0, "no overflow is reported: {burst:?}");
    assert_eq!(
        (burst.by_event, burst.by_reconciliation),
        (CONNECTIONS as u64, 0)
    );
}
