//! Target `netlink_dump`: bytes as the kernel's answers, through ctnetlink's
//! zero-copy decoders; never a panic, and the walk is bounded by the input.
//!
//! The input is read twice: as one message payload (nfgenmsg + attributes:
//! `decode_conn` and the stats decoders), and as a datagram (frames, each
//! payload decoded every way, an NLMSG_ERROR's code, and the event decoder).
//! Seeds are datagrams captured from a private namespace (see
//! `fuzz/README.md`).

use ctnetlink::consts::NLMSG_ERROR;
use ctnetlink::{decode_conn, decode_events, stats, Conn, Frames, Stats};

pub fn run(data: &[u8]) {
    payload(data);

    let mut frames = 0;
    for frame in Frames::new(data) {
        frames += 1;
        assert!(
            frames <= data.len() / 16,
            "more frames than 16-byte headers"
        );
        let Ok(frame) = frame else {
            break;
        };
        assert!(frame.payload.len() <= data.len() - 16);
        let _ = frame.ct_msg();
        if frame.msg_type == NLMSG_ERROR {
            let _ = frame.error_code();
        }
        payload(frame.payload);
    }

    let mut seen = 0;
    let events = decode_events(data, |event| {
        seen += 1;
        if let Ok(event) = event {
            check_conn(&event.conn);
        }
    });
    assert!(events <= frames, "{events} events in {frames} frames");
    assert!(seen <= frames + 1);
}

/// One message payload, decoded as an entry and as statistics.
fn payload(p: &[u8]) {
    if let Ok(conn) = decode_conn(p) {
        check_conn(&conn);
    }
    let mut total = Stats::default();
    let _ = stats::add_cpu(&mut total, p);
    let _ = stats::decode_global(p);
}

/// What a decoded entry promises.
fn check_conn(conn: &Conn) {
    if let Some(labels) = &conn.labels {
        assert!(labels.iter().any(|b| *b != 0), "all-zero labels are None");
    }
    let _ = format!("{conn:?}");
}
