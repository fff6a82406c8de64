//! The second step of a sign-in, and TOTP for the signed-in user.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::fresh::{amr, RecentUser};
use crate::auth::signin::FirstFactor;
use crate::db::models::{now, Session};
use crate::db::write_tx;
use crate::error::{ApiError, ApiResult};
use crate::mfa::Code;
use crate::moderation::guard::{self, Limited};
use crate::routes::json::Json;
use crate::routes::reauth;
use crate::routes::{answer, clear_mfa_cookie, no_store, SignInResult, MFA_COOKIE};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct MfaVerifyRequest {
    /// From the sign-in's `SecondFactorRequired` answer; after a social sign-in it comes
    /// as the `mfa_token` cookie instead.
    pub mfa_token: Option<String>,
    #[serde(flatten)]
    pub factor: SecondFactorFields,
}

/// A second factor as a request gives it: a TOTP code, a backup code, or a passkey
/// assertion.
#[derive(Deserialize, ToSchema, Default)]
pub struct SecondFactorFields {
    /// A code from the authenticator app.
    pub code: Option<String>,
    /// Or one of the backup codes.
    pub backup_code: Option<String>,
    /// Or a passkey: the ceremony from `startPasskeySignIn`…
    pub challenge_id: Option<String>,
    /// …and what `navigator.credentials.get` gave for it.
    #[schema(value_type = Option<Object>)]
    pub credential: Option<serde_json::Value>,
}

impl SecondFactorFields {
    /// The one factor given, or `None` when none is; two at once is `422`.
    pub fn factor(self) -> ApiResult<Option<Code>> {
        match (
            self.code,
            self.backup_code,
            self.challenge_id,
            self.credential,
        ) {
            (None, None, None, None) => Ok(None),
            (Some(c), None, None, None) => Ok(Some(Code::Totp(c))),
            (None, Some(b), None, None) => Ok(Some(Code::Backup(b))),
            (None, None, Some(challenge_id), Some(credential)) => Ok(Some(Code::Passkey {
                challenge_id,
                credential,
            })),
            _ => Err(ApiError::validation(
                "code",
                "one_of",
                "Give one of `code`, `backup_code`, or `challenge_id` with `credential`.",
            )),
        }
    }

    /// The one factor given; none is `422`.
    pub fn required(self) -> ApiResult<Code> {
        self.factor()?.ok_or_else(|| {
            ApiError::validation(
                "code",
                "required",
                "Give `code`, `backup_code`, or `challenge_id` with `credential`.",
            )
        })
    }
}

/// Exactly one of a TOTP code or a backup code.
fn one_code(code: Option<String>, backup: Option<String>) -> ApiResult<Code> {
    SecondFactorFields {
        code,
        backup_code: backup,
        ..Default::default()
    }
    .required()
}

/// Finish a sign-in with the second factor
///
/// Anonymous: the `mfa_token` from a sign-in that answered `mfa_required` (in the body, or
/// as the `mfa_token` cookie after a social sign-in) with exactly one of `code`,
/// `backup_code`, or a passkey's `challenge_id` and `credential`. Answers `200` signed in.
/// A wrong code is `401 invalid_credentials`; an `mfa_token` lives 5 minutes and allows 5
/// wrong codes, after which, like an unknown one, it is `400 invalid_token`. Limited per IP
/// by `TWO_FACTOR_TEMP_MAX`, and wrong codes also pause the account with `429`.
#[utoipa::path(
    tag = "auth",
    operation_id = "verifySecondFactor",
    request_body = MfaVerifyRequest,
    responses(
        (status = 200, description = "Signed in (the refresh token is set as a cookie)", body = SignInResult),
        crate::routes::problems::JsonBodyErrors,
        (status = 401, response = crate::routes::problems::InvalidCredentials),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 422, response = crate::routes::problems::ValidationFailed),
        (status = 429, response = crate::routes::problems::TooManyRequests),
        (status = 503, response = crate::routes::problems::Unavailable),
    )
)]
#[post("/auth/mfa/verify")]
pub async fn verify(
    state: web::Data<AppState>,
    _limit: Limited<guard::TwoFactor>,
    req: HttpRequest,
    body: Json<MfaVerifyRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let from_cookie = req.cookie(MFA_COOKIE).map(|c| c.value().to_string());
    let mfa_token = body.mfa_token.or(from_cookie.clone()).ok_or_else(|| {
        ApiError::validation(
            "mfa_token",
            "required",
            "Give the `mfa_token` of the sign-in.",
        )
    })?;
    let code = body.factor.required()?;
    let factor = FirstFactor::SecondFactor { mfa_token, code };
    let outcome = state.signin.sign_in(factor, state.client(&req)).await?;
    let mut res = answer(&state, StatusCode::OK, outcome);
    if from_cookie.is_some() {
        res.add_cookie(&clear_mfa_cookie(&state))
            .map_err(|e| ApiError::Unexpected(e.into()))?;
    }
    Ok(res)
}

#[derive(Serialize, ToSchema)]
pub struct TotpSetup {
    /// The secret in base32, for typing into an authenticator app.
    pub secret: String,
    /// `otpauth://totp/…`, for a QR code; the issuer is `APP_TITLE`.
    pub otpauth_uri: String,
}

/// Start setting up TOTP for the signed-in user
///
/// Requires a Bearer access token with recent authentication (else
/// `403 reauthentication_required`). Answers `200` with a new base32 `secret` and an
/// `otpauth_uri` for a QR code (issuer `APP_TITLE`), replacing any unconfirmed one; it is not
/// active until confirmed with `POST /auth/mfa/totp/enable`. An account whose TOTP is
/// already on gets `409 totp_enabled`.
#[utoipa::path(
    tag = "second factor",
    operation_id = "setUpTotp",
    responses(
        (status = 200, description = "A new secret, not active until confirmed with `enableTotp`", body = TotpSetup),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 409, response = crate::routes::problems::Conflict),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[post("/auth/mfa/totp/setup")]
pub async fn setup(state: web::Data<AppState>, current: RecentUser) -> ApiResult<HttpResponse> {
    let second = state.signin.second.clone();
    let (secret, otpauth_uri) = state
        .db
        .run(move |c| write_tx(c, |c| second.setup_in(c, &current.user, now())))
        .await?;
    let mut res = HttpResponse::Ok();
    no_store(&mut res);
    Ok(res.json(TotpSetup {
        secret,
        otpauth_uri,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct CodeRequest {
    /// A current code from the authenticator app.
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct BackupCodes {
    /// Ten single-use codes, shown this once.
    pub backup_codes: Vec<String>,
}

fn backup_codes(codes: Vec<String>) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    no_store(&mut res);
    res.json(BackupCodes {
        backup_codes: codes,
    })
}

/// Turn on TOTP with a code from the new secret
///
/// Requires a Bearer access token with recent authentication. Confirms the secret from
/// `POST /auth/mfa/totp/setup` with a current `code` from it and answers `200` with ten
/// single-use backup codes, shown this once; from then on every sign-in needs a second
/// factor. No pending secret is `409 totp_not_set_up`; a wrong code is
/// `403 invalid_credentials`, counted per account (repeated failures pause with `429`).
#[utoipa::path(
    tag = "second factor",
    operation_id = "enableTotp",
    request_body = CodeRequest,
    responses(
        (status = 200, description = "TOTP is on: every sign-in now needs a second factor. Ten backup codes, shown once", body = BackupCodes),
        crate::routes::problems::JsonBodyErrors,
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 409, response = crate::routes::problems::Conflict),
        (status = 429, response = crate::routes::problems::TooManyRequests),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[post("/auth/mfa/totp/enable")]
pub async fn enable(
    state: web::Data<AppState>,
    req: HttpRequest,
    current: RecentUser,
    body: Json<CodeRequest>,
) -> ApiResult<HttpResponse> {
    let (second, client, code) = (
        state.signin.second.clone(),
        state.client(&req),
        body.into_inner().code,
    );
    let user_id = current.user.id.clone();
    let enable = state.db.run(move |c| {
        write_tx(c, |c| {
            let codes = second.enable_in(c, &current.user, &code, &client, now())?;
            // Set up in this session: the session has proven it.
            Session::prove_method(c, &current.session, amr::OTP)?;
            Ok(codes)
        })
    });
    let codes = state.signin.guarded(&user_id, enable).await?;
    state.signin.wake_mail();
    Ok(backup_codes(codes))
}

#[derive(Deserialize, ToSchema)]
pub struct DisableTotpRequest {
    /// The account's password…
    pub password: Option<String>,
    /// …or a current code…
    pub code: Option<String>,
    /// …or a backup code.
    pub backup_code: Option<String>,
}

/// Turn off TOTP for the signed-in user
///
/// Requires a Bearer access token with recent authentication and exactly one of the
/// account's `password` (checked where it signs in: the directory's, for a directory
/// account), a current `code` or a `backup_code`. Removes the TOTP secret and
/// the backup codes and answers `204`. TOTP not on is `409 totp_not_enabled`; a wrong
/// password or code is `403 invalid_credentials`, counted per account (repeated failures
/// pause with `429`); none or several of the fields is `422`.
#[utoipa::path(
    tag = "second factor",
    operation_id = "disableTotp",
    request_body = DisableTotpRequest,
    responses(
        (status = 204, description = "TOTP and its backup codes are gone"),
        crate::routes::problems::JsonBodyErrors,
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 409, response = crate::routes::problems::Conflict),
        (status = 422, response = crate::routes::problems::ValidationFailed),
        (status = 429, response = crate::routes::problems::TooManyRequests),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[post("/auth/mfa/totp/disable")]
pub async fn disable(
    state: web::Data<AppState>,
    req: HttpRequest,
    current: RecentUser,
    body: Json<DisableTotpRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let user_id = current.user.id.clone();
    let (second, client) = (state.signin.second.clone(), state.client(&req));
    let disable = async {
        let code = match (body.password, body.code, body.backup_code) {
            (Some(password), None, None) => {
                // The password the account signs in with: the directory's for a
                // directory account. An account without one gives a wrong one.
                let of = match reauth::password_of(&state, &current.user).await {
                    Err(ApiError::Conflict("no_password")) => return Err(ApiError::WrongPassword),
                    of => of?,
                };
                reauth::check_password(&state, password, of).await?;
                None
            }
            (None, code, backup) => Some(one_code(code, backup)?),
            _ => {
                return Err(ApiError::validation(
                    "password",
                    "required",
                    "Give one of `password`, `code` or `backup_code`.",
                ))
            }
        };
        state
            .db
            .run(move |c| {
                write_tx(c, |c| {
                    second.disable_in(c, &current.user, code.as_ref(), &client, now())
                })
            })
            .await
    };
    state.signin.guarded(&user_id, disable).await?;
    state.signin.wake_mail();
    Ok(HttpResponse::NoContent().finish())
}

/// Replace the signed-in user's backup codes
///
/// Requires a Bearer access token with recent authentication and a current TOTP `code`.
/// Answers `200` with ten new single-use backup codes, shown this once; the earlier ones
/// stop working. TOTP not on is `409 totp_not_enabled`; a wrong code is
/// `403 invalid_credentials`, counted per account (repeated failures pause with `429`).
#[utoipa::path(
    tag = "second factor",
    operation_id = "regenerateBackupCodes",
    request_body = CodeRequest,
    responses(
        (status = 200, description = "Ten new backup codes; the earlier ones stop working", body = BackupCodes),
        crate::routes::problems::JsonBodyErrors,
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 409, response = crate::routes::problems::Conflict),
        (status = 429, response = crate::routes::problems::TooManyRequests),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[post("/auth/mfa/backup-codes")]
pub async fn regenerate(
    state: web::Data<AppState>,
    req: HttpRequest,
    current: RecentUser,
    body: Json<CodeRequest>,
) -> ApiResult<HttpResponse> {
    let (second, client, code) = (
        state.signin.second.clone(),
        state.client(&req),
        body.into_inner().code,
    );
    let user_id = current.user.id.clone();
    let regenerate = state.db.run(move |c| {
        write_tx(c, |c| {
            second.regenerate_in(c, &current.user, &code, &client, now())
        })
    });
    let codes = state.signin.guarded(&user_id, regenerate).await?;
    Ok(backup_codes(codes))
}
