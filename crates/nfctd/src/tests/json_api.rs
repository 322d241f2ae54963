//! The JSON API's session: the cookie, the CSRF token every change needs,
//! logging out.

use axum::http::StatusCode;
use serde_json::json;

use crate::testing::json::{refusal, Session};
use crate::testing::{conns, Daemon};

#[tokio::test]
async fn the_cookie_reads_and_the_csrf_token_is_needed_to_change() {
    let daemon = Daemon::new(&["--auth", "none"], conns(3));
    let session = daemon.json_login(json!({"user": "ops"})).await.unwrap();
    assert!(
        session.cookie.starts_with("nfctd_session="),
        "{}",
        session.cookie
    );
    let (status, me) = daemon.get("/api/v1/session", &session).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user"], "ops");
    assert_eq!(me["csrf_token"].as_str(), Some(session.csrf.as_str()));
    let (status, page) = daemon.get("/api/v1/connections?length=10", &session).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 3);

    let forged = Session {
        csrf: "0".repeat(64),
        ..session.clone()
    };
    let reply = daemon
        .json("DELETE", "/api/v1/connections/1", Some(&forged), None)
        .await;
    assert_eq!(refusal(&reply), (StatusCode::FORBIDDEN, "csrf"));
    assert!(daemon.kernel.writes().is_empty());

    let (status, _) = daemon
        .json("DELETE", "/api/v1/session", Some(&session), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let reply = daemon.get("/api/v1/connections", &session).await;
    assert_eq!(refusal(&reply), (StatusCode::UNAUTHORIZED, "no_session"));
}

#[tokio::test]
async fn without_a_cookie_there_is_no_session() {
    let daemon = Daemon::new(&["--auth", "none"], conns(1));
    let reply = daemon.json("GET", "/api/v1/stats", None, None).await;
    assert_eq!(refusal(&reply), (StatusCode::UNAUTHORIZED, "no_session"));
}
