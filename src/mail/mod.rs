//! Mail: templates, a durable outbox written in the same transaction as the token a
//! message carries, and a background worker that delivers it over SMTP.

pub mod outbox;
pub mod templates;
pub mod transport;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::db::DbConn;
use crate::error::ApiResult;
use crate::settings::{EmailFlows, Settings};
use templates::{human_duration, Context, Kind, Templates};

/// What queueing mail needs. Cheap to clone.
#[derive(Clone)]
pub struct MailService {
    templates: Arc<Templates>,
    /// Wakes the worker when a message is queued.
    pub wake: Arc<Notify>,
    app_title: Arc<str>,
    app_url: Arc<str>,
    flows: Arc<EmailFlows>,
}

impl MailService {
    pub fn new(settings: &Settings) -> anyhow::Result<MailService> {
        Ok(MailService {
            templates: Arc::new(Templates::load(settings.email.templates_dir.as_deref())?),
            wake: Arc::new(Notify::new()),
            app_title: settings.app_title.as_str().into(),
            app_url: settings.app_url.as_str().into(),
            flows: Arc::new(settings.email.clone()),
        })
    }

    /// How long a link of `kind` lives and the frontend path it opens; `None` for the
    /// notices, which carry no link.
    pub fn link_terms(&self, kind: Kind) -> Option<(Duration, &str)> {
        let f = &self.flows;
        match kind {
            Kind::VerifyEmail => Some((f.verify_ttl, &f.verify_path)),
            Kind::PasswordReset => Some((f.reset_ttl, &f.reset_path)),
            Kind::MagicLink => Some((f.magic_link_ttl, &f.magic_link_path)),
            Kind::Invite => Some((f.invite_ttl, &f.invite_path)),
            Kind::EmailChange => Some((f.verify_ttl, &f.email_change_path)),
            Kind::NewDevice => Some((f.verify_ttl, &f.report_path)),
            Kind::PasswordChanged
            | Kind::AccountExists
            | Kind::SecondFactorChanged
            | Kind::SecurityNotice
            | Kind::EmailChangeRequested => None,
        }
    }

    /// Renders a message of `kind` to `email` and queues it in the caller's transaction
    /// (nothing for a placeholder address);
    /// `token` goes into the link of the kinds that carry one, `detail` into the notices
    /// that say what happened.
    pub fn queue_in(
        &self,
        conn: &mut DbConn,
        kind: Kind,
        name: &str,
        email: &str,
        token: Option<&str>,
        detail: Option<&str>,
    ) -> ApiResult<()> {
        if crate::domain::Email::is_placeholder(email) {
            // A directory entry without an address: nobody would read it.
            return Ok(());
        }
        let terms = self.link_terms(kind);
        let url = terms
            .zip(token)
            .map(|((_, path), token)| link(&self.app_url, path, token));
        let rendered = self.templates.render(
            kind,
            &Context {
                app_title: &self.app_title,
                name,
                email,
                link: url.as_deref(),
                expires_in: terms.map(|(ttl, _)| human_duration(ttl)),
                detail,
            },
        )?;
        outbox::enqueue_in(conn, kind, email, rendered)
    }

    /// Tells the worker that a committed transaction queued mail.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// The link an email carries: the frontend page under `APP_URL`, with the token.
pub fn link(app_url: &str, path: &str, token: &str) -> String {
    format!("{app_url}{path}?token={token}")
}
