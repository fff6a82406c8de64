//! The error answers each operation documents, as reusable OpenAPI responses. Every one
//! is an RFC 9457 problem document (`crate::error::Problem`).

use utoipa::{IntoResponses, ToResponse};

use crate::error::Problem;

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
/// `email_not_verified`, `banned` (with `banned_until`), `reauthentication_required` (the
/// session must authenticate again first: `reauthenticate`), or `invalid_credentials` for a
/// wrong current password or code.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Forbidden(pub Problem);

/// Unknown or malformed id, or another user's object (`not_found`).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct NotFound(pub Problem);

/// The email is already registered (`email_taken`), the change would leave no enabled
/// admin (`last_admin`), or another conflict named by its code (`last_sign_in_method`,
/// `identity_taken`, `no_password`, `totp_enabled`…).
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

/// The database is unreachable or busy (`service_unavailable`), or too many requests are
/// waiting for a password check (`overloaded`); retry after `Retry-After`.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Unavailable(pub Problem);

/// Too many requests from this client for this kind of request, or too many wrong codes
/// or current passwords for this account (`rate_limited`); retry after `Retry-After`
/// seconds.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct TooManyRequests(pub Problem);

/// The answers every operation that reads a body can give about that body.
#[derive(IntoResponses)]
pub enum JsonBodyErrors {
    #[response(status = 400)]
    BadRequest(#[ref_response] BadRequest),
    #[response(status = 413)]
    PayloadTooLarge(#[ref_response] PayloadTooLarge),
    #[response(status = 415)]
    UnsupportedMediaType(#[ref_response] UnsupportedMediaType),
}
