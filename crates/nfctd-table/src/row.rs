//! One mirrored connection (`Row`), packed small, and the mirror's clocks.
//!
//! A table of ten million rows lives in memory, so a row keeps the kernel's
//! fields in the fewest bytes that still give each back exactly: an IPv4
//! row's four addresses inline in 16 bytes, ports or ICMP type/code/id in one
//! shared 8-byte slot chosen by what the tuples carry, the optional fields as
//! flag bits, and everything rare (IPv6 addresses, labels, secmark, a use
//! count past 254, packet counts past 2³², tuples that fit no
//! packing) in one shared box (`pack.rs` decides what goes where). Mirror
//! times are kept as u32 ticks of [`TICK`] ms (13 years of uptime) and a
//! byte for the milliseconds within the tick, exactly.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use ctnetlink::{Conn, ConnKey, Counters, Family, Tuple};

use super::pack::{self, Spill};

/// Milliseconds on the mirror's monotonic clock (since the process started).
pub type Millis = u64;

/// The unit rows keep mirror times in: a u32 of them lasts 13 years.
pub const TICK: Millis = 100;

/// The mirror's monotonic clock: cheap to read, never goes backwards.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    /// A clock reading 0 now.
    pub fn new() -> Clock {
        Clock {
            epoch: Instant::now(),
        }
    }

    /// Milliseconds since the clock was made.
    pub fn now(&self) -> Millis {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// Wall-clock Unix seconds now: the time base of `Row::started_unix`.
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Wall-clock Unix milliseconds now: the time base of reconciliation stamps
/// and export records.
pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Mirror milliseconds as whole ticks and the milliseconds past the last,
/// saturating after 13 years.
pub(super) fn stamp(ms: Millis) -> (u32, u8) {
    match u32::try_from(ms / TICK) {
        Ok(ticks) => (ticks, (ms % TICK) as u8),
        Err(_) => (u32::MAX, (TICK - 1) as u8),
    }
}

/// The mirror milliseconds of a [`stamp`].
fn millis((ticks, ms): (u32, u8)) -> Millis {
    Millis::from(ticks) * TICK + Millis::from(ms)
}

/// Bit of `Row::flags`: the connection's family is IPv6.
pub(super) const V6: u8 = 1;
/// The kernel reported a protocol state (`state` holds it).
pub(super) const HAS_STATE: u8 = 1 << 1;
/// The kernel reported counters (accounting is on).
pub(super) const HAS_COUNTERS: u8 = 1 << 2;
/// `start` holds the kernel's start timestamp in ns, else `started_unix`.
pub(super) const START_NS: u8 = 1 << 3;
/// `l4` holds ICMP type/code and id per tuple, not ports.
pub(super) const ICMP: u8 = 1 << 4;
/// `Row::use_count` saying the kernel's use count is in the spill.
pub(super) const USE_SPILLED: u8 = u8::MAX;

/// A connection as the mirror knows it: the kernel's view plus what the mirror
/// derived over time (expiry deadline, first sight, byte rate). Read through
/// its accessors; [`Row::conn`] rebuilds the kernel's whole view.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub(super) orig_bytes: u64,
    pub(super) repl_bytes: u64,
    /// Total bytes at the last counter sample, for the next rate.
    pub(super) sampled_bytes: u64,
    /// The kernel's start in ns (flag `START_NS`), else `started_unix`.
    pub(super) start: u64,
    /// What does not fit inline; shared between copies of the row.
    pub(super) spill: Option<Arc<Spill>>,
    /// IPv4 addresses: orig src, orig dst, reply src, reply dst.
    pub(super) addrs: [u32; 4],
    pub(super) orig_packets: u32,
    pub(super) repl_packets: u32,
    pub(super) id: u32,
    pub(super) status: u32,
    pub(super) mark: u32,
    /// Bytes per second, both directions, over the last sampled interval.
    pub(super) rate: f32,
    /// When the kernel's timeout runs out, in ticks, and ms within the tick.
    pub(super) deadline: u32,
    pub(super) deadline_ms: u8,
    /// When `sampled_bytes` was sampled, in ticks, and ms within the tick.
    pub(super) sampled_at: u32,
    pub(super) sampled_ms: u8,
    /// Ports (orig sport, dport, reply sport, dport), or with `ICMP` per
    /// tuple type << 8 | code, then the id.
    pub(super) l4: [u16; 4],
    pub(super) zone: u16,
    pub(super) l4proto: u8,
    pub(super) state: u8,
    pub(super) flags: u8,
    /// The kernel's use count (CTA_USE, small), or `USE_SPILLED`.
    pub(super) use_count: u8,
}

impl Row {
    /// The row of `conn` as observed: deadline and sample time in mirror ms.
    pub(super) fn observed(
        conn: &Conn,
        deadline: Millis,
        started_unix: u64,
        rate: f64,
        sampled: (u64, Millis),
    ) -> Row {
        let mut row = pack::pack(conn, started_unix);
        (row.deadline, row.deadline_ms) = stamp(deadline);
        row.rate = rate as f32;
        row.sampled_bytes = sampled.0;
        (row.sampled_at, row.sampled_ms) = stamp(sampled.1);
        row
    }

    /// A row of `conn` that started at `started_unix`, with no deadline and
    /// no rate yet: a row made outside the mirror (tests, benchmarks).
    pub fn fixture(conn: Conn, started_unix: u64) -> Row {
        pack::pack(&conn, started_unix)
    }

    /// This row expiring at mirror time `deadline` (tests, benchmarks).
    pub fn with_deadline(mut self, deadline: Millis) -> Row {
        self.set_deadline(deadline);
        self
    }

    /// This row with `rate` bytes per second (tests, benchmarks).
    pub fn with_rate(mut self, rate: f64) -> Row {
        self.set_rate(rate);
        self
    }

    /// Sets the deadline (tests, benchmarks).
    pub fn set_deadline(&mut self, deadline: Millis) {
        (self.deadline, self.deadline_ms) = stamp(deadline);
    }

    /// Sets the rate (tests, benchmarks).
    pub fn set_rate(&mut self, rate: f64) {
        self.rate = rate as f32;
    }

    /// Sets when the connection started (tests, benchmarks).
    pub fn set_started_unix(&mut self, started_unix: u64) {
        self.repack(&self.conn(0), started_unix);
    }

    /// Changes the kernel view by `edit`, keeping what the mirror derived
    /// (tests).
    pub fn edit(&mut self, edit: impl FnOnce(&mut Conn)) {
        let mut conn = self.conn(0);
        edit(&mut conn);
        self.repack(&conn, self.started_unix());
    }

    fn repack(&mut self, conn: &Conn, started_unix: u64) {
        let (times, rate, sampled_bytes) = (self.times(), self.rate, self.sampled_bytes);
        *self = pack::pack(conn, started_unix);
        self.set_times(times);
        (self.rate, self.sampled_bytes) = (rate, sampled_bytes);
    }

    /// The deadline and sample time, as kept.
    pub(super) fn times(&self) -> [(u32, u8); 2] {
        [
            (self.deadline, self.deadline_ms),
            (self.sampled_at, self.sampled_ms),
        ]
    }

    /// Sets what [`Row::times`] gives.
    pub(super) fn set_times(&mut self, [deadline, sampled]: [(u32, u8); 2]) {
        (self.deadline, self.deadline_ms) = deadline;
        (self.sampled_at, self.sampled_ms) = sampled;
    }

    /// The kernel's whole view of the connection, with the seconds left
    /// counted at mirror time `now`: for the cold paths (export, kill,
    /// change). Exactly the `Conn` the row was made from, at the moment it
    /// was observed.
    pub fn conn(&self, now: Millis) -> Conn {
        pack::unpack(self, self.timeout_at(now))
    }

    /// The key that addresses this connection in the kernel.
    pub fn key(&self) -> ConnKey {
        ConnKey {
            id: self.id,
            family: self.family(),
            l4proto: self.l4proto,
            orig: self.orig(),
            zone: self.zone,
        }
    }

    /// Whether this row is the connection `key` names.
    pub fn is(&self, key: &ConnKey) -> bool {
        self.id == key.id
            && self.l4proto == key.l4proto
            && self.zone == key.zone
            && self.family() == key.family
            && self.orig() == key.orig
    }

    /// CTA_ID.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The address family.
    pub fn family(&self) -> Family {
        if self.flags & V6 != 0 {
            Family::Ipv6
        } else {
            Family::Ipv4
        }
    }

    /// IPPROTO_* number.
    pub fn l4proto(&self) -> u8 {
        self.l4proto
    }

    /// The protocol state, for protocols with one.
    pub fn proto_state(&self) -> Option<u8> {
        (self.flags & HAS_STATE != 0).then_some(self.state)
    }

    /// CTA_STATUS bits.
    pub fn status(&self) -> u32 {
        self.status
    }

    /// The connection mark.
    pub fn mark(&self) -> u32 {
        self.mark
    }

    /// The conntrack zone.
    pub fn zone(&self) -> u16 {
        self.zone
    }

    /// Address `i` of orig src, orig dst, reply src, reply dst.
    #[inline]
    fn addr(&self, i: usize) -> IpAddr {
        match &self.spill {
            Some(spill) if spill.has_addrs() => spill.addr(i),
            _ => IpAddr::V4(Ipv4Addr::from_bits(self.addrs[i])),
        }
    }

    /// Original direction, source address.
    pub fn orig_src(&self) -> IpAddr {
        self.addr(0)
    }

    /// Original direction, destination address.
    pub fn orig_dst(&self) -> IpAddr {
        self.addr(1)
    }

    /// Reply direction, source address.
    pub fn repl_src(&self) -> IpAddr {
        self.addr(2)
    }

    /// Reply direction, destination address.
    pub fn repl_dst(&self) -> IpAddr {
        self.addr(3)
    }

    /// Port `i` of orig sport, dport, reply sport, dport (0 for ICMP).
    #[inline]
    fn port(&self, i: usize) -> u16 {
        match &self.spill {
            Some(spill) if spill.tuples.is_some() => spill.port(i),
            _ if self.flags & ICMP != 0 => 0,
            _ => self.l4[i],
        }
    }

    /// Original direction, source port.
    pub fn orig_sport(&self) -> u16 {
        self.port(0)
    }

    /// Original direction, destination port.
    pub fn orig_dport(&self) -> u16 {
        self.port(1)
    }

    /// Reply direction, source port.
    pub fn repl_sport(&self) -> u16 {
        self.port(2)
    }

    /// Reply direction, destination port.
    pub fn repl_dport(&self) -> u16 {
        self.port(3)
    }

    /// The original tuple.
    pub fn orig(&self) -> Tuple {
        pack::tuple(self, 0)
    }

    /// The reply tuple.
    pub fn reply(&self) -> Tuple {
        pack::tuple(self, 1)
    }

    /// The counters, when accounting is on.
    pub fn counters(&self) -> Option<Counters> {
        (self.flags & HAS_COUNTERS != 0).then(|| {
            let (orig_packets, repl_packets) = match self.spill.as_deref().and_then(Spill::packets)
            {
                Some([o, r]) => (o, r),
                None => (u64::from(self.orig_packets), u64::from(self.repl_packets)),
            };
            Counters {
                orig_packets,
                orig_bytes: self.orig_bytes,
                repl_packets,
                repl_bytes: self.repl_bytes,
            }
        })
    }

    /// Counters, zeros without accounting.
    pub fn counters_or_zero(&self) -> Counters {
        self.counters().unwrap_or_default()
    }

    /// The kernel's start timestamp (ns since the epoch), when timestamps are on.
    pub fn start_ns(&self) -> Option<std::num::NonZeroU64> {
        if self.flags & START_NS != 0 {
            std::num::NonZeroU64::new(self.start)
        } else {
            self.spill.as_deref().and_then(Spill::start_ns)
        }
    }

    /// Unix seconds when the entry started: the kernel's start timestamp when
    /// timestamps are on, else when the mirror first saw it.
    pub fn started_unix(&self) -> u64 {
        if self.flags & START_NS != 0 {
            self.start / 1_000_000_000
        } else {
            self.start
        }
    }

    /// When the kernel's timeout runs out, on the mirror clock.
    pub fn deadline(&self) -> Millis {
        millis((self.deadline, self.deadline_ms))
    }

    /// Bytes per second, both directions, over the last observed interval.
    pub fn rate(&self) -> f64 {
        f64::from(self.rate)
    }

    /// Total bytes at the last counter sample, and its mirror time.
    pub fn sampled(&self) -> (u64, Millis) {
        (
            self.sampled_bytes,
            millis((self.sampled_at, self.sampled_ms)),
        )
    }

    /// Seconds left before expiry at mirror time `now`.
    pub fn timeout_at(&self, now: Millis) -> u32 {
        u32::try_from(self.deadline().saturating_sub(now) / 1000).unwrap_or(u32::MAX)
    }

    /// Seconds since the entry started, at wall time `now_unix`.
    pub fn age_at(&self, now_unix: u64) -> u64 {
        now_unix.saturating_sub(self.started_unix())
    }

    /// A row in no slot: what an empty slot holds.
    pub(super) const VACANT: Row = Row {
        orig_bytes: 0,
        repl_bytes: 0,
        sampled_bytes: 0,
        start: 0,
        spill: None,
        addrs: [0; 4],
        orig_packets: 0,
        repl_packets: 0,
        id: 0,
        status: 0,
        mark: 0,
        rate: 0.0,
        deadline: 0,
        deadline_ms: 0,
        sampled_at: 0,
        sampled_ms: 0,
        l4: [0; 4],
        zone: 0,
        l4proto: 0,
        state: 0,
        flags: 0,
        use_count: 0,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size an IPv4 row costs in every chunk slot: a regression here is
    /// ten million times over.
    #[test]
    fn an_ipv4_row_stays_within_104_bytes() {
        assert!(
            std::mem::size_of::<Row>() <= 104,
            "{}",
            std::mem::size_of::<Row>()
        );
    }
}
