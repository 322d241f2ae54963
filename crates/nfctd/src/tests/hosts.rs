//! The Host and Origin guard in front of every route.

use axum::body::Body;
use axum::http::{header, StatusCode};

use crate::testing::xmlrpc::call;
use crate::testing::{conns, request, Daemon, HOST};

fn rpc(host: &str) -> axum::http::Request<Body> {
    axum::http::Request::builder()
        .method("POST")
        .uri("/RPC2")
        .header(header::HOST, host)
        .body(call("system.listMethods", &[]).into())
        .unwrap()
}

#[tokio::test]
async fn a_foreign_host_is_refused_on_every_route() {
    let daemon = Daemon::new(&["--auth", "none"], conns(1));
    for path in ["/healthz", "/", "/api/v1/openapi.json", "/no/such/route"] {
        let get = axum::http::Request::get(path)
            .header(header::HOST, "rebound.example")
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            daemon.send(get).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert_eq!(
        daemon.send(rpc("rebound.example:8020")).await.status(),
        StatusCode::FORBIDDEN
    );
    for allowed in [HOST, "localhost:8020", "[::1]:8020"] {
        assert_eq!(
            daemon.send(rpc(allowed)).await.status(),
            StatusCode::OK,
            "{allowed}"
        );
    }
    let metrics = axum::http::Request::get("/metrics")
        .header(header::HOST, "rebound.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(daemon.scrape(metrics).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn allowed_host_names_pass() {
    let daemon = Daemon::new(
        &["--auth", "none", "--allowed-host", "nfctd.example"],
        conns(1),
    );
    assert_eq!(
        daemon.send(rpc("nfctd.example:8020")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        daemon.send(rpc("other.example")).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_change_from_another_origin_is_refused() {
    let daemon = Daemon::new(&["--auth", "none"], conns(1));
    let from = |origin: &str| {
        request("POST", "/api/v1/session")
            .header(header::ORIGIN, origin)
            .body(Body::from("{}"))
            .unwrap()
    };
    let cross = daemon.send(from("https://attacker.example")).await;
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    let same = daemon.send(from(&format!("http://{HOST}"))).await;
    assert_eq!(same.status(), StatusCode::OK);
}
