use crate::both_backends;
use crate::helpers::{spawn_app, Backend};

both_backends!(
    unknown_routes_and_methods_are_problems,
    a_body_must_be_an_object
);

async fn unknown_routes_and_methods_are_problems(backend: Backend) {
    let app = spawn_app(backend).await;
    app.get("/nope", None)
        .await
        .assert_problem(404, "not_found");
    app.get("/auth/sessions/extra/segments", None)
        .await
        .assert_problem(404, "not_found");
    let r = app.get("/auth/register", None).await;
    r.assert_problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST"));
    let r = app.send(reqwest::Method::PUT, "/auth/me", None, None).await;
    r.assert_problem(405, "method_not_allowed");
    let allow = r.header("allow").unwrap();
    assert!(allow.contains("GET") && allow.contains("PATCH"), "{allow}");
    // A path two templates match allows what the document lists for the more specific
    // one (`/auth/passkeys/login`, not `/auth/passkeys/{id}`).
    let r = app.get("/auth/passkeys/login", None).await;
    r.assert_problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST"));
    // Security headers on every answer.
    let r = app.get("/healthz", None).await;
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
}

/// Found by Schemathesis: serde fills a struct from an array by position, so `[null, null]`
/// signed out as `{}` would. Every body must be an object.
async fn a_body_must_be_an_object(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let token = app.register("ada@example.com").await.access_token();
    // Whitespace is not "no body" either (a form feed is not even JSON's whitespace).
    for body in [
        "[null, null]",
        "[\"ada@example.com\", \"x\"]",
        "null",
        "7",
        "\x0c",
        "\n",
    ] {
        let r = app
            .client
            .post(app.url("/auth/logout"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        crate::helpers::Reply::from(r)
            .await
            .assert_problem(400, "invalid_request");
        app.post_raw(
            "/auth/login",
            Some("application/json"),
            body.as_bytes().to_vec(),
        )
        .await
        .assert_problem(400, "invalid_request");
    }
    // The session is still there.
    assert_eq!(app.get("/auth/me", Some(&token)).await.status, 200);
}
