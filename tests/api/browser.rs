//! A real browser as the client: headless Chromium, driven over WebDriver (Python's
//! selenium, installed by `make test`), with its virtual authenticator.

use serde_json::Value;

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend};

both_backends!(passkeys_in_chromium);

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
