//! The audit log.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{page, page_limit, text_param};
use crate::auth::extractor::AdminUser;
use crate::db::models::{AuditEvent, AuditFilter};
use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: String,
    /// `sign_in`, `sign_in_failed`, `registered`, `refresh_token_reused`, `logout`,
    /// `password_changed`, `password_reset`, `session_revoked`, `email_verified`, `admin_…`.
    pub kind: String,
    /// Who acted; `null` for an anonymous client.
    pub actor_id: Option<String>,
    /// Whose account it concerns.
    pub subject_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<AuditEvent> for AuditEventView {
    fn from(e: AuditEvent) -> Self {
        AuditEventView {
            id: e.id,
            kind: e.kind,
            actor_id: e.actor_id,
            subject_id: e.subject_id,
            ip: e.ip,
            user_agent: e.user_agent,
            detail: e.detail,
            created_at: e.created_at.and_utc(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditList {
    pub events: Vec<AuditEventView>,
    /// Pass as `cursor` for the next (older) page; `null` on the last.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Events where this user acted or was acted on.
    pub user_id: Option<uuid::Uuid>,
    pub kind: Option<String>,
    /// RFC 3339; events at or after.
    pub since: Option<DateTime<Utc>>,
    /// RFC 3339; events before.
    pub until: Option<DateTime<Utc>>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<uuid::Uuid>,
}

/// List audit log events
///
/// The audit log, newest first: sign-ins, failures, resets, bans and admin actions, each
/// with actor, subject, IP, user agent and time. Filter by `user_id` (acting or acted on),
/// `kind`, `since` and `until`; page with `limit` (1 to 200, default 50) and `cursor`. Admins
/// only (Bearer of a current admin with a live session, else `403 forbidden`); a bad
/// `limit` or parameter is `400 invalid_request`.
#[utoipa::path(
    tag = "admin",
    operation_id = "listAuditEvents",
    params(AuditQuery),
    responses(
        (status = 200, description = "The audit log, newest first", body = AuditList),
        (status = 400, response = crate::routes::problems::BadRequest),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[get("/admin/audit")]
pub async fn list_audit_events(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: web::Query<AuditQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    let filter = AuditFilter {
        user_id: q.user_id.map(|u| u.to_string()),
        kind: text_param("kind", q.kind)?,
        since: q.since.map(|t| t.naive_utc()),
        until: q.until.map(|t| t.naive_utc()),
        before: q.cursor.map(|c| c.to_string()),
    };
    let rows = state
        .db
        .run(move |c| Ok(AuditEvent::list(c, &filter, limit + 1)?))
        .await?;
    let (rows, next_cursor) = page(rows, limit, |r| r.id.clone());
    Ok(HttpResponse::Ok().json(AuditList {
        events: rows.into_iter().map(AuditEventView::from).collect(),
        next_cursor,
    }))
}
