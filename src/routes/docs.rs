//! The spec and a browsable reference of it.

use actix_web::{get, web, HttpResponse};

/// The generated spec, serialised once at start.
pub struct SpecJson(pub String);
/// The reference page, rendered once at start.
pub struct DocsHtml(pub String);

#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "This OpenAPI document", content_type = "application/json", body = Object))
)]
#[get("/openapi.json")]
pub async fn openapi_json(spec: web::Data<SpecJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(spec.0.clone())
}

#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "A browsable reference of the API", content_type = "text/html", body = String))
)]
#[get("/docs")]
pub async fn docs(html: web::Data<DocsHtml>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html.0.clone())
}
