//! Access tokens: short-lived JWTs checked without a database round trip.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use josekit::jws::JwsHeader;
use josekit::jwt::{self, JwtPayload};
use serde::{Deserialize, Serialize};

use sha2::{Digest, Sha256};

use crate::auth::keys::KeyRing;
use crate::db::models::user::Role;
use crate::db::models::{new_id, Session, User};
use crate::settings::JwtSettings;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The session id.
    pub sid: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    pub email: String,
    pub email_verified: bool,
    pub role: Role,
    /// When the session last proved its account's factors (seconds since the epoch).
    #[serde(default)]
    pub auth_time: i64,
    /// How (RFC 8176 values: `pwd`, `otp`, `hwk`; Latch's `email` and `fed`).
    #[serde(default)]
    pub amr: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed or badly signed token")]
    Invalid,
    #[error("token expired")]
    Expired,
    #[error("token not valid yet")]
    NotYetValid,
    #[error("wrong issuer or audience")]
    WrongAudience,
}

pub struct TokenIssuer {
    /// Replaced when the keys change in the database (see `reload_keys_periodically`).
    keys: RwLock<Arc<KeyRing>>,
    /// Tokens verified already, so a client presenting the same token on every request
    /// costs one signature check, not one per request.
    verified: VerifiedTokens,
    /// Moves on whenever the keys change: a token verified under other keys is checked
    /// again (its key may be the one revoked).
    generation: AtomicU64,
    issuer: String,
    audience: String,
    ttl: Duration,
    leeway: i64,
}

/// A freshly signed access token.
pub struct AccessToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub expires_in: u64,
}

impl TokenIssuer {
    pub fn new(keys: KeyRing, s: &JwtSettings) -> TokenIssuer {
        TokenIssuer {
            keys: RwLock::new(Arc::new(keys)),
            verified: VerifiedTokens::default(),
            generation: AtomicU64::new(0),
            issuer: s.issuer.clone(),
            audience: s.audience.clone(),
            ttl: s.access_ttl,
            leeway: s.leeway.as_secs() as i64,
        }
    }

    fn keys(&self) -> Arc<KeyRing> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The public keys in use, for the JWKS endpoint and discovery.
    pub fn key_ring(&self) -> Arc<KeyRing> {
        self.keys()
    }

    /// Takes `ring` if it differs from the keys in use.
    pub fn replace_keys(&self, ring: KeyRing) {
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        if !keys.same_keys(&ring) {
            tracing::info!(etag = %ring.etag, "signing keys changed");
            *keys = Arc::new(ring);
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    pub fn issue(&self, user: &User, session: &Session) -> anyhow::Result<AccessToken> {
        let now = Utc::now();
        let exp = now + chrono::Duration::from_std(self.ttl)?;
        let auth_time = session.auth_time.unwrap_or(session.created_at);
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user.id.clone(),
            sid: session.id.clone(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: exp.timestamp(),
            jti: new_id(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            role: user.role,
            auth_time: auth_time.and_utc().timestamp(),
            amr: crate::auth::fresh::methods(&session.amr)
                .map(str::to_string)
                .collect(),
        };
        let serde_json::Value::Object(map) = serde_json::to_value(&claims)? else {
            anyhow::bail!("claims are not an object");
        };
        let payload = JwtPayload::from_map(map)?;
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        let keys = self.keys();
        let (kid, signer) = keys
            .signer_at(now.naive_utc())
            .context("no signing key is active")?;
        header.set_key_id(kid);
        let token = jwt::encode_with_signer(&payload, &header, signer)?;
        Ok(AccessToken {
            token,
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(exp),
            expires_in: self.ttl.as_secs(),
        })
    }

    /// Verifies signature, algorithm, key id, issuer, audience and lifetime. The verifier
    /// is chosen by `kid` among our own keys and pins the algorithm, so `alg: none` and
    /// algorithm switching (HS256 signed with a public key) fail.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify_shared(token).map(Arc::unwrap_or_clone)
    }

    /// `verify`, sharing the claims kept for a token verified before instead of copying.
    pub fn verify_shared(&self, token: &str) -> Result<Arc<Claims>, TokenError> {
        // Seconds alone: a calendar date is not needed here.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let key = VerifiedTokens::key(token);
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some(claims) = self
            .verified
            .get(&key, token, now - self.leeway, generation)
        {
            // Its signature, issuer and audience were checked under these keys; its
            // lifetime is rechecked.
            self.check_claims(&claims, now)?;
            return Ok(claims);
        }
        let claims = Arc::new(self.verify_signed(token)?);
        self.check_claims(&claims, now)?;
        self.verified
            .put(key, token, claims.clone(), now - self.leeway, generation);
        Ok(claims)
    }

    fn verify_signed(&self, token: &str) -> Result<Claims, TokenError> {
        let keys = self.keys();
        let keys = &keys;
        let (payload, _header) = jwt::decode_with_verifier_selector(token, |header| {
            Ok(header.key_id().and_then(|kid| keys.verifier(kid)))
        })
        .map_err(|_| TokenError::Invalid)?;
        serde_json::from_value(serde_json::Value::Object(payload.claims_set().clone()))
            .map_err(|_| TokenError::Invalid)
    }

    fn check_claims(&self, c: &Claims, now: i64) -> Result<(), TokenError> {
        if c.iss != self.issuer || c.aud != self.audience {
            return Err(TokenError::WrongAudience);
        }
        if now >= c.exp + self.leeway {
            return Err(TokenError::Expired);
        }
        if now + self.leeway < c.nbf {
            return Err(TokenError::NotYetValid);
        }
        // No token of ours lives longer than SESSION_EXPIRY: a longer one was made with a
        // leaked key, and would outlive the key's revocation in every verifier's cache.
        if c.exp - c.iat > self.ttl.as_secs() as i64 + self.leeway {
            return Err(TokenError::Invalid);
        }
        Ok(())
    }
}

/// Verified tokens with the key generation they were verified under, each kept no longer
/// than its `exp` (plus the leeway); at most `VERIFIED_CAPACITY`, a full map first dropping
/// what expired, then everything. An entry is found by the SHA-256 of the token's
/// signature and taken only when the whole text is the same, compared in constant time:
/// hashing the signature alone costs a fraction of hashing the token, and a signature
/// copied onto other claims finds nothing.
#[derive(Default)]
struct VerifiedTokens(Mutex<HashMap<[u8; 32], Verified>>);

struct Verified {
    token: Box<[u8]>,
    claims: Arc<Claims>,
    generation: u64,
}

const VERIFIED_CAPACITY: usize = 20_000;

impl VerifiedTokens {
    fn key(token: &str) -> [u8; 32] {
        let signature = token.rsplit('.').next().unwrap_or(token);
        Sha256::digest(signature.as_bytes()).into()
    }

    /// The claims of `token`, verified under the keys of `generation`, still within `exp`
    /// at `horizon`.
    fn get(
        &self,
        key: &[u8; 32],
        token: &str,
        horizon: i64,
        generation: u64,
    ) -> Option<Arc<Claims>> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|v| v.claims.exp > horizon && v.generation == generation)
            .filter(|v| constant_time_eq::constant_time_eq(&v.token, token.as_bytes()))
            .map(|v| v.claims.clone())
    }

    fn put(&self, key: [u8; 32], token: &str, claims: Arc<Claims>, horizon: i64, generation: u64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= VERIFIED_CAPACITY {
            map.retain(|_, v| v.claims.exp > horizon && v.generation == generation);
            if map.len() >= VERIFIED_CAPACITY {
                map.clear();
            }
        }
        let token = token.as_bytes().into();
        map.insert(
            key,
            Verified {
                token,
                claims,
                generation,
            },
        );
    }
}
