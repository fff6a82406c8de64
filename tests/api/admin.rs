//! The admin API: only admins, every action audited, and never without an admin left.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, Backend, Reply, TestApp, PASSWORD};

both_backends!(
    admin_routes_refuse_everyone_else,
    lists_and_searches_users,
    creates_users_with_a_password_or_an_invitation,
    updates_disables_and_keeps_an_admin,
    sets_passwords_and_signs_users_out,
    deletes_users,
    audit_log_records_who_did_what,
);

async fn get(app: &TestApp, path: &str, token: &str) -> Reply {
    app.get(path, Some(token)).await
}

async fn patch(app: &TestApp, path: &str, body: Value, token: &str) -> Reply {
    app.send(reqwest::Method::PATCH, path, Some(&body), Some(token))
        .await
}

async fn delete(app: &TestApp, path: &str, token: &str) -> Reply {
    app.send(reqwest::Method::DELETE, path, None, Some(token))
        .await
}

/// The first account (admin) and a second (user), with their access tokens and ids.
async fn admin_and_user(app: &TestApp) -> (String, String, String) {
    let admin = app.register("admin@example.com").await.access_token();
    let user = app.register("user@example.com").await;
    let user_id = user.body["user"]["id"].as_str().unwrap().to_string();
    (admin, user.access_token(), user_id)
}

async fn admin_routes_refuse_everyone_else(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, user, user_id) = admin_and_user(&app).await;
    let routes: Vec<(reqwest::Method, String, Option<Value>)> = vec![
        (reqwest::Method::GET, "/admin/users".into(), None),
        (
            reqwest::Method::POST,
            "/admin/users".into(),
            Some(json!({"email": "x@example.com", "password": PASSWORD})),
        ),
        (
            reqwest::Method::GET,
            format!("/admin/users/{user_id}"),
            None,
        ),
        (
            reqwest::Method::PATCH,
            format!("/admin/users/{user_id}"),
            Some(json!({"role": "admin"})),
        ),
        (
            reqwest::Method::DELETE,
            format!("/admin/users/{user_id}"),
            None,
        ),
        (
            reqwest::Method::POST,
            format!("/admin/users/{user_id}/password"),
            Some(json!({"password": PASSWORD})),
        ),
        (
            reqwest::Method::POST,
            format!("/admin/users/{user_id}/sessions/revoke"),
            None,
        ),
        (reqwest::Method::GET, "/admin/audit".into(), None),
        (reqwest::Method::GET, "/admin/mail".into(), None),
    ];
    for (method, path, body) in &routes {
        let r = app
            .send(method.clone(), path, body.as_ref(), Some(&user))
            .await;
        r.assert_problem(403, "forbidden");
        let r = app.send(method.clone(), path, body.as_ref(), None).await;
        r.assert_problem(401, "unauthorized");
    }
    // The refused role change did nothing.
    let me = app.get("/auth/me", Some(&user)).await;
    assert_eq!(me.body["role"], "user");
}

async fn lists_and_searches_users(backend: Backend) {
    let app = spawn_app(backend).await;
    let (admin, _, _) = admin_and_user(&app).await;
    let r = app
        .post(
            "/auth/register",
            &json!({"email": "grace@example.com", "password": PASSWORD, "name": "Grace Hopper"}),
            None,
        )
        .await;
    assert_eq!(r.status, 201);
    let all = get(&app, "/admin/users", &admin).await;
    assert_eq!(all.status, 200, "{}", all.text);
    let emails: Vec<&str> = all.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["admin@example.com", "user@example.com", "grace@example.com"]
    );
    assert_eq!(all.body["users"][0]["disabled"], false);
    assert_eq!(all.body["next_cursor"], Value::Null);
    // q matches email or name, any case.
    let r = get(&app, "/admin/users?q=HOPPER", &admin).await;
    assert_eq!(r.body["users"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["users"][0]["email"], "grace@example.com");
    let r = get(&app, "/admin/users?q=EXAMPLE.com", &admin).await;
    assert_eq!(r.body["users"].as_array().unwrap().len(), 3);
    let r = get(&app, "/admin/users?q=%25", &admin).await;
    assert_eq!(
        r.body["users"].as_array().unwrap().len(),
        0,
        "a % in q is a literal"
    );
    // Pages.
    let first = get(&app, "/admin/users?limit=2", &admin).await;
    assert_eq!(first.body["users"].as_array().unwrap().len(), 2);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let second = get(
        &app,
        &format!("/admin/users?limit=2&cursor={cursor}"),
        &admin,
    )
    .await;
    assert_eq!(second.body["users"][0]["email"], "grace@example.com");
    assert_eq!(second.body["next_cursor"], Value::Null);
    get(&app, "/admin/users?limit=500", &admin)
        .await
        .assert_problem(400, "invalid_request");
    get(&app, "/admin/users?limit=abc", &admin)
        .await
        .assert_problem(400, "invalid_request");
}

async fn creates_users_with_a_password_or_an_invitation(backend: Backend) {
    let app = spawn_app(backend).await;
    let (admin, _, _) = admin_and_user(&app).await;
    let r = app.post("/admin/users", &json!({"email": "Ops@Example.com", "password": PASSWORD, "role": "admin", "name": "Ops"}), Some(&admin)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        (
            r.body["email"].as_str(),
            r.body["role"].as_str(),
            r.body["email_verified"].as_bool()
        ),
        (Some("ops@example.com"), Some("admin"), Some(true))
    );
    assert_eq!(app.login("ops@example.com", PASSWORD).await.status, 200);
    app.post(
        "/admin/users",
        &json!({"email": "ops@example.com", "password": PASSWORD}),
        Some(&admin),
    )
    .await
    .assert_problem(409, "email_taken");
    // Without mail there is no invitation: a password is required.
    let r = app
        .post(
            "/admin/users",
            &json!({"email": "new@example.com"}),
            Some(&admin),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "password");
    let r = app
        .post(
            "/admin/users",
            &json!({"email": "bad", "password": "short", "role": "root"}),
            Some(&admin),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"].as_array().unwrap().len(), 3, "{}", r.text);
    app.post("/admin/users", &json!({"email": 1}), Some(&admin))
        .await
        .assert_problem(400, "invalid_request");

    // With mail, no password means an invitation.
    let sink = crate::smtp::SmtpSink::start(crate::smtp::Tls::None);
    let env = sink.env();
    let mut overrides: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    overrides.push(("REQUIRE_EMAIL_VERIFICATION", "false"));
    let mailed = spawn_app_with(backend, &overrides).await;
    let admin = mailed.register("admin@example.com").await.access_token();
    let r = mailed
        .post(
            "/admin/users",
            &json!({"email": "invitee@example.com"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["email_verified"], false);
    let token = sink.one("invitee@example.com", "invited").await.token();
    let r = mailed
        .post(
            "/auth/invite/accept",
            &json!({"token": token, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        mailed.login("invitee@example.com", PASSWORD).await.status,
        200
    );
}

async fn updates_disables_and_keeps_an_admin(backend: Backend) {
    let app = spawn_app_with(backend, &[("SERVICE_TOKENS", "svc")]).await;
    let (admin, user, user_id) = admin_and_user(&app).await;
    let admin_id = app.get("/auth/me", Some(&admin)).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = patch(
        &app,
        &format!("/admin/users/{user_id}"),
        json!({"name": "Renamed"}),
        &admin,
    )
    .await;
    assert_eq!(
        (r.status, r.body["name"].as_str()),
        (200, Some("Renamed")),
        "{}",
        r.text
    );
    assert_eq!(
        get(&app, &format!("/admin/users/{user_id}"), &admin)
            .await
            .body["name"],
        "Renamed"
    );
    patch(
        &app,
        &format!("/admin/users/{user_id}"),
        json!({"role": "owner"}),
        &admin,
    )
    .await
    .assert_problem(422, "validation_failed");
    patch(
        &app,
        &format!("/admin/users/{user_id}"),
        json!({"disabled": "yes"}),
        &admin,
    )
    .await
    .assert_problem(400, "invalid_request");
    let unknown = uuid::Uuid::now_v7();
    patch(
        &app,
        &format!("/admin/users/{unknown}"),
        json!({"name": "x"}),
        &admin,
    )
    .await
    .assert_problem(404, "not_found");
    get(&app, "/admin/users/not-a-uuid", &admin)
        .await
        .assert_problem(404, "not_found");

    // The only admin can be neither demoted nor disabled.
    patch(
        &app,
        &format!("/admin/users/{admin_id}"),
        json!({"role": "user"}),
        &admin,
    )
    .await
    .assert_problem(409, "last_admin");
    patch(
        &app,
        &format!("/admin/users/{admin_id}"),
        json!({"disabled": true}),
        &admin,
    )
    .await
    .assert_problem(409, "last_admin");

    // Disabling a user stops its refresh and its introspection at once.
    let r = patch(
        &app,
        &format!("/admin/users/{user_id}"),
        json!({"disabled": true}),
        &admin,
    )
    .await;
    assert_eq!(r.body["disabled"], true);
    let r = app
        .post("/auth/introspect", &json!({"token": user}), Some("svc"))
        .await;
    assert_eq!(r.body, json!({"active": false}));
    app.login("user@example.com", PASSWORD)
        .await
        .assert_problem(403, "account_disabled");

    // With a second admin, the first may step down; its still-valid token no longer works
    // on admin routes.
    patch(
        &app,
        &format!("/admin/users/{user_id}"),
        json!({"disabled": false, "role": "admin"}),
        &admin,
    )
    .await;
    let r = patch(
        &app,
        &format!("/admin/users/{admin_id}"),
        json!({"role": "user"}),
        &admin,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    get(&app, "/admin/users", &admin)
        .await
        .assert_problem(403, "forbidden");
}

async fn sets_passwords_and_signs_users_out(backend: Backend) {
    let app = spawn_app(backend).await;
    let (admin, _, user_id) = admin_and_user(&app).await;
    let (device, _) = app.login_as_device("user@example.com").await;
    let path = format!("/admin/users/{user_id}/password");
    app.post(&path, &json!({"password": "short"}), Some(&admin))
        .await
        .assert_problem(422, "validation_failed");
    let r = app
        .post(
            &path,
            &json!({"password": "set by the admin"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = Reply::from(device.post(app.url("/auth/refresh")).send().await.unwrap()).await;
    r.assert_problem(401, "unauthorized");
    app.login("user@example.com", PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    let (device, _) = {
        assert_eq!(
            app.login("user@example.com", "set by the admin")
                .await
                .status,
            200
        );
        let c = crate::helpers::new_client();
        let r = Reply::from(
            c.post(app.url("/auth/login"))
                .json(&json!({"email": "user@example.com", "password": "set by the admin"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        (c, r)
    };
    let r = app
        .post(
            &format!("/admin/users/{user_id}/sessions/revoke"),
            &json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = Reply::from(device.post(app.url("/auth/refresh")).send().await.unwrap()).await;
    r.assert_problem(401, "unauthorized");
}

async fn deletes_users(backend: Backend) {
    let app = spawn_app_with(backend, &[("SERVICE_TOKENS", "svc")]).await;
    let (admin, user, user_id) = admin_and_user(&app).await;
    let admin_id = app.get("/auth/me", Some(&admin)).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    delete(&app, &format!("/admin/users/{admin_id}"), &admin)
        .await
        .assert_problem(409, "last_admin");
    let r = delete(&app, &format!("/admin/users/{user_id}"), &admin).await;
    assert_eq!(r.status, 204, "{}", r.text);
    delete(&app, &format!("/admin/users/{user_id}"), &admin)
        .await
        .assert_problem(404, "not_found");
    app.login("user@example.com", PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    app.get("/auth/me", Some(&user))
        .await
        .assert_problem(401, "unauthorized");
    // Its unexpired access token is no longer active for other services.
    let r = app
        .post("/auth/introspect", &json!({"token": user}), Some("svc"))
        .await;
    assert_eq!(r.body, json!({"active": false}));
    // The address is free again.
    assert_eq!(
        app.post(
            "/auth/register",
            &json!({"email": "user@example.com", "password": PASSWORD}),
            None
        )
        .await
        .status,
        201
    );
}

async fn audit_log_records_who_did_what(backend: Backend) {
    let app = spawn_app(backend).await;
    let (admin, _, user_id) = admin_and_user(&app).await;
    app.login("user@example.com", "wrong password!").await;
    app.login("user@example.com", PASSWORD).await;
    patch(
        &app,
        &format!("/admin/users/{user_id}"),
        json!({"name": "N"}),
        &admin,
    )
    .await;
    let r = get(&app, "/admin/audit", &admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let kinds: Vec<&str> = r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[0], "admin_user_updated", "newest first: {kinds:?}");
    for k in ["sign_in", "sign_in_failed"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let update = &r.body["events"][0];
    assert_eq!(update["subject_id"], user_id.as_str());
    assert!(update["actor_id"].is_string() && update["actor_id"] != update["subject_id"]);
    assert_eq!(update["ip"], "127.0.0.1");
    assert!(
        !r.text.contains(PASSWORD) && !r.text.contains("scrypt"),
        "no secrets in the log"
    );

    let failed = get(&app, "/admin/audit?kind=sign_in_failed", &admin).await;
    let failed = failed.body["events"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["subject_id"], user_id.as_str());
    let mine = get(&app, &format!("/admin/audit?user_id={user_id}"), &admin).await;
    assert!(mine.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["subject_id"] == user_id.as_str() || e["actor_id"] == user_id.as_str()));
    let future = get(&app, "/admin/audit?since=2999-01-01T00:00:00Z", &admin).await;
    assert_eq!(future.body["events"], json!([]));
    let past = get(&app, "/admin/audit?until=2000-01-01T00:00:00Z", &admin).await;
    assert_eq!(past.body["events"], json!([]));
    get(&app, "/admin/audit?since=yesterday", &admin)
        .await
        .assert_problem(400, "invalid_request");
    let page = get(&app, "/admin/audit?limit=1", &admin).await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let next = get(
        &app,
        &format!("/admin/audit?limit=1&cursor={cursor}"),
        &admin,
    )
    .await;
    assert_ne!(next.body["events"][0]["id"], page.body["events"][0]["id"]);

    // Retention removes old events.
    let mut conn = app.db_conn();
    let future = latch::db::models::now() + chrono::Duration::days(1);
    latch::auth::sessions::prune_in(&mut conn, latch::db::models::now(), Some(future)).unwrap();
    let r = get(&app, "/admin/audit", &admin).await;
    assert_eq!(r.body["events"], json!([]));
}
