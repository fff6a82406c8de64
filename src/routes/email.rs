//! Email-link flows: password reset, magic links, email verification, invitations.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::client::ClientInfo;
use crate::auth::email as flows;
use crate::domain::{Email, Password};
use crate::error::ApiResult;
use crate::mail::templates::Kind;
use crate::routes::{signed_in, SignInResponse, UserView};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct EmailRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
}

#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    /// The token from the emailed link.
    pub token: String,
}

#[derive(Deserialize, ToSchema)]
pub struct TokenPasswordRequest {
    /// The token from the emailed link.
    pub token: String,
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
}

fn email(body: &EmailRequest) -> ApiResult<Email> {
    Ok(Email::parse("email", &body.email)?)
}

fn password(raw: &str) -> ApiResult<Password> {
    Ok(Password::parse("password", raw)?)
}

#[utoipa::path(
    tag = "email",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "Accepted, whether or not the address has an account; a reset link is mailed when it does"),
        crate::openapi::JsonBodyErrors,
        (status = 403, response = crate::openapi::Forbidden),
        (status = 422, response = crate::openapi::ValidationFailed),
    )
)]
#[post("/auth/password/forgot")]
pub async fn forgot_password(
    state: web::Data<AppState>,
    body: web::Json<EmailRequest>,
) -> ApiResult<HttpResponse> {
    flows::request_password_reset(state, email(&body)?)?;
    Ok(HttpResponse::Accepted().finish())
}

#[utoipa::path(
    tag = "email",
    request_body = TokenPasswordRequest,
    responses(
        (status = 200, description = "Password set and signed in; every other session is signed out", body = SignInResponse),
        crate::openapi::JsonBodyErrors,
        (status = 403, response = crate::openapi::Forbidden),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
#[post("/auth/password/reset")]
pub async fn reset_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<TokenPasswordRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    // A weak password is refused before the token is looked at, so it is not spent.
    let password = password(&body.password)?;
    let client = ClientInfo::from_request(&req, state.settings.trust_proxy);
    let signed =
        flows::set_password_from_link(&state, Kind::PasswordReset, body.token, password, client)
            .await?;
    Ok(signed_in(&state, StatusCode::OK, signed))
}

#[utoipa::path(
    tag = "email",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "Accepted; a sign-in link is mailed when the address has an account, or may get one"),
        crate::openapi::JsonBodyErrors,
        (status = 403, response = crate::openapi::Forbidden),
        (status = 422, response = crate::openapi::ValidationFailed),
    )
)]
#[post("/auth/magic-link")]
pub async fn magic_link(
    state: web::Data<AppState>,
    body: web::Json<EmailRequest>,
) -> ApiResult<HttpResponse> {
    let address = email(&body)?;
    flows::request_magic_link(state, address)?;
    Ok(HttpResponse::Accepted().finish())
}

#[utoipa::path(
    tag = "email",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Signed in (the account is created for a new address where registration is on)", body = SignInResponse),
        crate::openapi::JsonBodyErrors,
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
#[post("/auth/magic-link/verify")]
pub async fn verify_magic_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<TokenRequest>,
) -> ApiResult<HttpResponse> {
    let client = ClientInfo::from_request(&req, state.settings.trust_proxy);
    let signed = flows::verify_magic_link(&state, body.into_inner().token, client).await?;
    Ok(signed_in(&state, StatusCode::OK, signed))
}

#[utoipa::path(
    tag = "email",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "The user, now with `email_verified: true`", body = UserView),
        crate::openapi::JsonBodyErrors,
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
#[post("/auth/email/verify")]
pub async fn verify_email(
    state: web::Data<AppState>,
    body: web::Json<TokenRequest>,
) -> ApiResult<HttpResponse> {
    let user = flows::verify_email(&state, body.into_inner().token).await?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

#[utoipa::path(
    tag = "email",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "Accepted; a new verification link is mailed when the address has an unverified account"),
        crate::openapi::JsonBodyErrors,
        (status = 403, response = crate::openapi::Forbidden),
        (status = 422, response = crate::openapi::ValidationFailed),
    )
)]
#[post("/auth/email/verify/resend")]
pub async fn resend_verification(
    state: web::Data<AppState>,
    body: web::Json<EmailRequest>,
) -> ApiResult<HttpResponse> {
    flows::resend_verification(state, email(&body)?)?;
    Ok(HttpResponse::Accepted().finish())
}

#[utoipa::path(
    tag = "email",
    request_body = TokenPasswordRequest,
    responses(
        (status = 200, description = "Invitation accepted: password set and signed in", body = SignInResponse),
        crate::openapi::JsonBodyErrors,
        (status = 403, response = crate::openapi::Forbidden),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
#[post("/auth/invite/accept")]
pub async fn accept_invite(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<TokenPasswordRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let password = password(&body.password)?;
    let client = ClientInfo::from_request(&req, state.settings.trust_proxy);
    let signed =
        flows::set_password_from_link(&state, Kind::Invite, body.token, password, client).await?;
    Ok(signed_in(&state, StatusCode::OK, signed))
}
