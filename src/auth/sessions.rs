//! Sessions and refresh-token rotation. The functions ending in `_in` run inside a write
//! transaction the caller opened; the async ones wrap a whole step.

use actix_web::web;
use chrono::{Duration as ChronoDuration, NaiveDateTime};

use crate::auth::audit;
use crate::auth::client::ClientInfo;
use crate::auth::refresh;
use crate::auth::tokens::AccessToken;
use crate::db::models::session::reason;
use crate::db::models::{
    new_id, now, span, NewRefreshToken, NewSession, RefreshToken, Session, User,
};
use crate::db::{lock_user, write_tx, DbConn};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A completed sign-in: what the response carries.
pub struct SignedIn {
    pub user: User,
    pub session_id: String,
    pub access: AccessToken,
    /// `None` when a refresh inside the reuse grace window answered with an access token only.
    pub refresh_token: Option<String>,
}

/// A refresh token not yet stored: the token for the client, its hash for the database.
pub struct FreshToken {
    pub token: String,
    pub hash: String,
}

impl FreshToken {
    pub fn new(state: &AppState) -> FreshToken {
        let token = refresh::generate();
        let hash = refresh::hash(state.refresh_key(), &token);
        FreshToken { token, hash }
    }
}

/// Opens a session for `user_id` with its first refresh token, revoking the oldest
/// sessions beyond `MAX_ACTIVE_SESSIONS`, and records the sign-in (`method`) in the audit
/// log and the metrics. Every way of signing in goes through here. Returns the session id.
pub fn create_session_in(
    conn: &mut DbConn,
    st: &AppState,
    user_id: &str,
    token_hash: &str,
    client: &ClientInfo,
    method: &'static str,
) -> ApiResult<String> {
    let now = now();
    lock_user(conn, user_id)?;
    let active = Session::list_active(conn, user_id, now)?;
    // Newest first: keep max_active - 1 of them to make room for this one.
    let keep = st.settings.max_active_sessions.saturating_sub(1) as usize;
    for old in active.iter().skip(keep) {
        Session::revoke(conn, &old.id, reason::SESSION_LIMIT, now)?;
    }
    let session_id = new_id();
    let expires_at = now + span(st.settings.refresh.ttl);
    Session::insert(
        conn,
        &NewSession {
            id: &session_id,
            user_id,
            created_at: now,
            last_used_at: now,
            expires_at,
            user_agent: client.user_agent.as_deref(),
            ip: client.ip.as_deref(),
        },
    )?;
    RefreshToken::insert(
        conn,
        &NewRefreshToken {
            id: &new_id(),
            session_id: &session_id,
            token_hash,
            created_at: now,
            expires_at,
        },
    )?;
    let event = audit::Event::by_self(audit::kind::SIGN_IN, user_id, client);
    audit::record_in(conn, event.detail(format!("{method}: success")))?;
    st.metrics.sign_in(method, "success");
    Ok(session_id)
}

/// Signs `user` in on a new session.
pub async fn sign_in(
    state: &web::Data<AppState>,
    user: User,
    client: ClientInfo,
    method: &'static str,
) -> ApiResult<SignedIn> {
    let fresh = FreshToken::new(state);
    let (st, user_id, hash) = (state.clone(), user.id.clone(), fresh.hash.clone());
    let session_id = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                create_session_in(conn, &st, &user_id, &hash, &client, method)
            })
        })
        .await?;
    finish(state, user, session_id, Some(fresh.token))
}

/// Issues the access token for a session that is already stored.
pub fn finish(
    state: &AppState,
    user: User,
    session_id: String,
    refresh_token: Option<String>,
) -> ApiResult<SignedIn> {
    let access = state.tokens.issue(&user, &session_id)?;
    Ok(SignedIn {
        user,
        session_id,
        access,
        refresh_token,
    })
}

/// What presenting a refresh token led to.
#[derive(Debug)]
pub enum RefreshOutcome {
    /// The token was exchanged for its successor.
    Rotated {
        user: User,
        session_id: String,
    },
    /// An already-rotated token inside the grace window: access token only.
    Grace {
        user: User,
        session_id: String,
    },
    /// An already-rotated token after the window: the session is now revoked.
    Reused {
        user_id: String,
    },
    Disabled,
    Invalid,
}

/// The rotation rules, in one write transaction.
pub fn refresh_in(
    conn: &mut DbConn,
    presented_hash: &str,
    successor_hash: &str,
    lifetime: ChronoDuration,
    grace: ChronoDuration,
    now: NaiveDateTime,
) -> ApiResult<RefreshOutcome> {
    let Some(token) = RefreshToken::find_by_hash(conn, presented_hash)? else {
        return Ok(RefreshOutcome::Invalid);
    };
    let Some(session) = Session::find(conn, &token.session_id)? else {
        return Ok(RefreshOutcome::Invalid);
    };
    if !session.is_active(now) || token.expires_at <= now {
        return Ok(RefreshOutcome::Invalid);
    }
    let Some(user) = User::find(conn, &session.user_id)? else {
        return Ok(RefreshOutcome::Invalid);
    };
    if user.disabled {
        return Ok(RefreshOutcome::Disabled);
    }
    if token.rotated_at.is_none() && RefreshToken::claim_rotation(conn, &token.id, now)? == 1 {
        let expires_at = now + lifetime;
        RefreshToken::insert(
            conn,
            &NewRefreshToken {
                id: &new_id(),
                session_id: &session.id,
                token_hash: successor_hash,
                created_at: now,
                expires_at,
            },
        )?;
        Session::touch(conn, &session.id, now, expires_at)?;
        return Ok(RefreshOutcome::Rotated {
            user,
            session_id: session.id,
        });
    }
    // Rotated before, or by a concurrent request a moment ago: read when.
    let rotated_at = match token.rotated_at {
        Some(at) => at,
        None => RefreshToken::find_by_hash(conn, presented_hash)?
            .and_then(|t| t.rotated_at)
            .unwrap_or(now),
    };
    if now < rotated_at + grace {
        Session::touch(conn, &session.id, now, session.expires_at)?;
        Ok(RefreshOutcome::Grace {
            user,
            session_id: session.id,
        })
    } else {
        Session::revoke(conn, &session.id, reason::REFRESH_TOKEN_REUSED, now)?;
        Ok(RefreshOutcome::Reused { user_id: user.id })
    }
}

/// Exchanges a refresh token. Reuse after the grace window revokes the session (that
/// change is committed) and answers `401 refresh_token_reused`.
pub async fn refresh(
    state: &AppState,
    presented: &str,
    client: &ClientInfo,
) -> ApiResult<SignedIn> {
    if !refresh::looks_valid(presented) {
        state.metrics.refresh("invalid");
        return Err(invalid_refresh());
    }
    let presented_hash = refresh::hash(state.refresh_key(), presented);
    let successor = FreshToken::new(state);
    let successor_hash = successor.hash.clone();
    let lifetime = span(state.settings.refresh.ttl);
    let grace = span(state.settings.refresh.reuse_grace);
    let outcome = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                refresh_in(
                    conn,
                    &presented_hash,
                    &successor_hash,
                    lifetime,
                    grace,
                    now(),
                )
            })
        })
        .await?;
    match outcome {
        RefreshOutcome::Rotated { user, session_id } => {
            state.metrics.refresh("rotated");
            finish(state, user, session_id, Some(successor.token))
        }
        RefreshOutcome::Grace { user, session_id } => {
            state.metrics.refresh("grace");
            finish(state, user, session_id, None)
        }
        RefreshOutcome::Reused { user_id } => {
            state.metrics.refresh("reused");
            tracing::warn!(%user_id, "refresh token reused after rotation; session revoked");
            let event = audit::Event {
                subject: Some(&user_id),
                client: Some(client),
                ..audit::Event::new(audit::kind::REFRESH_TOKEN_REUSED)
            };
            audit::record(state, event).await;
            Err(ApiError::RefreshTokenReused)
        }
        RefreshOutcome::Disabled => {
            state.metrics.refresh("disabled");
            Err(ApiError::AccountDisabled)
        }
        RefreshOutcome::Invalid => {
            state.metrics.refresh("invalid");
            Err(invalid_refresh())
        }
    }
}

fn invalid_refresh() -> ApiError {
    ApiError::Unauthorized("The refresh token is missing, expired or revoked. Sign in again.")
}

/// The session a refresh token belongs to, if the token is known and its session active.
pub fn session_of_refresh_token(
    conn: &mut DbConn,
    hash: &str,
    now: NaiveDateTime,
) -> ApiResult<Option<Session>> {
    let Some(token) = RefreshToken::find_by_hash(conn, hash)? else {
        return Ok(None);
    };
    Ok(Session::find(conn, &token.session_id)?.filter(|s| s.is_active(now)))
}

/// Removes what can never be used again: expired refresh tokens (every rotation leaves
/// one behind), expired sessions and expired email tokens; and audit events older than
/// the retention. Returns how many rows went.
pub fn prune_in(
    conn: &mut DbConn,
    now: NaiveDateTime,
    audit_before: Option<NaiveDateTime>,
) -> ApiResult<usize> {
    let tokens = RefreshToken::delete_expired(conn, now)?;
    let sessions = Session::delete_expired(conn, now)?;
    let one_time = crate::db::models::OneTimeToken::delete_expired(conn, now)?;
    let audit = match audit_before {
        Some(before) => crate::db::models::AuditEvent::delete_before(conn, before)?,
        None => 0,
    };
    Ok(tokens + sessions + one_time + audit)
}

/// Prunes once an hour, for as long as the server runs.
pub async fn prune_periodically(db: crate::db::Db, audit_retention: Option<std::time::Duration>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        let audit_before = audit_retention.map(|r| now() - span(r));
        match db
            .run(move |conn| prune_in(conn, now(), audit_before))
            .await
        {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "pruned expired sessions and refresh tokens"),
            Err(e) => tracing::warn!(error = %e, "pruning expired sessions failed"),
        }
    }
}
