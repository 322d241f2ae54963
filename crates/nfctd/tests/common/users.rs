//! Logins for the tests: password files with users added by `nfctd passwd`
//! (argon2id, as shipped) and raw lines with hashes made by other tools, and
//! programs for `--auth command`.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs `nfctd passwd ARGS --passwd-file FILE` with `stdin` as its
/// (non-terminal) standard input.
pub fn passwd(file: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nfctd"))
        .arg("passwd")
        .args(args)
        .arg("--passwd-file")
        .arg(file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A refused argument ends the command before it reads: EPIPE is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

/// Adds `user` with `password` and `role`; panics unless `nfctd passwd` succeeds.
pub fn add_user(file: &Path, user: &str, password: &str, role: &str) {
    let out = passwd(
        file,
        &["add", user, "--role", role],
        &format!("{password}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Appends raw lines (hashes made by other tools), keeping the mode at 0600.
pub fn append(file: &Path, lines: &str) {
    let mut text = std::fs::read_to_string(file).unwrap_or_default();
    text.push_str(lines);
    std::fs::write(file, text).unwrap();
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A shell script `name` in `dir` running `body`, executable by its owner
/// only (an `--auth command` program).
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
    path
}

/// An `--auth command` program that accepts `user` with `password` as admin
/// and appends a line to the returned file each time it runs, so a test can
/// tell whether it ran. It reads with a plain `read -r`, which strips blanks
/// around what it reads, as many real programs do.
pub fn recording_program(dir: &Path, user: &str, password: &str) -> (PathBuf, PathBuf) {
    let calls = dir.join("calls");
    let program = script(
        dir,
        "auth.sh",
        &format!(
            r#"echo called >> {}
read -r user; read -r pass
[ "$user" = '{user}' ] && [ "$pass" = '{password}' ] && {{ echo admin; exit 0; }}
exit 1"#,
            calls.display()
        ),
    );
    (program, calls)
}
