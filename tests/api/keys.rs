//! The signing keys' life as verifiers see it: the JWKS and its caching headers, the
//! discovery document, a compromised key replaced at once and retired once its tokens
//! have expired, and private keys encrypted at rest.

use std::time::{Duration, Instant};

use latch::db::models::SigningKey;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{run_cli, spawn_app_with, start, Backend, TestApp};

both_backends!(
    jwks_is_cacheable,
    discovery_points_at_the_keys,
    a_compromised_key_is_replaced_at_once_and_retired_later,
    signing_keys_are_encrypted_at_rest
);

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

async fn get_with(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

async fn jwks_is_cacheable(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let r = get_with(&app, "/.well-known/jwks.json", &[]).await;
    assert_eq!(r.status(), 200);
    let header = |r: &reqwest::Response, n: &str| {
        r.headers().get(n).map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(
        header(&r, "cache-control").as_deref(),
        Some("public, max-age=300")
    );
    let etag = header(&r, "etag").expect("an ETag");
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    // The copy a verifier holds is current: 304, nothing to download.
    for held in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
    ] {
        let r = get_with(&app, "/.well-known/jwks.json", &[("if-none-match", &held)]).await;
        assert_eq!(r.status(), 304, "{held}");
        assert_eq!(header(&r, "etag").as_deref(), Some(etag.as_str()));
        assert!(r.bytes().await.unwrap().is_empty());
    }
    let r = get_with(
        &app,
        "/.well-known/jwks.json",
        &[("if-none-match", "\"stale\"")],
    )
    .await;
    assert_eq!(r.status(), 200);
}

async fn discovery_points_at_the_keys(backend: Backend) {
    let app = spawn_app_with(backend, &[("JWT_ISSUER", "https://auth.example.test")]).await;
    let token = app.register("ada@example.com").await.access_token();
    // A forged forwarding header is not believed without TRUST_PROXY.
    let r = get_with(
        &app,
        "/.well-known/openid-configuration",
        &[("x-forwarded-host", "evil.example")],
    )
    .await;
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["issuer"], "https://auth.example.test");
    assert_eq!(claims(&token)["iss"], doc["issuer"], "the tokens' issuer");
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
    let jwks_uri = doc["jwks_uri"].as_str().unwrap();
    assert_eq!(jwks_uri, app.url("/.well-known/jwks.json"));
    assert_eq!(doc["introspection_endpoint"], app.url("/auth/introspect"));
    // The document leads to the key that signed the token.
    let jwks: Value = app
        .client
        .get(jwks_uri)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(kids(&jwks).contains(&kid(&token)));

    // Behind a public name, the document says that name.
    let app = spawn_app_with(
        backend,
        &[
            ("DOMAIN_SERVER", "https://auth.example.test/"),
            ("JWT_ALG", "EdDSA"),
        ],
    )
    .await;
    let doc = app
        .get("/.well-known/openid-configuration", None)
        .await
        .body;
    assert_eq!(doc["issuer"], "https://auth.example.test");
    assert_eq!(
        doc["jwks_uri"],
        "https://auth.example.test/.well-known/jwks.json"
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["EdDSA"])
    );
}

/// `keys rotate --now`: the new key signs within the reload interval; the old one stays
/// published while a token it signed can still be valid, then leaves the JWKS.
async fn a_compromised_key_is_replaced_at_once_and_retired_later(backend: Backend) {
    let short = [("SESSION_EXPIRY", "2000"), ("JWT_LEEWAY", "0")];
    let app = spawn_app_with(backend, &short).await;
    let old = kid(&app.register("ada@example.com").await.access_token());
    let out = run_cli(
        app.db.dir(),
        &["keys", "rotate", "--now"],
        &[("DATABASE_URL", &app.db.url)],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let jwks = app.get("/.well-known/jwks.json", None).await.body;
        let signing = kid(&app
            .login("ada@example.com", crate::helpers::PASSWORD)
            .await
            .access_token());
        if signing != old && kids(&jwks) == vec![signing.clone()] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the old key was not retired: signing {signing}, published {jwks}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn signing_keys_are_encrypted_at_rest(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let first = app.register("ada@example.com").await.access_token();
    let stored = SigningKey::all(&mut app.db_conn()).unwrap();
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0].private_jwk.contains("\"d\""),
        "without a key, kept in clear"
    );

    // The first start with a key encrypts the key kept in clear and signs with it still.
    let key = "k".repeat(40);
    let sealed = start(app.db.clone(), &[("JWT_KEYS_ENCRYPTION_KEY", &key)]).await;
    let stored = SigningKey::all(&mut sealed.db_conn()).unwrap();
    assert_eq!(stored.len(), 1, "the same key");
    assert!(
        !stored[0].private_jwk.contains("\"d\""),
        "no private part in clear"
    );
    assert!(!stored[0].private_jwk.contains(&key));
    let again = sealed
        .login("ada@example.com", crate::helpers::PASSWORD)
        .await
        .access_token();
    assert_eq!(kid(&again), kid(&first));
    assert_eq!(sealed.get("/auth/me", Some(&first)).await.status, 200);

    // A start without the key, or with another, stops and names the setting.
    for wrong in [None, Some("w".repeat(40))] {
        let mut env = crate::helpers::base_env(&app.db.url);
        if let Some(w) = &wrong {
            env.insert("JWT_KEYS_ENCRYPTION_KEY".into(), w.clone());
        }
        let settings = latch::settings::Settings::load(&latch::settings::Sources {
            env,
            ..Default::default()
        })
        .unwrap();
        let e = match latch::startup::Application::build(settings).await {
            Ok(_) => panic!("started with {wrong:?}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(e.contains("JWT_KEYS_ENCRYPTION_KEY"), "{e}");
    }
}
