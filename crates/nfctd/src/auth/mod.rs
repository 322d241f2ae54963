//! Who may log in and as what: the backends (`none`, the password file, an
//! external command, PAM), roles, and login throttling. Knows nothing of the
//! table; the service asks it and keeps the sessions.

mod command;
pub mod hash;
#[cfg(feature = "pam")]
mod pam;
pub mod passwd;
pub mod passwd_cli;
mod password;
pub mod throttle;

use std::net::IpAddr;
use std::path::PathBuf;

pub use password::Roles;
pub use throttle::{Limit, Limited};

/// What a session may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Viewer,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// Which backend, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// Anyone, as admin (pyctd without an auth module).
    None,
    Password(PathBuf),
    Command(PathBuf),
    Pam,
}

impl Method {
    pub fn name(&self) -> &'static str {
        match self {
            Method::None => "none",
            Method::Password(_) => "password",
            Method::Command(_) => "command",
            Method::Pam => "pam",
        }
    }
}

/// The validated `--auth*` and `--login-*` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    pub method: Method,
    pub limit: Limit,
}

/// Why authentication cannot start.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("--passwd-file {0}")]
    Passwd(#[from] passwd::PasswdError),
    #[error("--auth pam: this build of nfctd lacks PAM support (rebuild with `cargo build --features pam`)")]
    NoPam,
}

#[derive(Debug)]
enum Backend {
    None,
    Password(password::PasswordUsers),
    Command(command::CommandAuth),
    #[cfg(feature = "pam")]
    Pam(pam::PamAuth),
}

/// Who logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    pub user: String,
    pub role: Role,
}

/// Why a login was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Wrong or missing credentials.
    Failed,
    /// Too many failures for this user or address: not even checked.
    Throttled(Limited),
}

/// The configured backend with its throttle.
#[derive(Debug)]
pub struct Auth {
    backend: Backend,
    throttle: throttle::Throttle,
}

impl Auth {
    /// Opens the backend: reads and checks the password file, so a bad one
    /// stops the daemon at start.
    pub fn open(config: &AuthConfig) -> Result<Auth, AuthError> {
        let backend = match &config.method {
            Method::None => Backend::None,
            Method::Password(path) => Backend::Password(password::PasswordUsers::open(path)?),
            Method::Command(program) => Backend::Command(command::CommandAuth::new(program)),
            #[cfg(feature = "pam")]
            Method::Pam => Backend::Pam(pam::PamAuth),
            #[cfg(not(feature = "pam"))]
            Method::Pam => return Err(AuthError::NoPam),
        };
        if let Backend::Password(_) | Backend::Command(_) = backend {
            // Made now rather than at the first unknown user, whose login
            // would otherwise be the slow one.
            let _ = hash::dummy();
        }
        Ok(Auth {
            backend,
            throttle: throttle::Throttle::new(config.limit),
        })
    }

    /// `--auth none`.
    pub fn none() -> Auth {
        Auth {
            backend: Backend::None,
            throttle: throttle::Throttle::new(Limit::default()),
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self.backend, Backend::None)
    }

    /// Checks a login. With `none` anyone is an admin (named `user`, or
    /// `anonymous`). Otherwise both a user and a password are needed, and
    /// the throttle is asked first, before any password is looked at.
    pub fn login(
        &self,
        user: Option<&str>,
        password: Option<&str>,
        peer: Option<IpAddr>,
    ) -> Result<Granted, Refused> {
        if let Backend::None = self.backend {
            let user = user.filter(|u| !u.is_empty()).unwrap_or("anonymous");
            return Ok(Granted {
                user: user.to_string(),
                role: Role::Admin,
            });
        }
        self.throttle
            .begin(user, peer)
            .map_err(Refused::Throttled)?;
        let (Some(name), Some(password)) = (user, password) else {
            return Err(Refused::Failed);
        };
        let role = match &self.backend {
            Backend::None => Some(Role::Admin),
            Backend::Password(users) => users.verify(name, password),
            Backend::Command(program) => program.verify(name, password),
            #[cfg(feature = "pam")]
            Backend::Pam(pam) => pam.verify(name, password),
        };
        match role {
            Some(role) => {
                self.throttle.succeeded(user, peer);
                Ok(Granted {
                    user: name.to_string(),
                    role,
                })
            }
            None => Err(Refused::Failed),
        }
    }

    /// With the password backend: the new roles if the file changed since
    /// last looked at (one `stat`).
    pub fn reload_if_changed(&self) -> Option<Roles> {
        match &self.backend {
            Backend::Password(users) => users.reload_if_changed(),
            _ => None,
        }
    }

    /// With the password backend: re-reads the file (SIGHUP).
    pub fn reload(&self) -> Option<Roles> {
        match &self.backend {
            Backend::Password(users) => users.reload(),
            _ => None,
        }
    }

    /// Whether there is a file to watch.
    pub fn has_file(&self) -> bool {
        matches!(self.backend, Backend::Password(_))
    }
}
