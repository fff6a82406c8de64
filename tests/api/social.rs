//! Social sign-in through real provider processes, by a browser-like client (a cookie jar
//! that follows redirects up to the app): OpenID Connect done by the book, the
//! relying-party checks of the OpenID Foundation's RP tests, the state, and the account
//! rules.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{spawn_app_with, start_with_file, Backend, Reply, TestApp, TestDb, PASSWORD};
use crate::providers::ProviderProcess;

both_backends!(
    openid_signs_in_by_the_book,
    id_tokens_that_break_a_rule_are_refused,
    a_rotated_signing_key_is_fetched,
    a_discovery_document_for_another_issuer_is_refused,
    state_is_one_time_and_bound_to_the_browser,
    provider_refusals_and_outages_come_back_as_codes,
    only_a_verified_email_links_or_registers,
    linking_a_never_verified_account_strips_its_password,
    roles_gate_and_promote,
    identities_are_listed_and_unlinked,
    github_uses_its_primary_verified_email,
    a_form_post_callback_and_librechat_paths_work,
    a_disabled_account_is_refused,
    config_file_providers_and_base_url_presets_sign_in,
    a_second_factor_is_asked_after_a_social_sign_in,
    email_verified_vouches_for_the_email_claim_only,
    signed_in_users_link_identities,
    a_link_ends_with_the_session_that_asked_for_it,
    a_head_request_spends_no_sign_in,
    a_switched_off_provider_is_feature_disabled,
    librechats_further_openid_settings,
);

const CLIENT_ID: &str = "latch";
const CLIENT_SECRET: &str = "provider-secret";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Latch whose `openid` provider is `idp`, on a port known in advance (its
/// `DOMAIN_SERVER` is in the redirect URI).
async fn app_with_openid(
    backend: Backend,
    idp: &ProviderProcess,
    extra: &[(&str, &str)],
) -> TestApp {
    let port = free_port().to_string();
    let server = format!("http://127.0.0.1:{port}");
    let mut env = vec![
        ("PORT", port.as_str()),
        ("DOMAIN_SERVER", server.as_str()),
        ("ALLOW_SOCIAL_LOGIN", "true"),
        ("ALLOW_SOCIAL_REGISTRATION", "true"),
        ("OPENID_ISSUER", idp.url.as_str()),
        ("OPENID_CLIENT_ID", CLIENT_ID),
        ("OPENID_CLIENT_SECRET", CLIENT_SECRET),
        ("OPENID_BUTTON_LABEL", "Company SSO"),
        ("JWT_LEEWAY", "5"),
        ("OPENID_CLOCK_TOLERANCE", "5"),
    ];
    env.extend_from_slice(extra);
    spawn_app_with(backend, &env).await
}

/// A browser: a cookie jar that follows redirects, stopping at the app (`APP_URL`).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            if attempt.url().host_str() == Some("app.test") || attempt.previous().len() > 10 {
                attempt.stop()
            } else {
                attempt.follow()
            }
        }))
        .build()
        .unwrap()
}

/// Where a sign-in through `provider` ended: the app's URL, and the response that sent
/// the browser there.
struct Landing {
    location: url::Url,
    reply: Reply,
}

impl Landing {
    fn error(&self) -> Option<String> {
        self.location
            .query_pairs()
            .find(|(k, _)| k == "error")
            .map(|(_, v)| v.into_owned())
    }
}

async fn sign_in_with(app: &TestApp, browser: &reqwest::Client, provider: &str) -> Landing {
    let res = browser
        .get(app.url(&format!("/auth/oauth/{provider}")))
        .send()
        .await
        .unwrap();
    let reply = Reply::from(res).await;
    assert_eq!(reply.status, 302, "{}", reply.text);
    let location = url::Url::parse(reply.header("location").unwrap()).unwrap();
    assert_eq!(location.host_str(), Some("app.test"), "{location}");
    Landing { location, reply }
}

/// The session the refresh cookie opens: the signed-in user.
pub async fn session_of(app: &TestApp, browser: &reqwest::Client) -> Value {
    let r = Reply::from(browser.post(app.url("/auth/refresh")).send().await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

async fn signs_in(app: &TestApp, browser: &reqwest::Client, provider: &str) -> Value {
    let landing = sign_in_with(app, browser, provider).await;
    assert_eq!(landing.error(), None, "{}", landing.location);
    assert!(landing.reply.refresh_cookie().is_some());
    assert!(
        !landing.location.as_str().contains("token"),
        "no token travels in a URL: {}",
        landing.location
    );
    session_of(app, browser).await
}

async fn refused(app: &TestApp, provider: &str, code: &str) {
    let b = browser();
    let landing = sign_in_with(app, &b, provider).await;
    assert_eq!(
        landing.error().as_deref(),
        Some(code),
        "{}",
        landing.location
    );
    assert!(landing.reply.refresh_cookie().is_none());
}

fn verified(email: &str) -> Value {
    json!({"claims": {"email": email, "email_verified": true, "name": "Ada Lovelace"}})
}

async fn openid_signs_in_by_the_book(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let app = app_with_openid(backend, &idp, &[]).await;
    let config = app.get("/auth/config", None).await;
    assert_eq!(config.body["social_login"], true);
    assert_eq!(config.body["social_registration"], true);
    assert_eq!(
        config.body["providers"],
        json!([{"id": "openid", "name": "Company SSO"}])
    );
    idp.control(json!({"claims": {"sub": "ada-at-idp", "email": "Ada@Example.com", "email_verified": true, "name": "Ada Lovelace"}}))
        .await;
    let b = browser();
    let session = signs_in(&app, &b, "openid").await;
    assert_eq!(session["user"]["email"], "ada@example.com");
    assert_eq!(session["user"]["name"], "Ada Lovelace");
    assert_eq!(session["user"]["email_verified"], true);
    // What the provider was sent: PKCE S256, a nonce and a state, and our redirect URI.
    let seen = idp.seen().await;
    let auth = &seen["lastAuthorize"];
    assert_eq!(auth["code_challenge_method"], "S256");
    assert!(auth["nonce"].as_str().unwrap().len() >= 32);
    assert!(auth["state"].as_str().unwrap().len() >= 32);
    assert!(auth["scope"].as_str().unwrap().contains("email"));
    assert_eq!(
        auth["redirect_uri"],
        format!("{}/auth/oauth/openid/callback", app.address)
    );
    assert!(seen["lastTokenRequest"]["code_verifier"].is_string());
    // The same identity signs in to the same account again.
    idp.control(json!({"claims": {"sub": "ada-at-idp", "email": "ada@example.com", "email_verified": true}}))
        .await;
    let again = signs_in(&app, &browser(), "openid").await;
    assert_eq!(again["user"]["id"], session["user"]["id"]);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"latch_social_sign_ins_total{outcome="success",provider="openid"} 2"#),
        "{metrics}"
    );
    // Unknown providers and known-but-unconfigured ones alike: 404.
    for p in ["nope", "google", "github"] {
        app.get(&format!("/auth/oauth/{p}"), None)
            .await
            .assert_problem(404, "not_found");
    }
}

async fn id_tokens_that_break_a_rule_are_refused(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let app = app_with_openid(backend, &idp, &[]).await;
    for (what, control) in [
        ("wrong iss", json!({"mode": "wrong_iss"})),
        ("wrong aud", json!({"mode": "wrong_aud"})),
        ("an untrusted extra aud", json!({"mode": "extra_aud"})),
        ("no sub", json!({"mode": "no_sub"})),
        ("no iat", json!({"mode": "no_iat"})),
        ("expired", json!({"mode": "expired"})),
        ("iat in the future", json!({"mode": "iat_future"})),
        ("alg none", json!({"mode": "alg_none"})),
        ("HS256 with the client secret", json!({"mode": "hs256"})),
        ("a bad signature", json!({"mode": "bad_signature"})),
        ("a nonce mismatch", json!({"mode": "wrong_nonce"})),
        ("no nonce", json!({"mode": "no_nonce"})),
        ("no ID token", json!({"mode": "no_id_token"})),
        ("a token error", json!({"mode": "token_error"})),
        (
            "userinfo of another sub",
            json!({"userinfo": {"sub": "someone-else", "email": "x@example.com"}}),
        ),
        (
            "userinfo failing",
            json!({"userinfo_status": 401, "userinfo": {"error": "invalid_token"}}),
        ),
        (
            "iss of another issuer (RFC 9207)",
            json!({"authorize": {"iss": "http://evil.invalid"}}),
        ),
        (
            "no iss though the provider sends it (RFC 9207)",
            json!({"authorize": {"iss": "omit"}}),
        ),
    ] {
        idp.control(json!({"reset": true})).await;
        idp.control(verified("ada@example.com")).await;
        idp.control(control).await;
        let b = browser();
        let landing = sign_in_with(&app, &b, "openid").await;
        assert_eq!(
            landing.error().as_deref(),
            Some("provider_error"),
            "{what}: {}",
            landing.location
        );
    }
    // A key the provider never published is refused, even after refetching its keys.
    idp.control(verified("ada@example.com")).await;
    idp.control(json!({"mode": "unknown_key"})).await;
    refused(&app, "openid", "provider_error").await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(
            r#"latch_social_sign_ins_total{outcome="provider_error",provider="openid"} 19"#
        ),
        "{metrics}"
    );
    // Nothing was created by any of them.
    let users: i64 = {
        use diesel::prelude::*;
        latch::db::schema::users::table
            .count()
            .get_result(&mut app.db_conn())
            .unwrap()
    };
    assert_eq!(users, 0);
}

async fn a_rotated_signing_key_is_fetched(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let app = app_with_openid(backend, &idp, &[]).await;
    idp.control(verified("ada@example.com")).await;
    signs_in(&app, &browser(), "openid").await;
    // The provider publishes a new key and signs with it: Latch's cached keys lack it.
    idp.control(verified("ada@example.com")).await;
    idp.control(json!({"mode": "rotate", "persist": true}))
        .await;
    signs_in(&app, &browser(), "openid").await;
}

async fn a_discovery_document_for_another_issuer_is_refused(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    idp.control(json!({"discovery": {"issuer": "http://elsewhere.invalid"}}))
        .await;
    let app = app_with_openid(backend, &idp, &[]).await;
    let b = browser();
    let res = b.get(app.url("/auth/oauth/openid")).send().await.unwrap();
    let reply = Reply::from(res).await;
    assert_eq!(reply.status, 302);
    assert_eq!(
        reply.header("location"),
        Some("http://app.test/?error=provider_error")
    );
    // Once the provider is right, the same server works (discovery is retried).
    idp.control(json!({"reset": true})).await;
    idp.control(verified("ada@example.com")).await;
    signs_in(&app, &browser(), "openid").await;
}

/// A browser that takes each redirect by hand.
pub fn manual_browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Starts a sign-in in `browser` (which must not follow redirects) and goes through the
/// provider, stopping short of the callback: returns the callback URL.
async fn callback_url(app: &TestApp, browser: &reqwest::Client) -> String {
    callback_url_from(browser, &app.url("/auth/oauth/openid")).await
}

/// The same from `start`: the sign-in's start, or a link's URL.
async fn callback_url_from(browser: &reqwest::Client, start: &str) -> String {
    let start = browser.get(start).send().await.unwrap();
    assert_eq!(start.status(), 302);
    let to_provider = start.headers()["location"].to_str().unwrap().to_string();
    let at_provider = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(to_provider)
        .send()
        .await
        .unwrap();
    assert_eq!(at_provider.status(), 302);
    at_provider.headers()["location"]
        .to_str()
        .unwrap()
        .to_string()
}

async fn state_is_one_time_and_bound_to_the_browser(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let app = app_with_openid(backend, &idp, &[]).await;
    idp.control(
        json!({"persist": true, "claims": {"email": "ada@example.com", "email_verified": true}}),
    )
    .await;
    let manual = manual_browser();
    let back = callback_url(&app, &manual).await;
    // Another browser presenting that callback: refused (and the state is spent).
    let stranger = manual_browser();
    let r = stranger.get(&back).send().await.unwrap();
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        "http://app.test/?error=invalid_state"
    );
    // The browser that started it, after that: the state was one-time.
    let r = manual.get(&back).send().await.unwrap();
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        "http://app.test/?error=invalid_state"
    );
    // A fresh start in the right browser works once; a replay of it does not.
    let back = callback_url(&app, &manual).await;
    let r = manual.get(&back).send().await.unwrap();
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        "http://app.test/"
    );
    let r = manual.get(&back).send().await.unwrap();
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        "http://app.test/?error=invalid_state"
    );
    // No state, or a made-up one.
    for query in ["", "?code=x", "?code=x&state=made-up", "?state=%00"] {
        let r = manual
            .get(app.url(&format!("/auth/oauth/openid/callback{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers()["location"].to_str().unwrap(),
            "http://app.test/?error=invalid_state",
            "{query}"
        );
    }
}

async fn provider_refusals_and_outages_come_back_as_codes(backend: Backend) {
    let mut idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let app = app_with_openid(backend, &idp, &[]).await;
    idp.control(json!({"authorize": {"error": "access_denied"}}))
        .await;
    refused(&app, "openid", "access_denied").await;
    // The provider goes down between the redirect and the callback.
    let manual = manual_browser();
    idp.control(verified("ada@example.com")).await;
    let back = callback_url(&app, &manual).await;
    idp.stop();
    let r = manual.get(&back).send().await.unwrap();
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        "http://app.test/?error=provider_error"
    );
}

async fn only_a_verified_email_links_or_registers(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let app = app_with_openid(backend, &idp, &[]).await;
    let existing = app.register("ada@example.com").await;
    // Unverified at the provider: it never links to the account with that address.
    idp.control(
        json!({"claims": {"sub": "s1", "email": "ada@example.com", "email_verified": false}}),
    )
    .await;
    refused(&app, "openid", "email_taken").await;
    idp.control(json!({"claims": {"sub": "s1", "email": "ada@example.com"}}))
        .await;
    refused(&app, "openid", "email_taken").await;
    // An unverified address nobody has: an account of its own, its address unverified.
    idp.control(json!({"claims": {"sub": "s9", "email": "grace@example.com"}}))
        .await;
    let own = signs_in(&app, &browser(), "openid").await;
    assert_eq!(own["user"]["email"], "grace@example.com");
    assert_eq!(own["user"]["email_verified"], false);
    // Verified: it links to the account with that address.
    idp.control(
        json!({"claims": {"sub": "s1", "email": "ada@example.com", "email_verified": true}}),
    )
    .await;
    let session = signs_in(&app, &browser(), "openid").await;
    assert_eq!(session["user"]["id"], existing.body["user"]["id"]);
    // Registration off: a new address is refused; invite-only likewise.
    let closed = app_with_openid(backend, &idp, &[("ALLOW_SOCIAL_REGISTRATION", "false")]).await;
    idp.control(
        json!({"claims": {"sub": "s2", "email": "new@example.com", "email_verified": true}}),
    )
    .await;
    refused(&closed, "openid", "registration_disabled").await;
    let invite_only = app_with_openid(backend, &idp, &[("INVITE_REQUIRED", "true")]).await;
    idp.control(
        json!({"claims": {"sub": "s3", "email": "new@example.com", "email_verified": true}}),
    )
    .await;
    refused(&invite_only, "openid", "registration_disabled").await;
    assert_eq!(
        invite_only.get("/auth/config", None).await.body["social_registration"],
        false
    );
}

async fn linking_a_never_verified_account_strips_its_password(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let app = app_with_openid(backend, &idp, &[]).await;
    app.register("admin@example.com").await;
    // Someone registers the victim's address (no verification required here) and stays
    // signed in.
    let squatter = crate::helpers::new_client();
    let r = Reply::from(
        squatter
            .post(app.url("/auth/register"))
            .json(&json!({"email": "victim@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 201);
    // The victim signs in with the provider, which verified the address.
    idp.control(
        json!({"claims": {"sub": "victim", "email": "victim@example.com", "email_verified": true}}),
    )
    .await;
    let session = signs_in(&app, &browser(), "openid").await;
    assert_eq!(session["user"]["email_verified"], true);
    app.login("victim@example.com", PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    let r = squatter
        .post(app.url("/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the squatter's session ended");
}

async fn roles_gate_and_promote(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let app = app_with_openid(
        backend,
        &idp,
        &[
            ("OPENID_REQUIRED_ROLE", "chat, staff"),
            ("OPENID_REQUIRED_ROLE_PARAMETER_PATH", "realm_access.roles"),
            ("OPENID_ADMIN_ROLE", "chat-admin"),
            ("OPENID_ADMIN_ROLE_PARAMETER_PATH", "realm_access.roles"),
        ],
    )
    .await;
    app.register("first@example.com").await;
    let claims = |roles: Value| {
        json!({"claims": {"sub": "grace", "email": "grace@example.com", "email_verified": true,
                          "realm_access": {"roles": roles}}})
    };
    idp.control(claims(json!(["other"]))).await;
    refused(&app, "openid", "role_required").await;
    idp.control(claims(json!(["staff"]))).await;
    let session = signs_in(&app, &browser(), "openid").await;
    assert_eq!(session["user"]["role"], "user");
    idp.control(claims(json!(["staff", "chat-admin"]))).await;
    let session = signs_in(&app, &browser(), "openid").await;
    assert_eq!(session["user"]["role"], "admin");
    // Losing the role at the provider demotes at the next sign-in.
    idp.control(claims(json!(["chat"]))).await;
    let session = signs_in(&app, &browser(), "openid").await;
    assert_eq!(session["user"]["role"], "user");
}

async fn identities_are_listed_and_unlinked(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let app = app_with_openid(backend, &idp, &[]).await;
    // An account made by the provider has no password: its identity is its only way in.
    idp.control(verified("ada@example.com")).await;
    let b = browser();
    let session = signs_in(&app, &b, "openid").await;
    let token = session["access_token"].as_str().unwrap().to_string();
    let list = app.get("/auth/identities", Some(&token)).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let identities = list.body["identities"].as_array().unwrap().clone();
    assert_eq!(identities.len(), 1);
    assert_eq!(identities[0]["provider"], "openid");
    assert_eq!(identities[0]["email"], "ada@example.com");
    let id = identities[0]["id"].as_str().unwrap().to_string();
    let unlink = |token: String, id: String| {
        let app = &app;
        async move {
            app.send(
                reqwest::Method::DELETE,
                &format!("/auth/identities/{id}"),
                None,
                Some(&token),
            )
            .await
        }
    };
    unlink(token.clone(), id.clone())
        .await
        .assert_problem(409, "last_sign_in_method");
    // With a password set, it may go. Ada is the first account, so an admin: she sets
    // herself a password through the API.
    let uid = session["user"]["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/admin/users/{uid}/password"),
            &json!({"password": PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let token = app.login("ada@example.com", PASSWORD).await.access_token();
    app.send(
        reqwest::Method::DELETE,
        &format!("/auth/identities/{}", uuid::Uuid::now_v7()),
        None,
        Some(&token),
    )
    .await
    .assert_problem(404, "not_found");
    let r = unlink(token.clone(), id.clone()).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let list = app.get("/auth/identities", Some(&token)).await;
    assert_eq!(list.body["identities"], json!([]));
    // Signing in with the provider again links it again (the address is verified).
    idp.control(verified("ada@example.com")).await;
    let again = signs_in(&app, &browser(), "openid").await;
    assert_eq!(again["user"]["id"], session["user"]["id"]);
}

async fn github_uses_its_primary_verified_email(backend: Backend) {
    let gh = ProviderProcess::github("gh-client", "gh-secret");
    let port = free_port().to_string();
    let server = format!("http://127.0.0.1:{port}");
    let app = spawn_app_with(
        backend,
        &[
            ("PORT", port.as_str()),
            ("DOMAIN_SERVER", server.as_str()),
            ("ALLOW_SOCIAL_LOGIN", "true"),
            ("ALLOW_SOCIAL_REGISTRATION", "true"),
            ("GITHUB_CLIENT_ID", "gh-client"),
            ("GITHUB_CLIENT_SECRET", "gh-secret"),
            ("GITHUB_ENTERPRISE_BASE_URL", gh.url.as_str()),
        ],
    )
    .await;
    let config = app.get("/auth/config", None).await;
    assert_eq!(
        config.body["providers"],
        json!([{"id": "github", "name": "GitHub"}])
    );
    let session = signs_in(&app, &browser(), "github").await;
    assert_eq!(session["user"]["email"], "octocat@example.com");
    assert_eq!(session["user"]["name"], "The Octocat");
    let seen = gh.seen().await;
    assert_eq!(seen["log"]["authorize"]["code_challenge_method"], "S256");
    assert!(seen["log"]["authorize"]["scope"]
        .as_str()
        .unwrap()
        .contains("user:email"));
    // A primary address GitHub has not verified is not accepted.
    gh.control(json!({"user": {"id": 99, "login": "mallory", "name": null, "email": null},
                      "emails": [{"email": "victim@example.com", "primary": true, "verified": false},
                                 {"email": "m@example.com", "primary": false, "verified": true}]}))
        .await;
    refused(&app, "github", "email_not_verified").await;
    gh.control(json!({"mode": "access_denied"})).await;
    refused(&app, "github", "access_denied").await;
    gh.control(json!({"mode": "token_error"})).await;
    refused(&app, "github", "provider_error").await;
}

async fn a_form_post_callback_and_librechat_paths_work(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let app = app_with_openid(
        backend,
        &idp,
        &[("OPENID_CALLBACK_URL", "/oauth/openid/callback")],
    )
    .await;
    idp.control(
        json!({"persist": true, "claims": {"email": "ada@example.com", "email_verified": true}}),
    )
    .await;
    // LibreChat's path is the redirect URI, and it is served.
    let b = browser();
    signs_in(&app, &b, "openid").await;
    let seen = idp.seen().await;
    assert_eq!(
        seen["lastAuthorize"]["redirect_uri"],
        format!("{}/oauth/openid/callback", app.address)
    );
    // The answer posted back as a form, from the provider's own site (as Apple does).
    let manual = manual_browser();
    let back = url::Url::parse(&callback_url(&app, &manual).await).unwrap();
    let form: Vec<(String, String)> = back.query_pairs().into_owned().collect();
    let r = manual
        .post(format!("{}{}", app.address, back.path()))
        .header("origin", "https://appleid.apple.com")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        "http://app.test/"
    );
    let cookie = Reply::from(r).await.refresh_cookie();
    assert!(cookie.is_some_and(|c| c.contains("HttpOnly")));
}

async fn a_disabled_account_is_refused(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let app = app_with_openid(backend, &idp, &[]).await;
    let admin = app.register("admin@example.com").await.access_token();
    idp.control(json!({"persist": true, "claims": {"sub": "bob", "email": "bob@example.com", "email_verified": true}}))
        .await;
    let session = signs_in(&app, &browser(), "openid").await;
    let bob = session["user"]["id"].as_str().unwrap().to_string();
    let r = app
        .send(
            reqwest::Method::PATCH,
            &format!("/admin/users/{bob}"),
            Some(&json!({"disabled": true})),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200);
    refused(&app, "openid", "account_disabled").await;
    // A banned account likewise, whatever the provider says.
    let r = app
        .send(
            reqwest::Method::PATCH,
            &format!("/admin/users/{bob}"),
            Some(&json!({"disabled": false})),
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .post("/admin/bans", &json!({"user_id": bob}), Some(&admin))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    refused(&app, "openid", "banned").await;
}

/// A provider from the config file by discovery, one by explicit OAuth2 endpoints, and a
/// preset whose base URL is configurable (self-hosted GitLab), each through a real
/// provider process.
async fn config_file_providers_and_base_url_presets_sign_in(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let port = free_port().to_string();
    let server = format!("http://127.0.0.1:{port}");
    let issuer = &idp.url;
    let file = format!(
        r#"
[[oauth.providers]]
id = "keycloak"
name = "Staff login"
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"

[[oauth.providers]]
id = "plain"
name = "Plain OAuth2"
authorization_url = "{issuer}/authorize"
token_url = "{issuer}/token"
userinfo_url = "{issuer}/userinfo"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
scopes = ["profile", "email"]
"#
    );
    let db = std::sync::Arc::new(TestDb::new_for(backend));
    let app = start_with_file(
        db,
        &[
            ("PORT", port.as_str()),
            ("DOMAIN_SERVER", server.as_str()),
            ("ALLOW_SOCIAL_LOGIN", "true"),
            ("ALLOW_SOCIAL_REGISTRATION", "true"),
            ("GITLAB_CLIENT_ID", CLIENT_ID),
            ("GITLAB_CLIENT_SECRET", CLIENT_SECRET),
            ("GITLAB_BASE_URL", issuer.as_str()),
        ],
        Some(&file),
    )
    .await;
    let config = app.get("/auth/config", None).await;
    assert_eq!(
        config.body["providers"],
        json!([{"id": "gitlab", "name": "GitLab"}, {"id": "keycloak", "name": "Staff login"},
               {"id": "plain", "name": "Plain OAuth2"}])
    );
    for (provider, email) in [
        ("keycloak", "k@example.com"),
        ("plain", "p@example.com"),
        ("gitlab", "g@example.com"),
    ] {
        idp.control(
            json!({"claims": {"sub": format!("{provider}-user"), "email": email,
                                      "email_verified": true}}),
        )
        .await;
        let session = signs_in(&app, &browser(), provider).await;
        assert_eq!(session["user"]["email"], email, "{provider}");
    }
    // The plain provider read the profile API, not an ID token: no nonce was sent.
    idp.control(
        json!({"claims": {"sub": "plain-user", "email": "p@example.com", "email_verified": true}}),
    )
    .await;
    signs_in(&app, &browser(), "plain").await;
    let seen = idp.seen().await;
    assert!(seen["lastAuthorize"]["nonce"].is_null());
    assert_eq!(seen["lastAuthorize"]["code_challenge_method"], "S256");
}

async fn a_second_factor_is_asked_after_a_social_sign_in(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let app = app_with_openid(backend, &idp, &[]).await;
    // A first sign-in through the provider makes the account (its address vouched for);
    // its fresh session adds a passkey.
    idp.control(
        json!({"persist": true, "claims": {"email": "ada@example.com", "email_verified": true}}),
    )
    .await;
    let first = signs_in(&app, &browser(), "openid").await;
    let token = first["access_token"].as_str().unwrap().to_string();
    let mut authn = crate::soft_authenticator::SoftAuthenticator::new("http://app.test");
    let o = app
        .post("/auth/passkeys/register/options", &json!({}), Some(&token))
        .await;
    let credential = authn.create(&o.body["publicKey"]);
    let r = app
        .post(
            "/auth/passkeys/register",
            &json!({"challenge_id": o.body["challenge_id"], "credential": credential}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // The provider proves the first factor; the browser goes back with no session, told
    // that a second factor is needed, and the mfa_token in an HttpOnly cookie (never in
    // the URL).
    let b = browser();
    let landing = sign_in_with(&app, &b, "openid").await;
    assert_eq!(landing.error(), None, "{}", landing.location);
    assert!(landing.reply.refresh_cookie().is_none());
    assert_eq!(landing.location.query(), Some("mfa_required=true"));
    let cookie = landing
        .reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("mfa_token="))
        .unwrap_or_else(|| panic!("no mfa_token cookie"))
        .to_string();
    let mfa = cookie["mfa_token=".len()..].split(';').next().unwrap();
    assert_eq!(mfa.len(), 43, "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/auth/mfa", "Max-Age=300"] {
        assert!(cookie.contains(attribute), "{attribute}: {cookie}");
    }
    let r = b.post(app.url("/auth/refresh")).send().await.unwrap();
    assert_eq!(r.status(), 401, "no session yet");
    // The browser's cookie stands in for the token: the passkey finishes the sign-in.
    let o = app
        .post("/auth/passkeys/login/options", &json!({}), None)
        .await;
    let assertion = authn.get(&o.body["publicKey"]).unwrap();
    let r = b
        .post(app.url("/auth/mfa/verify"))
        .json(&json!({"challenge_id": o.body["challenge_id"], "credential": assertion}))
        .send()
        .await
        .unwrap();
    let r = crate::helpers::Reply::from(r).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["email"], "ada@example.com");
    let spent = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|c| c.starts_with("mfa_token=;") && c.contains("Max-Age=0"));
    assert!(spent, "the mfa_token cookie is cleared");
    session_of(&app, &b).await;
}

/// Row 2 of the account-protection review: with `OPENID_EMAIL_CLAIM=preferred_username`,
/// `email_verified` speaks for `email`, not for the claim read: an ID token naming the
/// admin's address there does not sign in as the admin. With
/// `OPENID_TRUST_EMAIL_CLAIM=true` the operator vouches for that claim.
async fn email_verified_vouches_for_the_email_claim_only(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let app = app_with_openid(
        backend,
        &idp,
        &[("OPENID_EMAIL_CLAIM", "preferred_username")],
    )
    .await;
    let admin = app.register("admin@corp.example").await;
    assert_eq!(admin.body["user"]["role"], "admin");
    let forged = json!({"persist": true, "claims": {
        "sub": "mallory",
        "preferred_username": "admin@corp.example",
        "email": "me@evil.example",
        "email_verified": true
    }});
    idp.control(forged.clone()).await;
    refused(&app, "openid", "email_taken").await;
    let trusting = app_with_openid(
        backend,
        &idp,
        &[
            ("OPENID_EMAIL_CLAIM", "preferred_username"),
            ("OPENID_TRUST_EMAIL_CLAIM", "true"),
        ],
    )
    .await;
    let boss = trusting.register("admin@corp.example").await;
    let session = signs_in(&trusting, &browser(), "openid").await;
    assert_eq!(session["user"]["id"], boss.body["user"]["id"]);
}

/// An identity whose address was refused as taken is linked from the account instead:
/// `POST /auth/identities/{provider}/link` (a fresh session) gives the URL to follow;
/// the callback adds the identity and opens no session. An identity of another account is
/// `identity_taken`; a stale session may not start a link.
async fn signed_in_users_link_identities(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let app = app_with_openid(backend, &idp, &[("REAUTH_MAX_AGE", "3")]).await;
    let ada = app.register("ada@example.com").await;
    let token = ada.access_token();
    idp.control(
        json!({"persist": true, "claims": {"sub": "ada-at-idp", "email": "ada@example.com"}}),
    )
    .await;
    refused(&app, "openid", "email_taken").await;
    let r = app
        .post("/auth/identities/openid/link", &json!({}), Some(&token))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let url = r.body["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&app.address), "{url}");
    let b = browser();
    let res = b.get(&url).send().await.unwrap();
    let landing = Reply::from(res).await;
    assert_eq!(landing.status, 302, "{}", landing.text);
    assert_eq!(
        landing.header("location"),
        Some("http://app.test/?linked=openid")
    );
    assert!(
        landing.refresh_cookie().is_none(),
        "linking opens no session"
    );
    let ids = app.get("/auth/identities", Some(&token)).await;
    assert_eq!(
        ids.body["identities"][0]["provider"], "openid",
        "{}",
        ids.text
    );
    // The identity now signs in to Ada's account.
    let session = signs_in(&app, &browser(), "openid").await;
    assert_eq!(session["user"]["id"], ada.body["user"]["id"]);
    // Another account cannot take it.
    let bob = app.register("bob@example.com").await.access_token();
    let r = app
        .post("/auth/identities/openid/link", &json!({}), Some(&bob))
        .await;
    let res = browser()
        .get(r.body["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let landing = Reply::from(res).await;
    assert_eq!(
        landing.header("location"),
        Some("http://app.test/?error=identity_taken")
    );
    // A link intent is one-time.
    let res = browser().get(&url).send().await.unwrap();
    let landing = Reply::from(res).await;
    assert_eq!(
        landing.header("location"),
        Some("http://app.test/?error=invalid_state")
    );
    // A stale session may not start one.
    tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
    app.post("/auth/identities/openid/link", &json!({}), Some(&bob))
        .await
        .assert_problem(403, "reauthentication_required");
}

/// A link is made only while the session that asked for it lives: an access token stolen
/// from a fresh session can start one, but once the owner signs that session out (or it is
/// revoked) the provider's answer links nothing.
async fn a_link_ends_with_the_session_that_asked_for_it(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let app = app_with_openid(backend, &idp, &[]).await;
    let token = app.register("ada@example.com").await.access_token();
    idp.control(json!({"persist": true, "claims": {"sub": "mallory-at-idp", "email": "mallory@example.com"}}))
        .await;
    let r = app
        .post("/auth/identities/openid/link", &json!({}), Some(&token))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The link is started and the provider has answered; the browser stops short of the
    // callback.
    let attacker = manual_browser();
    let callback = callback_url_from(&attacker, r.body["url"].as_str().unwrap()).await;

    let r = app.post("/auth/logout", &json!({}), Some(&token)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let res = attacker.get(&callback).send().await.unwrap();
    let landing = Reply::from(res).await;
    assert_eq!(
        landing.header("location"),
        Some("http://app.test/?error=invalid_state")
    );
    let token = app.login("ada@example.com", PASSWORD).await.access_token();
    let ids = app.get("/auth/identities", Some(&token)).await;
    assert_eq!(ids.body["identities"], json!([]), "{}", ids.text);
}

/// A HEAD request (a link checker's, a prefetch) to the sign-in's start or callback is
/// `405` and spends nothing: the browser's GET still signs in.
async fn a_head_request_spends_no_sign_in(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let app = app_with_openid(backend, &idp, &[]).await;
    idp.control(
        json!({"persist": true, "claims": {"email": "ada@example.com", "email_verified": true}}),
    )
    .await;
    let b = manual_browser();
    let head = b.head(app.url("/auth/oauth/openid")).send().await.unwrap();
    assert_eq!(head.status(), 405);
    assert_eq!(head.headers()["allow"], "GET");
    let callback = callback_url(&app, &b).await;
    let head = b.head(&callback).send().await.unwrap();
    assert_eq!(head.status(), 405);
    let landing = Reply::from(b.get(&callback).send().await.unwrap()).await;
    assert_eq!(landing.status, 302, "{}", landing.text);
    assert_eq!(landing.header("location"), Some("http://app.test/"));
    assert!(landing.refresh_cookie().is_some(), "signed in");
}

/// A configured provider while `ALLOW_SOCIAL_LOGIN=false` is `403 feature_disabled`, so a
/// frontend can tell "off" from "wrong URL" (an unknown provider stays `404`).
async fn a_switched_off_provider_is_feature_disabled(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let app = app_with_openid(backend, &idp, &[("ALLOW_SOCIAL_LOGIN", "false")]).await;
    app.get("/auth/oauth/openid", None)
        .await
        .assert_problem(403, "feature_disabled");
    app.get("/auth/oauth/openid/callback?code=x&state=y", None)
        .await
        .assert_problem(403, "feature_disabled");
    app.get("/auth/oauth/nope", None)
        .await
        .assert_problem(404, "not_found");
}

/// LibreChat's further `OPENID_*` names: `OPENID_AUDIENCE` goes to the authorization
/// endpoint, `OPENID_TOKEN_ENDPOINT_AUTH_METHOD=client_secret_post` puts the secret in the
/// token request's body, `OPENID_USERNAME_CLAIM` names a new account's username,
/// `OPENID_AUTO_REDIRECT` shows in `/auth/config`, and with
/// `OPENID_USE_END_SESSION_ENDPOINT` logging out of an `openid` session answers where to
/// end the provider's session.
async fn librechats_further_openid_settings(backend: Backend) {
    let idp = ProviderProcess::oidc(CLIENT_ID, CLIENT_SECRET);
    let app = app_with_openid(
        backend,
        &idp,
        &[
            ("OPENID_AUDIENCE", "https://api.chat.example"),
            ("OPENID_TOKEN_ENDPOINT_AUTH_METHOD", "client_secret_post"),
            ("OPENID_USERNAME_CLAIM", "preferred_username"),
            ("OPENID_AUTO_REDIRECT", "true"),
            ("OPENID_USE_END_SESSION_ENDPOINT", "true"),
        ],
    )
    .await;
    assert_eq!(
        app.get("/auth/config", None).await.body["auto_redirect"],
        "openid"
    );
    idp.control(json!({"persist": true, "claims": {"email": "ada@example.com", "email_verified": true, "preferred_username": "Ada.L"}}))
        .await;
    let b = browser();
    let session = signs_in(&app, &b, "openid").await;
    assert_eq!(session["user"]["username"], "ada.l");
    let seen = idp.seen().await;
    assert_eq!(
        seen["lastAuthorize"]["audience"],
        "https://api.chat.example"
    );
    assert_eq!(seen["lastTokenRequest"]["basic_auth"], false, "{seen}");
    assert_eq!(
        seen["lastTokenRequest"]["client_secret"], "<redacted>",
        "in the body"
    );
    let token = session["access_token"].as_str().unwrap();
    let r = Reply::from(
        b.post(app.url("/auth/logout"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let redirect = url::Url::parse(r.body["redirect"].as_str().unwrap()).unwrap();
    assert!(redirect.as_str().starts_with(&idp.url), "{redirect}");
    let q: std::collections::HashMap<_, _> = redirect.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["post_logout_redirect_uri"], "http://app.test/login");
    // A session that did not come through openid logs out as usual.
    let other = app.register("bob@example.com").await.access_token();
    let r = app.post("/auth/logout", &json!({}), Some(&other)).await;
    assert_eq!(r.status, 204);
}
