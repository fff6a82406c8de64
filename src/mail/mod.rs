//! Mail: templates, a durable outbox written in the same transaction as the token a
//! message carries, and a background worker that delivers it over SMTP.

pub mod outbox;
pub mod settings;
pub mod templates;
pub mod transport;
pub mod worker;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::settings::Settings;
use templates::Templates;

/// What handlers need to queue mail.
pub struct MailService {
    pub templates: Templates,
    /// Wakes the worker when a message is queued.
    pub wake: Arc<Notify>,
}

impl MailService {
    pub fn new(settings: &Settings) -> anyhow::Result<MailService> {
        Ok(MailService {
            templates: Templates::load(settings.email.templates_dir.as_deref())?,
            wake: Arc::new(Notify::new()),
        })
    }
}

/// The link an email carries: the frontend page under `APP_URL`, with the token.
pub fn link(app_url: &str, path: &str, token: &str) -> String {
    format!("{app_url}{path}?token={token}")
}
