use crate::both_backends;
use crate::helpers::{spawn_app, Backend};

both_backends!(unknown_routes_and_methods_are_problems);

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
    // Security headers on every answer.
    let r = app.get("/healthz", None).await;
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
}
