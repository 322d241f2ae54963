//! The end record: what one ended connection looks like on the wire, and the
//! JSON line it becomes. Field names are documented in the README and in
//! `packaging/export-record.schema.json`.

use std::net::IpAddr;
use std::time::SystemTime;

use ctnetlink::names::{proto_name, state_name};
use ctnetlink::{Conn, Tuple};
use serde::Serialize;

use crate::table::{EndReason, Row};

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

/// The record of one connection that ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndRecord {
    /// 1, 2, 3 … from the daemon's start; a gap means records were dropped.
    pub seq: u64,
    /// Always `end` (interim records may come later).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `event`, `reconciliation` or `timeout`.
    pub end_reason: &'static str,
    /// The kernel's conntrack id (CTA_ID).
    pub id: u32,
    /// `ipv4` or `ipv6`.
    pub family: &'static str,
    /// Protocol name (`tcp`, `udp`, …, or the number as text).
    pub protocol: String,
    pub protocol_number: u8,
    /// TCP/SCTP/DCCP state at the end; `null` for protocols without one.
    pub state: Option<&'static str>,
    pub orig: Endpoint,
    pub reply: Endpoint,
    pub orig_bytes: u64,
    pub orig_packets: u64,
    pub reply_bytes: u64,
    pub reply_packets: u64,
    /// Whether the counters are real (`nf_conntrack_acct=1`); 0 otherwise.
    pub accounting: bool,
    /// Unix milliseconds: the kernel's start timestamp with
    /// `nf_conntrack_timestamp=1`, else when the mirror first saw it.
    pub start_ms: u64,
    /// Unix milliseconds when nfctd found the end.
    pub end_ms: u64,
    pub mark: u32,
    pub zone: u16,
}

/// Wall-clock Unix milliseconds now.
pub(super) fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl EndRecord {
    /// The record of `row`, ended as `reason` says at `end_ms`; `last` (the
    /// DESTROY event's view) supplies the final counters and state.
    pub fn new(
        seq: u64,
        row: &Row,
        last: Option<&Conn>,
        reason: EndReason,
        end_ms: u64,
    ) -> EndRecord {
        let conn = &row.conn;
        let counters = last.and_then(|c| c.counters).or(conn.counters);
        let proto_state = last.and_then(|c| c.proto_state).or(conn.proto_state);
        let start_ms = match last.and_then(|c| c.start_ns).or(conn.start_ns) {
            Some(ns) => ns.get() / 1_000_000,
            None => row.started_unix.saturating_mul(1000),
        };
        let icmp = matches!(
            conn.l4proto,
            ctnetlink::consts::IPPROTO_ICMP | ctnetlink::consts::IPPROTO_ICMPV6
        );
        let state = state_name(conn.l4proto, proto_state);
        let c = counters.unwrap_or_default();
        EndRecord {
            seq,
            kind: "end",
            end_reason: reason.name(),
            id: conn.id,
            family: conn.family.name(),
            protocol: proto_name(conn.l4proto).into_owned(),
            protocol_number: conn.l4proto,
            state: (!state.is_empty()).then_some(state),
            orig: Endpoint::new(&conn.orig, icmp),
            reply: Endpoint::new(&conn.reply, icmp),
            orig_bytes: c.orig_bytes,
            orig_packets: c.orig_packets,
            reply_bytes: c.repl_bytes,
            reply_packets: c.repl_packets,
            accounting: counters.is_some(),
            start_ms,
            end_ms: end_ms.max(start_ms),
            mark: conn.mark,
            zone: conn.zone,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ctnetlink::Counters;

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
        let row = Row {
            conn: conn.clone(),
            deadline: 0,
            started_unix: 1_700_000_000,
            rate: 0.0,
            sampled_bytes: 0,
            sampled_at: 0,
        };
        let mut last = conn;
        last.proto_state = Some(7); // TIME_WAIT
        last.counters = Some(Counters {
            orig_packets: 3,
            orig_bytes: 5_000_000_000,
            repl_packets: 4,
            repl_bytes: 400,
        });
        let record = EndRecord::new(9, &row, Some(&last), EndReason::Event, 1_700_000_005_000);
        let json: serde_json::Value = serde_json::to_value(&record).unwrap();
        assert_eq!(json["seq"], 9);
        assert_eq!(json["type"], "end");
        assert_eq!(json["end_reason"], "event");
        assert_eq!(json["protocol"], "tcp");
        assert_eq!(json["state"], "TIME_WAIT");
        assert_eq!(json["orig_bytes"], 5_000_000_000u64);
        assert_eq!(json["reply_packets"], 4);
        assert_eq!(json["accounting"], true);
        assert_eq!(json["start_ms"], 1_700_000_000_000u64);
        assert_eq!(json["orig"]["dport"], 443);
        assert!(json["orig"].get("icmp_type").is_none());
        assert_eq!(json["mark"], 7);

        let timed_out = EndRecord::new(10, &row, None, EndReason::Timeout, 0);
        let json = serde_json::to_value(&timed_out).unwrap();
        assert_eq!(json["state"], "ESTABLISHED");
        assert_eq!(json["accounting"], false);
        assert_eq!(
            json["end_ms"], json["start_ms"],
            "an end never precedes the start"
        );
    }
}
