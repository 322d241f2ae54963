//! What SIGHUP re-reads: a list of named reload hooks (the configuration,
//! the password file, the TLS certificate), each run in turn. A hook that
//! fails is logged and leaves its old state in force; the others still run.

use std::fmt;

type Hook = Box<dyn Fn() -> Result<(), Box<dyn std::error::Error + Send + Sync>> + Send + Sync>;

/// The reload hooks, run in the order they were added.
#[derive(Default)]
pub struct Reloaders {
    hooks: Vec<(&'static str, Hook)>,
}

impl fmt::Debug for Reloaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.hooks.iter().map(|(what, _)| *what).collect();
        f.debug_struct("Reloaders").field("hooks", &names).finish()
    }
}

impl Reloaders {
    /// Adds a hook; `what` names the thing it reloads in the log.
    pub fn add<E>(
        &mut self,
        what: &'static str,
        hook: impl Fn() -> Result<(), E> + Send + Sync + 'static,
    ) where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.hooks
            .push((what, Box::new(move || hook().map_err(Into::into))));
    }

    /// Runs every hook, logging each outcome.
    pub fn run(&self) {
        if self.hooks.is_empty() {
            tracing::info!("SIGHUP: nothing to reload");
        }
        for (what, hook) in &self.hooks {
            match hook() {
                Ok(()) => tracing::info!(what, "reloaded"),
                Err(e) => {
                    tracing::warn!(what, error = %e, "reload refused; the previous one stays in force")
                }
            }
        }
    }
}

/// Why the configuration hook refused a new configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigReloadError {
    #[error(transparent)]
    CommandLine(#[from] clap::Error),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Ignore(#[from] nfctd_table::MirrorError),
    #[error(transparent)]
    LogLevel(#[from] crate::logging::LevelError),
}

/// The configuration hook: reads the command line and `--config` file again
/// as at start, and applies what can change while running (the `--ignore`
/// list, the log level). A new configuration that does not validate is
/// refused whole; other changes are named in the log as needing a restart.
pub fn configuration(
    running: crate::config::Config,
    mirror: nfctd_table::Mirror,
    levels: crate::logging::LevelHandle,
) -> impl Fn() -> Result<(), ConfigReloadError> + Send + Sync + 'static {
    use clap::Parser;
    let running = std::sync::Mutex::new(running);
    move || {
        let cli = crate::config::Cli::try_parse_from(std::env::args_os())?;
        let new = crate::config::Config::from_cli(cli)?;
        // Only this hook touches it, one SIGHUP at a time; a poisoned one is still whole.
        let mut old = running.lock().unwrap_or_else(|p| p.into_inner());
        if new.ignore != old.ignore {
            mirror.set_hidden(crate::config::ignore_rule(new.ignore.clone()))?;
            let shown: Vec<String> = new.ignore.iter().map(ToString::to_string).collect();
            tracing::info!(ignore = ?shown, "the ignore list changed");
        }
        if new.log_level != old.log_level {
            levels.set(&new.log_level)?;
            tracing::info!(level = %new.log_level, "the log level changed");
        }
        let mut rest = new.clone();
        rest.ignore.clone_from(&old.ignore);
        rest.log_level.clone_from(&old.log_level);
        if format!("{rest:?}") != format!("{old:?}") {
            tracing::warn!("other options changed too; they take effect at the next start");
        }
        *old = new;
        Ok(())
    }
}
