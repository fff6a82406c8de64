//! What an attacker controls, fed to the code that reads it first: each function here is
//! the body of one `cargo fuzz` target (`fuzz/fuzz_targets/`) and is also replayed over
//! the committed corpora by `cargo test` (`tests/fuzz_corpora.rs`), so a finding stays a
//! regression test. Each must return without panicking whatever the bytes, and checks
//! the properties its input has to keep.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;

use actix_web::test::TestRequest;
use serde_json::Value;

use crate::auth::keys::{generate, KeyRing};
use crate::auth::tokens::TokenIssuer;
use crate::settings::tokens::{JwtAlg, JwtSettings};

/// The HS256 secret the corpus tokens are signed with.
pub const FUZZ_JWT_SECRET: &str = "a fuzzing secret of thirty-two bytes or more";
pub const FUZZ_ISSUER: &str = "latch";
pub const FUZZ_AUDIENCE: &str = "latch";

const FUZZ_TOKEN_LIFETIME: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

fn jwt_settings(alg: JwtAlg) -> JwtSettings {
    JwtSettings {
        alg,
        secret: None,
        issuer: FUZZ_ISSUER.into(),
        audience: FUZZ_AUDIENCE.into(),
        // A century: the seed token must verify for as long as the corpus is kept, and no
        // token may live longer than this lifetime.
        access_ttl: FUZZ_TOKEN_LIFETIME,
        leeway: Duration::from_secs(30),
        prepublish: Duration::ZERO,
        rotation: None,
        keys_encryption_key: None,
    }
}

fn issuers() -> &'static [TokenIssuer; 2] {
    static ISSUERS: OnceLock<[TokenIssuer; 2]> = OnceLock::new();
    ISSUERS.get_or_init(|| {
        let now = chrono::Utc::now().naive_utc();
        let key = generate(JwtAlg::Es256, None, now).expect("an ES256 key");
        let es256 = KeyRing::from_keys(JwtAlg::Es256, &[key], None, now).expect("a key ring");
        let hs256 = KeyRing::hmac(FUZZ_JWT_SECRET.as_bytes()).expect("a key ring");
        [
            TokenIssuer::new(es256, &jwt_settings(JwtAlg::Es256)),
            TokenIssuer::new(hs256, &jwt_settings(JwtAlg::Hs256)),
        ]
    })
}

/// A bearer token as presented: verified by an ES256 and an HS256 issuer. Whatever it
/// accepts carries our issuer and audience and has not expired.
pub fn access_token(data: &[u8]) {
    let token = String::from_utf8_lossy(data);
    let now = chrono::Utc::now().timestamp();
    for issuer in issuers() {
        // Twice: the second answer comes from the cache of verified tokens.
        let first = issuer.verify(&token).ok();
        let second = issuer.verify(&token).ok();
        assert_eq!(
            first.is_some(),
            second.is_some(),
            "the cache changed the answer"
        );
        if let Some(claims) = first {
            assert_eq!(claims.iss, FUZZ_ISSUER);
            assert_eq!(claims.aud, FUZZ_AUDIENCE);
            assert!(claims.exp + 30 >= now, "an expired token was accepted");
            let lifetime = FUZZ_TOKEN_LIFETIME.as_secs() as i64 + 30;
            assert!(
                claims.exp - claims.iat <= lifetime,
                "a token lives too long"
            );
        }
    }
}

/// A refresh or one-time token as presented: only the exact shape `generate` makes is
/// looked up, and its stored hash is a fixed-length hex digest.
pub fn opaque_token(data: &[u8]) {
    use crate::auth::opaque_token::{looks_valid, TokenKey};
    let token = String::from_utf8_lossy(data);
    if looks_valid(&token) {
        assert_eq!(token.len(), 43);
        let hash = TokenKey::new(b"key").hash(&token);
        assert_eq!(hash.len(), 64);
    }
}

/// The request headers an attacker writes: `Authorization`, `Cookie` and
/// `X-Forwarded-For`, split from the input at newlines. The client address is always the
/// peer or one of the listed addresses, never something else.
pub fn request_headers(data: &[u8]) {
    use actix_web::http::header::HeaderValue;
    let mut parts = data.splitn(4, |&b| b == b'\n');
    let authorization = parts.next().unwrap_or_default();
    let cookie = parts.next().unwrap_or_default();
    let forwarded = parts.next().unwrap_or_default();
    let hops = parts.next().map_or(1, |h| h.len() % 4);

    let mut req = TestRequest::default();
    for (name, value) in [
        ("authorization", authorization),
        ("cookie", cookie),
        ("x-forwarded-for", forwarded),
    ] {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            req = req.insert_header((name, v));
        }
    }
    let req = req.to_http_request();
    if let Some(token) = crate::auth::extractor::bearer(&req) {
        assert!(!token.is_empty() && token.trim() == token);
    }
    let _ = req.cookie(crate::routes::REFRESH_COOKIE);

    let peer: IpAddr = [10, 0, 0, 1].into();
    let header = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let ip = crate::auth::client::client_ip(Some(peer), header, hops);
    // Never none (that would put every such client in one bucket), and without a
    // believed header, the peer.
    let ip = ip.expect("the peer is always known here");
    assert!(
        ip == peer || (header.is_some() && hops > 0),
        "{ip} came from nowhere"
    );
}

/// A product in the configuration (`LOGIN_WINDOW=5*60*1000`): a number or a clear error,
/// never an overflow.
pub fn settings_product(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(n) = crate::settings::parse::parse_product("FUZZ", &text) {
        let digits: Vec<u64> = text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().expect("a factor that parsed once"))
            .collect();
        assert_eq!(digits.iter().product::<u64>(), n);
    }
}

/// An email address: normalising is idempotent, so the stored form is found again.
pub fn email(data: &[u8]) {
    use crate::domain::Email;
    let text = String::from_utf8_lossy(data);
    if let Ok(email) = Email::parse("email", &text) {
        let again = Email::parse("email", email.as_str()).expect("a normalised address parses");
        assert_eq!(again, email);
        assert!(email.as_str().len() <= 254);
        assert!(!email.local_part().is_empty());
    }
}

/// Every JSON request body the sign-in and second-factor endpoints read, WebAuthn's
/// included: each either parses or is a `400`, never anything else.
pub fn json_bodies(data: &[u8]) {
    use crate::error::ApiError;
    use crate::routes::json::parse;
    use crate::routes::{auth, mfa, passkeys};
    fn check<T: serde::de::DeserializeOwned>(data: &[u8]) {
        if let Err(e) = parse::<T>(data) {
            assert!(matches!(e, ApiError::InvalidRequest(_)), "{e:?}");
        }
    }
    check::<auth::RegisterRequest>(data);
    check::<auth::LoginRequest>(data);
    check::<auth::RefreshRequest>(data);
    check::<mfa::MfaVerifyRequest>(data);
    check::<passkeys::RegisterPasskeyRequest>(data);
    check::<passkeys::PasskeySignInRequest>(data);
    check::<passkeys::PasskeyOptionsRequest>(data);
}

/// A provider's answer: the callback's query string, and the claims documents read for
/// the email, its verification, the name and roles.
pub fn oauth_callback(data: &[u8]) {
    use crate::settings::social::{RoleRule, TokenKind};
    use crate::social::identity::{address_of, holds_role, jwt_payload, name_of, Documents};
    use crate::social::Callback;
    let mut parts = data.splitn(2, |&b| b == b'\n');
    let query = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let _ = actix_web::web::Query::<Callback>::from_query(&query);

    let doc = parts
        .next()
        .and_then(|d| serde_json::from_slice::<Value>(d).ok());
    let docs = Documents {
        id_token: doc.clone(),
        userinfo: doc,
        access_token: jwt_payload(&query),
    };
    let (email, verified) = address_of(&docs, None, "email_verified", false);
    assert!(!verified || email.is_some(), "verified without an address");
    let _ = name_of(&docs, None);
    for token in [TokenKind::Id, TokenKind::Access, TokenKind::Userinfo] {
        let rule = RoleRule {
            roles: vec!["admin".into()],
            path: "realm_access.roles".into(),
            token,
        };
        let _ = holds_role(&docs, &rule);
    }
}

/// The ACS URL and request ID the SAML target checks responses against.
pub const FUZZ_SAML_ACS: &str = "https://chat.example/auth/oauth/saml/callback";
pub const FUZZ_SAML_REQUEST: &str = "id-fuzz";

fn saml_provider() -> &'static crate::social::saml::SamlProvider {
    use crate::settings::saml::{certificate, SamlConfig};
    use crate::settings::{ProviderConfig, ProviderKind};
    static PROVIDER: OnceLock<crate::social::saml::SamlProvider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        // The test IdP's public certificate: the corpus holds responses it signed.
        let pem = include_str!("../tests/providers/saml/idp.crt");
        let config = ProviderConfig {
            id: "saml".into(),
            name: "SAML".into(),
            client_id: String::new(),
            client_secret: None,
            kind: ProviderKind::Saml(Box::new(SamlConfig {
                entry_point: "https://idp.example/sso".into(),
                entity_id: "https://chat.example/saml".into(),
                idp_cert: certificate(pem).expect("the test certificate"),
                require_response_signed: false,
                given_name_claim: None,
                family_name_claim: None,
            })),
            scopes: Vec::new(),
            callback_path: "/auth/oauth/saml/callback".into(),
            email_claim: Some("email".into()),
            trust_email: false,
            username_claim: None,
            audience: None,
            secret_in_body: false,
            name_claim: None,
            required_role: None,
            admin_role: None,
            image_url: None,
        };
        crate::social::saml::SamlProvider::new(
            std::sync::Arc::new(config),
            FUZZ_SAML_ACS,
            Duration::from_secs(5),
        )
        .expect("a SAML provider")
    })
}

/// A posted SAML response (the XML, before its base64): its shape, then the whole check
/// (signature, reduction, conditions) through xmlsec and libxml2. Whatever passes the
/// shape has one assertion and an issuer; nothing is ever accepted unsigned.
pub fn saml_response(data: &[u8]) {
    use crate::social::saml::inspect;
    use base64::Engine as _;
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(shape) = inspect(xml, FUZZ_SAML_ACS, FUZZ_SAML_REQUEST) {
        assert!(!shape.assertion_id.is_empty() && !shape.issuer.is_empty());
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    if let Ok(accepted) = saml_provider().finish(&encoded, FUZZ_SAML_REQUEST) {
        // Only a response signed by the test IdP, for this ACS and request, gets here.
        assert!(xml.contains("SignatureValue"), "accepted unsigned");
        assert!(!accepted.identity.subject.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The corpus starts from a token that verifies, so the fuzzer explores the claims
    /// checks and not only the parsing in front of them.
    #[test]
    fn the_seed_token_verifies() {
        let seed = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/corpus/access_token/valid_hs256"
        );
        let token = std::fs::read_to_string(seed).unwrap();
        let claims = issuers()[1].verify(&token).unwrap();
        assert_eq!(claims.sub, "u1");
    }
}
