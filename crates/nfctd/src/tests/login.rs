//! Logging in: with a password file (good and bad passwords, each user's
//! role), and with `--auth none`.

use axum::http::StatusCode;
use serde_json::json;

use crate::auth::Role;
use crate::testing::json::refusal;
use crate::testing::xmlrpc::{change, kill, view};
use crate::testing::{conns, Daemon};
use crate::xmlrpc::Value;

fn users() -> Daemon {
    Daemon::with_users(
        &[
            ("alice", "s3cret", Role::Admin),
            ("bob", "hunter2", Role::Viewer),
        ],
        &[],
        conns(4),
    )
}

#[tokio::test]
async fn a_good_password_opens_a_session_and_a_bad_one_is_fault_1() {
    let daemon = users();
    let sid = daemon.login(Some(("alice", "s3cret"))).await;
    assert_eq!(sid.len(), 32, "{sid}");
    let page = daemon.call("view", &view(&sid, Value::Nil)).await.unwrap();
    assert_eq!(page.member("table_size"), Some(&Value::Int(4)));

    let bad = [Value::str("alice"), Value::str("wrong")];
    assert_eq!(daemon.fault("login", &bad).await.code, 1);
    let refused = daemon
        .json_login(json!({"user": "alice", "password": "wrong"}))
        .await
        .unwrap_err();
    assert_eq!(refusal(&refused), (StatusCode::UNAUTHORIZED, "auth_failed"));
}

#[tokio::test]
async fn each_user_gets_the_role_of_the_password_file_and_a_viewer_cannot_kill() {
    let daemon = users();
    for (user, password, role) in [("alice", "s3cret", "admin"), ("bob", "hunter2", "viewer")] {
        let session = daemon
            .json_login(json!({"user": user, "password": password}))
            .await
            .unwrap();
        let (status, me) = daemon.get("/api/v1/session", &session).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (me["user"].as_str(), me["role"].as_str()),
            (Some(user), Some(role))
        );
    }

    let viewer = daemon.login(Some(("bob", "hunter2"))).await;
    assert_eq!(daemon.fault("kill", &kill(&viewer, &["1"])).await.code, 3);
    let mark = change(&viewer, "mark", "1", 7);
    assert_eq!(daemon.fault("change", &mark).await.code, 3);
    let bob = json!({"user": "bob", "password": "hunter2"});
    let session = daemon.json_login(bob).await.unwrap();
    let reply = daemon
        .json("DELETE", "/api/v1/connections/1", Some(&session), None)
        .await;
    assert_eq!(refusal(&reply), (StatusCode::FORBIDDEN, "denied"));
    assert!(
        daemon.kernel.writes().is_empty(),
        "nothing reached the kernel"
    );
    assert_eq!(daemon.kernel.conns().len(), 4);
}

#[tokio::test]
async fn without_authentication_anyone_is_an_admin() {
    let daemon = Daemon::new(&["--auth", "none"], conns(2));
    let sid = daemon.login(None).await;
    let killed = daemon.call("kill", &kill(&sid, &["1"])).await.unwrap();
    assert_eq!(killed.member("killed"), Some(&Value::Int(1)));
}
