//! The blocking request socket: dumps, lookups, creates, deletes, updates, statistics.

use std::io;
use std::sync::mpsc;

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};

use crate::conn::Conn;
use crate::consts::*;
use crate::decode::decode_conn;
use crate::error::{DecodeError, Error};
use crate::frame::{Frame, Frames};
use crate::request::{self, Change, ConnKey};
use crate::stats::{self, Stats};

/// Receive buffer for one datagram: dumps come in skbs of up to 32 KiB,
/// and a bigger buffer lets one recv carry more of them.
const RECV_BUF: usize = 256 * 1024;

/// What a finished dump reports besides the entries.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DumpSummary {
    /// Entries decoded and handed to the callback.
    pub entries: usize,
    /// Messages that could not be decoded and were skipped.
    pub malformed: usize,
}

/// A ctnetlink socket for requests. Not shared between threads; open one per user.
#[derive(Debug)]
pub struct CtSocket {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl CtSocket {
    /// Opens a ctnetlink socket in the calling thread's network namespace.
    pub fn open() -> Result<CtSocket, Error> {
        Self::with_socket(Socket::new(NETLINK_NETFILTER).map_err(Error::from_io)?)
    }

    /// Uses a NETLINK_NETFILTER socket created elsewhere, e.g. inside another
    /// network namespace; requests then act on that namespace's table.
    pub fn from_fd(fd: std::os::fd::OwnedFd) -> Result<CtSocket, Error> {
        Self::with_socket(crate::fd::adopt(fd))
    }

    fn with_socket(mut sock: Socket) -> Result<CtSocket, Error> {
        sock.bind_auto().map_err(Error::from_io)?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(Error::from_io)?;
        // Best effort: a larger buffer lets the kernel fill more per recv.
        let _ = sock.set_rx_buf_sz(1 << 20);
        let mut s = CtSocket {
            sock,
            seq: 0,
            buf: vec![0; RECV_BUF],
        };
        // Opening works without privileges; the first request is where the
        // kernel checks CAP_NET_ADMIN, so ask now and fail early and clearly.
        s.global_counts()?;
        Ok(s)
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn send(&self, bytes: &[u8]) -> Result<(), Error> {
        self.sock.send(bytes, 0).map_err(Error::from_io)?;
        Ok(())
    }

    /// Receives datagrams and hands each message of sequence `seq` to `on_frame`
    /// until it returns `Done`, an error message arrives, or NLMSG_DONE ends a dump.
    fn receive(
        &mut self,
        op: &'static str,
        seq: u32,
        mut on_frame: impl FnMut(&Frame<'_>) -> Step,
    ) -> Result<(), Error> {
        loop {
            let n = recv_datagram(&self.sock, &mut self.buf)?;
            if let Some(()) = answer(op, seq, &self.buf[..n], &mut on_frame)? {
                return Ok(());
            }
        }
    }

    /// Dumps the whole table (all families), handing each entry to `each`.
    /// Messages that fail to decode are counted in the summary and skipped.
    ///
    /// The kernel does its dump work inside our `recvmsg`, so a helper thread
    /// receives datagrams while this thread decodes and hands out entries:
    /// the two overlap instead of taking turns.
    pub fn dump(&mut self, mut each: impl FnMut(Conn)) -> Result<DumpSummary, Error> {
        let seq = self.next_seq();
        self.send(&request::dump(seq))?;
        let mut summary = DumpSummary::default();
        let mut on_frame = |frame: &Frame<'_>| {
            match decode_conn(frame.payload) {
                Ok(conn) => {
                    summary.entries += 1;
                    each(conn);
                }
                Err(_) => summary.malformed += 1,
            }
            Step::More
        };
        // Datagrams in flight between the threads; a few keep both busy.
        const IN_FLIGHT: usize = 8;
        let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(IN_FLIGHT);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
        let sock = &self.sock;
        let consumed = std::thread::scope(|scope| {
            let receiver = scope.spawn(move || -> Result<(), Error> {
                loop {
                    let mut buf = empty_rx.try_recv().unwrap_or_else(|_| vec![0; RECV_BUF]);
                    let n = recv_datagram(sock, &mut buf)?;
                    let last = ends_answer(seq, &buf[..n]);
                    if full_tx.send((buf, n)).is_err() || last {
                        return Ok(()); // the decoder stopped, or the answer is complete
                    }
                }
            });
            let mut outcome = Ok(());
            for (buf, n) in full_rx.iter() {
                match answer("dump", seq, &buf[..n], &mut on_frame) {
                    Ok(None) => {}
                    Ok(Some(())) => break,
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                }
                let _ = empty_tx.send(buf);
            }
            drop(full_rx);
            let received = receiver
                .join()
                .unwrap_or_else(|_| Err(Error::Io(io::Error::other("dump receiver panicked"))));
            outcome.and(received)
        });
        consumed?;
        Ok(summary)
    }

    /// Dumps the whole table into a vector.
    pub fn dump_all(&mut self) -> Result<Vec<Conn>, Error> {
        let mut all = Vec::new();
        self.dump(|c| all.push(c))?;
        Ok(all)
    }

    /// The entries that ended but are kept until their DESTROY event is
    /// delivered: with a listener that set NETLINK_BROADCAST_ERROR
    /// ([`crate::EventSocket::set_reliable`]) and a full receive buffer, the
    /// kernel takes them out of the table and sends their event again until
    /// it fits. A full dump no longer shows them, yet their event is still
    /// coming. Usually empty, so read without the helper thread of `dump`.
    pub fn dump_dying(&mut self) -> Result<Vec<Conn>, Error> {
        let seq = self.next_seq();
        self.send(&request::dump_dying(seq))?;
        let mut dying = Vec::new();
        self.receive("dump dying", seq, |frame| {
            // An entry that does not decode cannot be matched to a row: skip.
            if let Ok(conn) = decode_conn(frame.payload) {
                dying.push(conn);
            }
            Step::More
        })?;
        Ok(dying)
    }

    /// Looks one entry up by tuple and id. `Error::NotFound` if it is gone.
    pub fn get(&mut self, key: &ConnKey) -> Result<Conn, Error> {
        let seq = self.next_seq();
        self.send(&request::get(key, seq))?;
        let mut found: Option<Result<Conn, DecodeError>> = None;
        self.receive("get", seq, |frame| {
            found = Some(decode_conn(frame.payload));
            Step::More // the ACK follows
        })?;
        match found {
            Some(Ok(conn)) if conn.id == key.id => Ok(conn),
            Some(Ok(_)) | None => Err(Error::NotFound),
            Some(Err(e)) => Err(e.into()),
        }
    }

    /// Deletes one entry by tuple and id. `Error::NotFound` if it is gone or its
    /// id no longer matches (the tuple was reused by a newer entry).
    pub fn delete(&mut self, key: &ConnKey) -> Result<(), Error> {
        let seq = self.next_seq();
        self.send(&request::delete(key, seq))?;
        self.receive("delete", seq, |_| Step::More)
    }

    /// Changes the mark or timeout of one entry, addressed by tuple and id,
    /// and returns the entry as the kernel then has it: `None` when the change
    /// made it expire at once (a timeout of 0).
    ///
    /// The kernel's update path ignores CTA_ID, so the entry is looked up by
    /// tuple and id first: a newer entry that reused the tuple is refused as
    /// `NotFound` instead of being changed. (A tuple reused in the moment
    /// between the lookup and the update would still be hit; the kernel offers
    /// no way to close that window.)
    pub fn update(&mut self, key: &ConnKey, change: Change) -> Result<Option<Conn>, Error> {
        self.get(key)?;
        let seq = self.next_seq();
        self.send(&request::update(key, change, seq))?;
        self.receive("update", seq, |_| Step::More)?;
        match self.get(key) {
            Ok(conn) => Ok(Some(conn)),
            Err(Error::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates one entry (for tests, the demo and benchmarks).
    pub fn create(&mut self, conn: &Conn) -> Result<(), Error> {
        let seq = self.next_seq();
        self.send(&request::create(conn, seq))?;
        self.receive("create", seq, |_| Step::More)
    }

    /// Creates many entries, pipelining requests; returns how many the kernel refused
    /// and the first refusal.
    pub fn create_many(&mut self, conns: &[Conn]) -> Result<(usize, Option<Error>), Error> {
        self.pipeline("create", conns, request::create, |_, _| {})
    }

    /// Like [`CtSocket::create_many`], also handing each refusal to `refused`:
    /// the index of the entry in `conns` and the errno (positive).
    pub fn create_many_each(
        &mut self,
        conns: &[Conn],
        refused: impl FnMut(usize, i32),
    ) -> Result<(usize, Option<Error>), Error> {
        self.pipeline("create", conns, request::create, refused)
    }

    /// Deletes many entries by key, pipelining requests; returns how many failed and the first failure.
    pub fn delete_many(&mut self, keys: &[ConnKey]) -> Result<(usize, Option<Error>), Error> {
        self.pipeline("delete", keys, request::delete, |_, _| {})
    }

    /// Sends requests in batches that fit the socket buffer and collects every
    /// ACK; each failure goes to `failed_at` (index in `items`, errno).
    fn pipeline<T>(
        &mut self,
        op: &'static str,
        items: &[T],
        encode: fn(&T, u32) -> Vec<u8>,
        mut failed_at: impl FnMut(usize, i32),
    ) -> Result<(usize, Option<Error>), Error> {
        const BATCH: usize = 64;
        let (mut failed, mut first) = (0usize, None);
        for (c, chunk) in items.chunks(BATCH).enumerate() {
            let first_seq = self.seq.wrapping_add(1);
            let mut batch = Vec::with_capacity(chunk.len() * 160);
            for item in chunk {
                let seq = self.next_seq();
                batch.extend_from_slice(&encode(item, seq));
            }
            self.send(&batch)?;
            let mut acks = 0;
            while acks < chunk.len() {
                let n = recv_datagram(&self.sock, &mut self.buf)?;
                for frame in Frames::new(&self.buf[..n]) {
                    let frame = frame?;
                    let at = frame.seq.wrapping_sub(first_seq);
                    let in_batch = at < chunk.len() as u32;
                    if frame.msg_type != NLMSG_ERROR || !in_batch {
                        continue;
                    }
                    acks += 1;
                    let code = frame.error_code()?;
                    if code != 0 {
                        failed += 1;
                        failed_at(c * BATCH + at as usize, code);
                        first.get_or_insert(Error::from_errno(op, code));
                    }
                }
            }
        }
        Ok((failed, first))
    }

    /// Entry count and table limit.
    pub fn global_counts(&mut self) -> Result<(u32, u32), Error> {
        let seq = self.next_seq();
        self.send(&request::stats_global(seq))?;
        let mut counts = Ok((0, 0));
        self.receive("stats", seq, |frame| {
            counts = stats::decode_global(frame.payload);
            Step::Done
        })?;
        Ok(counts?)
    }

    /// Kernel statistics: per-CPU counters summed, plus table size and limit.
    pub fn stats(&mut self) -> Result<Stats, Error> {
        let (entries, max_entries) = self.global_counts()?;
        let seq = self.next_seq();
        self.send(&request::stats_cpu(seq))?;
        let mut total = Stats {
            entries,
            max_entries,
            ..Stats::default()
        };
        let mut bad = None;
        self.receive("stats", seq, |frame| {
            if let Err(e) = stats::add_cpu(&mut total, frame.payload) {
                bad = Some(e);
            }
            Step::More
        })?;
        match bad {
            Some(e) => Err(e.into()),
            None => Ok(total),
        }
    }
}

/// Receives one datagram, retrying when a signal interrupts the wait.
fn recv_datagram(sock: &Socket, buf: &mut [u8]) -> Result<usize, Error> {
    loop {
        match sock.recv(&mut &mut buf[..], 0) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::from_io(e)),
        }
    }
}

/// Hands the messages of sequence `seq` in one datagram to `on_frame`.
/// `Some(())` when the answer is complete (ACK, NLMSG_DONE, or `on_frame`
/// said `Done`); a kernel error becomes `Err`.
fn answer(
    op: &'static str,
    seq: u32,
    datagram: &[u8],
    on_frame: &mut impl FnMut(&Frame<'_>) -> Step,
) -> Result<Option<()>, Error> {
    for frame in Frames::new(datagram) {
        let frame = frame?;
        if frame.seq != seq {
            continue; // a late answer to an earlier request
        }
        match frame.msg_type {
            NLMSG_ERROR => {
                let code = frame.error_code()?;
                if code != 0 {
                    return Err(Error::from_errno(op, code));
                }
                return Ok(Some(()));
            }
            NLMSG_DONE => return Ok(Some(())),
            NLMSG_NOOP | NLMSG_OVERRUN => {}
            _ => {
                if on_frame(&frame) == Step::Done {
                    return Ok(Some(()));
                }
            }
        }
    }
    Ok(None)
}

/// Whether a datagram carries the end of the answer to `seq` (or is unreadable,
/// which also ends the receiving).
fn ends_answer(seq: u32, datagram: &[u8]) -> bool {
    Frames::new(datagram).any(|frame| match frame {
        Ok(f) => f.seq == seq && matches!(f.msg_type, NLMSG_DONE | NLMSG_ERROR),
        Err(_) => true,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    More,
    Done,
}
