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
    New,
    Update,
    Destroy,
}

/// One conntrack event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
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

    /// Reads one datagram of events, if one is waiting, and hands each event to
    /// `each`. Returns the number of messages read (0: nothing waiting).
    /// `Error::Overflow` means events were lost: the caller must resync.
    pub fn recv(
        &mut self,
        each: impl FnMut(Result<Event, DecodeError>),
    ) -> Result<usize, Error> {
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
