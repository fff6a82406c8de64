//! Moving from LibreChat: its `.env` as LibreChat reads it (the example file's shapes, a
//! production file with every name set), a password-protected Redis with a key prefix,
//! Mailgun's HTTP API through the outbox, the `OPENID_*` additions, and its users brought
//! over by `latch import librechat`. On SQLite and PostgreSQL.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{new_client, run_cli, spawn_app_with, Backend, Reply, ServerProcess, TestDb};
use crate::smtp::{SmtpSink, Tls};

both_backends!(
    librechats_example_env_starts_with_mail_off,
    a_production_env_is_honoured_whole,
    redis_with_a_password_and_a_key_prefix,
    mailgun_sends_through_the_outbox,
    users_come_over_with_their_passwords_identities_and_totp,
);

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// LibreChat's example `.env` (its shapes: our fixture), unedited, starts Latch: mail off
/// (a sender without a server), registration as the file says, and every name Latch has no
/// use for named at start, none dropped without a word.
async fn librechats_example_env_starts_with_mail_off(backend: Backend) {
    let db = TestDb::new_for(backend);
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/librechat-shapes.env"
        ),
        db.dir().join(".env"),
    )
    .unwrap();
    let server = ServerProcess::start(&db, &[("RUST_LOG", "warn")]).await;
    let config: Value = reqwest::get(server.url("/auth/config"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["has_email"], false, "{config}");
    assert_eq!(
        config["registration"], false,
        "the file's ALLOW_REGISTRATION=false"
    );
    let log = server.log();
    for named in [
        "`MONGO_URI`",
        "`OPENID_ON_BEHALF_FLOW_USERINFO_SCOPE`",
        "`JWT_SECRET`",
        "`LIMIT_CONCURRENT_MESSAGES`",
    ] {
        assert!(log.contains(named), "{named} is not named:\n{log}");
    }
    assert!(
        log.contains("`EMAIL_FROM` is set but neither EMAIL_HOST"),
        "{log}"
    );
    assert!(log.contains("latch import librechat"), "{log}");
}

/// A production `.env` in LibreChat's names, every value with spaces unquoted: a
/// production start (`NODE_ENV`), and each value honoured.
async fn a_production_env_is_honoured_whole(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let db = TestDb::new_for(backend);
    let secret = "4f0c".repeat(16);
    let env = format!(
        "NODE_ENV=production\n\
         APP_TITLE=Acme Chat Internal\n\
         DOMAIN_CLIENT=http://app.test\n\
         DOMAIN_SERVER=http://127.0.0.1\n\
         JWT_SECRET={secret}\n\
         JWT_REFRESH_SECRET={secret}\n\
         JWT_KEYS_ENCRYPTION_KEY={secret}\n\
         SESSION_EXPIRY=1000 * 60 * 10\n\
         REFRESH_TOKEN_EXPIRY=(1000 * 60 * 60 * 24) * 3\n\
         BAN_DURATION=1000 * 60 * 60 * 2\n\
         ALLOW_EMAIL_LOGIN=true\n\
         ALLOW_REGISTRATION=true\n\
         ALLOW_UNVERIFIED_EMAIL_LOGIN=false\n\
         MIN_PASSWORD_LENGTH=12\n\
         SESSION_COOKIE_SECURE=false\n\
         EMAIL_HOST=127.0.0.1\n\
         EMAIL_PORT={port}\n\
         EMAIL_ENCRYPTION=none\n\
         EMAIL_FROM=noreply@acme.example\n\
         EMAIL_FROM_NAME=Acme Chat Accounts\n\
         MONGO_URI=mongodb://127.0.0.1:27017/Chat\n",
        port = sink.port
    );
    std::fs::write(db.dir().join(".env"), env).unwrap();
    // The file's weak-secret checks are a production start's.
    let short = run_cli(
        db.dir(),
        &["migrate"],
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("JWT_REFRESH_SECRET", "short"),
        ],
        None,
    );
    assert!(!short.status.success());
    assert!(
        stderr(&short).contains("JWT_REFRESH_SECRET"),
        "{}",
        stderr(&short)
    );
    let server = ServerProcess::start_bare(&db, &[("EMAIL_RETRY_DELAY", "200")]).await;
    let client = new_client();
    let config: Value = client
        .get(server.url("/auth/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["password_min_length"], 12);
    assert_eq!(config["require_email_verification"], true);
    let r = client
        .post(server.url("/auth/register"))
        .json(&json!({"email": "ada@example.com", "password": "a long enough passphrase"}))
        .send()
        .await
        .unwrap();
    let r = Reply::from(r).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["verification_required"], true);
    let mail = sink
        .wait_for(1, |m| m.to == "ada@example.com")
        .await
        .remove(0);
    assert!(
        mail.subject.contains("Acme Chat Internal"),
        "{}",
        mail.subject
    );
    let r = Reply::from(
        client
            .post(server.url("/auth/email/verify"))
            .json(&json!({"token": mail.token()}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = Reply::from(
        client
            .post(server.url("/auth/login"))
            .json(&json!({"email": "ada@example.com", "password": "a long enough passphrase"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.body["expires_in"], 600, "SESSION_EXPIRY: {}", r.text);
    let cookie = r.refresh_cookie().unwrap();
    assert!(
        cookie.contains("Max-Age=259200"),
        "REFRESH_TOKEN_EXPIRY: {cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "SESSION_COOKIE_SECURE=false: {cookie}"
    );
}

/// A throwaway Redis that asks for a password.
struct Redis {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn start(password: &str) -> Redis {
        let port = crate::social::free_port();
        let dir = tempfile::tempdir().unwrap();
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--requirepass",
                password,
            ])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is needed for this test (Debian: redis-server)");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Redis {
            child,
            port,
            _dir: dir,
        }
    }

    fn keys(&self, password: &str) -> Vec<String> {
        let out = std::process::Command::new("redis-cli")
            .args([
                "-p",
                &self.port.to_string(),
                "--no-auth-warning",
                "-a",
                password,
                "KEYS",
                "*",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// LibreChat's `REDIS_PASSWORD` and `REDIS_KEY_PREFIX_VAR`: a wrong password stops the
/// start naming `REDIS_PASSWORD`; the right one counts under the prefix the named variable
/// holds.
async fn redis_with_a_password_and_a_key_prefix(backend: Backend) {
    let redis = Redis::start("redis-s3cret");
    let db = TestDb::new_for(backend);
    let uri = format!("redis://127.0.0.1:{}", redis.port);
    let env = |password: &'static str| {
        vec![
            ("DATABASE_URL", db.url.clone()),
            ("USE_REDIS", "true".to_string()),
            ("REDIS_URI", uri.clone()),
            ("REDIS_PASSWORD", password.to_string()),
            ("REDIS_KEY_PREFIX_VAR", "K_REVISION".to_string()),
            ("K_REVISION", "chat-r42".to_string()),
        ]
    };
    // `serve` refuses to start; its one line names the setting.
    let wrong = env("not-it");
    let mut pairs: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.push(("PORT", "0"));
    let out = run_cli(db.dir(), &["serve"], &pairs, None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("REDIS_PASSWORD"), "{}", stderr(&out));
    let right = env("redis-s3cret");
    let pairs: Vec<(&str, &str)> = right
        .iter()
        .filter(|(k, _)| *k != "DATABASE_URL")
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    let server = ServerProcess::start(&db, &pairs).await;
    let r = new_client()
        .post(server.url("/auth/login"))
        .json(&json!({"email": "nobody@example.com", "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let keys = redis.keys("redis-s3cret");
    assert!(
        !keys.is_empty() && keys.iter().all(|k| k.starts_with("chat-r42:")),
        "{keys:?}"
    );
    assert_eq!(
        reqwest::get(server.url("/readyz")).await.unwrap().status(),
        200
    );
}

/// One request to the stand-in: its path, its `Authorization` header and its form.
type Request = (String, String, Vec<(String, String)>);

/// What a stand-in for Mailgun's API received.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Request>>>);

/// A local HTTP server answering as Mailgun's messages API: `fail_first` requests get a
/// `500`, the rest a `200`; every request is recorded (path, Authorization, form).
async fn mailgun_stand_in(fail_first: usize) -> (String, Received) {
    use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
    let received = Received::default();
    let seen = received.clone();
    let server = HttpServer::new(move || {
        let seen = seen.clone();
        App::new().default_service(web::to(
            move |req: HttpRequest, form: web::Form<Vec<(String, String)>>| {
                let seen = seen.clone();
                async move {
                    let auth = req
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    let mut all = seen.0.lock().unwrap();
                    all.push((req.path().to_string(), auth, form.into_inner()));
                    if all.len() <= fail_first {
                        HttpResponse::InternalServerError().finish()
                    } else {
                        HttpResponse::Ok().json(json!({"id": "<x@mg>", "message": "Queued."}))
                    }
                }
            },
        ))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    tokio::spawn(server.run());
    (format!("http://{addr}"), received)
}

/// `MAILGUN_*` send through Mailgun's HTTP API, from the outbox: a failure is retried, and
/// the message is delivered once.
async fn mailgun_sends_through_the_outbox(backend: Backend) {
    let (host, received) = mailgun_stand_in(1).await;
    let app = spawn_app_with(
        backend,
        &[
            ("MAILGUN_API_KEY", "key-test-123"),
            ("MAILGUN_DOMAIN", "mg.acme.example"),
            ("MAILGUN_HOST", host.as_str()),
            ("EMAIL_FROM", "noreply@acme.example"),
            ("EMAIL_FROM_NAME", "Acme"),
            ("EMAIL_RETRY_DELAY", "200"),
        ],
    )
    .await;
    assert_eq!(app.get("/auth/config", None).await.body["has_email"], true);
    let r = app
        .post(
            "/auth/password/forgot",
            &json!({"email": "nobody@example.com"}),
            None,
        )
        .await;
    assert_eq!(r.status, 202);
    app.post(
        "/auth/register",
        &json!({"email": "ada@example.com", "password": crate::helpers::PASSWORD}),
        None,
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while received.0.lock().unwrap().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "not retried");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let all = received.0.lock().unwrap().clone();
    assert_eq!(all.len(), 2, "one failure, one delivery, nothing more");
    let (path, auth, form) = &all[1];
    assert_eq!(path, "/v3/mg.acme.example/messages");
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode("api:key-test-123");
    assert_eq!(auth, &format!("Basic {expected}"));
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert!(field("to").unwrap().contains("ada@example.com"));
    assert!(field("from").unwrap().contains("noreply@acme.example"));
    assert!(field("subject").unwrap().contains("Confirm"));
    assert!(field("text").unwrap().contains("token="));
    assert_eq!(field("o:tracking-clicks"), Some("no"));
    let outbox = app
        .state
        .db
        .run(|c| Ok(latch::db::models::OutboxMessage::count_in_state(c, "sent")?))
        .await
        .unwrap();
    assert_eq!(outbox, 1);
}

const CREDS_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// What LibreChat stores for a TOTP secret today: `v3:<iv>:<AES-256-CTR of the Base32>`.
fn librechat_totp(base32: &str) -> String {
    use openssl::symm::{encrypt, Cipher};
    let key: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&CREDS_KEY[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let iv = [3u8; 16];
    let ct = encrypt(Cipher::aes_256_ctr(), &key, Some(&iv), base32.as_bytes()).unwrap();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!("v3:{}:{}", hex(&iv), hex(&ct))
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An export with everything LibreChat's users carry, and the odd documents.
fn export(canonical: bool) -> String {
    let date = |iso: &str| {
        if canonical {
            let ms = chrono::DateTime::parse_from_rfc3339(iso)
                .unwrap()
                .timestamp_millis();
            json!({"$date": {"$numberLong": ms.to_string()}})
        } else {
            json!({"$date": iso})
        }
    };
    let bcrypt = |p: &str| bcrypt::hash(p, 4).unwrap().replacen("$2b$", "$2a$", 1);
    let docs = [
        json!({"_id": {"$oid": "65f0c1aa0000000000000001"}, "email": "ann@chat.example",
            "emailVerified": true, "name": "Ann", "username": "ann", "role": "ADMIN",
            "provider": "local", "password": bcrypt("ann's old passphrase"),
            "createdAt": date("2024-03-12T09:15:02.113Z"), "plugins": [], "__v": 0,
            "favorites": [{"agentId": "x"}]}),
        json!({"_id": {"$oid": "65f0c1aa0000000000000002"}, "email": "bob@chat.example",
            "emailVerified": true, "name": "Bob", "role": "USER", "provider": "google",
            "googleId": "google-bob", "openidId": "oidc-bob",
            "createdAt": date("2024-04-01T00:00:00Z")}),
        json!({"_id": {"$oid": "65f0c1aa0000000000000003"}, "email": "cy@chat.example",
            "emailVerified": true, "name": "Cy", "role": "USER", "provider": "local",
            "password": bcrypt("cy's old passphrase"), "twoFactorEnabled": true,
            "totpSecret": librechat_totp("JBSWY3DPEHPK3PXP"),
            "backupCodes": [
                {"codeHash": sha256_hex("0a1b2c3d"), "used": false, "usedAt": null},
                {"codeHash": sha256_hex("4e5f6a7b"), "used": true, "usedAt": date("2024-05-01T00:00:00Z")}
            ],
            "createdAt": date("2024-05-01T00:00:00Z")}),
        // LibreChat's codes are 32 random bits: in a large export two users share one.
        json!({"_id": {"$oid": "65f0c1aa0000000000000006"}, "email": "eve@chat.example",
            "emailVerified": true, "name": "Eve", "role": "USER", "provider": "local",
            "password": bcrypt("eve's old passphrase"), "twoFactorEnabled": true,
            "totpSecret": librechat_totp("KRSXG5CTMVRXEZLU"),
            "backupCodes": [{"codeHash": sha256_hex("0a1b2c3d"), "used": false, "usedAt": null}],
            "createdAt": date("2024-05-02T00:00:00Z")}),
        json!({"_id": {"$oid": "65f0c1aa0000000000000004"}, "email": "dee@chat.example",
            "emailVerified": false, "name": "Dee", "role": "USER", "provider": "local",
            "password": bcrypt("dee's old passphrase"),
            "expiresAt": date("2024-06-08T00:00:00Z"), "createdAt": date("2024-06-01T00:00:00Z")}),
        json!({"_id": {"$oid": "65f0c1aa0000000000000005"}, "email": "taken@chat.example",
            "emailVerified": true, "name": "Taken", "provider": "local"}),
    ];
    let mut lines: Vec<String> = docs.iter().map(Value::to_string).collect();
    lines.insert(3, "{\"_id\": {\"$oid\": \"broken".to_string());
    lines.join("\n") + "\n"
}

fn code_now(base32: &str) -> String {
    crate::second_factor::code_at(base32, crate::second_factor::unix_now())
}

/// `latch import librechat`: both Extended JSON forms; bcrypt passwords sign in and are
/// replaced by scrypt; provider ids become identities; TOTP and backup codes come with
/// `CREDS_KEY` (used codes stay used); `legacy_id` is kept; a pending sign-up stays
/// unverified; a broken line and a taken address are reported and skipped (exit non-zero);
/// a second run changes nothing; a dry run writes nothing; TOTP without `CREDS_KEY` is
/// refused before anything is written.
async fn users_come_over_with_their_passwords_identities_and_totp(backend: Backend) {
    for canonical in [false, true] {
        let db = Arc::new(TestDb::new_for(backend));
        let file = db.dir().join("users.json");
        std::fs::write(&file, export(canonical)).unwrap();
        let base = [
            ("DATABASE_URL", db.url.as_str()),
            ("SCRYPT_LOG_N", "10"),
            ("JWT_REFRESH_SECRET", crate::helpers::REFRESH_SECRET),
        ];
        let run = |args: &[&str], creds: bool| {
            let mut env = base.to_vec();
            if creds {
                env.push(("CREDS_KEY", CREDS_KEY));
            }
            run_cli(db.dir(), args, &env, None)
        };
        // Without CREDS_KEY: refused whole, nothing written.
        let out = run(&["import", "librechat", "users.json"], false);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("CREDS_KEY"), "{}", stderr(&out));
        // A taken address, in Latch already.
        let app = crate::helpers::start(db.clone(), &[]).await;
        app.register("taken@chat.example").await;
        // A dry run writes nothing, and says what it would do.
        let out = run(&["import", "librechat", "users.json", "--dry-run"], true);
        let report = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!out.status.success(), "a dry run exits as the import would");
        assert!(
            report.contains("would import 5, unchanged 0, skipped 2"),
            "{report}"
        );
        assert!(
            app.login("ann@chat.example", "ann's old passphrase")
                .await
                .status
                == 401
        );
        // The import.
        let out = run(&["import", "librechat", "users.json"], true);
        let report = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!out.status.success(), "something was skipped: {report}");
        assert!(
            report.contains("line 4: skipped: not a JSON document"),
            "{report}"
        );
        assert!(
            report.contains("taken@chat.example already has an account"),
            "{report}"
        );
        assert!(
            report.contains("imported 5, unchanged 0, skipped 2; with TOTP 2, with identities 1"),
            "{report}"
        );
        assert!(
            report.contains("identities of google: 1 (provider not configured yet)"),
            "{report}"
        );
        // Ann: admin, legacy_id, username; her bcrypt password signs in and becomes scrypt.
        let r = app.login("ann@chat.example", "ann's old passphrase").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["user"]["role"], "admin");
        assert_eq!(r.body["user"]["legacy_id"], "65f0c1aa0000000000000001");
        assert_eq!(r.body["user"]["username"], "ann");
        let stored: Option<String> = {
            use diesel::prelude::*;
            use latch::db::schema::users;
            users::table
                .filter(users::email.eq("ann@chat.example"))
                .select(users::password_hash)
                .first(&mut app.db_conn())
                .unwrap()
        };
        assert!(
            stored.unwrap().starts_with("$scrypt$"),
            "replaced at the first sign-in"
        );
        assert_eq!(
            app.login("ann@chat.example", "ann's old passphrase")
                .await
                .status,
            200
        );
        app.login("ann@chat.example", "wrong")
            .await
            .assert_problem(401, "invalid_credentials");
        // Cy keeps the authenticator app and the unused backup code; the used one stays used.
        let r = app.login("cy@chat.example", "cy's old passphrase").await;
        assert_eq!(r.body["mfa_required"], true, "{}", r.text);
        let mfa = r.body["mfa_token"].as_str().unwrap().to_string();
        crate::second_factor::with_time_left(3).await;
        let r = app
            .post(
                "/auth/mfa/verify",
                &json!({"mfa_token": mfa, "code": code_now("JBSWY3DPEHPK3PXP")}),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app.login("cy@chat.example", "cy's old passphrase").await;
        let mfa = r.body["mfa_token"].as_str().unwrap().to_string();
        app.post(
            "/auth/mfa/verify",
            &json!({"mfa_token": mfa, "backup_code": "4e5f6a7b"}),
            None,
        )
        .await
        .assert_problem(401, "invalid_credentials");
        let r = app
            .post(
                "/auth/mfa/verify",
                &json!({"mfa_token": mfa, "backup_code": "0a1b2c3d"}),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        // Eve's copy of that code is her own, and still unused.
        let r = app.login("eve@chat.example", "eve's old passphrase").await;
        let mfa = r.body["mfa_token"].as_str().unwrap().to_string();
        let r = app
            .post(
                "/auth/mfa/verify",
                &json!({"mfa_token": mfa, "backup_code": "0a1b2c3d"}),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        // Dee's sign-up was pending: unverified.
        let users = app
            .state
            .db
            .run(|c| {
                Ok(latch::db::models::User::find_by_email(
                    c,
                    "dee@chat.example",
                )?)
            })
            .await
            .unwrap()
            .unwrap();
        assert!(!users.email_verified);
        // Bob: his identities.
        let bob = app
            .state
            .db
            .run(|c| {
                let u = latch::db::models::User::find_by_email(c, "bob@chat.example")?.unwrap();
                Ok(latch::db::models::Identity::for_user(c, &u.id)?)
            })
            .await
            .unwrap();
        let mut providers: Vec<String> = bob
            .iter()
            .map(|i| format!("{}:{}", i.provider, i.subject))
            .collect();
        providers.sort();
        assert_eq!(providers, ["google:google-bob", "openid:oidc-bob"]);
        // Again: nothing changes (the imported are unchanged; the skipped still skipped).
        let out = run(&["import", "librechat", "users.json"], true);
        let report = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            report.contains("imported 0, unchanged 5, skipped 2"),
            "{report}"
        );
    }
}
