//! Clients from other ecosystems against a running Latch, across a key rotation: Node.js
//! `jose` and Python `PyJWT` verifying tokens from the JWKS alone, and the TypeScript
//! client generated from the OpenAPI document (examples/spa) driving a whole session.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::both_backends;
use crate::helpers::{run_cli, spawn_app_with, TestApp, PASSWORD};

both_backends!(verifiers_and_the_generated_client_follow_a_rotation);

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A verifier process: one token per line in, one JSON answer per line out.
struct Verifier {
    name: &'static str,
    _child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Verifier {
    fn spawn(name: &'static str, program: &str, script: &str, app: &TestApp) -> Verifier {
        let mut child = Command::new(program)
            .arg(format!("{ROOT}/tests/clients/{script}"))
            .envs(verifier_env(app))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Verifier {
            name,
            _child: child,
            stdin,
            lines,
        }
    }

    async fn verify(&mut self, token: &str) -> Value {
        self.stdin
            .write_all(format!("{token}\n").as_bytes())
            .await
            .unwrap();
        self.stdin.flush().await.unwrap();
        let line = tokio::time::timeout(Duration::from_secs(30), self.lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("{} did not answer", self.name))
            .unwrap()
            .unwrap_or_else(|| panic!("{} exited", self.name));
        serde_json::from_str(&line).unwrap()
    }
}

fn verifier_env(app: &TestApp) -> Vec<(&'static str, String)> {
    vec![
        ("JWKS_URL", app.url("/.well-known/jwks.json")),
        ("LATCH", app.address.clone()),
        ("ISSUER", "latch".into()),
        ("AUDIENCE", "latch".into()),
        ("ALG", "ES256".into()),
    ]
}

fn require_installed() {
    for dir in ["tests/clients/node_modules", "examples/spa/dist"] {
        assert!(
            std::path::Path::new(&format!("{ROOT}/{dir}")).exists(),
            "{dir} is missing: run `make test` (it installs the clients and builds the example SPA)"
        );
    }
}

/// The generated TypeScript client's whole session (tests/clients/flow.mjs).
async fn generated_client_session(app: &TestApp, email: &str) -> Value {
    let out = Command::new("node")
        .arg(format!("{ROOT}/tests/clients/flow.mjs"))
        .envs(verifier_env(app))
        .env("EMAIL", email)
        .env("PASSWORD", PASSWORD)
        .output()
        .await
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "flow.mjs failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("flow.mjs: {e}: {stdout}"));
    assert_eq!(result["registered"], email, "{result}");
    assert_eq!(result["sub_matches"], true, "{result}");
    assert_eq!(result["laptop_verified"], true, "{result}");
    assert_eq!(result["sessions"], 2, "{result}");
    assert_eq!(result["refreshed"], true, "{result}");
    assert_eq!(result["me"], email, "{result}");
    assert_eq!(result["sessions_after_logout"], 1, "{result}");
    assert_eq!(
        result["refresh_after_logout"],
        serde_json::json!([401, "unauthorized"]),
        "{result}"
    );
    result
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn published(app: &TestApp) -> usize {
    let jwks = app.get("/.well-known/jwks.json", None).await.body;
    jwks["keys"].as_array().unwrap().len()
}

async fn verifiers_and_the_generated_client_follow_a_rotation(backend: crate::helpers::Backend) {
    require_installed();
    let app = spawn_app_with(
        backend,
        &[
            ("MAX_ACTIVE_SESSIONS", "1000"),
            ("REFRESH_TOKEN_DELIVERY", "both"),
        ],
    )
    .await;
    let first = app.register("ada@example.com").await.access_token();
    let old = kid(&first);

    // Rotate with the new key published 12 s before it signs.
    let out = run_cli(
        app.db.dir(),
        &["keys", "rotate"],
        &[("DATABASE_URL", &app.db.url), ("JWT_KEY_PREPUBLISH", "12")],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("signs from"), "{stdout}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while published(&app).await < 2 {
        assert!(Instant::now() < deadline, "the new key was not published");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Published, not yet signing.
    let still_old = app.login("ada@example.com", PASSWORD).await.access_token();
    assert_eq!(kid(&still_old), old, "the new key signed before its time");

    // Verifiers fetch the JWKS now, while the old key signs...
    let mut verifiers = [
        Verifier::spawn("jose", "node", "verify.mjs", &app),
        Verifier::spawn("PyJWT", &crate::smtp::python(), "verify.py", &app),
    ];
    for v in &mut verifiers {
        let r = v.verify(&first).await;
        assert_eq!(r["ok"], true, "{}: {r}", v.name);
        assert_eq!(r["kid"], old.as_str(), "{}: {r}", v.name);
        assert_eq!(r["fetches"], 1, "{}: {r}", v.name);
        let r = v.verify("not.a.token").await;
        assert_eq!(r["ok"], false, "{}: {r}", v.name);
    }
    let before = generated_client_session(&app, "grace@example.com").await;
    assert_eq!(before["kids"], serde_json::json!([old]), "{before}");

    // ...and once the new key signs, they verify its tokens from that same copy.
    let deadline = Instant::now() + Duration::from_secs(30);
    let next = loop {
        let token = app.login("ada@example.com", PASSWORD).await.access_token();
        if kid(&token) != old {
            break token;
        }
        assert!(Instant::now() < deadline, "the new key never signed");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for v in &mut verifiers {
        let r = v.verify(&next).await;
        assert_eq!(r["ok"], true, "{}: {r}", v.name);
        assert_eq!(r["kid"], kid(&next), "{}: {r}", v.name);
        assert_eq!(r["fetches"], 1, "{}: no refetch was needed: {r}", v.name);
        // Tokens of the old key stay valid until they expire.
        assert_eq!(v.verify(&still_old).await["ok"], true, "{}", v.name);
    }
    let after = generated_client_session(&app, "hopper@example.com").await;
    assert_eq!(after["kids"], serde_json::json!([kid(&next)]), "{after}");
}
