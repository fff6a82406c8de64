//! Email-link flows: password reset, magic links, email verification, invitations.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::fresh::RecentUser;
use crate::auth::signin::FirstFactor;
use crate::domain::{Email, Password};
use crate::error::ApiResult;
use crate::moderation::guard::{self, Limited};
use crate::routes::json::Json;
use crate::routes::{answer, SignInResult, UserView};
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

fn password(state: &AppState, raw: &str) -> ApiResult<Password> {
    Ok(Password::parse("password", raw, state.settings.passwords)?)
}

#[utoipa::path(
    tag = "email",
    operation_id = "requestPasswordReset",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "Accepted, whether or not the address has an account; a reset link is mailed when it does"),
        crate::routes::problems::JsonBodyErrors,
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 422, response = crate::routes::problems::ValidationFailed),
        (status = 429, response = crate::routes::problems::TooManyRequests),
    )
)]
#[post("/auth/password/forgot")]
pub async fn forgot_password(
    state: web::Data<AppState>,
    limit: Limited<guard::ForgotPassword>,
    body: Json<EmailRequest>,
) -> ApiResult<HttpResponse> {
    state.signin.reset_allowed()?;
    let email = email(&body)?;
    if limit.may_mail() {
        state.signin.request_password_reset(email)?;
    }
    Ok(HttpResponse::Accepted().finish())
}

#[utoipa::path(
    tag = "email",
    operation_id = "resetPassword",
    request_body = TokenPasswordRequest,
    responses(
        (status = 200, description = "Password set and signed in; every other session is signed out. With a second factor: `SecondFactorRequired` (the password is set once it is given)", body = SignInResult),
        crate::routes::problems::JsonBodyErrors,
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 422, response = crate::routes::problems::ValidationFailed),
        (status = 429, response = crate::routes::problems::TooManyRequests),
        (status = 503, response = crate::routes::problems::Unavailable),
    )
)]
#[post("/auth/password/reset")]
pub async fn reset_password(
    state: web::Data<AppState>,
    _limit: Limited<guard::ResetPassword>,
    req: HttpRequest,
    body: Json<TokenPasswordRequest>,
) -> ApiResult<HttpResponse> {
    state.signin.reset_allowed()?;
    let body = body.into_inner();
    // A weak password is refused before the token is looked at, so it is not spent.
    let password = password(&state, &body.password)?;
    let factor = FirstFactor::Reset {
        token: body.token,
        password,
    };
    let outcome = state.signin.sign_in(factor, state.client(&req)).await?;
    Ok(answer(&state, StatusCode::OK, outcome))
}

#[utoipa::path(
    tag = "email",
    operation_id = "requestMagicLink",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "Accepted; a sign-in link is mailed when the address has an account, or may get one"),
        crate::routes::problems::JsonBodyErrors,
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 422, response = crate::routes::problems::ValidationFailed),
        (status = 429, response = crate::routes::problems::TooManyRequests),
    )
)]
#[post("/auth/magic-link")]
pub async fn magic_link(
    state: web::Data<AppState>,
    limit: Limited<guard::MagicLinkRequest>,
    body: Json<EmailRequest>,
) -> ApiResult<HttpResponse> {
    state.signin.magic_link_allowed()?;
    let email = email(&body)?;
    if limit.may_mail() {
        state.signin.request_magic_link(email)?;
    }
    Ok(HttpResponse::Accepted().finish())
}

#[utoipa::path(
    tag = "email",
    operation_id = "verifyMagicLink",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Signed in (the account is created for a new address where registration is on), or `SecondFactorRequired`", body = SignInResult),
        crate::routes::problems::JsonBodyErrors,
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 429, response = crate::routes::problems::TooManyRequests),
        (status = 503, response = crate::routes::problems::Unavailable),
    )
)]
#[post("/auth/magic-link/verify")]
pub async fn verify_magic_link(
    state: web::Data<AppState>,
    _limit: Limited<guard::Login>,
    req: HttpRequest,
    body: Json<TokenRequest>,
) -> ApiResult<HttpResponse> {
    state.signin.magic_link_allowed()?;
    let factor = FirstFactor::MagicLink {
        token: body.into_inner().token,
    };
    let outcome = state.signin.sign_in(factor, state.client(&req)).await?;
    Ok(answer(&state, StatusCode::OK, outcome))
}

#[utoipa::path(
    tag = "email",
    operation_id = "verifyEmail",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "The user, now with `email_verified: true`", body = UserView),
        crate::routes::problems::JsonBodyErrors,
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 429, response = crate::routes::problems::TooManyRequests),
        (status = 503, response = crate::routes::problems::Unavailable),
    )
)]
#[post("/auth/email/verify")]
pub async fn verify_email(
    state: web::Data<AppState>,
    _limit: Limited<guard::VerifyEmail>,
    body: Json<TokenRequest>,
) -> ApiResult<HttpResponse> {
    let user = state.signin.verify_email(body.into_inner().token).await?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

#[utoipa::path(
    tag = "email",
    operation_id = "resendVerification",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "Accepted; a new verification link is mailed when the address has an unverified account"),
        crate::routes::problems::JsonBodyErrors,
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 422, response = crate::routes::problems::ValidationFailed),
        (status = 429, response = crate::routes::problems::TooManyRequests),
    )
)]
#[post("/auth/email/verify/resend")]
pub async fn resend_verification(
    state: web::Data<AppState>,
    limit: Limited<guard::ResendVerification>,
    body: Json<EmailRequest>,
) -> ApiResult<HttpResponse> {
    state.signin.mail("Email verification")?;
    let email = email(&body)?;
    if limit.may_mail() {
        state.signin.resend_verification(email)?;
    }
    Ok(HttpResponse::Accepted().finish())
}

#[utoipa::path(
    tag = "email",
    operation_id = "acceptInvite",
    request_body = TokenPasswordRequest,
    responses(
        (status = 200, description = "Invitation accepted: password set and signed in", body = SignInResult),
        crate::routes::problems::JsonBodyErrors,
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 422, response = crate::routes::problems::ValidationFailed),
        (status = 429, response = crate::routes::problems::TooManyRequests),
        (status = 503, response = crate::routes::problems::Unavailable),
    )
)]
#[post("/auth/invite/accept")]
pub async fn accept_invite(
    state: web::Data<AppState>,
    _limit: Limited<guard::Login>,
    req: HttpRequest,
    body: Json<TokenPasswordRequest>,
) -> ApiResult<HttpResponse> {
    state.signin.mail("Invitations")?;
    let body = body.into_inner();
    let password = password(&state, &body.password)?;
    let factor = FirstFactor::Invite {
        token: body.token,
        password,
    };
    let outcome = state.signin.sign_in(factor, state.client(&req)).await?;
    Ok(answer(&state, StatusCode::OK, outcome))
}

#[utoipa::path(
    tag = "account",
    operation_id = "requestEmailChange",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "Accepted: a link to confirm goes to the new address, a notice to the current one. A taken address gets the same answer and the same notice, and no link"),
        crate::routes::problems::JsonBodyErrors,
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 422, response = crate::routes::problems::ValidationFailed),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[post("/auth/email/change")]
pub async fn change_email(
    state: web::Data<AppState>,
    current: RecentUser,
    body: Json<EmailRequest>,
) -> ApiResult<HttpResponse> {
    let email = email(&body)?;
    state.signin.request_email_change(current.user.id, email)?;
    Ok(HttpResponse::Accepted().finish())
}

#[utoipa::path(
    tag = "email",
    operation_id = "confirmEmailChange",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "The user, with the new address, verified; the account's other links stop working", body = UserView),
        crate::routes::problems::JsonBodyErrors,
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 409, response = crate::routes::problems::Conflict),
        (status = 429, response = crate::routes::problems::TooManyRequests),
        (status = 503, response = crate::routes::problems::Unavailable),
    )
)]
#[post("/auth/email/change/confirm")]
pub async fn confirm_email_change(
    state: web::Data<AppState>,
    _limit: Limited<guard::VerifyEmail>,
    body: Json<TokenRequest>,
) -> ApiResult<HttpResponse> {
    let user = state
        .signin
        .confirm_email_change(body.into_inner().token)
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}
