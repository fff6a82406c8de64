//! The binary itself: its commands, and how it refuses bad configuration.

use std::sync::Arc;

use crate::both_backends;
use crate::helpers::{run_cli, start, Backend, TestDb};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn openapi_prints_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_cli(dir.path(), &["openapi"], &[], None);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        latch::openapi::spec_json()
    );
}

#[test]
fn bad_settings_stop_the_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("PORT", "http")], "PORT"),
        (&[("SESSION_EXPIRY", "$(rm -rf /)")], "SESSION_EXPIRY"),
        (&[("SESSION_EXPIRY", "1000 * 60 + 1")], "SESSION_EXPIRY"),
        (&[("ALLOW_REGISTRATION", "maybe")], "ALLOW_REGISTRATION"),
        (&[("JWT_ALG", "none")], "JWT_ALG"),
        (&[("DATABASE_URL", "mysql://x")], "DATABASE_URL"),
        (&[("APP_ENV", "production")], "JWT_REFRESH_SECRET"),
        (&[("EMAIL_HOST", "smtp.example.com")], "EMAIL_FROM"),
        (
            &[
                ("EMAIL_SERVICE", "carrier-pigeon"),
                ("EMAIL_FROM", "no-reply@example.com"),
            ],
            "EMAIL_SERVICE",
        ),
        (&[("ALLOW_MAGIC_LINK", "true")], "ALLOW_MAGIC_LINK"),
        (
            &[("REQUIRE_EMAIL_VERIFICATION", "true")],
            "REQUIRE_EMAIL_VERIFICATION",
        ),
        (
            &[
                ("APP_ENV", "production"),
                ("JWT_REFRESH_SECRET", "too-short"),
            ],
            "JWT_REFRESH_SECRET",
        ),
    ];
    for (env, name) in cases {
        let out = run_cli(dir.path(), &["migrate"], env, None);
        let err = stderr(&out);
        assert!(!out.status.success(), "{env:?} was accepted");
        assert!(err.contains(name), "{env:?}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "one line on stderr: {err}"
        );
    }
    // A sender without a server is mail off, as in LibreChat's example file: not an error.
    let out = run_cli(
        dir.path(),
        &["migrate"],
        &[("EMAIL_FROM", "no-reply@example.com"), ("EMAIL_PORT", "25")],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // Variables Latch does not know (a LibreChat .env is full of them) are ignored.
    let out = run_cli(
        dir.path(),
        &["migrate"],
        &[
            ("OPENAI_API_KEY", "x"),
            ("SESSION_EXPIRY", "1000 * 60 * 15"),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn config_file_is_layered_under_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "port = 9000\nno_such_setting = 1\n",
    )
    .unwrap();
    let out = run_cli(dir.path(), &["--config", "bad.toml", "migrate"], &[], None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no_such_setting"), "{}", stderr(&out));

    std::fs::write(
        dir.path().join("latch.toml"),
        "database_url = \"sqlite://from-file.db\"\n",
    )
    .unwrap();
    let out = run_cli(
        dir.path(),
        &["--config", "latch.toml", "migrate"],
        &[],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("from-file.db").exists());
    // The environment wins over the file, and a flag over the environment.
    let out = run_cli(
        dir.path(),
        &["--config", "latch.toml", "migrate"],
        &[("DATABASE_URL", "sqlite://from-env.db")],
        None,
    );
    assert!(out.status.success());
    assert!(dir.path().join("from-env.db").exists());
    let out = run_cli(
        dir.path(),
        &[
            "--config",
            "latch.toml",
            "--database-url",
            "sqlite://from-flag.db",
            "migrate",
        ],
        &[("DATABASE_URL", "sqlite://from-env.db")],
        None,
    );
    assert!(out.status.success());
    assert!(dir.path().join("from-flag.db").exists());
    // A missing --config file is an error, not a silent default.
    let out = run_cli(
        dir.path(),
        &["--config", "missing.toml", "migrate"],
        &[],
        None,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("missing.toml"));
}

#[test]
fn unreachable_database_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_cli(
        dir.path(),
        &["migrate"],
        &[("DATABASE_URL", "postgres://postgres@127.0.0.1:1/latch")],
        None,
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("database"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

both_backends!(
    migrate_applies_the_schema_once,
    concurrent_starts_share_one_signing_key
);

async fn migrate_applies_the_schema_once(backend: Backend) {
    let db = TestDb::new_for(backend);
    let dir = tempfile::tempdir().unwrap();
    let env = [("DATABASE_URL", db.url.as_str())];
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| run_cli(dir.path(), &["migrate"], &env, None));
        let b = s.spawn(|| run_cli(dir.path(), &["migrate"], &env, None));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(
        a.status.success() && b.status.success(),
        "{} / {}",
        stderr(&a),
        stderr(&b)
    );
    let again = run_cli(dir.path(), &["migrate"], &env, None);
    assert!(again.status.success());
    assert!(stderr(&again).contains("up to date"));
}

async fn concurrent_starts_share_one_signing_key(backend: Backend) {
    let db = Arc::new(TestDb::new_for(backend));
    let (a, b) = tokio::join!(start(db.clone(), &[]), start(db.clone(), &[]));
    let (ka, kb) = (
        a.get("/.well-known/jwks.json", None).await,
        b.get("/.well-known/jwks.json", None).await,
    );
    assert_eq!(ka.body["keys"].as_array().unwrap().len(), 1);
    assert_eq!(ka.body, kb.body);
    // A token from one instance works on the other.
    let token = a.register("ada@example.com").await.access_token();
    assert_eq!(b.get("/auth/me", Some(&token)).await.status, 200);
}

/// Development keeps a generated refresh secret beside the database, so a restart keeps
/// every session.
#[tokio::test]
async fn generated_development_secret_survives_a_restart() {
    let db = Arc::new(TestDb::new_for(Backend::Sqlite));
    let app = start(db.clone(), &[("JWT_REFRESH_SECRET", "")]).await;
    let token = app
        .register("ada@example.com")
        .await
        .refresh_cookie_value()
        .unwrap();
    let secrets = std::fs::read_to_string(db.dir().join("latch.db.secrets")).unwrap();
    assert!(secrets.contains("JWT_REFRESH_SECRET="));
    let restarted = start(db.clone(), &[("JWT_REFRESH_SECRET", "")]).await;
    assert_eq!(
        restarted.refresh_with_cookie(&token, None).await.status,
        200
    );
}

both_backends!(dotenv_is_read_whole);

/// A `.env` is read by dotenv's rules: an unquoted value with spaces no longer stops the
/// reading, so a setting further down (registration off) is honoured.
async fn dotenv_is_read_whole(backend: Backend) {
    let db = TestDb::new_for(backend);
    std::fs::write(
        db.dir().join(".env"),
        "APP_TITLE=Acme Chat\nBAN_DURATION=1000 * 60 * 60 * 2\n# registration is closed\nALLOW_REGISTRATION=false\nLOGIN_MAX=1\n",
    )
    .unwrap();
    // The real environment wins over the file (LOGIN_MAX comes from the environment).
    let server = crate::helpers::ServerProcess::start(&db, &[]).await;
    let client = reqwest::Client::new();
    let config: serde_json::Value = client
        .get(server.url("/auth/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["registration"], false, "{config}");
    let res = client
        .post(server.url("/auth/register"))
        .json(&serde_json::json!({"email": "first@example.com", "password": crate::helpers::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "feature_disabled");
    for _ in 0..3 {
        let res = client
            .post(server.url("/auth/login"))
            .json(&serde_json::json!({"email": "x@example.com", "password": "wrong password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "LOGIN_MAX of the environment, not 1");
    }
}

/// A line dotenv would skip without a word stops the start, naming the file and line and
/// never the value.
#[test]
fn an_unreadable_dotenv_line_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("A=1\nALLOW REGISTRATION=false\n", "line 2"),
        ("# c\n\nJWT_SECRET=\"s3cr3t-value\nB=2\n", "line 3"),
        ("HOST=127.0.0.1\nthis is not a setting\n", "line 2"),
    ];
    for (text, line) in cases {
        std::fs::write(dir.path().join(".env"), text).unwrap();
        let out = run_cli(dir.path(), &["migrate"], &[], None);
        let err = stderr(&out);
        assert!(!out.status.success(), "{text:?} was accepted");
        assert!(
            err.contains(".env") && err.contains(line),
            "{text:?}: {err}"
        );
        assert!(!err.contains("s3cr3t"), "the value was printed: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    std::fs::write(dir.path().join(".env"), "A=1 2 3\n").unwrap();
    let out = run_cli(dir.path(), &["migrate"], &[], None);
    assert!(out.status.success(), "{}", stderr(&out));
}
