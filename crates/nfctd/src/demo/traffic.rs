//! Real demo traffic on the namespace's loopback: TCP clients that talk to
//! servers for a while and hang up (states, counters and rates move), and a
//! UDP ping-pong, over IPv4 and IPv6.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use rand::RngExt;

use super::{CLIENTS_V4, CLIENT_V6, SERVER_V4, SERVER_V6};

/// TCP conversations running at once.
const CONVERSATIONS: usize = 12;

pub fn start() -> std::io::Result<()> {
    let servers = [
        SocketAddr::new(SERVER_V4.into(), 80),
        SocketAddr::new(SERVER_V6.into(), 443),
    ];
    for addr in servers {
        let listener = TcpListener::bind(addr)?;
        spawn("demo-server", move || serve(listener))?;
    }
    let echo = UdpSocket::bind(SocketAddr::new(SERVER_V4.into(), 53))?;
    spawn("demo-udp-server", move || udp_echo(echo))?;
    for n in 0..CONVERSATIONS {
        let client: IpAddr = if n % 4 == 3 {
            CLIENT_V6.into()
        } else {
            CLIENTS_V4[n % CLIENTS_V4.len()].into()
        };
        let server = if client.is_ipv6() {
            servers[1]
        } else {
            servers[0]
        };
        spawn("demo-client", move || loop {
            if let Err(e) = converse(client, server) {
                tracing::debug!(error = %e, "demo conversation ended");
                std::thread::sleep(Duration::from_secs(1));
            }
        })?;
    }
    spawn("demo-udp-client", udp_client)?;
    Ok(())
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(|_| ())
}

fn serve(listener: TcpListener) {
    for stream in listener.incoming().flatten() {
        let _ = spawn("demo-session", move || echo(stream));
    }
}

/// Answers each chunk with twice as many bytes, until the client hangs up.
fn echo(mut stream: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 || stream.write_all(&buf[..n]).is_err() || stream.write_all(&buf[..n]).is_err() {
            break;
        }
    }
}

/// One conversation: connect from `client`, exchange data at a random pace for
/// a random while, then close (leaving TIME_WAIT behind).
fn converse(client: IpAddr, server: SocketAddr) -> std::io::Result<()> {
    let mut rng = rand::rng();
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(server),
        socket2::Type::STREAM,
        None,
    )?;
    socket.bind(&SocketAddr::new(client, 0).into())?;
    socket.connect(&server.into())?;
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let lifetime = Duration::from_secs(rng.random_range(5..90));
    let chunk = rng.random_range(64..8192);
    let pause = Duration::from_millis(rng.random_range(50..1000));
    let data = vec![b'x'; chunk];
    let mut answer = vec![0u8; chunk * 2];
    let started = Instant::now();
    while started.elapsed() < lifetime {
        stream.write_all(&data)?;
        stream.read_exact(&mut answer)?;
        std::thread::sleep(pause);
    }
    Ok(())
}

fn udp_echo(socket: UdpSocket) {
    let mut buf = [0u8; 2048];
    while let Ok((n, from)) = socket.recv_from(&mut buf) {
        let _ = socket.send_to(&buf[..n], from);
    }
}

/// DNS-like queries from rotating source ports: short-lived UDP entries.
fn udp_client() {
    let mut rng = rand::rng();
    let server = SocketAddr::new(SERVER_V4.into(), 53);
    loop {
        let client = CLIENTS_V4[rng.random_range(0..CLIENTS_V4.len())];
        if let Ok(socket) = UdpSocket::bind(SocketAddr::new(client.into(), 0)) {
            let _ = socket.set_read_timeout(Some(Duration::from_millis(500)));
            let query = vec![0u8; rng.random_range(40..200)];
            let _ = socket.send_to(&query, server);
            let mut buf = [0u8; 2048];
            let _ = socket.recv_from(&mut buf);
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(100..700)));
    }
}
