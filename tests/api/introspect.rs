use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, start, Backend, ServerProcess};

both_backends!(
    introspection_needs_service_tokens,
    introspection_reports_live_sessions_only,
    the_cache_ends_at_a_local_change_or_in_time
);

const SERVICE: &str = "service-token-for-the-chat-backend";

async fn introspection_needs_service_tokens(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.register("ada@example.com").await.access_token();
    // Off when SERVICE_TOKENS is empty, whatever the caller presents.
    app.post("/auth/introspect", &json!({"token": token}), Some(&token))
        .await
        .assert_problem(403, "feature_disabled");

    let app = spawn_app_with(
        backend,
        &[("SERVICE_TOKENS", &format!("other-token, {SERVICE}"))],
    )
    .await;
    let admin = app.register("ada@example.com").await.access_token();
    app.post("/auth/introspect", &json!({"token": admin}), None)
        .await
        .assert_problem(401, "unauthorized");
    app.post("/auth/introspect", &json!({"token": admin}), Some("wrong"))
        .await
        .assert_problem(401, "unauthorized");
    // A user's admin token is not a service credential: a valid caller without the right.
    app.post("/auth/introspect", &json!({"token": admin}), Some(&admin))
        .await
        .assert_problem(403, "forbidden");
    app.post("/auth/introspect", &json!({}), Some(SERVICE))
        .await
        .assert_problem(400, "invalid_request");
    let r = app
        .post(
            "/auth/introspect",
            &json!({"token": admin}),
            Some("other-token"),
        )
        .await;
    assert_eq!(r.body["active"], true);
}

async fn introspection_reports_live_sessions_only(backend: Backend) {
    let app = spawn_app_with(backend, &[("SERVICE_TOKENS", SERVICE)]).await;
    let reg = app.register("ada@example.com").await;
    let token = reg.access_token();
    let r = app
        .post("/auth/introspect", &json!({"token": token}), Some(SERVICE))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["sub"], reg.body["user"]["id"]);
    assert_eq!(r.body["email"], "ada@example.com");
    assert_eq!(r.body["role"], "admin");
    assert!(r.body["sid"].is_string() && r.body["exp"].is_i64());

    for junk in ["", "garbage", "a.b.c"] {
        let r = app
            .post("/auth/introspect", &json!({"token": junk}), Some(SERVICE))
            .await;
        assert_eq!(r.body, json!({"active": false}));
    }
    // Signed out: the JWT has not expired, but the session is gone.
    assert_eq!(
        app.post("/auth/logout", &json!({}), Some(&token))
            .await
            .status,
        204
    );
    let r = app
        .post("/auth/introspect", &json!({"token": token}), Some(SERVICE))
        .await;
    assert_eq!(r.body, json!({"active": false}));
}

/// Introspection reuses what it read for `SESSION_CACHE`: a sign-out through another
/// instance shows once that time has passed; any change made through this instance ends
/// every reuse at once.
async fn the_cache_ends_at_a_local_change_or_in_time(backend: Backend) {
    let service = [("SERVICE_TOKENS", SERVICE), ("SESSION_CACHE", "60000")];
    let app = spawn_app_with(backend, &service).await;
    let token = app.register("ada@example.com").await.access_token();
    let other = app.register("bob@example.com").await.access_token();
    let active = |t: String| {
        let app = &app;
        async move {
            app.post("/auth/introspect", &json!({"token": t}), Some(SERVICE))
                .await
                .body["active"]
                .clone()
        }
    };
    assert_eq!(active(token.clone()).await, true);
    // Ada signs out through another instance (a process of its own).
    let elsewhere = ServerProcess::start(&app.db, &service).await;
    let r = reqwest::Client::new()
        .post(elsewhere.url("/auth/logout"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        active(token.clone()).await,
        true,
        "within the cache time, the answer read before"
    );
    // Bob signs out here: this instance drops what it kept.
    assert_eq!(
        app.post("/auth/logout", &json!({}), Some(&other))
            .await
            .status,
        204
    );
    assert_eq!(active(token.clone()).await, false);

    // With the default (one second), another instance's change shows within it.
    let app = start(app.db.clone(), &[("SERVICE_TOKENS", SERVICE)]).await;
    let token = app
        .login("ada@example.com", crate::helpers::PASSWORD)
        .await
        .access_token();
    assert_eq!(active_at(&app, &token).await, true);
    let r = reqwest::Client::new()
        .post(elsewhere.url("/auth/logout"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(active_at(&app, &token).await, false);
}

async fn active_at(app: &crate::helpers::TestApp, token: &str) -> serde_json::Value {
    app.post("/auth/introspect", &json!({"token": token}), Some(SERVICE))
        .await
        .body["active"]
        .clone()
}
