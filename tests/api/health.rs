use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, Backend};

both_backends!(
    liveness_and_readiness,
    metrics_count_sign_ins,
    jwks_publishes_the_signing_key,
    config_reflects_settings
);

async fn liveness_and_readiness(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.get("/healthz", None).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"status": "ok"})));
    let r = app.get("/readyz", None).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"status": "ready"}))
    );
}

async fn metrics_count_sign_ins(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com").await;
    let r = app.login("ada@example.com", crate::helpers::PASSWORD).await;
    assert_eq!(r.status, 200);
    app.login("ada@example.com", "wrong password!").await;
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = res.text().await.unwrap();
    assert!(
        text.contains(r#"latch_sign_ins_total{method="password",result="success"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"latch_sign_ins_total{method="password",result="failure"} 1"#),
        "{text}"
    );
    assert!(text.contains("latch_http_requests_total"), "{text}");
}

async fn jwks_publishes_the_signing_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(r.status, 200);
    let keys = r.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("EC"), Some("P-256"), Some("ES256"))
    );
    assert!(key["kid"].is_string());
    assert!(
        key.get("d").is_none(),
        "the private part must never be published"
    );

    // A second instance on the same database signs with the same key.
    let second = crate::helpers::start(app.db.clone(), &[]).await;
    let again = second.get("/.well-known/jwks.json", None).await;
    assert_eq!(again.body, r.body);
}

async fn config_reflects_settings(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.get("/auth/config", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({"password_login": true, "registration": true, "magic_link": false,
               "social_login": false, "social_registration": false, "dev_login": false,
               "invite_required": false, "has_email": false, "require_email_verification": false,
               "providers": [], "password_min_length": 8})
    );
    let off = crate::helpers::spawn_app_with(
        backend,
        &[
            ("ALLOW_REGISTRATION", "false"),
            ("ALLOW_EMAIL_LOGIN", "false"),
            ("DEV_LOGIN", "true"),
        ],
    )
    .await;
    let r = off.get("/auth/config", None).await;
    assert_eq!(r.body["registration"], false);
    assert_eq!(r.body["password_login"], false);
    assert_eq!(r.body["dev_login"], true);
}

/// PostgreSQL only: the server drops every connection (a restart or failover); the next
/// requests reconnect instead of failing.
#[tokio::test]
async fn survives_the_database_dropping_its_connections() {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let app = spawn_app(Backend::Postgres).await;
    let token = app.register("ada@example.com").await.access_token();
    assert_eq!(app.get("/auth/me", Some(&token)).await.status, 200);
    let name = app.db.url.rsplit('/').next().unwrap().to_string();
    let mut admin = PgConnection::establish(&crate::helpers::postgres_admin_url()).unwrap();
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ))
    .execute(&mut admin)
    .unwrap();
    // pg_terminate_backend only signals: wait until the backends have gone, as after a
    // restart, before asking.
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let left: Count = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .get_result(&mut admin)
        .unwrap();
        if left.n == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "backends still there");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.get("/readyz", None).await.status, 200);
    assert_eq!(app.get("/auth/me", Some(&token)).await.status, 200);
    assert_eq!(app.refresh().await.status, 200);
}
