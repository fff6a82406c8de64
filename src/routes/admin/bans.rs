//! Bans, and violations reported by the chat backend.

use std::net::IpAddr;
use std::time::Duration;

use actix_web::{delete, get, post, web, FromRequest, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::audit;
use crate::auth::extractor::{bearer, AdminUser};
use crate::db::models::{now, Ban};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::moderation::BanTarget;
use crate::routes::json::Json;
use crate::state::AppState;

/// A ban of a user or an IP.
#[derive(Serialize, ToSchema)]
pub struct BanView {
    pub id: String,
    pub user_id: Option<String>,
    pub ip: Option<String>,
    pub reason: Option<String>,
    pub banned_until: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// The admin who banned; `null` for a ban by violation scores.
    pub created_by: Option<String>,
}

impl From<Ban> for BanView {
    fn from(b: Ban) -> Self {
        BanView {
            id: b.id,
            user_id: b.user_id,
            ip: b.ip,
            reason: b.reason,
            banned_until: b.expires_at.and_utc(),
            created_at: b.created_at.and_utc(),
            created_by: b.created_by,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct BanList {
    pub bans: Vec<BanView>,
}

#[derive(Deserialize, ToSchema)]
pub struct BanRequest {
    pub user_id: Option<String>,
    pub ip: Option<String>,
    /// Milliseconds; default `BAN_DURATION`.
    pub duration_ms: Option<u64>,
    pub reason: Option<String>,
}

/// What a ban or violation names: a user id that is a UUID, an IP that is an address.
fn target(user_id: Option<&str>, ip: Option<&str>) -> Result<BanTarget, ApiError> {
    let mut errors = Vec::new();
    let user_id = user_id.and_then(|u| match uuid::Uuid::parse_str(u) {
        Ok(u) => Some(u.to_string()),
        Err(_) => {
            errors.push(FieldError::new("user_id", "invalid_id", "Not a user id."));
            None
        }
    });
    let ip = ip.and_then(|ip| match ip.trim().parse::<IpAddr>() {
        Ok(ip) => Some(ip.to_string()),
        Err(_) => {
            errors.push(FieldError::new("ip", "invalid_ip", "Not an IP address."));
            None
        }
    });
    if errors.is_empty() && user_id.is_none() && ip.is_none() {
        errors.push(FieldError::new(
            "user_id",
            "required",
            "Name a user_id, an ip, or both.",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(BanTarget { user_id, ip })
}

/// Ban a user or an IP address
///
/// Bans a `user_id`, an `ip`, or both, for `duration_ms` milliseconds (default
/// `BAN_DURATION`) with an optional `reason`, and answers `201` with the ban; a banned
/// user's sessions end at once. Admins only (Bearer of a current admin with a live session,
/// else `403 forbidden`). Neither target, a malformed id or IP, or a zero duration is
/// `422 validation_failed`; an unknown user is `404 not_found`.
#[utoipa::path(
    tag = "admin",
    operation_id = "createBan",
    request_body = BanRequest,
    responses(
        (status = 201, description = "Banned; a banned user's sessions end at once", body = BanView),
        crate::routes::problems::JsonBodyErrors,
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 404, response = crate::routes::problems::NotFound),
        (status = 422, response = crate::routes::problems::ValidationFailed),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[post("/admin/bans")]
pub async fn create_ban(
    state: web::Data<AppState>,
    admin: AdminUser,
    body: Json<BanRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let target = target(body.user_id.as_deref(), body.ip.as_deref())?;
    let duration = match body.duration_ms {
        Some(0) => {
            return Err(ApiError::validation(
                "duration_ms",
                "too_short",
                "A ban lasts at least a millisecond.",
            ))
        }
        Some(ms) => Duration::from_millis(ms.min(100 * 365 * 24 * 3600 * 1000)),
        None => state.settings.moderation.ban_duration,
    };
    let reason = body.reason.map(|r| r.chars().take(500).collect());
    let by = Some(admin.id().to_string());
    let ban = state.moderation.ban(target, duration, reason, by).await?;
    Ok(HttpResponse::Created().json(BanView::from(ban)))
}

/// List active bans
///
/// The bans still in force, newest first, each with its user or IP, reason, `banned_until`
/// and the admin who made it (`null` for a ban by violation scores). Admins only (Bearer of a
/// current admin with a live session, else `403 forbidden`).
#[utoipa::path(
    tag = "admin",
    operation_id = "listBans",
    responses(
        (status = 200, description = "The active bans, newest first", body = BanList),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[get("/admin/bans")]
pub async fn list_bans(state: web::Data<AppState>, _admin: AdminUser) -> ApiResult<HttpResponse> {
    let bans = state.db.run(|conn| Ok(Ban::active(conn, now())?)).await?;
    Ok(HttpResponse::Ok().json(BanList {
        bans: bans.into_iter().map(BanView::from).collect(),
    }))
}

/// Lift a ban
///
/// Ends the ban with this id before it expires, records it in the audit log and answers
/// `204`. Admins only (Bearer of a current admin with a live session, else
/// `403 forbidden`). An unknown id, or a ban already lifted, is `404 not_found`.
#[utoipa::path(
    tag = "admin",
    operation_id = "liftBan",
    params(("id" = uuid::Uuid, Path, description = "A ban id")),
    responses(
        (status = 204, description = "Lifted"),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 404, response = crate::routes::problems::NotFound),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[delete("/admin/bans/{id}")]
pub async fn lift_ban(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    let by = Some(admin.id().to_string());
    state.moderation.lift(&id.to_string(), by).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct ViolationRequest {
    pub user_id: Option<String>,
    pub ip: Option<String>,
    /// What happened, e.g. `non_browser`, `message_flood`.
    pub kind: String,
    /// Points; default the kind's setting (`NON_BROWSER_VIOLATION_SCORE`…), else 1.
    pub score: Option<u64>,
}

/// Report a violation by a user or an IP address
///
/// Lets a backend feed the moderation system: names a `user_id`, an `ip` or both, and a
/// `kind` (such as `non_browser`), worth `score` points or the kind's configured score
/// (else 1). Answers `202`; reaching `BAN_INTERVAL` points bans the user (and the IP given).
/// Callers authenticate with one of `SERVICE_TOKENS` or an admin's Bearer token. No target
/// or kind is `422 validation_failed`; an unknown user is `404 not_found`.
#[utoipa::path(
    tag = "service",
    operation_id = "reportViolation",
    request_body = ViolationRequest,
    responses(
        (status = 202, description = "Counted; reaching `BAN_INTERVAL` points bans the user (and the IP given)"),
        crate::routes::problems::JsonBodyErrors,
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 404, response = crate::routes::problems::NotFound),
        (status = 422, response = crate::routes::problems::ValidationFailed),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("service_token" = []), ("bearer" = []))
)]
#[post("/admin/violations")]
pub async fn report_violation(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<ViolationRequest>,
) -> ApiResult<HttpResponse> {
    // A service token, or else an admin's live session.
    let service = bearer(&req).is_some_and(|t| state.settings.service_tokens.admit(t));
    let actor = if service {
        None
    } else {
        Some(AdminUser::extract(&req).await?.id().to_string())
    };
    let body = body.into_inner();
    let target = target(body.user_id.as_deref(), body.ip.as_deref())?;
    let kind: String = body.kind.trim().chars().take(64).collect();
    if kind.is_empty() || kind.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "kind",
            "required",
            "Name the kind of violation.",
        ));
    }
    if let Some(user) = &target.user_id {
        let user = user.clone();
        state
            .db
            .run(move |c| crate::db::models::User::find(c, &user)?.ok_or(ApiError::NotFound))
            .await?;
    }
    let points = body
        .score
        .unwrap_or_else(|| state.moderation.reported_score(&kind));
    let event = audit::Event {
        actor: actor.as_deref(),
        subject: target.user_id.as_deref(),
        detail: Some(format!(
            "{kind}: {points} points{}",
            target
                .ip
                .as_deref()
                .map(|ip| format!(", ip {ip}"))
                .unwrap_or_default()
        )),
        ..audit::Event::new(audit::kind::VIOLATION)
    };
    audit::record(&state.db, event).await;
    state
        .moderation
        .add_points(&target, points, &format!("violation: {kind}"))
        .await?;
    Ok(HttpResponse::Accepted().finish())
}
