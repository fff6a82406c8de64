use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, Backend, Reply, PASSWORD};

both_backends!(
    me_needs_a_token,
    updates_the_name,
    changes_the_password,
    password_change_checks_its_input,
    dev_login_only_when_switched_on,
);

async fn me_needs_a_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.get("/auth/me", None).await;
    r.assert_problem(401, "unauthorized");
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    app.get("/auth/me", Some("eyJhbGciOiJub25lIn0.e30."))
        .await
        .assert_problem(401, "unauthorized");
    let r = Reply::from(
        app.client
            .get(app.url("/auth/me"))
            .header("authorization", "Basic YTpi")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(401, "unauthorized");
}

async fn updates_the_name(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.register("ada@example.com").await.access_token();
    let r = app
        .send(
            reqwest::Method::PATCH,
            "/auth/me",
            Some(&json!({"name": "  Ada L.  "})),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "Ada L.");
    assert_eq!(
        app.get("/auth/me", Some(&token)).await.body["name"],
        "Ada L."
    );
    // Nothing to change is fine; bad values are not.
    assert_eq!(
        app.send(
            reqwest::Method::PATCH,
            "/auth/me",
            Some(&json!({})),
            Some(&token)
        )
        .await
        .body["name"],
        "Ada L."
    );
    let r = app
        .send(
            reqwest::Method::PATCH,
            "/auth/me",
            Some(&json!({"name": ""})),
            Some(&token),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "name");
    app.send(
        reqwest::Method::PATCH,
        "/auth/me",
        Some(&json!({"name": 7})),
        Some(&token),
    )
    .await
    .assert_problem(400, "invalid_request");
    app.send(
        reqwest::Method::PATCH,
        "/auth/me",
        Some(&json!({"name": "x"})),
        None,
    )
    .await
    .assert_problem(401, "unauthorized");
}

async fn changes_the_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let reg = app.register("ada@example.com").await;
    let (other, _) = app.login_as_device("ada@example.com").await;
    let new_password = "a brand new passphrase";
    let r = app
        .post(
            "/auth/password/change",
            &json!({"current_password": PASSWORD, "new_password": new_password}),
            Some(&reg.access_token()),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // Other sessions are out; this one goes on.
    let r = Reply::from(other.post(app.url("/auth/refresh")).send().await.unwrap()).await;
    r.assert_problem(401, "unauthorized");
    assert_eq!(app.refresh().await.status, 200);
    app.login("ada@example.com", PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(app.login("ada@example.com", new_password).await.status, 200);
}

async fn password_change_checks_its_input(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.register("ada@example.com").await.access_token();
    let r = app
        .post(
            "/auth/password/change",
            &json!({"current_password": "wrong one!", "new_password": "a brand new passphrase"}),
            Some(&token),
        )
        .await;
    r.assert_problem(403, "invalid_credentials");
    let r = app
        .post(
            "/auth/password/change",
            &json!({"current_password": PASSWORD, "new_password": "short"}),
            Some(&token),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "new_password");
    app.post(
        "/auth/password/change",
        &json!({"current_password": PASSWORD}),
        Some(&token),
    )
    .await
    .assert_problem(400, "invalid_request");
    app.post(
        "/auth/password/change",
        &json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
        None,
    )
    .await
    .assert_problem(401, "unauthorized");
    // The old password still works after all those refusals.
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status, 200);
}

async fn dev_login_only_when_switched_on(backend: Backend) {
    let app = spawn_app(backend).await;
    app.post(
        "/auth/dev-login",
        &json!({"email": "dev@example.com"}),
        None,
    )
    .await
    .assert_problem(403, "feature_disabled");
    let dev = spawn_app_with(backend, &[("DEV_LOGIN", "true")]).await;
    let r = dev
        .post(
            "/auth/dev-login",
            &json!({"email": "Dev@Example.com"}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["email"], "dev@example.com");
    assert_eq!(
        r.body["user"]["role"], "admin",
        "the first account is admin however it was made"
    );
    let again = dev
        .post(
            "/auth/dev-login",
            &json!({"email": "dev@example.com"}),
            None,
        )
        .await;
    assert_eq!(again.body["user"]["id"], r.body["user"]["id"]);
    dev.post("/auth/dev-login", &json!({"email": "nope"}), None)
        .await
        .assert_problem(422, "validation_failed");
    // An account made this way has no password to sign in with.
    dev.login("dev@example.com", PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
}
