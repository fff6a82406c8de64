//! Endpoints for other backend services, authenticated with `SERVICE_TOKENS`.

use actix_web::{post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::extractor::ServiceCaller;
use crate::auth::tokens::Claims;
use crate::db::models::{now, Session, User};
use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct IntrospectRequest {
    /// An access token.
    pub token: String,
}

/// RFC 7662-style answer: `active: false` alone for any unusable token.
#[derive(Serialize, ToSchema, Default)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

impl From<Claims> for Introspection {
    fn from(c: Claims) -> Self {
        Introspection {
            active: true,
            sub: Some(c.sub),
            sid: Some(c.sid),
            exp: Some(c.exp),
            iat: Some(c.iat),
            iss: Some(c.iss),
            aud: Some(c.aud),
            jti: Some(c.jti),
            email: Some(c.email),
            email_verified: Some(c.email_verified),
            role: Some(c.role),
        }
    }
}

#[utoipa::path(
    tag = "service",
    request_body = IntrospectRequest,
    responses(
        (status = 200, description = "Whether the token is usable now: signature, lifetime, and a session and user that still stand", body = Introspection),
        crate::openapi::JsonBodyErrors,
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("service_token" = []))
)]
#[post("/auth/introspect")]
pub async fn introspect(
    state: web::Data<AppState>,
    _caller: ServiceCaller,
    body: web::Json<IntrospectRequest>,
) -> ApiResult<HttpResponse> {
    let Ok(claims) = state.tokens.verify(&body.token) else {
        return Ok(HttpResponse::Ok().json(Introspection::default()));
    };
    let (sid, sub) = (claims.sid.clone(), claims.sub.clone());
    let standing = state
        .db
        .run(move |conn| {
            let now = now();
            let session_ok =
                Session::find(conn, &sid)?.is_some_and(|s| s.user_id == sub && s.is_active(now));
            let user_ok = session_ok && User::find(conn, &sub)?.is_some_and(|u| !u.disabled);
            Ok(user_ok)
        })
        .await?;
    let answer = if standing {
        Introspection::from(claims)
    } else {
        Introspection::default()
    };
    Ok(HttpResponse::Ok().json(answer))
}
