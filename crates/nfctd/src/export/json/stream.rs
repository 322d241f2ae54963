//! The connection to a collector's socket, Unix or TCP: connecting (a TCP
//! name resolved again each time) and writing, with the TCP and hang-up
//! rules of `export::collector`.

use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use crate::export::collector::{connect_tcp, hung_up, WRITE_TIMEOUT};

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
            Place::Tcp { host, port } => Stream::Tcp(connect_tcp(
                (host.as_str(), *port).to_socket_addrs()?,
                host,
            )?),
        };
        stream.set_write_timeout(self.write_timeout)?;
        Ok(stream)
    }
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

    /// Whether the receiver closed its end (see [`hung_up`]).
    pub fn receiver_gone(&self) -> bool {
        match self {
            Stream::Unix(s) => hung_up(s.as_fd()),
            Stream::Tcp(s) => hung_up(s.as_fd()),
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
