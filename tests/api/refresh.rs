use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, Backend, PASSWORD};

both_backends!(
    rotates_on_every_use,
    reuse_inside_the_grace_window_gets_an_access_token_only,
    reuse_after_the_window_revokes_the_session,
    zero_grace_makes_any_reuse_theft,
    concurrent_refreshes_both_succeed,
    body_delivery,
    both_delivery,
    cookie_needs_an_allowed_origin,
    bad_tokens_are_refused,
    expired_refresh_token_is_refused,
);

async fn rotates_on_every_use(backend: Backend) {
    let app = spawn_app(backend).await;
    let reg = app.register("ada@example.com").await;
    let first = reg.refresh_cookie_value().unwrap();
    let r = app.refresh().await;
    assert_eq!(r.status, 200, "{}", r.text);
    let second = r.refresh_cookie_value().unwrap();
    assert_ne!(first, second);
    assert_eq!(r.body["user"], reg.body["user"]);
    let me = app.get("/auth/me", Some(&r.access_token())).await;
    assert_eq!(me.status, 200);
    let r = app.refresh().await;
    assert_eq!(r.status, 200);
    assert_ne!(r.refresh_cookie_value().unwrap(), second);
}

async fn reuse_inside_the_grace_window_gets_an_access_token_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let reg = app.register("ada@example.com").await;
    let old = reg.refresh_cookie_value().unwrap();
    assert_eq!(app.refresh().await.status, 200);
    let r = app.refresh_with_cookie(&old, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.refresh_cookie().is_none(),
        "the racing request already set the new cookie"
    );
    assert_eq!(r.body["user"]["email"], "ada@example.com");
    // The session goes on with the rotated token.
    assert_eq!(app.refresh().await.status, 200);
}

async fn reuse_after_the_window_revokes_the_session(backend: Backend) {
    let app = spawn_app_with(backend, &[("REFRESH_REUSE_GRACE", "1")]).await;
    let reg = app.register("ada@example.com").await;
    let stolen = reg.refresh_cookie_value().unwrap();
    let r = app.refresh().await;
    assert_eq!(r.status, 200);
    let access = r.access_token();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let r = app.refresh_with_cookie(&stolen, None).await;
    r.assert_problem(401, "refresh_token_reused");
    // The whole session is gone: the legitimate holder's current token too, and its
    // access token no longer opens anything that checks the session.
    app.refresh().await.assert_problem(401, "unauthorized");
    app.get("/auth/sessions", Some(&access))
        .await
        .assert_problem(401, "unauthorized");
    let again = app.login("ada@example.com", PASSWORD).await.access_token();
    let sessions = app.get("/auth/sessions", Some(&again)).await;
    assert_eq!(sessions.body["sessions"].as_array().unwrap().len(), 1);
}

async fn zero_grace_makes_any_reuse_theft(backend: Backend) {
    let app = spawn_app_with(backend, &[("REFRESH_REUSE_GRACE", "0")]).await;
    let reg = app.register("ada@example.com").await;
    let old = reg.refresh_cookie_value().unwrap();
    assert_eq!(app.refresh().await.status, 200);
    app.refresh_with_cookie(&old, None)
        .await
        .assert_problem(401, "refresh_token_reused");
    app.refresh().await.assert_problem(401, "unauthorized");
}

async fn concurrent_refreshes_both_succeed(backend: Backend) {
    let app = spawn_app(backend).await;
    let reg = app.register("ada@example.com").await;
    let token = reg.refresh_cookie_value().unwrap();
    let (a, b) = tokio::join!(
        app.refresh_with_cookie(&token, None),
        app.refresh_with_cookie(&token, None)
    );
    assert_eq!((a.status, b.status), (200, 200), "{} / {}", a.text, b.text);
    let rotated = [a.refresh_cookie(), b.refresh_cookie()]
        .iter()
        .flatten()
        .count();
    assert_eq!(rotated, 1, "exactly one of the racing requests rotates");
}

async fn body_delivery(backend: Backend) {
    let app = spawn_app_with(backend, &[("REFRESH_TOKEN_DELIVERY", "body")]).await;
    let reg = app.register("ada@example.com").await;
    assert!(reg.refresh_cookie().is_none());
    let token = reg.body["refresh_token"].as_str().unwrap().to_string();
    let r = app.refresh_with(&token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.refresh_cookie().is_none());
    let next = r.body["refresh_token"].as_str().unwrap();
    assert_ne!(next, token);
    assert_eq!(app.refresh_with(next).await.status, 200);
}

async fn both_delivery(backend: Backend) {
    let app = spawn_app_with(backend, &[("REFRESH_TOKEN_DELIVERY", "both")]).await;
    let reg = app.register("ada@example.com").await;
    assert_eq!(
        reg.refresh_cookie_value().as_deref(),
        reg.body["refresh_token"].as_str()
    );
}

async fn cookie_needs_an_allowed_origin(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[("CORS_ORIGINS", "http://app.test, https://chat.example.com")],
    )
    .await;
    let reg = app.register("ada@example.com").await;
    let token = reg.refresh_cookie_value().unwrap();
    app.refresh_with_cookie(&token, Some("https://evil.example.com"))
        .await
        .assert_problem(403, "origin_not_allowed");
    app.refresh_with_cookie(&token, Some("null"))
        .await
        .assert_problem(403, "origin_not_allowed");
    // The refused request did not spend the token.
    let r = app
        .refresh_with_cookie(&token, Some("https://chat.example.com"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // A token in the body is not ambient authority: no origin check.
    let body_token = r.refresh_cookie_value().unwrap();
    let r = crate::helpers::Reply::from(
        crate::helpers::new_client()
            .post(app.url("/auth/refresh"))
            .header("origin", "https://evil.example.com")
            .json(&json!({"refresh_token": body_token}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn bad_tokens_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.refresh().await.assert_problem(401, "unauthorized");
    app.refresh_with("garbage")
        .await
        .assert_problem(401, "unauthorized");
    app.refresh_with(&"A".repeat(43))
        .await
        .assert_problem(401, "unauthorized");
    app.post_raw(
        "/auth/refresh",
        Some("application/json"),
        b"{not json".to_vec(),
    )
    .await
    .assert_problem(400, "invalid_request");
    app.post_raw(
        "/auth/refresh",
        Some("application/json"),
        b"{\"refresh_token\": 5}".to_vec(),
    )
    .await
    .assert_problem(400, "invalid_request");
    app.post_raw("/auth/refresh", Some("text/plain"), b"hello".to_vec())
        .await
        .assert_problem(415, "unsupported_media_type");
    app.post_raw(
        "/auth/refresh",
        Some("application/json"),
        vec![b' '; 70_000],
    )
    .await
    .assert_problem(413, "payload_too_large");
}

async fn expired_refresh_token_is_refused(backend: Backend) {
    let app = spawn_app_with(backend, &[("REFRESH_TOKEN_EXPIRY", "1000")]).await;
    let token = app
        .register("ada@example.com")
        .await
        .refresh_cookie_value()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // Presented anyway (the browser would have dropped it): the server refuses it too.
    app.refresh_with_cookie(&token, None)
        .await
        .assert_problem(401, "unauthorized");
}
