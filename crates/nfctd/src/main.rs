//! nfctd: serves the Linux Netfilter connection-tracking table over the network.
//! This file wires the parts together: configuration, namespaces, the mirror,
//! the service and the HTTP server, privileges, signals (SIGHUP reloads), and
//! maps failures to exit codes.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;

use nfctd::config::{Cli, Config, LogFormat, Source};
use nfctd::hosts::AllowedHosts;
use nfctd::net::{self, Listener, Tls};
use nfctd::privileges;
use nfctd::reload::Reloaders;
use nfctd::service::{Service, Settings};
use nfctd::table::{Mirror, MirrorConfig};
use nfctd::{demo, http};

fn main() -> ExitCode {
    let config = match Config::from_cli(Cli::parse()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("nfctd: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_format);
    // Certificate files are configuration: unreadable or invalid ones exit 2.
    let tls = match config.net.tls.as_ref().map(Tls::load).transpose() {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("nfctd: {e}");
            return ExitCode::from(2);
        }
    };
    match run(config, tls) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nfctd: {e:#}");
            ExitCode::from(1)
        }
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

fn run(config: Config, tls: Option<Tls>) -> anyhow::Result<()> {
    let nofile = net::raise_nofile_limit();
    // Listeners are bound first, in the daemon's own namespace: a namespace
    // joined below changes where new sockets live, not these. Binding a low
    // port may need a capability that is dropped next.
    let listeners = config
        .net
        .endpoints
        .iter()
        .map(|endpoint| {
            let addr = endpoint.addr;
            net::bind(addr)
                .map(|socket| Listener {
                    socket,
                    tls: endpoint.tls,
                })
                .with_context(|| format!("cannot listen on {addr}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;

    // Namespaces can only be entered, and capabilities dropped for the whole
    // process, while it has one thread.
    match &config.source {
        Source::Own => privileges::restrict(privileges::SERVING, true),
        Source::Netns(path) => {
            privileges::restrict(privileges::JOINING, false);
            netns::join(path)
                .with_context(|| format!("cannot enter --netns {}", path.display()))?;
            privileges::restrict(privileges::SERVING, true);
        }
        Source::Demo => {
            demo::enter().context("cannot set up the demo namespace")?;
            privileges::restrict(privileges::DEMO, true);
        }
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
    );
    let app = http::app_with(
        service,
        http::AppOptions {
            wide_int: config.xmlrpc_wide_int,
            heavy_queue: config.net.heavy_queue,
            allowed_hosts: AllowedHosts::new(&config.listen, &config.net.allowed_hosts),
        },
    );

    // What SIGHUP re-reads; each part of the daemon adds its own hook here.
    let mut reloaders = Reloaders::default();
    if let Some(tls) = &tls {
        let tls = tls.clone();
        reloaders.add("TLS certificate", move || tls.reload());
    }

    let mut limits = config.net.limits;
    limits.max_connections = net::effective_cap(limits.max_connections, nofile);
    for listener in &listeners {
        tracing::info!("listening on {}", listener.url()?);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(net::serve(
        app,
        listeners,
        tls,
        limits,
        signals(Arc::new(reloaders)),
    ))?;
    tracing::info!("shut down");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM; runs the reload hooks on every SIGHUP meanwhile.
async fn signals(reloaders: Arc<Reloaders>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers; stop with SIGKILL");
        return std::future::pending().await;
    };
    loop {
        tokio::select! {
            _ = int.recv() => return,
            _ = term.recv() => return,
            _ = hup.recv() => {
                // Hooks read files: off the executor.
                let reloaders = Arc::clone(&reloaders);
                if let Err(e) = tokio::task::spawn_blocking(move || reloaders.run()).await {
                    tracing::error!(error = %e, "reload failed");
                }
            }
        }
    }
}
