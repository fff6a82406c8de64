//! The README's token-verifying snippets, run as written against a running Latch: Node.js
//! (jose), Python (PyJWT) and Rust (jsonwebtoken; `readme_snippet.rs` is the README's
//! block, compared here).

use serde_json::Value;

use crate::both_backends;
use crate::helpers::{spawn_app, Backend, TestApp};

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
    let app = spawn_app(backend).await;
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
    let verifier = crate::readme_snippet::Verifier::new(&app.url("/.well-known/jwks.json"));
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
