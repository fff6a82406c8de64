//! A real browser as the client: headless Chromium, driven over WebDriver (Python's
//! selenium, installed by `make test`), with its virtual authenticator.

use serde_json::Value;

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend};

both_backends!(passkeys_in_chromium, the_example_spa_in_chromium);

#[tokio::test]
async fn the_api_reference_works_behind_a_path_prefix() {
    the_api_reference_behind_a_prefix(Backend::Sqlite).await
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs a script of `tests/browser` with the test venv's Python; its last line is JSON.
pub fn run_browser_script(script: &str, env: &[(&str, String)]) -> Value {
    for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(
            std::path::Path::new(tool).exists(),
            "{tool} is missing: run `make test` (it installs Debian's chromium and chromium-driver)"
        );
    }
    let python = crate::smtp::python();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
    let out = std::process::Command::new(&python)
        .arg(format!("{dir}/{script}"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{script}: {e}: {stdout}"))
}

async fn passkeys_in_chromium(backend: Backend) {
    let (page, other) = (free_port(), free_port());
    let app_url = format!("http://localhost:{page}");
    let app = spawn_app_with(backend, &[("APP_URL", &app_url)]).await;
    let token = app.register("ada@example.com").await.access_token();
    let address = app.address.clone();
    let result = tokio::task::spawn_blocking(move || {
        run_browser_script(
            "passkeys.py",
            &[
                ("LATCH", address),
                ("TOKEN", token),
                ("PAGE_PORT", page.to_string()),
                ("OTHER_PORT", other.to_string()),
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(result["register"], 201, "{result}");
    assert_eq!(result["sign_in"], 200, "{result}");
    assert_eq!(result["signed_in_as"], "ada@example.com", "{result}");
    assert_eq!(result["sign_in_again"], 200, "{result}");
    assert_eq!(
        result["wrong_origin"], 401,
        "a page of another origin: {result}"
    );
    assert_eq!(result["cloned"], 401, "a counter gone back: {result}");
}

/// The example SPA served from another origin than Latch (same site: localhost), as the
/// README's SPA settings describe: CORS_ORIGINS names the page's origin; the refresh token
/// travels in the HttpOnly cookie.
async fn the_example_spa_in_chromium(backend: Backend) {
    assert!(
        std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/spa/dist/app.js"
        ))
        .exists(),
        "examples/spa/dist is missing: run `make test` (it builds the example SPA)"
    );
    let (page, other) = (free_port(), free_port());
    let origin = format!("http://localhost:{page}");
    let sink = crate::smtp::SmtpSink::start(crate::smtp::Tls::None);
    let app = crate::helpers::app_with_mail(
        backend,
        &sink,
        &[
            ("APP_URL", &origin),
            ("CORS_ORIGINS", &origin),
            ("SESSION_EXPIRY", "2000"),
            ("JWT_LEEWAY", "0"),
            ("REQUIRE_EMAIL_VERIFICATION", "false"),
            ("EMAIL_CHANGE_PATH", "/"),
        ],
    )
    .await;
    let mail_dir = sink.mail_dir().display().to_string();
    // The first account is the admin, whom the page could not delete (the last admin).
    app.register("admin@example.com").await;
    let latch = app.address.replace("127.0.0.1", "localhost");
    let r = tokio::task::spawn_blocking(move || {
        run_browser_script(
            "spa.py",
            &[
                ("LATCH", latch),
                ("PAGE_PORT", page.to_string()),
                ("OTHER_PORT", other.to_string()),
                ("TOKEN_LIFETIME", "2".to_string()),
                ("MAIL_DIR", mail_dir),
            ],
        )
    })
    .await
    .unwrap();
    let signed_in = serde_json::json!(["signed-in", null]);
    assert_eq!(
        r["first_visit"],
        serde_json::json!(["signed-out", null]),
        "{r}"
    );
    assert_eq!(r["register"], signed_in, "{r}");
    assert_eq!(r["status"], "Signed in as ada@example.com", "{r}");
    assert_eq!(r["page_cookies"], "", "the refresh cookie is HttpOnly: {r}");
    assert_eq!(r["reload"], signed_in, "a reload stays signed in: {r}");
    assert_eq!(r["after_expiry"], signed_in, "{r}");
    assert_eq!(
        r["renewed"], 1,
        "the expired access token was renewed once: {r}"
    );
    assert_eq!(r["sessions"], "1 active session(s)", "{r}");
    assert_eq!(
        r["sign_out"],
        serde_json::json!(["signed-out", null]),
        "{r}"
    );
    assert_eq!(
        r["reload_after_sign_out"],
        serde_json::json!(["signed-out", null]),
        "{r}"
    );
    // From an origin Latch does not allow, the browser gets no answer it may read.
    assert_eq!(
        r["other_origin_visit"],
        serde_json::json!(["signed-out", "network"]),
        "{r}"
    );
    assert_eq!(
        r["other_origin_sign_in"],
        serde_json::json!(["signed-out", "network"]),
        "{r}"
    );
    // The address changes through the link mailed to the new one.
    assert_eq!(r["change_email"], signed_in, "{r}");
    assert_eq!(
        r["change_email_notice"], "Check the new address for a link to confirm it.",
        "{r}"
    );
    assert_eq!(r["confirmed"], signed_in, "{r}");
    assert_eq!(
        r["confirmed_notice"], "Your address is now ada.new@example.com.",
        "{r}"
    );
    assert_eq!(
        r["status_after_change"], "Signed in as ada.new@example.com",
        "{r}"
    );
    // Deleting asks for the password, and then the account is gone.
    assert_eq!(
        r["delete_wrong_password"],
        serde_json::json!(["signed-in", "invalid_credentials"]),
        "{r}"
    );
    assert_eq!(r["delete"], serde_json::json!(["signed-out", null]), "{r}");
    assert_eq!(r["delete_notice"], "Your account is deleted.", "{r}");
    assert_eq!(
        r["reload_after_delete"],
        serde_json::json!(["signed-out", null]),
        "{r}"
    );
    assert_eq!(
        r["sign_in_after_delete"],
        serde_json::json!(["signed-out", "invalid_credentials"]),
        "{r}"
    );
}

/// `/docs` behind a reverse proxy that serves Latch under `/auth-service/`: everything it
/// loads goes through the prefix, every operation shows with its summary, and the search
/// box narrows the list.
async fn the_api_reference_behind_a_prefix(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let spec = app.get("/openapi.json", None).await.body;
    let operations: usize = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    let (address, port) = (app.address.clone(), free_port());
    let r = tokio::task::spawn_blocking(move || {
        run_browser_script(
            "docs.py",
            &[("LATCH", address), ("PROXY_PORT", port.to_string())],
        )
    })
    .await
    .unwrap();
    assert_eq!(r["operations"], operations, "{r}");
    assert_eq!(r["with_summary"], operations, "{r}");
    assert_eq!(r["title"], "Latch", "{r}");
    assert_eq!(r["styled"], "sticky", "the style loaded: {r}");
    assert_eq!(
        r["through_proxy"],
        serde_json::json!([
            "/auth-service/docs",
            "/auth-service/docs/viewer.css",
            "/auth-service/docs/viewer.js",
            "/auth-service/openapi.json"
        ]),
        "{r}"
    );
    // The passkey sign-in operations, and the few that name them.
    let found: Vec<&str> = r["search"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        found.contains(&"signInWithPasskey") && found.contains(&"startPasskeySignIn"),
        "{r}"
    );
    assert!(found.len() <= 6, "the search narrows: {r}");
    assert_eq!(r["nav_links_shown"], found.len(), "{r}");
    assert_eq!(r["cleared"], operations, "{r}");
}
