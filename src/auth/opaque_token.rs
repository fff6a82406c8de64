//! Opaque tokens: refresh tokens and the one-time tokens emailed in links. Each is 256
//! bits from the OS CSPRNG; only an HMAC-SHA-256 under `JWT_REFRESH_SECRET` is stored, so
//! a database leak yields no usable token.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;

/// A fresh random token, URL-safe base64 (43 characters).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A well-formed token is exactly what `generate` makes; anything else is refused before
/// it costs a database round trip.
pub fn looks_valid(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The key tokens are stored under. Cheap to clone; never printed.
#[derive(Clone)]
pub struct TokenKey(Arc<[u8]>);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(REDACTED)")
    }
}

impl TokenKey {
    pub fn new(key: &[u8]) -> TokenKey {
        TokenKey(key.into())
    }

    /// The keyed hash a token is stored and looked up under.
    pub fn hash(&self, token: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(token.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// A new token and the hash to store for it.
    pub fn fresh(&self) -> Fresh {
        let token = generate();
        let hash = self.hash(&token);
        Fresh { token, hash }
    }
}

/// A token not yet stored: the value for the client, its hash for the database.
pub struct Fresh {
    pub token: String,
    pub hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_keyed() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert!(looks_valid(&a));
        let (k1, k2) = (TokenKey::new(b"k1"), TokenKey::new(b"k2"));
        assert_ne!(k1.hash(&a), k2.hash(&a));
        assert_eq!(k1.hash(&a), k1.hash(&a));
        assert_eq!(k1.hash(&a).len(), 64);
        assert!(!looks_valid("short"));
        assert_eq!(format!("{k1:?}"), "TokenKey(REDACTED)");
    }
}
