//! Endpoints for other backend services, authenticated with `SERVICE_TOKENS`.

use actix_web::{post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::extractor::ServiceCaller;
use crate::auth::session_cache::Kept;
use crate::auth::signin::gate;
use crate::auth::tokens::Claims;
use crate::db::models::user::Role;
use crate::db::models::{now, User};
use crate::error::{ApiError, ApiResult};
use crate::routes::json::Json;
use crate::routes::JSON_CONTENT;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct IntrospectRequest {
    /// An access token.
    pub token: String,
}

/// RFC 7662-style answer: `active: false` alone for any unusable token. The user's fields
/// are the account as it is now, not the token's copies.
#[derive(Serialize, ToSchema, Default)]
pub struct Introspection<'a> {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// LibreChat's `_id` of an account brought over by `latch import librechat`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy_id: Option<&'a str>,
}

impl<'a> Introspection<'a> {
    fn active(c: &'a Claims, user: &'a User) -> Self {
        Introspection {
            active: true,
            sub: Some(&c.sub),
            sid: Some(&c.sid),
            exp: Some(c.exp),
            iat: Some(c.iat),
            iss: Some(&c.iss),
            aud: Some(&c.aud),
            jti: Some(&c.jti),
            email: Some(&user.email),
            email_verified: Some(user.email_verified),
            role: Some(user.role),
            legacy_id: user.legacy_id.as_deref(),
        }
    }
}

/// Check whether an access token is usable now
///
/// RFC 7662-style introspection for backend services, authenticated with
/// `Authorization: Bearer` and one of `SERVICE_TOKENS`; a user's access token, even an
/// admin's, is `403 forbidden`, and with no `SERVICE_TOKENS` set the endpoint is
/// `403 feature_disabled`. Answers `200 {"active": true, ...}` with the account's current
/// email, verification and role only when the signature and lifetime hold and the session
/// and user still stand; any other token, including one of a revoked session or a banned,
/// disabled or deleted user, is `200 {"active": false}`.
#[utoipa::path(
    tag = "service",
    operation_id = "introspectToken",
    request_body = IntrospectRequest,
    responses(
        (status = 200, description = "Whether the token is usable now: signature, lifetime, and a session and user that still stand", body = Introspection),
        crate::routes::problems::JsonBodyErrors,
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("service_token" = []))
)]
#[post("/auth/introspect")]
pub async fn introspect(
    state: web::Data<AppState>,
    _caller: ServiceCaller,
    body: Json<IntrospectRequest>,
) -> ApiResult<HttpResponse> {
    let Ok(claims) = state.tokens.verify_shared(&body.token) else {
        return Ok(HttpResponse::Ok().json(Introspection::default()));
    };
    let found = state.sessions.session(&state.db, &claims.sid).await?;
    let now = now();
    match found.as_deref() {
        Some(kept @ Kept { session, user, .. })
            if session.is_active(now)
                && user.id == claims.sub
                && gate::standing(user, now).is_ok() =>
        {
            let answer = kept.introspection(&claims, |claims, user| {
                serde_json::to_vec(&Introspection::active(claims, user))
                    .map(Into::into)
                    .map_err(|e| ApiError::Unexpected(e.into()))
            })?;
            Ok(HttpResponse::Ok().insert_header(JSON_CONTENT).body(answer))
        }
        _ => Ok(HttpResponse::Ok().json(Introspection::default())),
    }
}
