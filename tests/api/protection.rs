//! Account protection, row by row of the second review: each test plays the attack over
//! HTTP and checks what must happen instead. On SQLite and PostgreSQL, and with the
//! counters in Redis where counters are involved.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{
    app_with_mail, new_client, spawn_app_with, Backend, Reply, Store, TestApp, PASSWORD,
};
use crate::smtp::{SmtpSink, Tls};
use crate::{both_backends, every_store};

every_store!(
    a_flood_through_a_proxy_beside_latch_bans_the_flooder_only,
    ipv6_clients_are_limited_by_their_64,
);

async fn app(store: Store, extra: &[(&str, &str)]) -> TestApp {
    let env = store.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    spawn_app_with(store.backend(), &all).await
}

async fn mail_app(store: Store, sink: &SmtpSink, extra: &[(&str, &str)]) -> TestApp {
    let env = store.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    app_with_mail(store.backend(), sink, &all).await
}

/// A request forwarded by the proxy in front (the test's own loopback connection) for
/// the client `ip`.
async fn via_proxy(
    client: &reqwest::Client,
    app: &TestApp,
    ip: &str,
    path: &str,
    body: &Value,
    token: Option<&str>,
) -> Reply {
    let mut req = client
        .post(app.url(path))
        .header("x-forwarded-for", ip)
        .json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    Reply::from(req.send().await.unwrap()).await
}

/// Row 6: `TRUST_PROXY` unset behind a proxy on the same host. A password flood bans the
/// flooder's address, not the proxy's; and a banned address ends no session that is
/// already open (only new sign-ins), so a flood through a shared address signs nobody out.
async fn a_flood_through_a_proxy_beside_latch_bans_the_flooder_only(store: Store) {
    let sink = SmtpSink::start(Tls::None);
    let app = mail_app(
        store,
        &sink,
        &[
            ("LOGIN_MAX", "2"),
            ("BAN_INTERVAL", "3"),
            ("REQUIRE_EMAIL_VERIFICATION", "false"),
        ],
    )
    .await;
    let admin = app.register("admin@example.com").await.access_token();
    let bob = new_client();
    let body = json!({"email": "bob@example.com", "password": PASSWORD});
    let r = via_proxy(&bob, &app, "198.51.100.20", "/auth/register", &body, None).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let flooder = "203.0.113.7";
    let wrong = json!({"email": "bob@example.com", "password": "not the password"});
    let mut last = 0;
    for _ in 0..10 {
        last = via_proxy(&new_client(), &app, flooder, "/auth/login", &wrong, None)
            .await
            .status;
        if last == 403 {
            break;
        }
    }
    assert_eq!(last, 403, "the flooder ends banned");
    let bans = app.get("/admin/bans", Some(&admin)).await;
    assert_eq!(bans.body["bans"][0]["ip"], flooder, "{}", bans.text);
    // Everyone else behind the proxy signs in, and Bob's session refreshes.
    let r = via_proxy(
        &new_client(),
        &app,
        "198.51.100.21",
        "/auth/login",
        &body,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = via_proxy(
        &bob,
        &app,
        "198.51.100.20",
        "/auth/refresh",
        &json!({}),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Even from the banned address, an open session goes on (the ban refuses new
    // sign-ins), and an admin can lift the ban from there.
    let r = via_proxy(&bob, &app, flooder, "/auth/refresh", &json!({}), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = new_client()
        .get(app.url("/admin/bans"))
        .bearer_auth(&admin)
        .header("x-forwarded-for", flooder)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    via_proxy(&new_client(), &app, flooder, "/auth/login", &body, None)
        .await
        .assert_problem(403, "banned");
    // Mail asked for from the banned address: the same 202, and nothing is sent.
    let forgot = json!({"email": "bob@example.com"});
    let r = via_proxy(
        &new_client(),
        &app,
        flooder,
        "/auth/password/forgot",
        &forgot,
        None,
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        !sink.messages().iter().any(|m| m.subject.contains("Reset")),
        "a reset link went out for a banned address"
    );
    let r = via_proxy(
        &new_client(),
        &app,
        "198.51.100.22",
        "/auth/password/forgot",
        &forgot,
        None,
    )
    .await;
    assert_eq!(r.status, 202);
    sink.wait_for(1, |m| m.subject.contains("Reset")).await;
}

/// Row 5 (addresses): one IPv6 subscriber holds a whole /64; its addresses share one limit.
async fn ipv6_clients_are_limited_by_their_64(store: Store) {
    let app = app(
        store,
        &[
            ("TRUST_PROXY", "1"),
            ("LOGIN_MAX", "3"),
            ("BAN_VIOLATIONS", "false"),
        ],
    )
    .await;
    let wrong = json!({"email": "nobody@example.com", "password": "not the password"});
    for n in 1..=3 {
        let ip = format!("2001:db8:5:6::{n}");
        via_proxy(&new_client(), &app, &ip, "/auth/login", &wrong, None)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    let r = via_proxy(
        &new_client(),
        &app,
        "2001:db8:5:6:ffff::9",
        "/auth/login",
        &wrong,
        None,
    )
    .await;
    r.assert_problem(429, "rate_limited");
    // The next /64 is someone else.
    let r = via_proxy(
        &new_client(),
        &app,
        "2001:db8:5:7::1",
        "/auth/login",
        &wrong,
        None,
    )
    .await;
    r.assert_problem(401, "invalid_credentials");
}

both_backends!(a_revoked_key_stops_everywhere_at_once);

const SERVICE: &str = "chat-backend-service-token";

pub fn payload_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Signs `claims` with a stored private key, as someone who stole it would.
fn forge(private: &str, kid: &str, claims: &Value) -> String {
    use josekit::jws::{JwsHeader, ES256};
    let mut jwk = josekit::jwk::Jwk::from_bytes(private.as_bytes()).unwrap();
    jwk.set_parameter("kid", None).unwrap();
    let mut header = JwsHeader::new();
    header.set_token_type("JWT");
    header.set_key_id(kid);
    let payload = josekit::jwt::JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
    josekit::jwt::encode_with_signer(&payload, &header, &ES256.signer_from_jwk(&jwk).unwrap())
        .unwrap()
}

async fn introspect(app: &TestApp, token: &str) -> bool {
    let r = app
        .post("/auth/introspect", &json!({"token": token}), Some(SERVICE))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["active"] == true
}

/// Row 8: a signing key leaked. `latch keys revoke KID` takes it out of the JWKS and out of
/// verification at once (every token it signed stops, cached or not), and no token lives
/// longer than `SESSION_EXPIRY`, so none forged with a far `exp` outlives a cache.
async fn a_revoked_key_stops_everywhere_at_once(backend: Backend) {
    let app = spawn_app_with(backend, &[("SERVICE_TOKENS", SERVICE)]).await;
    let good = app.register("ada@example.com").await.access_token();
    let claims = payload_of(&good);
    let kid = jsonwebtoken::decode_header(&good).unwrap().kid.unwrap();
    let private: String = {
        use diesel::prelude::*;
        use latch::db::schema::signing_keys;
        signing_keys::table
            .filter(signing_keys::id.eq(&kid))
            .select(signing_keys::private_jwk)
            .first(&mut app.db_conn())
            .unwrap()
    };
    let now = chrono::Utc::now().timestamp();
    let mut year = claims.clone();
    year["exp"] = json!(now + 365 * 24 * 3600);
    year["jti"] = json!(uuid::Uuid::now_v7().to_string());
    let forged_for_a_year = forge(&private, &kid, &year);
    app.get("/auth/me", Some(&forged_for_a_year))
        .await
        .assert_problem(401, "unauthorized");
    assert!(!introspect(&app, &forged_for_a_year).await);
    // One of the usual lifetime works while the key stands, and is cached as verified.
    let mut usual = claims.clone();
    usual["jti"] = json!(uuid::Uuid::now_v7().to_string());
    let forged = forge(&private, &kid, &usual);
    assert_eq!(app.get("/auth/me", Some(&forged)).await.status, 200);
    assert!(introspect(&app, &forged).await);
    let out = crate::helpers::run_cli(
        app.db.dir(),
        &["keys", "revoke", &kid],
        &[("DATABASE_URL", app.db.url.as_str())],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Within SESSION_CACHE (a second here), nothing that key signed is accepted.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while app.get("/auth/me", Some(&forged)).await.status == 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the revoked key's token was still accepted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.get("/auth/me", Some(&good))
        .await
        .assert_problem(401, "unauthorized");
    assert!(!introspect(&app, &forged).await && !introspect(&app, &good).await);
    let jwks = app.get("/.well-known/jwks.json", None).await;
    assert!(!jwks.text.contains(&kid), "{}", jwks.text);
    // A new sign-in gets a token of another key, which works.
    let again = app.login("ada@example.com", PASSWORD).await.access_token();
    assert_ne!(
        jsonwebtoken::decode_header(&again).unwrap().kid.unwrap(),
        kid
    );
    assert_eq!(app.get("/auth/me", Some(&again)).await.status, 200);
}

every_store!(strangers_never_use_up_the_owners_mail);

/// Row 7: registrations with someone else's address, however many, leave the owner's own
/// links alone: quotas are counted per kind of link, and the "account exists" notice a
/// stranger triggers goes out once per window.
async fn strangers_never_use_up_the_owners_mail(store: Store) {
    let sink = SmtpSink::start(Tls::None);
    let app = mail_app(store, &sink, &[("EMAIL_ADDRESS_MAX", "3")]).await;
    let owner = json!({"email": "owner@example.com", "password": PASSWORD});
    let r = app.post("/auth/register", &owner, None).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let link = sink
        .wait_for(1, |m| m.subject.contains("Confirm"))
        .await
        .remove(0);
    let r = app
        .post("/auth/email/verify", &json!({"token": link.token()}), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // A stranger registers the owner's address again and again.
    for n in 0..4 {
        let body =
            json!({"email": "owner@example.com", "password": format!("stranger password {n}")});
        let r = app.post("/auth/register", &body, None).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    // The owner's own reset and magic links still go out.
    let ask = json!({"email": "owner@example.com"});
    assert_eq!(
        app.post("/auth/password/forgot", &ask, None).await.status,
        202
    );
    sink.wait_for(1, |m| m.subject.contains("Reset")).await;
    assert_eq!(app.post("/auth/magic-link", &ask, None).await.status, 202);
    sink.wait_for(1, |m| m.subject.contains("sign-in link"))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let notices = sink
        .messages()
        .iter()
        .filter(|m| m.subject.contains("Someone tried to register"))
        .count();
    assert_eq!(notices, 1, "one notice per window, however many attempts");
}

both_backends!(passkey_options_reveal_nothing_about_an_address);

/// The shape of request options: their keys, and each allowed credential's keys.
fn shape(options: &Value) -> (Vec<String>, Vec<Vec<String>>) {
    let pk = options["publicKey"].as_object().unwrap();
    let mut keys: Vec<String> = pk.keys().cloned().collect();
    keys.sort();
    let allowed = pk["allowCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let mut k: Vec<String> = c.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        })
        .collect();
    (keys, allowed)
}

/// Row 9: `/auth/passkeys/login/options {email}` answers the same shape for every address:
/// made-up, stable credential ids for an address without passkeys.
async fn passkey_options_reveal_nothing_about_an_address(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let token = app.register("ada@example.com").await.access_token();
    app.register("bob@example.com").await;
    let mut authn = crate::soft_authenticator::SoftAuthenticator::new("http://app.test");
    crate::second_factor::register_passkey(&app, &token, &mut authn).await;
    let options = |email: &'static str| {
        let app = &app;
        async move {
            let r = app
                .post(
                    "/auth/passkeys/login/options",
                    &json!({"email": email}),
                    None,
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.body
        }
    };
    let ada = options("ada@example.com").await;
    let (keys, allowed) = shape(&ada);
    assert_eq!(allowed.len(), 1);
    for email in ["bob@example.com", "nobody@example.com"] {
        let first = options(email).await;
        let (other_keys, other_allowed) = shape(&first);
        assert_eq!(other_keys, keys, "{email}: {first}");
        assert!(!other_allowed.is_empty(), "{email}: {first}");
        assert!(other_allowed.iter().all(|c| *c == allowed[0]), "{first}");
        // Stable: asking again names the same ids.
        let again = options(email).await;
        assert_eq!(
            first["publicKey"]["allowCredentials"],
            again["publicKey"]["allowCredentials"]
        );
        assert_ne!(
            first["publicKey"]["allowCredentials"],
            ada["publicKey"]["allowCredentials"]
        );
    }
    // The real passkey still signs in by address.
    let r = crate::second_factor::passkey_sign_in(&app, &mut authn, Some("ada@example.com")).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

both_backends!(nothing_secret_or_forged_reaches_the_log);

/// A SAML response that is not signed, whose signature reference carries a line break and
/// a line of the sender's own: the XML library quotes it in its error.
fn forged_saml_response() -> String {
    use base64::Engine;
    let xml = r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="r1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="a1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>idp</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#missing&#10;FORGED-LINE level=ERROR admin signed in"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature><saml:Subject><saml:NameID>mallory</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>"##;
    base64::engine::general_purpose::STANDARD.encode(xml)
}

/// The value of `name` in a URL's query.
fn query_value(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

/// Rows 10 and 11: refused OAuth and SAML callbacks leave no authorization code, `state`
/// or `RelayState` in the log at any level, and the XML library's messages (quoting a
/// sender's line break) go through the log as one escaped event: in text, no line starts
/// with the sender's words; in JSON, every line is a JSON document.
async fn nothing_secret_or_forged_reaches_the_log(backend: Backend) {
    let cert = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/providers/saml/idp.crt");
    for format in ["text", "json"] {
        let db = crate::helpers::TestDb::new_for(backend);
        let server = crate::helpers::ServerProcess::start(
            &db,
            &[
                ("RUST_LOG", "debug"),
                ("LOG_FORMAT", format),
                ("DOMAIN_SERVER", "http://127.0.0.1:1"),
                ("ALLOW_SOCIAL_LOGIN", "true"),
                ("GITHUB_CLIENT_ID", "client"),
                ("GITHUB_CLIENT_SECRET", "client-secret-value"),
                ("GITHUB_ENTERPRISE_BASE_URL", "http://127.0.0.1:1"),
                ("SAML_ENTRY_POINT", "http://127.0.0.1:1/sso"),
                ("SAML_ISSUER", "https://chat.example/saml"),
                ("SAML_CERT", cert),
            ],
        )
        .await;
        let browser = crate::social::manual_browser();
        // A callback with a made-up code and state.
        let r =
            browser
                .get(server.url(
                    "/auth/oauth/github/callback?code=CODE-SECRET-1234&state=STATE-SECRET-5678",
                ))
                .send()
                .await
                .unwrap();
        assert_eq!(r.status(), 302);
        // A started sign-in whose code the provider cannot take (it is down).
        let r = browser
            .get(server.url("/auth/oauth/github"))
            .send()
            .await
            .unwrap();
        let state = query_value(r.headers()["location"].to_str().unwrap(), "state");
        let r = browser
            .get(server.url(&format!(
                "/auth/oauth/github/callback?code=CODE-SECRET-4321&state={state}"
            )))
            .send()
            .await
            .unwrap();
        let to = r.headers()["location"].to_str().unwrap().to_string();
        assert!(to.ends_with("error=provider_error"), "{to}");
        // A forged SAML response for a started SAML sign-in.
        let r = browser
            .get(server.url("/auth/oauth/saml"))
            .send()
            .await
            .unwrap();
        let relay = query_value(r.headers()["location"].to_str().unwrap(), "RelayState");
        let r = browser
            .post(server.url("/auth/oauth/saml/callback"))
            .form(&[
                ("SAMLResponse", forged_saml_response()),
                ("RelayState", relay.clone()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let log = server.log();
        assert!(
            log.contains("FORGED-LINE"),
            "the forged reference was logged as a field: {log}"
        );
        for secret in [
            "CODE-SECRET-1234",
            "STATE-SECRET-5678",
            "CODE-SECRET-4321",
            &state,
            &relay,
            "client-secret-value",
        ] {
            assert!(
                !log.contains(secret),
                "{format}: `{secret}` is in the log:\n{log}"
            );
        }
        for line in log.lines() {
            assert!(
                !line.starts_with("FORGED"),
                "{format}: a forged line: {line}"
            );
            if format == "json" {
                assert!(
                    serde_json::from_str::<Value>(line).is_ok(),
                    "not a JSON line: {line}"
                );
            }
        }
    }
}

both_backends!(
    the_first_proof_of_an_address_removes_what_came_before,
    a_stolen_access_token_adds_or_removes_no_way_in,
);

const ATTACKER_PASSWORD: &str = "attacker knows this one";
const OWNER_PASSWORD: &str = "the owner chose this one";

/// Row 1: with unverified sign-in allowed, an attacker registers the owner's address and
/// adds a passkey and TOTP. The owner's reset link (the first proof of the address) signs
/// the owner in at once, and leaves the attacker no way in: password, passkey, TOTP and
/// sessions are gone.
async fn the_first_proof_of_an_address_removes_what_came_before(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let app = app_with_mail(backend, &sink, &[("ALLOW_UNVERIFIED_EMAIL_LOGIN", "true")]).await;
    let attacker = new_client();
    let r = Reply::from(
        attacker
            .post(app.url("/auth/register"))
            .json(&json!({"email": "owner@example.com", "password": ATTACKER_PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let token = r.access_token();
    let mut authn = crate::soft_authenticator::SoftAuthenticator::new("http://app.test");
    crate::second_factor::register_passkey(&app, &token, &mut authn).await;
    crate::second_factor::with_time_left(5).await;
    crate::second_factor::enable_totp(&app, &token, 0).await;
    // The owner proves the address with a reset link.
    let forgot = json!({"email": "owner@example.com"});
    assert_eq!(
        app.post("/auth/password/forgot", &forgot, None)
            .await
            .status,
        202
    );
    let reset = sink
        .wait_for(1, |m| m.subject.contains("Reset"))
        .await
        .remove(0)
        .token();
    let r = app
        .post(
            "/auth/password/reset",
            &json!({"token": reset, "password": OWNER_PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.body.get("mfa_required").is_none(),
        "no second factor of the attacker's asked: {}",
        r.text
    );
    let owner = r.access_token();
    // Nothing of the attacker's is left.
    let r = crate::second_factor::passkey_sign_in(&app, &mut authn, None).await;
    r.assert_problem(401, "invalid_credentials");
    app.login("owner@example.com", ATTACKER_PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    let r = Reply::from(
        attacker
            .post(app.url("/auth/refresh"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    let passkeys = app.get("/auth/passkeys", Some(&owner)).await;
    assert_eq!(passkeys.body["passkeys"], json!([]), "{}", passkeys.text);
    let r = app.login("owner@example.com", OWNER_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.body["access_token"].is_string(),
        "no TOTP left: {}",
        r.text
    );
    assert_eq!(r.body["user"]["email_verified"], true);
}

/// Row 3: a session that did not authenticate recently (`REAUTH_MAX_AGE`) adds and removes
/// no way in, and spends no code it carries; `POST /auth/reauthenticate` with the password
/// and the second factor makes it fresh. Tokens carry `auth_time` and `amr`, and the owner
/// is mailed what was added, from where, and every way in.
async fn a_stolen_access_token_adds_or_removes_no_way_in(backend: Backend) {
    let sink = SmtpSink::start(Tls::None);
    let app = app_with_mail(
        backend,
        &sink,
        &[
            ("REAUTH_MAX_AGE", "2"),
            ("REQUIRE_EMAIL_VERIFICATION", "false"),
        ],
    )
    .await;
    // Before signing up: waiting for a fresh TOTP step must not outlast REAUTH_MAX_AGE.
    crate::second_factor::with_time_left(8).await;
    let token = app.register("ada@example.com").await.access_token();
    let claims = payload_of(&token);
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert!((claims["auth_time"].as_i64().unwrap() - claims["iat"].as_i64().unwrap()).abs() <= 1);
    let (secret, codes) = crate::second_factor::enable_totp(&app, &token, 0).await;
    let notice = sink
        .wait_for(1, |m| m.subject.contains("second factor"))
        .await
        .remove(0);
    assert!(
        notice
            .text
            .contains("An authenticator app (TOTP) was added from"),
        "{}",
        notice.text
    );
    assert!(notice.text.contains("a password"), "{}", notice.text);
    // The session set TOTP up: it has proven it, and its tokens say so.
    let refreshed = app.refresh().await;
    assert_eq!(
        payload_of(&refreshed.access_token())["amr"],
        json!(["pwd", "otp"])
    );
    tokio::time::sleep(Duration::from_millis(2200)).await;
    // Only the access token, and not recent: every change of the ways in is refused, and
    // the code it carries is not spent.
    // (The current step's code went into enabling TOTP: the next step's is the one left.)
    let code = crate::second_factor::code_at(&secret, crate::second_factor::unix_now() + 30);
    let stale = |path: &'static str, body: Value| {
        let (app, token) = (&app, &token);
        async move { app.post(path, &body, Some(token)).await }
    };
    stale("/auth/passkeys/register/options", json!({}))
        .await
        .assert_problem(403, "reauthentication_required");
    stale("/auth/mfa/totp/disable", json!({"code": code}))
        .await
        .assert_problem(403, "reauthentication_required");
    stale("/auth/mfa/backup-codes", json!({"code": code}))
        .await
        .assert_problem(403, "reauthentication_required");
    stale("/auth/mfa/totp/setup", json!({}))
        .await
        .assert_problem(403, "reauthentication_required");
    // Reauthentication asks for what a sign-in asks: the password and the second factor.
    stale("/auth/reauthenticate", json!({"password": PASSWORD}))
        .await
        .assert_problem(422, "validation_failed");
    stale(
        "/auth/reauthenticate",
        json!({"password": "not the password", "code": code}),
    )
    .await
    .assert_problem(403, "invalid_credentials");
    stale(
        "/auth/reauthenticate",
        json!({"password": PASSWORD, "backup_code": "0000-0000"}),
    )
    .await
    .assert_problem(403, "invalid_credentials");
    let r = stale(
        "/auth/reauthenticate",
        json!({"password": PASSWORD, "code": code}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.refresh_cookie().is_none(),
        "the refresh token is not rotated"
    );
    let fresh = r.access_token();
    let claims = payload_of(&fresh);
    assert_eq!(claims["amr"], json!(["pwd", "otp"]));
    assert!(
        claims["auth_time"].as_i64().unwrap() > payload_of(&token)["auth_time"].as_i64().unwrap()
    );
    // Fresh now: a passkey may be added.
    let r = app
        .post("/auth/passkeys/register/options", &json!({}), Some(&fresh))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let _ = codes;
}

every_store!(guesses_are_counted_per_account);

/// Row 5: knowing the password, an attacker guesses TOTP codes with a new `mfa_token` for
/// every five, from many addresses of one /64 and beyond. Failures count per account:
/// the fifth pauses the account's code checks (`429` with `Retry-After`, even for the right
/// code), the owner is mailed once, a signed-in session's checks pause too, and a void
/// token is still `400 invalid_token`. Per IP, the step has its own limit.
async fn guesses_are_counted_per_account(store: Store) {
    let sink = SmtpSink::start(Tls::None);
    let app = mail_app(
        store,
        &sink,
        &[
            ("TRUST_PROXY", "1"),
            ("REQUIRE_EMAIL_VERIFICATION", "false"),
        ],
    )
    .await;
    crate::second_factor::with_time_left(20).await;
    let (token, secret, _) = crate::second_factor::with_totp(&app, "ada@example.com", 0).await;
    let now = crate::second_factor::unix_now();
    let right = crate::second_factor::code_at(&secret, now);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let login = json!({"email": "ada@example.com", "password": PASSWORD});
    for n in 0..5 {
        let ip = if n % 2 == 0 {
            format!("2001:db8:7:7::{n}")
        } else {
            format!("203.0.113.{n}")
        };
        let r = via_proxy(&new_client(), &app, &ip, "/auth/login", &login, None).await;
        let mfa = r.body["mfa_token"].as_str().unwrap().to_string();
        let r = via_proxy(
            &new_client(),
            &app,
            &ip,
            "/auth/mfa/verify",
            &json!({"mfa_token": mfa, "code": wrong}),
            None,
        )
        .await;
        r.assert_problem(401, "invalid_credentials");
    }
    // A new token from a new address, and the right code: paused.
    let r = via_proxy(
        &new_client(),
        &app,
        "198.51.100.9",
        "/auth/login",
        &login,
        None,
    )
    .await;
    let mfa = r.body["mfa_token"].as_str().unwrap().to_string();
    let r = via_proxy(
        &new_client(),
        &app,
        "198.51.100.9",
        "/auth/mfa/verify",
        &json!({"mfa_token": mfa, "code": right}),
        None,
    )
    .await;
    r.assert_problem(429, "rate_limited");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // A void token is answered before the pause is looked at.
    via_proxy(
        &new_client(),
        &app,
        "198.51.100.9",
        "/auth/mfa/verify",
        &json!({"mfa_token": "x".repeat(43), "code": right}),
        None,
    )
    .await
    .assert_problem(400, "invalid_token");
    // The signed-in session's checks pause as well (here: a current password).
    app.post(
        "/auth/password/change",
        &json!({"current_password": PASSWORD, "new_password": "another long passphrase"}),
        Some(&token),
    )
    .await
    .assert_problem(429, "rate_limited");
    // The owner is told, once.
    sink.wait_for(1, |m| m.subject.contains("Security notice"))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let notices = sink
        .messages()
        .iter()
        .filter(|m| m.subject.contains("Security notice"))
        .count();
    assert_eq!(notices, 1);
    // The step's own limit per address (TWO_FACTOR_TEMP_MAX).
    let limited = mail_app(
        store,
        &sink,
        &[
            ("TRUST_PROXY", "1"),
            ("TWO_FACTOR_TEMP_MAX", "2"),
            ("BAN_VIOLATIONS", "false"),
        ],
    )
    .await;
    let void = json!({"mfa_token": "y".repeat(43), "code": "123456"});
    for _ in 0..2 {
        via_proxy(
            &new_client(),
            &limited,
            "192.0.2.1",
            "/auth/mfa/verify",
            &void,
            None,
        )
        .await
        .assert_problem(400, "invalid_token");
    }
    via_proxy(
        &new_client(),
        &limited,
        "192.0.2.1",
        "/auth/mfa/verify",
        &void,
        None,
    )
    .await
    .assert_problem(429, "rate_limited");
}
