//! The sender thread of one IPFIX target: takes records from the spool,
//! packs them into messages, and sends them over UDP or TCP. A partly
//! filled message goes as soon as the spool is empty, so a record waits
//! for no other. Over TCP it connects (and reconnects with backoff, 1 s to
//! 10 s, logging once per outage), sends the templates first on every
//! connection, and while disconnected takes no records: they wait in the
//! spool, which counts what it cannot hold. Over UDP the templates go out
//! at the start, every `REFRESH_PERIOD` and `REFRESH_MESSAGES`, and after a
//! datagram was refused (no collector was listening: the next one may be a
//! new one).

use std::collections::VecDeque;
use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::encode::ExporterStats;
use super::message::{Added, Packer};
use super::refresh::{Refresh, REFRESH_MESSAGES, REFRESH_PERIOD};
use super::{boot_epoch, namespace_domain, IpfixTarget, Transport};
use crate::export::spool::{Empty, Spool, TargetCounters};
use crate::export::{ExportError, FlowRecord};

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const LAST_BACKOFF: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A collector that takes no data for this long is treated as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// An opened target, ready for its thread.
pub struct Sender {
    target: IpfixTarget,
    link: Link,
    observation_domain: u32,
    boot_epoch: u32,
}

enum Link {
    /// Connected, so refused datagrams come back as errors.
    Udp(UdpSocket),
    /// `None` while disconnected.
    Tcp(Option<TcpStream>),
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
        Transport::Udp => Link::Udp(udp_socket(&addrs).map_err(failed)?),
        Transport::Tcp => Link::Tcp(None),
    };
    let observation_domain = match domain {
        Some(domain) => domain,
        None => namespace_domain().map_err(failed)?,
    };
    tracing::info!(target = %target, observation_domain, "exporting IPFIX");
    Ok(Sender {
        target: target.clone(),
        link,
        observation_domain,
        boot_epoch: boot_epoch(),
    })
}

fn udp_socket(addrs: &[SocketAddr]) -> std::io::Result<UdpSocket> {
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
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    secs as u32 // IPFIX export time is 32-bit Unix seconds (wraps in 2106)
}

/// Sends records until the mirror is gone.
pub fn run(mut sender: Sender, spool: Spool) {
    let counters = spool.counters();
    let mut packer = Packer::new(sender.observation_domain);
    let mut refresh = Refresh::new(REFRESH_PERIOD, REFRESH_MESSAGES);
    // Taken from the spool, not yet sent: a record that did not fit the
    // last message, or a message's records a TCP failure sends again.
    let mut pending: VecDeque<Arc<FlowRecord>> = VecDeque::new();
    let mut stats = ExporterStats {
        observation_domain: sender.observation_domain,
        ..ExporterStats::default()
    };
    let mut templates_on_session = false;
    let mut outage = false;
    loop {
        if sender.ensure_connected(&mut outage) {
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
            refresh.restart();
            if matches!(sender.link, Link::Tcp(None)) && !outage {
                tracing::warn!(target = %sender.target, "the IPFIX collector closed the connection; reconnecting");
                outage = true;
            }
            continue; // over TCP: reconnect first; the records stay pending
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
                // Only UDP gets here in an outage: TCP ends it on connecting.
                if outage {
                    tracing::info!(target = %sender.target, "IPFIX messages go out again");
                    outage = false;
                }
            }
            Err(error) => {
                if !outage {
                    tracing::warn!(target = %sender.target, %error, "sending IPFIX failed");
                }
                outage = true;
                refresh.restart();
                match &mut sender.link {
                    Link::Udp(_) => counters.add_dropped(records),
                    Link::Tcp(stream) => {
                        // Sent again, whole, on the next connection.
                        *stream = None;
                        for record in batch.into_iter().rev() {
                            pending.push_front(record);
                        }
                    }
                }
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
    /// Over TCP, connects if not connected, retrying with backoff until it
    /// succeeds; returns whether a new connection was made.
    fn ensure_connected(&mut self, outage: &mut bool) -> bool {
        let Link::Tcp(stream) = &mut self.link else {
            return false;
        };
        if stream.is_some() {
            return false;
        }
        let mut delay = FIRST_BACKOFF;
        loop {
            match connect(&self.target) {
                Ok(connected) => {
                    if *outage {
                        tracing::info!(target = %self.target, "connected to the IPFIX collector again");
                    }
                    *outage = false;
                    *stream = Some(connected);
                    return true;
                }
                Err(error) => {
                    if !*outage {
                        tracing::warn!(
                            target = %self.target, %error,
                            "cannot connect to the IPFIX collector; records wait in the spool, retrying"
                        );
                    }
                    *outage = true;
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(LAST_BACKOFF);
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
                let closed = stream.as_ref().is_some_and(peer_closed);
                if closed {
                    *stream = None;
                }
                closed
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match &mut self.link {
            Link::Udp(socket) => match socket.send(bytes) {
                // An ICMP error that came back after the check reports here,
                // and this datagram was not sent: once more.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => socket.send(bytes),
                sent => sent,
            }
            .map(drop),
            Link::Tcp(Some(stream)) => stream.write_all(bytes),
            Link::Tcp(None) => Err(ErrorKind::NotConnected.into()),
        }
    }
}

fn connect(target: &IpfixTarget) -> std::io::Result<TcpStream> {
    let mut last = None;
    for addr in target.resolve()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| ErrorKind::NotFound.into()))
}

/// Whether the collector closed its end (a collector never sends).
fn peer_closed(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return true;
    }
    let mut byte = [0u8; 1];
    let closed = match stream.peek(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != ErrorKind::WouldBlock,
    };
    closed || stream.set_nonblocking(false).is_err()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::export::spool::spool;
    use crate::export::RecordKind;

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

    fn wait(mut check: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if check() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}
