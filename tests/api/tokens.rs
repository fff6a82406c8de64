//! Access tokens checked by an independent JWT library against the published JWKS, and
//! forged tokens refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use diesel::prelude::*;
use josekit::jwk::{Jwk, KeyPair};
use josekit::jws::{JwsHeader, ES256, HS256};
use josekit::jwt::JwtPayload;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{spawn_app, spawn_app_with, Backend, TestApp};
use latch::db::schema::signing_keys;

both_backends!(
    es256_tokens_verify_against_the_jwks,
    eddsa_tokens_verify_against_the_jwks,
    rs256_tokens_verify_against_the_jwks,
    hs256_tokens_verify_with_the_secret,
    forged_tokens_are_refused,
    a_token_checked_before_is_refused_once_expired,
);

/// Verifies `token` with jsonwebtoken using the key the JWKS names in its header.
async fn verify_with_jwks(app: &TestApp, token: &str, alg: Algorithm) -> Value {
    let header = decode_header(token).unwrap();
    assert_eq!(header.alg, alg);
    let kid = header.kid.expect("kid in the header");
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(app.get("/.well-known/jwks.json", None).await.body).unwrap();
    let jwk = jwks.find(&kid).expect("the JWKS has the token's kid");
    let mut validation = Validation::new(alg);
    validation.set_audience(&["latch"]);
    validation.set_issuer(&["latch"]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf"]);
    decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("an independent library accepts the token")
        .claims
}

fn assert_claims(claims: &Value, sign_in: &Value) {
    let user = &sign_in["user"];
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(claims["email"], user["email"]);
    assert_eq!(claims["role"], user["role"]);
    assert_eq!(claims["email_verified"], user["email_verified"]);
    assert!(claims["sid"].is_string() && claims["jti"].is_string());
    let (iat, nbf, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["nbf"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 900);
    assert!(nbf <= iat + 1);
}

async fn es256_tokens_verify_against_the_jwks(backend: Backend) {
    let app = spawn_app(backend).await;
    let reg = app.register("ada@example.com").await;
    let claims = verify_with_jwks(&app, &reg.access_token(), Algorithm::ES256).await;
    assert_claims(&claims, &reg.body);
    // The session id in the token is the one listed as current.
    let sessions = app.get("/auth/sessions", Some(&reg.access_token())).await;
    assert_eq!(sessions.body["sessions"][0]["id"], claims["sid"]);
}

async fn eddsa_tokens_verify_against_the_jwks(backend: Backend) {
    let app = spawn_app_with(backend, &[("JWT_ALG", "EdDSA")]).await;
    let reg = app.register("ada@example.com").await;
    let claims = verify_with_jwks(&app, &reg.access_token(), Algorithm::EdDSA).await;
    assert_claims(&claims, &reg.body);
}

async fn rs256_tokens_verify_against_the_jwks(backend: Backend) {
    let app = spawn_app_with(
        backend,
        &[("JWT_ALG", "RS256"), ("SESSION_EXPIRY", "1000 * 60 * 15")],
    )
    .await;
    let reg = app.register("ada@example.com").await;
    let claims = verify_with_jwks(&app, &reg.access_token(), Algorithm::RS256).await;
    assert_claims(&claims, &reg.body);
}

async fn hs256_tokens_verify_with_the_secret(backend: Backend) {
    let secret = "an-hs256-secret-of-at-least-32-characters";
    let app = spawn_app_with(
        backend,
        &[
            ("JWT_ALG", "HS256"),
            ("JWT_SECRET", secret),
            ("JWT_AUDIENCE", "chat"),
            ("JWT_ISSUER", "https://auth.example.com"),
        ],
    )
    .await;
    let reg = app.register("ada@example.com").await;
    assert_eq!(
        app.get("/.well-known/jwks.json", None).await.body,
        json!({"keys": []})
    );
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["chat"]);
    validation.set_issuer(&["https://auth.example.com"]);
    let claims = decode::<Value>(
        &reg.access_token(),
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["sub"], reg.body["user"]["id"]);
    assert_eq!(
        app.get("/auth/me", Some(&reg.access_token())).await.status,
        200
    );
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn sign_es256(private: &Jwk, header_kid: &str, claims: &Value) -> String {
    let mut header = JwsHeader::new();
    header.set_token_type("JWT");
    header.set_key_id(header_kid);
    let payload = JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
    josekit::jwt::encode_with_signer(&payload, &header, &ES256.signer_from_jwk(private).unwrap())
        .unwrap()
}

async fn forged_tokens_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let reg = app.register("ada@example.com").await;
    let good = reg.access_token();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(good.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let kid = decode_header(&good).unwrap().kid.unwrap();
    let (private, public): (String, String) = signing_keys::table
        .select((signing_keys::private_jwk, signing_keys::public_jwk))
        .first(&mut app.db_conn())
        .unwrap();
    let mut private = Jwk::from_bytes(private.as_bytes()).unwrap();
    // Without its own kid the signer writes the header's kid as given.
    private.set_parameter("kid", None).unwrap();
    let now = chrono::Utc::now().timestamp();
    let with = |changes: Value| {
        let mut c = claims.clone();
        for (k, v) in changes.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let me = |token: String| {
        let app = &app;
        async move { app.get("/auth/me", Some(&token)).await }
    };

    // Sanity: our own key with the same claims is accepted.
    assert_eq!(me(sign_es256(&private, &kid, &claims)).await.status, 200);
    // Inside the 30 s leeway still accepted; beyond it refused.
    assert_eq!(
        me(sign_es256(&private, &kid, &with(json!({"exp": now - 10}))))
            .await
            .status,
        200
    );
    me(sign_es256(&private, &kid, &with(json!({"exp": now - 120}))))
        .await
        .assert_problem(401, "unauthorized");
    me(sign_es256(&private, &kid, &with(json!({"nbf": now + 600}))))
        .await
        .assert_problem(401, "unauthorized");
    me(sign_es256(
        &private,
        &kid,
        &with(json!({"aud": "someone-else"})),
    ))
    .await
    .assert_problem(401, "unauthorized");
    me(sign_es256(
        &private,
        &kid,
        &with(json!({"aud": ["latch", "x"]})),
    ))
    .await
    .assert_problem(401, "unauthorized");
    me(sign_es256(
        &private,
        &kid,
        &with(json!({"iss": "https://evil.example.com"})),
    ))
    .await
    .assert_problem(401, "unauthorized");
    me(sign_es256(&private, "unknown-kid", &claims))
        .await
        .assert_problem(401, "unauthorized");

    // A key of our own making.
    let stranger = Jwk::generate_ec_key(josekit::jwk::P_256).unwrap();
    me(sign_es256(&stranger, &kid, &claims))
        .await
        .assert_problem(401, "unauthorized");

    // alg: none, with and without a signature part.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
        b64(&claims)
    );
    me(none.clone()).await.assert_problem(401, "unauthorized");
    me(none.trim_end_matches('.').to_string())
        .await
        .assert_problem(401, "unauthorized");

    // HS256 "signed" with the public key (the algorithm-confusion attack), as PEM and as JWK text.
    let public_pem = josekit::jwk::alg::ec::EcKeyPair::from_jwk(&private)
        .unwrap()
        .to_pem_public_key();
    for secret in [public_pem, public.clone().into_bytes()] {
        let mut header = JwsHeader::new();
        header.set_key_id(kid.clone());
        let payload = JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
        let forged = josekit::jwt::encode_with_signer(
            &payload,
            &header,
            &HS256.signer_from_bytes(&secret).unwrap(),
        )
        .unwrap();
        me(forged).await.assert_problem(401, "unauthorized");
    }

    // A changed payload under the original signature, once the original is remembered as
    // verified (a signature copied onto other claims must not find it).
    assert_eq!(me(good.clone()).await.status, 200);
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(&with(json!({"role": "admin", "sub": "someone"}))),
        parts[2]
    );
    me(tampered).await.assert_problem(401, "unauthorized");
    me("a.b.c".into()).await.assert_problem(401, "unauthorized");
}

/// A token's signature is checked once and remembered; its lifetime is checked every time.
async fn a_token_checked_before_is_refused_once_expired(backend: Backend) {
    let app = spawn_app_with(backend, &[("SESSION_EXPIRY", "2000"), ("JWT_LEEWAY", "0")]).await;
    let token = app.register("ada@example.com").await.access_token();
    assert_eq!(app.get("/auth/me", Some(&token)).await.status, 200);
    assert_eq!(app.get("/auth/sessions", Some(&token)).await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    for path in ["/auth/me", "/auth/sessions"] {
        app.get(path, Some(&token))
            .await
            .assert_problem(401, "unauthorized");
    }
}
