use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, Backend, Reply};

both_backends!(
    logout_ends_this_session_only,
    logout_all_ends_every_session,
    logout_with_the_cookie_alone,
    logout_needs_a_credential,
);

async fn logout_ends_this_session_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let reg = app.register("ada@example.com").await;
    let (other, _) = app.login_as_device("ada@example.com").await;
    let r = app
        .post("/auth/logout", &json!({}), Some(&reg.access_token()))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.text.is_empty());
    let cleared = r.refresh_cookie().unwrap();
    assert!(
        cleared.contains("Max-Age=0") && cleared.contains("Path=/auth"),
        "{cleared}"
    );
    // This device is out; the other still refreshes.
    app.refresh_with_cookie(&reg.refresh_cookie_value().unwrap(), None)
        .await
        .assert_problem(401, "unauthorized");
    let r = Reply::from(other.post(app.url("/auth/refresh")).send().await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn logout_all_ends_every_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let reg = app.register("ada@example.com").await;
    let (other, _) = app.login_as_device("ada@example.com").await;
    let r = app
        .post(
            "/auth/logout",
            &json!({"scope": "all"}),
            Some(&reg.access_token()),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = Reply::from(other.post(app.url("/auth/refresh")).send().await.unwrap()).await;
    r.assert_problem(401, "unauthorized");
    app.post(
        "/auth/logout",
        &json!({"scope": "everything"}),
        Some(&reg.access_token()),
    )
    .await
    .assert_problem(400, "invalid_request");
}

async fn logout_with_the_cookie_alone(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com").await;
    let r = app.post_raw("/auth/logout", None, Vec::new()).await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.refresh().await.assert_problem(401, "unauthorized");
}

async fn logout_needs_a_credential(backend: Backend) {
    let app = spawn_app(backend).await;
    app.post_raw("/auth/logout", None, Vec::new())
        .await
        .assert_problem(401, "unauthorized");
    app.post("/auth/logout", &json!({}), Some("not.a.jwt"))
        .await
        .assert_problem(401, "unauthorized");
}
