//! Delivery itself: TLS to a server with a self-signed certificate, and no mail lost when
//! the service is killed with mail still queued.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::both_backends;
use crate::helpers::{base_env, start, Backend, Reply, TestDb, PASSWORD};
use crate::smtp::{SmtpSink, Tls};

both_backends!(
    starttls_with_a_self_signed_certificate,
    implicit_tls_with_a_self_signed_certificate,
    self_signed_certificates_are_refused_by_default,
    queued_mail_survives_sigkill,
);

async fn delivered_over(backend: Backend, tls: Tls) {
    let sink = SmtpSink::start(tls);
    let mut env = sink.env();
    env.push(("EMAIL_ALLOW_SELFSIGNED", "true".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = crate::helpers::spawn_app_with(backend, &env).await;
    let r = app
        .post(
            "/auth/register",
            &json!({"email": "ada@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let mail = sink.one("ada@example.com", "Confirm your email").await;
    assert_eq!(
        app.post("/auth/email/verify", &json!({"token": mail.token()}), None)
            .await
            .status,
        200
    );
}

async fn starttls_with_a_self_signed_certificate(backend: Backend) {
    delivered_over(backend, Tls::Starttls).await;
}

async fn implicit_tls_with_a_self_signed_certificate(backend: Backend) {
    delivered_over(backend, Tls::Implicit).await;
}

async fn self_signed_certificates_are_refused_by_default(backend: Backend) {
    for tls in [Tls::Starttls, Tls::Implicit] {
        let sink = SmtpSink::start(tls);
        let mut env = sink.env();
        env.push(("REQUIRE_EMAIL_VERIFICATION", "false".into()));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let app = crate::helpers::spawn_app_with(backend, &env).await;
        let admin = app.register("admin@example.com").await.access_token();
        // The attempt fails on the certificate and is recorded; nothing is delivered.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let error = loop {
            let r = app.get("/admin/mail", Some(&admin)).await;
            if let Some(e) = r.body["messages"][0]["last_error"].as_str() {
                break e.to_string();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no failed attempt recorded: {}",
                r.text
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(!error.is_empty());
        assert!(
            sink.messages().is_empty(),
            "{tls:?}: delivered despite an untrusted certificate"
        );
    }
}

async fn queued_mail_survives_sigkill(backend: Backend) {
    let db = Arc::new(TestDb::new_for(backend));
    let mut sink = SmtpSink::start(Tls::None);
    sink.stop();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut env = base_env(&db.url);
    env.insert("PORT".into(), port.to_string());
    env.insert("REQUIRE_EMAIL_VERIFICATION".into(), "false".into());
    for (k, v) in sink.env() {
        env.insert(k.into(), v);
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_latch"))
        .arg("serve")
        .current_dir(db.dir())
        .env_clear()
        .envs(&env)
        .env("RUST_LOG", "error")
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let users: Vec<String> = (0..3).map(|i| format!("user{i}@example.com")).collect();
    for u in &users {
        let r = Reply::from(
            client
                .post(format!("{base}/auth/register"))
                .json(&json!({"email": u, "password": PASSWORD}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    // Killed outright, with every message still queued (the mail server is down).
    child.kill().unwrap();
    child.wait().unwrap();

    sink.resume();
    let env: Vec<(String, String)> = sink
        .env()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let mut overrides: Vec<(&str, &str)> =
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    overrides.push(("REQUIRE_EMAIL_VERIFICATION", "false"));
    let _restarted = start(db.clone(), &overrides).await;
    let delivered = sink
        .wait_for(3, |m| m.subject.contains("Confirm your email"))
        .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(sink.messages().len(), 3, "each message once");
    let mut to: Vec<String> = delivered.iter().map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, users);
}
