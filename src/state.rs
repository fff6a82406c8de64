//! What every handler shares.

use std::sync::Arc;

use actix_web::HttpRequest;

use crate::auth::client::ClientInfo;
use crate::auth::opaque_token::TokenKey;
use crate::auth::password::PasswordHasher;
use crate::auth::sessions::Refresher;
use crate::auth::signin::SignIn;
use crate::auth::tokens::TokenIssuer;
use crate::db::Db;
use crate::mail::MailService;
use crate::metrics::Metrics;
use crate::settings::Settings;

pub struct AppState {
    pub settings: Settings,
    pub db: Db,
    pub tokens: Arc<TokenIssuer>,
    pub metrics: Metrics,
    /// The sign-in pipeline and the email flows, with the handles they need.
    pub signin: SignIn,
    /// The social providers that are on.
    pub social: crate::social::Social,
    /// Limits, violation scores and bans.
    pub moderation: crate::moderation::Moderation,
    /// Sessions and users as introspection and `GET /auth/me` last read them.
    pub sessions: crate::auth::session_cache::SessionCache,
}

impl AppState {
    pub fn hasher(&self) -> &PasswordHasher {
        &self.signin.hasher
    }

    /// The key refresh and one-time tokens are stored under.
    pub fn key(&self) -> &TokenKey {
        &self.signin.key
    }

    /// `None` when no mail server is configured.
    pub fn mail(&self) -> Option<&MailService> {
        self.signin.mail.as_ref()
    }

    pub fn refresher(&self) -> Refresher<'_> {
        Refresher {
            db: &self.db,
            key: self.key(),
            tokens: &self.tokens,
            metrics: &self.metrics,
            policy: self.settings.refresh.policy(),
        }
    }

    /// The caller's IP (believing `TRUST_PROXY` hops) and user agent.
    pub fn client(&self, req: &HttpRequest) -> ClientInfo {
        ClientInfo::from_request(req, self.settings.trust_proxy)
    }
}
