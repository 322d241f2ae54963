//! The sender thread of one IPFIX target: takes records from the spool,
//! packs them into messages, and sends them over UDP or TCP. A partly
//! filled message goes as soon as the spool is empty, so a record waits
//! for no other. Over TCP it connects (logging once per outage), sends the
//! templates first on every connection, and while disconnected takes no
//! records: they wait in the spool, which counts what it cannot hold. Over
//! UDP the templates go out at the start, every `REFRESH_PERIOD` and
//! `REFRESH_MESSAGES`, and with the next message after a datagram was
//! refused (no collector was listening: the next one may be a new one).
//!
//! After a failed connect or send (over UDP: EPERM from a firewall rule,
//! ENETUNREACH, ENOBUFS…) the next attempt waits as `export::backoff` says.
//! A message that was not sent is made again, whole, with the templates:
//! its records are not dropped, and while the sender waits new ones wait in
//! the spool. So a record counts dropped only when it really was not sent:
//! the spool overflowed, or IPFIX cannot carry it. A refused datagram is
//! no such failure: the refusal is an earlier datagram's ICMP port
//! unreachable, so the next message goes at once.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::encode::ExporterStats;
use super::message::{Added, Packer};
use super::refresh::{Refresh, REFRESH_MESSAGES, REFRESH_PERIOD};
use super::{boot_epoch, namespace_domain, IpfixTarget, Transport};
use crate::export::backoff::{Backoff, PAUSES};
use crate::export::collector::{connect_tcp, hung_up, WRITE_TIMEOUT};
use crate::export::spool::{Empty, Spool, TargetCounters};
use crate::export::{ExportError, FlowRecord};

/// An opened target, ready for its thread.
pub struct Sender {
    target: IpfixTarget,
    link: Link,
    observation_domain: u32,
    boot_epoch: u32,
    backoff: Backoff,
    /// Whether the outage was reported (one warning per outage).
    outage: bool,
}

enum Link {
    Udp(Box<dyn Datagrams>),
    /// `None` while disconnected.
    Tcp(Option<TcpStream>),
}

/// A connected datagram socket, so refused datagrams come back as errors;
/// a trait so a test can make its sends fail.
trait Datagrams: Send {
    fn send(&self, bytes: &[u8]) -> io::Result<usize>;
    /// The error an ICMP message left on the socket since the last call.
    fn take_error(&self) -> io::Result<Option<io::Error>>;
}

impl Datagrams for UdpSocket {
    fn send(&self, bytes: &[u8]) -> io::Result<usize> {
        UdpSocket::send(self, bytes)
    }

    fn take_error(&self) -> io::Result<Option<io::Error>> {
        UdpSocket::take_error(self)
    }
}

/// Resolves the collector (for UDP, also makes the socket), so a bad name
/// stops the start; `domain` overrides the observation domain.
pub fn open(target: &IpfixTarget, domain: Option<u32>) -> Result<Sender, ExportError> {
    let failed = |source| ExportError::Open {
        target: target.to_string(),
        source,
    };
    let addrs = target.resolve().map_err(failed)?;
    let link = match target.transport {
        Transport::Udp => Link::Udp(Box::new(udp_socket(&addrs).map_err(failed)?)),
        Transport::Tcp => Link::Tcp(None),
    };
    let observation_domain = match domain {
        Some(domain) => domain,
        None => namespace_domain().map_err(failed)?,
    };
    tracing::info!(target = %target, observation_domain, "exporting IPFIX");
    Ok(Sender::new(target.clone(), link, observation_domain))
}

fn udp_socket(addrs: &[SocketAddr]) -> io::Result<UdpSocket> {
    let mut last = None;
    for addr in addrs {
        let local: SocketAddr = if addr.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        match UdpSocket::bind(local).and_then(|s| s.connect(addr).map(|()| s)) {
            Ok(socket) => return Ok(socket),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| ErrorKind::NotFound.into()))
}

fn unix_seconds() -> u32 {
    // IPFIX export time is 32-bit Unix seconds (wraps in 2106).
    (nfctd_table::unix_millis() / 1000) as u32
}

/// Sends records until the mirror is gone.
pub fn run(mut sender: Sender, spool: Spool) {
    let counters = spool.counters();
    let mut packer = Packer::new(sender.observation_domain);
    let mut refresh = Refresh::new(REFRESH_PERIOD, REFRESH_MESSAGES);
    // Taken from the spool, not yet sent: a record that did not fit the
    // last message, or a message's records a failed send sends again.
    let mut pending: VecDeque<Arc<FlowRecord>> = VecDeque::new();
    let mut stats = ExporterStats {
        observation_domain: sender.observation_domain,
        ..ExporterStats::default()
    };
    let mut templates_on_session = false;
    loop {
        // After a failed send, the pause the backoff rule owes (over TCP
        // the connect below pauses between its attempts too).
        sender.backoff.sleep();
        if sender.ensure_connected() {
            // A new TCP connection is a new transport session.
            packer.restart_sequence();
            refresh.restart();
            templates_on_session = false;
        }
        if pending.is_empty() {
            match spool.recv_timeout(refresh.wait(Instant::now())) {
                Ok(record) => pending.push_back(record),
                Err(Empty::Now) => {}
                Err(Empty::Closed) => return,
            }
        }
        // Checked after the wait, just before sending.
        if sender.collector_was_away() {
            refresh.resend();
            if matches!(sender.link, Link::Tcp(_)) {
                continue; // reconnect first; the records stay pending
            }
        }
        let now = Instant::now();
        if refresh.due(now) {
            // Over TCP the templates hold for the whole connection; the
            // statistics go out again anyway.
            if matches!(sender.link, Link::Udp(_)) || !templates_on_session {
                packer.add_templates();
                templates_on_session = true;
            }
            stats.not_sent = counters.dropped.load(Ordering::Relaxed);
            packer.add_stats(&stats);
            refresh.sent_templates(now);
        }
        let batch = fill(
            &mut packer,
            &mut pending,
            &spool,
            sender.boot_epoch,
            counters,
        );
        if packer.is_empty() {
            continue;
        }
        let message = packer.finish(unix_seconds());
        let records = u64::from(message.flow_records);
        match sender.send(&message.bytes) {
            Ok(()) => {
                counters.add_sent(records);
                stats.messages += 1;
                stats.flow_records += records;
                refresh.sent_message();
            }
            Err(error) => {
                // Made again, whole, with the templates: over UDP after
                // the pause, over TCP on the next connection.
                packer.not_sent(&message);
                refresh.resend();
                for record in batch.into_iter().rev() {
                    pending.push_front(record);
                }
                sender.failed(&error);
            }
        }
    }
}

/// Adds pending records, then what the spool holds, until the message is
/// full or the spool is empty; returns the records added.
fn fill(
    packer: &mut Packer,
    pending: &mut VecDeque<Arc<FlowRecord>>,
    spool: &Spool,
    boot_epoch: u32,
    counters: &TargetCounters,
) -> Vec<Arc<FlowRecord>> {
    let mut batch = Vec::new();
    loop {
        let record = match pending.pop_front() {
            Some(record) => record,
            None => match spool.try_recv() {
                Ok(record) => record,
                Err(_) => return batch,
            },
        };
        match packer.add_record(&record, boot_epoch) {
            Added::Yes => batch.push(record),
            Added::Full => {
                pending.push_front(record);
                return batch;
            }
            Added::Unencodable => counters.add_dropped(1),
        }
    }
}

impl Sender {
    fn new(target: IpfixTarget, link: Link, observation_domain: u32) -> Sender {
        Sender {
            target,
            link,
            observation_domain,
            boot_epoch: boot_epoch(),
            backoff: Backoff::new(PAUSES),
            outage: false,
        }
    }

    /// Over TCP, connects if not connected, retrying after the backoff's
    /// pauses until it succeeds; returns whether a new connection was made.
    fn ensure_connected(&mut self) -> bool {
        let Link::Tcp(stream) = &mut self.link else {
            return false;
        };
        if stream.is_some() {
            return false;
        }
        loop {
            self.backoff.sleep();
            match connect(&self.target) {
                Ok(connected) => {
                    if self.outage {
                        tracing::info!(target = %self.target, "connected to the IPFIX collector again");
                    }
                    self.outage = false;
                    self.backoff.connected(Instant::now());
                    *stream = Some(connected);
                    return true;
                }
                Err(error) => {
                    if !self.outage {
                        tracing::warn!(
                            target = %self.target, %error,
                            "cannot connect to the IPFIX collector; records wait in the spool, retrying"
                        );
                    }
                    self.outage = true;
                    self.backoff.failed();
                }
            }
        }
    }

    /// Whether the collector went away since the last message: over UDP an
    /// ICMP port unreachable came back (the socket's pending error), over
    /// TCP the collector closed the connection (then it is dropped).
    fn collector_was_away(&mut self) -> bool {
        match &mut self.link {
            Link::Udp(socket) => matches!(socket.take_error(), Ok(Some(_))),
            Link::Tcp(stream) => {
                if !stream.as_ref().is_some_and(|s| hung_up(s.as_fd())) {
                    return false;
                }
                *stream = None;
                self.backoff.ended(Instant::now());
                if !self.outage {
                    tracing::warn!(target = %self.target, "the IPFIX collector closed the connection; reconnecting");
                    self.outage = true;
                }
                true
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let sent = match &mut self.link {
            Link::Udp(socket) => socket.send(bytes).map(drop),
            Link::Tcp(Some(stream)) => stream.write_all(bytes),
            Link::Tcp(None) => Err(ErrorKind::NotConnected.into()),
        };
        if sent.is_ok() && matches!(self.link, Link::Udp(_)) {
            // Over TCP only a connection that stays up resets the pause: a
            // collector that accepts and closes at once takes writes too.
            self.backoff.succeeded();
            if self.outage {
                tracing::info!(target = %self.target, "IPFIX messages go out again");
                self.outage = false;
            }
        }
        sent
    }

    /// A message was not sent: pause before the next attempt, unless the
    /// error was a refused datagram (an earlier one's ICMP port unreachable,
    /// reported instead of sending this one: the collector was away, and a
    /// new one may listen now).
    fn failed(&mut self, error: &io::Error) {
        match &mut self.link {
            Link::Udp(_) if error.kind() == ErrorKind::ConnectionRefused => return,
            Link::Udp(_) => self.backoff.failed(),
            Link::Tcp(stream) => {
                *stream = None;
                self.backoff.ended(Instant::now());
            }
        }
        if !self.outage {
            tracing::warn!(target = %self.target, %error, "sending IPFIX failed");
            self.outage = true;
        }
    }
}

fn connect(target: &IpfixTarget) -> io::Result<TcpStream> {
    let stream = connect_tcp(target.resolve()?, &target.host)?;
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    Ok(stream)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::export::spool::spool;
    use crate::export::RecordKind;
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::sync::Mutex;
    use std::time::Duration;

    #[test]
    fn templates_go_first_and_a_partly_filled_message_goes_when_the_spool_runs_empty() {
        let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
        collector
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let target = IpfixTarget {
            transport: Transport::Udp,
            host: "127.0.0.1".into(),
            port: collector.local_addr().unwrap().port(),
        };
        let sender = open(&target, Some(9)).unwrap();
        let counters = Arc::new(TargetCounters::default());
        let (tx, rx) = spool(16, Arc::clone(&counters));
        let thread = std::thread::spawn(move || run(sender, rx));
        let mut buf = [0u8; 2048];

        let len = collector.recv(&mut buf).unwrap();
        // Header, then the Template Set and the Options Template Set, then
        // the statistics record (set 259).
        assert_eq!(u32::from_be_bytes(buf[12..16].try_into().unwrap()), 9);
        assert_eq!(&buf[16..18], &[0, 2]);
        assert_eq!(len, 16 + 196 + 26 + 4 + 28);

        let record = super::super::encode::tests::masqueraded_v4(RecordKind::End);
        for _ in 0..3 {
            tx.offer(Arc::new(record.clone()));
        }
        let mut records = 0;
        while records < 3 {
            let len = collector.recv(&mut buf).unwrap();
            let message = &buf[..len];
            assert_eq!(&message[16..18], &[1, 0], "a data set of template 256");
            records += (len - 20) / 82;
        }
        assert!(
            wait(|| counters.sent.load(Ordering::Relaxed) == 3),
            "sent after the datagram went"
        );
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 0);
        drop(tx);
        thread.join().unwrap();
    }

    /// A UDP socket whose sends fail (as with an OUTPUT drop rule: EPERM)
    /// while `fail` is set; it counts every attempt and keeps what went.
    #[derive(Clone, Default)]
    struct Blocked {
        fail: Arc<AtomicBool>,
        attempts: Arc<AtomicUsize>,
        went: Arc<Mutex<Vec<Vec<u8>>>>,
    }

    impl Datagrams for Blocked {
        fn send(&self, bytes: &[u8]) -> io::Result<usize> {
            self.attempts.fetch_add(1, Ordering::Relaxed);
            if self.fail.load(Ordering::Relaxed) {
                return Err(ErrorKind::PermissionDenied.into());
            }
            self.went.lock().unwrap().push(bytes.to_vec());
            Ok(bytes.len())
        }

        fn take_error(&self) -> io::Result<Option<io::Error>> {
            Ok(None)
        }
    }

    fn target(transport: Transport, port: u16) -> IpfixTarget {
        IpfixTarget {
            transport,
            host: "127.0.0.1".into(),
            port,
        }
    }

    #[test]
    fn udp_sends_that_keep_failing_pause_and_their_records_go_once_they_can() {
        // It once sent again at once after every failure, in a loop at
        // 100% CPU, a new sequence number each time.
        let socket = Blocked::default();
        socket.fail.store(true, Ordering::Relaxed);
        let link = Link::Udp(Box::new(socket.clone()));
        let sender = Sender::new(target(Transport::Udp, 4739), link, 9);
        let counters = Arc::new(TargetCounters::default());
        let (tx, rx) = spool(16, Arc::clone(&counters));
        let thread = std::thread::spawn(move || run(sender, rx));
        let record = super::super::encode::tests::masqueraded_v4(RecordKind::End);
        for _ in 0..3 {
            tx.offer(Arc::new(record.clone()));
        }
        std::thread::sleep(Duration::from_millis(1500));
        // At 0 s (the templates) and after the 1 s pause; the next one
        // waits 2 s more.
        let attempts = socket.attempts.load(Ordering::Relaxed);
        assert!(attempts <= 3, "{attempts} sends in 1.5 s");
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 0, "still pending");

        socket.fail.store(false, Ordering::Relaxed);
        let sent = || counters.sent.load(Ordering::Relaxed);
        assert!(
            wait_for(Duration::from_secs(10), &mut || sent() == 3),
            "sent {}",
            sent()
        );
        let went = socket.went.lock().unwrap().clone();
        let first = &went[0];
        assert_eq!(&first[16..18], &[0, 2], "the templates first");
        assert_eq!(
            &first[8..12],
            &[0, 0, 0, 0],
            "no sequence number was used up"
        );
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 0);
        drop(tx);
        thread.join().unwrap();
    }

    #[test]
    fn a_tcp_collector_that_accepts_and_closes_at_once_is_reconnected_with_growing_pauses() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let sender = open(&target(Transport::Tcp, port), Some(9)).unwrap();
        let counters = Arc::new(TargetCounters::default());
        let (tx, rx) = spool(100_000, Arc::clone(&counters));
        std::thread::spawn(move || run(sender, rx));
        let record = Arc::new(super::super::encode::tests::masqueraded_v4(RecordKind::End));
        let start = Instant::now();
        let mut accepted = 0;
        while start.elapsed() < Duration::from_secs(3) {
            if let Ok((peer, _)) = listener.accept() {
                accepted += 1;
                drop(peer);
            }
            tx.offer(Arc::clone(&record));
            std::thread::sleep(Duration::from_millis(5));
        }
        // At 0, 1 and 3 s (pauses of 1, 2, 4 s); it once reconnected at once.
        assert!((1..=4).contains(&accepted), "{accepted} connections in 3 s");
        // The sender thread is left to end with the test process: it may be
        // in a pause of seconds.
    }

    fn wait(mut check: impl FnMut() -> bool) -> bool {
        wait_for(Duration::from_secs(5), &mut check)
    }

    fn wait_for(within: Duration, check: &mut dyn FnMut() -> bool) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if check() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}
