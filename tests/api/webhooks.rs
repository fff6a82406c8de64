//! Webhooks: every event of the catalogue reaches a real receiver that verifies it with the
//! official `standardwebhooks` library; failures, time-outs, an unreachable receiver and a
//! killed Latch lose nothing; a change that rolls back sends nothing; two instances send
//! each event once.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use crate::helpers::{
    run_cli, spawn_app_with, start_with_file, Backend, ServerProcess, TestApp, TestDb, PASSWORD,
};
use crate::receiver::{Got, Receiver};
use crate::smtp::{SmtpSink, Tls};

crate::both_backends!(
    every_event_of_the_catalogue_reaches_a_verifying_receiver,
    the_first_proof_of_an_address_is_reported,
    a_receiver_that_fails_times_out_or_is_gone_gets_everything_in_order,
    deliveries_are_listed_and_sent_again_by_admins,
    a_killed_latch_loses_nothing_and_sends_again_under_the_same_id,
    a_change_that_rolls_back_sends_nothing,
    endpoints_have_their_own_secrets_and_events,
    latch_webhooks_secret_and_test,
);

#[tokio::test]
async fn two_instances_on_one_postgresql_send_each_event_once() {
    let receiver = Receiver::start();
    let db = std::sync::Arc::new(TestDb::new_for(Backend::Postgres));
    let env = receiver.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let one = crate::helpers::start(db.clone(), &env).await;
    let two = crate::helpers::start(db.clone(), &env).await;
    for n in 0..60 {
        let app = if n % 2 == 0 { &one } else { &two };
        app.register(&format!("u{n}@example.com")).await;
    }
    let got = receiver
        .wait_until("120 events", |g| {
            g.iter()
                .map(|g| g.id.as_str())
                .collect::<HashSet<_>>()
                .len()
                >= 120
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let got = receiver.got().await.len().max(got.len());
    assert_eq!(got, 120, "each event once, though both instances deliver");
}

async fn app(backend: Backend, receiver: &Receiver, extra: &[(&str, &str)]) -> TestApp {
    let env = receiver.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    spawn_app_with(backend, &all).await
}

fn user_id(body: &Value) -> &str {
    body["data"]["user"]["id"]
        .as_str()
        .or(body["data"]["session"]["user_id"].as_str())
        .unwrap_or("")
}

/// The events received for `user`, in order of arrival: (type, reason or method or provider).
fn story(got: &[Got], user: &str) -> Vec<(String, String)> {
    got.iter()
        .filter(|g| user_id(&g.event) == user)
        .map(|g| {
            let d = &g.event["data"];
            let detail = d["session"]["reason"]
                .as_str()
                .or(d["method"].as_str())
                .or(d["provider"].as_str())
                .unwrap_or("");
            (g.kind().to_string(), detail.to_string())
        })
        .collect()
}

fn s(kind: &str, detail: &str) -> (String, String) {
    (kind.to_string(), detail.to_string())
}

async fn every_event_of_the_catalogue_reaches_a_verifying_receiver(backend: Backend) {
    let receiver = Receiver::start();
    let slapd = crate::slapd::Slapd::start(false);
    let mut extra: Vec<(&str, String)> = slapd.env();
    extra.push(("MAX_ACTIVE_SESSIONS", "2".into()));
    // A refresh token presented twice is a reuse at once.
    extra.push(("REFRESH_REUSE_GRACE", "0".into()));
    // A rotation under way: the new secret and the receiver's (old) one.
    let rotated = format!(
        "{} {}",
        latch::settings::webhooks::new_secret(),
        receiver.secret
    );
    extra.push(("WEBHOOK_SECRET", rotated));
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = app(backend, &receiver, &extra).await;

    // user.created and session.created.
    let admin = app.register("admin@example.com").await.access_token();
    let reg = app.register("bob@example.com").await;
    let bob = reg.body["user"]["id"].as_str().unwrap().to_string();
    let created = receiver.one("user.created", |e| user_id(e) == bob).await;
    assert_eq!(
        created["data"]["user"],
        json!({"id": bob, "email": "bob@example.com", "name": "bob", "role": "user",
               "email_verified": false, "disabled": false, "legacy_id": null})
    );
    assert!(created["timestamp"].as_str().unwrap().ends_with('Z'));
    let session = receiver.one("session.created", |e| user_id(e) == bob).await;
    assert_eq!(session["data"]["session"]["user_id"], bob.as_str());

    // user.updated: a name; password.changed and the other sessions' end.
    let token = reg.access_token();
    app.send(
        reqwest::Method::PATCH,
        "/auth/me",
        Some(&json!({"name": "Robert"})),
        Some(&token),
    )
    .await;
    let updated = receiver.one("user.updated", |e| user_id(e) == bob).await;
    assert_eq!(updated["data"]["user"]["name"], "Robert");
    let (_, device) = app.login_as_device("bob@example.com").await;
    let r = app
        .post(
            "/auth/password/change",
            &json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
            Some(&device.access_token()),
        )
        .await;
    assert!(r.status < 300, "{}", r.text);

    // mfa.enabled / mfa.disabled: TOTP and a passkey.
    let fresh = app
        .login("bob@example.com", "a brand new passphrase")
        .await
        .access_token();
    crate::second_factor::with_time_left(20).await;
    let (secret, _) = crate::second_factor::enable_totp(&app, &fresh, -1).await;
    let code = crate::second_factor::code_at(&secret, crate::second_factor::unix_now());
    let r = app
        .post(
            "/auth/mfa/totp/disable",
            &json!({"code": code}),
            Some(&fresh),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let mut authn = crate::soft_authenticator::SoftAuthenticator::new("http://app.test");
    let passkey = crate::second_factor::register_passkey(&app, &fresh, &mut authn).await;
    let r = app
        .send(
            reqwest::Method::DELETE,
            &format!("/auth/passkeys/{}", passkey["id"].as_str().unwrap()),
            None,
            Some(&fresh),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);

    // A third session evicts the oldest (MAX_ACTIVE_SESSIONS=2); a reused refresh token
    // ends its session; logout ends one.
    app.login("bob@example.com", "a brand new passphrase").await;
    let r = app.login("bob@example.com", "a brand new passphrase").await;
    let stolen = r.refresh_cookie_value().unwrap();
    assert_eq!(app.refresh_with(&stolen).await.status, 200);
    app.refresh_with(&stolen).await;
    let r = app.login("bob@example.com", "a brand new passphrase").await;
    app.post("/auth/logout", &json!({}), Some(&r.access_token()))
        .await;

    // user.banned / user.unbanned, and the ban's end of sessions; admin revocation; a
    // disabled account; deletion.
    app.login("bob@example.com", "a brand new passphrase").await;
    let ban = app
        .post(
            "/admin/bans",
            &json!({"user_id": bob, "duration_ms": 60000}),
            Some(&admin),
        )
        .await;
    assert_eq!(ban.status, 201, "{}", ban.text);
    let banned = receiver.one("user.banned", |e| user_id(e) == bob).await;
    assert!(banned["data"]["until"].as_str().is_some(), "{banned}");
    let lifted = app
        .send(
            reqwest::Method::DELETE,
            &format!("/admin/bans/{}", ban.body["id"].as_str().unwrap()),
            None,
            Some(&admin),
        )
        .await;
    assert_eq!(lifted.status, 204, "{}", lifted.text);
    app.login("bob@example.com", "a brand new passphrase").await;
    let r = app
        .post(
            &format!("/admin/users/{bob}/sessions/revoke"),
            &json!({}),
            Some(&admin),
        )
        .await;
    assert!(r.status < 300, "{}", r.text);
    app.login("bob@example.com", "a brand new passphrase").await;
    let r = app
        .send(
            reqwest::Method::PATCH,
            &format!("/admin/users/{bob}"),
            Some(&json!({"disabled": true})),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.send(
        reqwest::Method::PATCH,
        &format!("/admin/users/{bob}"),
        Some(&json!({"disabled": false})),
        Some(&admin),
    )
    .await;
    app.login("bob@example.com", "a brand new passphrase").await;
    let r = app
        .send(
            reqwest::Method::DELETE,
            &format!("/admin/users/{bob}"),
            None,
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);

    let got = receiver
        .wait_until("user.deleted", |g| {
            g.iter()
                .any(|g| g.kind() == "user.deleted" && user_id(&g.event) == bob)
        })
        .await;
    let story = story(&got, &bob);
    let expected = [
        s("user.created", ""),
        s("session.created", ""),
        s("user.updated", ""),
        s("session.created", ""),
        s("password.changed", ""),
        s("session.revoked", "password_change"),
        s("session.created", ""),
        s("mfa.enabled", "totp"),
        s("mfa.disabled", "totp"),
        s("mfa.enabled", "passkey"),
        s("mfa.disabled", "passkey"),
        s("session.revoked", "evicted"),
        s("session.created", ""),
        s("session.revoked", "evicted"),
        s("session.created", ""),
        s("session.revoked", "reuse"),
        s("session.created", ""),
        s("session.revoked", "logout"),
        s("session.created", ""),
        s("user.banned", ""),
        s("session.revoked", "ban"),
        s("session.revoked", "ban"),
        s("user.unbanned", ""),
        s("session.created", ""),
        s("session.revoked", "admin"),
        s("session.created", ""),
        s("user.updated", ""),
        s("session.revoked", "disable"),
        s("user.updated", ""),
        s("session.created", ""),
        s("session.revoked", "deleted"),
        s("user.deleted", ""),
    ];
    assert_eq!(story, expected, "Bob's events, in order");
    // The deleted user as it was; the disabled one as it became.
    let disabled = got
        .iter()
        .filter(|g| g.kind() == "user.updated" && user_id(&g.event) == bob)
        .nth(1)
        .unwrap();
    assert_eq!(disabled.event["data"]["user"]["disabled"], true);
    let deleted = got.iter().find(|g| g.kind() == "user.deleted").unwrap();
    assert_eq!(deleted.event["data"]["user"]["email"], "bob@example.com");

    // identity.linked and identity.unlinked: a directory identity.
    let ada = crate::directory::directory_sign_in(&app, "ada@example.com", "pw-ada").await;
    let ada_id = ada["user"]["id"].as_str().unwrap().to_string();
    let linked = receiver
        .one("identity.linked", |e| user_id(e) == ada_id)
        .await;
    assert_eq!(linked["data"]["provider"], "ldap");
    let token = ada["access_token"].as_str().unwrap().to_string();
    let ids = app.get("/auth/identities", Some(&token)).await;
    let identity = ids.body["identities"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &format!("/admin/users/{ada_id}/password"),
        &json!({"password": "a local one, too"}),
        Some(&admin),
    )
    .await;
    let again = crate::directory::directory_sign_in(&app, "ada@example.com", "pw-ada").await;
    let r = app
        .send(
            reqwest::Method::DELETE,
            &format!("/auth/identities/{identity}"),
            None,
            Some(again["access_token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let unlinked = receiver
        .one("identity.unlinked", |e| user_id(e) == ada_id)
        .await;
    assert_eq!(unlinked["data"]["provider"], "ldap");

    // Each event once, each verified, nothing secret in any of them.
    let got = receiver.got().await;
    let ids: HashSet<&str> = got.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids.len(), got.len(), "one delivery per event");
    for g in &got {
        assert!(g.verified, "{g:?}");
        let text = g.event.to_string();
        for secret in ["hash", "token", "secret", "scrypt", PASSWORD] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    let kinds: HashSet<&str> = got.iter().map(Got::kind).collect();
    for kind in latch::settings::webhooks::EVENT_TYPES {
        assert!(kinds.contains(kind), "no {kind} was sent");
    }
}

async fn the_first_proof_of_an_address_is_reported(backend: Backend) {
    let receiver = Receiver::start();
    let sink = SmtpSink::start(Tls::None);
    let mut extra: Vec<(&str, String)> = sink.env();
    extra.push(("REQUIRE_EMAIL_VERIFICATION", "false".into()));
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = app(backend, &receiver, &extra).await;
    app.register("first@example.com").await;
    // Someone registers the owner's address; the owner then proves it with a link.
    let squatter = app.register("owner@example.com").await;
    let id = squatter.body["user"]["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/auth/magic-link",
            &json!({"email": "owner@example.com"}),
            None,
        )
        .await;
    assert_eq!(r.status, 202);
    let mail = sink.one("owner@example.com", "sign-in link").await;
    let r = app
        .post(
            "/auth/magic-link/verify",
            &json!({"token": mail.token()}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = receiver
        .wait_until("the proof's events", |g| {
            g.iter()
                .any(|g| g.event["data"]["session"]["reason"] == "address_proven")
        })
        .await;
    let story = story(&got, &id);
    assert!(
        story.contains(&s("session.revoked", "address_proven")),
        "{story:?}"
    );
    assert!(
        story.contains(&s("password.changed", "")),
        "the squatter's password went: {story:?}"
    );
    let verified = got
        .iter()
        .find(|g| g.kind() == "user.updated" && user_id(&g.event) == id)
        .expect("user.updated");
    assert_eq!(verified.event["data"]["user"]["email_verified"], true);
}

async fn a_receiver_that_fails_times_out_or_is_gone_gets_everything_in_order(backend: Backend) {
    let mut receiver = Receiver::start();
    let app = app(backend, &receiver, &[]).await;
    receiver.set_mode("fail", 0).await;
    let ada = app.register("ada@example.com").await;
    let ada_id = ada.body["user"]["id"].as_str().unwrap().to_string();
    // Ada's first event fails, again and again: her later ones wait behind it.
    receiver
        .wait_until("two failed attempts", |g| {
            g.iter().filter(|g| g.mode == "fail").count() >= 2
        })
        .await;
    let tried: HashSet<String> = receiver.got().await.into_iter().map(|g| g.id).collect();
    assert_eq!(
        tried.len(),
        1,
        "only the head of Ada's queue is tried: {tried:?}"
    );
    // Too slow (past WEBHOOK_TIMEOUT), then not there at all, then a redirect.
    receiver.set_mode("slow", 3).await;
    receiver
        .wait_until("a slow attempt", |g| g.iter().any(|g| g.mode == "slow"))
        .await;
    receiver.stop();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    receiver.resume();
    receiver.set_mode("redirect", 0).await;
    receiver
        .wait_until("a redirect", |g| g.iter().any(|g| g.mode == "redirect"))
        .await;
    let listed = app
        .get(
            "/admin/webhooks/deliveries?status=pending",
            Some(&ada.access_token()),
        )
        .await;
    let head = listed.body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["attempts"].as_i64().unwrap() > 0)
        .cloned()
        .unwrap_or_else(|| panic!("{}", listed.text));
    assert!(head["next_attempt_at"].is_string());
    assert!(
        matches!(head["last_status"].as_i64(), Some(307) | None),
        "{head}"
    );
    // A huge answer counts as its status.
    receiver.set_mode("big", 0).await;
    app.register("bob@example.com").await;
    let got = receiver
        .wait_until("everything", |g| {
            g.iter().filter(|g| g.mode == "big").count() >= 4
        })
        .await;
    // Ada's events arrived in the order they happened, each first delivered once.
    let delivered: Vec<&Got> = got.iter().filter(|g| g.mode == "big").collect();
    let ada_story: Vec<&str> = delivered
        .iter()
        .filter(|g| user_id(&g.event) == ada_id)
        .map(|g| g.kind())
        .collect();
    assert_eq!(ada_story, ["user.created", "session.created"]);
    let first_id = got[0].id.clone();
    assert!(
        delivered.iter().any(|g| g.id == first_id),
        "the same webhook-id after the failures"
    );
}

async fn deliveries_are_listed_and_sent_again_by_admins(backend: Backend) {
    let receiver = Receiver::start();
    let app = app(backend, &receiver, &[("WEBHOOK_RETRY_FOR", "2")]).await;
    receiver.set_mode("fail", 0).await;
    let admin = app.register("admin@example.com").await.access_token();
    // Past WEBHOOK_RETRY_FOR the first event is failed, and holds nothing back.
    let list = |status: &'static str| {
        let (app, admin) = (&app, admin.clone());
        async move {
            app.get(
                &format!("/admin/webhooks/deliveries?status={status}"),
                Some(&admin),
            )
            .await
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let failed = loop {
        let r = list("failed").await;
        assert_eq!(r.status, 200, "{}", r.text);
        if r.body["deliveries"].as_array().unwrap().len() == 2 {
            break r;
        }
        assert!(std::time::Instant::now() < deadline, "{}", r.text);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let rows = failed.body["deliveries"].as_array().unwrap().clone();
    for d in &rows {
        assert_eq!(d["status"], "failed");
        assert_eq!(d["last_status"], 500);
        assert!(d["attempts"].as_i64().unwrap() >= 1);
        assert!(d["next_attempt_at"].is_null());
        let keys: HashSet<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            HashSet::from([
                "id",
                "type",
                "user_id",
                "status",
                "attempts",
                "last_status",
                "last_attempt_at",
                "next_attempt_at",
                "created_at"
            ])
        );
    }
    // Pages, newest first.
    let page = app
        .get("/admin/webhooks/deliveries?limit=1", Some(&admin))
        .await;
    assert_eq!(page.body["deliveries"].as_array().unwrap().len(), 1);
    let cursor = page.body["next_cursor"].as_str().unwrap().to_string();
    let next = app
        .get(
            &format!("/admin/webhooks/deliveries?limit=1&cursor={cursor}"),
            Some(&admin),
        )
        .await;
    assert_ne!(
        next.body["deliveries"][0]["id"],
        page.body["deliveries"][0]["id"]
    );
    for bad in ["status=sent", "cursor=abc", "limit=0"] {
        app.get(&format!("/admin/webhooks/deliveries?{bad}"), Some(&admin))
            .await
            .assert_problem(400, "invalid_request");
    }
    // Sent again on an admin's word, under the same id.
    receiver.set_mode("ok", 0).await;
    let id = rows[1]["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/admin/webhooks/deliveries/{id}/retry"),
            &json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    receiver
        .wait_until("the retried delivery", |g| {
            g.iter().any(|g| g.id == id && g.mode == "ok")
        })
        .await;
    for unknown in [
        "msg_00000000000000000000000000000000",
        "not-an-id",
        "msg_%2e%2e",
    ] {
        app.post(
            &format!("/admin/webhooks/deliveries/{unknown}/retry"),
            &json!({}),
            Some(&admin),
        )
        .await
        .assert_problem(404, "not_found");
    }
    // Only admins.
    let user = app.register("user@example.com").await.access_token();
    app.get("/admin/webhooks/deliveries", Some(&user))
        .await
        .assert_problem(403, "forbidden");
}

async fn a_killed_latch_loses_nothing_and_sends_again_under_the_same_id(backend: Backend) {
    let receiver = Receiver::start();
    let db = TestDb::new_for(backend);
    let env = receiver.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut server = ServerProcess::start(&db, &env).await;
    // The receiver takes a second per delivery: some are in flight when Latch dies.
    receiver.set_mode("slow", 1).await;
    let client = reqwest::Client::new();
    for n in 0..12 {
        let r = client
            .post(server.url("/auth/register"))
            .json(&json!({"email": format!("u{n}@example.com"), "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    receiver
        .wait_until("a delivery under way", |g| !g.is_empty())
        .await;
    server.kill();
    receiver.set_mode("ok", 0).await;
    let _restarted = ServerProcess::start(&db, &env).await;
    let expected: HashSet<String> = {
        let mut conn = db_conn(&db);
        use diesel::prelude::*;
        use latch::db::schema::webhook_deliveries::dsl::*;
        webhook_deliveries
            .select(id)
            .load::<String>(&mut conn)
            .unwrap()
            .into_iter()
            .collect()
    };
    assert_eq!(
        expected.len(),
        24,
        "12 registrations: user.created and session.created each"
    );
    let got = receiver
        .wait_until("every event", |g| {
            let ids: HashSet<&str> = g.iter().map(|g| g.id.as_str()).collect();
            expected.iter().all(|e| ids.contains(e.as_str()))
        })
        .await;
    // At least once: a delivery the kill interrupted may come twice, under its one id.
    let mut times: HashMap<&str, usize> = HashMap::new();
    for g in &got {
        *times.entry(g.id.as_str()).or_default() += 1;
    }
    let doubled = times.values().filter(|n| **n > 1).count();
    assert!(
        doubled <= 32,
        "no more than one batch in flight came twice: {times:?}"
    );
    assert_eq!(times.len(), expected.len(), "nothing unknown arrived");
}

fn db_conn(db: &TestDb) -> latch::db::DbConn {
    use r2d2::ManageConnection;
    latch::db::Manager::new(latch::settings::DatabaseUrl::new(db.url.clone()))
        .connect()
        .unwrap()
}

async fn a_change_that_rolls_back_sends_nothing(backend: Backend) {
    let receiver = Receiver::start();
    let app = app(backend, &receiver, &[]).await;
    app.register("admin@example.com").await;
    // An export whose second user's Google id is the first's: the second document's
    // transaction rolls back, its user with it.
    let export = [
        json!({"_id": {"$oid": "65f0c1aa0000000000000001"}, "email": "ann@chat.example",
               "emailVerified": true, "name": "Ann", "provider": "google", "googleId": "g-1"}),
        json!({"_id": {"$oid": "65f0c1aa0000000000000002"}, "email": "ben@chat.example",
               "emailVerified": true, "name": "Ben", "provider": "google", "googleId": "g-1"}),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    let file = app.db.dir().join("users.json");
    std::fs::write(&file, export).unwrap();
    let env = [("DATABASE_URL", app.db.url.as_str())];
    let out = run_cli(
        app.db.dir(),
        &["import", "librechat", file.to_str().unwrap()],
        &env,
        None,
    );
    assert!(!out.status.success(), "one document was skipped");
    let got = receiver
        .wait_until("Ann's import", |g| {
            g.iter().any(|g| g.kind() == "identity.linked")
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let got = if got.len() < receiver.got().await.len() {
        receiver.got().await
    } else {
        got
    };
    let emails: Vec<&str> = got
        .iter()
        .filter_map(|g| g.event["data"]["user"]["email"].as_str())
        .collect();
    assert!(emails.contains(&"ann@chat.example"), "{emails:?}");
    assert!(
        !emails.contains(&"ben@chat.example"),
        "Ben's rolled-back creation was sent: {emails:?}"
    );
    let mut conn = app.db_conn();
    use diesel::prelude::*;
    use latch::db::schema::webhook_deliveries::dsl::*;
    let bodies: Vec<String> = webhook_deliveries.select(body).load(&mut conn).unwrap();
    assert!(bodies.iter().all(|b| !b.contains("ben@chat.example")));
}

async fn endpoints_have_their_own_secrets_and_events(backend: Backend) {
    let (all, deletions) = (Receiver::start(), Receiver::start());
    let file = format!(
        "[[webhooks]]\nurl = \"{}\"\nsecret = \"{}\"\n\n\
         [[webhooks]]\nurl = \"{}\"\nsecret = [\"{}\"]\nevents = [\"user.deleted\"]\n",
        all.url(),
        all.secret,
        deletions.url(),
        deletions.secret
    );
    let db = std::sync::Arc::new(TestDb::new_for(backend));
    let app = start_with_file(db, &[("WEBHOOK_RETRY_BASE", "1")], Some(&file)).await;
    let admin = app.register("admin@example.com").await.access_token();
    let bob = app.register("bob@example.com").await;
    let bob_id = bob.body["user"]["id"].as_str().unwrap().to_string();
    app.send(
        reqwest::Method::DELETE,
        &format!("/admin/users/{bob_id}"),
        None,
        Some(&admin),
    )
    .await;
    let deleted = deletions
        .one("user.deleted", |e| user_id(e) == bob_id)
        .await;
    assert_eq!(deleted["data"]["user"]["email"], "bob@example.com");
    let everything = all
        .wait_until("Bob's deletion", |g| {
            g.iter().any(|g| g.kind() == "user.deleted")
        })
        .await;
    assert!(everything.len() > 4);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let only = deletions.got().await;
    assert_eq!(only.len(), 1, "the second endpoint wants deletions only");
    let same = everything
        .iter()
        .find(|g| g.kind() == "user.deleted")
        .unwrap();
    assert_ne!(
        same.id, only[0].id,
        "each endpoint's delivery has its own id"
    );
    assert!(
        only[0].id.starts_with(&same.id),
        "{} / {}",
        only[0].id,
        same.id
    );
}

async fn latch_webhooks_secret_and_test(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let out = run_cli(dir.path(), &["webhooks", "secret"], &[], None);
    assert!(out.status.success());
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_string();
    latch::settings::webhooks::parse_secret("s", &secret).expect("a usable secret");

    let mut receiver = Receiver::start();
    let db = TestDb::new_for(backend);
    let mut env: Vec<(String, String)> = receiver
        .env()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    env.push(("DATABASE_URL".into(), db.url.clone()));
    env.push((
        "JWT_REFRESH_SECRET".into(),
        crate::helpers::REFRESH_SECRET.into(),
    ));
    let test = |env: Vec<(String, String)>| {
        let dir = dir.path().to_path_buf();
        async move {
            tokio::task::spawn_blocking(move || {
                let env: Vec<(&str, &str)> =
                    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                run_cli(&dir, &["webhooks", "test"], &env, None)
            })
            .await
            .unwrap()
        }
    };
    let out = test(env.clone()).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ping = receiver.one("ping", |_| true).await;
    assert_eq!(ping["data"], json!({}));
    // A receiver that is gone: one line, non-zero.
    receiver.stop();
    let out = test(env.clone()).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("not delivered"), "{err}");
    // No webhook configured.
    let bare: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| !k.starts_with("WEBHOOK"))
        .collect();
    let out = test(bare).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no webhook is configured"));
    // A URL without a secret stops a start.
    let out = run_cli(
        dir.path(),
        &["serve"],
        &[
            ("DATABASE_URL", &db.url),
            ("WEBHOOK_URL", "http://127.0.0.1:9/hook"),
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("WEBHOOK_SECRET"));
}
