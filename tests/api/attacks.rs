//! The security review of the sign-in decision, row by row: each test plays the attack
//! over HTTP and checks what must happen instead.

use std::time::Duration;

use serde_json::json;

use crate::both_backends;
use crate::helpers::{
    app_with_mail, new_client, run_cli, spawn_app_with, Backend, Reply, TestApp, PASSWORD,
};
use crate::smtp::{SmtpSink, Tls};

both_backends!(
    unproven_registration_never_outlives_the_proof,
    magic_link_strips_an_unproven_password_and_its_sessions,
    admin_routes_need_a_live_session,
    introspection_reports_the_current_user,
    query_text_with_nul_bytes_is_a_bad_request,
    disabling_ends_every_session,
    a_new_password_voids_outstanding_links,
    an_invitation_cannot_overwrite_a_password_set_since,
    forwarded_header_lines_are_one_list,
    hashing_needs_a_live_token_and_waits_are_bounded,
    start_refuses_unsafe_settings,
    two_admins_cannot_disable_each_other_at_once,
    json_bodies_must_be_utf8_throughout,
    an_admin_token_is_not_a_service_credential,
    a_spent_refresh_token_cannot_log_out_everyone,
    librechat_settings_are_honoured,
    gzip_bodies_are_not_inflated,
);

const ATTACKER_PASSWORD: &str = "attacker knows this one";
const VICTIM_PASSWORD: &str = "victim chose this one";

async fn register_with(app: &TestApp, email: &str, password: &str) -> Reply {
    app.post(
        "/auth/register",
        &json!({"email": email, "password": password}),
        None,
    )
    .await
}

/// Row 1: a password set before the address was proven never survives its proof by
/// someone else.
async fn unproven_registration_never_outlives_the_proof(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let app = app_with_mail(backend, &sink, &[]).await;
    // The attacker registers the victim's address first...
    let r = register_with(&app, "victim@example.com", ATTACKER_PASSWORD).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // ...then the victim registers it too, and follows the link that reaches them.
    let r = register_with(&app, "victim@example.com", VICTIM_PASSWORD).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let links = sink
        .wait_for(2, |m| {
            m.to == "victim@example.com" && m.subject.contains("Confirm your email")
        })
        .await;
    let r = app
        .post(
            "/auth/email/verify",
            &json!({"token": links[1].token()}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.login("victim@example.com", ATTACKER_PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    let r = app.login("victim@example.com", VICTIM_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Row 1, by magic link: signing in by link into a never-verified account removes the
/// password its registrant set and ends the sessions they had.
async fn magic_link_strips_an_unproven_password_and_its_sessions(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let app = app_with_mail(backend, &sink, &[("REQUIRE_EMAIL_VERIFICATION", "false")]).await;
    app.register("admin@example.com").await;
    // Without verification required, the attacker is signed in at once.
    let attacker = new_client();
    let r = Reply::from(
        attacker
            .post(app.url("/auth/register"))
            .json(&json!({"email": "victim@example.com", "password": ATTACKER_PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let attacker_access = r.access_token();
    // The victim signs in by magic link.
    let accepted = app
        .post(
            "/auth/magic-link",
            &json!({"email": "victim@example.com"}),
            None,
        )
        .await;
    assert_eq!(accepted.status, 202);
    let link = sink.one("victim@example.com", "sign-in link").await;
    let r = app
        .post(
            "/auth/magic-link/verify",
            &json!({"token": link.token()}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["email_verified"], true);
    app.login("victim@example.com", ATTACKER_PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    let refreshed = Reply::from(
        attacker
            .post(app.url("/auth/refresh"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    refreshed.assert_problem(401, "unauthorized");
    app.get("/auth/me", Some(&attacker_access))
        .await
        .assert_problem(401, "unauthorized");
}

/// Row 2: an admin's access token is worth nothing once its session has ended.
async fn admin_routes_need_a_live_session(backend: Backend) {
    let app = spawn_app_with(backend, &[("REFRESH_REUSE_GRACE", "0")]).await;
    let admin = app.register("admin@example.com").await.access_token();
    let create = |n: u32| json!({"email": format!("u{n}@example.com"), "password": PASSWORD});
    assert_eq!(
        app.post("/admin/users", &create(1), Some(&admin))
            .await
            .status,
        201
    );
    // Signed out: the same token is refused.
    let out = app.post_raw("/auth/logout", None, Vec::new()).await.status;
    assert_eq!(out, 204);
    let r = app.post("/admin/users", &create(2), Some(&admin)).await;
    r.assert_problem(401, "unauthorized");
    assert!(r.header("www-authenticate").is_some());
    // Revoked by reuse of its refresh token: likewise.
    let (device, login) = app.login_as_device("admin@example.com").await;
    let access = login.access_token();
    let spent = login.refresh_cookie_value().unwrap();
    let rotated = device.post(app.url("/auth/refresh")).send().await.unwrap();
    assert_eq!(rotated.status(), 200);
    app.refresh_with_cookie(&spent, None)
        .await
        .assert_problem(401, "refresh_token_reused");
    app.post("/admin/users", &create(3), Some(&access))
        .await
        .assert_problem(401, "unauthorized");
    // Revoked by an admin: likewise.
    let (_, other) = app.login_as_device("admin@example.com").await;
    let other = other.access_token();
    let (_, third) = app.login_as_device("admin@example.com").await;
    let third = third.access_token();
    let me = app.get("/auth/me", Some(&third)).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let revoke = app
        .post(
            &format!("/admin/users/{me}/sessions/revoke"),
            &json!({}),
            Some(&third),
        )
        .await;
    assert_eq!(revoke.status, 204, "{}", revoke.text);
    app.get("/admin/users", Some(&other))
        .await
        .assert_problem(401, "unauthorized");
}

/// Row 3: introspection tells the account as it is now, not the token's copy.
async fn introspection_reports_the_current_user(backend: Backend) {
    const SERVICE: &str = "service-token-for-the-chat-backend";
    let app = spawn_app_with(backend, &[("SERVICE_TOKENS", SERVICE)]).await;
    let first = app.register("first@example.com").await.access_token();
    let r = app
        .post(
            "/admin/users",
            &json!({"email": "second@example.com", "password": PASSWORD, "role": "admin"}),
            Some(&first),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let second_id = r.body["id"].as_str().unwrap().to_string();
    let second = app
        .login("second@example.com", PASSWORD)
        .await
        .access_token();
    let app = &app;
    let introspect = |t: String| async move {
        app.post("/auth/introspect", &json!({"token": t}), Some(SERVICE))
            .await
    };
    assert_eq!(introspect(second.clone()).await.body["role"], "admin");
    let demoted = app
        .send(
            reqwest::Method::PATCH,
            &format!("/admin/users/{second_id}"),
            Some(&json!({"role": "user"})),
            Some(&first),
        )
        .await;
    assert_eq!(demoted.status, 200, "{}", demoted.text);
    let r = introspect(second.clone()).await;
    assert_eq!(r.body["active"], true, "{}", r.text);
    assert_eq!(r.body["role"], "user", "{}", r.text);
    // And the demoted admin's token opens no admin route.
    app.get("/admin/users", Some(&second))
        .await
        .assert_problem(403, "forbidden");
}

/// Row 4: text PostgreSQL cannot hold is a bad request, never a 500.
async fn query_text_with_nul_bytes_is_a_bad_request(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let admin = app.register("admin@example.com").await.access_token();
    for path in [
        "/admin/users?q=%00",
        "/admin/users?q=a%00b",
        "/admin/users?cursor=%00",
        "/admin/users?cursor=not-an-id",
        "/admin/audit?kind=%00",
        "/admin/audit?user_id=%00",
        "/admin/audit?cursor=%00",
        "/admin/mail?cursor=%00",
    ] {
        let r = app.get(path, Some(&admin)).await;
        r.assert_problem(400, "invalid_request");
    }
    // Ordinary searches still work.
    let r = app.get("/admin/users?q=ADMIN", Some(&admin)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["users"].as_array().unwrap().len(), 1);
}

/// Row 5: disabling ends every session; enabling again does not revive them.
async fn disabling_ends_every_session(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let admin = app.register("admin@example.com").await.access_token();
    let r = app
        .post(
            "/admin/users",
            &json!({"email": "bob@example.com", "password": PASSWORD}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 201);
    let user = r.body["id"].as_str().unwrap().to_string();
    let (_, login) = app.login_as_device("bob@example.com").await;
    let refresh_token = login.refresh_cookie_value().unwrap();
    let set = |disabled: bool| {
        let (app, admin, user) = (&app, admin.clone(), user.clone());
        async move {
            let r = app
                .send(
                    reqwest::Method::PATCH,
                    &format!("/admin/users/{user}"),
                    Some(&json!({"disabled": disabled})),
                    Some(&admin),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
    };
    set(true).await;
    set(false).await;
    app.refresh_with_cookie(&refresh_token, None)
        .await
        .assert_problem(401, "unauthorized");
    app.get("/auth/me", Some(&login.access_token()))
        .await
        .assert_problem(401, "unauthorized");
    // The account itself works again.
    assert_eq!(app.login("bob@example.com", PASSWORD).await.status, 200);
}

/// Row 6: a password change, a reset or an admin's set-password voids outstanding reset,
/// magic-link and invite links.
async fn a_new_password_voids_outstanding_links(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let app = app_with_mail(backend, &sink, &[("REQUIRE_EMAIL_VERIFICATION", "false")]).await;
    let admin = app.register("admin@example.com").await.access_token();
    let ada = app.register("ada@example.com").await;
    let ada_id = ada.body["user"]["id"].as_str().unwrap().to_string();
    let ask = |path: &'static str| {
        let app = &app;
        async move {
            let r = app
                .post(path, &json!({"email": "ada@example.com"}), None)
                .await;
            assert_eq!(r.status, 202);
        }
    };

    // Changed by the user.
    ask("/auth/password/forgot").await;
    ask("/auth/magic-link").await;
    let reset = sink.one("ada@example.com", "Reset your").await.token();
    let magic = sink.one("ada@example.com", "sign-in link").await.token();
    let r = app
        .post(
            "/auth/password/change",
            &json!({"current_password": PASSWORD, "new_password": "changed by ada herself"}),
            Some(&ada.access_token()),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let reset_body = |token: &str| json!({"token": token, "password": "a reset password here"});
    app.post("/auth/password/reset", &reset_body(&reset), None)
        .await
        .assert_problem(400, "invalid_token");
    app.post("/auth/magic-link/verify", &json!({"token": magic}), None)
        .await
        .assert_problem(400, "invalid_token");

    // Set by an admin.
    ask("/auth/password/forgot").await;
    let resets = sink
        .wait_for(2, |m| {
            m.to == "ada@example.com" && m.subject.contains("Reset your")
        })
        .await;
    let r = app
        .post(
            &format!("/admin/users/{ada_id}/password"),
            &json!({"password": "set by the admin now"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.post(
        "/auth/password/reset",
        &reset_body(&resets[1].token()),
        None,
    )
    .await
    .assert_problem(400, "invalid_token");

    // Reset by a link: the other links go.
    ask("/auth/magic-link").await;
    ask("/auth/password/forgot").await;
    let magic = sink
        .wait_for(2, |m| {
            m.to == "ada@example.com" && m.subject.contains("sign-in link")
        })
        .await[1]
        .token();
    let reset = sink
        .wait_for(3, |m| {
            m.to == "ada@example.com" && m.subject.contains("Reset your")
        })
        .await[2]
        .token();
    let r = app
        .post("/auth/password/reset", &reset_body(&reset), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.post("/auth/magic-link/verify", &json!({"token": magic}), None)
        .await
        .assert_problem(400, "invalid_token");
    assert_eq!(
        app.login("ada@example.com", "a reset password here")
            .await
            .status,
        200
    );
}

/// Row 7: an invitation accepted after an admin set the password does not overwrite it.
async fn an_invitation_cannot_overwrite_a_password_set_since(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let app = app_with_mail(backend, &sink, &[("REQUIRE_EMAIL_VERIFICATION", "false")]).await;
    let admin = app.register("admin@example.com").await.access_token();
    let r = app
        .post(
            "/admin/users",
            &json!({"email": "grace@example.com"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let grace = r.body["id"].as_str().unwrap().to_string();
    let invite = sink.one("grace@example.com", "invited").await.token();
    let r = app
        .post(
            &format!("/admin/users/{grace}/password"),
            &json!({"password": "the admin set this"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.post(
        "/auth/invite/accept",
        &json!({"token": invite, "password": "the invitee wants this"}),
        None,
    )
    .await
    .assert_problem(400, "invalid_token");
    assert_eq!(
        app.login("grace@example.com", "the admin set this")
            .await
            .status,
        200
    );
}

/// Row 8: several `X-Forwarded-For` lines are one list, counted from the right.
async fn forwarded_header_lines_are_one_list(backend: Backend) {
    let app = spawn_app_with(backend, &[("TRUST_PROXY", "1")]).await;
    app.register("ada@example.com").await;
    let res = new_client()
        .post(app.url("/auth/login"))
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-for", "1.2.3.4")
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let login = Reply::from(res).await;
    assert_eq!(login.status, 200, "{}", login.text);
    let sessions = app.get("/auth/sessions", Some(&login.access_token())).await;
    let current = sessions.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()
        .clone();
    assert_eq!(
        current["ip"], "1.2.3.4",
        "the client's own line must not win"
    );
}

/// Row 9: nothing hashes for a link that does not exist, and requests that need a hash
/// are refused at once when too many wait.
async fn hashing_needs_a_live_token_and_waits_are_bounded(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let app = app_with_mail(
        backend,
        &sink,
        &[
            ("SCRYPT_LOG_N", "17"),
            ("PASSWORD_HASH_CONCURRENCY", "1"),
            ("PASSWORD_HASH_QUEUE", "0"),
        ],
    )
    .await;
    // Keep the only hashing slot busy with a slow login, several times over.
    let busy: Vec<_> = (0..3)
        .map(|_| {
            let url = app.url("/auth/login");
            tokio::spawn(async move {
                new_client()
                    .post(url)
                    .json(&json!({"email": "nobody@example.com", "password": PASSWORD}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A made-up reset link is refused without waiting for a hash.
    app.post(
        "/auth/password/reset",
        &json!({"token": "x".repeat(43), "password": "a fine new password"}),
        None,
    )
    .await
    .assert_problem(400, "invalid_token");
    let mut statuses = Vec::new();
    for b in busy {
        statuses.push(b.await.unwrap());
    }
    statuses.sort();
    // One login had the slot; the others were answered at once.
    assert_eq!(statuses, vec![401, 503, 503], "{statuses:?}");
    let flood: Vec<_> = (0..3)
        .map(|_| {
            let url = app.url("/auth/register");
            tokio::spawn(async move {
                Reply::from(
                    new_client()
                        .post(url)
                        .json(&json!({"email": "x@example.com", "password": PASSWORD}))
                        .send()
                        .await
                        .unwrap(),
                )
                .await
            })
        })
        .collect();
    let mut overloaded = 0;
    for f in flood {
        let r = f.await.unwrap();
        if r.status == 503 {
            r.assert_problem(503, "overloaded");
            assert!(r.header("retry-after").is_some());
            overloaded += 1;
        }
    }
    assert!(overloaded >= 1, "a flood past the queue is refused");
}

/// Rows 10, 11 and 14: settings that would be unsafe stop the start, naming themselves.
async fn start_refuses_unsafe_settings(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let strong = "s".repeat(40);
    let two_byte_31 = "é".repeat(31);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("APP_ENV", "production"),
                ("JWT_REFRESH_SECRET", &strong),
                ("JWT_KEYS_ENCRYPTION_KEY", &strong),
                ("DEV_LOGIN", "true"),
            ],
            "DEV_LOGIN",
        ),
        (
            vec![
                ("EMAIL_HOST", "127.0.0.1"),
                ("EMAIL_FROM", "latch@example.com"),
                ("EMAIL_ENCRYPTION", "rot13"),
            ],
            "EMAIL_ENCRYPTION",
        ),
        (
            vec![
                ("EMAIL_HOST", "127.0.0.1"),
                ("EMAIL_FROM", "latch@example.com"),
                ("EMAIL_ENCRYPTION", "start_tls"),
            ],
            "EMAIL_ENCRYPTION",
        ),
        (
            vec![
                ("APP_ENV", "production"),
                ("JWT_REFRESH_SECRET", &two_byte_31),
            ],
            "JWT_REFRESH_SECRET",
        ),
        (
            vec![("APP_ENV", "production"), ("JWT_REFRESH_SECRET", &strong)],
            "JWT_KEYS_ENCRYPTION_KEY",
        ),
        (
            vec![("JWT_KEYS_ENCRYPTION_KEY", "short")],
            "JWT_KEYS_ENCRYPTION_KEY",
        ),
    ];
    for (env, name) in cases {
        let mut env = env.clone();
        env.push(("DATABASE_URL", &app.db.url));
        let o = run_cli(app.db.dir(), &["migrate"], &env, None);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{name}: started");
        assert!(stderr.contains(name), "{name}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}

/// Row 12: two admins disabling each other at the same moment leave one enabled.
async fn two_admins_cannot_disable_each_other_at_once(backend: Backend) {
    let app = spawn_app_with(backend, &[("MAX_ACTIVE_SESSIONS", "100")]).await;
    let first = app.register("first@example.com").await;
    let first_id = first.body["user"]["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/admin/users",
            &json!({"email": "second@example.com", "password": PASSWORD, "role": "admin"}),
            Some(&first.access_token()),
        )
        .await;
    let second_id = r.body["id"].as_str().unwrap().to_string();
    for round in 0..20 {
        let a = app
            .login("first@example.com", PASSWORD)
            .await
            .access_token();
        let b = app
            .login("second@example.com", PASSWORD)
            .await
            .access_token();
        // Two warm connections, released at the same instant.
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let disable = |token: String, target: String| {
            let (url, start) = (app.url(&format!("/admin/users/{target}")), start.clone());
            let health = app.url("/healthz");
            tokio::spawn(async move {
                let client = new_client();
                client.get(health).send().await.unwrap();
                start.wait().await;
                client
                    .patch(url)
                    .bearer_auth(token)
                    .json(&json!({"disabled": true}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        };
        let (x, y) = (disable(a, second_id.clone()), disable(b, first_id.clone()));
        let (x, y) = (x.await.unwrap(), y.await.unwrap());
        use diesel::prelude::*;
        use latch::db::schema::users;
        let enabled = users::table
            .filter(users::role.eq("admin"))
            .filter(users::disabled.eq(false))
            .count()
            .get_result::<i64>(&mut app.db_conn())
            .unwrap();
        assert_eq!(enabled, 1, "round {round}: {x} {y}");
        assert_eq!(
            [x, y].iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: {x} {y}"
        );
        // Enable both again for the next round, through the database.
        diesel::update(users::table)
            .set(users::disabled.eq(false))
            .execute(&mut app.db_conn())
            .unwrap();
    }
}

/// Row 13: bytes that are not UTF-8 anywhere in a JSON body make it not JSON.
async fn json_bodies_must_be_utf8_throughout(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let token = app.register("ada@example.com").await.access_token();
    let mut body = br#"{"name": "Ada", "ignored": ""#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe, 0xfd]);
    body.extend_from_slice(br#""}"#);
    let res = new_client()
        .patch(app.url("/auth/me"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    Reply::from(res)
        .await
        .assert_problem(400, "invalid_request");
    app.post_raw("/auth/login", Some("application/json"), body)
        .await
        .assert_problem(400, "invalid_request");
    assert_eq!(app.get("/auth/me", Some(&token)).await.body["name"], "ada");
}

/// Row 15: an admin's access token at a service endpoint is a valid caller without the
/// right.
async fn an_admin_token_is_not_a_service_credential(backend: Backend) {
    let app = spawn_app_with(backend, &[("SERVICE_TOKENS", "svc-token")]).await;
    let admin = app.register("admin@example.com").await.access_token();
    app.post("/auth/introspect", &json!({"token": admin}), Some(&admin))
        .await
        .assert_problem(403, "forbidden");
    app.post(
        "/auth/introspect",
        &json!({"token": admin}),
        Some("nonsense"),
    )
    .await
    .assert_problem(401, "unauthorized");
}

/// Row 16: a refresh token already exchanged cannot sign out every device; it is
/// treated as reused, as at refresh.
async fn a_spent_refresh_token_cannot_log_out_everyone(backend: Backend) {
    let app = spawn_app_with(backend, &[("REFRESH_REUSE_GRACE", "0")]).await;
    app.register("ada@example.com").await;
    let (laptop, login) = app.login_as_device("ada@example.com").await;
    let spent = login.refresh_cookie_value().unwrap();
    let rotated = laptop.post(app.url("/auth/refresh")).send().await.unwrap();
    assert_eq!(rotated.status(), 200);
    let (phone, _) = app.login_as_device("ada@example.com").await;
    let r = app
        .post(
            "/auth/logout",
            &json!({"scope": "all", "refresh_token": spent}),
            None,
        )
        .await;
    r.assert_problem(401, "refresh_token_reused");
    let phone_refresh = phone.post(app.url("/auth/refresh")).send().await.unwrap();
    assert_eq!(
        phone_refresh.status(),
        200,
        "the other device stays signed in"
    );
    // The spent token's own session is treated as stolen.
    let laptop_refresh = laptop.post(app.url("/auth/refresh")).send().await.unwrap();
    assert_eq!(laptop_refresh.status(), 401);
}

/// Row 17: LibreChat's ALLOW_PASSWORD_RESET, ALLOW_UNVERIFIED_EMAIL_LOGIN and
/// MIN_PASSWORD_LENGTH are honoured.
async fn librechat_settings_are_honoured(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let app = app_with_mail(
        backend,
        &sink,
        &[
            ("ALLOW_PASSWORD_RESET", "false"),
            ("ALLOW_UNVERIFIED_EMAIL_LOGIN", "true"),
            ("MIN_PASSWORD_LENGTH", "24"),
        ],
    )
    .await;
    let config = app.get("/auth/config", None).await;
    assert_eq!(config.body["password_min_length"], 24);
    assert_eq!(config.body["require_email_verification"], false);
    let short = register_with(&app, "ada@example.com", "twenty-three characters").await;
    short.assert_problem(422, "validation_failed");
    assert_eq!(short.body["errors"][0]["code"], "too_short");
    // Unverified sign-in is allowed: registration signs in at once.
    let long = "a passphrase of 24 chars!";
    let r = register_with(&app, "ada@example.com", long).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body["access_token"].is_string());
    assert_eq!(r.body["user"]["email_verified"], false);
    assert_eq!(app.login("ada@example.com", long).await.status, 200);
    app.post(
        "/auth/password/forgot",
        &json!({"email": "ada@example.com"}),
        None,
    )
    .await
    .assert_problem(403, "feature_disabled");
    app.post(
        "/auth/password/reset",
        &json!({"token": "x".repeat(43), "password": long}),
        None,
    )
    .await
    .assert_problem(403, "feature_disabled");
}

/// Also seen in the review: gzip request bodies are not inflated.
async fn gzip_bodies_are_not_inflated(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    app.register("ada@example.com").await;
    // The gzip of {"email":"ada@example.com","password":"correct horse battery staple"}.
    let body = {
        use std::io::Write;
        let json = format!(r#"{{"email":"ada@example.com","password":"{PASSWORD}"}}"#);
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(json.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let res = new_client()
        .post(app.url("/auth/login"))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .await
        .unwrap();
    let r = Reply::from(res).await;
    assert_ne!(r.status, 200, "{}", r.text);
    assert!(r.status == 400 || r.status == 415, "{}", r.text);
}
