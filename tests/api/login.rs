use diesel::prelude::*;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, start, Backend, PASSWORD};
use latch::db::schema::users;

both_backends!(
    signs_in_with_any_case,
    failures_are_indistinguishable,
    email_login_can_be_switched_off,
    disabled_account_is_refused_after_the_password,
    hash_is_upgraded_when_the_cost_changes,
);

async fn signs_in_with_any_case(backend: Backend) {
    let app = spawn_app(backend).await;
    let reg = app.register("ada@example.com").await;
    let r = app.login("ADA@Example.com", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"], reg.body["user"]);
    assert!(r.refresh_cookie().is_some());
    assert_ne!(r.access_token(), reg.access_token());
}

async fn failures_are_indistinguishable(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com").await;
    let wrong_password = app.login("ada@example.com", "not the password").await;
    let unknown = app.login("nobody@example.com", PASSWORD).await;
    let malformed = app.login("nobody", PASSWORD).await;
    let hostile = app.login("nobody\u{0}@example.com'; --", PASSWORD).await;
    for r in [&wrong_password, &unknown, &malformed, &hostile] {
        r.assert_problem(401, "invalid_credentials");
        assert!(r
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer")));
        assert!(r.refresh_cookie().is_none());
    }
    assert_eq!(wrong_password.text, unknown.text);
    assert_eq!(unknown.text, malformed.text);
    assert_eq!(malformed.text, hostile.text);
    // Missing fields are a malformed request, not a failed sign-in.
    app.post("/auth/login", &json!({"email": "ada@example.com"}), None)
        .await
        .assert_problem(400, "invalid_request");
}

async fn email_login_can_be_switched_off(backend: Backend) {
    let app = spawn_app_with(backend, &[("ALLOW_EMAIL_LOGIN", "false")]).await;
    let r = app.login("ada@example.com", PASSWORD).await;
    r.assert_problem(403, "feature_disabled");
}

async fn disabled_account_is_refused_after_the_password(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com").await;
    diesel::update(users::table)
        .set(users::disabled.eq(true))
        .execute(&mut app.db_conn())
        .unwrap();
    app.login("ada@example.com", "not the password")
        .await
        .assert_problem(401, "invalid_credentials");
    app.login("ada@example.com", PASSWORD)
        .await
        .assert_problem(403, "account_disabled");
    // Its session stops at the next refresh.
    app.refresh().await.assert_problem(403, "account_disabled");
}

fn stored_hash(app: &crate::helpers::TestApp) -> String {
    users::table
        .select(users::password_hash)
        .first::<Option<String>>(&mut app.db_conn())
        .unwrap()
        .unwrap()
}

async fn hash_is_upgraded_when_the_cost_changes(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com").await;
    let before = stored_hash(&app);
    assert!(before.starts_with("$scrypt$ln=10,r=8,p=1$"), "{before}");

    let restarted = start(app.db.clone(), &[("SCRYPT_LOG_N", "11")]).await;
    restarted
        .login("ada@example.com", "wrong password here")
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(
        stored_hash(&app),
        before,
        "a failed sign-in changes nothing"
    );
    assert_eq!(
        restarted.login("ada@example.com", PASSWORD).await.status,
        200
    );
    let after = stored_hash(&app);
    assert!(after.starts_with("$scrypt$ln=11,r=8,p=1$"), "{after}");
    assert_eq!(
        restarted.login("ada@example.com", PASSWORD).await.status,
        200
    );
    assert_eq!(
        stored_hash(&app),
        after,
        "no rehash when the cost is current"
    );
}
