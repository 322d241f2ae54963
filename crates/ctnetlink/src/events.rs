//! The event socket: NEW/UPDATE/DESTROY notifications, with overflow reported as its own condition.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket};
use nix::sys::socket::{setsockopt, sockopt};

use crate::conn::Conn;
use crate::consts::*;
use crate::decode::decode_conn;
use crate::error::{DecodeError, Error};
use crate::frame::Frames;

/// What happened to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A new entry entered the table (IPCTNL_MSG_CT_NEW with NLM_F_CREATE or NLM_F_EXCL).
    New,
    /// An entry changed: protocol state, status, mark, labels... (IPCTNL_MSG_CT_NEW without those flags).
    Update,
    /// An entry ended: it expired, was deleted, or was flushed (IPCTNL_MSG_CT_DELETE).
    Destroy,
}

/// One conntrack event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The entry as the event message describes it; attributes the message
    /// lacks are left 0 or `None`.
    pub conn: Conn,
}

/// A socket subscribed to conntrack events, non-blocking.
#[derive(Debug)]
pub struct EventSocket {
    sock: Socket,
    buf: Vec<u8>,
}

impl EventSocket {
    /// Subscribes to NEW, UPDATE and DESTROY events in the calling thread's
    /// network namespace, asking for a receive buffer of `rcvbuf` bytes (forced
    /// past rmem_max when we have CAP_NET_ADMIN, else as large as allowed).
    pub fn subscribe(rcvbuf: usize) -> Result<EventSocket, Error> {
        Self::subscribe_on(
            Socket::new(NETLINK_NETFILTER).map_err(Error::from_io)?,
            rcvbuf,
        )
    }

    /// Subscribes on a NETLINK_NETFILTER socket created elsewhere (another namespace).
    pub fn subscribe_fd(fd: std::os::fd::OwnedFd, rcvbuf: usize) -> Result<EventSocket, Error> {
        Self::subscribe_on(crate::fd::adopt(fd), rcvbuf)
    }

    fn subscribe_on(mut sock: Socket, rcvbuf: usize) -> Result<EventSocket, Error> {
        sock.bind_auto().map_err(Error::from_io)?;
        if setsockopt(&sock, sockopt::RcvBufForce, &rcvbuf).is_err() {
            setsockopt(&sock, sockopt::RcvBuf, &rcvbuf)
                .map_err(|e| Error::from_io(io::Error::from(e)))?;
        }
        for group in [
            NFNLGRP_CONNTRACK_NEW,
            NFNLGRP_CONNTRACK_UPDATE,
            NFNLGRP_CONNTRACK_DESTROY,
        ] {
            sock.add_membership(group).map_err(Error::from_io)?;
        }
        sock.set_non_blocking(true).map_err(Error::from_io)?;
        Ok(EventSocket {
            sock,
            buf: vec![0; 256 * 1024],
        })
    }

    /// Asks the kernel not to lose DESTROY events to this socket:
    /// NETLINK_BROADCAST_ERROR makes a full receive buffer fail the
    /// delivery, so conntrack keeps the ended entry (out of the table, but
    /// still counted against nf_conntrack_max) and a kernel worker sends its
    /// DESTROY again until it fits (`nf_ct_delete`, `nf_conntrack_ecache.c`); NETLINK_NO_ENOBUFS stops the overflow error, which
    /// would say events were lost. NEW and UPDATE events can still be lost,
    /// silently; only a full dump finds those.
    pub fn set_reliable(&self) -> Result<(), Error> {
        self.sock
            .set_broadcast_error(true)
            .and_then(|()| self.sock.set_no_enobufs(true))
            .map_err(Error::from_io)
    }

    /// Whether both options of [`EventSocket::set_reliable`] are set, as
    /// the kernel reports them.
    pub fn is_reliable(&self) -> Result<bool, Error> {
        let broadcast_error = self.sock.get_broadcast_error().map_err(Error::from_io)?;
        let no_enobufs = self.sock.get_no_enobufs().map_err(Error::from_io)?;
        Ok(broadcast_error && no_enobufs)
    }

    /// Reads one datagram of events, if one is waiting, and hands each event to
    /// `each`. Returns the number of messages read (0: nothing waiting).
    /// `Error::Overflow` means events were lost: the caller must resync.
    pub fn recv(&mut self, each: impl FnMut(Result<Event, DecodeError>)) -> Result<usize, Error> {
        let n = match self.sock.recv(&mut &mut self.buf[..], 0) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(0),
            Err(e) => return Err(Error::from_io(e)),
        };
        Ok(decode_events(&self.buf[..n], each))
    }
}

/// Decodes the events in one datagram from the event groups, handing each to
/// `each`; messages of other subsystems and types are skipped, and an
/// unreadable message length ends the walk (reported to `each`). Returns the
/// number of conntrack event messages seen. Without I/O, so it can be tested
/// and fuzzed on captured bytes.
pub fn decode_events(datagram: &[u8], mut each: impl FnMut(Result<Event, DecodeError>)) -> usize {
    let mut count = 0;
    for frame in Frames::new(datagram) {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                each(Err(e));
                break;
            }
        };
        if frame.msg_type >> 8 != u16::from(NFNL_SUBSYS_CTNETLINK) {
            continue;
        }
        let kind = match frame.ct_msg() {
            IPCTNL_MSG_CT_NEW if frame.flags & (NLM_F_CREATE | NLM_F_EXCL) != 0 => EventKind::New,
            IPCTNL_MSG_CT_NEW => EventKind::Update,
            IPCTNL_MSG_CT_DELETE => EventKind::Destroy,
            _ => continue,
        };
        count += 1;
        each(decode_conn(frame.payload).map(|conn| Event { kind, conn }));
    }
    count
}

impl AsRawFd for EventSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for EventSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testutil::hex;

    /// Event datagrams captured in a private namespace (acct=1, timestamp=1),
    /// whole, netlink headers included, after:
    /// conntrack -I -s 192.0.2.1 -d 198.51.100.2 -p tcp --sport 40000 --dport 443
    ///   --state ESTABLISHED -t 120 -m 6 -u ASSURED,SEEN_REPLY
    const NEW_TCP_V4: &str = "f400000000010006000000006068000002000000340001801400018008000100c000020108000200c63364021c0002800500010006000000060002009c4000000600030001bb0000340002801400018008000100c633640208000200c00002011c00028005000100060000000600020001bb0000060003009c40000008000c00ce249bb3080003000000000e0800070000000078300004802c000180050001000300000005000200000000000500030000000000060004000a000000060005000a0000001c00188008000100000000000800020000000000080003000000000008000800000000060c001b0018ebef7d91674edc";
    /// conntrack -U -s 192.0.2.1 -p tcp -m 9
    const UPDATE_TCP_V4: &str = "f40000000001000000000000ff60c69702000000340001801400018008000100c000020108000200c63364021c0002800500010006000000060002009c4000000600030001bb0000340002801400018008000100c633640208000200c00002011c00028005000100060000000600020001bb0000060003009c40000008000c00ce249bb3080003000000000e0800070000000077300004802c000180050001000300000005000200000000000500030000000000060004000a000000060005000a0000001c00188008000100000000000800020000000000080003000000000008000800000000090c001b0018ebef7d943e5cff";
    /// conntrack -D -s 192.0.2.3 (an ICMP echo inserted before)
    const DESTROY_ICMP: &str = "0401000002010000000000008ffff9d0020000003c0001801400018008000100c000020308000200c000020424000280050001000100000006000400004d0000050005000800000005000600000000003c0002801400018008000100c000020408000200c000020324000280050001000100000006000400004d00000500050000000000050006000000000008000c00811e9caf0800030000000208080007000000001d1c0009800c00010000000000000000000c00020000000000000000001c000a800c00010000000000000000000c00020000000000000000001c0014800c00010018ebef7d9184791c0c00020018ebef7d94ddb7820c001b0018ebef7d94ddb7e6";

    #[test]
    fn events_of_a_datagram_by_kind_skipping_others_and_stopping_at_a_bad_length() {
        let mut datagram = hex(NEW_TCP_V4);
        datagram.extend(hex(UPDATE_TCP_V4));
        datagram.extend(hex(DESTROY_ICMP));
        // NLMSG_DONE (no subsystem): skipped.
        datagram.extend([20, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        // A length past the end: reported, and the walk ends.
        datagram.extend([200, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut seen = Vec::new();
        let count = decode_events(&datagram, |event| seen.push(event));
        assert_eq!(count, 3);
        assert_eq!(seen.len(), 4);
        let ok: Vec<&Event> = seen[..3].iter().map(|e| e.as_ref().unwrap()).collect();
        assert_eq!(
            ok.iter().map(|e| e.kind).collect::<Vec<_>>(),
            [EventKind::New, EventKind::Update, EventKind::Destroy]
        );
        assert_eq!(ok[0].conn.mark, 6);
        assert_eq!(ok[1].conn.mark, 9);
        assert_eq!(ok[0].conn.id, ok[1].conn.id);
        assert_eq!(ok[2].conn.l4proto, IPPROTO_ICMP);
        assert!(seen[3].is_err());
    }
}
