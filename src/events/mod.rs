//! Events for the chat backend: what happened to a user, sent as signed webhooks.
//!
//! An event is written in the transaction of the change it reports, one delivery row per
//! endpoint that wants it (the endpoints live in the database, written at start, so the
//! one statement that records an event needs nothing else). The changes are recorded where
//! they are made, in the models (`db::models`): whatever makes a change (the API, the
//! command line, a start, an import) emits its event, and a change that rolls back takes
//! its event with it. `worker` delivers them, signed (`sign`), at least once, in order per
//! user and endpoint.

pub mod deliveries;
pub mod ping;
pub mod sign;
pub mod worker;

use chrono::SecondsFormat;
use diesel::QueryResult;
use serde::Serialize;
use serde_json::{json, Value};

use crate::db::models::session::reason;
use crate::db::models::User;
use crate::db::DbConn;

/// The event types (see `settings::webhooks::EVENT_TYPES`).
pub mod kind {
    pub const USER_CREATED: &str = "user.created";
    pub const USER_UPDATED: &str = "user.updated";
    pub const USER_DELETED: &str = "user.deleted";
    pub const USER_BANNED: &str = "user.banned";
    pub const USER_UNBANNED: &str = "user.unbanned";
    pub const SESSION_CREATED: &str = "session.created";
    pub const SESSION_REVOKED: &str = "session.revoked";
    pub const PASSWORD_CHANGED: &str = "password.changed";
    pub const MFA_ENABLED: &str = "mfa.enabled";
    pub const MFA_DISABLED: &str = "mfa.disabled";
    pub const IDENTITY_LINKED: &str = "identity.linked";
    pub const IDENTITY_UNLINKED: &str = "identity.unlinked";
    /// `latch webhooks test`.
    pub const PING: &str = "ping";
}

/// A user as events show it: never a hash, token or secret.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct UserData<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub role: &'a str,
    pub email_verified: bool,
    pub disabled: bool,
    pub legacy_id: Option<&'a str>,
}

impl<'a> From<&'a User> for UserData<'a> {
    fn from(u: &'a User) -> UserData<'a> {
        UserData {
            id: &u.id,
            email: &u.email,
            name: &u.name,
            role: u.role.as_str(),
            email_verified: u.email_verified,
            disabled: u.disabled,
            legacy_id: u.legacy_id.as_deref(),
        }
    }
}

/// Records an event of `kind` about `user_id` (its order key) for every endpoint that
/// wants it, in the caller's transaction. `data` is the body's `data`.
pub fn emit_in(
    conn: &mut DbConn,
    kind: &str,
    user_id: Option<&str>,
    data: Value,
) -> QueryResult<()> {
    let now = chrono::Utc::now();
    let body = json!({
        "type": kind,
        "timestamp": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string();
    let id = format!("msg_{}", uuid::Uuid::now_v7().simple());
    deliveries::insert_in(conn, &id, kind, user_id, &body, now.naive_utc())
}

/// `kind` about `user`, with `extra` fields beside `user` in `data`.
pub fn user_in(conn: &mut DbConn, kind: &str, user: UserData<'_>, extra: Value) -> QueryResult<()> {
    let mut data = json!({ "user": user });
    if let (Value::Object(data), Value::Object(extra)) = (&mut data, extra) {
        data.extend(extra);
    }
    emit_in(conn, kind, Some(user.id), data)
}

/// `kind` about the user `user_id` as stored now; nothing when no endpoint is configured
/// (so the look-up is spared) or the user is gone.
pub fn about_user_in(
    conn: &mut DbConn,
    kind: &str,
    user_id: &str,
    extra: Value,
) -> QueryResult<()> {
    if !deliveries::any_endpoint_in(conn)? {
        return Ok(());
    }
    match User::find(conn, user_id)? {
        Some(user) => user_in(conn, kind, UserData::from(&user), extra),
        None => Ok(()),
    }
}

/// A session opened, or ended for `why` (a stored reason, see `webhook_reason`).
pub fn session_in(
    conn: &mut DbConn,
    kind: &str,
    session_id: &str,
    user_id: &str,
    why: Option<&str>,
) -> QueryResult<()> {
    let mut session = json!({"id": session_id, "user_id": user_id});
    if let Some(why) = why {
        session["reason"] = json!(webhook_reason(why));
    }
    emit_in(conn, kind, Some(user_id), json!({ "session": session }))
}

/// The `reason` of `session.revoked` for a reason as sessions store it.
pub fn webhook_reason(stored: &str) -> &'static str {
    match stored {
        reason::LOGOUT | reason::LOGOUT_ALL | reason::REVOKED_BY_USER => "logout",
        reason::REFRESH_TOKEN_REUSED => "reuse",
        reason::REVOKED_BY_ADMIN => "admin",
        reason::BANNED => "ban",
        reason::DISABLED => "disable",
        reason::PASSWORD_CHANGED
        | reason::PASSWORD_RESET
        | reason::PASSWORD_SET_BY_ADMIN
        | reason::INVITE_ACCEPTED => "password_change",
        reason::DELETED => "deleted",
        reason::REPORTED => "reported",
        reason::ADDRESS_PROVEN => "address_proven",
        reason::SESSION_LIMIT => "evicted",
        reason::EXPIRED => "expired",
        _ => "logout",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_reason_has_its_webhook_reason() {
        for (stored, sent) in [
            (reason::LOGOUT, "logout"),
            (reason::LOGOUT_ALL, "logout"),
            (reason::REVOKED_BY_USER, "logout"),
            (reason::REFRESH_TOKEN_REUSED, "reuse"),
            (reason::REVOKED_BY_ADMIN, "admin"),
            (reason::BANNED, "ban"),
            (reason::DISABLED, "disable"),
            (reason::PASSWORD_CHANGED, "password_change"),
            (reason::PASSWORD_RESET, "password_change"),
            (reason::PASSWORD_SET_BY_ADMIN, "password_change"),
            (reason::DELETED, "deleted"),
            (reason::REPORTED, "reported"),
            (reason::ADDRESS_PROVEN, "address_proven"),
            (reason::SESSION_LIMIT, "evicted"),
            (reason::EXPIRED, "expired"),
        ] {
            assert_eq!(webhook_reason(stored), sent, "{stored}");
        }
    }
}
