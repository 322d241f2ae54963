//! Synthetic demo entries made through ctnetlink: a few hundred connections of
//! several protocols and both families that expire, get killed and get replaced.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ctnetlink::consts::{IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP};
use ctnetlink::names::{IPS_ASSURED, IPS_CONFIRMED, IPS_SEEN_REPLY};
use ctnetlink::{Conn, CtSocket};
use rand::{Rng, RngExt};

/// How many synthetic entries the demo keeps alive.
const POPULATION: usize = 300;
const TICK: Duration = Duration::from_millis(500);

pub fn start() -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("demo-synthetic".into())
        .spawn(run)?;
    Ok(())
}

fn run() {
    let mut rng = rand::rng();
    let mut socket = match CtSocket::open() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "demo: cannot open ctnetlink; no synthetic entries");
            return;
        }
    };
    loop {
        if let Err(e) = tick(&mut socket, &mut rng) {
            tracing::warn!(error = %e, "demo: synthetic churn failed");
        }
        std::thread::sleep(TICK);
    }
}

fn tick(socket: &mut CtSocket, rng: &mut impl Rng) -> Result<(), ctnetlink::Error> {
    let ours: Vec<Conn> = socket
        .dump_all()?
        .into_iter()
        .filter(is_synthetic)
        .collect();
    // A few die each tick, as a busy firewall's table does.
    let doomed: Vec<_> = ours
        .iter()
        .filter(|_| rng.random_ratio(1, 40))
        .map(Conn::key)
        .collect();
    if !doomed.is_empty() {
        socket.delete_many(&doomed)?;
    }
    let missing = POPULATION.saturating_sub(ours.len() - doomed.len());
    let fresh: Vec<Conn> = (0..missing).map(|_| random_conn(rng)).collect();
    socket.create_many(&fresh)?;
    Ok(())
}

/// Synthetic entries live in zone 0 with sources in 198.51.100.128/25 or 2001:db8:1::/48.
fn is_synthetic(conn: &Conn) -> bool {
    match conn.orig.src {
        IpAddr::V4(a) => a.octets()[..3] == [198, 51, 100] && a.octets()[3] >= 128,
        IpAddr::V6(a) => a.segments()[..3] == [0x2001, 0xdb8, 1],
    }
}

fn random_conn(rng: &mut impl Rng) -> Conn {
    let v6 = rng.random_ratio(1, 4);
    let (src, dst): (IpAddr, IpAddr) = if v6 {
        (
            Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, rng.random_range(1..500)).into(),
            Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, rng.random_range(1..20)).into(),
        )
    } else {
        (
            Ipv4Addr::new(198, 51, 100, rng.random_range(128..255)).into(),
            Ipv4Addr::new(203, 0, 113, rng.random_range(1..30)).into(),
        )
    };
    let l4proto = match rng.random_range(0..10) {
        0..=5 => IPPROTO_TCP,
        6..=7 => IPPROTO_UDP,
        8 => IPPROTO_SCTP,
        _ if v6 => IPPROTO_ICMPV6,
        _ => IPPROTO_ICMP,
    };
    let sport = rng.random_range(1024..65000);
    let dport = *[22u16, 53, 80, 443, 993, 3306, 5432, 8080]
        .get(rng.random_range(0..8))
        .unwrap_or(&443);
    let mut conn = Conn::flow(l4proto, src, dst, sport, dport);
    conn.timeout = rng.random_range(20..600);
    conn.status = IPS_CONFIRMED
        | if rng.random_ratio(3, 4) {
            IPS_SEEN_REPLY | IPS_ASSURED
        } else {
            0
        };
    // Some entries carry a uid in the upper half of the mark (try --uid-mask 0xffff0000).
    conn.mark = match rng.random_range(0..4) {
        0 => 0,
        1 => 1000 << 16,
        2 => (1001 << 16) | 1,
        _ => rng.random_range(1..256),
    };
    if l4proto == IPPROTO_TCP {
        // ESTABLISHED mostly; some half-open and closing ones.
        conn.proto_state = Some(
            *[3u8, 3, 3, 3, 1, 2, 5, 7]
                .get(rng.random_range(0..8))
                .unwrap_or(&3),
        );
    }
    conn
}
