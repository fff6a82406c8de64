//! What users do on their own: change their address, delete their account, end a sign-in
//! they did not make; and the hard cap on a session's age. With the real SMTP server and
//! a webhook receiver that verifies what it gets.

use std::time::Duration;

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{new_client, spawn_app_with, Backend, Reply, TestApp, PASSWORD};
use crate::receiver::{Got, Receiver};
use crate::smtp::{SmtpSink, Tls};

both_backends!(
    the_address_changes_when_the_new_one_confirms,
    a_change_to_a_taken_address_reveals_nothing,
    owners_delete_their_accounts,
    account_deletion_can_be_switched_off,
    a_session_ends_at_its_maximum_age,
    a_sign_in_from_a_new_device_is_told_and_can_be_reported,
);

const CHROME_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

async fn app(
    backend: Backend,
    sink: &SmtpSink,
    receiver: Option<&Receiver>,
    extra: &[(&str, &str)],
) -> TestApp {
    let mut env = sink.env();
    if let Some(r) = receiver {
        env.extend(r.env());
    }
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.push(("REQUIRE_EMAIL_VERIFICATION", "false"));
    all.extend_from_slice(extra);
    spawn_app_with(backend, &all).await
}

fn events_of<'a>(got: &'a [Got], user_id: &str) -> Vec<(&'a str, &'a Value)> {
    got.iter()
        .filter(|g| {
            g.event["data"]["user"]["id"] == user_id
                || g.event["data"]["session"]["user_id"] == user_id
        })
        .map(|g| (g.kind(), &g.event["data"]))
        .collect()
}

/// Reauthenticates with the password: a fresh access token.
async fn fresh(app: &TestApp, token: &str) -> String {
    let r = app
        .post(
            "/auth/reauthenticate",
            &json!({"password": PASSWORD}),
            Some(token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.access_token()
}

async fn the_address_changes_when_the_new_one_confirms(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let receiver = Receiver::start();
    let app = app(backend, &sink, Some(&receiver), &[("REAUTH_MAX_AGE", "2")]).await;
    let reg = app.register("ada@example.com").await;
    let (token, id) = (
        reg.access_token(),
        reg.body["user"]["id"].as_str().unwrap().to_string(),
    );
    tokio::time::sleep(Duration::from_millis(2200)).await;
    // A stolen access token alone cannot move the account.
    let change = json!({"email": "ada.new@example.com"});
    app.post("/auth/email/change", &change, Some(&token))
        .await
        .assert_problem(403, "reauthentication_required");
    app.post(
        "/auth/email/change",
        &json!({"email": "nope"}),
        Some(&fresh(&app, &token).await),
    )
    .await
    .assert_problem(422, "validation_failed");
    // A reset link of the old address, outstanding when the change is confirmed.
    app.post(
        "/auth/password/forgot",
        &json!({"email": "ada@example.com"}),
        None,
    )
    .await;
    let reset = sink.one("ada@example.com", "Reset your").await.token();

    let r = app
        .post(
            "/auth/email/change",
            &change,
            Some(&fresh(&app, &token).await),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let link = sink
        .one("ada.new@example.com", "Confirm the new email address")
        .await;
    let notice = sink
        .one("ada@example.com", "change of the email address")
        .await;
    assert!(
        notice.text.contains("ada.new@example.com"),
        "{}",
        notice.text
    );
    assert!(
        !notice.text.contains("token="),
        "no link to the old address: {}",
        notice.text
    );
    // Until confirmed, nothing changed.
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status, 200);

    let r = app
        .post(
            "/auth/email/change/confirm",
            &json!({"token": link.token()}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["email"], "ada.new@example.com");
    assert_eq!(r.body["email_verified"], true);
    app.post(
        "/auth/email/change/confirm",
        &json!({"token": link.token()}),
        None,
    )
    .await
    .assert_problem(400, "invalid_token");
    // The old address's links are void, and it signs in no more; the new one does.
    app.post(
        "/auth/password/reset",
        &json!({"token": reset, "password": "a brand new passphrase"}),
        None,
    )
    .await
    .assert_problem(400, "invalid_token");
    app.login("ada@example.com", PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    let r = app.login("ada.new@example.com", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.get("/auth/me", Some(&r.access_token())).await.body["email"],
        "ada.new@example.com"
    );
    // The old address is free for someone else.
    app.register("ada@example.com").await;
    let got = receiver
        .wait_until("the change", |g| {
            g.iter().any(|g| {
                g.kind() == "user.updated"
                    && g.event["data"]["user"]["email"] == "ada.new@example.com"
            })
        })
        .await;
    let updated: Vec<_> = events_of(&got, &id)
        .into_iter()
        .filter(|(k, _)| *k == "user.updated")
        .collect();
    assert_eq!(updated.len(), 1, "{updated:?}");
    assert_eq!(updated[0].1["user"]["email_verified"], true);
}

async fn a_change_to_a_taken_address_reveals_nothing(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let app = app(backend, &sink, None, &[]).await;
    app.register("bob@example.com").await;
    let ada = app.register("ada@example.com").await.access_token();
    for email in ["BOB@example.com", "free@example.com"] {
        let r = app
            .post("/auth/email/change", &json!({"email": email}), Some(&ada))
            .await;
        assert_eq!(r.status, 202, "the same answer for {email}: {}", r.text);
    }
    let notices = sink
        .wait_for(2, |m| {
            m.to == "ada@example.com" && m.subject.contains("change of the email")
        })
        .await;
    assert_eq!(notices.len(), 2, "the same notice for both: {notices:?}");
    sink.one("free@example.com", "Confirm the new email address")
        .await;
    // Bob's inbox says nothing of it (beyond his own registration's link), and Bob keeps
    // his address.
    let to_bob: Vec<_> = sink
        .messages()
        .into_iter()
        .filter(|m| m.to == "bob@example.com")
        .map(|m| m.subject)
        .collect();
    assert_eq!(to_bob, ["Confirm your email address for Latch"]);
    assert_eq!(app.login("bob@example.com", PASSWORD).await.status, 200);
    // A second request voids the first one's link.
    let first = sink.one("free@example.com", "Confirm").await.token();
    app.post(
        "/auth/email/change",
        &json!({"email": "other@example.com"}),
        Some(&ada),
    )
    .await;
    let second = sink.one("other@example.com", "Confirm").await.token();
    app.post("/auth/email/change/confirm", &json!({"token": first}), None)
        .await
        .assert_problem(400, "invalid_token");
    // Taken between the request and the confirmation: refused, the link stays good.
    app.register("other@example.com").await;
    app.post(
        "/auth/email/change/confirm",
        &json!({"token": second}),
        None,
    )
    .await
    .assert_problem(409, "email_taken");
    assert_eq!(
        app.get("/auth/me", Some(&ada)).await.body["email"],
        "ada@example.com"
    );
    // A change asked for before a new password does not complete after it: the notice
    // says "change your password", and doing so shuts the requester out.
    app.post(
        "/auth/email/change",
        &json!({"email": "fourth@example.com"}),
        Some(&ada),
    )
    .await;
    let pending = sink.one("fourth@example.com", "Confirm").await.token();
    let r = app
        .post(
            "/auth/password/change",
            &json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
            Some(&ada),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.post(
        "/auth/email/change/confirm",
        &json!({"token": pending}),
        None,
    )
    .await
    .assert_problem(400, "invalid_token");
    assert_eq!(
        app.get("/auth/me", Some(&ada)).await.body["email"],
        "ada@example.com"
    );
}

async fn owners_delete_their_accounts(backend: Backend) {
    let mut sink = SmtpSink::start(Tls::None);
    let receiver = Receiver::start();
    let app = app(backend, &sink, Some(&receiver), &[("REAUTH_MAX_AGE", "2")]).await;
    let admin = app.register("admin@example.com").await.access_token();
    let reg = app.register("ada@example.com").await;
    let (ada, id) = (
        reg.access_token(),
        reg.body["user"]["id"].as_str().unwrap().to_string(),
    );
    let (device, _) = app.login_as_device("ada@example.com").await;
    // Mail to Ada that has not gone yet (the server is down) goes with her.
    sink.stop();
    app.post(
        "/auth/password/forgot",
        &json!({"email": "ada@example.com"}),
        None,
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !outbox(&app, &admin).await.text.contains("ada@example.com") {
        assert!(
            std::time::Instant::now() < deadline,
            "the reset mail was not queued"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(2200)).await;
    app.send(reqwest::Method::DELETE, "/auth/me", None, Some(&ada))
        .await
        .assert_problem(403, "reauthentication_required");
    let r = app
        .send(
            reqwest::Method::DELETE,
            "/auth/me",
            None,
            Some(&fresh(&app, &ada).await),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let cleared = r.refresh_cookie().expect("the refresh cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // Gone everywhere: its tokens, its other device, its password, its mail.
    app.get("/auth/me", Some(&ada))
        .await
        .assert_problem(401, "unauthorized");
    let r = Reply::from(device.post(app.url("/auth/refresh")).send().await.unwrap()).await;
    r.assert_problem(401, "unauthorized");
    app.login("ada@example.com", PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    let listed = outbox(&app, &admin).await;
    assert!(!listed.text.contains("ada@example.com"), "{}", listed.text);
    sink.resume();
    // What is in the audit log names only the id.
    let audit = app
        .get(&format!("/admin/audit?user_id={id}"), Some(&admin))
        .await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    let events = audit.body["events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["kind"] == "account_deleted"),
        "{}",
        audit.text
    );
    for e in events {
        assert!(e["ip"].is_null() && e["user_agent"].is_null(), "{e}");
        assert!(!e.to_string().contains("ada@example.com"), "{e}");
    }
    // The address may make a new account.
    app.register("ada@example.com").await;
    let got = receiver
        .wait_until("the deletion", |g| {
            g.iter()
                .any(|g| g.kind() == "user.deleted" && g.event["data"]["user"]["id"] == id)
        })
        .await;
    let story = events_of(&got, &id);
    let ended: Vec<_> = story
        .iter()
        .filter(|(k, d)| *k == "session.revoked" && d["session"]["reason"] == "deleted")
        .collect();
    assert_eq!(ended.len(), 2, "both sessions end, reported: {story:?}");
    assert_eq!(story.last().unwrap().0, "user.deleted", "{story:?}");
    // The last admin stays.
    let r = app
        .send(
            reqwest::Method::DELETE,
            "/auth/me",
            None,
            Some(&fresh(&app, &admin).await),
        )
        .await;
    r.assert_problem(409, "last_admin");
    assert_eq!(app.get("/auth/me", Some(&admin)).await.status, 200);
}

/// The admin's view of the outbox.
async fn outbox(app: &TestApp, admin: &str) -> Reply {
    let r = app.get("/admin/mail", Some(admin)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r
}

async fn account_deletion_can_be_switched_off(backend: Backend) {
    let app = spawn_app_with(backend, &[("ALLOW_ACCOUNT_DELETION", "false")]).await;
    app.register("admin@example.com").await;
    let ada = app.register("ada@example.com").await.access_token();
    app.send(reqwest::Method::DELETE, "/auth/me", None, Some(&ada))
        .await
        .assert_problem(403, "feature_disabled");
    assert_eq!(app.get("/auth/me", Some(&ada)).await.status, 200);
}

async fn a_session_ends_at_its_maximum_age(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let receiver = Receiver::start();
    let app = app(
        backend,
        &sink,
        Some(&receiver),
        &[("SESSION_MAX_AGE", "3000")],
    )
    .await;
    let reg = app.register("ada@example.com").await;
    let id = reg.body["user"]["id"].as_str().unwrap().to_string();
    let sessions = app.get("/auth/sessions", Some(&reg.access_token())).await;
    let session = &sessions.body["sessions"][0];
    let at = |k: &str| chrono::DateTime::parse_from_rfc3339(session[k].as_str().unwrap()).unwrap();
    let age = at("expires_at") - at("created_at");
    assert!(
        age <= chrono::Duration::seconds(3),
        "the session says when it ends: {session}"
    );
    // Refreshing keeps it alive only until then.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(app.refresh().await.status, 200);
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    app.refresh().await.assert_problem(401, "unauthorized");
    let got = receiver
        .wait_until("the expiry", |g| {
            g.iter()
                .any(|g| g.event["data"]["session"]["reason"] == "expired")
        })
        .await;
    let expired: Vec<_> = events_of(&got, &id)
        .into_iter()
        .filter(|(k, d)| *k == "session.revoked" && d["session"]["reason"] == "expired")
        .collect();
    assert_eq!(expired.len(), 1, "{expired:?}");
    // Signing in again opens a new one.
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status, 200);
}

/// Signs in as a browser would from `ip`, with its own cookie jar.
async fn sign_in_from(app: &TestApp, ua: &str, ip: &str) -> (reqwest::Client, Reply) {
    let client = new_client();
    let r = client
        .post(app.url("/auth/login"))
        .header("user-agent", ua)
        .header("x-forwarded-for", ip)
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let r = Reply::from(r).await;
    assert_eq!(r.status, 200, "{}", r.text);
    (client, r)
}

async fn a_sign_in_from_a_new_device_is_told_and_can_be_reported(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let receiver = Receiver::start();
    let app = app(
        backend,
        &sink,
        Some(&receiver),
        &[("MAX_ACTIVE_SESSIONS", "10")],
    )
    .await;
    let reg = app.register("ada@example.com").await;
    let (home, id) = (
        reg.access_token(),
        reg.body["user"]["id"].as_str().unwrap().to_string(),
    );
    // The account's first sign-in (the registration), and the same device again: no
    // notice. Chrome on another network is a new device.
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status, 200);
    sign_in_from(&app, CHROME_LINUX, "198.51.100.20").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let notices = sink
        .wait_for(1, |m| m.subject.contains("new sign-in"))
        .await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    // The same browser on the same /24 is the same device.
    sign_in_from(
        &app,
        &CHROME_LINUX.replace("131.0.0.0", "132.0.0.0"),
        "198.51.100.99",
    )
    .await;
    // Another network is a new device.
    let (thief, _) = sign_in_from(&app, CHROME_LINUX, "203.0.113.9").await;
    let notices = sink
        .wait_for(2, |m| m.subject.contains("new sign-in"))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sink.messages()
            .iter()
            .filter(|m| m.subject.contains("new sign-in"))
            .count(),
        2
    );
    let notice = &notices[1];
    assert_eq!(notice.to, "ada@example.com");
    assert!(notice.text.contains("203.0.113.9"), "{}", notice.text);
    assert!(notice.text.contains("Chrome on Linux"), "{}", notice.text);
    // The owner reports it: that session ends, a reset link comes, the rest stays.
    let r = app
        .post(
            "/auth/sessions/report",
            &json!({"token": notice.token()}),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = Reply::from(thief.post(app.url("/auth/refresh")).send().await.unwrap()).await;
    r.assert_problem(401, "unauthorized");
    assert_eq!(app.get("/auth/me", Some(&home)).await.status, 200);
    sink.one("ada@example.com", "Reset your").await;
    app.post(
        "/auth/sessions/report",
        &json!({"token": notice.token()}),
        None,
    )
    .await
    .assert_problem(400, "invalid_token");
    app.post("/auth/sessions/report", &json!({"token": "made-up"}), None)
        .await
        .assert_problem(400, "invalid_token");
    let got = receiver
        .wait_until("the report", |g| {
            g.iter()
                .any(|g| g.event["data"]["session"]["reason"] == "reported")
        })
        .await;
    let reported = events_of(&got, &id)
        .into_iter()
        .filter(|(_, d)| d["session"]["reason"] == "reported")
        .count();
    assert_eq!(reported, 1);
}
