//! JWT signing keys. Asymmetric keys are made on first start and kept in the database
//! so every instance signs with the same key and publishes the same JWKS; HS256 uses
//! `JWT_SECRET` and publishes nothing.

use std::collections::HashMap;

use anyhow::Context;
use josekit::jwk::Jwk;
use josekit::jws::{EdDSA, JwsSigner, JwsVerifier, ES256, HS256, RS256};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::db::models::{new_id, now, span, SigningKey};
use crate::db::DbConn;
use crate::settings::{JwtAlg, JwtSettings};

/// The keys this instance signs and verifies with.
pub struct KeyRing {
    pub alg: JwtAlg,
    pub kid: String,
    signer: Box<dyn JwsSigner>,
    verifiers: HashMap<String, Box<dyn JwsVerifier>>,
    /// The public keys as a JWKS document.
    pub jwks: serde_json::Value,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish()
    }
}

impl KeyRing {
    pub fn signer(&self) -> &dyn JwsSigner {
        self.signer.as_ref()
    }

    pub fn verifier(&self, kid: &str) -> Option<&dyn JwsVerifier> {
        self.verifiers.get(kid).map(|v| v.as_ref())
    }

    /// Loads the keys for the configured algorithm, creating the first one if there is
    /// none. Run under the start-up lock so two instances never both create one.
    pub fn load_or_create(conn: &mut DbConn, s: &JwtSettings) -> anyhow::Result<KeyRing> {
        if s.alg == JwtAlg::Hs256 {
            let secret = s
                .secret
                .as_ref()
                .context("JWT_SECRET is required with JWT_ALG=HS256")?;
            return KeyRing::hmac(secret.expose_secret().as_bytes());
        }
        let mut keys = usable_keys(conn, s)?;
        if keys.iter().all(|k| k.retired_at.is_some()) {
            let key = generate(s.alg)?;
            SigningKey::insert(conn, &key)?;
            tracing::info!(kid = %key.id, alg = s.alg.name(), "created a signing key");
            keys.insert(0, key);
        }
        KeyRing::from_keys(s.alg, &keys)
    }

    /// The keys as they are in the database now (another instance or `latch keys rotate`
    /// may have changed them); `None` for HS256, whose key is configuration.
    pub fn reload(conn: &mut DbConn, s: &JwtSettings) -> anyhow::Result<Option<KeyRing>> {
        if s.alg == JwtAlg::Hs256 {
            return Ok(None);
        }
        KeyRing::from_keys(s.alg, &usable_keys(conn, s)?).map(Some)
    }

    /// True when `other` signs with the same key and verifies with the same set.
    pub fn same_keys(&self, other: &KeyRing) -> bool {
        self.kid == other.kid && self.jwks == other.jwks
    }

    /// Retires the current key and makes a new one that signs from now on. The old key
    /// stays in the JWKS until every token it signed has expired. Returns the new key id.
    pub fn rotate(conn: &mut DbConn, s: &JwtSettings) -> anyhow::Result<String> {
        anyhow::ensure!(
            s.alg != JwtAlg::Hs256,
            "JWT_ALG=HS256 signs with JWT_SECRET: change that secret to rotate"
        );
        let key = generate(s.alg)?;
        SigningKey::retire_current(conn, s.alg.name(), now())?;
        SigningKey::insert(conn, &key)?;
        Ok(key.id)
    }

    fn from_keys(alg: JwtAlg, keys: &[SigningKey]) -> anyhow::Result<KeyRing> {
        let current = keys
            .iter()
            .find(|k| k.retired_at.is_none())
            .context("no current signing key")?;
        let private = Jwk::from_bytes(current.private_jwk.as_bytes())?;
        let signer: Box<dyn JwsSigner> = match alg {
            JwtAlg::Es256 => Box::new(ES256.signer_from_jwk(&private)?),
            JwtAlg::EdDsa => Box::new(EdDSA.signer_from_jwk(&private)?),
            JwtAlg::Rs256 => Box::new(RS256.signer_from_jwk(&private)?),
            JwtAlg::Hs256 => unreachable!("HS256 keys are not stored"),
        };
        let mut verifiers: HashMap<String, Box<dyn JwsVerifier>> = HashMap::new();
        let mut public = Vec::new();
        for key in keys {
            let jwk = Jwk::from_bytes(key.public_jwk.as_bytes())?;
            let verifier: Box<dyn JwsVerifier> = match alg {
                JwtAlg::Es256 => Box::new(ES256.verifier_from_jwk(&jwk)?),
                JwtAlg::EdDsa => Box::new(EdDSA.verifier_from_jwk(&jwk)?),
                JwtAlg::Rs256 => Box::new(RS256.verifier_from_jwk(&jwk)?),
                JwtAlg::Hs256 => unreachable!("HS256 keys are not stored"),
            };
            verifiers.insert(key.id.clone(), verifier);
            public.push(serde_json::from_str::<serde_json::Value>(&key.public_jwk)?);
        }
        Ok(KeyRing {
            alg,
            kid: current.id.clone(),
            signer,
            verifiers,
            jwks: serde_json::json!({ "keys": public }),
        })
    }

    fn hmac(secret: &[u8]) -> anyhow::Result<KeyRing> {
        // The kid names the secret without revealing it, so a rotated secret gets a new one.
        let digest = Sha256::digest(secret);
        let kid: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let kid = format!("hs256-{kid}");
        let mut signer = HS256.signer_from_bytes(secret)?;
        signer.set_key_id(kid.clone());
        let mut verifier = HS256.verifier_from_bytes(secret)?;
        verifier.set_key_id(kid.clone());
        let mut verifiers: HashMap<String, Box<dyn JwsVerifier>> = HashMap::new();
        verifiers.insert(kid.clone(), Box::new(verifier));
        Ok(KeyRing {
            alg: JwtAlg::Hs256,
            kid,
            signer: Box::new(signer),
            verifiers,
            jwks: serde_json::json!({ "keys": [] }),
        })
    }
}

/// A new key pair for `alg`, with its id, algorithm and use in both JWKs.
pub fn generate(alg: JwtAlg) -> anyhow::Result<SigningKey> {
    let mut jwk = match alg {
        JwtAlg::Es256 => Jwk::generate_ec_key(josekit::jwk::P_256)?,
        JwtAlg::EdDsa => Jwk::generate_ed_key(josekit::jwk::Ed25519)?,
        JwtAlg::Rs256 => Jwk::generate_rsa_key(2048)?,
        JwtAlg::Hs256 => anyhow::bail!("HS256 keys come from JWT_SECRET"),
    };
    let kid = new_id();
    let mut public = jwk.to_public_key()?;
    // `to_public_key` keeps only the key material; both halves carry id, algorithm and use.
    for key in [&mut jwk, &mut public] {
        key.set_key_id(kid.clone());
        key.set_algorithm(alg.name());
        key.set_key_use("sig");
    }
    Ok(SigningKey {
        id: kid,
        alg: alg.name().to_string(),
        private_jwk: jwk.to_string(),
        public_jwk: public.to_string(),
        created_at: now(),
        retired_at: None,
    })
}

/// Keys of the configured algorithm still good for verification: a retired key stays
/// until every token it signed has expired.
fn usable_keys(conn: &mut DbConn, s: &JwtSettings) -> anyhow::Result<Vec<SigningKey>> {
    let oldest_useful = now() - span(s.access_ttl + s.leeway);
    Ok(SigningKey::usable(conn, s.alg.name(), oldest_useful)?)
}
