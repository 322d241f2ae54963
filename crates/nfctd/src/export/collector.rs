//! A collector's stream socket as every stream sender (JSON, IPFIX over
//! TCP) reaches it: a TCP connect to each address its name resolves to now,
//! each attempt bounded; the write timeout after which a collector that
//! stopped reading counts as away; and noticing that it hung up.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{recv, MsgFlags};

/// How long one write may wait for the collector to read: past it, the
/// collector counts as away and the connection is made anew.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one TCP connect attempt (per resolved address) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to the first of `addresses` that answers; `host` names them in
/// the error when there are none.
pub fn connect_tcp(
    addresses: impl IntoIterator<Item = SocketAddr>,
    host: &str,
) -> io::Result<TcpStream> {
    let mut last = None;
    for address in addresses {
        match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} resolves to no address"),
        )
    }))
}

/// Whether the collector closed its end of `socket`. A collector sends
/// nothing, so a readable socket means end-of-file (or an error); anything
/// it did send is read and ignored. Checked before each write: a write to a
/// TCP peer that has gone succeeds once and only fails later, which would
/// lose that write's records.
pub fn hung_up(socket: BorrowedFd<'_>) -> bool {
    let mut scratch = [0u8; 512];
    loop {
        match recv(socket.as_raw_fd(), &mut scratch, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => return true,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return false,
            Err(_) => return true,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::fd::AsFd;

    #[test]
    fn a_hang_up_is_seen_and_bytes_the_collector_sent_are_not_one() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = connect_tcp([listener.local_addr().unwrap()], "127.0.0.1").unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        assert!(!hung_up(stream.as_fd()));
        io::Write::write_all(&mut peer, b"hello").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(!hung_up(stream.as_fd()), "read and ignored");
        drop(peer);
        std::thread::sleep(Duration::from_millis(50));
        assert!(hung_up(stream.as_fd()));
    }

    #[test]
    fn no_address_is_an_error_naming_the_host() {
        let error = connect_tcp([], "collector.example").unwrap_err();
        assert!(error.to_string().contains("collector.example"), "{error}");
    }
}
