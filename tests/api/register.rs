use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, Backend, PASSWORD};

both_backends!(
    registers_and_signs_in,
    first_account_is_admin,
    emails_are_unique_regardless_of_case,
    rules_are_checked,
    registration_can_be_switched_off,
    default_cookie_is_secure_and_strict,
);

async fn registers_and_signs_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .post(
            "/auth/register",
            &json!({"email": " Ada@Example.COM ", "password": PASSWORD, "name": "Ada Lovelace", "extra": 1}),
            None,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let user = &r.body["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["email_verified"], false);
    assert!(
        uuid::Uuid::parse_str(user["id"].as_str().unwrap())
            .unwrap()
            .get_version_num()
            == 7
    );
    assert!(chrono::DateTime::parse_from_rfc3339(user["created_at"].as_str().unwrap()).is_ok());
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    assert!(chrono::DateTime::parse_from_rfc3339(r.body["expires_at"].as_str().unwrap()).is_ok());
    assert!(
        r.body.get("refresh_token").is_none(),
        "cookie delivery keeps it out of the body"
    );
    assert!(r.refresh_cookie().is_some());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // No password material in the answer.
    assert!(!r.text.contains("scrypt") && !r.text.contains(PASSWORD));

    let me = app.get("/auth/me", Some(&r.access_token())).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body, r.body["user"]);

    // The name defaults to the email's local part.
    let r = app
        .post(
            "/auth/register",
            &json!({"email": "grace@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.body["user"]["name"], "grace");
}

async fn first_account_is_admin(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.register("first@example.com").await;
    let second = app.register("second@example.com").await;
    assert_eq!(first.body["user"]["role"], "admin");
    assert_eq!(second.body["user"]["role"], "user");
}

async fn emails_are_unique_regardless_of_case(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com").await;
    let r = app
        .post(
            "/auth/register",
            &json!({"email": "ADA@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    r.assert_problem(409, "email_taken");
}

async fn rules_are_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .post(
            "/auth/register",
            &json!({"email": "not-an-email", "password": "short", "name": " "}),
            None,
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let errors: Vec<(String, String)> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().into(),
                e["code"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            ("email".into(), "invalid_email".into()),
            ("password".into(), "too_short".into()),
            ("name".into(), "required".into())
        ]
    );

    // An address with a display name or a quoted local part would be a second account
    // for the mailbox inside it.
    for email in ["Ada <ada@example.com>", "\"ada\"@example.com"] {
        let r = app
            .post(
                "/auth/register",
                &json!({"email": email, "password": PASSWORD}),
                None,
            )
            .await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["code"], "invalid_email", "{email}");
    }

    // NUL bytes never reach the database (PostgreSQL text cannot hold them).
    let r = app
        .post(
            "/auth/register",
            &json!({"email": "a\u{0}@example.com", "password": PASSWORD, "name": "a\u{0}"}),
            None,
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"].as_array().unwrap().len(), 2, "{}", r.text);

    let r = app
        .post(
            "/auth/register",
            &json!({"email": "a@example.com", "password": "password123"}),
            None,
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["code"], "too_common");
    let long = "x".repeat(1025);
    let r = app
        .post(
            "/auth/register",
            &json!({"email": "a@example.com", "password": long}),
            None,
        )
        .await;
    assert_eq!(r.body["errors"][0]["code"], "too_long");

    // Malformed, mistyped and missing fields are 400.
    app.post("/auth/register", &json!({"email": "a@example.com"}), None)
        .await
        .assert_problem(400, "invalid_request");
    app.post(
        "/auth/register",
        &json!({"email": 5, "password": PASSWORD}),
        None,
    )
    .await
    .assert_problem(400, "invalid_request");
    app.post("/auth/register", &json!(["a"]), None)
        .await
        .assert_problem(400, "invalid_request");
    app.post_raw(
        "/auth/register",
        Some("application/json"),
        b"{\"email\":".to_vec(),
    )
    .await
    .assert_problem(400, "invalid_request");
    app.post_raw("/auth/register", Some("text/plain"), b"{}".to_vec())
        .await
        .assert_problem(415, "unsupported_media_type");
    app.post_raw("/auth/register", None, b"{}".to_vec())
        .await
        .assert_problem(415, "unsupported_media_type");
    let big = serde_json::to_vec(
        &json!({"email": "a@example.com", "password": PASSWORD, "name": "x".repeat(70_000)}),
    )
    .unwrap();
    app.post_raw("/auth/register", Some("application/json"), big)
        .await
        .assert_problem(413, "payload_too_large");

    // Nothing was created by any of that.
    let r = app.login("a@example.com", PASSWORD).await;
    r.assert_problem(401, "invalid_credentials");
}

async fn registration_can_be_switched_off(backend: Backend) {
    let app = spawn_app_with(backend, &[("ALLOW_REGISTRATION", "false")]).await;
    let r = app
        .post(
            "/auth/register",
            &json!({"email": "ada@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    r.assert_problem(403, "feature_disabled");
}

async fn default_cookie_is_secure_and_strict(backend: Backend) {
    let app = spawn_app_with(backend, &[("COOKIE_SECURE", "true")]).await;
    let r = app.register("ada@example.com").await;
    let cookie = r.refresh_cookie().unwrap();
    let attrs: Vec<&str> = cookie.split(';').map(str::trim).collect();
    for expected in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/auth",
        "Max-Age=604800",
    ] {
        assert!(
            attrs.contains(&expected),
            "{expected} missing from {cookie}"
        );
    }
    let value = r.refresh_cookie_value().unwrap();
    assert_eq!(value.len(), 43, "256 bits, base64url");

    let lax = spawn_app_with(
        backend,
        &[
            ("COOKIE_SAMESITE", "lax"),
            ("REFRESH_TOKEN_EXPIRY", "1000 * 60 * 60"),
        ],
    )
    .await;
    let cookie = lax
        .register("ada@example.com")
        .await
        .refresh_cookie()
        .unwrap();
    assert!(
        cookie.contains("SameSite=Lax")
            && cookie.contains("Max-Age=3600")
            && !cookie.contains("Secure"),
        "{cookie}"
    );
}
