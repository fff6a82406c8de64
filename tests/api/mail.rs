//! Every email flow end to end against a real SMTP server: the link is read out of the
//! message the server received.

use std::time::Duration;

use serde_json::json;

use crate::both_backends;
use crate::helpers::{app_with_mail, Backend, TestApp, PASSWORD};
use crate::smtp::{SmtpSink, Tls};

const NEW_PASSWORD: &str = "a brand new passphrase";

both_backends!(
    password_reset_end_to_end,
    concurrent_uses_of_a_token_cannot_both_succeed,
    verification_is_required_and_reveals_nothing,
    magic_link_signs_in_and_registers,
    invitation_is_accepted_with_a_password,
    every_token_kind_expires,
    mail_survives_an_smtp_outage,
    undeliverable_mail_fails_after_its_retries,
    admin_sees_the_outbox_without_bodies,
    email_features_are_off_without_mail,
);

async fn password_reset_end_to_end(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let app = app_with_mail(backend, &sink, &[("REQUIRE_EMAIL_VERIFICATION", "false")]).await;
    let reg = app.register("ada@example.com").await;
    assert_eq!(reg.body["user"]["email_verified"], false);
    let (other, _) = app.login_as_device("ada@example.com").await;

    let r = app
        .post(
            "/auth/password/forgot",
            &json!({"email": "ADA@example.com"}),
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(
        app.post(
            "/auth/password/forgot",
            &json!({"email": "nobody@example.com"}),
            None
        )
        .await
        .status,
        202
    );
    app.post(
        "/auth/password/forgot",
        &json!({"email": "not an email"}),
        None,
    )
    .await
    .assert_problem(422, "validation_failed");

    let mail = sink.one("ada@example.com", "Reset your").await;
    assert!(
        mail.text.contains("http://app.test/reset-password?token="),
        "{}",
        mail.text
    );
    assert!(mail.text.contains("15 minutes"));
    assert!(mail.html.contains("reset-password?token="));
    let token = mail.token();

    // A weak password is refused and does not spend the token.
    let r = app
        .post(
            "/auth/password/reset",
            &json!({"token": token, "password": "short"}),
            None,
        )
        .await;
    r.assert_problem(422, "validation_failed");
    let r = app
        .post(
            "/auth/password/reset",
            &json!({"token": token, "password": NEW_PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["email"], "ada@example.com");
    assert_eq!(
        r.body["user"]["email_verified"], true,
        "following the link proved the address"
    );
    assert!(r.refresh_cookie().is_some());
    // Single use; every earlier session is gone; the new password works.
    app.post(
        "/auth/password/reset",
        &json!({"token": token, "password": NEW_PASSWORD}),
        None,
    )
    .await
    .assert_problem(400, "invalid_token");
    let stale =
        crate::helpers::Reply::from(other.post(app.url("/auth/refresh")).send().await.unwrap())
            .await;
    stale.assert_problem(401, "unauthorized");
    app.login("ada@example.com", PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(app.login("ada@example.com", NEW_PASSWORD).await.status, 200);
    // A notice follows the change; the unknown address got nothing.
    sink.one("ada@example.com", "password was changed").await;
    assert!(sink.messages().iter().all(|m| m.to != "nobody@example.com"));

    // Asking again invalidates the earlier link.
    app.post(
        "/auth/password/forgot",
        &json!({"email": "ada@example.com"}),
        None,
    )
    .await;
    let first = sink.wait_for(2, |m| m.subject.contains("Reset your")).await[1].token();
    app.post(
        "/auth/password/forgot",
        &json!({"email": "ada@example.com"}),
        None,
    )
    .await;
    let second = sink.wait_for(3, |m| m.subject.contains("Reset your")).await[2].token();
    app.post(
        "/auth/password/reset",
        &json!({"token": first, "password": NEW_PASSWORD}),
        None,
    )
    .await
    .assert_problem(400, "invalid_token");
    assert_eq!(
        app.post(
            "/auth/password/reset",
            &json!({"token": second, "password": NEW_PASSWORD}),
            None
        )
        .await
        .status,
        200
    );
    app.post(
        "/auth/password/reset",
        &json!({"token": "garbage", "password": NEW_PASSWORD}),
        None,
    )
    .await
    .assert_problem(400, "invalid_token");
}

/// Two uses of one token at the same moment: exactly one wins.
async fn concurrent_uses_of_a_token_cannot_both_succeed(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let app = app_with_mail(backend, &sink, &[("REQUIRE_EMAIL_VERIFICATION", "false")]).await;
    app.register("ada@example.com").await;
    app.post(
        "/auth/password/forgot",
        &json!({"email": "ada@example.com"}),
        None,
    )
    .await;
    let token = sink.one("ada@example.com", "Reset your").await.token();
    let body = json!({"token": token, "password": NEW_PASSWORD});
    let (a, b) = tokio::join!(
        app.post("/auth/password/reset", &body, None),
        app.post("/auth/password/reset", &body, None)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 400], "{} / {}", a.text, b.text);
}

async fn verification_is_required_and_reveals_nothing(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let app = app_with_mail(backend, &sink, &[]).await;
    let config = app.get("/auth/config", None).await;
    assert_eq!(
        (
            config.body["has_email"].clone(),
            config.body["require_email_verification"].clone(),
            config.body["magic_link"].clone()
        ),
        (json!(true), json!(true), json!(true))
    );

    let body = json!({"email": "ada@example.com", "password": PASSWORD, "name": "Ada"});
    let first = app.post("/auth/register", &body, None).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["verification_required"], true);
    assert!(first.body.get("access_token").is_none() && first.refresh_cookie().is_none());
    app.login("ada@example.com", PASSWORD)
        .await
        .assert_problem(403, "email_not_verified");
    app.login("ada@example.com", "wrong password!")
        .await
        .assert_problem(401, "invalid_credentials");

    // The same address again: the same answer (but for the id and time).
    let again = app.post("/auth/register", &body, None).await;
    assert_eq!(again.status, 201);
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        v["user"]["id"] = json!(null);
        v["user"]["created_at"] = json!(null);
        v["user"]["role"] = json!(null);
        v
    };
    assert_eq!(strip(&again.body), strip(&first.body));
    // Not verified yet, the owner gets a fresh link (the first one is void).
    let links = sink
        .wait_for(2, |m| m.subject.contains("Confirm your email"))
        .await;
    app.post(
        "/auth/email/verify",
        &json!({"token": links[0].token()}),
        None,
    )
    .await
    .assert_problem(400, "invalid_token");
    let mail = links[1].clone();
    assert!(mail.text.contains("http://app.test/verify-email?token="));
    // Resending replaces the link.
    assert_eq!(
        app.post(
            "/auth/email/verify/resend",
            &json!({"email": "ada@example.com"}),
            None
        )
        .await
        .status,
        202
    );
    let resent = sink
        .wait_for(3, |m| m.subject.contains("Confirm your email"))
        .await[2]
        .token();
    app.post("/auth/email/verify", &json!({"token": mail.token()}), None)
        .await
        .assert_problem(400, "invalid_token");
    let r = app
        .post("/auth/email/verify", &json!({"token": resent}), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["email_verified"], true);
    app.post("/auth/email/verify", &json!({"token": resent}), None)
        .await
        .assert_problem(400, "invalid_token");
    let login = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.text);
    // A verified account gets no more verification mail.
    app.post(
        "/auth/email/verify/resend",
        &json!({"email": "ada@example.com"}),
        None,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sink.messages()
            .iter()
            .filter(|m| m.subject.contains("Confirm your email"))
            .count(),
        3
    );
    // Now that it is verified, registering the address again only tells its owner.
    let third = app.post("/auth/register", &body, None).await;
    assert_eq!(strip(&third.body), strip(&first.body));
    sink.one("ada@example.com", "tried to register").await;
}

async fn magic_link_signs_in_and_registers(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let app = app_with_mail(backend, &sink, &[]).await;
    // The always-202 requests still refuse what is not an address.
    for path in ["/auth/magic-link", "/auth/email/verify/resend"] {
        app.post(path, &json!({"email": "not an address"}), None)
            .await
            .assert_problem(422, "validation_failed");
        app.post(path, &json!({}), None)
            .await
            .assert_problem(400, "invalid_request");
    }
    assert_eq!(
        app.post(
            "/auth/magic-link",
            &json!({"email": "New@Example.com"}),
            None
        )
        .await
        .status,
        202
    );
    let mail = sink.one("new@example.com", "sign-in link").await;
    assert!(mail.text.contains("http://app.test/magic-link?token="));
    let r = app
        .post(
            "/auth/magic-link/verify",
            &json!({"token": mail.token()}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["email"], "new@example.com");
    assert_eq!(r.body["user"]["email_verified"], true);
    assert_eq!(
        r.body["user"]["role"], "admin",
        "the first account is admin however it was made"
    );
    app.post(
        "/auth/magic-link/verify",
        &json!({"token": mail.token()}),
        None,
    )
    .await
    .assert_problem(400, "invalid_token");

    // An existing account signs in as itself.
    app.post(
        "/auth/magic-link",
        &json!({"email": "new@example.com"}),
        None,
    )
    .await;
    let again = sink
        .wait_for(2, |m| m.subject.contains("sign-in link"))
        .await[1]
        .token();
    let r = app
        .post("/auth/magic-link/verify", &json!({"token": again}), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["user"]["role"], "admin");

    // With registration off, unknown addresses get nothing; with magic links off, 403.
    let closed = app_with_mail(backend, &sink, &[("ALLOW_REGISTRATION", "false")]).await;
    assert_eq!(
        closed
            .post(
                "/auth/magic-link",
                &json!({"email": "stranger@example.com"}),
                None
            )
            .await
            .status,
        202
    );
    let off = app_with_mail(backend, &sink, &[("ALLOW_MAGIC_LINK", "false")]).await;
    off.post(
        "/auth/magic-link",
        &json!({"email": "new@example.com"}),
        None,
    )
    .await
    .assert_problem(403, "feature_disabled");
    off.post("/auth/magic-link/verify", &json!({"token": again}), None)
        .await
        .assert_problem(403, "feature_disabled");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sink
        .messages()
        .iter()
        .all(|m| m.to != "stranger@example.com"));
}

/// Makes a password-less account and invites it, as the admin API will.
async fn invite(app: &TestApp, email: &str) {
    let email = latch::domain::Email::parse("email", email).unwrap();
    let signin = app.state.signin.clone();
    app.state
        .db
        .run(move |conn| {
            let user = latch::auth::accounts::create_user_in(
                conn,
                &email,
                &latch::domain::UserName::from_email(&email),
                None,
                false,
            )?;
            signin.invite_in(conn, &user)
        })
        .await
        .unwrap();
    app.state.signin.wake_mail();
}

async fn invitation_is_accepted_with_a_password(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let app = app_with_mail(backend, &sink, &[]).await;
    app.register("admin@example.com").await;
    invite(&app, "grace@example.com").await;
    let mail = sink.one("grace@example.com", "invited").await;
    assert!(mail.text.contains("http://app.test/invite?token="));
    assert!(mail.text.contains("7 days"), "{}", mail.text);
    let token = mail.token();
    app.post(
        "/auth/invite/accept",
        &json!({"token": token, "password": "password"}),
        None,
    )
    .await
    .assert_problem(422, "validation_failed");
    let r = app
        .post(
            "/auth/invite/accept",
            &json!({"token": token, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["email"], "grace@example.com");
    assert_eq!(r.body["user"]["role"], "user");
    assert_eq!(r.body["user"]["email_verified"], true);
    app.post(
        "/auth/invite/accept",
        &json!({"token": token, "password": PASSWORD}),
        None,
    )
    .await
    .assert_problem(400, "invalid_token");
    assert_eq!(app.login("grace@example.com", PASSWORD).await.status, 200);
}

async fn every_token_kind_expires(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let one = "1";
    let app = app_with_mail(
        backend,
        &sink,
        &[
            ("EMAIL_VERIFICATION_EXPIRY", one),
            ("PASSWORD_RESET_EXPIRY", one),
            ("MAGIC_LINK_EXPIRY", one),
            ("INVITE_EXPIRY", one),
        ],
    )
    .await;
    app.post(
        "/auth/register",
        &json!({"email": "ada@example.com", "password": PASSWORD}),
        None,
    )
    .await;
    app.post(
        "/auth/password/forgot",
        &json!({"email": "ada@example.com"}),
        None,
    )
    .await;
    app.post(
        "/auth/magic-link",
        &json!({"email": "ada@example.com"}),
        None,
    )
    .await;
    invite(&app, "grace@example.com").await;
    let verify = sink
        .one("ada@example.com", "Confirm your email")
        .await
        .token();
    let reset = sink.one("ada@example.com", "Reset your").await.token();
    let magic = sink.one("ada@example.com", "sign-in link").await.token();
    let invitation = sink.one("grace@example.com", "invited").await.token();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.post("/auth/email/verify", &json!({"token": verify}), None)
        .await
        .assert_problem(400, "invalid_token");
    app.post(
        "/auth/password/reset",
        &json!({"token": reset, "password": NEW_PASSWORD}),
        None,
    )
    .await
    .assert_problem(400, "invalid_token");
    app.post("/auth/magic-link/verify", &json!({"token": magic}), None)
        .await
        .assert_problem(400, "invalid_token");
    app.post(
        "/auth/invite/accept",
        &json!({"token": invitation, "password": NEW_PASSWORD}),
        None,
    )
    .await
    .assert_problem(400, "invalid_token");
}

async fn mail_survives_an_smtp_outage(backend: Backend) {
    let mut sink = SmtpSink::start(Tls::None);
    let app = app_with_mail(backend, &sink, &[("REQUIRE_EMAIL_VERIFICATION", "false")]).await;
    let users: Vec<String> = (0..5).map(|i| format!("user{i}@example.com")).collect();
    for u in &users {
        app.register(u).await;
    }
    sink.wait_for(5, |m| m.subject.contains("Confirm your email"))
        .await;
    sink.stop();
    for u in &users {
        assert_eq!(
            app.post("/auth/password/forgot", &json!({"email": u}), None)
                .await
                .status,
            202
        );
    }
    // Let the worker fail a few times against the dead server.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sink.resume();
    let resets = sink.wait_for(5, |m| m.subject.contains("Reset your")).await;
    // Nothing doubled, even after the retries have had time to run again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let resets_after = sink
        .messages()
        .into_iter()
        .filter(|m| m.subject.contains("Reset your"))
        .count();
    assert_eq!(resets_after, 5);
    let mut to: Vec<String> = resets.iter().map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, users);
    for m in resets {
        let r = app
            .post(
                "/auth/password/reset",
                &json!({"token": m.token(), "password": NEW_PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

async fn admin_sees_the_outbox_without_bodies(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let app = app_with_mail(backend, &sink, &[("REQUIRE_EMAIL_VERIFICATION", "false")]).await;
    let admin = app.register("admin@example.com").await.access_token();
    let user = app.register("user@example.com").await.access_token();
    let mail = sink.wait_for(2, |_| true).await;
    let r = app.get("/admin/mail", Some(&admin)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let messages = r.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    for m in messages {
        assert_eq!(m["state"], "sent");
        assert_eq!(m["kind"], "verify_email");
        assert_eq!(m["attempts"], 1);
    }
    for m in &mail {
        assert!(
            !r.text.contains(&m.token()),
            "the outbox listing shows no token"
        );
    }
    let page = app.get("/admin/mail?limit=1", Some(&admin)).await;
    assert_eq!(page.body["messages"].as_array().unwrap().len(), 1);
    let cursor = page.body["next_cursor"].as_str().unwrap().to_string();
    let next = app
        .get(
            &format!("/admin/mail?limit=1&cursor={cursor}"),
            Some(&admin),
        )
        .await;
    assert_eq!(next.body["messages"].as_array().unwrap().len(), 1);
    assert_eq!(next.body["next_cursor"], json!(null));
    app.get("/admin/mail?limit=0", Some(&admin))
        .await
        .assert_problem(400, "invalid_request");
    app.get("/admin/mail?state=lost", Some(&admin))
        .await
        .assert_problem(400, "invalid_request");
    app.get("/admin/mail", Some(&user))
        .await
        .assert_problem(403, "forbidden");
    app.get("/admin/mail", None)
        .await
        .assert_problem(401, "unauthorized");
    // Bodies are gone from the database once sent.
    use diesel::prelude::*;
    use latch::db::schema::outbox;
    let bodies: Vec<Option<String>> = outbox::table
        .select(outbox::body_text)
        .load(&mut app.db_conn())
        .unwrap();
    assert!(bodies.iter().all(Option::is_none));
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("latch_mail_messages{state=\"pending\"} 0"),
        "{metrics}"
    );
}

async fn email_features_are_off_without_mail(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    for (path, body) in [
        ("/auth/password/forgot", json!({"email": "a@example.com"})),
        (
            "/auth/password/reset",
            json!({"token": "x".repeat(43), "password": PASSWORD}),
        ),
        ("/auth/magic-link", json!({"email": "a@example.com"})),
        ("/auth/magic-link/verify", json!({"token": "x".repeat(43)})),
        ("/auth/email/verify", json!({"token": "x".repeat(43)})),
        (
            "/auth/email/verify/resend",
            json!({"email": "a@example.com"}),
        ),
        (
            "/auth/invite/accept",
            json!({"token": "x".repeat(43), "password": PASSWORD}),
        ),
    ] {
        app.post(path, &body, None)
            .await
            .assert_problem(403, "feature_disabled");
    }
}

async fn undeliverable_mail_fails_after_its_retries(backend: Backend) {
    let mut sink = SmtpSink::start(Tls::None);
    sink.stop();
    let app = app_with_mail(
        backend,
        &sink,
        &[
            ("REQUIRE_EMAIL_VERIFICATION", "false"),
            ("EMAIL_MAX_RETRIES", "2"),
            ("EMAIL_RETRY_DELAY", "100"),
        ],
    )
    .await;
    let admin = app.register("admin@example.com").await.access_token();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let message = loop {
        let r = app.get("/admin/mail", Some(&admin)).await;
        let m = r.body["messages"][0].clone();
        if m["state"] == "failed" {
            break m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never marked failed: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(message["attempts"], 3, "the first attempt and two retries");
    assert!(!message["last_error"].as_str().unwrap().is_empty());
    use diesel::prelude::*;
    use latch::db::schema::outbox;
    let bodies: Vec<(Option<String>, Option<String>)> = outbox::table
        .select((outbox::body_text, outbox::body_html))
        .load(&mut app.db_conn())
        .unwrap();
    assert_eq!(
        bodies,
        vec![(None, None)],
        "a failed message keeps no token"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("latch_mail_messages{state=\"failed\"} 1"),
        "{metrics}"
    );
    // Once failed, it stays failed: the server coming back sends nothing.
    sink.resume();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(sink.messages().is_empty());
}
