//! The daemon's start: wires the parts together (configuration, namespaces,
//! the mirror, the service and the HTTP server) and maps failures to exit
//! codes. `main.rs` only parses the command line and calls [`run`].

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use nfctd_table::{FirstDump, Mirror, MirrorConfig, MirrorError};

use crate::auth::Auth;
use crate::config::{Cli, Command, Config, Source};
use crate::hosts::AllowedHosts;
use crate::net::{self, Listener, Tls};
use crate::notify::Notifier;
use crate::privileges;
use crate::reload::Reloaders;
use crate::service::{Service, Settings, Sockets};
use crate::{accounting, demo, manual, router};

/// Runs what the command line `cli` asks for: a subcommand, or the daemon
/// until SIGINT or SIGTERM. Exit codes: 0 done, 1 failed, 2 bad configuration.
pub fn run(cli: Cli) -> ExitCode {
    match &cli.command {
        Some(Command::Passwd(args)) => return crate::auth::passwd_cli::run(args),
        Some(Command::Man) => return print(|out| manual::man(out)),
        Some(Command::Completions { shell }) => {
            return print(|out| {
                manual::completions(*shell, out);
                Ok(())
            })
        }
        Some(Command::Demo { .. }) | None => {}
    }
    crate::alloc::tune_malloc();
    // First, while the process has one thread: it edits the environment.
    let notifier = Notifier::from_env();
    let config = match Config::from_cli(cli) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("nfctd: {e}");
            return ExitCode::from(2);
        }
    };
    let levels = crate::logging::init(config.log_format, &config.log_level);
    let in_demo = config.source == Source::Demo;
    // A bad password file is bad configuration: exit 2, naming the file.
    let auth = match Auth::open(&config.auth) {
        Ok(auth) => auth,
        Err(e) => {
            eprintln!("nfctd: {e}");
            return ExitCode::from(2);
        }
    };
    // Certificate files are configuration too: unreadable or invalid ones exit 2.
    let tls = match config.net.tls.as_ref().map(Tls::load).transpose() {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("nfctd: {e}");
            return ExitCode::from(2);
        }
    };
    match serve(config, auth, tls, levels, notifier) {
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

/// Writes what `write` makes to stdout; a closed pipe (`nfctd man | head`) is no failure.
fn print(write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> ExitCode {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nfctd: cannot write to stdout: {e}");
            ExitCode::from(1)
        }
    }
}

/// What a person can do about a failed start, when the error says more than its own words:
/// ctnetlink only reports the missing capability, the ways round it are nfctd's to name.
fn advice(e: &anyhow::Error, in_demo: bool) -> Option<&'static str> {
    // downcast_ref sees through the context layers added in `serve`.
    let denied = matches!(
        e.downcast_ref::<MirrorError>()
            .and_then(MirrorError::kernel),
        Some(ctnetlink::Error::PermissionDenied)
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

/// Export's records are the kernel's counters and start times: without
/// `nf_conntrack_acct` and `nf_conntrack_timestamp` it would send zeros, so
/// it does not start. Before ctnetlink has loaded nf_conntrack the sysctls
/// may not exist yet: then only the `last_try` call decides.
fn refuse_export_without_accounting(last_try: bool) -> anyhow::Result<()> {
    match accounting::missing() {
        Some(off) if !off.is_empty() => anyhow::bail!(
            "--export needs {} set to 1 in the served namespace: set them with sysctl, \
             or pass --enable-accounting",
            off.join(" and ")
        ),
        None if last_try => anyhow::bail!(
            "--export needs nf_conntrack_acct and nf_conntrack_timestamp, \
             and nf_conntrack is not loaded"
        ),
        _ => Ok(()),
    }
}

fn serve(
    config: Config,
    auth: Auth,
    tls: Option<Tls>,
    levels: crate::logging::LevelHandle,
    notifier: Notifier,
) -> anyhow::Result<()> {
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
                .map(|socket| Listener::main(socket, endpoint.tls))
                .with_context(|| format!("cannot listen on {addr}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut listeners = listeners;
    let metrics_socket = config
        .metrics_listen
        .map(|addr| {
            net::bind(addr).with_context(|| format!("cannot listen on --metrics-listen {addr}"))
        })
        .transpose()?;

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

    // In the served namespace, before the mirror's threads start; if
    // nf_conntrack is not loaded yet, again once ctnetlink has loaded it.
    let accounting_pending = config.accounting && !accounting::enable(false);

    let exporting = config.export.is_some();
    if exporting {
        refuse_export_without_accounting(false)?;
    }
    let (observer, export_stats) = match &config.export {
        Some(export) => {
            let (observer, stats) =
                crate::export::start(export).context("cannot start --export")?;
            (Some(observer), Some(stats))
        }
        None => (None, None),
    };
    // Returns once subscribed: the first dump runs in the mirror's thread,
    // and the daemon serves what it has read so far until the table is
    // whole (`FirstDumpWatch`).
    let (mirror, first_dump) = Mirror::start_loading(MirrorConfig {
        resync_interval: config.resync_interval,
        hidden: crate::config::ignore_rule(config.ignore.clone()),
        event_buffer: config.event_buffer,
        reliable_events: config.reliable_events,
        observer,
    })
    .context(FIRST_DUMP_FAILED)?;
    tracing::info!("loading the table mirror; answering meanwhile from what is read");
    if accounting_pending {
        accounting::enable(true);
    }
    if exporting {
        refuse_export_without_accounting(true)?;
    }

    if config.source == Source::Demo {
        demo::start_traffic().context("cannot start the demo traffic")?;
    }

    let loaded = FirstDumpWatch {
        first_dump,
        mirror: mirror.clone(),
    };
    let service = Service::new(
        Arc::new(mirror.clone()),
        Arc::new(Sockets::default()),
        settings(&config, export_stats),
        auth,
    );
    watch_pressure(&service);
    let mut limits = config.net.limits;
    limits.max_connections = net::effective_cap(limits.max_connections, nofile);
    let apps = apps(&service, &config, limits.max_connections);
    if let Some(socket) = metrics_socket {
        listeners.push(Listener {
            socket,
            tls: false,
            app: Some(apps.metrics),
        });
    }

    // What SIGHUP re-reads; each part of the daemon adds its own hook here.
    let mut reloaders = Reloaders::default();
    reloaders.add(
        "configuration",
        crate::reload::configuration(config.clone(), mirror, levels),
    );
    // The password file is also re-read by itself when it changes.
    if matches!(config.auth.method, crate::auth::Method::Password(_)) {
        reloaders.add("password file", move || {
            service.reload_users();
            Ok::<(), std::convert::Infallible>(())
        });
    }
    if let Some(tls) = &tls {
        let tls = tls.clone();
        reloaders.add("TLS certificate", move || tls.reload());
    }

    for listener in &listeners {
        if listener.app.is_some() {
            tracing::info!("serving /metrics on {}metrics", listener.url()?);
        } else {
            tracing::info!("listening on {}", listener.url()?);
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // The listeners are bound: connections made from now on queue until the
    // accept loop below takes them, and are answered while the table loads.
    // READY=1 waits for the whole table; a failed first dump stops the
    // daemon as a failed start.
    let notifier = Arc::new(notifier);
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel();
    let listening = listeners.len();
    {
        let notifier = Arc::clone(&notifier);
        std::thread::Builder::new()
            .name("first-dump".into())
            .spawn(move || {
                if let Err(e) = loaded.wait(&notifier, listening) {
                    let _ = failed_tx.send(e);
                }
            })?;
    }
    let failed = Arc::new(std::sync::Mutex::new(None));
    let shutdown = {
        let failed = Arc::clone(&failed);
        async move {
            tokio::select! {
                () = signals(Arc::new(reloaders)) => notifier.stopping(),
                Ok(e) = failed_rx => {
                    *failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                }
            }
        }
    };
    runtime.block_on(net::serve(apps.main, listeners, tls, limits, shutdown))?;
    let failed = failed
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(e) = failed {
        return Err(anyhow::Error::new(e).context(FIRST_DUMP_FAILED));
    }
    tracing::info!("shut down");
    Ok(())
}

/// What a failed start of the mirror says, before the error's own words.
const FIRST_DUMP_FAILED: &str = "cannot read the connection-tracking table";

/// How often systemd hears how far the first dump got.
const STATUS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The first dump, watched until the mirror is live.
struct FirstDumpWatch {
    first_dump: FirstDump,
    mirror: Mirror,
}

impl FirstDumpWatch {
    /// Waits for the whole table, telling the service manager how far it
    /// got once a second (`STATUS=loading N of M connections`), then logs
    /// that the mirror is live and sends READY=1. Blocking; the error is the
    /// first dump's.
    fn wait(self, notifier: &Notifier, listeners: usize) -> Result<(), MirrorError> {
        loop {
            match self.first_dump.wait_timeout(STATUS_EVERY) {
                None => {
                    if let Some(l) = self.mirror.loading() {
                        notifier.status(&format!(
                            "loading {} of {} connections",
                            l.loaded, l.expected
                        ));
                    }
                }
                Some(Err(e)) => return Err(e),
                Some(Ok(_)) => break,
            }
        }
        let entries = self.mirror.snapshot().len();
        tracing::info!(entries, "table mirror is live");
        notifier.ready(&format!(
            "mirror live with {entries} connections; {listeners} listener(s)"
        ));
        Ok(())
    }
}

/// Judges kernel pressure now, which logs a warning for what is wrong at
/// start, then again every `SAMPLE_EVERY` in a thread of its own, so a rise
/// of `chaintoolong` is logged and shown in `stats` even when nobody calls
/// it. A failed reading is logged and the next one tried.
fn watch_pressure(service: &Service) {
    match service.check_pressure() {
        Ok((_, warnings)) if warnings.is_empty() => {
            tracing::debug!("kernel pressure: none")
        }
        Ok(_) => {} // the tracker logged each warning
        Err(e) => tracing::warn!(error = %e, "cannot read the kernel's statistics"),
    }
    let service = service.clone();
    let spawned = std::thread::Builder::new()
        .name("pressure".into())
        .spawn(move || loop {
            std::thread::sleep(crate::service::SAMPLE_EVERY);
            if let Err(e) = service.check_pressure() {
                tracing::warn!(error = %e, "cannot read the kernel's statistics");
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot watch kernel pressure ({e}); stats and scrapes still judge it");
    }
}

/// What the service takes from `config`, with flow export's counters when
/// `--export` is on.
pub fn settings(config: &Config, export: Option<Arc<crate::export::ExportStats>>) -> Settings {
    Settings {
        session_timeout: config.session_timeout,
        uid_mask: config.uid_mask,
        max_page: config.max_page,
        export,
        pressure_ratio: config.pressure_ratio,
    }
}

/// What the daemon serves over a service.
#[derive(Debug)]
pub struct Apps {
    /// Every front, on each `--listen` address.
    pub main: axum::Router,
    /// `/metrics` alone, open to scrapers: the `--metrics-listen` listener's.
    pub metrics: axum::Router,
}

/// The routers over `service` as `config` sets them up, with at most
/// `max_connections` connections (the cap in force). The in-process tests
/// build theirs here too, so they drive what the daemon serves.
pub fn apps(service: &Service, config: &Config, max_connections: usize) -> Apps {
    let mut listen_addrs = config.listen.clone();
    listen_addrs.extend(config.metrics_listen);
    let allowed_hosts = AllowedHosts::new(&listen_addrs, &config.net.allowed_hosts);
    let main = router::app_with(
        service.clone(),
        router::AppOptions {
            wide_int: config.xmlrpc_wide_int,
            heavy_queue: config.net.heavy_queue,
            allowed_hosts: allowed_hosts.clone(),
            max_streams: router::max_streams(max_connections),
        },
    );
    Apps {
        main,
        metrics: router::metrics_app(service.clone(), allowed_hosts),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn denied() -> anyhow::Error {
        anyhow::Error::new(MirrorError::from(ctnetlink::Error::PermissionDenied))
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
