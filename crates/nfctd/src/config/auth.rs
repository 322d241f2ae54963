//! The authentication options (`--auth`, `--passwd-file`, `--auth-command`,
//! `--login-*`, `--admin-from`) validated into the backend's configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::passwd_cli::DEFAULT_PASSWD_FILE;
use crate::auth::prefix::default_admin_from;
use crate::auth::{AuthConfig, Limit, Method};
use nfctd_table::cidr::Cidr;

use super::{bad, ConfigError, Options};

/// The backend and throttle. `--auth` defaults to `password` when the
/// password file exists, else `none`; `none` on a non-loopback address needs
/// `--allow-remote-without-auth`. The password file itself is read (and its
/// permissions checked) when the daemon opens the backend.
pub(super) fn auth_config(o: &Options, listen: &[SocketAddr]) -> Result<AuthConfig, ConfigError> {
    let passwd_file = o
        .passwd_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PASSWD_FILE));
    let name = match o.auth.as_deref() {
        Some(name) => name,
        None if passwd_file.exists() => "password",
        None => "none",
    };
    let method = match name {
        "none" => Method::None,
        "password" => {
            if !passwd_file.exists() {
                return Err(bad(
                    "--passwd-file",
                    format!("{} does not exist; create it with `nfctd passwd add USER`", passwd_file.display()),
                ));
            }
            Method::Password(passwd_file)
        }
        "command" => match &o.auth_command {
            Some(program) if program.is_file() => Method::Command(program.clone()),
            Some(program) => {
                return Err(bad(
                    "--auth-command",
                    format!("{} is not a file", program.display()),
                ))
            }
            None => return Err(bad("--auth-command", "is required with --auth command")),
        },
        "pam" if cfg!(feature = "pam") => Method::Pam,
        "pam" => {
            return Err(bad(
                "--auth",
                "pam: this build of nfctd lacks PAM support (rebuild with `cargo build --features pam`)",
            ))
        }
        other => {
            return Err(bad(
                "--auth",
                format!("{}: expected none, password, command or pam", nfctd_table::clip::quoted(other)),
            ))
        }
    };
    if o.auth_command.is_some() && !matches!(method, Method::Command(_)) {
        return Err(bad("--auth-command", "is only used with --auth command"));
    }
    if method == Method::None && !o.allow_remote_without_auth {
        if let Some(addr) = listen.iter().find(|a| !a.ip().is_loopback()) {
            return Err(bad(
                "--listen",
                format!("{addr} is not a loopback address and --auth is none: anyone who can reach it could kill connections; add --allow-remote-without-auth to accept that"),
            ));
        }
    }
    let mut limit = Limit::default();
    match o.login_attempts {
        Some(0) => return Err(bad("--login-attempts", "must be at least 1")),
        Some(n) => limit.attempts = n,
        None => {}
    }
    match o.login_window {
        Some(0) => return Err(bad("--login-window", "must be at least 1 second")),
        Some(s) => limit.window = Duration::from_secs(s),
        None => {}
    }
    let admin_from = if o.admin_from.is_empty() {
        default_admin_from()
    } else {
        o.admin_from
            .iter()
            .map(|text| {
                text.parse::<Cidr>().map_err(|e| {
                    bad(
                        "--admin-from",
                        format!("{}: {e}", nfctd_table::clip::quoted(text)),
                    )
                })
            })
            .collect::<Result<_, _>>()?
    };
    Ok(AuthConfig {
        method,
        limit,
        admin_from,
    })
}
