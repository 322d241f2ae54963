//! The IANA information elements nfctd's IPFIX templates use: number,
//! length on the wire, and name (IANA's "IPFIX Information Elements"
//! registry; RFC 7011/7012, RFC 8158 for natEvent).

/// One information element: its IANA number, its length as nfctd sends it,
/// and its IANA name (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ie {
    pub id: u16,
    pub length: u16,
    pub name: &'static str,
}

const fn ie(id: u16, length: u16, name: &'static str) -> Ie {
    Ie { id, length, name }
}

pub const OCTET_DELTA_COUNT: Ie = ie(1, 8, "octetDeltaCount");
pub const PACKET_DELTA_COUNT: Ie = ie(2, 8, "packetDeltaCount");
pub const PROTOCOL_IDENTIFIER: Ie = ie(4, 1, "protocolIdentifier");
pub const SOURCE_TRANSPORT_PORT: Ie = ie(7, 2, "sourceTransportPort");
pub const SOURCE_IPV4_ADDRESS: Ie = ie(8, 4, "sourceIPv4Address");
pub const DESTINATION_TRANSPORT_PORT: Ie = ie(11, 2, "destinationTransportPort");
pub const DESTINATION_IPV4_ADDRESS: Ie = ie(12, 4, "destinationIPv4Address");
pub const SOURCE_IPV6_ADDRESS: Ie = ie(27, 16, "sourceIPv6Address");
pub const DESTINATION_IPV6_ADDRESS: Ie = ie(28, 16, "destinationIPv6Address");
pub const EXPORTED_MESSAGE_TOTAL_COUNT: Ie = ie(41, 8, "exportedMessageTotalCount");
pub const EXPORTED_FLOW_RECORD_TOTAL_COUNT: Ie = ie(42, 8, "exportedFlowRecordTotalCount");
pub const FLOW_END_REASON: Ie = ie(136, 1, "flowEndReason");
pub const FLOW_ID: Ie = ie(148, 8, "flowId");
pub const OBSERVATION_DOMAIN_ID: Ie = ie(149, 4, "observationDomainId");
pub const FLOW_START_MILLISECONDS: Ie = ie(152, 8, "flowStartMilliseconds");
pub const FLOW_END_MILLISECONDS: Ie = ie(153, 8, "flowEndMilliseconds");
pub const NOT_SENT_FLOW_TOTAL_COUNT: Ie = ie(166, 8, "notSentFlowTotalCount");
pub const POST_NAT_SOURCE_IPV4_ADDRESS: Ie = ie(225, 4, "postNATSourceIPv4Address");
pub const POST_NAT_DESTINATION_IPV4_ADDRESS: Ie = ie(226, 4, "postNATDestinationIPv4Address");
pub const POST_NAPT_SOURCE_TRANSPORT_PORT: Ie = ie(227, 2, "postNAPTSourceTransportPort");
pub const POST_NAPT_DESTINATION_TRANSPORT_PORT: Ie = ie(228, 2, "postNAPTDestinationTransportPort");
pub const NAT_EVENT: Ie = ie(230, 1, "natEvent");
pub const RESPONDER_OCTETS: Ie = ie(232, 8, "responderOctets");
pub const POST_NAT_SOURCE_IPV6_ADDRESS: Ie = ie(281, 16, "postNATSourceIPv6Address");
pub const POST_NAT_DESTINATION_IPV6_ADDRESS: Ie = ie(282, 16, "postNATDestinationIPv6Address");
pub const RESPONDER_PACKETS: Ie = ie(299, 8, "responderPackets");
pub const OBSERVATION_TIME_MILLISECONDS: Ie = ie(323, 8, "observationTimeMilliseconds");

/// flowEndReason values (IANA "flowEndReason Values").
pub mod end_reason {
    pub const IDLE_TIMEOUT: u8 = 1;
    pub const ACTIVE_TIMEOUT: u8 = 2;
    pub const END_OF_FLOW_DETECTED: u8 = 3;
    pub const LACK_OF_RESOURCES: u8 = 5;
}

/// natEvent values (IANA "NAT Event Type", RFC 8158 §4.1).
pub mod nat_event {
    pub const NAT44_SESSION_CREATE: u8 = 4;
    pub const NAT44_SESSION_DELETE: u8 = 5;
}
