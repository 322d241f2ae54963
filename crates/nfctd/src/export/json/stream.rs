//! The connection to a collector's socket: connecting (a TCP name resolved
//! again each time), a write timeout so a receiver that stops reading counts
//! as away, and noticing that the receiver hung up before writing to it.

use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{recv, MsgFlags};

/// How long one write may wait for the receiver to read: past it, the
/// receiver counts as away and the connection is made anew.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one TCP connect attempt (per resolved address) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where to connect.
#[derive(Debug, Clone)]
pub struct Connector {
    place: Place,
    write_timeout: Duration,
    /// As `--export` named it, for the log.
    pub name: String,
}

#[derive(Debug, Clone)]
enum Place {
    Unix(PathBuf),
    Tcp { host: String, port: u16 },
}

impl Connector {
    pub fn unix(path: PathBuf) -> Connector {
        let name = super::JsonTarget::Unix(path.clone()).to_string();
        Connector {
            place: Place::Unix(path),
            write_timeout: WRITE_TIMEOUT,
            name,
        }
    }

    pub fn tcp(host: String, port: u16) -> Connector {
        let name = super::JsonTarget::Tcp {
            host: host.clone(),
            port,
        }
        .to_string();
        Connector {
            place: Place::Tcp { host, port },
            write_timeout: WRITE_TIMEOUT,
            name,
        }
    }

    /// The same place with another write timeout (tests wait less).
    #[cfg(test)]
    pub fn with_write_timeout(self, write_timeout: Duration) -> Connector {
        Connector {
            write_timeout,
            ..self
        }
    }

    /// One attempt to connect; for TCP every address the name resolves to
    /// now, in order.
    pub fn connect(&self) -> io::Result<Stream> {
        let stream = match &self.place {
            Place::Unix(path) => Stream::Unix(UnixStream::connect(path)?),
            Place::Tcp { host, port } => Stream::Tcp(connect_tcp(host, *port)?),
        };
        stream.set_write_timeout(self.write_timeout)?;
        Ok(stream)
    }
}

fn connect_tcp(host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last = None;
    for address in (host, port).to_socket_addrs()? {
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

/// A connected socket.
#[derive(Debug)]
pub enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_write_timeout(Some(timeout)),
            Stream::Tcp(s) => s.set_write_timeout(Some(timeout)),
        }
    }

    /// Whether the receiver closed its end. A receiver sends nothing, so a
    /// readable socket means end-of-file (or an error); anything it did send
    /// is read and ignored. Checked before each write: a write to a TCP peer
    /// that has gone succeeds once and only fails later, which would lose
    /// that write's records.
    pub fn receiver_gone(&self) -> bool {
        let fd = match self {
            Stream::Unix(s) => s.as_fd(),
            Stream::Tcp(s) => s.as_fd(),
        };
        let mut scratch = [0u8; 512];
        loop {
            match recv(
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                &mut scratch,
                MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(0) => return true,
                Ok(_) | Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return false,
                Err(_) => return true,
            }
        }
    }
}

impl Write for Stream {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(bytes),
            Stream::Tcp(s) => s.write(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
