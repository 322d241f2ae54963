//! `nfctd passwd add|del|list`: edits the password file. Passwords come
//! from a prompt without echo, or one line of stdin when it is not a
//! terminal; never from the command line, and only their hash is written.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::hash::Hash;
use super::passwd::{self, Entry, PasswdError, PasswdFile};
use super::Role;

pub const DEFAULT_PASSWD_FILE: &str = "/etc/nfctd/passwd";

#[derive(Debug, Args)]
pub struct PasswdArgs {
    #[command(subcommand)]
    pub action: Action,
    /// The password file.
    #[arg(long, value_name = "FILE", global = true, default_value = DEFAULT_PASSWD_FILE)]
    pub passwd_file: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Add a user, or set a user's password (and role): the password is
    /// prompted for, or read from stdin when it is not a terminal.
    Add {
        user: String,
        /// The role; for a new user the default is viewer, for an existing one their current role.
        #[arg(long, value_name = "admin|viewer")]
        role: Option<String>,
    },
    /// Remove a user; their sessions end when the daemon re-reads the file.
    Del { user: String },
    /// List users and roles (never hashes).
    List,
}

/// Why a `passwd` command failed; bad arguments exit 2, the rest 1.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    File(#[from] PasswdError),
    #[error("{0}")]
    Other(String),
}

pub fn run(args: &PasswdArgs) -> ExitCode {
    match dispatch(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nfctd passwd: {e}");
            ExitCode::from(match e {
                CliError::Usage(_) => 2,
                _ => 1,
            })
        }
    }
}

fn dispatch(args: &PasswdArgs) -> Result<(), CliError> {
    let path = args.passwd_file.as_path();
    match &args.action {
        Action::Add { user, role } => add(path, user, role.as_deref()),
        Action::Del { user } => {
            let (mut file, _) = passwd::load(path)?;
            if !file.remove(user) {
                return Err(CliError::Other(format!(
                    "no user {} in {}",
                    nfctd_table::clip::quoted(user),
                    path.display()
                )));
            }
            passwd::write_atomically(path, &file)?;
            Ok(())
        }
        Action::List => {
            let (file, _) = passwd::load(path)?;
            for e in file.users() {
                let note = if e.hash.is_legacy() {
                    "  (unsalted SHA-1: set a new password)"
                } else {
                    ""
                };
                println!("{}\t{}{note}", e.name, e.role.name());
            }
            Ok(())
        }
    }
}

fn add(path: &Path, user: &str, role: Option<&str>) -> Result<(), CliError> {
    passwd::check_name(user).map_err(|why| CliError::Usage(format!("user name: {why}")))?;
    let role = role
        .map(|r| {
            Role::parse(r).ok_or_else(|| {
                CliError::Usage(format!(
                    "--role: {} is not admin or viewer",
                    nfctd_table::clip::quoted(r)
                ))
            })
        })
        .transpose()?;
    let mut file = match passwd::load(path) {
        Ok((file, _)) => file,
        Err(PasswdError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            PasswdFile::default()
        }
        Err(e) => return Err(e.into()),
    };
    let role = role
        .or_else(|| file.get(user).map(|e| e.role))
        .unwrap_or(Role::Viewer);
    let password = read_password(user)?;
    let hash = Hash::new_argon2(&password).map_err(|e| CliError::Other(e.to_string()))?;
    file.set(Entry {
        name: user.to_string(),
        hash,
        role,
    });
    passwd::write_atomically(path, &file)?;
    eprintln!("{user} ({}) written to {}", role.name(), path.display());
    Ok(())
}

fn read_password(user: &str) -> Result<String, CliError> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("Password for {user}: "))
            .map_err(|e| CliError::Other(format!("cannot read the password: {e}")))?;
        let again = rpassword::prompt_password("Again: ")
            .map_err(|e| CliError::Other(format!("cannot read the password: {e}")))?;
        if first != again {
            return Err(CliError::Usage("the passwords differ".into()));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::Other(format!("cannot read the password from stdin: {e}")))?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    if password.is_empty() {
        return Err(CliError::Usage("the password is empty".into()));
    }
    Ok(password)
}
