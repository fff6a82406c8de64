//! JWT signing keys and their life: made on first start and kept in the database, so every
//! instance signs with the same key and publishes the same JWKS; sealed at rest with
//! `JWT_KEYS_ENCRYPTION_KEY`; rotated by publishing the new key `JWT_KEY_PREPUBLISH` before
//! it signs (verifiers with a cached JWKS already know it), the old key staying published
//! until the last token it signed has expired. HS256 uses `JWT_SECRET` and publishes
//! nothing.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDateTime;
use josekit::jwk::Jwk;
use josekit::jws::{EdDSA, JwsSigner, JwsVerifier, ES256, HS256, RS256};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::crypto::Sealer;
use crate::db::models::{new_id, now, span, SigningKey};
use crate::db::DbConn;
use crate::settings::{JwtAlg, JwtSettings};

/// A key that can sign (now, or once it activates), or could until it retired.
struct SigningHalf {
    kid: String,
    signer: Box<dyn JwsSigner>,
    activates: NaiveDateTime,
    retired: Option<NaiveDateTime>,
}

/// The keys this instance signs and verifies with.
pub struct KeyRing {
    pub alg: JwtAlg,
    signers: Vec<SigningHalf>,
    verifiers: HashMap<String, Box<dyn JwsVerifier>>,
    /// The public keys as a JWKS document, serialised once, and its entity tag.
    pub jwks: serde_json::Value,
    pub jwks_body: String,
    pub etag: String,
    /// Which keys, and when each signs: a change (a rotation, a revoked key) replaces the
    /// ring, even one that leaves the published document as it was.
    fingerprint: String,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("alg", &self.alg)
            .field("kids", &self.verifiers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The sealer of signing keys, from `JWT_KEYS_ENCRYPTION_KEY`.
pub fn sealer(s: &JwtSettings) -> Option<Sealer> {
    s.keys_encryption_key
        .as_ref()
        .map(|k| Sealer::new(k.expose_secret().as_bytes(), "jwt signing keys"))
}

impl KeyRing {
    /// The key that signs at `at`: the latest one activated and not retired.
    pub fn signer_at(&self, at: NaiveDateTime) -> Option<(&str, &dyn JwsSigner)> {
        self.signers
            .iter()
            .filter(|k| k.activates <= at && k.retired.is_none_or(|r| r > at))
            .max_by_key(|k| k.activates)
            .map(|k| (k.kid.as_str(), k.signer.as_ref()))
    }

    pub fn verifier(&self, kid: &str) -> Option<&dyn JwsVerifier> {
        self.verifiers.get(kid).map(|v| v.as_ref())
    }

    /// Loads the keys for the configured algorithm, sealing any kept in clear when a key to
    /// seal them is set, and making the first one if none signs. Run under the start-up
    /// lock so two instances never both make one.
    pub fn load_or_create(conn: &mut DbConn, s: &JwtSettings) -> anyhow::Result<KeyRing> {
        if s.alg == JwtAlg::Hs256 {
            let secret = s
                .secret
                .as_ref()
                .context("JWT_SECRET is required with JWT_ALG=HS256")?;
            return KeyRing::hmac(secret.expose_secret().as_bytes());
        }
        let sealer = sealer(s);
        seal_clear_keys(conn, sealer.as_ref())?;
        let now = now();
        let mut keys = usable_keys(conn, s)?;
        let signs = keys
            .iter()
            .any(|k| k.activates() <= now && k.retired_at.is_none_or(|r| r > now));
        if !signs {
            let key = generate(s.alg, sealer.as_ref(), now)?;
            SigningKey::insert(conn, &key)?;
            tracing::info!(kid = %key.id, alg = s.alg.name(), "created a signing key");
            keys.insert(0, key);
        }
        KeyRing::from_keys(s.alg, &keys, sealer.as_ref(), now)
    }

    /// The keys as they are in the database now (another instance or `latch keys rotate`
    /// may have changed them); `None` for HS256, whose key is configuration.
    pub fn reload(conn: &mut DbConn, s: &JwtSettings) -> anyhow::Result<Option<KeyRing>> {
        if s.alg == JwtAlg::Hs256 {
            return Ok(None);
        }
        let keys = usable_keys(conn, s)?;
        KeyRing::from_keys(s.alg, &keys, sealer(s).as_ref(), now()).map(Some)
    }

    /// True when the newest key activated longer than `every` ago: a scheduled rotation
    /// is due (checked again under the lock before one is made).
    pub fn rotation_due(&self, every: Duration) -> bool {
        let newest = self.signers.iter().map(|k| k.activates).max();
        newest.is_some_and(|t| t <= now() - span(every))
    }

    /// True when `other` holds the same keys, signing at the same times.
    pub fn same_keys(&self, other: &KeyRing) -> bool {
        self.fingerprint == other.fingerprint
    }

    /// The keys as they are in the database, when they differ from this ring's (`None`
    /// when nothing changed, and for HS256): the periodic reload builds a ring only then.
    pub fn reload_if_changed(
        &self,
        conn: &mut DbConn,
        s: &JwtSettings,
    ) -> anyhow::Result<Option<KeyRing>> {
        if s.alg == JwtAlg::Hs256 {
            return Ok(None);
        }
        let keys = usable_keys(conn, s)?;
        if fingerprint_of(&keys) == self.fingerprint {
            return Ok(None);
        }
        KeyRing::from_keys(s.alg, &keys, sealer(s).as_ref(), now()).map(Some)
    }

    /// Removes the key `kid` (a leaked one) from the database: it leaves the JWKS and
    /// verification on every instance at their next reload, and every token it signed
    /// stops working. When it was the key that signs, the next key published ahead signs
    /// from now on, or a new one is made. Returns the key that signs now.
    pub fn revoke(conn: &mut DbConn, s: &JwtSettings, kid: &str) -> anyhow::Result<String> {
        anyhow::ensure!(
            s.alg != JwtAlg::Hs256,
            "JWT_ALG=HS256 signs with JWT_SECRET: change that secret to revoke its tokens"
        );
        crate::db::lock_admins(conn).map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::ensure!(
            SigningKey::delete(conn, kid)? == 1,
            "there is no signing key {kid}"
        );
        let now = now();
        let keys = usable_keys(conn, s)?;
        let signs_now =
            |k: &&SigningKey| k.activates() <= now && k.retired_at.is_none_or(|r| r > now);
        if let Some(key) = keys.iter().find(signs_now) {
            return Ok(key.id.clone());
        }
        let next = keys
            .iter()
            .filter(|k| k.retired_at.is_none())
            .min_by_key(|k| k.activates());
        if let Some(next) = next {
            SigningKey::activate(conn, &next.id, now)?;
            return Ok(next.id.clone());
        }
        let key = generate(s.alg, sealer(s).as_ref(), now)?;
        SigningKey::insert(conn, &key)?;
        Ok(key.id)
    }

    /// Makes a new key that is published at once and signs from `activates` on; the key
    /// signing until then retires at that moment. Returns the new key id. Run in a write
    /// transaction; the admin lock keeps two rotations from interleaving.
    pub fn rotate(
        conn: &mut DbConn,
        s: &JwtSettings,
        activates: NaiveDateTime,
    ) -> anyhow::Result<String> {
        anyhow::ensure!(
            s.alg != JwtAlg::Hs256,
            "JWT_ALG=HS256 signs with JWT_SECRET: change that secret to rotate"
        );
        crate::db::lock_admins(conn).map_err(|e| anyhow::anyhow!("{e}"))?;
        let key = generate(s.alg, sealer(s).as_ref(), activates)?;
        SigningKey::retire_at(conn, s.alg.name(), activates)?;
        SigningKey::insert(conn, &key)?;
        Ok(key.id)
    }

    /// Rotates (publishing the new key `prepublish` ahead) when the newest key is older
    /// than `every`. Safe with several instances: the lock and the re-read make one rotate.
    pub fn rotate_if_due(
        conn: &mut DbConn,
        s: &JwtSettings,
        every: Duration,
        prepublish: Duration,
    ) -> anyhow::Result<Option<String>> {
        crate::db::lock_admins(conn).map_err(|e| anyhow::anyhow!("{e}"))?;
        let now = now();
        let newest = usable_keys(conn, s)?
            .iter()
            .map(SigningKey::activates)
            .max();
        if newest.is_some_and(|t| t > now - span(every)) {
            return Ok(None);
        }
        KeyRing::rotate(conn, s, now + span(prepublish)).map(Some)
    }

    /// The ring for `keys` as stored (their private halves opened with `sealer`).
    pub fn from_keys(
        alg: JwtAlg,
        keys: &[SigningKey],
        sealer: Option<&Sealer>,
        now: NaiveDateTime,
    ) -> anyhow::Result<KeyRing> {
        let mut signers = Vec::new();
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
            // Only a key that signs now or later needs its private half opened.
            if key.retired_at.is_none_or(|r| r > now) {
                let private = open_private(key, sealer)?;
                let jwk = Jwk::from_bytes(private.as_bytes())?;
                let signer: Box<dyn JwsSigner> = match alg {
                    JwtAlg::Es256 => Box::new(ES256.signer_from_jwk(&jwk)?),
                    JwtAlg::EdDsa => Box::new(EdDSA.signer_from_jwk(&jwk)?),
                    JwtAlg::Rs256 => Box::new(RS256.signer_from_jwk(&jwk)?),
                    JwtAlg::Hs256 => unreachable!("HS256 keys are not stored"),
                };
                signers.push(SigningHalf {
                    kid: key.id.clone(),
                    signer,
                    activates: key.activates(),
                    retired: key.retired_at,
                });
            }
        }
        anyhow::ensure!(!signers.is_empty(), "no signing key");
        let fingerprint = fingerprint_of(keys);
        // Oldest first, so the document (and its tag) is the same on every instance.
        public.reverse();
        let jwks = serde_json::json!({ "keys": public });
        let jwks_body = jwks.to_string();
        Ok(KeyRing {
            alg,
            signers,
            verifiers,
            etag: etag_of(&jwks_body),
            jwks,
            jwks_body,
            fingerprint,
        })
    }

    /// The ring for an HS256 secret.
    pub fn hmac(secret: &[u8]) -> anyhow::Result<KeyRing> {
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
        let jwks = serde_json::json!({ "keys": [] });
        let jwks_body = jwks.to_string();
        Ok(KeyRing {
            alg: JwtAlg::Hs256,
            fingerprint: kid.clone(),
            signers: vec![SigningHalf {
                kid,
                signer: Box::new(signer),
                activates: NaiveDateTime::MIN,
                retired: None,
            }],
            verifiers,
            etag: etag_of(&jwks_body),
            jwks,
            jwks_body,
        })
    }
}

/// The ids of `keys` and when each signs.
fn fingerprint_of(keys: &[SigningKey]) -> String {
    keys.iter()
        .map(|k| format!("{}/{}/{:?};", k.id, k.activates(), k.retired_at))
        .collect()
}

fn etag_of(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// The private JWK: opened when sealed (which needs the key that sealed it).
fn open_private(key: &SigningKey, sealer: Option<&Sealer>) -> anyhow::Result<String> {
    if !Sealer::is_sealed(&key.private_jwk) {
        return Ok(key.private_jwk.clone());
    }
    let sealer = sealer.with_context(|| {
        format!(
            "setting JWT_KEYS_ENCRYPTION_KEY: the signing key {} is encrypted; set the key it was encrypted with",
            key.id
        )
    })?;
    let plain = sealer.open(&key.private_jwk, &key.id).map_err(|e| {
        anyhow::anyhow!(
            "setting JWT_KEYS_ENCRYPTION_KEY: cannot decrypt the signing key {}: {e}",
            key.id
        )
    })?;
    Ok(String::from_utf8(plain)?)
}

/// Seals every private key kept in clear, when a key to seal them with is set.
fn seal_clear_keys(conn: &mut DbConn, sealer: Option<&Sealer>) -> anyhow::Result<()> {
    let Some(sealer) = sealer else {
        return Ok(());
    };
    let mut sealed = 0;
    for key in SigningKey::all(conn)? {
        if !Sealer::is_sealed(&key.private_jwk) {
            let value = sealer.seal(key.private_jwk.as_bytes(), &key.id);
            SigningKey::set_private(conn, &key.id, &value)?;
            sealed += 1;
        }
    }
    if sealed > 0 {
        tracing::info!(sealed, "encrypted signing keys that were stored in clear");
    }
    Ok(())
}

/// A new key pair for `alg` that signs from `activates`, with its id, algorithm and use in
/// both JWKs; the private half sealed when `sealer` is given.
pub fn generate(
    alg: JwtAlg,
    sealer: Option<&Sealer>,
    activates: NaiveDateTime,
) -> anyhow::Result<SigningKey> {
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
    let private = match sealer {
        Some(s) => s.seal(jwk.to_string().as_bytes(), &kid),
        None => jwk.to_string(),
    };
    Ok(SigningKey {
        id: kid,
        alg: alg.name().to_string(),
        private_jwk: private,
        public_jwk: public.to_string(),
        created_at: now(),
        retired_at: None,
        activates_at: Some(activates),
    })
}

/// Keys of the configured algorithm still published: a retired key stays until every
/// token it signed has expired.
fn usable_keys(conn: &mut DbConn, s: &JwtSettings) -> anyhow::Result<Vec<SigningKey>> {
    let oldest_useful = now() - span(s.access_ttl + s.leeway);
    Ok(SigningKey::usable(conn, s.alg.name(), oldest_useful)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::JwtSettings;

    fn settings(encrypt: bool) -> JwtSettings {
        JwtSettings {
            alg: JwtAlg::Es256,
            secret: None,
            issuer: "latch".into(),
            audience: "latch".into(),
            access_ttl: Duration::from_secs(900),
            leeway: Duration::from_secs(30),
            prepublish: Duration::from_secs(600),
            rotation: None,
            keys_encryption_key: encrypt.then(|| "k".repeat(32).into()),
        }
    }

    #[test]
    fn a_rotated_key_is_published_before_it_signs() {
        let conn = &mut crate::db::memory();
        let s = settings(false);
        let ring = KeyRing::load_or_create(conn, &s).unwrap();
        let (first, _) = ring.signer_at(now()).unwrap();
        let first = first.to_string();
        let later = now() + chrono::Duration::seconds(600);
        let second = KeyRing::rotate(conn, &s, later).unwrap();
        let ring = KeyRing::reload(conn, &s).unwrap().unwrap();
        assert_eq!(
            ring.jwks["keys"].as_array().unwrap().len(),
            2,
            "both published"
        );
        assert_eq!(
            ring.signer_at(now()).unwrap().0,
            first,
            "the old key still signs"
        );
        assert_eq!(
            ring.signer_at(later).unwrap().0,
            second,
            "the new one from then on"
        );
        // `--now`: the next signs at once.
        let third = KeyRing::rotate(conn, &s, now()).unwrap();
        let ring = KeyRing::reload(conn, &s).unwrap().unwrap();
        assert_eq!(ring.signer_at(now()).unwrap().0, third);
        assert!(ring.verifier(&first).is_some() && ring.verifier(&second).is_some());
    }

    #[test]
    fn a_revoked_key_is_gone_and_the_next_one_signs_at_once() {
        let conn = &mut crate::db::memory();
        let s = settings(false);
        let ring = KeyRing::load_or_create(conn, &s).unwrap();
        let first = ring.signer_at(now()).unwrap().0.to_string();
        let ahead = KeyRing::rotate(conn, &s, now() + chrono::Duration::seconds(600)).unwrap();
        // The key published ahead signs from now on.
        assert_eq!(KeyRing::revoke(conn, &s, &first).unwrap(), ahead);
        let ring = KeyRing::reload(conn, &s).unwrap().unwrap();
        assert!(ring.verifier(&first).is_none(), "gone from verification");
        assert!(!ring.jwks_body.contains(&first), "gone from the JWKS");
        assert_eq!(ring.signer_at(now()).unwrap().0, ahead);
        // With no other key, a new one is made.
        let made = KeyRing::revoke(conn, &s, &ahead).unwrap();
        assert_ne!(made, ahead);
        let ring = KeyRing::reload(conn, &s).unwrap().unwrap();
        assert_eq!(ring.signer_at(now()).unwrap().0, made);
        assert!(KeyRing::revoke(conn, &s, "no-such-key").is_err());
    }

    #[test]
    fn a_scheduled_rotation_comes_when_due_and_once() {
        let conn = &mut crate::db::memory();
        let s = settings(false);
        let day = Duration::from_secs(24 * 60 * 60);
        let old = generate(s.alg, None, now() - span(2 * day)).unwrap();
        SigningKey::insert(conn, &old).unwrap();
        let prepublish = Duration::from_secs(600);
        let made = KeyRing::rotate_if_due(conn, &s, day, prepublish).unwrap();
        let made = made.expect("two days old with a one-day schedule: due");
        // Not due again: the new key is the newest, and it has not even begun to sign.
        assert_eq!(
            KeyRing::rotate_if_due(conn, &s, day, prepublish).unwrap(),
            None
        );
        let ring = KeyRing::reload(conn, &s).unwrap().unwrap();
        assert_eq!(ring.signer_at(now()).unwrap().0, old.id, "published ahead");
        assert_eq!(ring.signer_at(now() + span(prepublish)).unwrap().0, made);
        assert!(!ring.rotation_due(day));
    }

    #[test]
    fn keys_are_sealed_once_a_key_is_set() {
        let conn = &mut crate::db::memory();
        KeyRing::load_or_create(conn, &settings(false)).unwrap();
        let clear = SigningKey::all(conn).unwrap();
        assert!(
            clear[0].private_jwk.contains("\"d\""),
            "in clear without a key"
        );
        let ring = KeyRing::load_or_create(conn, &settings(true)).unwrap();
        let sealed = SigningKey::all(conn).unwrap();
        assert_eq!(sealed.len(), 1, "the same key, now sealed");
        assert!(Sealer::is_sealed(&sealed[0].private_jwk));
        assert!(!sealed[0].private_jwk.contains("\"d\""));
        assert!(ring.signer_at(now()).is_some());
        // Without the key it no longer opens: the start says which setting.
        let e = KeyRing::load_or_create(conn, &settings(false)).unwrap_err();
        assert!(
            format!("{e:#}").contains("JWT_KEYS_ENCRYPTION_KEY"),
            "{e:#}"
        );
    }
}
