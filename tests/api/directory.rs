//! Directory sign-in against a real OpenLDAP (see `slapd`): the directory checks the
//! password, and the one sign-in pipeline does the rest.

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, start, Backend, Reply, TestApp};
use crate::slapd::{Slapd, BASE};

const ROOT: &str = "root@example.com";
const ROOT_PASSWORD: &str = "root-password-1";

crate::both_backends!(
    directory_people_sign_in_by_address,
    usernames_sign_in_and_every_value_is_escaped,
    an_entry_without_an_address_gets_one_nobody_mails,
    a_moved_entry_keeps_its_account,
    a_directory_down_or_silent_is_503_and_local_accounts_go_on,
    starttls_and_ldaps_with_a_test_ca,
    an_active_directory_style_filter,
    an_entry_without_a_uid_is_keyed_as_librechat_keyed_it,
    an_entry_keyed_by_its_dn_reauthenticates,
    second_factor_bans_and_limits_apply,
    directory_addresses_link_only_when_trusted,
);

/// `POST /auth/reauthenticate` with `password`.
async fn reauth(app: &TestApp, token: &str, password: &str) -> Reply {
    let body = json!({ "password": password });
    app.post("/auth/reauthenticate", &body, Some(token)).await
}

/// `POST /auth/mfa/totp/disable` with `password`.
async fn totp_off(app: &TestApp, token: &str, password: &str) -> Reply {
    let body = json!({ "password": password });
    app.post("/auth/mfa/totp/disable", &body, Some(token)).await
}

/// A Latch that signs in against `slapd`, with a local admin (`root@example.com`, a
/// password of its own) made at start; `extra` settings last.
async fn app(backend: Backend, slapd: &Slapd, extra: &[(&str, &str)]) -> TestApp {
    let env = settings(slapd, extra);
    let all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_with(backend, &all).await
}

/// Another server on `app`'s database, as after a change of settings.
async fn restarted(app: &TestApp, slapd: &Slapd, extra: &[(&str, &str)]) -> TestApp {
    let env = settings(slapd, extra);
    let all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    start(app.db.clone(), &all).await
}

fn settings<'a>(slapd: &Slapd, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, String)> {
    let mut env = slapd.env();
    env.push(("INITIAL_USER_EMAIL", ROOT.into()));
    env.push(("INITIAL_USER_PASSWORD", ROOT_PASSWORD.into()));
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    env
}

async fn sign_in(app: &TestApp, login: &str, password: &str) -> Reply {
    app.post(
        "/auth/login",
        &json!({"email": login, "password": password}),
        None,
    )
    .await
}

/// A directory sign-in that must succeed: the answer (`user`, `access_token`…).
pub async fn directory_sign_in(app: &TestApp, login: &str, password: &str) -> Value {
    let r = sign_in(app, login, password).await;
    assert_eq!(r.status, 200, "{login}: {}", r.text);
    r.body
}

/// Signs in, which must succeed: the user object.
async fn signed_in(app: &TestApp, login: &str, password: &str) -> (Value, String) {
    let r = sign_in(app, login, password).await;
    assert_eq!(r.status, 200, "{login}: {}", r.text);
    assert!(r.body["mfa_required"].is_null(), "{}", r.text);
    (r.body["user"].clone(), r.access_token())
}

/// The operations the directory logged: (searches, binds other than the service's,
/// binds refused as invalid credentials).
fn operations(slapd: &Slapd) -> (usize, usize, usize) {
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = slapd.log();
    let searches = log.matches(" SRCH base=").count();
    let binds = log
        .lines()
        .filter(|l| l.contains(" BIND dn=") && !l.contains(crate::slapd::SERVICE_DN))
        .count();
    let refused = log.matches("RESULT tag=97 err=49").count();
    (searches, binds, refused)
}

async fn directory_people_sign_in_by_address(backend: Backend) {
    let slapd = Slapd::start(false);
    let app = app(backend, &slapd, &[("ALLOW_REGISTRATION", "false")]).await;
    let config = app.get("/auth/config", None).await;
    assert_eq!(
        config.body["ldap"],
        json!({"username": false}),
        "{}",
        config.text
    );
    assert_eq!(config.body["password_login"], true);
    assert_eq!(config.body["registration"], false);

    // The directory decides who has an account, whatever ALLOW_REGISTRATION says.
    let (ada, token) = signed_in(&app, "ada@example.com", "pw-ada").await;
    assert_eq!(ada["email"], "ada@example.com");
    assert_eq!(ada["name"], "Ada Example");
    assert_eq!(ada["username"], "ada");
    assert_eq!(ada["role"], "user", "the local admin came first");
    assert_eq!(ada["email_verified"], false, "the directory is not trusted");
    let ids = app.get("/auth/identities", Some(&token)).await;
    let ids = ids.body["identities"].as_array().unwrap().clone();
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0]["provider"], "ldap");
    // Again: the same account (the identity is found by its LDAP_ID).
    let (again, _) = signed_in(&app, "ADA@example.com", "pw-ada").await;
    assert_eq!(again["id"], ada["id"]);

    // A wrong password and an unknown person: one answer, and the same work in the
    // directory (one search and one refused bind each).
    let before = operations(&slapd);
    let wrong = sign_in(&app, "ada@example.com", "pw-grace").await;
    wrong.assert_problem(401, "invalid_credentials");
    let middle = operations(&slapd);
    let unknown = sign_in(&app, "nobody@example.com", "pw-ada").await;
    unknown.assert_problem(401, "invalid_credentials");
    let after = operations(&slapd);
    assert_eq!(wrong.body, unknown.body);
    let step =
        |a: (usize, usize, usize), b: (usize, usize, usize)| (b.0 - a.0, b.1 - a.1, b.2 - a.2);
    assert_eq!(step(before, middle), (1, 1, 1), "{}", slapd.log());
    assert_eq!(step(middle, after), (1, 1, 1), "{}", slapd.log());
    // An empty password is no unauthenticated bind.
    sign_in(&app, "ada@example.com", "")
        .await
        .assert_problem(401, "invalid_credentials");

    // The local admin signs in with its own password; the directory knows nobody by it.
    signed_in(&app, ROOT, ROOT_PASSWORD).await;
    sign_in(&app, ROOT, "pw-ada")
        .await
        .assert_problem(401, "invalid_credentials");

    // Reauthentication of a directory account asks the directory.
    let r = app
        .post(
            "/auth/reauthenticate",
            &json!({"password": "pw-grace"}),
            Some(&token),
        )
        .await;
    assert_ne!(r.status, 200, "{}", r.text);
    let r = app
        .post(
            "/auth/reauthenticate",
            &json!({"password": "pw-ada"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // ALLOW_EMAIL_LOGIN=false: the directory only.
    let only = restarted(&app, &slapd, &[("ALLOW_EMAIL_LOGIN", "false")]).await;
    assert_eq!(
        only.get("/auth/config", None).await.body["password_login"],
        true
    );
    sign_in(&only, ROOT, ROOT_PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    signed_in(&only, "ada@example.com", "pw-ada").await;
}

async fn usernames_sign_in_and_every_value_is_escaped(backend: Backend) {
    let slapd = Slapd::start(false);
    let app = app(
        backend,
        &slapd,
        &[
            ("LDAP_LOGIN_USES_USERNAME", "true"),
            ("LDAP_SEARCH_FILTER", "uid={{username}}"),
        ],
    )
    .await;
    let config = app.get("/auth/config", None).await;
    assert_eq!(config.body["ldap"], json!({"username": true}));
    // In `email`, as LibreChat's form sends it, or in `username`.
    let (ada, _) = signed_in(&app, "ada", "pw-ada").await;
    let r = app
        .post(
            "/auth/login",
            &json!({"username": "Ada", "password": "pw-ada"}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["id"], ada["id"]);
    app.post("/auth/login", &json!({"password": "pw-ada"}), None)
        .await
        .assert_problem(422, "validation_failed");

    // RFC 4515's special characters are values, never filter syntax: unescaped, `ad*`
    // would find Ada alone and sign in with her password, and `(` would be a broken filter.
    for login in [
        "*",
        "ad*",
        "a*a",
        "*)(uid=*",
        "ada)(|(uid=*",
        "ada)(uid=ada",
        "(",
        ")",
        "\\",
        "ada\\",
        "ada\u{0}",
        "\u{0}",
        "ad\\2a",
        "ünïcödé",
    ] {
        let r = sign_in(&app, login, "pw-ada").await;
        r.assert_problem(401, "invalid_credentials");
    }
    let log = slapd.log();
    assert!(log.contains(r#"filter="(uid=ad\2A)""#), "{log}");
    assert!(log.contains(r#"filter="(uid=ada\00)""#), "{log}");
    // The directory is still well and Ada still signs in.
    signed_in(&app, "ada", "pw-ada").await;
}

async fn an_entry_without_an_address_gets_one_nobody_mails(backend: Backend) {
    let slapd = Slapd::start(false);
    let sink = crate::smtp::SmtpSink::start(crate::smtp::Tls::None);
    let mut extra: Vec<(&str, String)> = sink.env();
    extra.push(("LDAP_LOGIN_USES_USERNAME", "true".into()));
    extra.push(("LDAP_SEARCH_FILTER", "(uid={{username}})".into()));
    extra.push(("REQUIRE_EMAIL_VERIFICATION", "true".into()));
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = app(backend, &slapd, &extra).await;
    // Verification is asked of password registrations, not of the directory's people.
    let (nomail, token) = signed_in(&app, "nomail", "pw-nomail").await;
    assert_eq!(nomail["email"], "nomail@ldap.invalid");
    assert_eq!(nomail["email_verified"], false);
    let me = app.get("/auth/me", Some(&token)).await;
    assert_eq!(me.body["email"], "nomail@ldap.invalid");
    // Nothing is ever sent there.
    for (path, body) in [
        (
            "/auth/password/forgot",
            json!({"email": "nomail@ldap.invalid"}),
        ),
        ("/auth/magic-link", json!({"email": "nomail@ldap.invalid"})),
        (
            "/auth/email/verify/resend",
            json!({"email": "nomail@ldap.invalid"}),
        ),
    ] {
        let r = app.post(path, &body, None).await;
        assert_eq!(r.status, 202, "{path}: {}", r.text);
    }
    // A message to a real address goes out, so the sink would have seen the others.
    app.post("/auth/password/forgot", &json!({"email": ROOT}), None)
        .await;
    let mails = sink.wait_for(1, |_| true).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let all = sink.messages();
    assert_eq!(
        all.len(),
        1,
        "only root's: {:?}",
        all.iter().map(|m| &m.to).collect::<Vec<_>>()
    );
    assert_eq!(mails[0].to, ROOT);
    // Signing in again finds the same account by its identity.
    let (again, _) = signed_in(&app, "nomail", "pw-nomail").await;
    assert_eq!(again["id"], nomail["id"]);
}

async fn a_moved_entry_keeps_its_account(backend: Backend) {
    let slapd = Slapd::start(false);
    let app = app(
        backend,
        &slapd,
        &[
            ("LDAP_USER_SEARCH_BASE", "dc=example,dc=com"),
            ("LDAP_LOGIN_USES_USERNAME", "true"),
            ("LDAP_SEARCH_FILTER", "uid={{username}}"),
            ("LDAP_ID", "employeeNumber"),
        ],
    )
    .await;
    let (before, _) = signed_in(&app, "jdoe", "pw-jdoe").await;
    // Renamed and moved to another branch: a new DN, a new uid, the same employeeNumber.
    slapd.modify(&format!(
        "dn: uid=jdoe,{BASE}\nchangetype: modrdn\nnewrdn: uid=johnd\ndeleteoldrdn: 1\n\
         newsuperior: ou=moved,dc=example,dc=com\n"
    ));
    sign_in(&app, "jdoe", "pw-jdoe")
        .await
        .assert_problem(401, "invalid_credentials");
    let (after, token) = signed_in(&app, "johnd", "pw-jdoe").await;
    assert_eq!(
        after["id"], before["id"],
        "the same person, the same account"
    );
    let ids = app.get("/auth/identities", Some(&token)).await;
    assert_eq!(
        ids.body["identities"].as_array().unwrap().len(),
        1,
        "{}",
        ids.text
    );
    // Another entry is another account.
    let (other, _) = signed_in(&app, "jdoe2", "pw-jdoe2").await;
    assert_ne!(other["id"], before["id"]);
}

async fn a_directory_down_or_silent_is_503_and_local_accounts_go_on(backend: Backend) {
    let mut slapd = Slapd::start(false);
    let app = app(backend, &slapd, &[]).await;
    let (ada, _) = signed_in(&app, "ada@example.com", "pw-ada").await;
    let root = signed_in(&app, ROOT, ROOT_PASSWORD).await.1;
    // Ada's account is given a local password: with the directory on, it is not hers to
    // sign in with.
    let ada_id = ada["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/admin/users/{ada_id}/password"),
            &json!({"password": "a-local-password"}),
            Some(&root),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    sign_in(&app, "ada@example.com", "a-local-password")
        .await
        .assert_problem(401, "invalid_credentials");

    slapd.stop();
    for (login, password) in [
        ("ada@example.com", "pw-ada"),
        ("ada@example.com", "a-local-password"),
        ("nobody@example.com", "whatever"),
    ] {
        let r = sign_in(&app, login, password).await;
        r.assert_problem(503, "service_unavailable");
        assert!(r.header("retry-after").is_some(), "{:?}", r.headers);
    }
    // Accounts with a local password sign in locally meanwhile.
    signed_in(&app, ROOT, ROOT_PASSWORD).await;
    sign_in(&app, ROOT, "wrong-password")
        .await
        .assert_problem(401, "invalid_credentials");

    // Back: the service connection is made again.
    slapd.resume_service();
    signed_in(&app, "ada@example.com", "pw-ada").await;

    // Alive but silent: past LDAP_TIMEOUT, 503.
    slapd.freeze(true);
    sign_in(&app, "ada@example.com", "pw-ada")
        .await
        .assert_problem(503, "service_unavailable");
    slapd.freeze(false);
    signed_in(&app, "ada@example.com", "pw-ada").await;

    // A service bind the directory refuses is the directory's fault too.
    let refused = restarted(&app, &slapd, &[("LDAP_BIND_CREDENTIALS", "wrong")]).await;
    sign_in(&refused, "ada@example.com", "pw-ada")
        .await
        .assert_problem(503, "service_unavailable");
}

async fn starttls_and_ldaps_with_a_test_ca(backend: Backend) {
    let slapd = Slapd::start(true);
    let ca = slapd.ca_path().display().to_string();
    let app = app(
        backend,
        &slapd,
        &[("LDAP_STARTTLS", "true"), ("LDAP_CA_CERT_PATH", &ca)],
    )
    .await;
    signed_in(&app, "ada@example.com", "pw-ada").await;
    assert!(
        slapd.log().contains("EXT oid=1.3.6.1.4.1.1466.20037"),
        "StartTLS was asked for"
    );
    let ldaps = slapd.ldaps_url();
    let over_ldaps = restarted(
        &app,
        &slapd,
        &[("LDAP_URL", &ldaps), ("LDAP_CA_CERT_PATH", &ca)],
    )
    .await;
    signed_in(&over_ldaps, "ada@example.com", "pw-ada").await;
    // A certificate nobody vouched for is refused...
    let untrusted = restarted(&app, &slapd, &[("LDAP_STARTTLS", "true")]).await;
    sign_in(&untrusted, "ada@example.com", "pw-ada")
        .await
        .assert_problem(503, "service_unavailable");
    // ...unless the operator says otherwise.
    let lax = restarted(
        &app,
        &slapd,
        &[
            ("LDAP_STARTTLS", "true"),
            ("LDAP_TLS_REJECT_UNAUTHORIZED", "false"),
        ],
    )
    .await;
    signed_in(&lax, "ada@example.com", "pw-ada").await;
}

async fn an_active_directory_style_filter(backend: Backend) {
    let slapd = Slapd::start(false);
    let app = app(
        backend,
        &slapd,
        &[
            (
                "LDAP_SEARCH_FILTER",
                "(&(objectClass=adAccount)(sAMAccountName={{username}}))",
            ),
            ("LDAP_LOGIN_USES_USERNAME", "true"),
            ("LDAP_ID", "sAMAccountName"),
            ("LDAP_USERNAME", "sAMAccountName"),
            ("LDAP_EMAIL", "userPrincipalName"),
            ("LDAP_FULL_NAME", "givenName,sn"),
        ],
    )
    .await;
    let (ada, _) = signed_in(&app, "ada", "pw-ada").await;
    assert_eq!(ada["email"], "ada@corp.example.com");
    assert_eq!(ada["username"], "ada", "usernames are kept in lower case");
    assert_eq!(ada["name"], "Ada Example");
    let (again, _) = signed_in(&app, "ADA", "pw-ada").await;
    assert_eq!(again["id"], ada["id"]);
    sign_in(&app, "ADA", "pw-grace")
        .await
        .assert_problem(401, "invalid_credentials");
}

/// Without `LDAP_ID`, an entry without a `uid` (Active Directory's) is keyed by its
/// `sAMAccountName`, as LibreChat keys it, not by its DN: moved, it keeps its account, and
/// its password is checked for reauthentication.
async fn an_entry_without_a_uid_is_keyed_as_librechat_keyed_it(backend: Backend) {
    let slapd = Slapd::start(false);
    slapd.modify(&format!(
        "dn: cn=Grace Hopper,{BASE}\nchangetype: add\nobjectClass: inetOrgPerson\n\
         objectClass: adAccount\ncn: Grace Hopper\nsn: Hopper\nsAMAccountName: HOPPER\n\
         userPassword: pw-hopper\n"
    ));
    let app = app(
        backend,
        &slapd,
        &[
            ("LDAP_USER_SEARCH_BASE", "dc=example,dc=com"),
            ("LDAP_SEARCH_FILTER", "sAMAccountName={{username}}"),
            ("LDAP_LOGIN_USES_USERNAME", "true"),
        ],
    )
    .await;
    let (before, _) = signed_in(&app, "hopper", "pw-hopper").await;
    slapd.modify(&format!(
        "dn: cn=Grace Hopper,{BASE}\nchangetype: modrdn\nnewrdn: cn=Rear Admiral Hopper\n\
         deleteoldrdn: 1\nnewsuperior: ou=moved,dc=example,dc=com\n"
    ));
    let (after, token) = signed_in(&app, "hopper", "pw-hopper").await;
    assert_eq!(
        after["id"], before["id"],
        "the same person, the same account"
    );
    assert_ne!(reauth(&app, &token, "pw-ada").await.status, 200);
    let r = reauth(&app, &token, "pw-hopper").await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// A person whose entry has none of the key attributes is keyed by the entry's DN, and
/// can prove their password again: `/auth/reauthenticate` and turning TOTP off find the
/// entry at its DN.
async fn an_entry_keyed_by_its_dn_reauthenticates(backend: Backend) {
    let slapd = Slapd::start(false);
    slapd.modify(&format!(
        "dn: cn=Dana Scott,{BASE}\nchangetype: add\nobjectClass: inetOrgPerson\n\
         cn: Dana Scott\nsn: Scott\nmail: dana@example.com\nuserPassword: pw-dana\n"
    ));
    let app = app(backend, &slapd, &[]).await;
    let (_, token) = signed_in(&app, "dana@example.com", "pw-dana").await;
    reauth(&app, &token, "pw-ada")
        .await
        .assert_problem(403, "invalid_credentials");
    let r = reauth(&app, &token, "pw-dana").await;
    assert_eq!(r.status, 200, "{}", r.text);

    crate::second_factor::with_time_left(20).await;
    let fresh = r.access_token();
    crate::second_factor::enable_totp(&app, &fresh, -1).await;
    totp_off(&app, &fresh, "pw-ada")
        .await
        .assert_problem(403, "invalid_credentials");
    let r = totp_off(&app, &fresh, "pw-dana").await;
    assert_eq!(r.status, 204, "{}", r.text);

    // Renamed, the entry is no longer at the DN it was keyed by: no longer that person
    // (and no `503`: the directory answered).
    slapd.modify(&format!(
        "dn: cn=Dana Scott,{BASE}\nchangetype: modrdn\nnewrdn: cn=Dana Scott-Lee\n\
         deleteoldrdn: 1\n"
    ));
    reauth(&app, &token, "pw-dana")
        .await
        .assert_problem(403, "invalid_credentials");
}

async fn second_factor_bans_and_limits_apply(backend: Backend) {
    let slapd = Slapd::start(false);
    let app = app(backend, &slapd, &[]).await;
    let root = signed_in(&app, ROOT, ROOT_PASSWORD).await.1;
    let (ada, token) = signed_in(&app, "ada@example.com", "pw-ada").await;
    // Enabled with the previous step's code, so that this step's is still unspent.
    crate::second_factor::with_time_left(20).await;
    let (secret, _) = crate::second_factor::enable_totp(&app, &token, -1).await;
    // The second factor is asked after the directory's yes.
    let r = sign_in(&app, "ada@example.com", "pw-ada").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["mfa_required"], true, "{}", r.text);
    let mfa_token = r.body["mfa_token"].as_str().unwrap().to_string();
    let code = crate::second_factor::code_at(&secret, crate::second_factor::unix_now());
    let r = app
        .post(
            "/auth/mfa/verify",
            &json!({"mfa_token": mfa_token, "code": code}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["user"]["id"], ada["id"]);
    let claims = crate::protection::payload_of(&r.access_token());
    assert_eq!(claims["amr"], json!(["pwd", "otp"]), "{claims}");

    // TOTP is turned off with the password the account signs in with: the directory's.
    let fresh = r.access_token();
    totp_off(&app, &fresh, "pw-grace")
        .await
        .assert_problem(403, "invalid_credentials");
    let r = totp_off(&app, &fresh, "pw-ada").await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = sign_in(&app, "ada@example.com", "pw-ada").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("mfa_required").is_none(), "{}", r.text);

    // A ban stops the directory's people like everyone else.
    let r = app
        .post(
            "/admin/bans",
            &json!({"user_id": ada["id"], "duration_ms": 60000}),
            Some(&root),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    sign_in(&app, "ada@example.com", "pw-ada")
        .await
        .assert_problem(403, "banned");

    // And the sign-in limit counts directory attempts.
    let limited = self::app(backend, &slapd, &[("LOGIN_MAX", "2")]).await;
    for _ in 0..2 {
        sign_in(&limited, "grace@example.com", "wrong")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    sign_in(&limited, "grace@example.com", "pw-grace")
        .await
        .assert_problem(429, "rate_limited");
}

async fn directory_addresses_link_only_when_trusted(backend: Backend) {
    let slapd = Slapd::start(false);
    let app = app(backend, &slapd, &[]).await;
    // Someone registered Grace's address locally first.
    let local = app.register("grace@example.com").await;
    assert_eq!(local.status, 201, "{}", local.text);
    let local_id = local.body["user"]["id"].clone();
    // The directory is not trusted: its address does not reach that account.
    sign_in(&app, "grace@example.com", "pw-grace")
        .await
        .assert_problem(409, "email_taken");

    let trusted = restarted(&app, &slapd, &[("LDAP_TRUST_EMAIL", "true")]).await;
    let (grace, token) = signed_in(&trusted, "grace@example.com", "pw-grace").await;
    assert_eq!(
        grace["id"], local_id,
        "linked to the account with that address"
    );
    assert_eq!(grace["email_verified"], true);
    let ids = trusted.get("/auth/identities", Some(&token)).await;
    assert_eq!(
        ids.body["identities"][0]["provider"], "ldap",
        "{}",
        ids.text
    );
    // The proof of the address removed what the unproven registrant attached: the local
    // password no longer signs in.
    sign_in(&trusted, "grace@example.com", crate::helpers::PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    // A trusted directory address for a new person makes a verified account.
    let (ada, _) = signed_in(&trusted, "ada@example.com", "pw-ada").await;
    assert_eq!(ada["email_verified"], true);
}
