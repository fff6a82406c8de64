//! What every handler shares.

use secrecy::ExposeSecret;

use crate::auth::password::PasswordHasher;
use crate::auth::tokens::TokenIssuer;
use crate::db::Db;
use crate::metrics::Metrics;
use crate::settings::Settings;

pub struct AppState {
    pub settings: Settings,
    pub db: Db,
    pub hasher: PasswordHasher,
    pub tokens: TokenIssuer,
    pub metrics: Metrics,
}

impl AppState {
    /// The HMAC key refresh tokens are stored under.
    pub fn refresh_key(&self) -> &[u8] {
        self.settings
            .refresh
            .secret
            .as_ref()
            .map(|s| s.expose_secret().as_bytes())
            .expect("refresh secret is resolved before the state is built")
    }
}
