//! IPFIX export against real collectors: Debian's nfacctd (pmacct) decodes
//! the flows nfctd exports for connections each test makes and ends in its
//! own namespace (addresses, NAT addresses and ports, bytes both ways,
//! times); tshark finds no warning in a capture over UDP and TCP; a
//! restarted UDP collector decodes again at once; a TCP collector that
//! comes back gets the templates first and the records that waited; NAT
//! events reach nfacctd as natEvent 4 and 5.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::collector::{have, num, Layouts, Message, Nfacctd, INSTALL};
use common::{available, wait_until, Bed, Daemon};
use ctnetlink::{Conn, Counters};
use serde_json::Value as Json;

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn boot_epoch() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let btime: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    btime & 0xffff_ffff
}

/// A port for a collector: every bed is its own namespace, so any is free;
/// a different one per test keeps logs apart.
fn port(n: u16) -> u16 {
    20_000 + n * 10 + (std::process::id() % 10) as u16
}

/// Makes the bed translate, for real traffic on its loopback:
/// 198.51.100.1:9999 → 192.0.2.1:8081 from 198.51.100.1:40000 (IPv4, both
/// ends), and [2001:db8::1]:9998 → [2001:db8::1]:8082 (IPv6, destination).
fn nat_rules(bed: &Bed) {
    for family in ["ip", "ip6"] {
        bed.nft(&["add", "table", family, "nat"]);
        // One argument, so nft does not take "-100" for an option.
        bed.nft(&[&format!(
            "add chain {family} nat out {{ type nat hook output priority -100 ; }}"
        )]);
        bed.nft(&[
            "add",
            "chain",
            family,
            "nat",
            "post",
            "{",
            "type",
            "nat",
            "hook",
            "postrouting",
            "priority",
            "srcnat",
            ";",
            "}",
        ]);
    }
    bed.nft(&[
        "add",
        "rule",
        "ip",
        "nat",
        "out",
        "ip",
        "daddr",
        "198.51.100.1",
        "tcp",
        "dport",
        "9999",
        "dnat",
        "to",
        "192.0.2.1:8081",
    ]);
    bed.nft(&[
        "add",
        "rule",
        "ip",
        "nat",
        "post",
        "ip",
        "daddr",
        "192.0.2.1",
        "tcp",
        "dport",
        "8081",
        "snat",
        "to",
        "198.51.100.1:40000",
    ]);
    bed.nft(&[
        "add",
        "rule",
        "ip6",
        "nat",
        "out",
        "ip6",
        "daddr",
        "2001:db8::1",
        "tcp",
        "dport",
        "9998",
        "dnat",
        "to",
        "[2001:db8::1]:8082",
    ]);
}

/// A real TCP connection in the bed: the client connects to `connect`, the
/// server listening on `listen` answers `sent` bytes with twice as many;
/// both close. Returns the client's port.
fn talk(bed: &Bed, listen: &str, connect: &str, sent: usize) -> u16 {
    let listen: SocketAddr = listen.parse().unwrap();
    let connect: SocketAddr = connect.parse().unwrap();
    let family = if listen.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let listener = socket2::Socket::from(bed.sandbox.socket(family, libc::SOCK_STREAM, 0).unwrap());
    listener.set_reuse_address(true).unwrap();
    listener.bind(&listen.into()).unwrap();
    listener.listen(4).unwrap();
    let listener: std::net::TcpListener = listener.into();
    let client = socket2::Socket::from(bed.sandbox.socket(family, libc::SOCK_STREAM, 0).unwrap());
    client.connect(&connect.into()).unwrap();
    let mut client: std::net::TcpStream = client.into();
    let (mut server, _) = listener.accept().unwrap();
    client.write_all(&vec![b'q'; sent]).unwrap();
    let mut got = vec![0u8; sent];
    server.read_exact(&mut got).unwrap();
    server.write_all(&vec![b'a'; 2 * sent]).unwrap();
    let mut answer = vec![0u8; 2 * sent];
    client.read_exact(&mut answer).unwrap();
    let client_port = client.local_addr().unwrap().port();
    drop(client);
    let mut rest = Vec::new();
    server.read_to_end(&mut rest).unwrap();
    drop(server);
    // Let the last ACK pass before the counters are read.
    std::thread::sleep(Duration::from_millis(200));
    client_port
}

/// The kernel's entry of the TCP connection from `port` to `dst`.
fn entry(bed: &Bed, dst: &str, sport: u16) -> Conn {
    let dst: IpAddr = dst.parse().unwrap();
    bed.kernel()
        .into_iter()
        .find(|c| c.l4proto == 6 && c.orig.sport == sport && c.orig.dst == dst)
        .unwrap_or_else(|| panic!("no entry for :{sport} → {dst}"))
}

/// Deletes entries (their DESTROY events end them in the mirror).
fn end(bed: &Bed, conns: &[Conn]) {
    let keys: Vec<_> = conns.iter().map(Conn::key).collect();
    assert_eq!(bed.ct().delete_many(&keys).unwrap().0, 0);
}

/// The flow record (not a NAT event) nfacctd has for the connection from `port`.
fn flow_from(records: &[Json], sport: u16) -> Option<Json> {
    records
        .iter()
        .find(|r| r["port_src"] == sport && r["nat_event"] == 0)
        .cloned()
}

/// Checks what nfacctd decoded against the kernel's entry.
fn check_flow(record: &Json, conn: &Conn, ended_after_ms: u64) {
    let counters: Counters = conn.counters.expect("accounting is on");
    assert_eq!(record["ip_src"], conn.orig.src.to_string(), "{record}");
    assert_eq!(record["ip_dst"], conn.orig.dst.to_string(), "{record}");
    assert_eq!(record["port_src"], conn.orig.sport, "{record}");
    assert_eq!(record["port_dst"], conn.orig.dport, "{record}");
    assert_eq!(record["ip_proto"], "tcp");
    assert_eq!(record["post_nat_port_src"], conn.reply.dport, "{record}");
    assert_eq!(record["post_nat_port_dst"], conn.reply.sport, "{record}");
    let (pn_src, pn_dst) = if conn.orig.src.is_ipv4() {
        ("post_nat_ip_src", "post_nat_ip_dst")
    } else {
        ("pn_src_v6", "pn_dst_v6")
    };
    assert_eq!(record[pn_src], conn.reply.dst.to_string(), "{record}");
    assert_eq!(record[pn_dst], conn.reply.src.to_string(), "{record}");
    assert_eq!(record["bytes"], counters.orig_bytes, "{record}");
    assert_eq!(record["packets"], counters.orig_packets, "{record}");
    assert_eq!(num(record, "rev_bytes"), counters.repl_bytes, "{record}");
    assert_eq!(num(record, "rev_pkts"), counters.repl_packets, "{record}");
    assert!(counters.orig_bytes > 1000 && counters.repl_bytes > 2000);
    let start_ms = conn.start_ns.unwrap().get() / 1_000_000;
    assert_eq!(num(record, "start_ms"), start_ms, "{record}");
    let end_ms = num(record, "end_ms");
    assert!(
        (ended_after_ms..=unix_ms()).contains(&end_ms),
        "end {end_ms} not after the delete at {ended_after_ms}: {record}"
    );
    // Closed (TIME_WAIT) and deleted: the kernel's DESTROY shows the end.
    assert_eq!(num(record, "end_reason"), 3, "{record}");
    let flow_id = (boot_epoch() << 32) | u64::from(conn.id);
    assert_eq!(num(record, "flow_id"), flow_id, "{record}");
}

#[test]
fn nfacctd_decodes_ipv4_and_ipv6_flows_with_nat_bytes_both_ways_and_times() {
    if !available(have("nfacctd"), "nfacctd", INSTALL) {
        return;
    }
    let bed = Bed::new().with_accounting().with_tracking();
    nat_rules(&bed);
    let collector = Nfacctd::start(&bed, port(1));
    let target = format!("ipfix+udp://127.0.0.1:{}", collector.port);
    let daemon = Daemon::start(&bed, &["--export", &target]);

    let natted = talk(&bed, "192.0.2.1:8081", "198.51.100.1:9999", 1500);
    let plain = talk(&bed, "192.0.2.1:8083", "192.0.2.1:8083", 3000);
    let v6 = talk(&bed, "[2001:db8::1]:8082", "[2001:db8::1]:9998", 2000);
    let conns = [
        entry(&bed, "198.51.100.1", natted),
        entry(&bed, "192.0.2.1", plain),
        entry(&bed, "2001:db8::1", v6),
    ];
    assert_eq!(conns[0].reply.dst.to_string(), "198.51.100.1");
    assert_eq!(conns[0].reply.dport, 40000, "the SNAT rule applied");
    let before_end = unix_ms();
    end(&bed, &conns);

    let ports = [natted, plain, v6];
    let decoded = wait_until(Duration::from_secs(10), || {
        let records = collector.records();
        ports.iter().all(|p| flow_from(&records, *p).is_some())
    });
    assert!(
        decoded,
        "nfacctd decoded {:?}\nnfctd: {}",
        collector.records(),
        daemon.log()
    );
    let records = collector.records();
    for (conn, sport) in conns.iter().zip(ports) {
        check_flow(&flow_from(&records, sport).unwrap(), conn, before_end);
    }
    let natted = flow_from(&records, natted).unwrap();
    assert_eq!(natted["post_nat_ip_src"], "198.51.100.1");
    assert_eq!(natted["post_nat_port_src"], 40000);
    assert_eq!(natted["post_nat_ip_dst"], "192.0.2.1");
    assert_eq!(natted["post_nat_port_dst"], 8081);
    let v6 = flow_from(&records, v6).unwrap();
    assert_eq!(v6["pn_dst_v6"], "2001:db8::1");
    assert_eq!(v6["post_nat_port_dst"], 8082);
    assert!(collector.gaps().is_empty(), "{}", collector.log());
}

/// Inject-made connections (no counters needed): TCP, UDP, SCTP, ICMP over
/// IPv4 and IPv6, and one NATed, ended through ctnetlink.
fn inject_and_end(bed: &Bed, n: usize, first_sport: u16) -> Vec<Conn> {
    let mut conns = common::synthetic(n);
    for (i, c) in conns.iter_mut().enumerate() {
        if c.l4proto == 6 || c.l4proto == 17 {
            let sport = first_sport + i as u16;
            c.orig.sport = sport;
            c.reply.dport = sport;
        }
    }
    let mut natted = Conn::flow(
        17,
        "192.0.2.7".parse().unwrap(),
        "198.51.100.9".parse().unwrap(),
        first_sport + 999,
        53,
    );
    natted.timeout = 300;
    natted.reply.dst = "203.0.113.1".parse().unwrap();
    natted.reply.dport = 61000;
    conns.push(natted);
    bed.inject(&conns);
    std::thread::sleep(Duration::from_millis(300));
    let kernel = bed.kernel();
    let keys: Vec<_> = kernel.iter().map(Conn::key).collect();
    assert_eq!(bed.ct().delete_many(&keys).unwrap().0, 0);
    kernel
}

/// dumpcap on the bed's loopback, writing a capture file.
struct Capture {
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl Capture {
    fn start(bed: &Bed, filter: &str) -> Capture {
        let dir = tempfile::tempdir().unwrap();
        let err = std::fs::File::create(dir.path().join("dumpcap.err")).unwrap();
        let child = bed
            .command("dumpcap")
            .args(["-q", "-i", "lo", "-f", filter, "-w"])
            .arg(dir.path().join("cap.pcapng"))
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("dumpcap");
        let capture = Capture { child, dir };
        let ready = wait_until(Duration::from_secs(10), || {
            std::fs::read_to_string(capture.dir.path().join("dumpcap.err"))
                .unwrap_or_default()
                .contains("Capturing on")
        });
        assert!(ready, "dumpcap did not start");
        capture
    }

    /// Stops capturing; returns the capture file's directory.
    fn stop(mut self) -> tempfile::TempDir {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        let _ = self.child.wait();
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }
}

/// tshark over the capture in `dir` with `args`: its output.
fn tshark(dir: &tempfile::TempDir, args: &[&str]) -> String {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(dir.path().join("cap.pcapng"))
        .args(args)
        .env("HOME", dir.path())
        .output()
        .expect("tshark");
    assert!(
        out.status.success(),
        "tshark {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP collector in the bed that keeps every byte it gets.
struct TcpSink {
    listener: std::net::TcpListener,
    peer: Arc<Mutex<Option<std::net::TcpStream>>>,
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl TcpSink {
    fn start(bed: &Bed, addr: &str) -> TcpSink {
        let addr: SocketAddr = addr.parse().unwrap();
        let listener = socket2::Socket::from(bed.socket(libc::SOCK_STREAM));
        listener.set_reuse_address(true).unwrap();
        listener.bind(&addr.into()).unwrap();
        listener.listen(4).unwrap();
        let listener: std::net::TcpListener = listener.into();
        let sink = TcpSink {
            listener,
            peer: Arc::default(),
            bytes: Arc::default(),
        };
        let accepting = sink.listener.try_clone().unwrap();
        let (peer, bytes) = (Arc::clone(&sink.peer), Arc::clone(&sink.bytes));
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = accepting.accept() {
                *peer.lock().unwrap() = Some(stream.try_clone().unwrap());
                let mut buf = [0u8; 65536];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    bytes.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            }
        });
        sink
    }

    fn bytes(&self) -> Vec<u8> {
        self.bytes.lock().unwrap().clone()
    }

    /// The collector goes away: its connection and its listener close.
    fn close(self) {
        if let Some(peer) = self.peer.lock().unwrap().take() {
            let _ = peer.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// The messages in a TCP stream.
fn messages(mut bytes: &[u8]) -> Vec<Message> {
    let mut found = Vec::new();
    while let Some(message) = Message::parse(bytes) {
        bytes = &bytes[message.length..];
        found.push(message);
    }
    found
}

#[test]
fn tshark_decodes_the_export_over_udp_and_tcp_without_warnings() {
    if !available(have("tshark") && have("dumpcap"), "tshark", INSTALL) {
        return;
    }
    let bed = Bed::new().with_accounting();
    let (udp_port, tcp_port) = (port(2), port(2) + 1);
    let udp_sink = std::net::UdpSocket::from(bed.socket(libc::SOCK_DGRAM));
    let udp_addr: SocketAddr = format!("127.0.0.1:{udp_port}").parse().unwrap();
    socket2::SockRef::from(&udp_sink)
        .bind(&udp_addr.into())
        .unwrap();
    let tcp_sink = TcpSink::start(&bed, &format!("127.0.0.1:{tcp_port}"));
    let capture = Capture::start(&bed, &format!("udp port {udp_port} or tcp port {tcp_port}"));
    let udp_target = format!("ipfix+udp://127.0.0.1:{udp_port}");
    let tcp_target = format!("ipfix+tcp://127.0.0.1:{tcp_port}");
    let daemon = Daemon::start(
        &bed,
        &[
            "--export",
            &udp_target,
            "--export",
            &tcp_target,
            "--export-nat-events",
            "--export-domain-id",
            "77",
        ],
    );
    let ended = inject_and_end(&bed, 60, 30000);
    let expected = ended.len() + 2; // and the NAT create and delete events
    let all_there = wait_until(Duration::from_secs(10), || {
        let mut layouts = Layouts::default();
        let records: usize = messages(&tcp_sink.bytes())
            .iter()
            .map(|m| {
                layouts.learn(m);
                m.data_records(&layouts)
            })
            .sum();
        records > expected // and the statistics record
    });
    assert!(
        all_there,
        "the TCP collector got too little: {}",
        daemon.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    let captured = capture.stop();
    let tshark = |args: &[&str]| tshark(&captured, args);
    let decode = [
        "-d",
        &format!("udp.port=={udp_port},cflow"),
        "-d",
        &format!("tcp.port=={tcp_port},cflow"),
    ];
    let mut args = decode.to_vec();
    args.extend([
        "-Y",
        "_ws.expert.severity >= 6291456 || _ws.malformed",
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "_ws.expert.message",
    ]);
    let warnings = tshark(&args);
    assert_eq!(warnings.trim(), "", "tshark warned");

    for transport in ["udp", "tcp"] {
        let filter = format!("cflow && {transport}");
        let mut args = decode.to_vec();
        args.extend([
            "-Y",
            &filter,
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "cflow.srcaddr",
            "-e",
            "cflow.srcaddrv6",
            "-e",
            "cflow.nat_event",
            "-e",
            "cflow.responder_octets",
            "-e",
            "cflow.flow_end_reason",
            "-e",
            "cflow.template_id",
            "-e",
            "cflow.od_id",
        ]);
        let shown = tshark(&args);
        for conn in &ended {
            assert!(
                shown.contains(&conn.orig.src.to_string()),
                "{transport}: {} missing from\n{shown}",
                conn.orig.src
            );
        }
        for needle in ["256", "257", "258", "259"] {
            assert!(
                shown.contains(needle),
                "{transport}: template {needle} not shown"
            );
        }
        assert!(
            shown
                .lines()
                .all(|l| l.ends_with("|77") || l.contains("|77,")),
            "{transport}: --export-domain-id 77 in every message\n{shown}"
        );
        assert!(
            shown.split(['|', ',', '\n']).any(|f| f == "4"),
            "NAT create"
        );
        assert!(
            shown.split(['|', ',', '\n']).any(|f| f == "5"),
            "NAT delete"
        );
    }
    // Each datagram holds exactly one whole message.
    let mut args = decode.to_vec();
    args.extend([
        "-Y",
        "cflow && udp",
        "-T",
        "fields",
        "-e",
        "udp.length",
        "-e",
        "cflow.len",
    ]);
    let lengths = tshark(&args);
    assert!(!lengths.trim().is_empty());
    for line in lengths.lines() {
        let (udp, ipfix) = line.split_once('\t').unwrap();
        let (udp, ipfix): (usize, usize) = (udp.parse().unwrap(), ipfix.parse().unwrap());
        assert_eq!(udp - 8, ipfix, "{line}");
        assert!(ipfix <= 1400);
    }
    drop(daemon);
}

#[test]
fn a_restarted_udp_collector_decodes_again_at_once() {
    if !available(have("nfacctd"), "nfacctd", INSTALL) {
        return;
    }
    // Real connections: nfacctd prints no flow without packets, and
    // inject-made entries count none.
    let bed = Bed::new().with_accounting().with_tracking();
    let mut first = Nfacctd::start(&bed, port(3));
    let target = format!("ipfix+udp://127.0.0.1:{}", first.port);
    let daemon = Daemon::start(&bed, &["--export", &target]);
    let has = |collector: &Nfacctd, sport: u16| {
        collector.records().iter().any(|r| r["port_src"] == sport)
    };
    let connection = |n: u16| {
        let addr = format!("192.0.2.1:{}", 8100 + n);
        let sport = talk(&bed, &addr, &addr, 100);
        end(&bed, &[entry(&bed, "192.0.2.1", sport)]);
        sport
    };
    let before = connection(1);
    assert!(
        wait_until(Duration::from_secs(10), || has(&first, before)),
        "{}\n{}",
        daemon.log(),
        first.log()
    );
    first.stop();
    // Ended while no collector listens: the datagram comes back refused.
    connection(2);
    std::thread::sleep(Duration::from_millis(500));

    let second = Nfacctd::start(&bed, first.port);
    let restarted = Instant::now();
    let after: Vec<u16> = (3..6).map(connection).collect();
    let decoded = wait_until(Duration::from_secs(10), || {
        after.iter().all(|p| has(&second, *p))
    });
    assert!(
        decoded,
        "after {:?}: {:?}\n{}",
        restarted.elapsed(),
        second.records(),
        second.log()
    );
}

#[test]
fn a_tcp_collector_that_comes_back_gets_the_templates_first_and_the_records_that_waited() {
    let bed = Bed::new().with_accounting();
    let addr = format!("127.0.0.1:{}", port(4));
    let first_sink = TcpSink::start(&bed, &addr);
    let target = format!("ipfix+tcp://{addr}");
    let daemon = Daemon::start(&bed, &["--export", &target]);
    let ended = inject_and_end(&bed, 10, 31000);
    let ids_in = |bytes: &[u8]| -> Vec<u32> {
        let mut layouts = Layouts::default();
        messages(bytes)
            .iter()
            .flat_map(|m| {
                layouts.learn(m);
                m.conntrack_ids(&layouts)
            })
            .collect()
    };
    assert!(wait_until(Duration::from_secs(10), || ids_in(
        &first_sink.bytes()
    )
    .len()
        == ended.len()));
    let first = messages(&first_sink.bytes());
    assert_eq!(first[0].sets[0].0, 2, "templates come first");
    assert_eq!(first[0].sequence, 0);
    // The observation domain: the served namespace's inode number.
    let inode =
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(bed.sandbox.netns_path()).unwrap());
    assert!(first
        .iter()
        .all(|m| u64::from(m.domain) == inode & 0xffff_ffff));

    first_sink.close();
    std::thread::sleep(Duration::from_millis(200));
    let waited = inject_and_end(&bed, 10, 32000);
    std::thread::sleep(Duration::from_millis(1500));
    let second_sink = TcpSink::start(&bed, &addr);
    let mut want: Vec<u32> = waited.iter().map(|c| c.id).collect();
    want.sort_unstable();
    let got_all = wait_until(Duration::from_secs(15), || {
        let mut got = ids_in(&second_sink.bytes());
        got.sort_unstable();
        want.iter().all(|id| got.binary_search(id).is_ok())
    });
    assert!(got_all, "{}", daemon.log());
    let second = messages(&second_sink.bytes());
    assert_eq!(second[0].sets[0].0, 2, "templates come first again");
    assert_eq!(second[0].sequence, 0, "a new session counts from 0");
    let mut sequence = 0;
    let mut layouts = Layouts::default();
    for message in &second {
        assert_eq!(message.sequence, sequence);
        layouts.learn(message);
        sequence += message.data_records(&layouts) as u32;
    }
    // One warning for the outage however many reconnects it took. Only
    // the warnings naming this collector count: another, unrelated to the
    // export, must not fail this test.
    let log = daemon.log();
    let warnings = log
        .lines()
        .filter(|l| l.contains(" WARN ") && l.contains(&target))
        .count();
    assert_eq!(warnings, 1, "{log}");
    assert!(
        log.contains("connected to the IPFIX collector again"),
        "{log}"
    );
}

#[test]
fn nat_events_reach_nfacctd_as_4_and_5_and_the_flow_keeps_its_bytes() {
    if !available(have("nfacctd"), "nfacctd", INSTALL) {
        return;
    }
    let bed = Bed::new().with_accounting().with_tracking();
    nat_rules(&bed);
    let collector = Nfacctd::start(&bed, port(5));
    let target = format!("ipfix+udp://127.0.0.1:{}", collector.port);
    let daemon = Daemon::start(&bed, &["--export", &target, "--export-nat-events"]);
    let sport = talk(&bed, "192.0.2.1:8081", "198.51.100.1:9999", 1200);
    let conn = entry(&bed, "198.51.100.1", sport);
    let before_end = unix_ms();
    end(&bed, std::slice::from_ref(&conn));
    let of_conn = |records: Vec<Json>| -> Vec<Json> {
        records
            .into_iter()
            .filter(|r| r["port_src"] == sport)
            .collect()
    };
    let all = wait_until(Duration::from_secs(10), || {
        of_conn(collector.records()).len() >= 3
    });
    assert!(
        all,
        "{:?}\n{}\n{}",
        collector.records(),
        daemon.log(),
        collector.log()
    );
    let records = of_conn(collector.records());
    let event = |n: u64| {
        records
            .iter()
            .find(|r| r["nat_event"] == n)
            .unwrap_or_else(|| panic!("no natEvent {n} in {records:?}"))
    };
    // A NEW event carries no timestamp: the create is known to the second.
    let started_s = conn.start_ns.unwrap().get() / 1_000_000_000;
    for (n, at_least) in [(4, started_s * 1000), (5, before_end)] {
        let e = event(n);
        assert_eq!(e["ip_src"], conn.orig.src.to_string());
        assert_eq!(e["ip_dst"], "198.51.100.1");
        assert_eq!(e["port_dst"], 9999);
        assert_eq!(e["post_nat_ip_src"], "198.51.100.1");
        assert_eq!(e["post_nat_port_src"], 40000);
        assert_eq!(e["post_nat_ip_dst"], "192.0.2.1");
        assert_eq!(e["post_nat_port_dst"], 8081);
        assert!(num(e, "obs_ms") >= at_least, "{e}");
        assert!(e.get("bytes").is_none(), "an event has no counters: {e}");
    }
    check_flow(&event(0).clone(), &conn, before_end);
    assert!(collector.gaps().is_empty(), "{}", collector.log());
}

/// The gap check the other tests and the bench rely on can fail: the
/// daemon's real datagrams, replayed to nfacctd with one that carries data
/// records left out, make it log the gap.
#[test]
fn nfacctd_logs_a_sequence_gap_when_a_datagram_is_missing() {
    if !available(have("nfacctd"), "nfacctd", INSTALL) {
        return;
    }
    let bed = Bed::new().with_accounting();
    let sink = std::net::UdpSocket::from(bed.socket(libc::SOCK_DGRAM));
    let sink_addr: SocketAddr = format!("127.0.0.1:{}", port(6)).parse().unwrap();
    socket2::SockRef::from(&sink)
        .bind(&sink_addr.into())
        .unwrap();
    sink.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let target = format!("ipfix+udp://{sink_addr}");
    let daemon = Daemon::start(&bed, &["--export", &target]);
    // Ended in three rounds, so their records come in several datagrams.
    let mut ended = 0;
    for round in 0..3 {
        ended += inject_and_end(&bed, 20, 34000 + round * 1000).len();
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut datagrams = Vec::new();
    let (mut layouts, mut records) = (Layouts::default(), 0);
    let mut buf = [0u8; 65536];
    while records < ended {
        let len = sink.recv(&mut buf).expect("the daemon's datagrams");
        let message = Message::parse(&buf[..len]).unwrap();
        layouts.learn(&message);
        records += message.conntrack_ids(&layouts).len();
        datagrams.push((buf[..len].to_vec(), message.conntrack_ids(&layouts).len()));
    }
    drop(daemon);
    let with_data: Vec<usize> = (0..datagrams.len())
        .filter(|i| datagrams[*i].1 > 0)
        .collect();
    assert!(with_data.len() >= 3, "{} datagrams", datagrams.len());
    let left_out = with_data[1];

    let collector = Nfacctd::start(&bed, port(7));
    let replay = std::net::UdpSocket::from(bed.socket(libc::SOCK_DGRAM));
    let to = SocketAddr::from(([127, 0, 0, 1], collector.port));
    for (i, (datagram, _)) in datagrams.iter().enumerate() {
        if i == left_out {
            continue;
        }
        replay.send_to(datagram, to).unwrap();
        if i < left_out {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    assert!(
        wait_until(Duration::from_secs(10), || !collector.gaps().is_empty()),
        "no gap logged: {}",
        collector.log()
    );
    assert_eq!(collector.gaps().len(), 1, "{:?}", collector.gaps());
}
