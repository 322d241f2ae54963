//! Password files for the tests: users added with `nfctd passwd` (argon2id,
//! as shipped) and raw lines with hashes made by other tools.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
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
