//! The signed-in user's devices.

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::audit;
use crate::auth::devices;
use crate::auth::extractor::CurrentUser;
use crate::db::models::session::reason;
use crate::db::models::{now, Session};
use crate::db::write_tx;
use crate::error::{ApiError, ApiResult};
use crate::moderation::guard::{self, Limited};
use crate::routes::json::Json;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// True for the session of the access token making this request.
    pub current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

/// List the signed-in user's sessions
///
/// The caller's active sessions (one per signed-in device), newest first, with creation, last
/// use and expiry times, user agent and IP; `current` marks the session of the access token
/// making the request. Requires a Bearer access token whose session is still live.
#[utoipa::path(
    tag = "sessions",
    operation_id = "listSessions",
    responses(
        (status = 200, description = "The user's active sessions, newest first", body = SessionList),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[get("/auth/sessions")]
pub async fn list(state: web::Data<AppState>, current: CurrentUser) -> ApiResult<HttpResponse> {
    let claims = current.claims;
    let user_id = current.user.id;
    let sessions = state
        .db
        .run(move |conn| Ok(Session::list_active(conn, &user_id, now())?))
        .await?;
    let sessions = sessions
        .into_iter()
        .map(|s| SessionView {
            current: s.id == claims.sid,
            id: s.id,
            created_at: s.created_at.and_utc(),
            last_used_at: s.last_used_at.and_utc(),
            expires_at: s.expires_at.and_utc(),
            user_agent: s.user_agent,
            ip: s.ip,
        })
        .collect();
    Ok(HttpResponse::Ok().json(SessionList { sessions }))
}

/// Sign out one of the user's sessions
///
/// Revokes one of the caller's own active sessions by its id from `GET /auth/sessions`; the
/// change is audited and answers `204`. Requires a Bearer access token whose session is
/// still live. A malformed or unknown id, another user's session, or one already ended is
/// `404 not_found`.
#[utoipa::path(
    tag = "sessions",
    operation_id = "revokeSession",
    params(("id" = uuid::Uuid, Path, description = "A session id from `GET /auth/sessions`")),
    responses(
        (status = 204, description = "The session is signed out"),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 404, response = crate::routes::problems::NotFound),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[delete("/auth/sessions/{id}")]
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    current: CurrentUser,
    path: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    // Parsed as a UUID at the edge: a malformed id is a 404 before any query.
    let id = path.into_inner().to_string();
    let user_id = current.user.id;
    let client = state.client(&req);
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let now = now();
                // Another user's session is as unknown as a made-up id.
                match Session::find(conn, &id)? {
                    Some(s) if s.user_id == user_id && s.is_active(now) => {
                        Session::revoke(conn, &s.id, reason::REVOKED_BY_USER, now)?;
                        let event =
                            audit::Event::by_self(audit::kind::SESSION_REVOKED, &user_id, &client);
                        audit::record_in(conn, event.detail(format!("session {}", s.id)))
                    }
                    _ => Err(ApiError::NotFound),
                }
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Report a sign-in from a new-device notice
///
/// Takes the one-time `token` from a new-device notice email, no Bearer token needed. It
/// ends the reported session, mails the owner a password reset link (when password reset is
/// on and the account is not disabled), records the report in the audit log and answers
/// `204`. An unknown, used or expired token is `400 invalid_token`; without mail configured
/// the endpoint is `403 feature_disabled`. Limited per IP by `VERIFY_EMAIL_SUBMISSION_MAX`.
#[utoipa::path(
    tag = "sessions",
    operation_id = "reportSession",
    request_body = crate::routes::email::TokenRequest,
    responses(
        (status = 204, description = "The reported session ended; the owner is mailed a link to set a new password (where password reset is on)"),
        crate::routes::problems::JsonBodyErrors,
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 429, response = crate::routes::problems::TooManyRequests),
        (status = 503, response = crate::routes::problems::Unavailable),
    )
)]
#[post("/auth/sessions/report")]
pub async fn report(
    state: web::Data<AppState>,
    _limit: Limited<guard::VerifyEmail>,
    req: HttpRequest,
    body: Json<crate::routes::email::TokenRequest>,
) -> ApiResult<HttpResponse> {
    let mail = state.signin.mail("Reporting a sign-in")?.clone();
    let (key, client) = (state.signin.key.clone(), state.client(&req));
    let resets = state.signin.reset_allowed().is_ok();
    let token = body.into_inner().token;
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                devices::report_in(c, &key, &mail, resets, &token, &client, now())
            })
        })
        .await?;
    state.signin.wake_mail();
    Ok(HttpResponse::NoContent().finish())
}
