//! The audit log: sign-ins and their failures, refresh-token reuse, password changes and
//! resets, session revocations and admin actions, with actor, subject, IP, user agent and
//! time. Nothing secret goes in.

use crate::auth::client::ClientInfo;
use crate::db::models::{new_id, now, AuditEvent};
use crate::db::{Db, DbConn};
use crate::error::ApiResult;

/// Event kinds, as stored and filtered on.
pub mod kind {
    pub const SIGN_IN: &str = "sign_in";
    pub const SIGN_IN_FAILED: &str = "sign_in_failed";
    pub const REGISTERED: &str = "registered";
    pub const REFRESH_TOKEN_REUSED: &str = "refresh_token_reused";
    pub const LOGOUT: &str = "logout";
    pub const PASSWORD_CHANGED: &str = "password_changed";
    pub const PASSWORD_RESET: &str = "password_reset";
    pub const SESSION_REVOKED: &str = "session_revoked";
    pub const EMAIL_VERIFIED: &str = "email_verified";
    pub const IDENTITY_LINKED: &str = "identity_linked";
    pub const IDENTITY_UNLINKED: &str = "identity_unlinked";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const BANNED: &str = "banned";
    pub const UNBANNED: &str = "unbanned";
    pub const VIOLATION: &str = "violation";
    pub const TOTP_ENABLED: &str = "totp_enabled";
    pub const TOTP_DISABLED: &str = "totp_disabled";
    pub const BACKUP_CODES_REGENERATED: &str = "backup_codes_regenerated";
    pub const PASSKEY_ADDED: &str = "passkey_added";
    pub const PASSKEY_REMOVED: &str = "passkey_removed";
    pub const SECOND_FACTOR_RESET: &str = "second_factor_reset";
    pub const SECOND_FACTOR_REQUIRED: &str = "second_factor_required";
    pub const REAUTHENTICATED: &str = "reauthenticated";
    pub const ACCOUNT_DELETED: &str = "account_deleted";
    pub const EMAIL_CHANGE_REQUESTED: &str = "email_change_requested";
    pub const EMAIL_CHANGED: &str = "email_changed";
    pub const SESSION_REPORTED: &str = "session_reported";
    pub const ADMIN_USER_CREATED: &str = "admin_user_created";
    pub const ADMIN_USER_UPDATED: &str = "admin_user_updated";
    pub const ADMIN_USER_DELETED: &str = "admin_user_deleted";
    pub const ADMIN_PASSWORD_SET: &str = "admin_password_set";
    pub const ADMIN_SESSIONS_REVOKED: &str = "admin_sessions_revoked";
}

/// One thing that happened.
pub struct Event<'a> {
    pub kind: &'static str,
    pub actor: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub client: Option<&'a ClientInfo>,
    pub detail: Option<String>,
}

impl<'a> Event<'a> {
    pub fn new(kind: &'static str) -> Self {
        Event {
            kind,
            actor: None,
            subject: None,
            client: None,
            detail: None,
        }
    }
    /// The user acted on their own account.
    pub fn by_self(kind: &'static str, user_id: &'a str, client: &'a ClientInfo) -> Self {
        Event {
            kind,
            actor: Some(user_id),
            subject: Some(user_id),
            client: Some(client),
            detail: None,
        }
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
}

impl Event<'_> {
    fn into_row(self) -> AuditEvent {
        AuditEvent {
            id: new_id(),
            kind: self.kind.to_string(),
            actor_id: self.actor.map(str::to_string),
            subject_id: self.subject.map(str::to_string),
            ip: self.client.and_then(|c| c.ip.clone()),
            user_agent: self.client.and_then(|c| c.user_agent.clone()),
            detail: self.detail,
            created_at: now(),
        }
    }
}

/// Records `e` in the caller's transaction.
pub fn record_in(conn: &mut DbConn, e: Event<'_>) -> ApiResult<()> {
    AuditEvent::insert(conn, &e.into_row())?;
    Ok(())
}

/// Records that `user_id` registered, in the registering transaction.
pub fn registered_in(conn: &mut DbConn, user_id: &str) -> ApiResult<()> {
    let event = Event {
        subject: Some(user_id),
        actor: Some(user_id),
        ..Event::new(kind::REGISTERED)
    };
    record_in(conn, event)
}

/// Records an event on its own; a failure is logged, never passed to the client.
pub async fn record(db: &Db, e: Event<'_>) {
    let row = e.into_row();
    if let Err(err) = db.run(move |c| Ok(AuditEvent::insert(c, &row)?)).await {
        tracing::error!(error = %err, "could not write an audit event");
    }
}
