//! Liveness, readiness and metrics.

use actix_web::{get, web, HttpResponse};
use prometheus::Encoder;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::models::outbox::{FAILED, PENDING};
use crate::db::models::OutboxMessage;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `ready`.
    pub status: &'static str,
}

/// Check that the process is alive
///
/// Liveness probe for anyone, no authentication. Answers `200 {"status": "ok"}` whenever the
/// process can serve HTTP; no dependency (database, Redis) is checked.
#[utoipa::path(
    tag = "operations",
    operation_id = "getLiveness",
    responses((status = 200, description = "The process is up (no dependency is checked)", body = Health))
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Check that the service is ready to serve
///
/// Readiness probe for anyone, no authentication. Answers `200 {"status": "ready"}` when the
/// database answers and every migration is applied (and, with `USE_REDIS`, Redis answers);
/// otherwise `503 service_unavailable`.
#[utoipa::path(
    tag = "operations",
    operation_id = "getReadiness",
    responses(
        (status = 200, description = "The database answers and every migration is applied", body = Health),
        (status = 503, response = crate::routes::problems::Unavailable),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    // Any failure to reach the database is "not ready", never a 500.
    let ready = state
        .db
        .run(|conn| Ok(Db::ready(conn)))
        .await
        .unwrap_or(false);
    if !ready {
        return Err(ApiError::Unavailable("migrations pending".into()));
    }
    // With USE_REDIS, the counters every limited request needs must answer too.
    state.moderation.ready().await?;
    Ok(HttpResponse::Ok().json(Health { status: "ready" }))
}

/// Read the Prometheus metrics
///
/// The service's metrics in the Prometheus text exposition format, no authentication. It
/// answers even when the database does not; the outbox gauges (pending and failed mail)
/// then keep their last value.
#[utoipa::path(
    tag = "operations",
    operation_id = "getMetrics",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain; version=0.0.4"))
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let counts = state
        .db
        .run(|c| {
            Ok((
                OutboxMessage::count_in_state(c, PENDING)?,
                OutboxMessage::count_in_state(c, FAILED)?,
            ))
        })
        .await;
    // Metrics answer even when the database does not; the gauges then keep their last value.
    if let Ok((pending, failed)) = counts {
        state
            .metrics
            .mail
            .with_label_values(&["pending"])
            .set(pending);
        state
            .metrics
            .mail
            .with_label_values(&["failed"])
            .set(failed);
    }
    let mut buffer = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&state.metrics.registry.gather(), &mut buffer)
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(buffer))
}
