use serde_json::json;

use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, Backend, Reply};

both_backends!(
    lists_sessions_with_the_current_marked,
    revokes_one_session,
    session_cap_revokes_the_oldest,
    expired_sessions_and_tokens_are_pruned,
    client_ip_believes_only_trusted_proxies,
);

async fn lists_sessions_with_the_current_marked(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com").await;
    let res = app
        .client
        .post(app.url("/auth/login"))
        .header("user-agent", "LatchTest/1.0")
        .json(&json!({"email": "ada@example.com", "password": crate::helpers::PASSWORD}))
        .send()
        .await
        .unwrap();
    let login = Reply::from(res).await;
    let r = app.get("/auth/sessions", Some(&login.access_token())).await;
    assert_eq!(r.status, 200);
    let sessions = r.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "LatchTest/1.0");
    assert_eq!(current[0]["ip"], "127.0.0.1");
    for field in ["id", "created_at", "last_used_at", "expires_at"] {
        assert!(current[0][field].is_string(), "{field}");
    }
    app.get("/auth/sessions", None)
        .await
        .assert_problem(401, "unauthorized");
}

async fn revokes_one_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let reg = app.register("ada@example.com").await;
    let (other, other_login) = app.login_as_device("ada@example.com").await;
    let token = reg.access_token();
    let list = app.get("/auth/sessions", Some(&token)).await;
    let other_id = list.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .send(
            reqwest::Method::DELETE,
            &format!("/auth/sessions/{other_id}"),
            None,
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = Reply::from(other.post(app.url("/auth/refresh")).send().await.unwrap()).await;
    r.assert_problem(401, "unauthorized");
    // Gone now, never existed, malformed, or someone else's: all 404.
    let again = app
        .send(
            reqwest::Method::DELETE,
            &format!("/auth/sessions/{other_id}"),
            None,
            Some(&token),
        )
        .await;
    again.assert_problem(404, "not_found");
    let unknown = uuid::Uuid::now_v7();
    app.send(
        reqwest::Method::DELETE,
        &format!("/auth/sessions/{unknown}"),
        None,
        Some(&token),
    )
    .await
    .assert_problem(404, "not_found");
    app.send(
        reqwest::Method::DELETE,
        "/auth/sessions/%00%ff",
        None,
        Some(&token),
    )
    .await
    .assert_problem(404, "not_found");
    let mallory = app.register("mallory@example.com").await;
    let own_id = app.get("/auth/sessions", Some(&token)).await.body["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .send(
            reqwest::Method::DELETE,
            &format!("/auth/sessions/{own_id}"),
            None,
            Some(&mallory.access_token()),
        )
        .await;
    r.assert_problem(404, "not_found");
    assert_eq!(
        app.get("/auth/sessions", Some(&token)).await.body["sessions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let _ = other_login;
}

async fn session_cap_revokes_the_oldest(backend: Backend) {
    let app = spawn_app_with(backend, &[("MAX_ACTIVE_SESSIONS", "3")]).await;
    let first = app.register("ada@example.com").await;
    let first_token = first.refresh_cookie_value().unwrap();
    let mut last = None;
    for _ in 0..3 {
        last = Some(app.login_as_device("ada@example.com").await.1);
    }
    let last = last.unwrap();
    let r = app.get("/auth/sessions", Some(&last.access_token())).await;
    assert_eq!(r.body["sessions"].as_array().unwrap().len(), 3);
    app.refresh_with_cookie(&first_token, None)
        .await
        .assert_problem(401, "unauthorized");
    assert_eq!(
        app.refresh_with_cookie(&last.refresh_cookie_value().unwrap(), None)
            .await
            .status,
        200
    );
}

async fn expired_sessions_and_tokens_are_pruned(backend: Backend) {
    use diesel::prelude::*;
    use latch::db::schema::{refresh_tokens, sessions};

    let app = spawn_app(backend).await;
    let first = app.register("ada@example.com").await;
    // Two rotations leave two spent tokens behind on the first session.
    assert_eq!(app.refresh().await.status, 200);
    let live = app.refresh().await;
    assert_eq!(live.status, 200);
    let (_, other) = app.login_as_device("ada@example.com").await;
    let other_sid = app
        .get("/auth/sessions", Some(&other.access_token()))
        .await
        .body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut conn = app.db_conn();
    let now = latch::db::models::now();
    let past = now - chrono::Duration::hours(1);
    // The other device's session ran out; the first session's spent tokens too.
    diesel::update(sessions::table.find(&other_sid))
        .set(sessions::expires_at.eq(past))
        .execute(&mut conn)
        .unwrap();
    diesel::update(refresh_tokens::table.filter(refresh_tokens::rotated_at.is_not_null()))
        .set(refresh_tokens::expires_at.eq(past))
        .execute(&mut conn)
        .unwrap();
    let removed = latch::auth::sessions::prune_in(&mut conn, now, None).unwrap();
    // Two spent tokens, the other session and (by cascade) its token.
    assert_eq!(removed, 3);
    let left: i64 = refresh_tokens::table.count().get_result(&mut conn).unwrap();
    assert_eq!(left, 1, "only the live token of the live session is left");
    assert_eq!(
        sessions::table
            .count()
            .get_result::<i64>(&mut conn)
            .unwrap(),
        1
    );
    // The live session still refreshes.
    assert_eq!(app.refresh().await.status, 200);
    let _ = (first, live);
}

/// The IP recorded on a session: the peer's, unless `TRUST_PROXY` hops of
/// `X-Forwarded-For` are believed.
async fn client_ip_believes_only_trusted_proxies(backend: Backend) {
    for (trust, expected) in [
        // Unset: one hop from a proxy beside Latch (the test connects over loopback).
        ("", "203.0.113.7"),
        ("0", "127.0.0.1"),
        ("1", "203.0.113.7"),
        ("2", "198.51.100.1"),
    ] {
        let app = spawn_app_with(backend, &[("TRUST_PROXY", trust)]).await;
        let res = app
            .client
            .post(app.url("/auth/register"))
            .header("x-forwarded-for", "6.6.6.6, 198.51.100.1, 203.0.113.7")
            .json(&json!({"email": "ada@example.com", "password": crate::helpers::PASSWORD}))
            .send()
            .await
            .unwrap();
        let reg = Reply::from(res).await;
        let r = app.get("/auth/sessions", Some(&reg.access_token())).await;
        assert_eq!(r.body["sessions"][0]["ip"], expected, "TRUST_PROXY={trust}");
    }
}
