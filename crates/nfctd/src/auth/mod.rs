//! Who may log in and as what: the backends (`none`, the password file, an
//! external command, PAM), roles, and login throttling. Knows nothing of the
//! table; the service asks it and keeps the sessions.

mod command;
pub mod hash;
pub mod input;
#[cfg(feature = "pam")]
mod pam;
pub mod passwd;
pub mod passwd_cli;
mod password;
mod pool;
pub mod prefix;
pub mod throttle;
mod timing;

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

/// The validated `--auth*`, `--login-*` and `--admin-from` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    pub method: Method,
    pub limit: Limit,
    /// Clients exempt from user-name lockouts (never from their own address's).
    pub admin_from: Vec<nfctd_table::cidr::Cidr>,
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
    /// The named argument has a shape no backend accepts (see `input`):
    /// refused before the throttle or any backend saw it.
    Invalid(&'static str, input::Invalid),
    /// No password-checking thread was free in time: not checked, not counted.
    Busy,
}

/// The first argument that [`input`] refuses, by name. The command backend
/// gives the program `user\npassword\n`, and a program may strip blanks
/// from them: what it checks must be exactly what the throttle counted, so
/// every backend refuses the same shapes.
fn check_arguments(user: Option<&str>, password: Option<&str>) -> Result<(), Refused> {
    if let Some(Err(why)) = user.map(input::check_user) {
        return Err(Refused::Invalid("user", why));
    }
    if let Some(Err(why)) = password.map(input::check_password) {
        return Err(Refused::Invalid("password", why));
    }
    Ok(())
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
        Ok(Auth {
            backend,
            throttle: throttle::Throttle::with_trusted(config.limit, config.admin_from.clone()),
        })
    }

    /// Starts what works in the background (the password-checking threads).
    /// Threads copy their creator's capabilities: call this once the daemon
    /// has dropped its own.
    pub fn start(&self) {
        if let Backend::Password(users) = &self.backend {
            users.start();
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self.backend, Backend::None)
    }

    /// Checks a login. A user name or password of a shape `input` refuses
    /// (control characters, blanks around a name, too long) is refused
    /// first, whatever the backend. With `none` anyone is an admin
    /// (named `user`, or `anonymous`). Otherwise both a user and a password
    /// are needed, and the throttle is asked first, before any password is
    /// looked at; a login without a password costs an attempt and no hashing.
    pub fn login(
        &self,
        user: Option<&str>,
        password: Option<&str>,
        peer: Option<IpAddr>,
    ) -> Result<Granted, Refused> {
        check_arguments(user, password)?;
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
            Backend::Password(users) => match users.verify(name, password) {
                Ok(role) => role,
                Err(busy) => {
                    tracing::warn!("login not checked: {busy}");
                    self.throttle.not_checked(user, peer);
                    return Err(Refused::Busy);
                }
            },
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn config(method: Method, attempts: u32) -> AuthConfig {
        AuthConfig {
            method,
            limit: Limit {
                attempts,
                window: std::time::Duration::from_secs(60),
            },
            admin_from: prefix::default_admin_from(),
        }
    }

    #[test]
    fn control_characters_blanks_and_long_arguments_are_refused_by_every_backend_before_anything_runs(
    ) {
        let dir = tempfile::tempdir().unwrap();
        let ran = dir.path().join("ran");
        let program = dir.path().join("auth.sh");
        std::fs::write(
            &program,
            format!(
                "#!/bin/sh\necho run >> {}\nread -r u; read -r p; [ \"$p\" = pyctd ]\n",
                ran.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o700)).unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(
            &passwd,
            "alice:499151674e56117e059b6095fd777bdc98d24757:admin\n",
        )
        .unwrap();
        std::fs::set_permissions(&passwd, std::fs::Permissions::from_mode(0o600)).unwrap();
        let peer = Some("192.0.2.1".parse().unwrap());
        for method in [
            Method::None,
            Method::Command(program.clone()),
            Method::Password(passwd.clone()),
        ] {
            let auth = Auth::open(&config(method.clone(), 1)).unwrap();
            let long_user = "a".repeat(input::MAX_USER_BYTES + 1);
            let long_password = "p".repeat(input::MAX_PASSWORD_BYTES + 1);
            for (user, password, field, why) in [
                ("alice\nguess", "x", "user", input::Invalid::LineBreak),
                ("alice\rguess", "x", "user", input::Invalid::LineBreak),
                ("alice\0", "x", "user", input::Invalid::LineBreak),
                ("alice", "pyctd\n", "password", input::Invalid::LineBreak),
                ("alice", "\r", "password", input::Invalid::LineBreak),
                ("alice", "py\0ctd", "password", input::Invalid::LineBreak),
                (" alice", "pyctd", "user", input::Invalid::Padded),
                ("alice ", "pyctd", "user", input::Invalid::Padded),
                ("\u{a0}alice", "pyctd", "user", input::Invalid::Padded),
                ("\talice", "pyctd", "user", input::Invalid::Control),
                ("alice\t", "pyctd", "user", input::Invalid::Control),
                ("al\u{1b}ice", "pyctd", "user", input::Invalid::Control),
                (
                    long_user.as_str(),
                    "pyctd",
                    "user",
                    input::Invalid::TooLong { max: 256 },
                ),
                (
                    "alice",
                    long_password.as_str(),
                    "password",
                    input::Invalid::TooLong { max: 4096 },
                ),
            ] {
                assert_eq!(
                    auth.login(Some(user), Some(password), peer),
                    Err(Refused::Invalid(field, why)),
                    "{method:?} {user:?} {password:?}"
                );
            }
            // None of that counted: one attempt is left, and it is checked.
            if !auth.is_none() {
                assert_eq!(
                    auth.login(Some("alice"), Some("no"), peer),
                    Err(Refused::Failed)
                );
                assert!(matches!(
                    auth.login(Some("alice"), Some("pyctd"), peer),
                    Err(Refused::Throttled(_))
                ));
            }
        }
        assert_eq!(
            std::fs::read_to_string(&ran)
                .unwrap_or_default()
                .lines()
                .count(),
            1,
            "the program ran for the one plain login only"
        );
    }
}
