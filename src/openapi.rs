//! The OpenAPI document, generated from the route table and the handlers' annotations.
//! `openapi/openapi.json` is this document, committed; a test fails when they differ.

use actix_web::App;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi, ToResponse};
use utoipa_actix_web::AppExt;

use crate::error::{FieldError, Problem};

/// Malformed JSON, a field of the wrong type or a missing required field (`invalid_request`);
/// or an emailed token that is unknown, used or expired (`invalid_token`).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct BadRequest(pub Problem);

/// No valid bearer token (`unauthorized`): get a new access token. `WWW-Authenticate` is set.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Unauthorized(pub Problem);

/// Wrong email or password (`invalid_credentials`); the same answer for an unknown email.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct InvalidCredentials(pub Problem);

/// Not allowed: `forbidden`, `feature_disabled`, `origin_not_allowed`, `account_disabled`,
/// or `invalid_credentials` for a wrong current password.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Forbidden(pub Problem);

/// Unknown or malformed id, or another user's object (`not_found`).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct NotFound(pub Problem);

/// The email is already registered (`email_taken`).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Conflict(pub Problem);

/// The body is larger than 64 KiB (`payload_too_large`).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct PayloadTooLarge(pub Problem);

/// The body is not `application/json` (`unsupported_media_type`).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct UnsupportedMediaType(pub Problem);

/// A well-formed value breaks a rule (`validation_failed`); `errors` lists each field.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct ValidationFailed(pub Problem);

/// The database is unreachable or busy (`service_unavailable`); retry after `Retry-After`.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Unavailable(pub Problem);

/// The answers every operation that reads a JSON body can give about that body.
#[derive(IntoResponses)]
pub enum JsonBodyErrors {
    #[response(status = 400)]
    BadRequest(#[ref_response] BadRequest),
    #[response(status = 413)]
    PayloadTooLarge(#[ref_response] PayloadTooLarge),
    #[response(status = 415)]
    UnsupportedMediaType(#[ref_response] UnsupportedMediaType),
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Latch",
        description = "A headless JSON authentication service: accounts, passwords, sessions and tokens. \
            Errors are RFC 9457 `application/problem+json` documents whose `code` is stable.",
        license(name = "MIT OR Apache-2.0")
    ),
    components(
        schemas(Problem, FieldError, crate::routes::auth::PendingVerification),
        responses(BadRequest, Unauthorized, InvalidCredentials, Forbidden, NotFound, Conflict,
            PayloadTooLarge, UnsupportedMediaType, ValidationFailed, Unavailable)
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Signing in and out"),
        (name = "email", description = "Links sent by email: password reset, magic links, verification, invitations"),
        (name = "account", description = "The signed-in user's account"),
        (name = "sessions", description = "The signed-in user's devices"),
        (name = "service", description = "For other backend services"),
        (name = "admin", description = "Administration (admins only)"),
        (name = "operations", description = "Health, metrics, keys and this document"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from a sign-in answer"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "refresh_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "refresh_token",
                "The HttpOnly refresh-token cookie set at sign-in",
            ))),
        );
        components.add_security_scheme(
            "service_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("One of SERVICE_TOKENS"))
                    .build(),
            ),
        );
    }
}

/// The whole document, from the same route table the server serves.
pub fn spec() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes::configure)
        .split_for_parts();
    api
}

/// The document as committed: pretty JSON with a trailing newline.
pub fn spec_json() -> String {
    let mut json = spec().to_pretty_json().expect("the spec serialises");
    json.push('\n');
    json
}
