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
    issuer: String,
    keys: tokio::sync::RwLock<JwkSet>,
}

impl Verifier {
    /// `latch` is Latch's base URL; the issuer comes from its discovery document (it
    /// follows JWT_ISSUER or DOMAIN_SERVER).
    pub async fn new(latch: &str) -> Result<Verifier, Box<dyn std::error::Error>> {
        let discovery = format!("{latch}/.well-known/openid-configuration");
        let doc: serde_json::Value = reqwest::get(discovery).await?.json().await?;
        Ok(Verifier {
            jwks_url: format!("{latch}/.well-known/jwks.json"),
            issuer: doc["issuer"].as_str().ok_or("no issuer")?.to_string(),
            keys: tokio::sync::RwLock::new(JwkSet { keys: Vec::new() }),
        })
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
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&["latch"]);
        Ok(decode::<Claims>(token, &DecodingKey::from_jwk(jwk)?, &validation)?.claims)
    }
}
