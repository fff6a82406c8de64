//! What an operator does: the user tools on the command line, the initial admin,
//! invite-only mode and key rotation.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::both_backends;
use crate::helpers::{run_cli, spawn_app_with, start, Backend, TestDb, PASSWORD};

both_backends!(
    user_tools_manage_accounts,
    user_tools_refuse_bad_input,
    initial_admin_is_made_once,
    invite_only_creates_no_accounts,
    rotated_keys_are_picked_up,
    bans_are_listed_and_lifted,
);

fn out(o: &std::process::Output) -> (bool, String, String) {
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

async fn user_tools_manage_accounts(backend: Backend) {
    let db = Arc::new(TestDb::new_for(backend));
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("ALLOW_REGISTRATION", "false"),
        ("SCRYPT_LOG_N", "10"),
    ];
    let dir = db.dir();
    let (ok, stdout, stderr) = out(&run_cli(
        dir,
        &[
            "create-user",
            "--email",
            "Ada@Example.com",
            "--password",
            PASSWORD,
            "--admin",
        ],
        &env,
        None,
    ));
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("created admin ada@example.com"),
        "{stdout}"
    );
    // --password-stdin strips one trailing newline; --name defaults to the local part.
    let (ok, _, stderr) = out(&run_cli(
        dir,
        &[
            "create-user",
            "--email",
            "grace@example.com",
            "--password-stdin",
        ],
        &env,
        Some("a password from stdin\n"),
    ));
    assert!(ok, "{stderr}");

    let (ok, table, _) = out(&run_cli(dir, &["list-users"], &env, None));
    assert!(ok);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("EMAIL") && lines[0].contains("ROLE"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("ada@example.com") && lines[1].contains("admin"),
        "{table}"
    );
    assert!(
        lines[2].starts_with("grace@example.com") && lines[2].contains(" grace "),
        "{table}"
    );
    let (_, json_out, _) = out(&run_cli(dir, &["list-users", "--json"], &env, None));
    let users: serde_json::Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(users[1]["name"], "grace");
    assert_eq!(users[0]["disabled"], false);

    // The accounts work over HTTP, with registration off.
    let app = start(db.clone(), &[("ALLOW_REGISTRATION", "false")]).await;
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status, 200);
    assert_eq!(
        app.login("grace@example.com", "a password from stdin")
            .await
            .status,
        200
    );

    let (ok, _, stderr) = out(&run_cli(
        dir,
        &["set-password", "grace@example.com", "--password-stdin"],
        &env,
        Some("another good passphrase\n"),
    ));
    assert!(ok, "{stderr}");
    app.login("grace@example.com", "a password from stdin")
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(
        app.login("grace@example.com", "another good passphrase")
            .await
            .status,
        200
    );

    // Off a terminal, deleting needs --yes.
    let (ok, _, stderr) = out(&run_cli(
        dir,
        &["delete-user", "grace@example.com"],
        &env,
        None,
    ));
    assert!(!ok && stderr.contains("--yes"), "{stderr}");
    let (ok, _, stderr) = out(&run_cli(
        dir,
        &["delete-user", "grace@example.com", "--yes"],
        &env,
        None,
    ));
    assert!(ok, "{stderr}");
    app.login("grace@example.com", "another good passphrase")
        .await
        .assert_problem(401, "invalid_credentials");
}

async fn user_tools_refuse_bad_input(backend: Backend) {
    let db = TestDb::new_for(backend);
    let env = [("DATABASE_URL", db.url.as_str()), ("SCRYPT_LOG_N", "10")];
    let dir = db.dir();
    assert!(run_cli(
        dir,
        &[
            "create-user",
            "--email",
            "ada@example.com",
            "--password",
            PASSWORD
        ],
        &env,
        None
    )
    .status
    .success());
    let cases: &[(&[&str], Option<&str>, &str)] = &[
        (
            &[
                "create-user",
                "--email",
                "ADA@example.com",
                "--password",
                PASSWORD,
            ],
            None,
            "already exists",
        ),
        (
            &[
                "create-user",
                "--email",
                "weak@example.com",
                "--password",
                "password1",
            ],
            None,
            "common",
        ),
        (
            &["create-user", "--email", "nope", "--password", PASSWORD],
            None,
            "email",
        ),
        // Off a terminal nothing is prompted for.
        (
            &["create-user", "--email", "x@example.com"],
            None,
            "--password-stdin",
        ),
        (&["create-user", "--password", PASSWORD], None, "Email"),
        (
            &["set-password", "nobody@example.com", "--password", PASSWORD],
            None,
            "no account",
        ),
        (
            &["delete-user", "nobody@example.com", "--yes"],
            None,
            "no account",
        ),
        // The only admin stays.
        (
            &["delete-user", "ada@example.com", "--yes"],
            None,
            "last active admin",
        ),
    ];
    for (args, stdin, expected) in cases {
        let (ok, _, stderr) = out(&run_cli(dir, args, &env, *stdin));
        assert!(!ok, "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?}: one line: {stderr}"
        );
    }
    let (ok, _, stderr) = out(&run_cli(
        dir,
        &["list-users"],
        &[("DATABASE_URL", "postgres://postgres@127.0.0.1:1/x")],
        None,
    ));
    assert!(
        !ok && stderr.contains("database") && stderr.trim_end().lines().count() == 1,
        "{stderr}"
    );
}

async fn initial_admin_is_made_once(backend: Backend) {
    let initial = [
        ("INITIAL_USER_EMAIL", "Owner@Example.com"),
        ("INITIAL_USER_NAME", "Owner"),
        ("INITIAL_USER_PASSWORD", PASSWORD),
        ("ALLOW_REGISTRATION", "false"),
    ];
    let app = spawn_app_with(backend, &initial).await;
    let r = app.login("owner@example.com", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (
            r.body["user"]["role"].as_str(),
            r.body["user"]["name"].as_str()
        ),
        (Some("admin"), Some("Owner"))
    );
    // A restart with another password changes nothing: the account has one.
    let again = start(
        app.db.clone(),
        &[
            ("INITIAL_USER_EMAIL", "owner@example.com"),
            ("INITIAL_USER_PASSWORD", "a different passphrase"),
        ],
    )
    .await;
    assert_eq!(again.login("owner@example.com", PASSWORD).await.status, 200);
    again
        .login("owner@example.com", "a different passphrase")
        .await
        .assert_problem(401, "invalid_credentials");
    let users = again.get("/admin/users", Some(&r.access_token())).await;
    assert_eq!(users.body["users"].as_array().unwrap().len(), 1);

    // Made without a password, it gets one at the first start that has one.
    let bare = spawn_app_with(backend, &[("INITIAL_USER_EMAIL", "owner@example.com")]).await;
    bare.login("owner@example.com", PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    let later = start(
        bare.db.clone(),
        &[
            ("INITIAL_USER_EMAIL", "owner@example.com"),
            ("INITIAL_USER_PASSWORD", PASSWORD),
        ],
    )
    .await;
    assert_eq!(later.login("owner@example.com", PASSWORD).await.status, 200);

    // A bad initial password stops the start, naming the setting.
    let dir = tempfile::tempdir().unwrap();
    let o = run_cli(
        dir.path(),
        &["serve", "--initial-user-password", "short"],
        &[("INITIAL_USER_EMAIL", "a@example.com")],
        None,
    );
    let (ok, _, stderr) = out(&o);
    assert!(!ok && stderr.contains("INITIAL_USER_PASSWORD"), "{stderr}");
}

async fn invite_only_creates_no_accounts(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("INVITE_REQUIRED", "true"),
            ("INITIAL_USER_EMAIL", "owner@example.com"),
            ("INITIAL_USER_PASSWORD", PASSWORD),
            ("DEV_LOGIN", "true"),
        ],
    )
    .await;
    let config = app.get("/auth/config", None).await;
    assert_eq!(
        (
            config.body["invite_required"].as_bool(),
            config.body["registration"].as_bool()
        ),
        (Some(true), Some(false))
    );
    app.post(
        "/auth/register",
        &json!({"email": "a@example.com", "password": PASSWORD}),
        None,
    )
    .await
    .assert_problem(403, "feature_disabled");
    app.post(
        "/auth/dev-login",
        &json!({"email": "new@example.com"}),
        None,
    )
    .await
    .assert_problem(403, "feature_disabled");
    // The initial admin always signs in, and admits people.
    let owner = app.login("owner@example.com", PASSWORD).await;
    assert_eq!(owner.status, 200);
    let r = app
        .post(
            "/admin/users",
            &json!({"email": "member@example.com", "password": PASSWORD}),
            Some(&owner.access_token()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(app.login("member@example.com", PASSWORD).await.status, 200);
    assert_eq!(
        app.post(
            "/auth/dev-login",
            &json!({"email": "member@example.com"}),
            None
        )
        .await
        .status,
        200
    );
}

async fn rotated_keys_are_picked_up(backend: Backend) {
    // Signing in again and again below must not push the first session out.
    let app = spawn_app_with(backend, &[("MAX_ACTIVE_SESSIONS", "1000")]).await;
    let before = app.register("ada@example.com").await.access_token();
    let old_kid = jsonwebtoken::decode_header(&before).unwrap().kid.unwrap();
    let (ok, stdout, stderr) = out(&run_cli(
        app.db.dir(),
        &["keys", "rotate", "--now"],
        &[("DATABASE_URL", &app.db.url)],
        None,
    ));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("signs now"), "{stdout}");
    // Within a few seconds the server signs with the new key and publishes both.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let after = loop {
        let token = app.login("ada@example.com", PASSWORD).await.access_token();
        if jsonwebtoken::decode_header(&token).unwrap().kid.unwrap() != old_kid {
            break token;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the new key was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let jwks = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.body["keys"].as_array().unwrap().len(), 2);
    // Tokens signed by either key are accepted.
    assert_eq!(app.get("/auth/me", Some(&before)).await.status, 200);
    assert_eq!(app.get("/auth/me", Some(&after)).await.status, 200);
    // HS256 has nothing to rotate.
    let (ok, _, stderr) = out(&run_cli(
        app.db.dir(),
        &["keys", "rotate"],
        &[
            ("DATABASE_URL", &app.db.url),
            ("JWT_ALG", "HS256"),
            ("JWT_SECRET", "x".repeat(40).as_str()),
        ],
        None,
    ));
    assert!(!ok && stderr.contains("JWT_SECRET"), "{stderr}");
}

/// A terminal session (tmux) running one command, to answer its prompts as a person would.
struct Terminal {
    name: String,
}

impl Terminal {
    fn run(command: &str) -> Terminal {
        let name = format!("latch-{}", uuid::Uuid::new_v4().simple());
        let status = std::process::Command::new("tmux")
            .args([
                "-L",
                "latch-tests",
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "200",
                "-y",
                "50",
            ])
            .arg(format!("{command}; echo EXIT=$?; sleep 60"))
            .status()
            .expect("tmux runs the terminal tests");
        assert!(status.success());
        Terminal { name }
    }

    fn screen(&self) -> String {
        let o = std::process::Command::new("tmux")
            .args(["-L", "latch-tests", "capture-pane", "-p", "-t", &self.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    async fn wait_for(&self, text: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "waited for {text:?}; screen:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn type_line(&self, text: &str) {
        let status = std::process::Command::new("tmux")
            .args([
                "-L",
                "latch-tests",
                "send-keys",
                "-t",
                &self.name,
                "-l",
                text,
            ])
            .status()
            .unwrap();
        assert!(status.success());
        std::process::Command::new("tmux")
            .args(["-L", "latch-tests", "send-keys", "-t", &self.name, "Enter"])
            .status()
            .unwrap();
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", "latch-tests", "kill-session", "-t", &self.name])
            .status();
    }
}

both_backends!(terminal_prompts_ask_for_what_is_missing);

async fn terminal_prompts_ask_for_what_is_missing(backend: Backend) {
    let db = TestDb::new_for(backend);
    let latch = format!(
        "cd {} && env -i PATH=/usr/bin:/bin DATABASE_URL='{}' SCRYPT_LOG_N=10 RUST_LOG=error {}",
        db.dir().display(),
        db.url,
        env!("CARGO_BIN_EXE_latch")
    );
    let t = Terminal::run(&format!("{latch} create-user"));
    t.wait_for("Email:").await;
    t.type_line("ada@example.com");
    t.wait_for("Password:").await;
    t.type_line(PASSWORD);
    t.wait_for("Password again:").await;
    t.type_line(PASSWORD);
    let screen = t.wait_for("EXIT=").await;
    assert!(
        screen.contains("created admin ada@example.com") && screen.contains("EXIT=0"),
        "{screen}"
    );
    assert!(
        !screen.contains(PASSWORD),
        "the password was shown:\n{screen}"
    );

    // A mistyped confirmation creates nothing.
    let t = Terminal::run(&format!("{latch} create-user --email grace@example.com"));
    t.wait_for("Password:").await;
    t.type_line(PASSWORD);
    t.wait_for("Password again:").await;
    t.type_line("something else entirely");
    let screen = t.wait_for("EXIT=").await;
    assert!(
        screen.contains("do not match") && screen.contains("EXIT=1"),
        "{screen}"
    );

    // Deleting asks first; only yes deletes.
    assert!(run_cli(
        db.dir(),
        &[
            "create-user",
            "--email",
            "bob@example.com",
            "--password",
            PASSWORD
        ],
        &[("DATABASE_URL", &db.url), ("SCRYPT_LOG_N", "10")],
        None
    )
    .status
    .success());
    let t = Terminal::run(&format!("{latch} delete-user bob@example.com"));
    t.wait_for("[y/N]").await;
    t.type_line("n");
    let screen = t.wait_for("EXIT=").await;
    assert!(
        screen.contains("not deleted") && screen.contains("EXIT=1"),
        "{screen}"
    );
    let t = Terminal::run(&format!("{latch} delete-user bob@example.com"));
    t.wait_for("[y/N]").await;
    t.type_line("y");
    let screen = t.wait_for("EXIT=").await;
    assert!(
        screen.contains("deleted bob@example.com") && screen.contains("EXIT=0"),
        "{screen}"
    );
}

async fn bans_are_listed_and_lifted(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let admin = app.register("admin@example.com").await.access_token();
    let bob = app.register("bob@example.com").await;
    let bob_id = bob.body["user"]["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/admin/bans",
            &serde_json::json!({"user_id": bob_id, "reason": "spam"}),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 201);
    let ban_id = r.body["id"].as_str().unwrap().to_string();
    let env = [("DATABASE_URL", app.db.url.as_str())];
    let (ok, stdout, stderr) = out(&run_cli(app.db.dir(), &["bans", "list"], &env, None));
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("ID"), "{stdout}");
    assert!(
        stdout.contains(&ban_id) && stdout.contains("spam"),
        "{stdout}"
    );
    let (ok, stdout, _) = out(&run_cli(
        app.db.dir(),
        &["bans", "list", "--json"],
        &env,
        None,
    ));
    assert!(ok);
    let listed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listed[0]["user_id"], bob_id.as_str());
    app.login("bob@example.com", PASSWORD)
        .await
        .assert_problem(403, "banned");
    let (ok, stdout, stderr) = out(&run_cli(
        app.db.dir(),
        &["bans", "lift", &ban_id],
        &env,
        None,
    ));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("lifted"), "{stdout}");
    assert_eq!(app.login("bob@example.com", PASSWORD).await.status, 200);
    let (ok, _, stderr) = out(&run_cli(
        app.db.dir(),
        &["bans", "lift", &ban_id],
        &env,
        None,
    ));
    assert!(!ok);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no active ban"), "{stderr}");
}

/// No container engine runs where the tests run: the Dockerfile is checked with hadolint
/// (its rules for a small, non-root image with a health check) and the compose file
/// against the Compose specification's schema, both from the test venv.
#[test]
fn the_container_files_are_sound() {
    let python = crate::smtp::python();
    let bin = std::path::Path::new(&python).parent().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let run = |tool: &str, args: &[&str]| {
        let out = std::process::Command::new(bin.join(tool))
            .args(args)
            .current_dir(root)
            .output()
            .unwrap_or_else(|e| panic!("{tool} is missing ({e}): run `make test`"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{tool}: {text}");
    };
    run("hadolint", &["--no-color", "Dockerfile"]);
    run(
        "check-jsonschema",
        &[
            "--builtin-schema",
            "vendor.compose-spec",
            "docker-compose.yml",
        ],
    );
    let dockerfile = std::fs::read_to_string(format!("{root}/Dockerfile")).unwrap();
    assert!(dockerfile.contains("HEALTHCHECK"), "a health check");
    assert!(dockerfile.contains("USER 10001"), "not root");
    let compose = std::fs::read_to_string(format!("{root}/docker-compose.yml")).unwrap();
    for service in ["latch:", "postgres:", "mailpit:"] {
        assert!(compose.contains(service), "compose starts {service}");
    }
}
