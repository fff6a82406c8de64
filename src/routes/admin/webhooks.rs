//! Webhook deliveries, as admins see them (never a body or a secret), and sending one
//! again.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{page, page_limit};
use crate::auth::extractor::AdminUser;
use crate::db::models::now;
use crate::error::{ApiError, ApiResult};
use crate::events::deliveries::{self, Delivery, DELIVERED, FAILED, PENDING};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    /// The `webhook-id`, the same at every attempt.
    #[schema(example = "msg_01939a8c5e3f7c2d9b1e4a6f8d0c2b4a")]
    pub id: String,
    /// The event type (`user.created`, `session.revoked`…, or `ping`).
    #[serde(rename = "type")]
    pub event_type: String,
    pub user_id: Option<String>,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    /// The receiver's HTTP status at the last attempt; `null` when it gave none (a
    /// time-out, a refused connection) or none was made yet.
    pub last_status: Option<i32>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When a pending delivery is tried next.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        let pending = d.status == PENDING;
        DeliveryView {
            id: d.id,
            event_type: d.event_type,
            user_id: d.user_id,
            status: d.status,
            attempts: d.attempts,
            last_status: d.last_status,
            last_attempt_at: d.last_attempt_at.map(|t| t.and_utc()),
            next_attempt_at: pending.then(|| d.next_attempt_at.and_utc()),
            created_at: d.created_at.and_utc(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `cursor` for the next (older) page; `null` on the last.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct DeliveryQuery {
    /// Only deliveries with this status: `pending`, `delivered` or `failed`.
    pub status: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List webhook deliveries
///
/// Webhook deliveries, newest first, each with its `webhook-id`, event type, user, status
/// (`pending`, `delivered` or `failed`), attempts and the receiver's last HTTP status; never
/// a body or a secret. Filter by `status`; page with `limit` (1 to 200, default 50) and
/// `cursor`. Admins only (Bearer of a current admin with a live session, else
/// `403 forbidden`); a bad `status`, `limit` or `cursor` is `400 invalid_request`.
#[utoipa::path(
    tag = "admin",
    operation_id = "listWebhookDeliveries",
    params(DeliveryQuery),
    responses(
        (status = 200, description = "Webhook deliveries, newest first", body = DeliveryList),
        (status = 400, response = crate::routes::problems::BadRequest),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[get("/admin/webhooks/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: web::Query<DeliveryQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    if let Some(s) = &q.status {
        if ![PENDING, DELIVERED, FAILED].contains(&s.as_str()) {
            return Err(ApiError::InvalidRequest(
                "`status` must be pending, delivered or failed.".into(),
            ));
        }
    }
    let before = match q.cursor.as_deref() {
        Some(c) => Some(c.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            ApiError::InvalidRequest("`cursor` must be a `next_cursor` of this list.".into())
        })?),
        None => None,
    };
    let rows = state
        .db
        .run(move |c| {
            Ok(deliveries::list_in(
                c,
                q.status.as_deref(),
                before,
                limit + 1,
            )?)
        })
        .await?;
    let (rows, next_cursor) = page(rows, limit, |r| r.seq.to_string());
    Ok(HttpResponse::Ok().json(DeliveryList {
        deliveries: rows.into_iter().map(DeliveryView::from).collect(),
        next_cursor,
    }))
}

/// Send a webhook delivery again
///
/// Makes the delivery with this `webhook-id` due again now, for one more attempt (a failure
/// marks it failed again), and answers `202`. Admins only (Bearer of a current admin with a
/// live session, else `403 forbidden`). An unknown id is `404 not_found`.
#[utoipa::path(
    tag = "admin",
    operation_id = "retryWebhookDelivery",
    params(("id" = String, Path, description = "A delivery's `webhook-id`")),
    responses(
        (status = 202, description = "Due again now, for one more attempt (a failure marks it failed again)"),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 404, response = crate::routes::problems::NotFound),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[post("/admin/webhooks/deliveries/{id}/retry")]
pub async fn retry_delivery(
    state: web::Data<AppState>,
    _admin: AdminUser,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let plausible = id.len() <= 64
        && id.starts_with("msg_")
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !plausible {
        return Err(ApiError::NotFound);
    }
    let changed = state
        .db
        .run(move |c| Ok(deliveries::retry_in(c, &id, now())?))
        .await?;
    if changed == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::Accepted().finish())
}
