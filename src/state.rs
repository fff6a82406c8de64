//! What every handler shares.

use secrecy::ExposeSecret;

use crate::auth::password::PasswordHasher;
use crate::auth::tokens::TokenIssuer;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::mail::MailService;
use crate::metrics::Metrics;
use crate::settings::Settings;

pub struct AppState {
    pub settings: Settings,
    pub db: Db,
    pub hasher: PasswordHasher,
    pub tokens: TokenIssuer,
    pub metrics: Metrics,
    /// `None` when no mail server is configured.
    pub mail: Option<MailService>,
}

impl AppState {
    /// The mail service, or `403 feature_disabled` naming the feature that needs it.
    pub fn mail(&self, feature: &'static str) -> ApiResult<&MailService> {
        self.mail.as_ref().ok_or(ApiError::FeatureDisabled(feature))
    }

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
