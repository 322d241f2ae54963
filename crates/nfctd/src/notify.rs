//! systemd's readiness protocol (`Type=notify`): STATUS lines while the
//! first dump loads, READY=1 once the mirror is live and every listener is
//! bound, STOPPING=1 when shutdown begins. Without
//! NOTIFY_SOCKET in the environment every call does nothing.
//!
//! The message vocabulary is sd-notify's; the socket is our own, connected
//! at start, because the daemon then joins another network namespace
//! (`--netns`, `demo`) and an abstract-namespace NOTIFY_SOCKET (`@name`)
//! belongs to the namespace it was made in.

use std::os::unix::net::UnixDatagram;

use sd_notify::NotifyState;

/// A connection to the service manager, or nothing.
#[derive(Debug, Default)]
pub struct Notifier {
    socket: Option<UnixDatagram>,
}

impl Notifier {
    /// Takes NOTIFY_SOCKET out of the environment, so that programs the daemon
    /// runs (`--auth command`) cannot speak for it, and connects to it.
    /// Call it at the very start, while the process is single-threaded:
    /// changing the environment is only sound then.
    pub fn from_env() -> Notifier {
        let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
            return Notifier::default();
        };
        std::env::remove_var("NOTIFY_SOCKET");
        match connect(&path) {
            Ok(socket) => Notifier {
                socket: Some(socket),
            },
            Err(e) => {
                // Logging is not set up yet, and this is no reason to refuse to start.
                eprintln!(
                    "nfctd: cannot connect to NOTIFY_SOCKET {}: {e}; the service manager will not hear READY",
                    path.to_string_lossy()
                );
                Notifier::default()
            }
        }
    }

    /// READY=1, with a STATUS line for `systemctl status`.
    pub fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// A STATUS line alone (progress, before READY=1).
    pub fn status(&self, status: &str) {
        self.send(&[NotifyState::Status(status)]);
    }

    /// STOPPING=1.
    pub fn stopping(&self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("shutting down")]);
    }

    fn send(&self, states: &[NotifyState]) {
        let Some(socket) = &self.socket else {
            return;
        };
        let message: String = states.iter().map(|s| format!("{s}\n")).collect();
        if let Err(e) = socket.send(message.as_bytes()) {
            tracing::warn!(error = %e, message = %message.trim_end(), "cannot notify the service manager");
        }
    }
}

fn connect(path: &std::ffi::OsStr) -> std::io::Result<UnixDatagram> {
    use std::os::unix::ffi::OsStrExt as _;
    let socket = UnixDatagram::unbound()?;
    match path.as_bytes().strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt as _;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.connect_addr(&addr)?;
        }
        None => socket.connect(path)?,
    }
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_newline_separated_assignments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier {
            socket: Some(connect(path.as_os_str()).unwrap()),
        };
        notifier.ready("serving");
        let mut buf = [0u8; 256];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=serving\n");
        notifier.status("loading 5 of 10 connections");
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STATUS=loading 5 of 10 connections\n");
        notifier.stopping();
        let n = server.recv(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"STOPPING=1\n"));
    }

    #[test]
    fn abstract_addresses_connect() {
        let name = format!("nfctd-test-{}", std::process::id());
        use std::os::linux::net::SocketAddrExt as _;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let server = UnixDatagram::bind_addr(&addr).unwrap();
        let socket = connect(std::ffi::OsStr::new(&format!("@{name}"))).unwrap();
        socket.send(b"READY=1\n").unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(server.recv(&mut buf).unwrap(), 8);
    }
}
