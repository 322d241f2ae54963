//! IPFIX export under a burst, measured in one run; prints numbers and
//! ratios against the targets.
//!
//! Run: `cargo bench -p nfctd --bench export [-- --connections 50000]`
//! (no root needed: everything lives in a private user+net namespace, the
//! integration tests' bed).
//!
//! The daemon exports over loopback UDP to two collectors at once: Debian's
//! nfacctd (pmacct), which checks the sequence numbers, and a socket the
//! bench reads itself, which stamps each datagram's arrival. Then N
//! connections (IPv4 TCP, made through ctnetlink) end in a burst: deleted
//! in chunks of 500, each chunk's start time taken as its connections'
//! delete time (so latencies are upper bounds).
//!
//! What it measures (targets in brackets):
//! 1. records/s, from the first delete to the last record's arrival
//!    [≥ 50,000/s], and whether nfacctd saw a sequence gap [none];
//! 2. p50/p99 latency from a connection's delete to the arrival of the
//!    datagram with its record [p99 ≤ 1 s];
//! 3. bytes per IPv4 flow record on the wire: the record, and with its
//!    share of the IPFIX, UDP and IPv4 headers [≤ 100 B];
//! 4. the peer: how many of the ends `conntrack -E` (conntrack-tools)
//!    received in the same burst, against the records nfctd delivered.
//!
//! Not a test: `harness = false`, and `cargo test` does not run benches.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: fail loudly

/// The integration tests' bed and collectors, shared by path.
#[allow(unused_imports)] // the bed re-exports fixtures this bench does not use
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "shared/percentile.rs"]
mod percentile;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::collector::{have, Layouts, Message, Nfacctd};
use common::{wait_until, Bed, Daemon};
use ctnetlink::Conn;
use percentile::percentile;

const CHUNK: usize = 500;
const IPV4_UDP_HEADERS: usize = 28;

fn connections(n: usize) -> Vec<Conn> {
    (0..n)
        .map(|i| {
            let i = u32::try_from(i).unwrap();
            let mut c = Conn::flow(
                6,
                Ipv4Addr::from(0x0a00_0000 + i).into(),
                Ipv4Addr::new(198, 51, 100, 7).into(),
                1024 + (i % 60000) as u16,
                443 + (i / 60000) as u16,
            );
            c.timeout = 600;
            c
        })
        .collect()
}

/// GET /metrics from the daemon: the value of the first line starting with `name`.
fn metric(daemon: &Daemon, name: &str) -> Option<f64> {
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        daemon.addr
    );
    let (_, _, body) = common::http_exchange(daemon.addr, request.as_bytes());
    body.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// What the bench's socket received.
#[derive(Default)]
struct Arrival {
    /// Flow records, however many share an id.
    records: usize,
    datagrams: usize,
    bytes: usize,
    /// When the last datagram with records came.
    last: Option<Instant>,
    /// Each conntrack id's first arrival, for latency.
    first: HashMap<u32, Instant>,
    record_length: usize,
}

fn main() {
    let mut n = 50_000;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--connections") {
        n = args[i + 1].parse().expect("--connections N");
    }
    if !have("nfacctd") {
        eprintln!("nfacctd is missing (apt-get install pmacct): the gap check is skipped");
    }
    let bed = Bed::new().with_accounting();
    let collector = have("nfacctd").then(|| Nfacctd::start(&bed, 4739));
    let reader = UdpSocket::from(bed.socket(libc::SOCK_DGRAM));
    let reader_addr: SocketAddr = "127.0.0.1:4740".parse().unwrap();
    socket2::SockRef::from(&reader)
        .set_recv_buffer_size(64 << 20)
        .unwrap();
    socket2::SockRef::from(&reader)
        .bind(&reader_addr.into())
        .unwrap();
    let mut args = vec![
        "--resync-interval",
        "0",
        "--export",
        "ipfix+udp://127.0.0.1:4740",
    ];
    if collector.is_some() {
        args.extend(["--export", "ipfix+udp://127.0.0.1:4739"]);
    }
    let daemon = Daemon::start(&bed, &args);

    // The reader stamps every datagram; it stops at n records or 60 s.
    // It counts records, not distinct ids: conntrack ids are hashes, and
    // among 50k of them two collide about one time in four, so waiting for
    // n distinct ids could wait for ever. Latency takes an id's first
    // arrival (a collided id's second record is then measured from the
    // earlier one: negligible).
    let arrivals = std::thread::spawn(move || {
        reader
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut arrival = Arrival {
            first: HashMap::with_capacity(n),
            ..Arrival::default()
        };
        let mut layouts = Layouts::default();
        let mut buf = [0u8; 65536];
        while arrival.records < n {
            let Ok(len) = reader.recv(&mut buf) else {
                break;
            };
            let at = Instant::now();
            let message = Message::parse(&buf[..len]).expect("one whole message a datagram");
            layouts.learn(&message);
            let ids = message.conntrack_ids(&layouts);
            if !ids.is_empty() {
                arrival.datagrams += 1;
                arrival.bytes += len;
                arrival.records += ids.len();
                arrival.last = Some(at);
            }
            for id in ids {
                arrival.first.entry(id).or_insert(at);
            }
        }
        arrival.record_length = layouts.of(256).length;
        arrival
    });

    bed.inject(&connections(n));
    let mirrored = wait_until(Duration::from_secs(60), || {
        metric(&daemon, "nfctd_table_connections").is_some_and(|v| v as usize >= n)
    });
    assert!(mirrored, "the mirror never held {n} connections");

    // The peer: conntrack-tools' event listener, with its default buffer,
    // in the same namespace during the same burst.
    let peer = have("conntrack").then(|| {
        bed.command("conntrack")
            .args(["-E", "-e", "DESTROY"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    });
    std::thread::sleep(Duration::from_millis(300)); // let it subscribe

    let kernel = bed.kernel();
    let mut deleted_at: HashMap<u32, Instant> = HashMap::with_capacity(n);
    let mut ct = bed.ct();
    let burst = Instant::now();
    for chunk in kernel.chunks(CHUNK) {
        let keys: Vec<_> = chunk.iter().map(Conn::key).collect();
        let at = Instant::now();
        for c in chunk {
            deleted_at.insert(c.id, at);
        }
        assert_eq!(ct.delete_many(&keys).unwrap().0, 0);
    }
    let deleting = burst.elapsed();
    let Arrival {
        records,
        datagrams,
        bytes,
        last,
        first: arrived,
        record_length,
    } = arrivals.join().unwrap();
    let spread = last.unwrap_or(burst).duration_since(burst);
    let rate = records as f64 / spread.as_secs_f64();

    let mut latencies: Vec<Duration> = arrived
        .iter()
        .filter_map(|(id, at)| deleted_at.get(id).map(|d| at.duration_since(*d)))
        .collect();
    latencies.sort_unstable();

    println!("IPFIX export bench: {n} IPv4 TCP connections ending in a burst over loopback UDP");
    println!(
        "  deleting took {:.3} s; {} of {n} records arrived at the bench's socket",
        deleting.as_secs_f64(),
        records
    );
    println!(
        "1. rate: {rate:.0} records/s from the first delete to the last arrival ({:.3} s) \
         [target ≥ 50000/s: {:.2}×]",
        spread.as_secs_f64(),
        rate / 50_000.0
    );
    if !latencies.is_empty() {
        let p50 = percentile(&latencies, 0.50);
        let p99 = percentile(&latencies, 0.99);
        println!(
            "2. latency delete → datagram: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms \
             [target p99 ≤ 1000 ms: {:.3}×]",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            latencies.last().unwrap().as_secs_f64() * 1e3,
            p99.as_secs_f64()
        );
    }
    if records > 0 {
        let per_record = bytes as f64 / records as f64;
        let with_ip = (bytes + datagrams * IPV4_UDP_HEADERS) as f64 / records as f64;
        println!(
            "3. bytes per IPv4 flow record: {record_length} B record; {per_record:.1} B with its share of \
             the IPFIX headers ({datagrams} datagrams, {:.1} records each); {with_ip:.1} B with \
             UDP and IPv4 headers too [target ≤ 100 B: {:.2}×]",
            records as f64 / datagrams as f64,
            per_record / 100.0
        );
    }
    let dropped = metric(&daemon, "nfctd_export_dropped_total");
    println!("   daemon: export records dropped (first target) {dropped:?}");

    if let Some(collector) = collector {
        // nfacctd checks each message's sequence number against the records
        // decoded before it; wait for the last messages to be read.
        std::thread::sleep(Duration::from_secs(2));
        let gaps = collector.gaps();
        println!(
            "1b. nfacctd sequence gaps logged: {} [target 0]{}",
            gaps.len(),
            gaps.first().map(|g| format!(": {g}")).unwrap_or_default()
        );
        // nfacctd's counters for nfctd's stream (the agent with datagrams).
        for line in collector.stats(&bed) {
            if let Some(stats) = line.split("agent=").nth(1) {
                if !stats.contains("packets=1 ") {
                    println!("    nfacctd: agent={stats}");
                }
            }
        }
    }
    if let Some(mut peer) = peer {
        std::thread::sleep(Duration::from_secs(2));
        let _ = peer.kill();
        let out = peer.wait_with_output().unwrap();
        let events = out
            .stdout
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        println!(
            "4. peer: `conntrack -E -e DESTROY` received {events} of {n} ends in the same burst; \
             nfctd's export delivered {} ({:.1}× the peer)",
            records,
            records as f64 / events.max(1) as f64
        );
    }
    drop(daemon);
}
