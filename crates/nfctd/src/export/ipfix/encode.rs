//! A flow record as the bytes of one IPFIX data record, and the exporter's
//! statistics as an options data record. Pure: no I/O, no clock.
//!
//! Choices (documented in docs/export.md, "IPFIX"):
//! - initiator = the original direction (octetDeltaCount, packetDeltaCount),
//!   responder = the reply direction (responderOctets, responderPackets);
//!   initiatorOctets/initiatorPackets would repeat the first two and cost
//!   16 bytes a record, so they are left out.
//! - ICMP: sourceTransportPort 0, destinationTransportPort type << 8 | code,
//!   as NetFlow exporters do and collectors (nfacctd) expect, so one
//!   template serves every protocol.
//! - The post-NAT elements are always filled: without NAT they repeat the
//!   original addresses and ports.

use std::net::IpAddr;

use super::ie::{end_reason, nat_event};
use super::template::{self, Template};
use crate::export::{Endpoint, FlowRecord, RecordKind};
use nfctd_table::EndReason;

/// The exporter's counts the options record carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExporterStats {
    pub observation_domain: u32,
    pub messages: u64,
    pub flow_records: u64,
    pub not_sent: u64,
}

/// flowId: the kernel's boot time (seconds, low 32 bits) above the
/// conntrack id, so ids the kernel reuses after a reboot stay distinct.
pub fn flow_id(boot_epoch: u32, conntrack_id: u32) -> u64 {
    (u64::from(boot_epoch) << 32) | u64::from(conntrack_id)
}

/// flowEndReason of an end or interim record: interim → active timeout;
/// an end seen in a DESTROY event of a TCP connection that was closing →
/// end of flow detected, of any other → idle timeout (the kernel destroys
/// an entry when its timeout runs out); a row found past its timeout →
/// idle timeout; an end only a reconciliation dump showed → lack of
/// resources (the DESTROY event was lost).
pub fn flow_end_reason(record: &FlowRecord) -> u8 {
    match (record.kind, record.end_reason) {
        (RecordKind::Interim, _) => end_reason::ACTIVE_TIMEOUT,
        (_, Some(EndReason::Reconciliation)) => end_reason::LACK_OF_RESOURCES,
        (_, Some(EndReason::Event))
            if record.protocol_number == ctnetlink::consts::IPPROTO_TCP
                && matches!(
                    record.state,
                    Some("FIN_WAIT" | "CLOSE_WAIT" | "LAST_ACK" | "TIME_WAIT" | "CLOSE")
                ) =>
        {
            end_reason::END_OF_FLOW_DETECTED
        }
        _ => end_reason::IDLE_TIMEOUT,
    }
}

/// Source and destination port as sent: ICMP's type and code in the
/// destination port.
fn ports(endpoint: &Endpoint) -> (u16, u16) {
    match (endpoint.icmp_type, endpoint.icmp_code) {
        (Some(ty), Some(code)) => (0, u16::from(ty) << 8 | u16::from(code)),
        _ => (endpoint.sport, endpoint.dport),
    }
}

/// Post-NAT source and destination ports: where replies go and come from.
fn post_nat_ports(record: &FlowRecord) -> (u16, u16) {
    match record.orig.icmp_type {
        Some(_) => ports(&record.orig),
        None => (record.post_nat_src().1, record.post_nat_dst().1),
    }
}

fn address(out: &mut Vec<u8>, addr: IpAddr) {
    match addr {
        IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
    }
}

fn v4(out: &mut Vec<u8>, addr: IpAddr) {
    match addr {
        IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => out.extend_from_slice(&a.to_ipv4_mapped().unwrap_or(0.into()).octets()),
    }
}

/// The template `record` is sent with; `None` for a record IPFIX cannot
/// carry (a NAT event of an IPv6 connection, which the tracker never makes).
pub fn template_of(record: &FlowRecord) -> Option<&'static Template> {
    let ipv4 = record.orig.src.is_ipv4();
    match record.kind {
        RecordKind::End | RecordKind::Interim if ipv4 => Some(&template::FLOW_V4),
        RecordKind::End | RecordKind::Interim => Some(&template::FLOW_V6),
        RecordKind::NatCreate | RecordKind::NatDelete if ipv4 => Some(&template::NAT44_EVENT),
        RecordKind::NatCreate | RecordKind::NatDelete => None,
    }
}

/// Appends `record` as a data record of `template_of(record)`, in that
/// template's field order; `boot_epoch` makes the flowId.
pub fn write_record(out: &mut Vec<u8>, record: &FlowRecord, boot_epoch: u32) {
    let (sport, dport) = ports(&record.orig);
    let (post_sport, post_dport) = post_nat_ports(record);
    let (post_src, post_dst) = (record.post_nat_src().0, record.post_nat_dst().0);
    match record.kind {
        RecordKind::End | RecordKind::Interim => {
            let counts = record.counts.unwrap_or_default();
            out.extend_from_slice(&record.period_start_ms().to_be_bytes());
            out.extend_from_slice(&record.end_ms.to_be_bytes());
            address(out, record.orig.src);
            address(out, record.orig.dst);
            out.extend_from_slice(&sport.to_be_bytes());
            out.extend_from_slice(&dport.to_be_bytes());
            out.push(record.protocol_number);
            address(out, post_src);
            address(out, post_dst);
            out.extend_from_slice(&post_sport.to_be_bytes());
            out.extend_from_slice(&post_dport.to_be_bytes());
            out.extend_from_slice(&counts.orig_bytes.to_be_bytes());
            out.extend_from_slice(&counts.orig_packets.to_be_bytes());
            out.extend_from_slice(&counts.reply_bytes.to_be_bytes());
            out.extend_from_slice(&counts.reply_packets.to_be_bytes());
            out.push(flow_end_reason(record));
            out.extend_from_slice(&flow_id(boot_epoch, record.id).to_be_bytes());
        }
        RecordKind::NatCreate | RecordKind::NatDelete => {
            let event = if record.kind == RecordKind::NatCreate {
                nat_event::NAT44_SESSION_CREATE
            } else {
                nat_event::NAT44_SESSION_DELETE
            };
            out.extend_from_slice(&record.end_ms.to_be_bytes());
            out.push(event);
            out.push(record.protocol_number);
            v4(out, record.orig.src);
            v4(out, post_src);
            v4(out, record.orig.dst);
            v4(out, post_dst);
            out.extend_from_slice(&sport.to_be_bytes());
            out.extend_from_slice(&post_sport.to_be_bytes());
            out.extend_from_slice(&dport.to_be_bytes());
            out.extend_from_slice(&post_dport.to_be_bytes());
        }
    }
}

/// Appends the options data record of the exporter's statistics.
pub fn write_stats(out: &mut Vec<u8>, stats: &ExporterStats) {
    out.extend_from_slice(&stats.observation_domain.to_be_bytes());
    out.extend_from_slice(&stats.messages.to_be_bytes());
    out.extend_from_slice(&stats.flow_records.to_be_bytes());
    out.extend_from_slice(&stats.not_sent.to_be_bytes());
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(super) mod tests {
    use super::*;
    use crate::export::record::Counts;
    use ctnetlink::Family;

    fn endpoint(src: &str, dst: &str, sport: u16, dport: u16) -> Endpoint {
        Endpoint {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            sport,
            dport,
            icmp_type: None,
            icmp_code: None,
            icmp_id: None,
        }
    }

    /// 10.0.0.2:40000 → 198.51.100.7:443, masqueraded to 203.0.113.1:61000.
    pub(crate) fn masqueraded_v4(kind: RecordKind) -> FlowRecord {
        FlowRecord {
            seq: 1,
            kind,
            end_reason: (kind == RecordKind::End).then_some(EndReason::Event),
            id: 0x0102_0304,
            family: Family::Ipv4,
            protocol: "tcp".into(),
            protocol_number: 6,
            state: Some("TIME_WAIT"),
            orig: endpoint("10.0.0.2", "198.51.100.7", 40000, 443),
            reply: endpoint("198.51.100.7", "203.0.113.1", 443, 61000),
            counts: matches!(kind, RecordKind::End | RecordKind::Interim).then_some(Counts {
                orig_bytes: 0x1122,
                orig_packets: 7,
                reply_bytes: 0x3344_5566_7788,
                reply_packets: 9,
            }),
            accounting: true,
            start_ms: 1_700_000_000_000,
            counts_since_ms: None,
            end_ms: 1_700_000_005_500,
            mark: 0,
            zone: 0,
        }
    }

    fn bytes(record: &FlowRecord) -> Vec<u8> {
        let mut out = Vec::new();
        write_record(&mut out, record, 0x6543_2100);
        assert_eq!(out.len(), template_of(record).unwrap().record_length());
        out
    }

    #[test]
    fn an_ipv4_end_record_is_these_82_bytes() {
        let record = masqueraded_v4(RecordKind::End);
        assert_eq!(template_of(&record), Some(&template::FLOW_V4));
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, // flowStartMilliseconds 1700000000000
            0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x7d, 0x7c, // flowEndMilliseconds 1700000005500
            10, 0, 0, 2,  198, 51, 100, 7,             // source, destination
            0x9c, 0x40,  0x01, 0xbb,                   // ports 40000, 443
            6,                                         // TCP
            203, 0, 113, 1,  198, 51, 100, 7,          // post-NAT source, destination
            0xee, 0x48,  0x01, 0xbb,                   // post-NAPT ports 61000, 443
            0, 0, 0, 0, 0, 0, 0x11, 0x22,              // octetDeltaCount
            0, 0, 0, 0, 0, 0, 0, 7,                    // packetDeltaCount
            0, 0, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,  // responderOctets
            0, 0, 0, 0, 0, 0, 0, 9,                    // responderPackets
            3,                                         // end of flow detected (TIME_WAIT)
            0x65, 0x43, 0x21, 0x00, 0x01, 0x02, 0x03, 0x04, // flowId
        ];
        let got = bytes(&record);
        assert_eq!(got, expected);
        assert!(
            got.len() <= 100,
            "an IPv4 flow record is {} bytes",
            got.len()
        );
    }

    #[test]
    fn an_ipv6_interim_record_is_these_130_bytes() {
        let mut record = masqueraded_v4(RecordKind::Interim);
        record.family = Family::Ipv6;
        record.protocol_number = 17;
        record.state = None;
        record.orig = endpoint("2001:db8::2", "2001:db8::1", 5000, 53);
        record.reply = endpoint("2001:db8::1", "2001:db8::2", 53, 5000);
        assert_eq!(template_of(&record), Some(&template::FLOW_V6));
        let mut expected = vec![];
        expected.extend_from_slice(&1_700_000_000_000u64.to_be_bytes());
        expected.extend_from_slice(&1_700_000_005_500u64.to_be_bytes());
        let a2: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let a1: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        expected.extend_from_slice(&a2);
        expected.extend_from_slice(&a1);
        expected.extend_from_slice(&[0x13, 0x88, 0, 53, 17]);
        expected.extend_from_slice(&a2); // not translated: post-NAT repeats
        expected.extend_from_slice(&a1);
        expected.extend_from_slice(&[0x13, 0x88, 0, 53]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x11, 0x22]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 7]);
        expected.extend_from_slice(&[0, 0, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 9]);
        expected.push(2); // active timeout
        expected.extend_from_slice(&[0x65, 0x43, 0x21, 0x00, 1, 2, 3, 4]);
        assert_eq!(bytes(&record), expected);
        assert_eq!(expected.len(), 130);
    }

    #[test]
    fn nat_events_are_these_34_bytes() {
        for (kind, event) in [(RecordKind::NatCreate, 4), (RecordKind::NatDelete, 5)] {
            let record = masqueraded_v4(kind);
            assert_eq!(template_of(&record), Some(&template::NAT44_EVENT));
            #[rustfmt::skip]
            let expected: Vec<u8> = vec![
                0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x7d, 0x7c, // observationTimeMilliseconds
                event, 6,
                10, 0, 0, 2,  203, 0, 113, 1,     // source, post-NAT source
                198, 51, 100, 7,  198, 51, 100, 7, // destination, post-NAT destination
                0x9c, 0x40,  0xee, 0x48,          // source port, post-NAPT
                0x01, 0xbb,  0x01, 0xbb,          // destination port, post-NAPT
            ];
            assert_eq!(bytes(&record), expected);
        }
        let mut v6 = masqueraded_v4(RecordKind::NatCreate);
        v6.orig.src = "2001:db8::2".parse().unwrap();
        assert_eq!(template_of(&v6), None);
    }

    #[test]
    fn icmp_type_and_code_travel_in_the_destination_port() {
        let mut record = masqueraded_v4(RecordKind::End);
        record.protocol_number = 1;
        record.state = None;
        record.orig.icmp_type = Some(8);
        record.orig.icmp_code = Some(0);
        record.orig.icmp_id = Some(77);
        let got = bytes(&record);
        assert_eq!(&got[24..28], &[0, 0, 8, 0]);
        assert_eq!(&got[37..41], &[0, 0, 8, 0]);
        assert_eq!(got[73], 1, "an ICMP end is an idle timeout");
    }

    #[test]
    fn end_reasons_map_as_documented() {
        let reason = |kind, end, proto, state| {
            let mut record = masqueraded_v4(kind);
            record.end_reason = end;
            record.protocol_number = proto;
            record.state = state;
            flow_end_reason(&record)
        };
        use RecordKind::{End, Interim};
        assert_eq!(reason(Interim, None, 6, Some("ESTABLISHED")), 2);
        for closing in ["CLOSE", "TIME_WAIT", "LAST_ACK", "CLOSE_WAIT", "FIN_WAIT"] {
            assert_eq!(reason(End, Some(EndReason::Event), 6, Some(closing)), 3);
        }
        assert_eq!(
            reason(End, Some(EndReason::Event), 6, Some("ESTABLISHED")),
            1
        );
        assert_eq!(reason(End, Some(EndReason::Event), 17, None), 1);
        assert_eq!(reason(End, Some(EndReason::Timeout), 6, Some("CLOSE")), 1);
        assert_eq!(
            reason(End, Some(EndReason::Reconciliation), 6, Some("CLOSE")),
            5
        );
    }

    #[test]
    fn the_statistics_record_is_these_28_bytes() {
        let mut out = Vec::new();
        let stats = ExporterStats {
            observation_domain: 0x0a0b_0c0d,
            messages: 3,
            flow_records: 40,
            not_sent: 2,
        };
        write_stats(&mut out, &stats);
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0x0a, 0x0b, 0x0c, 0x0d,
            0, 0, 0, 0, 0, 0, 0, 3,
            0, 0, 0, 0, 0, 0, 0, 40,
            0, 0, 0, 0, 0, 0, 0, 2,
        ];
        assert_eq!(out, expected);
        assert_eq!(out.len(), template::EXPORTER_STATS.record_length());
    }
}
