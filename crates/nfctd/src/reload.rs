//! What SIGHUP re-reads: a list of named reload hooks (the TLS certificate;
//! the password file joins it), each run in turn. A hook that fails is
//! logged and leaves its old state in force; the others still run.

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

    pub fn is_empty(&self) -> bool {
        self.hooks.is_empty()
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
