//! The `command` backend, pyctd's pluggable `authenticate()` in any
//! language: a program run without a shell, given the login arguments on its
//! stdin (never its command line or environment), with a time limit.

use std::io::{Read as _, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Role;

/// How long the program may take before it is killed and the login refused.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How much of its output is read (only the first line matters).
const MAX_OUTPUT: u64 = 4096;

#[derive(Debug)]
pub struct CommandAuth {
    program: PathBuf,
    timeout: Duration,
}

impl CommandAuth {
    pub fn new(program: &Path) -> CommandAuth {
        CommandAuth {
            program: program.to_path_buf(),
            timeout: TIMEOUT,
        }
    }

    #[cfg(test)]
    fn with_timeout(mut self, timeout: Duration) -> CommandAuth {
        self.timeout = timeout;
        self
    }

    /// Runs the program with `user` and `password` on its stdin, one per
    /// line. Exit 0 accepts; the first line of its stdout may be `admin` or
    /// `viewer`, and anything else (or nothing) means viewer, the lesser role.
    ///
    /// Only `Auth::login` calls this, after `input` has refused line breaks
    /// (which would shift what the program reads) and blanks around a name
    /// (which a program may strip, checking another name than the throttle
    /// counted).
    pub fn verify(&self, user: &str, password: &str) -> Option<Role> {
        match self.run(user, password) {
            Ok(role) => role,
            Err(e) => {
                tracing::error!(program = %self.program.display(), "--auth-command failed: {e}");
                None
            }
        }
    }

    fn run(&self, user: &str, password: &str) -> std::io::Result<Option<Role>> {
        let mut child = Command::new(&self.program)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            // Its own process group, so a timeout also ends what it started.
            .process_group(0)
            .spawn()?;
        // The deadline counts from here, whatever the program does with
        // its stdin.
        let deadline = Instant::now() + self.timeout;
        if let Some(mut stdin) = child.stdin.take() {
            // Written from its own thread: a program that stops reading
            // would otherwise block this one once the pipe's buffer is full,
            // before the deadline is ever looked at. The kill below ends the
            // write (EPIPE), as does a program that exits without reading;
            // its exit status decides, not the write.
            let input = format!("{user}\n{password}\n");
            std::thread::spawn(move || {
                let _ = stdin.write_all(input.as_bytes());
            });
        }
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let _ = stdout.take(MAX_OUTPUT).read_to_end(&mut out);
                let _ = tx.send(out);
            });
        }
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() >= deadline {
                let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait();
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {} s; killed", self.timeout.as_secs_f32()),
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        if !status.success() {
            return Ok(None);
        }
        // Something it started may still hold stdout open: wait briefly.
        let out = rx
            .recv_timeout(Duration::from_millis(200))
            .unwrap_or_default();
        let first = String::from_utf8_lossy(&out)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        Ok(Some(match first.as_str() {
            "admin" => Role::Admin,
            "viewer" | "" => Role::Viewer,
            _ => {
                tracing::warn!(program = %self.program.display(), "--auth-command printed neither admin nor viewer: the session is a viewer");
                Role::Viewer
            }
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn script(dir: &Path, body: &str) -> PathBuf {
        let path = dir.join("auth.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        path
    }

    #[test]
    fn arguments_on_stdin_exit_status_and_role() {
        let dir = tempfile::tempdir().unwrap();
        let p = script(
            dir.path(),
            r#"read -r user; read -r pass
[ "$user" = alice ] && [ "$pass" = 'p w' ] && { echo admin; exit 0; }
[ "$user" = bob ] && [ "$pass" = x ] && exit 0
exit 1"#,
        );
        let c = CommandAuth::new(&p);
        assert_eq!(c.verify("alice", "p w"), Some(Role::Admin));
        assert_eq!(c.verify("bob", "x"), Some(Role::Viewer));
        assert_eq!(c.verify("alice", "nope"), None);
    }

    #[test]
    fn a_hanging_program_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let p = script(dir.path(), "sleep 30; exit 0");
        let c = CommandAuth::new(&p).with_timeout(Duration::from_millis(300));
        let start = Instant::now();
        assert_eq!(c.verify("a", "b"), None);
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn a_program_that_stops_reading_is_killed_on_time_whatever_it_was_given() {
        // It reads the user, stalls, and only then reads the password: a
        // password larger than a pipe's buffer blocked the write that used
        // to come before the timer started.
        let dir = tempfile::tempdir().unwrap();
        let p = script(
            dir.path(),
            "read -r user; sleep 30; cat > /dev/null; exit 0",
        );
        let timeout = Duration::from_millis(500);
        let c = CommandAuth::new(&p).with_timeout(timeout);
        for size in [10, 1 << 20] {
            let start = Instant::now();
            let e = c.run("a", &"p".repeat(size)).unwrap_err();
            let took = start.elapsed();
            assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{size}: {e}");
            assert!(took < timeout + Duration::from_secs(1), "{size}: {took:?}");
        }
    }

    #[test]
    fn a_missing_program_refuses() {
        assert_eq!(
            CommandAuth::new(Path::new("/nonexistent/auth")).verify("a", "b"),
            None
        );
    }
}
