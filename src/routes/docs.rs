//! The spec and a browsable reference of it. The reference page and its script and style
//! are built into the binary: it works offline and under a strict Content-Security-Policy
//! (nothing inline, nothing from another origin).

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};

use crate::error::ApiError;

/// The generated spec, serialised once at start.
pub struct SpecJson(pub String);

const PAGE: &str = include_str!("../../assets/docs/index.html");
const SCRIPT: &str = include_str!("../../assets/docs/viewer.js");
const STYLE: &str = include_str!("../../assets/docs/viewer.css");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// Get the OpenAPI document
///
/// The OpenAPI document that describes this API, as JSON, no authentication. It is generated
/// from the code once at start, so it always matches the running server.
#[utoipa::path(
    tag = "operations",
    operation_id = "getOpenApiDocument",
    responses((status = 200, description = "This OpenAPI document", content_type = "application/json", body = Object))
)]
#[get("/openapi.json")]
pub async fn openapi_json(spec: web::Data<SpecJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(spec.0.clone())
}

/// Browse the API reference
///
/// An HTML page that renders this OpenAPI document, no authentication. The page, its script
/// and its style are served from the binary, so it works offline and under a strict
/// Content-Security-Policy (nothing inline, nothing from another origin).
#[utoipa::path(
    tag = "operations",
    operation_id = "getApiReference",
    responses((status = 200, description = "A browsable reference of the API (served from the binary; works offline)", content_type = "text/html", body = String))
)]
#[get("/docs")]
pub async fn docs() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .body(PAGE)
}

/// The reference page's script and style (not part of the API, so not in the spec).
#[get("/docs/{asset}")]
pub async fn docs_asset(asset: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (body, content_type) = match asset.as_str() {
        "viewer.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "viewer.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return Err(ApiError::NotFound),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body))
}
