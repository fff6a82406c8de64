//! Sign in with Apple's client secret: an ES256 JWT signed with the team's private key
//! (`APPLE_PRIVATE_KEY_PATH`, the `.p8` file), made for each code exchange.

use std::time::{Duration, SystemTime};

use josekit::jws::{JwsHeader, ES256};
use josekit::jwt::{self, JwtPayload};

/// How long a client secret is good for; Apple allows up to six months.
const LIFETIME: Duration = Duration::from_secs(300);

pub fn client_secret(
    team_id: &str,
    client_id: &str,
    key_id: &str,
    private_key_pem: &[u8],
) -> Result<String, josekit::JoseError> {
    let signer = ES256.signer_from_pem(private_key_pem)?;
    let mut header = JwsHeader::new();
    header.set_key_id(key_id);
    let now = SystemTime::now();
    let mut payload = JwtPayload::new();
    payload.set_issuer(team_id);
    payload.set_subject(client_id);
    payload.set_audience(vec!["https://appleid.apple.com"]);
    payload.set_issued_at(&now);
    payload.set_expires_at(&(now + LIFETIME));
    jwt::encode_with_signer(&payload, &header, &signer)
}

/// Whether `pem` is a key `client_secret` can sign with (checked at start).
pub fn check_key(pem: &[u8]) -> Result<(), josekit::JoseError> {
    ES256.signer_from_pem(pem).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jwk::alg::ec::EcCurve;
    use josekit::jws::alg::ecdsa::EcdsaJwsAlgorithm;

    #[test]
    fn the_secret_is_a_jwt_apple_can_verify() {
        let pair = EcdsaJwsAlgorithm::Es256
            .generate_key_pair()
            .expect("a P-256 key");
        let _ = EcCurve::P256;
        let pem = pair.to_pem_private_key();
        let secret = client_secret("TEAM123", "com.example.chat", "KEY456", &pem).unwrap();
        let verifier = ES256.verifier_from_pem(pair.to_pem_public_key()).unwrap();
        let (payload, header) = jwt::decode_with_verifier(&secret, &verifier).unwrap();
        assert_eq!(header.key_id(), Some("KEY456"));
        assert_eq!(header.algorithm(), Some("ES256"));
        assert_eq!(payload.issuer(), Some("TEAM123"));
        assert_eq!(payload.subject(), Some("com.example.chat"));
        assert_eq!(payload.audience(), Some(vec!["https://appleid.apple.com"]));
        let ttl = payload
            .expires_at()
            .unwrap()
            .duration_since(payload.issued_at().unwrap())
            .unwrap();
        assert_eq!(ttl, LIFETIME);
        assert!(check_key(b"not a key").is_err());
    }
}
