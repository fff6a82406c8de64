//! Property-based fuzzing of the whole OpenAPI document with Schemathesis (installed into
//! the test venv by `make test`), against a live server on each backend, time-bounded: no
//! `5xx`, every answer as documented (status, content type, headers, schema), invalid
//! input refused, authentication never ignored.

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend};

both_backends!(the_whole_spec_holds_under_fuzzing);

/// Seconds of generation per backend.
const BUDGET: &str = "30";

/// Operations through which an admin can end its own session (its own id is in the
/// lists the stateful phase follows): fuzzed last, with a session of their own.
const SELF_ENDING: &[&str] = &[
    "logout",
    "setUserPassword",
    "revokeUserSessions",
    "revokeSession",
    "changePassword",
    "updateUser",
    "deleteUser",
    "createBan",
    "reportViolation",
];

async fn the_whole_spec_holds_under_fuzzing(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[
            ("SERVICE_TOKENS", "service-token-for-fuzzing"),
            ("MAX_ACTIVE_SESSIONS", "100000"),
        ],
    )
    .await;
    let admin = app.register("admin@example.com").await.access_token();
    let mut everything_else = Vec::new();
    for id in SELF_ENDING {
        everything_else.extend(["--exclude-operation-id", id]);
    }
    schemathesis(&app, &admin, &everything_else).await;
    // The admin's session lived through it: every signed-in route was fuzzed signed in.
    assert_eq!(app.get("/auth/me", Some(&admin)).await.status, 200);

    let admin = app
        .login("admin@example.com", crate::helpers::PASSWORD)
        .await
        .access_token();
    let mut self_ending = Vec::new();
    for id in SELF_ENDING {
        self_ending.extend(["--include-operation-id", id]);
    }
    schemathesis(&app, &admin, &self_ending).await;
}

async fn schemathesis(app: &crate::helpers::TestApp, token: &str, select: &[&str]) {
    let python = crate::smtp::python();
    let cli = std::env::current_dir()
        .unwrap()
        .join(std::path::Path::new(&python).with_file_name("schemathesis"));
    assert!(
        cli.exists(),
        "{} is missing: run `make test` (it installs Schemathesis into the test venv)",
        cli.display()
    );
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/schemathesis/schemathesis.toml"
    );
    let reports = tempfile::tempdir().unwrap();
    let spec = app.url("/openapi.json");
    let auth = format!("Authorization: Bearer {token}");
    let mut args = vec![
        "--config-file",
        config,
        "run",
        spec.as_str(),
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-time",
        BUDGET,
        "--workers",
        "1",
        "--header",
        auth.as_str(),
        "--report-dir",
        reports.path().to_str().unwrap(),
        "--no-color",
        // Inputs that once failed are replayed first on the next run, from target/.
        "--generation-database",
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/schemathesis-examples"),
    ];
    args.extend_from_slice(select);
    let out = tokio::process::Command::new(&cli)
        .args(&args)
        // Its own cache goes to the working directory: keep it out of the source tree.
        .current_dir(reports.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Shown with `--nocapture`: what each phase covered.
    println!("{stdout}");
    assert!(
        out.status.success(),
        "Schemathesis found failures:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
