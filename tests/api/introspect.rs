use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, Backend};

both_backends!(
    introspection_needs_service_tokens,
    introspection_reports_live_sessions_only
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
