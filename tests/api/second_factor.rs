//! Second factors over HTTP: TOTP with codes computed here from the secret, backup codes,
//! the `mfa_token` step of every first factor, and passkeys against a software
//! authenticator.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{app_with_mail, run_cli, spawn_app_with, Backend, Reply, TestApp, PASSWORD};
use crate::smtp::{SmtpSink, Tls};
use crate::soft_authenticator::SoftAuthenticator;

both_backends!(
    totp_is_set_up_and_guards_every_password_sign_in,
    totp_accepts_one_step_of_drift_and_each_code_once,
    wrong_codes_void_the_mfa_token_after_five,
    backup_codes_are_single_use_and_regenerated,
    totp_is_disabled_by_password_or_code,
    every_first_factor_needs_the_second,
    passkeys_register_and_sign_in,
    passkey_sign_ins_refuse_what_is_off,
    admins_reset_second_factors,
);

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The code of `secret` (base32) at `at` seconds, computed here.
pub fn code_at(secret: &str, at: u64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .unwrap();
    // Unchecked: secrets brought over from LibreChat are 80 bits.
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "x".into())
        .generate(at)
}

/// Waits, if needed, until at least `left` seconds remain in the current 30-second step,
/// so that a code computed now is judged in the same step by the server.
pub async fn with_time_left(left: u64) {
    let into = unix_now() % 30;
    if 30 - into < left {
        tokio::time::sleep(Duration::from_secs(30 - into)).await;
    }
}

/// Registers `email` and turns TOTP on with the code of the step `offset` steps away.
/// Returns the access token, the secret and the backup codes.
pub async fn with_totp(app: &TestApp, email: &str, offset: i64) -> (String, String, Vec<String>) {
    let token = app.register(email).await.access_token();
    let (secret, codes) = enable_totp(app, &token, offset).await;
    (token, secret, codes)
}

/// Turns TOTP on for the session of `token` (fresh): the secret and the backup codes.
pub async fn enable_totp(app: &TestApp, token: &str, offset: i64) -> (String, Vec<String>) {
    let token = token.to_string();
    let setup = app
        .post("/auth/mfa/totp/setup", &json!({}), Some(&token))
        .await;
    assert_eq!(setup.status, 200, "{}", setup.text);
    let secret = setup.body["secret"].as_str().unwrap().to_string();
    let uri = setup.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Latch:"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    let at = (unix_now() as i64 + offset * 30) as u64;
    let r = app
        .post(
            "/auth/mfa/totp/enable",
            &json!({"code": code_at(&secret, at)}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let codes: Vec<String> = r.body["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (secret, codes)
}

/// A password sign-in that must stop at the second factor: its `mfa_token`.
async fn mfa_token(app: &TestApp, email: &str) -> String {
    let r = app.login(email, PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["mfa_required"], true, "{}", r.text);
    assert_eq!(r.body["expires_in"], 300);
    assert!(r.body.get("access_token").is_none() && r.refresh_cookie().is_none());
    r.body["mfa_token"].as_str().unwrap().to_string()
}

async fn verify(app: &TestApp, mfa_token: &str, field: &str, code: &str) -> Reply {
    app.post(
        "/auth/mfa/verify",
        &json!({"mfa_token": mfa_token, field: code}),
        None,
    )
    .await
}

async fn totp_is_set_up_and_guards_every_password_sign_in(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    with_time_left(5).await;
    let token = app.register("ada@example.com").await.access_token();
    let setup = app
        .post("/auth/mfa/totp/setup", &json!({}), Some(&token))
        .await;
    let secret = setup.body["secret"].as_str().unwrap().to_string();
    // Not active until confirmed: sign-in is still one step.
    assert!(app.login("ada@example.com", PASSWORD).await.body["access_token"].is_string());
    // A wrong code does not confirm it (and is not a reason to sign in again).
    app.post(
        "/auth/mfa/totp/enable",
        &json!({"code": "000000"}),
        Some(&token),
    )
    .await
    .assert_problem(403, "invalid_credentials");
    let r = app
        .post(
            "/auth/mfa/totp/enable",
            &json!({"code": code_at(&secret, unix_now())}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["backup_codes"].as_array().unwrap().len(), 10);
    // Set up again while on: refused.
    app.post("/auth/mfa/totp/setup", &json!({}), Some(&token))
        .await
        .assert_problem(409, "totp_enabled");
    let mfa = mfa_token(&app, "ada@example.com").await;
    // The code of the next step (one step of drift) finishes the sign-in.
    let r = verify(&app, &mfa, "code", &code_at(&secret, unix_now() + 30)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["access_token"].is_string() && r.refresh_cookie().is_some());
    // The mfa_token was spent.
    verify(&app, &mfa, "code", &code_at(&secret, unix_now() + 30))
        .await
        .assert_problem(400, "invalid_token");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"latch_second_factor_events_total{event="verified"} 1"#),
        "{metrics}"
    );
    let audit = app
        .get("/admin/audit?kind=totp_enabled", Some(&r.access_token()))
        .await;
    assert_eq!(
        audit.body["events"].as_array().unwrap().len(),
        1,
        "{}",
        audit.text
    );
}

async fn totp_accepts_one_step_of_drift_and_each_code_once(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    with_time_left(8).await;
    // The code of the step before is still good (enabling with it).
    let (_, secret, _) = with_totp(&app, "ada@example.com", -1).await;
    // The current step's code signs in once; replayed, it is refused.
    let now = code_at(&secret, unix_now());
    let mfa = mfa_token(&app, "ada@example.com").await;
    assert_eq!(verify(&app, &mfa, "code", &now).await.status, 200);
    let mfa = mfa_token(&app, "ada@example.com").await;
    verify(&app, &mfa, "code", &now)
        .await
        .assert_problem(401, "invalid_credentials");
    // An older step after a newer one was used: refused too.
    verify(&app, &mfa, "code", &code_at(&secret, unix_now() - 30))
        .await
        .assert_problem(401, "invalid_credentials");
    // Two steps away: outside the drift.
    verify(&app, &mfa, "code", &code_at(&secret, unix_now() + 60))
        .await
        .assert_problem(401, "invalid_credentials");
    // The next step is good.
    assert_eq!(
        verify(&app, &mfa, "code", &code_at(&secret, unix_now() + 30))
            .await
            .status,
        200
    );
}

async fn wrong_codes_void_the_mfa_token_after_five(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    with_time_left(5).await;
    let (_, secret, _) = with_totp(&app, "ada@example.com", 0).await;
    let mfa = mfa_token(&app, "ada@example.com").await;
    for _ in 0..5 {
        verify(&app, &mfa, "code", "123456")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    // Void now, even for the right code.
    verify(&app, &mfa, "code", &code_at(&secret, unix_now() + 30))
        .await
        .assert_problem(400, "invalid_token");
    for bad in ["x".repeat(43), "short".to_string(), String::new()] {
        verify(&app, &bad, "code", "123456")
            .await
            .assert_problem(400, "invalid_token");
    }
    app.post("/auth/mfa/verify", &json!({"mfa_token": mfa}), None)
        .await
        .assert_problem(422, "validation_failed");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"latch_second_factor_events_total{event="failed"} 5"#),
        "{metrics}"
    );
}

async fn backup_codes_are_single_use_and_regenerated(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    with_time_left(8).await;
    let (token, secret, codes) = with_totp(&app, "ada@example.com", -1).await;
    let mfa = mfa_token(&app, "ada@example.com").await;
    // Typed loosely: any case, with spaces.
    let typed = codes[0].to_uppercase().replace('-', " ");
    assert_eq!(verify(&app, &mfa, "backup_code", &typed).await.status, 200);
    let mfa = mfa_token(&app, "ada@example.com").await;
    verify(&app, &mfa, "backup_code", &codes[0])
        .await
        .assert_problem(401, "invalid_credentials");
    // New codes for a current TOTP code; the old ones stop working.
    let r = app
        .post(
            "/auth/mfa/backup-codes",
            &json!({"code": code_at(&secret, unix_now())}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let fresh = r.body["backup_codes"].as_array().unwrap().clone();
    assert_eq!(fresh.len(), 10);
    verify(&app, &mfa, "backup_code", &codes[1])
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(
        verify(&app, &mfa, "backup_code", fresh[0].as_str().unwrap())
            .await
            .status,
        200
    );
}

async fn totp_is_disabled_by_password_or_code(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    with_time_left(5).await;
    let (token, _, codes) = with_totp(&app, "ada@example.com", 0).await;
    app.post(
        "/auth/mfa/totp/disable",
        &json!({"password": "not the password"}),
        Some(&token),
    )
    .await
    .assert_problem(403, "invalid_credentials");
    app.post("/auth/mfa/totp/disable", &json!({}), Some(&token))
        .await
        .assert_problem(422, "validation_failed");
    let r = app
        .post(
            "/auth/mfa/totp/disable",
            &json!({"password": PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(app.login("ada@example.com", PASSWORD).await.body["access_token"].is_string());
    app.post(
        "/auth/mfa/totp/disable",
        &json!({"password": PASSWORD}),
        Some(&token),
    )
    .await
    .assert_problem(409, "totp_not_enabled");
    // Again, and off with a backup code.
    let setup = app
        .post("/auth/mfa/totp/setup", &json!({}), Some(&token))
        .await;
    let secret = setup.body["secret"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/auth/mfa/totp/enable",
            &json!({"code": code_at(&secret, unix_now() + 30)}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let codes2: Vec<String> = r.body["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_ne!(codes, codes2);
    let r = app
        .post(
            "/auth/mfa/totp/disable",
            &json!({"backup_code": codes2[3]}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
}

async fn every_first_factor_needs_the_second(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let app = app_with_mail(backend, &sink, &[("REQUIRE_EMAIL_VERIFICATION", "false")]).await;
    // The address is proven before TOTP is set up (a factor set up before the first proof
    // of the address goes with that proof).
    app.register("ada@example.com").await;
    let verify_link = sink.one("ada@example.com", "Confirm").await.token();
    let r = app
        .post("/auth/email/verify", &json!({"token": verify_link}), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    with_time_left(5).await;
    let token = app.login("ada@example.com", PASSWORD).await.access_token();
    let (secret, codes) = enable_totp(&app, &token, 0).await;
    // A magic link.
    app.post(
        "/auth/magic-link",
        &json!({"email": "ada@example.com"}),
        None,
    )
    .await;
    let link = sink.one("ada@example.com", "sign-in link").await.token();
    let r = app
        .post("/auth/magic-link/verify", &json!({"token": link}), None)
        .await;
    assert_eq!(r.body["mfa_required"], true, "{}", r.text);
    assert!(r.refresh_cookie().is_none());
    let mfa = r.body["mfa_token"].as_str().unwrap();
    assert_eq!(
        verify(&app, mfa, "code", &code_at(&secret, unix_now() + 30))
            .await
            .status,
        200
    );
    // A password reset: the sign-in waits for the second factor, and so does the new
    // password (a first factor alone changes nothing but the link it spends).
    app.post(
        "/auth/password/forgot",
        &json!({"email": "ada@example.com"}),
        None,
    )
    .await;
    let reset = sink.one("ada@example.com", "Reset your").await.token();
    let r = app
        .post(
            "/auth/password/reset",
            &json!({"token": reset, "password": "a brand new passphrase"}),
            None,
        )
        .await;
    assert_eq!(r.body["mfa_required"], true, "{}", r.text);
    let reset_mfa = r.body["mfa_token"].as_str().unwrap().to_string();
    app.login("ada@example.com", "a brand new passphrase")
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(
        verify(&app, &reset_mfa, "backup_code", &codes[0])
            .await
            .status,
        200
    );
    let r = app.login("ada@example.com", "a brand new passphrase").await;
    assert_eq!(r.body["mfa_required"], true, "{}", r.text);
    assert_eq!(
        verify(
            &app,
            r.body["mfa_token"].as_str().unwrap(),
            "backup_code",
            &codes[1]
        )
        .await
        .status,
        200
    );
    // The notice of the change went out.
    sink.one("ada@example.com", "second factor").await;
}

pub async fn register_passkey(app: &TestApp, token: &str, authn: &mut SoftAuthenticator) -> Value {
    let o = app
        .post("/auth/passkeys/register/options", &json!({}), Some(token))
        .await;
    assert_eq!(o.status, 200, "{}", o.text);
    let pk = &o.body["publicKey"];
    assert_eq!(pk["rp"]["id"], "app.test");
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    let credential = authn.create(pk);
    let r = app
        .post(
            "/auth/passkeys/register",
            &json!({"challenge_id": o.body["challenge_id"], "credential": credential, "name": "Laptop"}),
            Some(token),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

pub async fn passkey_sign_in(
    app: &TestApp,
    authn: &mut SoftAuthenticator,
    email: Option<&str>,
) -> Reply {
    let body = match email {
        Some(e) => json!({"email": e}),
        None => json!({}),
    };
    let o = app.post("/auth/passkeys/login/options", &body, None).await;
    assert_eq!(o.status, 200, "{}", o.text);
    let Some(assertion) = authn.get(&o.body["publicKey"]) else {
        panic!("no credential for {}", o.text);
    };
    app.post(
        "/auth/passkeys/login",
        &json!({"challenge_id": o.body["challenge_id"], "credential": assertion}),
        None,
    )
    .await
}

async fn passkeys_register_and_sign_in(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let token = app.register("ada@example.com").await.access_token();
    let mut authn = SoftAuthenticator::new("http://app.test");
    let passkey = register_passkey(&app, &token, &mut authn).await;
    assert_eq!(passkey["name"], "Laptop");
    let list = app.get("/auth/passkeys", Some(&token)).await;
    assert_eq!(list.body["passkeys"].as_array().unwrap().len(), 1);
    // A passkey is a second factor: a password now needs it (or a passkey sign-in).
    mfa_token(&app, "ada@example.com").await;
    // Discoverable: no email needed; a passkey counts as both factors.
    let cloned = authn.clone();
    let r = passkey_sign_in(&app, &mut authn, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["email"], "ada@example.com");
    assert!(r.refresh_cookie().is_some());
    // By email: the options name the account's credentials.
    let o = app
        .post(
            "/auth/passkeys/login/options",
            &json!({"email": "ada@example.com"}),
            None,
        )
        .await;
    assert_eq!(
        o.body["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        passkey_sign_in(&app, &mut authn, Some("ada@example.com"))
            .await
            .status,
        200
    );
    // An unknown email gets the same kind of options (nothing to tell them apart).
    let o = app
        .post(
            "/auth/passkeys/login/options",
            &json!({"email": "nobody@example.com"}),
            None,
        )
        .await;
    assert_eq!(o.status, 200);
    assert!(o.body["publicKey"]["challenge"].is_string());
    // A cloned authenticator: its counter goes back, and it is refused.
    let mut clone = cloned;
    passkey_sign_in(&app, &mut clone, None)
        .await
        .assert_problem(401, "invalid_credentials");
    // A ceremony is single use.
    let o = app
        .post("/auth/passkeys/login/options", &json!({}), None)
        .await;
    let assertion = authn.get(&o.body["publicKey"]).unwrap();
    let body = json!({"challenge_id": o.body["challenge_id"], "credential": assertion});
    let latest = app.post("/auth/passkeys/login", &body, None).await;
    assert_eq!(latest.status, 200);
    app.post("/auth/passkeys/login", &body, None)
        .await
        .assert_problem(400, "invalid_token");
    // (Sign-ins beyond MAX_ACTIVE_SESSIONS ended the first session: use the latest.)
    let token = latest.access_token();
    // Removed, it signs in no more.
    let id = passkey["id"].as_str().unwrap();
    let r = app
        .send(
            reqwest::Method::DELETE,
            &format!("/auth/passkeys/{id}"),
            None,
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    passkey_sign_in(&app, &mut authn, None)
        .await
        .assert_problem(401, "invalid_credentials");
    assert!(app.login("ada@example.com", PASSWORD).await.body["access_token"].is_string());
}

async fn passkey_sign_ins_refuse_what_is_off(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let admin = app.register("admin@example.com").await.access_token();
    let bob = app.register("bob@example.com").await;
    let token = bob.access_token();
    let mut authn = SoftAuthenticator::new("http://app.test");
    register_passkey(&app, &token, &mut authn).await;
    // Another origin: refused.
    let mut elsewhere = authn.clone();
    elsewhere.origin = "http://evil.test".into();
    passkey_sign_in(&app, &mut elsewhere, None)
        .await
        .assert_problem(401, "invalid_credentials");
    // Without user verification: refused.
    let mut unverified = authn.clone();
    unverified.user_verified = false;
    passkey_sign_in(&app, &mut unverified, None)
        .await
        .assert_problem(401, "invalid_credentials");
    // A garbage credential: a bad request, never a 500.
    let o = app
        .post("/auth/passkeys/login/options", &json!({}), None)
        .await;
    app.post(
        "/auth/passkeys/login",
        &json!({"challenge_id": o.body["challenge_id"], "credential": {"id": 1}}),
        None,
    )
    .await
    .assert_problem(400, "invalid_request");
    // A second factor is never a way around a ban.
    let bob_id = bob.body["user"]["id"].as_str().unwrap();
    let r = app
        .post("/admin/bans", &json!({"user_id": bob_id}), Some(&admin))
        .await;
    assert_eq!(r.status, 201);
    passkey_sign_in(&app, &mut authn, None)
        .await
        .assert_problem(403, "banned");
}

async fn admins_reset_second_factors(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let app = app_with_mail(backend, &sink, &[("REQUIRE_EMAIL_VERIFICATION", "false")]).await;
    let admin = app.register("admin@example.com").await.access_token();
    with_time_left(5).await;
    let (token, _, _) = with_totp(&app, "ada@example.com", 0).await;
    let mut authn = SoftAuthenticator::new("http://app.test");
    register_passkey(&app, &token, &mut authn).await;
    let ada = app.get("/auth/me", Some(&token)).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .send(
            reqwest::Method::DELETE,
            &format!("/admin/users/{ada}/mfa"),
            None,
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(app.login("ada@example.com", PASSWORD).await.body["access_token"].is_string());
    assert_eq!(
        app.get("/auth/passkeys", Some(&token)).await.body["passkeys"],
        json!([])
    );
    let notices = sink
        .wait_for(3, |m| {
            m.to == "ada@example.com" && m.subject.contains("second factor")
        })
        .await;
    assert!(
        notices
            .iter()
            .any(|m| m.text.contains("An administrator removed")),
        "{notices:?}"
    );
    // From the command line too.
    let setup = app
        .post("/auth/mfa/totp/setup", &json!({}), Some(&token))
        .await;
    let secret = setup.body["secret"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/auth/mfa/totp/enable",
            &json!({"code": code_at(&secret, unix_now() + 30)}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    mfa_token(&app, "ada@example.com").await;
    let env = [("DATABASE_URL", app.db.url.as_str())];
    let o = run_cli(
        app.db.dir(),
        &["mfa", "reset", "ada@example.com"],
        &env,
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(app.login("ada@example.com", PASSWORD).await.body["access_token"].is_string());
    let audit = app
        .get("/admin/audit?kind=second_factor_reset", Some(&admin))
        .await;
    assert_eq!(audit.body["events"].as_array().unwrap().len(), 2);
}
