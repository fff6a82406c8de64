//! Sessions after sign-in: refresh-token rotation with reuse detection, logout, and
//! pruning. The functions ending in `_in` run inside a write transaction the caller
//! opened.

use chrono::NaiveDateTime;
use diesel::{Connection as _, OptionalExtension as _, RunQueryDsl as _};

use crate::auth::audit;
use crate::auth::client::ClientInfo;
use crate::auth::opaque_token::{looks_valid, TokenKey};
use crate::auth::signin::gate;
use crate::auth::signin::session::{issue, SignedIn};
use crate::auth::tokens::TokenIssuer;
use crate::db::models::refresh_token::PgRefresh;
use crate::db::models::session::reason;
use crate::db::models::{new_id, now, span, NewRefreshToken, RefreshToken, Session, User};
use crate::db::{write_tx, Backend, Db, DbConn};
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
use crate::settings::SessionPolicy;

/// What a presented refresh token stands for.
enum Presented {
    /// Unknown, expired, or its session ended.
    Unusable,
    /// Its session is older than `SESSION_MAX_AGE` and has not been ended yet.
    TooOld(Session),
    /// Not yet exchanged.
    Current(RefreshToken, Session, User),
    /// Exchanged already; `in_grace` while within `REFRESH_REUSE_GRACE` of that.
    Spent {
        session: Session,
        user: User,
        in_grace: bool,
    },
}

/// The token, its session and user, read in one query.
fn presented_in(
    conn: &mut DbConn,
    hash: &str,
    policy: &SessionPolicy,
    now: NaiveDateTime,
) -> ApiResult<Presented> {
    let (token, session, user) = match RefreshToken::find_for_refresh(conn, hash)? {
        Some((_, s, _)) if s.revoked_at.is_none() && now >= ends_at(&s, policy) => {
            return Ok(Presented::TooOld(s))
        }
        Some((t, s, u)) if s.is_active(now) && t.expires_at > now => (t, s, u),
        _ => return Ok(Presented::Unusable),
    };
    let presented = match token.rotated_at {
        None => Presented::Current(token, session, user),
        Some(at) => Presented::Spent {
            session,
            user,
            in_grace: now < at + span(policy.reuse_grace),
        },
    };
    Ok(presented)
}

/// When a session ends however often it refreshes: `SESSION_MAX_AGE` after it opened.
pub fn ends_at(session: &Session, policy: &SessionPolicy) -> NaiveDateTime {
    session.created_at + span(policy.max_age)
}

/// A refresh token's lifetime from `now`, within its session's `SESSION_MAX_AGE`.
fn token_expiry(session: &Session, policy: &SessionPolicy, now: NaiveDateTime) -> NaiveDateTime {
    (now + span(policy.lifetime)).min(ends_at(session, policy))
}

/// Ends a session (with its event), in a transaction of its own on PostgreSQL, which
/// runs a refresh without one (SQLite's is one already).
fn end_in(conn: &mut DbConn, session_id: &str, why: &str, now: NaiveDateTime) -> ApiResult<()> {
    match conn.backend() {
        Backend::Postgres => conn.transaction(|c| Session::revoke(c, session_id, why, now))?,
        Backend::Sqlite => Session::revoke(conn, session_id, why, now)?,
    };
    Ok(())
}

/// What presenting a refresh token led to.
#[derive(Debug)]
pub enum RefreshOutcome {
    /// The token was exchanged for its successor.
    Rotated {
        user: User,
        session: Session,
    },
    /// An already-rotated token inside the grace window: access token only.
    Grace {
        user: User,
        session: Session,
    },
    /// An already-rotated token after the window: the session is now revoked.
    Reused {
        user_id: String,
    },
    Refused(gate::Refusal),
    Invalid,
}

/// The rotation rules: in one write transaction on SQLite; on
/// PostgreSQL each write is one atomic statement (the rotation a conditional one), which
/// holds the same rules under its default isolation without a transaction's round trips.
pub fn refresh_in(
    conn: &mut DbConn,
    presented_hash: &str,
    successor_hash: &str,
    policy: &SessionPolicy,
    now: NaiveDateTime,
) -> ApiResult<RefreshOutcome> {
    let presented = presented_in(conn, presented_hash, policy, now)?;
    let (token, session, user) = match presented {
        Presented::Unusable => return Ok(RefreshOutcome::Invalid),
        Presented::TooOld(session) => {
            end_in(conn, &session.id, reason::EXPIRED, now)?;
            return Ok(RefreshOutcome::Invalid);
        }
        Presented::Current(token, session, user) => (Some(token), session, user),
        Presented::Spent { session, user, .. } => (None, session, user),
    };
    if let Err(refusal) = gate::standing(&user, now) {
        return Ok(RefreshOutcome::Refused(refusal));
    }
    if let Some(token) = token {
        let successor = NewRefreshToken {
            id: &new_id(),
            session_id: &session.id,
            token_hash: successor_hash,
            created_at: now,
            expires_at: token_expiry(&session, policy, now),
        };
        if RefreshToken::rotate(conn, &token.id, &successor)? {
            return Ok(RefreshOutcome::Rotated { user, session });
        }
    }
    // Rotated before, or by a concurrent request a moment ago (or its session just
    // ended): read again.
    match presented_in(conn, presented_hash, policy, now)? {
        Presented::Unusable | Presented::TooOld(_) => Ok(RefreshOutcome::Invalid),
        Presented::Spent { in_grace: true, .. } => {
            Session::touch(conn, &session.id, now, session.expires_at)?;
            Ok(RefreshOutcome::Grace { user, session })
        }
        _ => {
            end_in(conn, &session.id, reason::REFRESH_TOKEN_REUSED, now)?;
            Ok(RefreshOutcome::Reused { user_id: user.id })
        }
    }
}

/// PostgreSQL's common case, one round trip: a current token of a live session is
/// exchanged by one statement that returns the session and user, and the gate decides on
/// them. A refusal (a ban or a disable that raced the refresh; both end the sessions
/// themselves) ends the session, whose successor token is never given. `None`: the token
/// is not current, and `refresh_in` tells why.
fn at_once_in(
    conn: &mut DbConn,
    presented_hash: &str,
    successor_hash: &str,
    policy: &SessionPolicy,
    now: NaiveDateTime,
) -> ApiResult<Option<RefreshOutcome>> {
    let DbConn::Postgres(pg) = conn else {
        return Ok(None);
    };
    let statement = PgRefresh {
        hash: presented_hash,
        successor_id: &new_id(),
        successor_hash,
        now,
        until: now + span(policy.lifetime),
        oldest: now - span(policy.max_age),
        max_age: policy.max_age.as_secs_f64(),
    };
    let Some((session, user)) = statement.get_result::<(Session, User)>(pg).optional()? else {
        return Ok(None);
    };
    if let Err(refusal) = gate::standing(&user, now) {
        let why = match refusal {
            gate::Refusal::Disabled => reason::DISABLED,
            _ => reason::BANNED,
        };
        end_in(conn, &session.id, why, now)?;
        return Ok(Some(RefreshOutcome::Refused(refusal)));
    }
    Ok(Some(RefreshOutcome::Rotated { user, session }))
}

/// What a refresh needs. Cheap to build from the service state.
pub struct Refresher<'a> {
    pub db: &'a Db,
    pub key: &'a TokenKey,
    pub tokens: &'a TokenIssuer,
    pub metrics: &'a Metrics,
    pub policy: SessionPolicy,
}

impl Refresher<'_> {
    /// Exchanges a refresh token. Reuse after the grace window revokes the session (that
    /// change is committed) and answers `401 refresh_token_reused`.
    pub async fn refresh(&self, presented: &str, client: &ClientInfo) -> ApiResult<SignedIn> {
        if !looks_valid(presented) {
            self.metrics.refresh("invalid");
            return Err(invalid_refresh());
        }
        let presented_hash = self.key.hash(presented);
        let successor = self.key.fresh();
        let successor_hash = successor.hash.clone();
        let policy = self.policy;
        let outcome = self
            .db
            .run(move |conn| match conn.backend() {
                Backend::Postgres => {
                    let now = now();
                    match at_once_in(conn, &presented_hash, &successor_hash, &policy, now)? {
                        Some(outcome) => Ok(outcome),
                        None => refresh_in(conn, &presented_hash, &successor_hash, &policy, now),
                    }
                }
                Backend::Sqlite => write_tx(conn, |conn| {
                    refresh_in(conn, &presented_hash, &successor_hash, &policy, now())
                }),
            })
            .await?;
        match outcome {
            RefreshOutcome::Rotated { user, session } => {
                self.metrics.refresh("rotated");
                issue(self.tokens, user, &session, Some(successor.token))
            }
            RefreshOutcome::Grace { user, session } => {
                self.metrics.refresh("grace");
                issue(self.tokens, user, &session, None)
            }
            RefreshOutcome::Reused { user_id } => {
                self.metrics.refresh("reused");
                reused(self.db, &user_id, client).await;
                Err(ApiError::RefreshTokenReused)
            }
            RefreshOutcome::Refused(refusal) => {
                self.metrics.refresh(refusal.outcome());
                Err(refusal.error())
            }
            RefreshOutcome::Invalid => {
                self.metrics.refresh("invalid");
                Err(invalid_refresh())
            }
        }
    }
}

async fn reused(db: &Db, user_id: &str, client: &ClientInfo) {
    tracing::warn!(%user_id, "refresh token reused after rotation; session revoked");
    let event = audit::Event {
        subject: Some(user_id),
        client: Some(client),
        ..audit::Event::new(audit::kind::REFRESH_TOKEN_REUSED)
    };
    audit::record(db, event).await;
}

fn invalid_refresh() -> ApiError {
    ApiError::Unauthorized("The refresh token is missing, expired or revoked. Sign in again.")
}

/// Who asks to sign out: the holder of an access token, or of a refresh token.
pub enum LogoutBy {
    Session { user_id: String, session_id: String },
    RefreshToken { hash: String },
}

/// What a logout did.
pub enum LogoutOutcome {
    Done {
        user_id: String,
        /// The provider the ended session was opened through, if any.
        provider: Option<String>,
    },
    /// A refresh token spent beyond the grace window: treated as theft, as at refresh.
    Reused { user_id: String },
}

/// Ends this session, or every session of the user with `all`. A refresh token already
/// exchanged (after the grace window) may not sign anyone out: its session is revoked
/// as a reused token's would be, and nothing else.
pub fn logout_in(
    conn: &mut DbConn,
    by: LogoutBy,
    all: bool,
    policy: &SessionPolicy,
    client: &ClientInfo,
    now: NaiveDateTime,
) -> ApiResult<LogoutOutcome> {
    let (user_id, session_id) = match by {
        LogoutBy::Session {
            user_id,
            session_id,
        } => (user_id, session_id),
        LogoutBy::RefreshToken { hash } => match presented_in(conn, &hash, policy, now)? {
            Presented::Unusable | Presented::TooOld(_) => {
                return Err(ApiError::Unauthorized("The refresh token is not valid."))
            }
            Presented::Spent {
                session,
                in_grace: false,
                ..
            } => {
                Session::revoke(conn, &session.id, reason::REFRESH_TOKEN_REUSED, now)?;
                return Ok(LogoutOutcome::Reused {
                    user_id: session.user_id,
                });
            }
            Presented::Current(_, session, _) | Presented::Spent { session, .. } => {
                (session.user_id, session.id)
            }
        },
    };
    let provider = Session::find(conn, &session_id)?.and_then(|s| s.provider);
    if all {
        Session::revoke_all(conn, &user_id, None, reason::LOGOUT_ALL, now)?;
    } else {
        Session::revoke(conn, &session_id, reason::LOGOUT, now)?;
    }
    let scope = if all { "all sessions" } else { "this session" };
    let event = audit::Event::by_self(audit::kind::LOGOUT, &user_id, client).detail(scope);
    audit::record_in(conn, event)?;
    Ok(LogoutOutcome::Done { user_id, provider })
}

/// Signs out; see `logout_in`. Returns the provider the session was opened through.
pub async fn logout(
    db: &Db,
    by: LogoutBy,
    all: bool,
    policy: SessionPolicy,
    client: &ClientInfo,
) -> ApiResult<Option<String>> {
    let who = client.clone();
    let outcome = db
        .run(move |conn| write_tx(conn, |conn| logout_in(conn, by, all, &policy, &who, now())))
        .await?;
    match outcome {
        LogoutOutcome::Done { provider, .. } => Ok(provider),
        LogoutOutcome::Reused { user_id } => {
            reused(db, &user_id, client).await;
            Err(ApiError::RefreshTokenReused)
        }
    }
}

/// Removes what can never be used again: expired refresh tokens (every rotation leaves
/// one behind), expired sessions, email tokens, sign-ins under way and used SAML
/// assertions; and audit events older than the retention. Returns how many rows went.
pub fn prune_in(
    conn: &mut DbConn,
    now: NaiveDateTime,
    audit_before: Option<NaiveDateTime>,
) -> ApiResult<usize> {
    let tokens = RefreshToken::delete_expired(conn, now)?;
    let sessions = Session::delete_expired(conn, now)?;
    let one_time = crate::db::models::OneTimeToken::delete_expired(conn, now)?;
    let oauth = crate::db::models::OAuthState::delete_expired(conn, now)?
        + crate::db::models::SamlAssertion::delete_expired(conn, now)?;
    let counters = crate::moderation::counters::prune_in(conn, now)?;
    let mfa = crate::db::models::second_factor::MfaChallenge::delete_expired(conn, now)?
        + crate::db::models::second_factor::WebauthnChallenge::delete_expired(conn, now)?;
    // Ended bans stay a day for the record (the audit log keeps them longer).
    let bans = crate::db::models::Ban::delete_ended(conn, now - chrono::Duration::days(1))?;
    let audit = match audit_before {
        Some(before) => crate::db::models::AuditEvent::delete_before(conn, before)?,
        None => 0,
    };
    let webhooks = crate::events::deliveries::prune_in(conn, now)?;
    Ok(tokens + sessions + one_time + oauth + counters + mfa + bans + audit + webhooks)
}

/// Prunes once an hour, for as long as the server runs.
pub async fn prune_periodically(db: Db, audit_retention: Option<std::time::Duration>) {
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
