//! Administration. Every route checks the caller's current role in the database, so a
//! demoted admin's still-valid token is not enough.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::extractor::AuthUser;
use crate::db::models::{OutboxMessage, User};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Refuses anyone who is not, right now, an enabled admin.
async fn require_admin(state: &AppState, auth: &AuthUser) -> ApiResult<User> {
    let id = auth.0.sub.clone();
    match state.db.run(move |c| Ok(User::find(c, &id)?)).await? {
        Some(u) if u.is_admin() && !u.disabled => Ok(u),
        Some(_) => Err(ApiError::Forbidden),
        None => Err(ApiError::Unauthorized("This account no longer exists.")),
    }
}

/// A message in the outbox, without its body (which carries a token).
#[derive(Serialize, ToSchema)]
pub struct MailView {
    pub id: String,
    pub recipient: String,
    /// `verify_email`, `password_reset`, `magic_link`, `invite`, `password_changed`, `account_exists`.
    pub kind: String,
    /// `pending`, `sending`, `sent` or `failed`.
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct MailList {
    pub messages: Vec<MailView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct MailQuery {
    /// Only messages in this state.
    pub state: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[utoipa::path(
    tag = "admin",
    params(MailQuery),
    responses(
        (status = 200, description = "The outbox, newest first", body = MailList),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
#[get("/admin/mail")]
pub async fn mail(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: web::Query<MailQuery>,
) -> ApiResult<HttpResponse> {
    require_admin(&state, &auth).await?;
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::InvalidRequest(
            "`limit` must be between 1 and 200.".into(),
        ));
    }
    if let Some(s) = &q.state {
        if !["pending", "sending", "sent", "failed"].contains(&s.as_str()) {
            return Err(ApiError::InvalidRequest(
                "`state` must be pending, sending, sent or failed.".into(),
            ));
        }
    }
    let mut rows = state
        .db
        .run(move |c| {
            Ok(OutboxMessage::list(
                c,
                q.state.as_deref(),
                q.cursor.as_deref(),
                limit + 1,
            )?)
        })
        .await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|m| m.id.clone())
    } else {
        None
    };
    let messages = rows
        .into_iter()
        .map(|m| MailView {
            id: m.id,
            recipient: m.recipient,
            kind: m.kind,
            state: m.state,
            attempts: m.attempts,
            last_error: m.last_error,
            next_attempt_at: m.next_attempt_at.and_utc(),
            created_at: m.created_at.and_utc(),
            updated_at: m.updated_at.and_utc(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(MailList {
        messages,
        next_cursor,
    }))
}
