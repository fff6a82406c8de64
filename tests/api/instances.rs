//! Several `latch serve` processes on one PostgreSQL database behave as one service, and
//! a process killed or stopped mid-flight loses nothing.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{run_cli, Backend, Reply, ServerProcess, TestDb, PASSWORD};
use crate::smtp::{SmtpSink, Tls};

async fn post(server: &ServerProcess, path: &str, body: Value, token: Option<&str>) -> Reply {
    let mut req = reqwest::Client::new().post(server.url(path)).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    Reply::from(req.send().await.unwrap()).await
}

async fn get(server: &ServerProcess, path: &str, token: Option<&str>) -> Reply {
    let mut req = reqwest::Client::new().get(server.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    Reply::from(req.send().await.unwrap()).await
}

async fn register(server: &ServerProcess, email: &str) -> Reply {
    post(
        server,
        "/auth/register",
        json!({"email": email, "password": PASSWORD}),
        None,
    )
    .await
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

/// Two instances behind a round-robin client: a session from one refreshes on the other,
/// a refresh race across them rotates once, a one-time link works once on either, mail
/// goes out once, bans are shared, and a key rotation reaches both.
#[tokio::test]
async fn two_instances_are_one_service() {
    let db = TestDb::new_for(Backend::Postgres);
    let sink = SmtpSink::start(Tls::None);
    let mut env: Vec<(&str, String)> = sink.env();
    env.push(("REFRESH_TOKEN_DELIVERY", "body".into()));
    env.push(("MAX_ACTIVE_SESSIONS", "100".into()));
    env.push(("REQUIRE_EMAIL_VERIFICATION", "false".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = ServerProcess::start(&db, &env).await;
    let b = ServerProcess::start(&db, &env).await;

    let admin = register(&a, "admin@example.com").await;
    assert_eq!(admin.status, 201, "{}", admin.text);
    let admin_token = admin.access_token();
    let ada = register(&b, "ada@example.com").await;
    assert_eq!(ada.status, 201, "{}", ada.text);

    // A session from A refreshes on B, and B's token works on A.
    let first = admin.body["refresh_token"].as_str().unwrap().to_string();
    let on_b = post(&b, "/auth/refresh", json!({"refresh_token": first}), None).await;
    assert_eq!(on_b.status, 200, "{}", on_b.text);
    assert_eq!(
        get(&a, "/auth/me", Some(&on_b.access_token())).await.status,
        200
    );

    // The same token on both at once: one rotation; the other is inside the grace window.
    let current = on_b.body["refresh_token"].as_str().unwrap().to_string();
    let (x, y) = tokio::join!(
        post(&a, "/auth/refresh", json!({"refresh_token": current}), None),
        post(&b, "/auth/refresh", json!({"refresh_token": current}), None),
    );
    assert_eq!((x.status, y.status), (200, 200), "{} {}", x.text, y.text);
    let successors = [&x, &y]
        .iter()
        .filter(|r| r.body["refresh_token"].is_string())
        .count();
    assert_eq!(successors, 1, "one successor: {} {}", x.text, y.text);

    // A reset link asked on A is mailed once (both instances run a mail worker) and works
    // once, on either.
    let asked = post(
        &a,
        "/auth/password/forgot",
        json!({"email": "ada@example.com"}),
        None,
    )
    .await;
    assert_eq!(asked.status, 202);
    let mail = sink.one("ada@example.com", "Reset your").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let resets = sink
        .messages()
        .iter()
        .filter(|m| m.subject.contains("Reset your"))
        .count();
    assert_eq!(resets, 1, "mailed once");
    let reset = json!({"token": mail.token(), "password": "a new passphrase for ada"});
    assert_eq!(
        post(&b, "/auth/password/reset", reset.clone(), None)
            .await
            .status,
        200
    );
    post(&a, "/auth/password/reset", reset, None)
        .await
        .assert_problem(400, "invalid_token");

    // A ban made through A holds on B.
    let ada_id = ada.body["user"]["id"].as_str().unwrap();
    let ban = post(
        &a,
        "/admin/bans",
        json!({"user_id": ada_id, "duration_ms": 60_000}),
        Some(&admin_token),
    )
    .await;
    assert_eq!(ban.status, 201, "{}", ban.text);
    post(
        &b,
        "/auth/login",
        json!({"email": "ada@example.com", "password": "a new passphrase for ada"}),
        None,
    )
    .await
    .assert_problem(403, "banned");

    // A key rotation reaches both: each signs with the new key and accepts the other's.
    let old = kid(&admin_token);
    let out = run_cli(
        db.dir(),
        &["keys", "rotate", "--now"],
        &[("DATABASE_URL", &db.url)],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let login = json!({"email": "admin@example.com", "password": PASSWORD});
    let deadline = Instant::now() + Duration::from_secs(20);
    let (from_a, from_b) = loop {
        let ta = post(&a, "/auth/login", login.clone(), None)
            .await
            .access_token();
        let tb = post(&b, "/auth/login", login.clone(), None)
            .await
            .access_token();
        if kid(&ta) != old && kid(&tb) != old {
            break (ta, tb);
        }
        assert!(Instant::now() < deadline, "the rotation did not reach both");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(kid(&from_a), kid(&from_b));
    assert_eq!(get(&b, "/auth/me", Some(&from_a)).await.status, 200);
    assert_eq!(get(&a, "/auth/me", Some(&from_b)).await.status, 200);
}

/// SIGKILL while refresh chains run: after a restart every chain goes on with the last
/// token it was given (rotated normally, or inside the grace window when the killed
/// process had rotated it without answering), and no session has two current tokens.
#[tokio::test]
async fn a_kill_during_refresh_rotation_loses_no_session() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new_for(backend);
        let env = [
            ("REFRESH_TOKEN_DELIVERY", "body"),
            ("MAX_ACTIVE_SESSIONS", "100"),
        ];
        let mut server = ServerProcess::start(&db, &env).await;
        let reg = register(&server, "ada@example.com").await;
        assert_eq!(reg.status, 201);
        let mut tokens = Vec::new();
        for _ in 0..6 {
            let r = post(
                &server,
                "/auth/login",
                json!({"email": "ada@example.com", "password": PASSWORD}),
                None,
            )
            .await;
            tokens.push(r.body["refresh_token"].as_str().unwrap().to_string());
        }
        let url = server.url("/auth/refresh");
        let chains: Vec<_> = tokens
            .into_iter()
            .map(|mut token| {
                let url = url.clone();
                tokio::spawn(async move {
                    let client = reqwest::Client::new();
                    loop {
                        let sent = client
                            .post(&url)
                            .json(&json!({"refresh_token": token}))
                            .send()
                            .await;
                        let Ok(res) = sent else { return token };
                        let Ok(body) = res.json::<Value>().await else {
                            return token;
                        };
                        match body["refresh_token"].as_str() {
                            Some(next) => token = next.to_string(),
                            None => return token,
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        server.kill();
        let mut last = Vec::new();
        for chain in chains {
            last.push(chain.await.unwrap());
        }
        let server = ServerProcess::start(&db, &env).await;
        for token in &last {
            let r = post(
                &server,
                "/auth/refresh",
                json!({"refresh_token": token}),
                None,
            )
            .await;
            assert_eq!(r.status, 200, "{backend:?}: {}", r.text);
        }
        let current: Vec<i64> = current_tokens_per_session(&db);
        assert!(current.iter().all(|&n| n == 1), "{backend:?}: {current:?}");
    }
}

fn current_tokens_per_session(db: &TestDb) -> Vec<i64> {
    use diesel::prelude::*;
    use latch::db::schema::refresh_tokens;
    use r2d2::ManageConnection;
    let mut conn = latch::db::Manager::new(latch::settings::DatabaseUrl::new(db.url.clone()))
        .connect()
        .unwrap();
    refresh_tokens::table
        .filter(refresh_tokens::rotated_at.is_null())
        .group_by(refresh_tokens::session_id)
        .select(diesel::dsl::count_star())
        .load(&mut conn)
        .unwrap()
}

/// SIGTERM: a request in flight is answered before the process exits, cleanly.
#[tokio::test]
async fn sigterm_finishes_requests_in_flight() {
    let db = TestDb::new_for(Backend::Sqlite);
    // A costly hash keeps the sign-in in flight while the signal arrives.
    let mut server = ServerProcess::start(&db, &[("SCRYPT_LOG_N", "17")]).await;
    let url = server.url("/auth/register");
    let register = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert_eq!(
        register.await.unwrap().unwrap(),
        201,
        "answered before exit"
    );
    assert!(status.success(), "a clean exit: {status:?}");
}

/// SIGKILL while a password reset is under way, at several moments: after a restart the
/// link is either spent with the new password set, or unspent with the old one still in
/// place (and then it still works). Never spent without its effect, nor both passwords.
#[tokio::test]
async fn a_kill_during_a_password_reset_spends_the_link_with_its_effect_or_not_at_all() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new_for(backend);
        let sink = SmtpSink::start(Tls::None);
        let mut env: Vec<(&str, String)> = sink.env();
        // A costly hash keeps each reset in flight long enough to be cut at any point.
        env.push(("SCRYPT_LOG_N", "16".into()));
        env.push(("REQUIRE_EMAIL_VERIFICATION", "false".into()));
        env.push(("EMAIL_ADDRESS_MAX", "100".into()));
        env.push(("RESET_PASSWORD_MAX", "100".into()));
        env.push(("LOGIN_MAX", "100".into()));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut server = ServerProcess::start(&db, &env).await;
        let reg = register(&server, "ada@example.com").await;
        assert_eq!(reg.status, 201, "{}", reg.text);

        let mut current = PASSWORD.to_string();
        let (mut spent, mut unspent) = (0, 0);
        // Kill points as shares of one sign-in's time (about one hash, like a reset),
        // measured each round: the load on the machine decides where a commit falls.
        for (round, share) in [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 3.0]
            .into_iter()
            .enumerate()
        {
            let started = Instant::now();
            let signed_in = post(
                &server,
                "/auth/login",
                json!({"email": "ada@example.com", "password": current}),
                None,
            )
            .await;
            assert_eq!(signed_in.status, 200, "{}", signed_in.text);
            let delay = started.elapsed().mul_f64(share);
            let asked = post(
                &server,
                "/auth/password/forgot",
                json!({"email": "ada@example.com"}),
                None,
            )
            .await;
            assert_eq!(asked.status, 202);
            let mail = sink
                .wait_for(round + 1, |m| m.subject.contains("Reset your"))
                .await;
            let token = mail.last().unwrap().token();
            let new = format!("the new passphrase number {round}");
            let url = server.url("/auth/password/reset");
            let body = json!({"token": token, "password": new});
            let reset =
                tokio::spawn(
                    async move { reqwest::Client::new().post(url).json(&body).send().await },
                );
            tokio::time::sleep(delay).await;
            server.kill();
            let _ = reset.await;
            server = ServerProcess::start(&db, &env).await;

            let login = |password: &str| {
                post(
                    &server,
                    "/auth/login",
                    json!({"email": "ada@example.com", "password": password}),
                    None,
                )
            };
            let (old_works, new_works) = (
                login(&current).await.status == 200,
                login(&new).await.status == 200,
            );
            assert!(
                old_works != new_works,
                "{backend:?} after {delay:?}: old {old_works}, new {new_works}"
            );
            let again = post(
                &server,
                "/auth/password/reset",
                json!({"token": token, "password": new}),
                None,
            )
            .await;
            if new_works {
                again.assert_problem(400, "invalid_token");
                spent += 1;
            } else {
                assert_eq!(
                    again.status, 200,
                    "{backend:?}: the unspent link works: {}",
                    again.text
                );
                unspent += 1;
            }
            current = new;
        }
        // The kills landed on both sides of the commit, or the test proved nothing.
        assert!(
            spent > 0 && unspent > 0,
            "{backend:?}: spent {spent}, unspent {unspent}"
        );
    }
}

/// SIGTERM while the mail worker holds a message the SMTP server is slow to accept: the
/// message is delivered before the process exits, and is not sent again after a restart.
#[tokio::test]
async fn sigterm_lets_the_mail_worker_finish_the_message_in_hand() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::new_for(backend);
        let sink = SmtpSink::start_slow(Tls::None, 2.0);
        let env = sink.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut server = ServerProcess::start(&db, &env).await;
        let reg = register(&server, "ada@example.com").await;
        assert_eq!(reg.status, 201, "{}", reg.text);
        // The worker has the message and the server is sitting on it.
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(sink.messages().is_empty(), "{backend:?}: not delivered yet");
        let status = tokio::task::spawn_blocking(move || server.terminate())
            .await
            .unwrap();
        assert!(status.success(), "{backend:?}: a clean exit: {status:?}");
        assert_eq!(
            sink.messages().len(),
            1,
            "{backend:?}: delivered before exit"
        );

        let _server = ServerProcess::start(&db, &env).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(sink.messages().len(), 1, "{backend:?}: not sent again");
    }
}
