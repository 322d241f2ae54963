//! nfctd: serves the Linux Netfilter connection-tracking table over the network.
//! This file wires the parts together: configuration, namespaces, the mirror,
//! the service and the HTTP server, and maps failures to exit codes.

use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;

use nfctd::auth::Auth;
use nfctd::config::{Cli, Command, Config, LogFormat, Source};
use nfctd::service::{Service, Settings};
use nfctd::table::{Mirror, MirrorConfig, MirrorError};
use nfctd::{demo, http};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Passwd(args)) = &cli.command {
        return nfctd::auth::passwd_cli::run(args);
    }
    let config = match Config::from_cli(cli) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("nfctd: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_format);
    let in_demo = config.source == Source::Demo;
    // A bad password file is bad configuration: exit 2, naming the file.
    let auth = match Auth::open(&config.auth) {
        Ok(auth) => auth,
        Err(e) => {
            eprintln!("nfctd: {e}");
            return ExitCode::from(2);
        }
    };
    match run(config, auth) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nfctd: {e:#}");
            if let Some(advice) = advice(&e, in_demo) {
                eprintln!("nfctd: {advice}");
            }
            ExitCode::from(1)
        }
    }
}

/// What a person can do about a failed start, when the error says more than its own words:
/// ctnetlink only reports the missing capability, the ways round it are nfctd's to name.
fn advice(e: &anyhow::Error, in_demo: bool) -> Option<&'static str> {
    // downcast_ref sees through the context layers added in `run`.
    let denied = matches!(
        e.downcast_ref::<MirrorError>(),
        Some(MirrorError::Kernel(ctnetlink::Error::PermissionDenied))
    ) || matches!(
        e.downcast_ref::<ctnetlink::Error>(),
        Some(ctnetlink::Error::PermissionDenied)
    );
    match (denied, in_demo) {
        (false, _) => None,
        (true, true) => Some("the demo namespace should grant CAP_NET_ADMIN; is ctnetlink (nf_conntrack_netlink) available?"),
        (true, false) => Some(
            "run nfctd as root or with CAP_NET_ADMIN (e.g. systemd AmbientCapabilities=CAP_NET_ADMIN), \
             or try `nfctd demo`, which needs no root",
        ),
    }
}

fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("NFCTD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal, never into log files or journald.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn run(config: Config, auth: Auth) -> anyhow::Result<()> {
    // Listeners are bound first, in the daemon's own namespace: a namespace
    // joined below changes where new sockets live, not these.
    let listeners = config
        .listen
        .iter()
        .map(|addr| TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}")))
        .collect::<anyhow::Result<Vec<_>>>()?;

    // Namespaces can only be entered while the process has one thread.
    match &config.source {
        Source::Own => {}
        Source::Netns(path) => {
            netns::join(path).with_context(|| format!("cannot enter --netns {}", path.display()))?
        }
        Source::Demo => demo::enter().context("cannot set up the demo namespace")?,
    }

    let ignore = config.ignore.clone();
    let mirror = Mirror::start(MirrorConfig {
        resync_interval: config.resync_interval,
        hidden: Arc::new(move |conn: &ctnetlink::Conn| {
            ignore
                .iter()
                .any(|cidr| cidr.contains(&conn.orig.src) || cidr.contains(&conn.orig.dst))
        }),
        event_buffer: config.event_buffer,
    })
    .context("cannot read the connection-tracking table")?;
    tracing::info!(entries = mirror.snapshot().len(), "table mirror is live");

    if config.source == Source::Demo {
        demo::start_traffic().context("cannot start the demo traffic")?;
    }

    let service = Service::new(
        mirror,
        Settings {
            session_timeout: config.session_timeout,
            uid_mask: config.uid_mask,
            max_page: config.max_page,
        },
        auth,
    );
    for listener in &listeners {
        tracing::info!("listening on http://{}/", listener.local_addr()?);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.spawn(reload_on_sighup(service.clone()));
    runtime.block_on(http::serve(
        http::app(service, config.xmlrpc_wide_int),
        listeners,
        shutdown_signal(),
    ))?;
    tracing::info!("shut down");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::error!("cannot install signal handlers; stop with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

/// SIGHUP re-reads the password file (the daemon also notices changes by
/// itself within a second).
async fn reload_on_sighup(service: Service) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot handle SIGHUP; the password file is still re-read when it changes");
        return;
    };
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP: re-reading the password file");
        service.reload_users();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied() -> anyhow::Error {
        anyhow::Error::new(MirrorError::Kernel(ctnetlink::Error::PermissionDenied))
            .context("cannot read the connection-tracking table")
    }

    #[test]
    fn a_denied_start_names_the_capability_and_the_demo() {
        let advice = advice(&denied(), false).unwrap_or_default();
        assert!(advice.contains("CAP_NET_ADMIN"), "{advice}");
        assert!(advice.contains("nfctd demo"), "{advice}");
        // Inside the demo, suggesting the demo would be no help.
        let advice = super::advice(&denied(), true).unwrap_or_default();
        assert!(!advice.contains("nfctd demo"), "{advice}");
    }

    #[test]
    fn other_failures_get_no_advice() {
        let e = anyhow::anyhow!("cannot listen on 127.0.0.1:8020");
        assert_eq!(advice(&e, false), None);
    }
}
