//! The flow record: what nfctd says about one connection (its end, an
//! interim count, or a NAT binding event), and the JSON line it becomes.
//! Field names are documented in docs/export.md and in
//! `packaging/export-record.schema.json`; the IPFIX encoder reads the same
//! struct.

use std::net::IpAddr;

use ctnetlink::names::{proto_name, state_name};
use ctnetlink::{Conn, Counters, Family, Tuple};
use serde::Serialize;

use nfctd_table::{EndReason, Row};

/// What a record reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// The connection ended; the counts since its previous record.
    End,
    /// The connection goes on; the counts since its previous record
    /// (`--export-active-timeout`).
    Interim,
    /// A NAT binding was made (RFC 8158 NAT44 session create).
    NatCreate,
    /// A NAT binding went away (RFC 8158 NAT44 session delete).
    NatDelete,
}

/// One direction's addresses and ports; ICMP's type, code and identifier instead of ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_id: Option<u16>,
}

impl Endpoint {
    fn new(tuple: &Tuple, icmp: bool) -> Endpoint {
        Endpoint {
            src: tuple.src,
            dst: tuple.dst,
            sport: tuple.sport,
            dport: tuple.dport,
            icmp_type: icmp.then_some(tuple.icmp_type),
            icmp_code: icmp.then_some(tuple.icmp_code),
            icmp_id: icmp.then_some(tuple.icmp_id),
        }
    }
}

/// Bytes and packets each way over the period a record covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub orig_bytes: u64,
    pub orig_packets: u64,
    pub reply_bytes: u64,
    pub reply_packets: u64,
}

impl Counts {
    pub fn of(counters: Counters) -> Counts {
        Counts {
            orig_bytes: counters.orig_bytes,
            orig_packets: counters.orig_packets,
            reply_bytes: counters.repl_bytes,
            reply_packets: counters.repl_packets,
        }
    }

    /// What was counted after `earlier`; a counter that went backwards
    /// (never expected: nfctd never resets them) counts from zero.
    pub fn since(self, earlier: Counts) -> Counts {
        let step = |now: u64, then: u64| now.checked_sub(then).unwrap_or(now);
        Counts {
            orig_bytes: step(self.orig_bytes, earlier.orig_bytes),
            orig_packets: step(self.orig_packets, earlier.orig_packets),
            reply_bytes: step(self.reply_bytes, earlier.reply_bytes),
            reply_packets: step(self.reply_packets, earlier.reply_packets),
        }
    }

    pub fn is_zero(&self) -> bool {
        *self == Counts::default()
    }
}

/// One record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowRecord {
    /// 1, 2, 3 … from the daemon's start, over every kind; a gap means
    /// records were dropped.
    pub seq: u64,
    #[serde(rename = "type")]
    pub kind: RecordKind,
    /// How the end was found (`end` records only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<EndReason>,
    /// The kernel's conntrack id (CTA_ID).
    pub id: u32,
    #[serde(serialize_with = "family_name")]
    pub family: Family,
    /// Protocol name (`tcp`, `udp`, …, or the number as text).
    pub protocol: String,
    pub protocol_number: u8,
    /// TCP/SCTP/DCCP state; `null` for protocols without one.
    pub state: Option<&'static str>,
    pub orig: Endpoint,
    pub reply: Endpoint,
    /// Counts since this connection's previous record (the whole connection
    /// when it had none); absent from NAT events.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub counts: Option<Counts>,
    /// Whether the kernel kept counters for this connection.
    pub accounting: bool,
    /// Unix milliseconds: the kernel's start timestamp with
    /// `nf_conntrack_timestamp=1`, else when the mirror first saw it.
    pub start_ms: u64,
    /// Unix milliseconds the counts start from when the connection had an
    /// earlier (interim) record: that record's `end_ms`. Absent when the
    /// counts cover the connection from its start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts_since_ms: Option<u64>,
    /// Unix milliseconds: when nfctd found the end, read the interim counts,
    /// or saw the NAT binding made or gone.
    pub end_ms: u64,
    pub mark: u32,
    pub zone: u16,
}

fn family_name<S: serde::Serializer>(family: &Family, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(family.name())
}

/// The Unix milliseconds `row` started at.
pub(super) fn start_millis(row: &Row) -> u64 {
    match row.start_ns() {
        Some(ns) => ns.get() / 1_000_000,
        None => row.started_unix().saturating_mul(1000),
    }
}

/// The counters `row` has, with `last` (a DESTROY event's view) winning.
pub(super) fn counters_of(row: &Row, last: Option<&Conn>) -> Option<Counts> {
    last.and_then(|c| c.counters)
        .or(row.counters())
        .map(Counts::of)
}

impl FlowRecord {
    /// The record of `row` as `kind` says, at `end_ms`; `last` (the DESTROY
    /// event's view) supplies the final state; `counts` is what the record
    /// reports (`None` for NAT events); `accounting` whether the kernel
    /// kept counters.
    pub fn new(
        kind: RecordKind,
        row: &Row,
        last: Option<&Conn>,
        counts: Option<Counts>,
        end_ms: u64,
    ) -> FlowRecord {
        // The timeout is not recorded: any moment will do.
        let conn = &row.conn(0);
        let proto_state = last.and_then(|c| c.proto_state).or(conn.proto_state);
        // NEW events carry no start timestamp, DESTROY events do: a row the
        // mirror met through its NEW event knows its start only to the second.
        let start_ms = last
            .and_then(|c| c.start_ns)
            .map_or_else(|| start_millis(row), |ns| ns.get() / 1_000_000);
        let icmp = matches!(
            conn.l4proto,
            ctnetlink::consts::IPPROTO_ICMP | ctnetlink::consts::IPPROTO_ICMPV6
        );
        let state = state_name(conn.l4proto, proto_state);
        FlowRecord {
            seq: 0,
            kind,
            end_reason: None,
            id: conn.id,
            family: conn.family,
            protocol: proto_name(conn.l4proto).into_owned(),
            protocol_number: conn.l4proto,
            state: (!state.is_empty()).then_some(state),
            orig: Endpoint::new(&conn.orig, icmp),
            reply: Endpoint::new(&conn.reply, icmp),
            counts,
            accounting: counters_of(row, last).is_some(),
            start_ms,
            counts_since_ms: None,
            end_ms: end_ms.max(start_ms),
            mark: conn.mark,
            zone: conn.zone,
        }
    }

    /// The end record of `row`, found as `reason` says.
    pub fn end(
        row: &Row,
        last: Option<&Conn>,
        reason: EndReason,
        counts: Counts,
        end_ms: u64,
    ) -> FlowRecord {
        FlowRecord {
            end_reason: Some(reason),
            ..FlowRecord::new(RecordKind::End, row, last, Some(counts), end_ms)
        }
    }

    /// When the period the counts cover began: the previous record's time,
    /// or the connection's start. Collectors that bin deltas by start time
    /// (flowStartMilliseconds) need the period, not the connection's start.
    pub fn period_start_ms(&self) -> u64 {
        self.counts_since_ms.unwrap_or(self.start_ms)
    }

    /// Whether the connection's addresses or ports were translated: the
    /// reply tuple is not the original one reversed.
    pub fn is_nat(&self) -> bool {
        self.post_nat_src() != (self.orig.src, self.orig.sport)
            || self.post_nat_dst() != (self.orig.dst, self.orig.dport)
    }

    /// The source address and port after NAT: where replies go.
    pub fn post_nat_src(&self) -> (IpAddr, u16) {
        (self.reply.dst, self.reply.dport)
    }

    /// The destination address and port after NAT: where replies come from.
    pub fn post_nat_dst(&self) -> (IpAddr, u16) {
        (self.reply.src, self.reply.sport)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn row(conn: Conn) -> Row {
        Row::fixture(conn, 1_700_000_000)
    }

    #[test]
    fn a_destroy_events_counters_and_state_win_over_the_rows() {
        let mut conn = Conn::flow(
            6,
            "192.0.2.1".parse().unwrap(),
            "198.51.100.7".parse().unwrap(),
            40000,
            443,
        );
        conn.proto_state = Some(3); // ESTABLISHED
        conn.mark = 7;
        let row = row(conn.clone());
        let mut last = conn;
        last.proto_state = Some(7); // TIME_WAIT
        last.counters = Some(Counters {
            orig_packets: 3,
            orig_bytes: 5_000_000_000,
            repl_packets: 4,
            repl_bytes: 400,
        });
        let counts = counters_of(&row, Some(&last)).unwrap();
        let mut record = FlowRecord::end(
            &row,
            Some(&last),
            EndReason::Event,
            counts,
            1_700_000_005_000,
        );
        record.seq = 9;
        let json: serde_json::Value = serde_json::to_value(&record).unwrap();
        assert_eq!(json["seq"], 9);
        assert_eq!(json["type"], "end");
        assert_eq!(json["end_reason"], "event");
        assert_eq!(json["family"], "ipv4");
        assert_eq!(json["protocol"], "tcp");
        assert_eq!(json["state"], "TIME_WAIT");
        assert_eq!(json["orig_bytes"], 5_000_000_000u64);
        assert_eq!(json["reply_packets"], 4);
        assert_eq!(json["accounting"], true);
        assert_eq!(json["start_ms"], 1_700_000_000_000u64);
        assert_eq!(json["orig"]["dport"], 443);
        assert!(json["orig"].get("icmp_type").is_none());
        assert_eq!(json["mark"], 7);
        assert!(!record.is_nat());

        let timed_out = FlowRecord::end(&row, None, EndReason::Timeout, Counts::default(), 0);
        let json = serde_json::to_value(&timed_out).unwrap();
        assert_eq!(json["state"], "ESTABLISHED");
        assert_eq!(json["accounting"], false);
        assert_eq!(
            json["end_ms"], json["start_ms"],
            "an end never precedes the start"
        );
    }

    #[test]
    fn nat_shows_in_the_reply_tuple_and_nat_events_carry_no_counts() {
        let mut conn = Conn::flow(
            17,
            "10.0.0.2".parse().unwrap(),
            "198.51.100.7".parse().unwrap(),
            5000,
            53,
        );
        // Masqueraded to 203.0.113.1:61000.
        conn.reply.dst = "203.0.113.1".parse().unwrap();
        conn.reply.dport = 61000;
        let record = FlowRecord::new(RecordKind::NatCreate, &row(conn), None, None, 0);
        assert!(record.is_nat());
        assert_eq!(
            record.post_nat_src(),
            ("203.0.113.1".parse().unwrap(), 61000)
        );
        assert_eq!(record.post_nat_dst(), ("198.51.100.7".parse().unwrap(), 53));
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["type"], "nat_create");
        assert!(json.get("end_reason").is_none());
        assert!(json.get("orig_bytes").is_none());
    }

    #[test]
    fn counts_since_an_earlier_reading_are_the_difference() {
        let then = Counts {
            orig_bytes: 100,
            orig_packets: 2,
            reply_bytes: 50,
            reply_packets: 1,
        };
        let now = Counts {
            orig_bytes: 1100,
            orig_packets: 12,
            reply_bytes: 50,
            reply_packets: 1,
        };
        let delta = now.since(then);
        assert_eq!(delta.orig_bytes, 1000);
        assert_eq!(delta.orig_packets, 10);
        assert_eq!(delta.reply_bytes, 0);
        assert!(!delta.is_zero());
        assert!(now.since(now).is_zero());
    }
}
