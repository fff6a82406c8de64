//! The outbox, as admins see it: never a body (it carries a token).

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{page, page_limit};
use crate::auth::extractor::AdminUser;
use crate::db::models::OutboxMessage;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A message in the outbox, without its body.
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

impl From<OutboxMessage> for MailView {
    fn from(m: OutboxMessage) -> Self {
        MailView {
            id: m.id,
            recipient: m.recipient,
            kind: m.kind,
            state: m.state,
            attempts: m.attempts,
            last_error: m.last_error,
            next_attempt_at: m.next_attempt_at.and_utc(),
            created_at: m.created_at.and_utc(),
            updated_at: m.updated_at.and_utc(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MailList {
    pub messages: Vec<MailView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct MailQuery {
    /// Only messages in this state: `pending`, `sending`, `sent` or `failed`.
    pub state: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<uuid::Uuid>,
}

/// List outgoing email in the outbox
///
/// The outbox, newest first: recipient, kind, state, attempts, last error and times of each
/// message, never its body or token. Filter by `state` (`pending`, `sending`, `sent` or
/// `failed`); page with `limit` (1 to 200, default 50) and `cursor`. Admins only (Bearer of a
/// current admin with a live session, else `403 forbidden`); a bad `state` or `limit` is
/// `400 invalid_request`.
#[utoipa::path(
    tag = "admin",
    operation_id = "listOutbox",
    params(MailQuery),
    responses(
        (status = 200, description = "The outbox, newest first", body = MailList),
        (status = 400, response = crate::routes::problems::BadRequest),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[get("/admin/mail")]
pub async fn list_outbox(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: web::Query<MailQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    if let Some(s) = &q.state {
        if !["pending", "sending", "sent", "failed"].contains(&s.as_str()) {
            return Err(ApiError::InvalidRequest(
                "`state` must be pending, sending, sent or failed.".into(),
            ));
        }
    }
    let cursor = q.cursor.map(|c| c.to_string());
    let rows = state
        .db
        .run(move |c| {
            Ok(OutboxMessage::list(
                c,
                q.state.as_deref(),
                cursor.as_deref(),
                limit + 1,
            )?)
        })
        .await?;
    let (rows, next_cursor) = page(rows, limit, |r| r.id.clone());
    Ok(HttpResponse::Ok().json(MailList {
        messages: rows.into_iter().map(MailView::from).collect(),
        next_cursor,
    }))
}
