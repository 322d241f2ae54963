//! The connection layer under the HTTP routes: accept loops for HTTP and
//! HTTPS listeners, the per-connection limits (header, body and idle
//! timeouts, bounded request memory, a cap on open connections, back-off on
//! accept errors), TLS, and the open-file limit. Our own accept loop (hyper-util + tokio-rustls rather
//! than `axum::serve` or axum-server) because neither of those can evict a
//! silent connection to make room, time out a TLS handshake together with
//! the request head, or close idle keep-alive connections.

mod body;
mod conns;
pub mod inbound;
pub mod tls;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse as _;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower_service::Service as _;

pub use conns::ConnLimits;
use conns::{Conn, Registry};
pub use tls::{Tls, TlsFiles};

/// How long shutdown waits for requests in flight before it gives up on them.
const DRAIN: Duration = Duration::from_secs(10);
/// Pause after an accept error that is not about the one connection (EMFILE,
/// ENFILE, ENOBUFS): retrying at once would spin on the same error.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Descriptors kept out of the connection cap for everything else (netlink
/// sockets, the request-socket pool, files read on reload).
const RESERVED_FDS: u64 = 64;

/// One bound listener, whether it speaks TLS, and what it serves when that is
/// not the main app (the `--metrics-listen` listener serves only /metrics).
#[derive(Debug)]
pub struct Listener {
    pub socket: std::net::TcpListener,
    pub tls: bool,
    pub app: Option<Router>,
}

impl Listener {
    /// A listener of the main app.
    pub fn main(socket: std::net::TcpListener, tls: bool) -> Listener {
        Listener {
            socket,
            tls,
            app: None,
        }
    }

    pub fn url(&self) -> io::Result<String> {
        let scheme = if self.tls { "https" } else { "http" };
        Ok(format!("{scheme}://{}/", self.socket.local_addr()?))
    }
}

/// Pending connections the kernel queues for accept. A burst beyond the
/// queue has its handshakes dropped, and those clients only come back on
/// their retransmission timers (1 s, 2 s, 4 s...), late for everything: so
/// well above std's 128 (the kernel caps it at `net.core.somaxconn`).
const BACKLOG: i32 = 4096;

/// Binds a listening TCP socket with a deep accept queue ([`BACKLOG`]).
pub fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    // As std does: a restarted daemon can bind while old connections linger in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Raises the soft RLIMIT_NOFILE to the hard limit, so that a flood of sockets
/// reaches the connection cap (which evicts) long before the process runs out
/// of descriptors (which stalls accept for everyone). Returns the soft limit now
/// in force.
pub fn raise_nofile_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => {
                tracing::info!(
                    from = soft,
                    to = hard,
                    "raised the open-file limit (RLIMIT_NOFILE) to its hard limit"
                );
                hard
            }
            Err(errno) => {
                tracing::warn!(soft, hard, %errno, "cannot raise the open-file limit");
                soft
            }
        },
        Ok((soft, _)) => {
            tracing::info!(
                limit = soft,
                "open-file limit (RLIMIT_NOFILE) already at its hard limit"
            );
            soft
        }
        Err(errno) => {
            tracing::warn!(%errno, "cannot read the open-file limit");
            1024
        }
    }
}

/// The connection cap in force: the configured one, lowered to fit the open-file limit.
pub fn effective_cap(configured: usize, nofile: u64) -> usize {
    let fit = nofile.saturating_sub(RESERVED_FDS).max(1);
    let fit = usize::try_from(fit).unwrap_or(usize::MAX);
    if fit < configured {
        tracing::warn!(
            configured,
            used = fit,
            "--max-connections lowered to fit the open-file limit"
        );
    }
    configured.min(fit)
}

/// Serves `app` on every listener until `shutdown` resolves, then lets
/// requests in flight finish (for at most [`DRAIN`]).
pub async fn serve(
    app: Router,
    listeners: Vec<Listener>,
    tls: Option<Tls>,
    limits: ConnLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let registry = Arc::new(Registry::default());
    let bodies = inbound::SharedBodies::new(inbound::SHARED_BODIES);
    let mut loops = Vec::new();
    for listener in listeners {
        listener.socket.set_nonblocking(true)?;
        let socket = TcpListener::from_std(listener.socket)?;
        let tls = match (listener.tls, &tls) {
            (false, _) => None,
            (true, Some(tls)) => Some(tls.clone()),
            (true, None) => {
                return Err(io::Error::other("an HTTPS listener without a certificate"))
            }
        };
        let ctx = Ctx {
            app: listener.app.unwrap_or_else(|| app.clone()),
            tls,
            limits,
            registry: Arc::clone(&registry),
            bodies: Arc::clone(&bodies),
            stop: stop_rx.clone(),
        };
        loops.push(tokio::spawn(accept_loop(socket, ctx)));
    }
    shutdown.await;
    let _ = stop_tx.send(true);
    for accept in loops {
        accept.await.map_err(io::Error::other)?;
    }
    let left = registry.drained(DRAIN).await;
    if left > 0 {
        tracing::warn!(connections = left, "shut down with requests still running");
    }
    Ok(())
}

/// What every connection task needs.
#[derive(Debug, Clone)]
struct Ctx {
    app: Router,
    tls: Option<Tls>,
    limits: ConnLimits,
    registry: Arc<Registry>,
    /// The pool large request bodies share.
    bodies: Arc<inbound::SharedBodies>,
    stop: watch::Receiver<bool>,
}

async fn accept_loop(listener: TcpListener, ctx: Ctx) {
    let mut stop = ctx.stop.clone();
    let mut last_warning: Option<tokio::time::Instant> = None;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped(&mut stop) => return,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                // Out of descriptors or memory: make room by closing the
                // longest-silent connection, and do not spin on the error.
                let evicted = ctx.registry.evict_one();
                if last_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    tracing::warn!(error = %e, open = ctx.registry.len(), evicted, "accept failed; backing off");
                    last_warning = Some(tokio::time::Instant::now());
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Some(admitted) = ctx.registry.admit(ctx.limits.max_connections) else {
            // Every connection is running a request: close this one at once
            // (the client sees a reset and may retry) rather than leave it
            // unanswered in the backlog.
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let conn = Arc::clone(&admitted.conn);
            conn.started();
            tokio::select! {
                _ = connection(stream, peer, &conn, &ctx) => {}
                why = conn.expired(&ctx.limits) => {
                    tracing::debug!(%peer, reason = why.as_str(), "connection closed");
                }
            }
            drop(admitted);
        });
    }
}

/// Resolves once shutdown has begun (the guard `wait_for` returns is not
/// `Send`, so it must not live across the caller's awaits).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Errors that concern only the connection being accepted; the next accept is fine.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}

async fn connection(stream: TcpStream, peer: SocketAddr, conn: &Arc<Conn>, ctx: &Ctx) {
    let io = Watched {
        io: stream,
        conn: Arc::clone(conn),
    };
    match &ctx.tls {
        None => http1(io, peer, false, conn, ctx).await,
        Some(tls) => match tls.acceptor().accept(io).await {
            Ok(io) => http1(io, peer, true, conn, ctx).await,
            // Plain HTTP, a scanner, or a client that distrusts our certificate.
            Err(e) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
        },
    }
}

async fn http1<IO>(io: IO, peer: SocketAddr, tls: bool, conn: &Arc<Conn>, ctx: &Ctx)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let app = ctx.app.clone();
    let tracker = Arc::clone(conn);
    let bodies = Arc::clone(&ctx.bodies);
    let body_limits = inbound::BodyLimits {
        max_body: inbound::MAX_BODY,
        own: inbound::OWN_BODY,
        pause: ctx.limits.header_timeout,
        total: inbound::BODY_TIMEOUT,
    };
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        crate::edge::mark(req.extensions_mut(), peer, tls);
        let mut app = app.clone();
        let tracker = Arc::clone(&tracker);
        let bodies = Arc::clone(&bodies);
        async move {
            let (parts, incoming) = req.into_parts();
            // The whole body first, so no route holds hyper's buffers or
            // runs while a client dawdles over its body.
            let (body, _held) = if http_body::Body::is_end_stream(&incoming) {
                (axum::body::Body::empty(), None)
            } else {
                tracker.receiving();
                match inbound::read(incoming, &body_limits, &bodies).await {
                    Ok((bytes, held)) => (axum::body::Body::from(bytes), Some(held)),
                    Err(refusal) => {
                        tracing::debug!(%peer, ?refusal, "request body refused");
                        tracker.busy();
                        let response = refusal.into_response();
                        return Ok(response.map(|b| body::Tracked::new(b, tracker)));
                    }
                }
            };
            tracker.busy();
            // What the debug line names, taken only when it will be written.
            let logged = tracing::enabled!(tracing::Level::DEBUG).then(|| {
                let path = parts.uri.path().to_owned();
                (std::time::Instant::now(), parts.method.clone(), path)
            });
            let req = axum::extract::Request::from_parts(parts, body);
            std::future::poll_fn(|cx| {
                tower_service::Service::<axum::extract::Request>::poll_ready(&mut app, cx)
            })
            .await?;
            // Idle only once the body is out: see `body`.
            let response = app.call(req).await?;
            if let Some((started, method, path)) = logged {
                tracing::debug!(%peer, %method, path, status = response.status().as_u16(),
                    ms = started.elapsed().as_millis(), "request answered");
            }
            Ok::<_, std::convert::Infallible>(response.map(|b| body::Tracked::new(b, tracker)))
        }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        // Our own timers (conns.rs) cover the head, including the TLS handshake.
        .header_read_timeout(None)
        // What a connection may hold before its head is complete; the buffer
        // alone is checked only while a head is still incomplete, so a head
        // read whole in one go is held to the size too.
        .max_buf_size(inbound::MAX_HEAD)
        .max_header_size(inbound::MAX_HEAD)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(served);
    let mut stop = ctx.stop.clone();
    let result = tokio::select! {
        result = served.as_mut() => result,
        _ = stopped(&mut stop) => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// A connection's byte stream, telling its [`Conn`] when bytes arrive (the
/// moment an idle keep-alive connection starts its next request head).
#[derive(Debug)]
struct Watched {
    io: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.saw_bytes();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
