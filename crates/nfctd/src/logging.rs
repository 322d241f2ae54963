//! Logs to stderr, text or JSON, at a level that SIGHUP can change. The
//! `NFCTD_LOG` variable (a tracing filter such as `debug` or
//! `nfctd=debug,audit=info`) wins over `--log-level` and is not reloaded.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry};

use crate::config::LogFormat;

/// Changes the running level.
#[derive(Debug, Clone)]
pub struct LevelHandle {
    handle: Option<reload::Handle<EnvFilter, Registry>>,
}

/// Why the running level could not change.
#[derive(Debug, thiserror::Error)]
pub enum LevelError {
    #[error(transparent)]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    #[error(transparent)]
    Reload(#[from] reload::Error),
}

impl LevelHandle {
    /// Switches to `level` (checked by the config already). A level set by
    /// `NFCTD_LOG` stays: the variable wins.
    pub fn set(&self, level: &str) -> Result<(), LevelError> {
        let Some(handle) = &self.handle else {
            tracing::warn!("NFCTD_LOG is set and wins over --log-level: the level stays");
            return Ok(());
        };
        let filter = EnvFilter::try_new(level)?;
        Ok(handle.reload(filter)?)
    }
}

/// Installs the global logger.
pub fn init(format: LogFormat, level: &str) -> LevelHandle {
    use std::io::IsTerminal;
    let (filter, from_env) = match EnvFilter::try_from_env("NFCTD_LOG") {
        Ok(filter) => (filter, true),
        Err(_) => (
            EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info")),
            false,
        ),
    };
    let (filter, handle) = reload::Layer::new(filter);
    // Colours only for a person at a terminal, never into log files or journald.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Text => registry.with(fmt).init(),
        LogFormat::Json => registry.with(fmt.json()).init(),
    }
    LevelHandle {
        handle: (!from_env).then_some(handle),
    }
}
