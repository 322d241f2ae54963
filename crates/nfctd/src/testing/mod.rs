//! The in-process test bed: the routers the daemon serves (`daemon::apps`),
//! built from a command line as the daemon builds them, over a table of
//! rows (`table`) and a fake kernel (`kernel`) instead of the mirror and
//! ctnetlink; requests go straight to the router, as the connection layer
//! hands them over. No socket, namespace or root is needed. XML-RPC calls
//! and replies are in `xmlrpc`, the JSON API's session in `json`.

pub mod json;
pub mod kernel;
pub mod table;
pub mod xmlrpc;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, Response};
use axum::Router;
use clap::Parser as _;
use ctnetlink::Conn;
use tower::ServiceExt as _;

use crate::auth::hash::Hash;
use crate::auth::passwd::{Entry, PasswdFile};
use crate::auth::{Auth, Role};
use crate::config::{Cli, Config};
use crate::daemon;
use crate::service::Service;

pub use kernel::{FakeKernel, Write};
pub use table::Rows;

/// Where requests come from: a client on the host itself.
pub const PEER: &str = "127.0.0.1:40000";
/// What requests name in `Host`: the default listen address.
pub const HOST: &str = "127.0.0.1:8020";

/// `n` distinct connections (TCP, UDP, SCTP, ICMP; IPv4 and IPv6) with ids
/// 1 to `n`.
pub fn conns(n: usize) -> Vec<Conn> {
    let mut conns = ctnetlink::fixtures::synthetic(n);
    for (id, conn) in (1..).zip(&mut conns) {
        conn.id = id;
    }
    conns
}

/// A daemon as `nfctd ARGS` serves it, over connections held alike by its
/// table and its kernel.
#[derive(Debug)]
pub struct Daemon {
    pub app: Router,
    /// What `--metrics-listen` serves.
    pub metrics: Router,
    pub table: Arc<Rows>,
    pub kernel: Arc<FakeKernel>,
    /// The password file's directory, when there is one.
    _users: Option<tempfile::TempDir>,
}

impl Daemon {
    /// `nfctd ARGS` (give `--auth`: without it the default depends on this
    /// machine's /etc/nfctd/passwd).
    pub fn new(args: &[&str], conns: Vec<Conn>) -> Daemon {
        let cli = Cli::try_parse_from(std::iter::once("nfctd").chain(args.iter().copied()));
        let config = Config::from_cli(cli.unwrap()).unwrap();
        let auth = Auth::open(&config.auth).unwrap();
        let table = Arc::new(Rows::new(conns.clone()));
        let kernel = Arc::new(FakeKernel::new(conns));
        let settings = daemon::settings(&config, None);
        let service = Service::new(table.clone(), kernel.clone(), settings, auth);
        let apps = daemon::apps(&service, &config, config.net.limits.max_connections);
        Daemon {
            app: apps.main,
            metrics: apps.metrics,
            table,
            kernel,
            _users: None,
        }
    }

    /// `nfctd --auth password ARGS` with a password file of `users` (name,
    /// password, role), in the format `nfctd passwd add` writes, with
    /// cheaper hashes ([`cheap_hash`]).
    pub fn with_users(users: &[(&str, &str, Role)], args: &[&str], conns: Vec<Conn>) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        let mut file = PasswdFile::default();
        for &(name, password, role) in users {
            file.set(Entry {
                name: name.into(),
                hash: cheap_hash(password),
                role,
            });
        }
        // Written plainly, 0600: the atomic writer's syncs cost more than
        // the rest of a test.
        std::fs::write(&path, file.render()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let path = path.to_str().unwrap();
        let mut all = vec!["--auth", "password", "--passwd-file", path];
        all.extend_from_slice(args);
        Daemon {
            _users: Some(dir),
            ..Daemon::new(&all, conns)
        }
    }

    /// `request` as the connection layer hands it over: with the client's
    /// address.
    pub async fn send(&self, request: Request<Body>) -> Response<Body> {
        send(&self.app, request).await
    }

    /// The same, to the `--metrics-listen` router.
    pub async fn scrape(&self, request: Request<Body>) -> Response<Body> {
        send(&self.metrics, request).await
    }
}

/// An argon2id hash at the lowest cost argon2 allows: checked by the same
/// code as the hashes `nfctd passwd` makes, in microseconds instead of the
/// tenth of a second those take on purpose.
fn cheap_hash(password: &str) -> Hash {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
    let params = Params::new(Params::MIN_M_COST, 1, 1, None).unwrap();
    let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .unwrap();
    Hash::parse(&phc.to_string()).unwrap()
}

async fn send(app: &Router, mut request: Request<Body>) -> Response<Body> {
    let peer: SocketAddr = PEER.parse().unwrap();
    // As the connection layer marks every request it hands the router.
    crate::edge::mark(request.extensions_mut(), peer, false);
    app.clone().oneshot(request).await.unwrap()
}

/// A request as a client on the host sends it: naming the listen address.
pub fn request(method: &str, uri: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, HOST)
}

/// A response's body as text.
pub async fn text(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}
