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

/// Ask for a password reset link
///
/// Anonymous. Always answers `202`, whether or not the address has an account, so nothing
/// about accounts is revealed; a reset link is mailed when an enabled account has this
/// address (within `EMAIL_ADDRESS_MAX` per window, and never to a request from a banned IP).
/// A value that is not an email address is `422`; without mail or with
/// `ALLOW_PASSWORD_RESET=false` it is `403 feature_disabled`. Limited by `RESET_PASSWORD_MAX`.
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

/// Set a new password with a reset link
///
/// Anonymous: the `token` from the emailed link and the new `password`. Sets the password,
/// signs out every other session of the user and answers `200` signed in, or with
/// `mfa_required` when the account has a second factor (the password is set once that is
/// given). A password that breaks the rules is `422` and does not spend the token; an
/// unknown, used or expired token is `400 invalid_token`. Password reset off is
/// `403 feature_disabled`; limited by `RESET_PASSWORD_SUBMISSION_MAX`.
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

/// Ask for a sign-in link by email
///
/// Anonymous. Always answers `202`; a one-time sign-in link is mailed when the address has an
/// enabled account, or may get one because registration is on (the account is created when
/// the link is used). A value that is not an email address is `422`; magic links off
/// (`ALLOW_MAGIC_LINK`) or no mail configured is `403 feature_disabled`. Limited by
/// `LOGIN_MAX`.
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

/// Sign in with a magic link
///
/// Anonymous: the `token` from the emailed link. Answers `200` signed in (creating the
/// account for a new address where registration is on), or with `mfa_required` when the
/// account has a second factor. An unknown, used or expired token is `400 invalid_token`;
/// a disabled or banned account is `403`, and magic links off is `403 feature_disabled`.
/// Limited by `LOGIN_MAX`.
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

/// Verify an email address with the emailed link
///
/// Anonymous: the `token` from the verification email. Marks the address verified and
/// answers `200` with the user (`email_verified: true`); it does not sign in. An unknown,
/// used or expired token is `400 invalid_token`, a disabled account `403 account_disabled`,
/// and without mail configured `403 feature_disabled`. Limited by
/// `VERIFY_EMAIL_SUBMISSION_MAX`.
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

/// Ask for a new verification link
///
/// Anonymous. Always answers `202`, whether or not the address has an account; a new
/// verification link is mailed when the address belongs to an enabled account that is not
/// yet verified. A value that is not an email address is `422`; without mail configured it
/// is `403 feature_disabled`. Limited by `VERIFY_EMAIL_MAX`.
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

/// Accept an invitation and set a password
///
/// Anonymous: the `token` from the invitation email and a `password`. Sets the password,
/// marks the address verified and answers `200` signed in. A password that breaks the rules
/// is `422` and does not spend the token; an unknown, used or expired token is
/// `400 invalid_token`; without mail configured it is `403 feature_disabled`. Limited by
/// `LOGIN_MAX`.
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

/// Ask to change the signed-in user's email address
///
/// Requires a Bearer access token with recent authentication (else
/// `403 reauthentication_required`). Always answers `202`: a confirmation link goes to the
/// new address and a notice to the current one; an address already taken gets the same
/// answer and notice but no link. A value that is not an email address is `422`; without
/// mail configured it is `403 feature_disabled`.
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

/// Confirm an email address change with the emailed link
///
/// Anonymous: the `token` from the link sent to the new address, no Bearer token. Makes it
/// the account's address, verified, voids the account's other outstanding links and answers
/// `200` with the user. An address taken since the request is `409 email_taken` (the link
/// stays unspent); an unknown, used or expired token is `400 invalid_token`. Limited by
/// `VERIFY_EMAIL_SUBMISSION_MAX`.
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
