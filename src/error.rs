//! The one error type of the HTTP API, mapped once to RFC 9457 problem+json.
//!
//! Policy: everything a client can cause has its own variant and a stable `code`.
//! `Unexpected` is for our own faults: it logs the whole cause chain and answers a generic
//! 500 body, so SQL, hashes and secrets never reach a client. Extractor failures (bad JSON,
//! wrong content type, oversized body, malformed path ids) come through the handlers in
//! `startup` and land here too.

use actix_web::error::{PathError, QueryPayloadError};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// One rule a field broke.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// The request field, e.g. `password`.
    pub field: String,
    /// Stable machine-readable reason, e.g. `too_short`.
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.to_string(),
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"type": "urn:latch:problem:invalid_credentials", "title": "Invalid credentials",
    "status": 401, "code": "invalid_credentials", "detail": "The email or password is wrong."}))]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// Stable value clients switch on.
    pub code: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banned_until: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A wrong *current* password from a signed-in caller: not a reason to get a new token.
    #[error("wrong current password")]
    WrongPassword,
    /// A wrong second-factor code from a signed-in caller (setting factors up or down).
    #[error("wrong code")]
    WrongCode,
    #[error("refresh token reused")]
    RefreshTokenReused,
    #[error("forbidden")]
    Forbidden,
    /// The session did not authenticate recently enough for this change.
    #[error("reauthentication required")]
    ReauthenticationRequired,
    /// Too many wrong codes or current passwords for this account: checks pause.
    #[error("account paused")]
    Paused(std::time::Duration),
    #[error("feature disabled: {0}")]
    FeatureDisabled(&'static str),
    #[error("origin not allowed")]
    OriginNotAllowed,
    #[error("account disabled")]
    AccountDisabled,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed(Vec<String>),
    #[error("email taken")]
    EmailTaken,
    /// The change would leave no enabled admin.
    #[error("last admin")]
    LastAdmin,
    /// Another conflict with what is stored; the code names it (`last_sign_in_method`…).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// An unknown, used or expired one-time email token.
    #[error("invalid token")]
    InvalidToken,
    #[error("email not verified")]
    EmailNotVerified,
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Past a limit; retry after the window ends.
    #[error("rate limited")]
    RateLimited(std::time::Duration),
    /// A banned user or IP, until then.
    #[error("banned")]
    Banned(chrono::NaiveDateTime),
    /// More requests wait for a password hash than `PASSWORD_HASH_QUEUE` allows.
    #[error("overloaded")]
    Overloaded,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ApiError {
    pub fn validation(field: &str, code: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, code, message)])
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str, String) {
        use ApiError::*;
        let s = |x: &str| x.to_string();
        match self {
            InvalidRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", "Invalid request", d.clone()),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
                s("The request body must be application/json."),
            ),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
                s("The request body is larger than 64 KiB."),
            ),
            Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Validation failed",
                s("One or more fields break a rule; see `errors`."),
            ),
            Unauthorized(d) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", s(d)),
            InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "Invalid credentials",
                s("The email or password is wrong."),
            ),
            WrongPassword => (
                StatusCode::FORBIDDEN,
                "invalid_credentials",
                "Invalid credentials",
                s("The current password is wrong."),
            ),
            WrongCode => (
                StatusCode::FORBIDDEN,
                "invalid_credentials",
                "Invalid credentials",
                s("The code is wrong or was used already."),
            ),
            RefreshTokenReused => (
                StatusCode::UNAUTHORIZED,
                "refresh_token_reused",
                "Refresh token reused",
                s("This refresh token was already used; the session has been revoked. Sign in again."),
            ),
            Forbidden => (StatusCode::FORBIDDEN, "forbidden", "Forbidden", s("You may not do this.")),
            ReauthenticationRequired => (
                StatusCode::FORBIDDEN,
                "reauthentication_required",
                "Reauthentication required",
                s("Confirm it is you first: POST /auth/reauthenticate, or sign in again."),
            ),
            Paused(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many wrong attempts",
                s("Too many wrong codes or passwords for this account; try again after `Retry-After` seconds."),
            ),
            FeatureDisabled(what) => (
                StatusCode::FORBIDDEN,
                "feature_disabled",
                "Feature disabled",
                format!("{what} is switched off on this server."),
            ),
            OriginNotAllowed => (
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                "Origin not allowed",
                s("Requests carrying the refresh cookie must come from an allowed origin."),
            ),
            AccountDisabled => (
                StatusCode::FORBIDDEN,
                "account_disabled",
                "Account disabled",
                s("This account has been disabled."),
            ),
            NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found", s("No such resource.")),
            MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
                s("This resource does not answer that method."),
            ),
            EmailTaken => (
                StatusCode::CONFLICT,
                "email_taken",
                "Email taken",
                s("An account with this email already exists."),
            ),
            LastAdmin => (
                StatusCode::CONFLICT,
                "last_admin",
                "Last admin",
                s("This is the last active admin; make another admin first."),
            ),
            Conflict(code) => (
                StatusCode::CONFLICT,
                code,
                "Conflict",
                match *code {
                    "last_sign_in_method" => s("This is the account's last way to sign in; add another first."),
                    _ => s("The request conflicts with what is stored; try again."),
                },
            ),
            InvalidToken => (
                StatusCode::BAD_REQUEST,
                "invalid_token",
                "Invalid token",
                s("This link is unknown, already used or expired. Ask for a new one."),
            ),
            EmailNotVerified => (
                StatusCode::FORBIDDEN,
                "email_not_verified",
                "Email not verified",
                s("Confirm your email address first: follow the link we sent you."),
            ),
            Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "Service unavailable",
                s("The service is temporarily unable to answer; try again shortly."),
            ),
            RateLimited(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
                s("Too many attempts from this address; try again after `Retry-After` seconds."),
            ),
            Banned(_) => (
                StatusCode::FORBIDDEN,
                "banned",
                "Banned",
                s("This account or address is temporarily banned after repeated violations."),
            ),
            Overloaded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Overloaded",
                s("Too many requests are waiting for a password check; try again shortly."),
            ),
            Unexpected(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal error",
                s("Something went wrong on our side."),
            ),
        }
    }

    pub fn problem(&self) -> Problem {
        let (status, code, title, detail) = self.parts();
        Problem {
            kind: format!("urn:latch:problem:{code}"),
            title: title.to_string(),
            status: status.as_u16(),
            code: code.to_string(),
            detail,
            errors: match self {
                ApiError::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
            banned_until: match self {
                ApiError::Banned(until) => Some(until.and_utc()),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Unexpected(e) => tracing::error!(error = ?e, "unexpected error"),
            ApiError::Unavailable(why) => tracing::warn!(%why, "service unavailable"),
            _ => {}
        }
        let problem = self.problem();
        let mut res = HttpResponse::build(self.status_code());
        res.content_type("application/problem+json");
        match self {
            ApiError::Unauthorized(_)
            | ApiError::InvalidCredentials
            | ApiError::RefreshTokenReused => {
                res.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!(
                        "Bearer realm=\"latch\", error=\"invalid_token\", error_description=\"{}\"",
                        problem.code
                    ),
                ));
            }
            ApiError::MethodNotAllowed(allow) => {
                res.insert_header((header::ALLOW, allow.join(", ")));
            }
            ApiError::Unavailable(_) | ApiError::Overloaded => {
                res.insert_header((header::RETRY_AFTER, "1"));
            }
            ApiError::RateLimited(wait) | ApiError::Paused(wait) => {
                // Whole seconds, rounded up, and never 0 (that would invite a retry now).
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                res.insert_header((header::RETRY_AFTER, secs.max(1).to_string()));
            }
            _ => {}
        }
        res.json(problem)
    }
}

/// One broken rule is a `422` listing it.
impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Validation(vec![e])
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => ApiError::NotFound,
            // The database went away mid-request: a passing condition, not our fault.
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => ApiError::Unavailable(format!("database connection lost: {}", info.message())),
            // PostgreSQL text cannot hold a NUL; input validation keeps them out, and
            // one that slips through is still the client's odd byte, not our fault.
            Error::DatabaseError(_, info) if info.message().contains("0x00") => {
                ApiError::InvalidRequest("A text field holds a NUL character.".into())
            }
            e => ApiError::Unexpected(anyhow::Error::new(e).context("database query failed")),
        }
    }
}

impl From<r2d2::Error> for ApiError {
    fn from(e: r2d2::Error) -> Self {
        ApiError::Unavailable(format!("database connection: {e}"))
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Unexpected(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A path segment that is not what the route takes (an id that is not one) is an unknown
/// resource; unless a more specific route has that path (`DELETE /auth/sessions/report`
/// is not `DELETE /auth/sessions/{id}`) and does not answer the method: `405`.
pub fn path_error(_err: PathError, req: &HttpRequest) -> actix_web::Error {
    let routes = req.app_data::<actix_web::web::Data<crate::startup::RouteTable>>();
    match routes.and_then(|r| r.allowed(req.path())) {
        Some(methods) if !methods.iter().any(|m| m == req.method().as_str()) => {
            ApiError::MethodNotAllowed(methods).into()
        }
        _ => ApiError::NotFound.into(),
    }
}

pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::InvalidRequest(format!("Bad query string: {err}.")).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unexpected_errors_hide_their_cause() {
        let e = ApiError::Unexpected(anyhow::anyhow!("SELECT secret FROM users"));
        let p = e.problem();
        assert_eq!(p.status, 500);
        assert!(!p.detail.contains("SELECT"));
    }

    #[test]
    fn a_wrong_current_password_is_not_a_401() {
        assert_eq!(ApiError::WrongPassword.status_code(), StatusCode::FORBIDDEN);
        assert_eq!(
            ApiError::WrongPassword.problem().code,
            "invalid_credentials"
        );
    }
}
