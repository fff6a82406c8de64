//! SAML 2.0 sign-in through a real identity provider process (`saml_idp.mjs`, signing with
//! `xml-crypto`), by a browser-like client: the redirect with its AuthnRequest, the IdP's
//! auto-posting form, the assertion consumer service. Then every response a relying party
//! must refuse: unsigned, signed by another key or with SHA-1, wrapped, out of its time window, for
//! another audience, recipient, destination or request, unsolicited, replayed, posted
//! from another browser.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{spawn_app_with, Backend, Reply, TestApp};
use crate::providers::ProviderProcess;
use crate::social::{free_port, manual_browser, session_of};

both_backends!(
    saml_addresses_link_only_when_trusted,
    saml_signs_in_by_the_book,
    hostile_and_broken_responses_are_refused,
    a_response_is_one_time_and_bound_to_the_browser,
    registration_switch_signed_responses_and_librechat_path,
);

const ENTITY_ID: &str = "https://chat.example/saml";

/// A Latch whose `saml` provider is `idp`, on a port known in advance (the ACS URL names
/// it).
async fn app_with_saml(backend: Backend, idp: &ProviderProcess, extra: &[(&str, &str)]) -> TestApp {
    let port = free_port().to_string();
    let server = format!("http://127.0.0.1:{port}");
    let entry_point = idp.ready["entry_point"].as_str().unwrap();
    let cert = idp.ready["cert"].as_str().unwrap();
    let mut env = vec![
        ("PORT", port.as_str()),
        ("DOMAIN_SERVER", server.as_str()),
        ("ALLOW_SOCIAL_LOGIN", "true"),
        ("ALLOW_SOCIAL_REGISTRATION", "true"),
        ("SAML_ENTRY_POINT", entry_point),
        ("SAML_ISSUER", ENTITY_ID),
        ("SAML_CERT", cert),
        ("SAML_BUTTON_LABEL", "Staff SSO"),
        // This IdP is the operator's own: its addresses are vouched for.
        ("SAML_TRUST_EMAIL", "true"),
        ("SAML_IMAGE_URL", "https://chat.example/sso.svg"),
        ("OPENID_CLOCK_TOLERANCE", "5"),
    ];
    env.extend_from_slice(extra);
    spawn_app_with(backend, &env).await
}

/// The IdP's auto-posting form: where it posts, and its fields.
struct Form {
    action: String,
    fields: Vec<(String, String)>,
}

/// The value of `attr="..."` after `after` in the IdP's page.
fn attr_after(html: &str, after: &str, attr: &str) -> Option<String> {
    let rest = &html[html.find(after)? + after.len()..];
    let start = rest.find(&format!("{attr}=\""))? + attr.len() + 2;
    let end = start + rest[start..].find('"')?;
    Some(
        rest[start..end]
            .replace("&amp;", "&")
            .replace("&quot;", "\""),
    )
}

/// Starts a SAML sign-in in `browser` (which must not follow redirects) and goes through
/// the IdP: returns its form, not yet posted.
async fn through_idp(app: &TestApp, browser: &reqwest::Client) -> Form {
    let start = browser
        .get(app.url("/auth/oauth/saml"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302);
    let to_idp = start.headers()["location"].to_str().unwrap().to_string();
    let page = reqwest::get(&to_idp).await.unwrap();
    assert_eq!(page.status(), 200, "{to_idp}");
    let html = page.text().await.unwrap();
    let action = attr_after(&html, "<form", "action").expect("the form's action");
    let mut fields = vec![(
        "SAMLResponse".to_string(),
        attr_after(&html, "name=\"SAMLResponse\"", "value").expect("SAMLResponse"),
    )];
    if let Some(relay) = attr_after(&html, "name=\"RelayState\"", "value") {
        fields.push(("RelayState".to_string(), relay));
    }
    Form { action, fields }
}

/// Posts the form as a browser would (from the IdP's site) and returns the app's answer.
async fn post(browser: &reqwest::Client, form: &Form) -> Reply {
    post_fields(browser, &form.action, &form.fields).await
}

async fn post_fields(
    browser: &reqwest::Client,
    action: &str,
    fields: &[(String, String)],
) -> Reply {
    let r = browser
        .post(action)
        .header("origin", "http://idp.test")
        .form(fields)
        .send()
        .await
        .unwrap();
    Reply::from(r).await
}

fn landing(reply: &Reply) -> String {
    assert_eq!(reply.status, 302, "{}", reply.text);
    reply.header("location").unwrap().to_string()
}

/// A whole sign-in in a fresh browser: where it landed, and the browser.
async fn sign_in(app: &TestApp) -> (String, Reply, reqwest::Client) {
    let b = manual_browser();
    let form = through_idp(app, &b).await;
    let reply = post(&b, &form).await;
    (landing(&reply), reply, b)
}

async fn signs_in(app: &TestApp) -> Value {
    let (to, reply, b) = sign_in(app).await;
    assert_eq!(to, "http://app.test/");
    assert!(reply.refresh_cookie().is_some());
    session_of(app, &b).await
}

async fn refused(app: &TestApp, code: &str) {
    let (to, reply, _) = sign_in(app).await;
    assert_eq!(to, format!("http://app.test/?error={code}"));
    assert!(reply.refresh_cookie().is_none());
}

async fn saml_signs_in_by_the_book(backend: Backend) {
    let idp = ProviderProcess::saml();
    let app = app_with_saml(backend, &idp, &[]).await;
    let acs = format!("{}/auth/oauth/saml/callback", app.address);

    let config = app.get("/auth/config", None).await;
    assert_eq!(
        config.body["providers"],
        json!([{"id": "saml", "name": "Staff SSO", "image_url": "https://chat.example/sso.svg"}])
    );
    // The metadata to register with the IdP.
    let meta = app.get("/auth/saml/metadata", None).await;
    assert_eq!(meta.status, 200);
    assert_eq!(
        meta.header("content-type"),
        Some("application/samlmetadata+xml")
    );
    assert!(
        meta.text.contains(&format!("entityID=\"{ENTITY_ID}\"")),
        "{}",
        meta.text
    );
    assert!(
        meta.text.contains(&format!("Location=\"{acs}\"")),
        "{}",
        meta.text
    );
    assert!(meta
        .text
        .contains("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"));
    assert!(meta.text.contains("WantAssertionsSigned=\"true\""));
    // Without SAML there is no metadata.
    let plain = crate::helpers::spawn_app(backend).await;
    plain
        .get("/auth/saml/metadata", None)
        .await
        .assert_problem(404, "not_found");

    // The whole flow: a new account, its email verified, named from the attributes.
    let (to, reply, browser) = sign_in(&app).await;
    assert_eq!(to, "http://app.test/");
    let cookie = reply.refresh_cookie().unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let session = session_of(&app, &browser).await;
    assert_eq!(session["user"]["email"], "ada@example.com");
    assert_eq!(session["user"]["name"], "Ada Lovelace");
    assert_eq!(session["user"]["email_verified"], true);

    // What the IdP received: our AuthnRequest, by the book.
    let seen = idp.seen().await;
    let request = &seen["log"]["request"];
    assert_eq!(request["issuer"], ENTITY_ID);
    assert_eq!(request["acs"], acs.as_str());
    assert_eq!(request["destination"], idp.ready["entry_point"]);
    assert_eq!(
        request["protocol_binding"],
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    );
    let id = request["id"].as_str().unwrap();
    assert!(
        id.starts_with("id-") && id.len() >= 40,
        "an unguessable ID: {id}"
    );
    assert!(request["relay_state"]
        .as_str()
        .is_some_and(|r| r.len() >= 40));

    // The identity is (saml, NameID): the same NameID is the same user, whatever the email.
    let user = session["user"]["id"].clone();
    let token = session["access_token"].as_str().unwrap().to_string();
    let ids = app.get("/auth/identities", Some(&token)).await;
    assert_eq!(ids.body["identities"][0]["provider"], "saml");
    idp.control(json!({"attributes": {"email": "ada.lovelace@example.com", "given_name": "Ada"}}))
        .await;
    assert_eq!(signs_in(&app).await["user"]["id"], user);
    // A response signed as a whole, or both it and its assertion, is as good.
    for sign in ["response", "both"] {
        idp.control(json!({"sign": sign})).await;
        assert_eq!(signs_in(&app).await["user"]["id"], user, "{sign}");
    }
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"latch_social_sign_ins_total{outcome="success",provider="saml"} 4"#),
        "{metrics}"
    );
}

async fn hostile_and_broken_responses_are_refused(backend: Backend) {
    let idp = ProviderProcess::saml();
    let app = app_with_saml(backend, &idp, &[]).await;
    let admin = app.register("admin@example.com").await.access_token();
    let cases = [
        (json!({"sign": "none"}), "provider_error"),
        (json!({"key": "other"}), "provider_error"),
        (json!({"algorithm": "sha1"}), "provider_error"),
        (json!({"variant": "wrap_assertion"}), "provider_error"),
        (
            json!({"variant": "wrap_response", "sign": "response"}),
            "provider_error",
        ),
        (json!({"variant": "expired"}), "provider_error"),
        (json!({"variant": "not_yet_valid"}), "provider_error"),
        (json!({"variant": "wrong_audience"}), "provider_error"),
        (json!({"variant": "no_audience"}), "provider_error"),
        (json!({"variant": "wrong_recipient"}), "provider_error"),
        (json!({"variant": "wrong_destination"}), "provider_error"),
        (json!({"variant": "other_request"}), "provider_error"),
        (json!({"variant": "unsolicited"}), "provider_error"),
        (json!({"variant": "denied"}), "access_denied"),
    ];
    for (settings, code) in cases {
        idp.control(json!({"reset": true})).await;
        idp.control(settings.clone()).await;
        let (to, reply, _) = sign_in(&app).await;
        assert_eq!(to, format!("http://app.test/?error={code}"), "{settings}");
        assert!(reply.refresh_cookie().is_none(), "{settings}");
    }
    // Neither the wrapped-in attacker nor anyone else got an account.
    let mut conn = app.db_conn();
    for email in ["eve@example.com", "ada@example.com"] {
        let user = latch::db::models::User::find_by_email(&mut conn, email).unwrap();
        assert!(user.is_none(), "{email} has an account");
    }
    let metrics = app.metrics().await;
    for line in [
        r#"latch_social_sign_ins_total{outcome="provider_error",provider="saml"} 13"#,
        r#"latch_social_sign_ins_total{outcome="access_denied",provider="saml"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line}");
    }
    // Each refusal is on the audit record.
    let audit = app
        .get("/admin/audit?kind=sign_in_failed&limit=200", Some(&admin))
        .await;
    let details: Vec<&str> = audit.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["detail"].as_str())
        .collect();
    assert_eq!(
        details
            .iter()
            .filter(|d| **d == "social: provider_error (saml)")
            .count(),
        13,
        "{details:?}"
    );
    assert!(details.contains(&"social: access_denied (saml)"));
    // The IdP, back to normal, signs in.
    idp.control(json!({"reset": true})).await;
    signs_in(&app).await;
}

async fn a_response_is_one_time_and_bound_to_the_browser(backend: Backend) {
    let idp = ProviderProcess::saml();
    let app = app_with_saml(backend, &idp, &[]).await;

    // Posted from another browser: refused, and spent for the one that started it too.
    let mine = manual_browser();
    let form = through_idp(&app, &mine).await;
    let stranger = manual_browser();
    assert_eq!(
        landing(&post(&stranger, &form).await),
        "http://app.test/?error=invalid_state"
    );
    assert_eq!(
        landing(&post(&mine, &form).await),
        "http://app.test/?error=invalid_state"
    );

    // A response that signed in, posted again: refused.
    let form = through_idp(&app, &mine).await;
    assert_eq!(landing(&post(&mine, &form).await), "http://app.test/");
    assert_eq!(
        landing(&post(&mine, &form).await),
        "http://app.test/?error=invalid_state"
    );
    // ... and under a fresh RelayState of the same browser: it answers another request.
    let fresh = through_idp(&app, &mine).await;
    let replay = [form.fields[0].clone(), fresh.fields[1].clone()];
    assert_eq!(
        landing(&post_fields(&mine, &form.action, &replay).await),
        "http://app.test/?error=provider_error"
    );
    // An assertion ID the IdP already used: refused the second time (replay).
    idp.control(json!({"assertion_id": "_always-the-same"}))
        .await;
    signs_in(&app).await;
    refused(&app, "provider_error").await;
    idp.control(json!({"reset": true})).await;

    // Unsolicited (no RelayState), a made-up RelayState, junk instead of a response.
    let form = through_idp(&app, &mine).await;
    let saml_response = form.fields[0].clone();
    let relay = form.fields[1].clone();
    for fields in [
        vec![saml_response.clone()],
        vec![
            saml_response.clone(),
            ("RelayState".into(), "made-up".into()),
        ],
    ] {
        let r = post_fields(&mine, &form.action, &fields).await;
        assert_eq!(landing(&r), "http://app.test/?error=invalid_state");
    }
    for junk in ["", "%%%", "PGZvbz48L2Zvbz4=", "PCFET0NUWVBFIHg+PHgvPg=="] {
        let form = through_idp(&app, &mine).await;
        let fields = vec![
            ("SAMLResponse".to_string(), junk.to_string()),
            form.fields[1].clone(),
        ];
        let r = post_fields(&mine, &form.action, &fields).await;
        assert_eq!(
            landing(&r),
            "http://app.test/?error=provider_error",
            "{junk}"
        );
    }
    // The RelayState of the form above was never used: still good, once.
    let r = post_fields(&mine, &form.action, &[saml_response, relay]).await;
    assert_eq!(landing(&r), "http://app.test/");
}

async fn registration_switch_signed_responses_and_librechat_path(backend: Backend) {
    let idp = ProviderProcess::saml();
    let app = app_with_saml(
        backend,
        &idp,
        &[
            ("ALLOW_SOCIAL_REGISTRATION", "false"),
            ("SAML_CALLBACK_URL", "/oauth/saml/callback"),
            ("SAML_USE_AUTHN_RESPONSE_SIGNED", "true"),
            ("SAML_EMAIL_CLAIM", "mail"),
            ("SAML_NAME_CLAIM", "displayName"),
        ],
    )
    .await;
    idp.control(json!({"sign": "response", "attributes": {"mail": "grace@example.com", "displayName": "Grace H."}}))
        .await;
    // LibreChat's path is the ACS URL, and it is served.
    let (to, _, _) = sign_in(&app).await;
    let seen = idp.seen().await;
    assert_eq!(
        seen["log"]["request"]["acs"],
        format!("{}/oauth/saml/callback", app.address)
    );
    // No account with that email, and registration is off.
    assert_eq!(to, "http://app.test/?error=registration_disabled");
    // An account with that email: the SAML identity links to it.
    app.register("grace@example.com").await;
    let session = signs_in(&app).await;
    assert_eq!(session["user"]["email"], "grace@example.com");
    // SAML_USE_AUTHN_RESPONSE_SIGNED: a signed assertion in an unsigned response is not
    // enough.
    idp.control(json!({"sign": "assertion"})).await;
    refused(&app, "provider_error").await;
}

/// Row 4 of the account-protection review: a SAML assertion with NameID `mallory` and
/// Alice's address does not sign in to Alice's account unless the operator trusts the
/// IdP's addresses (`SAML_TRUST_EMAIL`); identities are keyed by a persistent NameID, and
/// a transient one is refused.
async fn saml_addresses_link_only_when_trusted(backend: Backend) {
    let idp = ProviderProcess::saml();
    let app = app_with_saml(backend, &idp, &[("SAML_TRUST_EMAIL", "false")]).await;
    let alice = app.register("alice@example.com").await;
    assert_eq!(alice.body["user"]["role"], "admin");
    idp.control(json!({"name_id": "mallory", "attributes": {"email": "alice@example.com"}}))
        .await;
    refused(&app, "email_taken").await;
    // A new address makes an account of its own, its address not vouched for.
    idp.control(json!({"name_id": "mallory", "attributes": {"email": "mallory@example.com"}}))
        .await;
    let session = signs_in(&app).await;
    assert_eq!(session["user"]["email"], "mallory@example.com");
    assert_eq!(session["user"]["email_verified"], false);
    assert_eq!(session["user"]["role"], "user");
    // The same NameID signs in to that account again, whatever address it now claims.
    idp.control(json!({"attributes": {"email": "alice@example.com"}}))
        .await;
    let again = signs_in(&app).await;
    assert_eq!(again["user"]["id"], session["user"]["id"]);
    // A transient NameID names nobody twice: refused.
    idp.control(json!({"name_id": "_t-1", "name_id_format": "transient"}))
        .await;
    refused(&app, "provider_error").await;
    // Trusted, the IdP's address links to the account that has it.
    let trusting = app_with_saml(backend, &idp, &[]).await;
    let carol = trusting.register("carol@example.com").await;
    idp.control(json!({"name_id": "carol-1", "name_id_format": "persistent", "attributes": {"email": "carol@example.com"}}))
        .await;
    let linked = signs_in(&trusting).await;
    assert_eq!(linked["user"]["id"], carol.body["user"]["id"]);
}
