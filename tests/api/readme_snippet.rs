use jsonwebtoken::{decode, decode_header, jwk::JwkSet, Algorithm, DecodingKey, Validation};

#[derive(serde::Deserialize)]
pub struct Claims {
    pub sub: String,
    pub sid: String,
    pub email: String,
    pub role: String,
}

/// Keeps the keys and refetches them on an unknown `kid`.
pub struct Verifier {
    jwks_url: String,
    keys: tokio::sync::RwLock<JwkSet>,
}

impl Verifier {
    pub fn new(jwks_url: &str) -> Verifier {
        let keys = tokio::sync::RwLock::new(JwkSet { keys: Vec::new() });
        Verifier {
            jwks_url: jwks_url.to_string(),
            keys,
        }
    }

    pub async fn verify(&self, token: &str) -> Result<Claims, Box<dyn std::error::Error>> {
        let kid = decode_header(token)?.kid.ok_or("no kid")?;
        if self.keys.read().await.find(&kid).is_none() {
            let fresh: JwkSet = reqwest::get(&self.jwks_url).await?.json().await?;
            *self.keys.write().await = fresh;
        }
        let keys = self.keys.read().await;
        let jwk = keys.find(&kid).ok_or("unknown signing key")?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&["latch"]);
        validation.set_audience(&["latch"]);
        Ok(decode::<Claims>(token, &DecodingKey::from_jwk(jwk)?, &validation)?.claims)
    }
}
