//! The README's snippets, run as written against a running Latch: the token verifiers in
//! Node.js (jose), Python (PyJWT) and Rust (jsonwebtoken; `readme_snippet.rs` is the
//! README's block, compared here), and the webhook receivers in Python and Node.js
//! (standardwebhooks).

use serde_json::Value;

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend, TestApp};

both_backends!(the_readme_snippets_verify_tokens);

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const README_URL: &str = "http://localhost:8080";

/// The code block after `<!-- verify: {name} -->` in the README.
fn snippet(name: &str) -> String {
    let readme = std::fs::read_to_string(format!("{ROOT}/README.md")).unwrap();
    let marker = format!("<!-- verify: {name} -->\n```");
    let start = readme
        .find(&marker)
        .unwrap_or_else(|| panic!("the README has no {name} snippet"));
    let block = &readme[start + marker.len()..];
    let block = &block[block.find('\n').unwrap() + 1..];
    block[..block.find("```").unwrap()].to_string()
}

fn run(program: &str, args: &[&str], token: &str) -> Value {
    let out = std::process::Command::new(program)
        .args(args)
        .env("TOKEN", token)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{program} {args:?}:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

async fn node(app: &TestApp, token: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let modules = format!("{ROOT}/tests/clients/node_modules");
    assert!(
        std::path::Path::new(&modules).exists(),
        "{modules} is missing: run `make test`"
    );
    std::os::unix::fs::symlink(&modules, dir.path().join("node_modules")).unwrap();
    let code = snippet("node").replace(README_URL, &app.address);
    std::fs::write(dir.path().join("verify.mjs"), code).unwrap();
    let main = dir.path().join("main.mjs");
    std::fs::write(
        &main,
        "import { verify } from \"./verify.mjs\";\n\
         console.log(JSON.stringify(await verify(process.env.TOKEN)));\n",
    )
    .unwrap();
    let token = token.to_string();
    tokio::task::spawn_blocking(move || run("node", &[main.to_str().unwrap()], &token))
        .await
        .unwrap()
}

async fn python(app: &TestApp, token: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let code = snippet("python").replace(README_URL, &app.address)
        + "\nimport json, os\nprint(json.dumps(verify(os.environ[\"TOKEN\"])))\n";
    let file = dir.path().join("verify.py");
    std::fs::write(&file, code).unwrap();
    let (python, token) = (crate::smtp::python(), token.to_string());
    tokio::task::spawn_blocking(move || run(&python, &[file.to_str().unwrap()], &token))
        .await
        .unwrap()
}

async fn the_readme_snippets_verify_tokens(backend: Backend) {
    // With DOMAIN_SERVER the issuer is that URL: the snippets read it, not pin it.
    let app = spawn_app_with(backend, &[("DOMAIN_SERVER", "https://auth.example.test")]).await;
    let issuer = app
        .get("/.well-known/openid-configuration", None)
        .await
        .body["issuer"]
        .clone();
    assert_eq!(issuer, "https://auth.example.test");
    let reg = app.register("ada@example.com").await;
    let token = reg.access_token();
    let id = reg.body["user"]["id"].as_str().unwrap();
    for (lang, claims) in [
        ("node", node(&app, &token).await),
        ("python", python(&app, &token).await),
    ] {
        assert_eq!(claims["sub"], id, "{lang}: {claims}");
        assert_eq!(claims["email"], "ada@example.com", "{lang}: {claims}");
    }

    assert_eq!(
        include_str!("readme_snippet.rs"),
        snippet("rust"),
        "tests/api/readme_snippet.rs must be the README's Rust snippet"
    );
    let verifier = crate::readme_snippet::Verifier::new(&app.address)
        .await
        .unwrap();
    let claims = verifier.verify(&token).await.unwrap();
    assert_eq!((claims.sub.as_str(), claims.role.as_str()), (id, "admin"));
    assert_eq!(claims.email, "ada@example.com");
    assert!(!claims.sid.is_empty());
    // A token with its signature changed is refused.
    // (A character well inside the signature: the last one may carry only padding bits.)
    let mut forged = token.clone().into_bytes();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert!(verifier.verify(&forged).await.is_err());
}

both_backends!(the_readme_receivers_verify_events);

/// A README receiver, running: its standard output, line by line, on a channel.
struct RunningReceiver {
    child: std::process::Child,
    port: u16,
    lines: std::sync::mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl RunningReceiver {
    fn start(program: &str, file: &str, code: String, secret: &str, node: bool) -> Self {
        use std::io::BufRead as _;
        let dir = tempfile::tempdir().unwrap();
        if node {
            let modules = format!("{ROOT}/tests/clients/node_modules");
            assert!(
                std::path::Path::new(&modules)
                    .join("standardwebhooks")
                    .exists(),
                "{modules}/standardwebhooks is missing: run `make test`"
            );
            std::os::unix::fs::symlink(&modules, dir.path().join("node_modules")).unwrap();
        }
        let path = dir.path().join(file);
        std::fs::write(&path, code).unwrap();
        let port = crate::social::free_port();
        let mut child = std::process::Command::new(program)
            .arg(&path)
            .env("WEBHOOK_SECRET", secret)
            .env("PORT", port.to_string())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "{file} did not listen"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        RunningReceiver {
            child,
            port,
            lines,
            _dir: dir,
        }
    }

    /// The events it printed, until one of `kind` (20 s at most).
    async fn until(&self, kind: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            while let Ok(line) = self.lines.try_recv() {
                let event: Value = serde_json::from_str(&line).unwrap();
                let done = event["type"] == kind;
                seen.push(event);
                if done {
                    return seen;
                }
            }
            assert!(std::time::Instant::now() < deadline, "no {kind}: {seen:?}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Drop for RunningReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn the_readme_receivers_verify_events(backend: Backend) {
    let (py_secret, js_secret) = (
        latch::settings::webhooks::new_secret(),
        latch::settings::webhooks::new_secret(),
    );
    let python = RunningReceiver::start(
        &crate::smtp::python(),
        "receiver.py",
        snippet("webhook-python"),
        &py_secret,
        false,
    );
    let node = RunningReceiver::start(
        "node",
        "receiver.mjs",
        snippet("webhook-node"),
        &js_secret,
        true,
    );
    let file = format!(
        "[[webhooks]]\nurl = \"http://127.0.0.1:{}/\"\nsecret = \"{py_secret}\"\n\n\
         [[webhooks]]\nurl = \"http://127.0.0.1:{}/\"\nsecret = \"{js_secret}\"\n",
        python.port, node.port
    );
    let db = std::sync::Arc::new(crate::helpers::TestDb::new_for(backend));
    let app = crate::helpers::start_with_file(db, &[], Some(&file)).await;
    let admin = app.register("admin@example.com").await.access_token();
    let bob = app.register("bob@example.com").await;
    let bob_id = bob.body["user"]["id"].as_str().unwrap().to_string();
    let r = app
        .send(
            reqwest::Method::DELETE,
            &format!("/admin/users/{bob_id}"),
            None,
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    for (name, receiver) in [("python", &python), ("node", &node)] {
        let events = receiver.until("user.deleted").await;
        let deleted = events.last().unwrap();
        assert_eq!(deleted["data"]["user"]["id"], bob_id.as_str(), "{name}");
        assert!(
            events.iter().any(|e| e["type"] == "user.created"),
            "{name}: {events:?}"
        );
        // A forged delivery is refused.
        let r = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/", receiver.port))
            .header("webhook-id", "msg_forged")
            .header(
                "webhook-timestamp",
                chrono::Utc::now().timestamp().to_string(),
            )
            .header(
                "webhook-signature",
                "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            )
            .body(r#"{"type":"user.deleted","data":{}}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{name}");
    }
}

/// Every program or command in the README is run by these tests (`<!-- verify: NAME -->`
/// before it) or says it is an excerpt (`<!-- excerpt -->`): nothing looks runnable that
/// nobody ran.
#[test]
fn every_snippet_is_run_or_an_excerpt() {
    let readme = std::fs::read_to_string(format!("{ROOT}/README.md")).unwrap();
    let mut previous = "";
    let mut fenced = false;
    let mut unmarked = Vec::new();
    for (n, line) in readme.lines().enumerate() {
        if let Some(lang) = line.strip_prefix("```") {
            let code = ["js", "ts", "python", "rust", "go", "sh", "bash"].contains(&lang.trim());
            if !fenced
                && code
                && !previous.starts_with("<!-- verify: ")
                && previous != "<!-- excerpt -->"
            {
                unmarked.push(format!("line {}: {line}", n + 1));
            }
            fenced = !fenced;
        }
        if !line.trim().is_empty() {
            previous = line;
        }
    }
    assert!(
        unmarked.is_empty(),
        "snippets neither run nor marked: {unmarked:#?}"
    );
}
