//! Opening a session: the only place that writes a new session, its first refresh token
//! and the `sign_in` audit row, all in the sign-in's transaction.

use chrono::NaiveDateTime;

use crate::auth::audit;
use crate::auth::client::ClientInfo;
use crate::auth::tokens::{AccessToken, TokenIssuer};
use crate::db::models::session::reason;
use crate::db::models::{new_id, span, NewRefreshToken, NewSession, RefreshToken, Session, User};
use crate::db::{lock_user, DbConn};
use crate::error::ApiResult;
use crate::settings::SessionPolicy;

/// A completed sign-in: what the response carries.
pub struct SignedIn {
    pub user: User,
    pub session_id: String,
    pub access: AccessToken,
    /// `None` when a refresh inside the reuse grace window answered with an access token only.
    pub refresh_token: Option<String>,
}

/// A session to open.
pub struct Opening<'a> {
    pub user_id: &'a str,
    /// The keyed hash of its first refresh token.
    pub token_hash: &'a str,
    /// How the user signed in, as the audit log names it.
    pub method: &'a str,
    /// The methods the sign-in proved (`amr`), so the session starts fresh.
    pub amr: &'a str,
    /// The provider of a social or SAML sign-in.
    pub provider: Option<&'a str>,
}

/// Opens a session with its first refresh token, revoking the oldest sessions beyond
/// `MAX_ACTIVE_SESSIONS`, and records the sign-in. Returns the session.
pub fn open_in(
    conn: &mut DbConn,
    policy: &SessionPolicy,
    opening: Opening<'_>,
    client: &ClientInfo,
    now: NaiveDateTime,
) -> ApiResult<Session> {
    let Opening {
        user_id,
        token_hash,
        method,
        amr,
        provider,
    } = opening;
    lock_user(conn, user_id)?;
    let active = Session::list_active(conn, user_id, now)?;
    // Newest first: keep max_active - 1 of them to make room for this one.
    let keep = policy.max_active.saturating_sub(1) as usize;
    for old in active.iter().skip(keep) {
        Session::revoke(conn, &old.id, reason::SESSION_LIMIT, now)?;
    }
    let session = Session {
        id: new_id(),
        user_id: user_id.to_string(),
        created_at: now,
        last_used_at: now,
        expires_at: now + span(policy.lifetime.min(policy.max_age)),
        user_agent: client.user_agent.clone(),
        ip: client.ip.clone(),
        revoked_at: None,
        revoked_reason: None,
        auth_time: Some(now),
        amr: amr.to_string(),
        provider: provider.map(str::to_string),
    };
    Session::insert(
        conn,
        &NewSession {
            id: &session.id,
            user_id,
            created_at: now,
            last_used_at: now,
            expires_at: session.expires_at,
            user_agent: session.user_agent.as_deref(),
            ip: session.ip.as_deref(),
            auth_time: now,
            amr,
            provider,
        },
    )?;
    RefreshToken::insert(
        conn,
        &NewRefreshToken {
            id: &new_id(),
            session_id: &session.id,
            token_hash,
            created_at: now,
            expires_at: session.expires_at,
        },
    )?;
    let event = audit::Event::by_self(audit::kind::SIGN_IN, user_id, client);
    audit::record_in(conn, event.detail(format!("{method}: success")))?;
    Ok(session)
}

/// Signs the access token for a session that is stored: it carries when and how the
/// session last authenticated.
pub fn issue(
    tokens: &TokenIssuer,
    user: User,
    session: &Session,
    refresh_token: Option<String>,
) -> ApiResult<SignedIn> {
    let access = tokens.issue(&user, session)?;
    Ok(SignedIn {
        user,
        session_id: session.id.clone(),
        access,
        refresh_token,
    })
}
