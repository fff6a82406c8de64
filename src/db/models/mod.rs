//! One file per table; each model owns its queries. Repository functions are synchronous
//! and take `&mut DbConn`: callers run them inside `Db::run`.

pub mod audit_event;
pub mod ban;
pub mod identity;
pub mod known_device;
pub mod oauth_state;
pub mod one_time_token;
pub mod outbox;
pub mod refresh_token;
pub mod saml_assertion;
pub mod second_factor;
pub mod session;
pub mod signing_key;
pub mod user;

pub use audit_event::{AuditEvent, AuditFilter};
pub use ban::Ban;
pub use identity::Identity;
pub use known_device::KnownDevice;
pub use oauth_state::OAuthState;
pub use one_time_token::OneTimeToken;
pub use outbox::OutboxMessage;
pub use refresh_token::{NewRefreshToken, RefreshToken};
pub use saml_assertion::SamlAssertion;
pub use session::{NewSession, Session};
pub use signing_key::SigningKey;
pub use user::{NewUser, User};

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The current UTC time at the microsecond precision both backends store.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// A configured duration as a chrono one (saturating: settings are bounded long before).
pub fn span(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// A new UUIDv7 id: time-ordered, so inserts stay local in the index.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
