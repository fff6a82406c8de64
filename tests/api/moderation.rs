//! Abuse control over HTTP: each limit and its `Retry-After`, scores to a ban, bans and
//! their end, reported violations, proxy hops, limits shared by two server processes, an
//! attack on one account from many addresses, and an inbox flood. On SQLite, PostgreSQL,
//! and with the counters in Redis.

use std::time::Duration;

use serde_json::{json, Value};

use crate::every_store;
use crate::helpers::{
    app_with_mail, new_client, spawn_app_with, Reply, ServerProcess, Store, TestApp, TestDb,
    PASSWORD,
};
use crate::smtp::{SmtpSink, Tls};

every_store!(
    each_limit_answers_429_with_retry_after,
    scores_add_up_to_a_ban_that_ends_by_itself,
    admins_ban_and_lift,
    reported_violations_ban_the_user_and_the_ip,
    proxy_hops_decide_the_client,
    two_processes_enforce_one_limit,
    an_attack_from_many_addresses_leaves_the_owner_in,
    an_inbox_flood_leaves_the_last_link_valid,
    submissions_have_limits_of_their_own,
);

const SERVICE: &str = "chat-backend-service-token";

async fn app(store: Store, extra: &[(&str, &str)]) -> TestApp {
    let env = store.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.push(("SERVICE_TOKENS", SERVICE));
    all.extend_from_slice(extra);
    spawn_app_with(store.backend(), &all).await
}

/// A request from `ip` (behind one trusted proxy).
async fn from(app: &TestApp, ip: &str, path: &str, body: Value) -> Reply {
    Reply::from(
        new_client()
            .post(app.url(path))
            .header("x-forwarded-for", ip)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn retry_after(r: &Reply) -> u64 {
    r.header("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After: {}", r.text))
        .parse()
        .unwrap()
}

async fn each_limit_answers_429_with_retry_after(store: Store) {
    let app = app(
        store,
        &[
            ("TRUST_PROXY", "1"),
            ("LOGIN_MAX", "3"),
            ("REGISTER_MAX", "2"),
            ("RESET_PASSWORD_MAX", "2"),
            ("VERIFY_EMAIL_MAX", "2"),
            ("BAN_VIOLATIONS", "false"),
        ],
    )
    .await;
    let login = json!({"email": "nobody@example.com", "password": PASSWORD});
    for _ in 0..3 {
        from(&app, "1.1.1.1", "/auth/login", login.clone())
            .await
            .assert_problem(401, "invalid_credentials");
    }
    let r = from(&app, "1.1.1.1", "/auth/login", login.clone()).await;
    r.assert_problem(429, "rate_limited");
    let wait = retry_after(&r);
    assert!(
        (1..=300).contains(&wait),
        "LOGIN_WINDOW is 5 minutes: {wait}"
    );
    // The login limit covers magic links, dev login and social sign-in too.
    from(
        &app,
        "1.1.1.1",
        "/auth/magic-link",
        json!({"email": "a@example.com"}),
    )
    .await
    .assert_problem(429, "rate_limited");
    let r = Reply::from(
        new_client()
            .get(app.url("/auth/oauth/openid"))
            .header("x-forwarded-for", "1.1.1.1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_problem(429, "rate_limited");
    // Another client is not affected.
    from(&app, "2.2.2.2", "/auth/login", login.clone())
        .await
        .assert_problem(401, "invalid_credentials");
    // Registrations: REGISTER_MAX per hour.
    for i in 0..2 {
        let body = json!({"email": format!("u{i}@example.com"), "password": PASSWORD});
        assert_eq!(
            from(&app, "3.3.3.3", "/auth/register", body).await.status,
            201
        );
    }
    let r = from(
        &app,
        "3.3.3.3",
        "/auth/register",
        json!({"email": "u9@example.com", "password": PASSWORD}),
    )
    .await;
    r.assert_problem(429, "rate_limited");
    assert!(retry_after(&r) > 300, "REGISTER_WINDOW is an hour");
    // Resets and verification: two per two minutes (the feature is off here; the limit is
    // in front of it).
    for (path, body) in [
        ("/auth/password/forgot", json!({"email": "a@example.com"})),
        (
            "/auth/email/verify/resend",
            json!({"email": "a@example.com"}),
        ),
    ] {
        for _ in 0..2 {
            from(&app, "4.4.4.4", path, body.clone())
                .await
                .assert_problem(403, "feature_disabled");
        }
        let r = from(&app, "4.4.4.4", path, body.clone()).await;
        r.assert_problem(429, "rate_limited");
        assert!((1..=120).contains(&retry_after(&r)), "{path}");
    }
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"latch_rate_limited_total{kind="login"} 3"#),
        "{metrics}"
    );
    // A limit hit is audited once per window and client, not once per request.
    let events: i64 = {
        use diesel::prelude::*;
        use latch::db::schema::audit_events;
        audit_events::table
            .filter(audit_events::kind.eq("rate_limited"))
            .count()
            .get_result(&mut app.db_conn())
            .unwrap()
    };
    assert_eq!(
        events, 4,
        "login, register, reset and verification, once each"
    );
    // With USE_REDIS the counters live in Redis, and none in the database.
    let rows: i64 = {
        use diesel::prelude::*;
        latch::db::schema::rate_counters::table
            .count()
            .get_result(&mut app.db_conn())
            .unwrap()
    };
    if store == Store::Redis {
        assert_eq!(rows, 0);
        let prefix = app
            .state
            .settings
            .moderation
            .redis
            .as_ref()
            .unwrap()
            .key_prefix
            .clone();
        let client = redis::Client::open(crate::helpers::redis_url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}:limit:login:*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(keys.len(), 2, "1.1.1.1 and 2.2.2.2: {keys:?}");
    } else {
        assert!(rows > 0);
    }
}

async fn scores_add_up_to_a_ban_that_ends_by_itself(store: Store) {
    let app = app(
        store,
        &[
            ("TRUST_PROXY", "1"),
            ("LOGIN_MAX", "1"),
            ("BAN_INTERVAL", "3"),
            ("BAN_DURATION", "2000"),
        ],
    )
    .await;
    let admin = from(
        &app,
        "9.9.9.9",
        "/auth/register",
        json!({"email": "admin@example.com", "password": PASSWORD}),
    )
    .await
    .access_token();
    let login = json!({"email": "nobody@example.com", "password": PASSWORD});
    from(&app, "5.5.5.5", "/auth/login", login.clone())
        .await
        .assert_problem(401, "invalid_credentials");
    // Each 429 scores one point; the request that reaches three is the ban.
    for _ in 0..2 {
        from(&app, "5.5.5.5", "/auth/login", login.clone())
            .await
            .assert_problem(429, "rate_limited");
    }
    let r = from(&app, "5.5.5.5", "/auth/login", login.clone()).await;
    r.assert_problem(403, "banned");
    let until: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(r.body["banned_until"].clone()).unwrap();
    assert!(until > chrono::Utc::now());
    // Banned from every limited endpoint, not only the one it flooded.
    from(
        &app,
        "5.5.5.5",
        "/auth/register",
        json!({"email": "x@example.com", "password": PASSWORD}),
    )
    .await
    .assert_problem(403, "banned");
    let bans = app.get("/admin/bans", Some(&admin)).await;
    assert_eq!(
        bans.body["bans"].as_array().unwrap().len(),
        1,
        "{}",
        bans.text
    );
    assert_eq!(bans.body["bans"][0]["ip"], "5.5.5.5");
    assert!(
        bans.body["bans"][0]["user_id"].is_null(),
        "a flood bans the IP only"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"latch_bans_total{subject="ip"} 1"#),
        "{metrics}"
    );
    // The ban ends by itself.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let r = from(
        &app,
        "5.5.5.5",
        "/auth/register",
        json!({"email": "x@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let bans = app.get("/admin/bans", Some(&admin)).await;
    assert_eq!(bans.body["bans"], json!([]));

    // With BAN_VIOLATIONS=false the limits stay and nobody is banned.
    let lenient = self::app(
        store,
        &[
            ("TRUST_PROXY", "1"),
            ("LOGIN_MAX", "1"),
            ("BAN_INTERVAL", "2"),
            ("BAN_VIOLATIONS", "false"),
        ],
    )
    .await;
    from(&lenient, "6.6.6.6", "/auth/login", login.clone()).await;
    for _ in 0..5 {
        from(&lenient, "6.6.6.6", "/auth/login", login.clone())
            .await
            .assert_problem(429, "rate_limited");
    }
}

async fn admins_ban_and_lift(store: Store) {
    let app = app(store, &[("TRUST_PROXY", "1")]).await;
    let admin = from(
        &app,
        "9.9.9.9",
        "/auth/register",
        json!({"email": "admin@example.com", "password": PASSWORD}),
    )
    .await
    .access_token();
    let bob = app.register("bob@example.com").await;
    let bob_id = bob.body["user"]["id"].as_str().unwrap().to_string();
    let (device, _) = app.login_as_device("bob@example.com").await;
    // Neither a user nor an IP, a bad IP, an unknown user: refused.
    app.post("/admin/bans", &json!({"reason": "x"}), Some(&admin))
        .await
        .assert_problem(422, "validation_failed");
    app.post("/admin/bans", &json!({"ip": "not-an-ip"}), Some(&admin))
        .await
        .assert_problem(422, "validation_failed");
    app.post(
        "/admin/bans",
        &json!({"user_id": uuid::Uuid::now_v7().to_string()}),
        Some(&admin),
    )
    .await
    .assert_problem(404, "not_found");
    let r = app
        .post(
            "/admin/bans",
            &json!({"user_id": bob_id, "duration_ms": 60000, "reason": "spam"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["user_id"], bob_id.as_str());
    assert_eq!(r.body["reason"], "spam");
    let ban_id = r.body["id"].as_str().unwrap().to_string();
    // The ban ends Bob's sessions and refuses his sign-ins, naming its end.
    let refreshed = device.post(app.url("/auth/refresh")).send().await.unwrap();
    assert_eq!(refreshed.status(), 401);
    let r = app.login("bob@example.com", PASSWORD).await;
    r.assert_problem(403, "banned");
    assert!(r.body["banned_until"].is_string());
    // Lifted, he signs in again; lifting twice is a 404.
    let lift = app
        .send(
            reqwest::Method::DELETE,
            &format!("/admin/bans/{ban_id}"),
            None,
            Some(&admin),
        )
        .await;
    assert_eq!(lift.status, 204, "{}", lift.text);
    assert_eq!(app.login("bob@example.com", PASSWORD).await.status, 200);
    app.send(
        reqwest::Method::DELETE,
        &format!("/admin/bans/{ban_id}"),
        None,
        Some(&admin),
    )
    .await
    .assert_problem(404, "not_found");
    // An IP ban refuses new sign-ins from that address; sessions already open (Bob's
    // refresh, an admin's calls) go on, so a ban of a shared address signs nobody out.
    let (device, _) = app.login_as_device("bob@example.com").await;
    let r = app
        .post("/admin/bans", &json!({"ip": "7.7.7.7"}), Some(&admin))
        .await;
    assert_eq!(r.status, 201);
    from(
        &app,
        "7.7.7.7",
        "/auth/login",
        json!({"email": "bob@example.com", "password": PASSWORD}),
    )
    .await
    .assert_problem(403, "banned");
    let r = device
        .post(app.url("/auth/refresh"))
        .header("x-forwarded-for", "7.7.7.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = new_client()
        .get(app.url("/admin/users"))
        .bearer_auth(&admin)
        .header("x-forwarded-for", "7.7.7.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Audited.
    let audit = app.get("/admin/audit?kind=banned", Some(&admin)).await;
    assert_eq!(audit.body["events"].as_array().unwrap().len(), 2);
    let audit = app.get("/admin/audit?kind=unbanned", Some(&admin)).await;
    assert_eq!(audit.body["events"].as_array().unwrap().len(), 1);
}

async fn reported_violations_ban_the_user_and_the_ip(store: Store) {
    let app = app(store, &[("TRUST_PROXY", "1")]).await;
    let admin = app.register("admin@example.com").await.access_token();
    let eve = app.register("eve@example.com").await;
    let eve_id = eve.body["user"]["id"].as_str().unwrap().to_string();
    // Not a service token nor an admin: refused.
    app.post(
        "/admin/violations",
        &json!({"user_id": eve_id, "kind": "non_browser"}),
        Some(&eve.access_token()),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post("/admin/violations", &json!({"kind": "x"}), Some(SERVICE))
        .await
        .assert_problem(422, "validation_failed");
    // Message floods score what the chat backend says, until BAN_INTERVAL (20).
    for _ in 0..3 {
        let r = app
            .post(
                "/admin/violations",
                &json!({"user_id": eve_id, "kind": "message_flood", "score": 5}),
                Some(SERVICE),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
    }
    assert_eq!(app.login("eve@example.com", PASSWORD).await.status, 200);
    // A non_browser violation scores NON_BROWSER_VIOLATION_SCORE (20): banned, with her IP.
    let r = app
        .post(
            "/admin/violations",
            &json!({"user_id": eve_id, "ip": "8.8.4.4", "kind": "non_browser"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    app.login("eve@example.com", PASSWORD)
        .await
        .assert_problem(403, "banned");
    from(
        &app,
        "8.8.4.4",
        "/auth/login",
        json!({"email": "admin@example.com", "password": PASSWORD}),
    )
    .await
    .assert_problem(403, "banned");
    let bans = app.get("/admin/bans", Some(&admin)).await;
    let ban = &bans.body["bans"][0];
    assert_eq!(ban["user_id"], eve_id.as_str());
    assert_eq!(ban["ip"], "8.8.4.4");
    // Introspection of her old token says inactive.
    let r = app
        .post(
            "/auth/introspect",
            &json!({"token": eve.access_token()}),
            Some(SERVICE),
        )
        .await;
    assert_eq!(r.body["active"], false);
}

async fn proxy_hops_decide_the_client(store: Store) {
    let login = json!({"email": "nobody@example.com", "password": PASSWORD});
    let hit = |app: &TestApp, lines: Vec<&'static str>| {
        let (url, body) = (app.url("/auth/login"), login.clone());
        async move {
            let mut req = new_client().post(url).json(&body);
            for line in lines {
                req = req.header("x-forwarded-for", line);
            }
            req.send().await.unwrap().status().as_u16()
        }
    };
    // No trusted proxy: forwarded headers are the client's own words and are ignored.
    let direct = app(
        store,
        &[
            ("TRUST_PROXY", "0"),
            ("LOGIN_MAX", "2"),
            ("BAN_VIOLATIONS", "false"),
        ],
    )
    .await;
    assert_eq!(hit(&direct, vec!["1.1.1.1"]).await, 401);
    assert_eq!(hit(&direct, vec!["2.2.2.2"]).await, 401);
    assert_eq!(
        hit(&direct, vec!["3.3.3.3"]).await,
        429,
        "one client, whatever it claims"
    );
    // One hop: the rightmost entry, across header lines; what the client wrote further
    // left does not make it someone else.
    let one = app(
        store,
        &[
            ("TRUST_PROXY", "1"),
            ("LOGIN_MAX", "2"),
            ("BAN_VIOLATIONS", "false"),
        ],
    )
    .await;
    assert_eq!(hit(&one, vec!["6.6.6.1, 10.0.0.1"]).await, 401);
    assert_eq!(hit(&one, vec!["6.6.6.2", "10.0.0.1"]).await, 401);
    assert_eq!(
        hit(&one, vec!["junk, 10.0.0.1:5555"]).await,
        429,
        "10.0.0.1, with a port"
    );
    assert_eq!(hit(&one, vec!["10.0.0.2"]).await, 401, "another client");
    assert_eq!(hit(&one, vec!["2001:db8::1"]).await, 401);
    assert_eq!(hit(&one, vec!["[2001:db8::2]:80"]).await, 401);
    // Two hops: the second from the right.
    let two = app(
        store,
        &[
            ("TRUST_PROXY", "2"),
            ("LOGIN_MAX", "2"),
            ("BAN_VIOLATIONS", "false"),
        ],
    )
    .await;
    assert_eq!(hit(&two, vec!["6.6.6.6, 4.4.4.4, 10.0.0.9"]).await, 401);
    assert_eq!(hit(&two, vec!["7.7.7.7, 4.4.4.4", "10.0.0.8"]).await, 401);
    assert_eq!(
        hit(&two, vec!["4.4.4.4, 10.0.0.7"]).await,
        429,
        "4.4.4.4 again"
    );
    assert_eq!(hit(&two, vec!["5.5.5.5, 10.0.0.9"]).await, 401);
}

async fn two_processes_enforce_one_limit(store: Store) {
    let db = TestDb::new_for(store.backend());
    let env = store.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend([
        ("TRUST_PROXY", "1"),
        ("LOGIN_MAX", "4"),
        ("BAN_INTERVAL", "2"),
    ]);
    let a = ServerProcess::start(&db, &all).await;
    let b = ServerProcess::start(&db, &all).await;
    let login = json!({"email": "nobody@example.com", "password": PASSWORD});
    let mut statuses = Vec::new();
    for i in 0..6 {
        let server = if i % 2 == 0 { &a } else { &b };
        let r = new_client()
            .post(server.url("/auth/login"))
            .header("x-forwarded-for", "1.2.3.4")
            .json(&login)
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    // Four in all, not four on each; the second 429 reaches BAN_INTERVAL.
    assert_eq!(statuses, vec![401, 401, 401, 401, 429, 403], "{statuses:?}");
    // The ban made on one is seen by the other.
    for server in [&a, &b] {
        let r = new_client()
            .post(server.url("/auth/register"))
            .header("x-forwarded-for", "1.2.3.4")
            .json(&json!({"email": "x@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
}

async fn an_attack_from_many_addresses_leaves_the_owner_in(store: Store) {
    let app = app(
        store,
        &[
            ("TRUST_PROXY", "1"),
            ("LOGIN_MAX", "3"),
            ("BAN_INTERVAL", "2"),
        ],
    )
    .await;
    from(
        &app,
        "192.0.2.1",
        "/auth/register",
        json!({"email": "owner@example.com", "password": PASSWORD}),
    )
    .await;
    // Thirty addresses guess the owner's password until each is limited and banned.
    let guess = json!({"email": "owner@example.com", "password": "a wrong guess here"});
    for n in 1..=30 {
        let ip = format!("203.0.113.{n}");
        let mut last = 0;
        for _ in 0..6 {
            last = Reply::from(
                new_client()
                    .post(app.url("/auth/login"))
                    .header("x-forwarded-for", &ip)
                    .json(&guess)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
            .status;
        }
        assert_eq!(last, 403, "{ip} ends banned");
    }
    // The owner, from their own address, signs in at once.
    let r = from(
        &app,
        "192.0.2.1",
        "/auth/login",
        json!({"email": "owner@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn an_inbox_flood_leaves_the_last_link_valid(store: Store) {
    let sink = SmtpSink::start(Tls::None);
    let env = store.env();
    let mut extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    extra.extend([
        ("TRUST_PROXY", "1"),
        ("REQUIRE_EMAIL_VERIFICATION", "false"),
        ("EMAIL_ADDRESS_MAX", "3"),
    ]);
    let app = app_with_mail(store.backend(), &sink, &extra).await;
    app.register("ada@example.com").await;
    sink.wait_for(1, |m| m.subject.contains("Confirm")).await;
    // A flood of reset requests from many addresses: each answered 202.
    for n in 1..=8 {
        let r = from(
            &app,
            &format!("198.51.100.{n}"),
            "/auth/password/forgot",
            json!({"email": "ada@example.com"}),
        )
        .await;
        assert_eq!(r.status, 202);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let resets: Vec<_> = sink
        .messages()
        .into_iter()
        .filter(|m| m.subject.contains("Reset your"))
        .collect();
    // EMAIL_ADDRESS_MAX (3), and no more.
    assert_eq!(resets.len(), 3, "{resets:?}");
    let reset = |token: String| {
        let app = &app;
        async move {
            app.post(
                "/auth/password/reset",
                &json!({"token": token, "password": "a brand new passphrase"}),
                None,
            )
            .await
        }
    };
    // Each link that went out voided the one before; the throttled requests voided
    // nothing, so the last link issued is still live (and only it).
    let live: i64 = {
        use diesel::prelude::*;
        use latch::db::schema::one_time_tokens as t;
        t::table
            .filter(t::kind.eq("password_reset"))
            .filter(t::used_at.is_null())
            .count()
            .get_result(&mut app.db_conn())
            .unwrap()
    };
    assert_eq!(live, 1);
    let mut worked = 0;
    for mail in &resets {
        if reset(mail.token()).await.status == 200 {
            worked += 1;
        }
    }
    assert_eq!(worked, 1);
}

/// LibreChat's `RESET_PASSWORD_SUBMISSION_*` and `VERIFY_EMAIL_SUBMISSION_*`: submitting
/// links is limited apart from asking for them, each with its own score.
async fn submissions_have_limits_of_their_own(store: Store) {
    let app = app(
        store,
        &[
            ("TRUST_PROXY", "1"),
            ("RESET_PASSWORD_MAX", "5"),
            ("RESET_PASSWORD_SUBMISSION_MAX", "2"),
            ("RESET_PASSWORD_SUBMISSION_VIOLATION_SCORE", "0"),
            ("VERIFY_EMAIL_SUBMISSION_MAX", "1"),
            ("EMAIL_HOST", "127.0.0.1"),
            ("EMAIL_PORT", "9"),
            ("EMAIL_FROM", "no-reply@latch.test"),
            ("EMAIL_ENCRYPTION", "none"),
        ],
    )
    .await;
    let reset = json!({"token": "x".repeat(43), "password": "a brand new passphrase"});
    for _ in 0..2 {
        from(&app, "192.0.2.7", "/auth/password/reset", reset.clone())
            .await
            .assert_problem(400, "invalid_token");
    }
    let r = from(&app, "192.0.2.7", "/auth/password/reset", reset.clone()).await;
    r.assert_problem(429, "rate_limited");
    // Asking for a link is another limit: still open.
    let r = from(
        &app,
        "192.0.2.7",
        "/auth/password/forgot",
        json!({"email": "a@example.com"}),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    // A score of 0 bans nobody, however often.
    for _ in 0..30 {
        from(&app, "192.0.2.7", "/auth/password/reset", reset.clone()).await;
    }
    let r = from(&app, "192.0.2.7", "/auth/password/reset", reset).await;
    r.assert_problem(429, "rate_limited");
    let verify = json!({"token": "y".repeat(43)});
    from(&app, "192.0.2.8", "/auth/email/verify", verify.clone())
        .await
        .assert_problem(400, "invalid_token");
    from(&app, "192.0.2.8", "/auth/email/verify", verify)
        .await
        .assert_problem(429, "rate_limited");
}
