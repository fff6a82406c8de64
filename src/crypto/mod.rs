//! Secrets sealed at rest: AES-256-GCM with a key derived (HKDF-SHA-256) from a configured
//! secret and a purpose, and with associated data that binds each sealed value to its
//! owner (a sealed value copied to another row does not open).

use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine;
use hkdf::Hkdf;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};
use sha2::Sha256;

/// Marks the format, so a later one can be told apart.
const PREFIX: &str = "v1:";

#[derive(Clone)]
pub struct Sealer {
    key: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(REDACTED)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value does not open with this key")]
    WrongKey,
}

impl Sealer {
    /// A sealer for `purpose`, keyed by `secret`: each purpose gets its own key.
    pub fn new(secret: &[u8], purpose: &str) -> Sealer {
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"latch sealed secrets"), secret)
            .expand(purpose.as_bytes(), &mut key)
            .expect("32 bytes is a valid HKDF-SHA-256 length");
        Sealer { key }
    }

    /// `plain`, encrypted and authenticated for `owner`: `v1:` + base64(nonce | ciphertext | tag).
    pub fn seal(&self, plain: &[u8], owner: &str) -> String {
        let mut nonce = [0u8; 12];
        openssl::rand::rand_bytes(&mut nonce).expect("the OS random source");
        let mut tag = [0u8; 16];
        let cipher = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(&nonce),
            owner.as_bytes(),
            plain,
            &mut tag,
        )
        .expect("AES-256-GCM with a 32-byte key and a 12-byte nonce");
        let mut out = Vec::with_capacity(12 + cipher.len() + 16);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&cipher);
        out.extend_from_slice(&tag);
        format!("{PREFIX}{}", B64.encode(out))
    }

    /// Opens what `seal` made for `owner`.
    pub fn open(&self, sealed: &str, owner: &str) -> Result<Vec<u8>, SealError> {
        let raw = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| B64.decode(b).ok())
            .filter(|r| r.len() >= 12 + 16)
            .ok_or(SealError::Malformed)?;
        let (nonce, rest) = raw.split_at(12);
        let (cipher, tag) = rest.split_at(rest.len() - 16);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(nonce),
            owner.as_bytes(),
            cipher,
            tag,
        )
        .map_err(|_| SealError::WrongKey)
    }

    /// Whether `value` looks sealed (a value stored before sealing existed does not).
    pub fn is_sealed(value: &str) -> bool {
        value.starts_with(PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_for_their_owner_and_key() {
        let s = Sealer::new(b"a secret of some length", "totp");
        let sealed = s.seal(b"JBSWY3DPEHPK3PXP", "user-1");
        assert!(Sealer::is_sealed(&sealed));
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_eq!(s.open(&sealed, "user-1").unwrap(), b"JBSWY3DPEHPK3PXP");
        assert!(matches!(
            s.open(&sealed, "user-2"),
            Err(SealError::WrongKey)
        ));
        let other_purpose = Sealer::new(b"a secret of some length", "signing keys");
        assert!(matches!(
            other_purpose.open(&sealed, "user-1"),
            Err(SealError::WrongKey)
        ));
        assert!(matches!(
            s.open("v1:AAAA", "user-1"),
            Err(SealError::Malformed)
        ));
        assert!(matches!(
            s.open("plain", "user-1"),
            Err(SealError::Malformed)
        ));
        assert_ne!(
            s.seal(b"x", "u"),
            s.seal(b"x", "u"),
            "a fresh nonce each time"
        );
        assert_eq!(format!("{s:?}"), "Sealer(REDACTED)");
    }
}
