//! Access tokens (JWT), refresh tokens, their cookie, and the session rules.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::parse::{bad, parse_bool, parse_num, parse_product, SettingsError};
use super::sources::Raw;
use super::AppEnv;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtAlg {
    Es256,
    EdDsa,
    Rs256,
    Hs256,
}

impl JwtAlg {
    pub fn name(self) -> &'static str {
        match self {
            JwtAlg::Es256 => "ES256",
            JwtAlg::EdDsa => "EdDSA",
            JwtAlg::Rs256 => "RS256",
            JwtAlg::Hs256 => "HS256",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Cookie,
    Body,
    Both,
}

impl Delivery {
    pub fn cookie(self) -> bool {
        matches!(self, Delivery::Cookie | Delivery::Both)
    }
    pub fn body(self) -> bool {
        matches!(self, Delivery::Body | Delivery::Both)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

#[derive(Clone, Debug)]
pub struct JwtSettings {
    pub alg: JwtAlg,
    /// The HS256 key; required only for that algorithm.
    pub secret: Option<SecretString>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub leeway: Duration,
    /// How long a rotated key is published before it signs.
    pub prepublish: Duration,
    /// Scheduled rotation; `None` rotates only on `latch keys rotate`.
    pub rotation: Option<Duration>,
    /// Seals the private signing keys at rest.
    pub keys_encryption_key: Option<SecretString>,
}

#[derive(Clone, Debug)]
pub struct RefreshSettings {
    /// Key of the HMAC that refresh and one-time tokens are stored under. `None` until
    /// resolved (development generates and keeps one; production refuses to start without).
    pub secret: Option<SecretString>,
    pub ttl: Duration,
    pub reuse_grace: Duration,
    pub delivery: Delivery,
    pub cookie_samesite: SameSite,
    pub cookie_secure: bool,
    pub max_active_sessions: u32,
    /// `SESSION_MAX_AGE`: a session ends this long after it opened, however often it
    /// refreshes.
    pub max_age: Duration,
}

/// What opening and refreshing sessions needs to know.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    pub max_active: u32,
    pub lifetime: Duration,
    pub max_age: Duration,
    pub reuse_grace: Duration,
}

impl RefreshSettings {
    pub fn policy(&self) -> SessionPolicy {
        SessionPolicy {
            max_active: self.max_active_sessions,
            lifetime: self.ttl,
            max_age: self.max_age,
            reuse_grace: self.reuse_grace,
        }
    }
}

/// Production secrets need at least this many characters (not bytes).
const MIN_SECRET_CHARS: usize = 32;

fn weak(s: &Option<SecretString>) -> bool {
    s.as_ref()
        .is_none_or(|s| s.expose_secret().chars().count() < MIN_SECRET_CHARS)
}

/// Milliseconds (a product like `1000 * 60 * 15` is accepted), at least one second.
pub fn millis(raw: &Raw, n: &str, default: u64) -> Result<Duration, SettingsError> {
    let ms = raw.get(n).map_or(Ok(default), |v| parse_product(n, v))?;
    if ms < 1000 {
        return Err(bad(n, "is in milliseconds and must be at least 1000"));
    }
    Ok(Duration::from_millis(ms))
}

/// Seconds (a product is accepted).
pub fn seconds(raw: &Raw, n: &str, default: u64) -> Result<Duration, SettingsError> {
    raw.get(n)
        .map_or(Ok(default), |v| parse_product(n, v))
        .map(Duration::from_secs)
}

pub fn jwt(
    raw: &Raw,
    app_env: AppEnv,
    server_url: Option<&str>,
) -> Result<JwtSettings, SettingsError> {
    let alg = match raw.get("JWT_ALG").unwrap_or("ES256") {
        "ES256" => JwtAlg::Es256,
        "EdDSA" | "EDDSA" | "Ed25519" => JwtAlg::EdDsa,
        "RS256" => JwtAlg::Rs256,
        "HS256" => JwtAlg::Hs256,
        other => {
            return Err(bad(
                "JWT_ALG",
                format!("expected ES256, EdDSA, RS256 or HS256, got `{other}`"),
            ))
        }
    };
    let secret = raw
        .get("JWT_SECRET")
        .map(|v| SecretString::from(v.to_string()));
    if app_env == AppEnv::Production && alg == JwtAlg::Hs256 && weak(&secret) {
        return Err(bad(
            "JWT_SECRET",
            "a production start with JWT_ALG=HS256 needs at least 32 random characters",
        ));
    }
    let keys_encryption_key = raw
        .get("JWT_KEYS_ENCRYPTION_KEY")
        .map(|v| SecretString::from(v.to_string()));
    if keys_encryption_key.is_some() && weak(&keys_encryption_key) {
        return Err(bad(
            "JWT_KEYS_ENCRYPTION_KEY",
            "needs at least 32 random characters",
        ));
    }
    if app_env == AppEnv::Production && alg != JwtAlg::Hs256 && keys_encryption_key.is_none() {
        return Err(bad(
            "JWT_KEYS_ENCRYPTION_KEY",
            "a production start with an asymmetric JWT_ALG needs it (at least 32 random characters) to encrypt the signing keys at rest",
        ));
    }
    let rotation_days = raw
        .get("JWT_KEY_ROTATION_DAYS")
        .map_or(Ok(0), |v| parse_num::<u32>("JWT_KEY_ROTATION_DAYS", v))?;
    Ok(JwtSettings {
        alg,
        secret,
        prepublish: seconds(raw, "JWT_KEY_PREPUBLISH", 600)?,
        rotation: (rotation_days > 0)
            .then(|| Duration::from_secs(u64::from(rotation_days) * 24 * 60 * 60)),
        keys_encryption_key,
        issuer: raw
            .get("JWT_ISSUER")
            .map(str::to_string)
            .or_else(|| server_url.map(str::to_string))
            .unwrap_or_else(|| "latch".to_string()),
        audience: raw.get("JWT_AUDIENCE").unwrap_or("latch").to_string(),
        access_ttl: millis(raw, "SESSION_EXPIRY", 15 * 60 * 1000)?,
        leeway: seconds(raw, "JWT_LEEWAY", 30)?,
    })
}

pub fn refresh(raw: &Raw, app_env: AppEnv) -> Result<RefreshSettings, SettingsError> {
    let secret = raw
        .get("JWT_REFRESH_SECRET")
        .map(|v| SecretString::from(v.to_string()));
    if app_env == AppEnv::Production && weak(&secret) {
        return Err(bad(
            "JWT_REFRESH_SECRET",
            "a production start needs at least 32 random characters",
        ));
    }
    let lower = |n: &str| raw.get(n).map(str::to_ascii_lowercase);
    let delivery = match lower("REFRESH_TOKEN_DELIVERY").as_deref() {
        None | Some("cookie") => Delivery::Cookie,
        Some("body") => Delivery::Body,
        Some("both") => Delivery::Both,
        Some(other) => {
            return Err(bad(
                "REFRESH_TOKEN_DELIVERY",
                format!("expected cookie, body or both, got `{other}`"),
            ))
        }
    };
    let cookie_samesite = match lower("COOKIE_SAMESITE").as_deref() {
        None | Some("strict") => SameSite::Strict,
        Some("lax") => SameSite::Lax,
        Some("none") => SameSite::None,
        Some(other) => {
            return Err(bad(
                "COOKIE_SAMESITE",
                format!("expected strict, lax or none, got `{other}`"),
            ))
        }
    };
    // LibreChat's SESSION_COOKIE_SECURE means the same; Latch's own name wins.
    let cookie_secure = match (raw.get("COOKIE_SECURE"), raw.get("SESSION_COOKIE_SECURE")) {
        (Some(v), _) => parse_bool("COOKIE_SECURE", v)?,
        (None, Some(v)) => parse_bool("SESSION_COOKIE_SECURE", v)?,
        (None, None) => true,
    };
    if cookie_samesite == SameSite::None && !cookie_secure {
        return Err(bad(
            "COOKIE_SAMESITE",
            "`none` needs COOKIE_SECURE=true (browsers drop such cookies otherwise)",
        ));
    }
    let max_active_sessions = raw
        .get("MAX_ACTIVE_SESSIONS")
        .map_or(Ok(3), |v| parse_num::<u32>("MAX_ACTIVE_SESSIONS", v))?;
    if max_active_sessions == 0 {
        return Err(bad("MAX_ACTIVE_SESSIONS", "must be at least 1"));
    }
    Ok(RefreshSettings {
        secret,
        ttl: millis(raw, "REFRESH_TOKEN_EXPIRY", 7 * 24 * 60 * 60 * 1000)?,
        reuse_grace: seconds(raw, "REFRESH_REUSE_GRACE", 10)?,
        delivery,
        cookie_samesite,
        cookie_secure,
        max_active_sessions,
        max_age: millis(raw, "SESSION_MAX_AGE", 30 * 24 * 60 * 60 * 1000)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_configured_service_token_is_admitted_and_nothing_else() {
        let tokens = ServiceTokens::new(["first-token", "second-token"]);
        assert!(tokens.admit("first-token") && tokens.admit("second-token"));
        for other in ["", "first", "first-token ", "second-token2", "FIRST-TOKEN"] {
            assert!(!tokens.admit(other), "{other:?}");
        }
        assert!(ServiceTokens::default().is_empty());
        assert!(!ServiceTokens::default().admit(""));
        assert_eq!(format!("{tokens:?}"), "ServiceTokens(2 configured)");
    }

    #[test]
    fn secret_length_counts_characters() {
        // 31 two-byte characters: 62 bytes, but too short.
        let short = "é".repeat(31);
        let raw = Raw::from_pairs(&[("JWT_REFRESH_SECRET", &short)]);
        let e = refresh(&raw, AppEnv::Production).unwrap_err().to_string();
        assert!(e.contains("JWT_REFRESH_SECRET"), "{e}");
        let long = "é".repeat(32);
        let raw = Raw::from_pairs(&[("JWT_REFRESH_SECRET", &long)]);
        assert!(refresh(&raw, AppEnv::Production).is_ok());
    }
}

/// `SERVICE_TOKENS`, kept as SHA-256 digests: a presented token is hashed once and
/// compared with every digest in constant time, so neither its length nor its content
/// leaks through timing, and the tokens' text is not kept.
#[derive(Clone, Default)]
pub struct ServiceTokens(Vec<[u8; 32]>);

impl std::fmt::Debug for ServiceTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServiceTokens({} configured)", self.0.len())
    }
}

impl ServiceTokens {
    pub fn new<'a>(tokens: impl IntoIterator<Item = &'a str>) -> ServiceTokens {
        ServiceTokens(tokens.into_iter().map(digest).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `presented` is one of them.
    pub fn admit(&self, presented: &str) -> bool {
        let presented = digest(presented);
        self.0.iter().fold(false, |matched, t| {
            matched | constant_time_eq::constant_time_eq_32(t, &presented)
        })
    }
}

fn digest(token: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes()).into()
}
