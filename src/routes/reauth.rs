//! `POST /auth/reauthenticate`: the signed-in user proves again what a sign-in of their
//! account requires (a password plus the second factor it has, or a passkey alone), and
//! the session becomes fresh (see `auth::fresh`). The same checks as signing in, counted
//! per account like every code and current password.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::audit;
use crate::auth::extractor::CurrentUser;
use crate::auth::fresh::amr;
use crate::auth::signin::session::issue;
use crate::db::models::{now, Session, User};
use crate::db::write_tx;
use crate::error::{ApiError, ApiResult};
use crate::mfa::Code;
use crate::routes::json::Json;
use crate::routes::{signed_in, SignInResponse};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct ReauthenticateRequest {
    /// The account's password…
    pub password: Option<String>,
    /// …with a current TOTP code when the account has TOTP…
    pub code: Option<String>,
    /// …or one of its backup codes.
    pub backup_code: Option<String>,
    /// Or a passkey alone: the ceremony from `startPasskeySignIn`…
    pub challenge_id: Option<String>,
    /// …and what `navigator.credentials.get` gave for it.
    #[schema(value_type = Option<Object>)]
    pub credential: Option<serde_json::Value>,
}

#[utoipa::path(
    tag = "account",
    operation_id = "reauthenticate",
    request_body = ReauthenticateRequest,
    responses(
        (status = 200, description = "The session is fresh: a new access token (with the new `auth_time` and `amr`); the refresh token is not rotated", body = SignInResponse),
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
#[post("/auth/reauthenticate")]
pub async fn reauthenticate(
    state: web::Data<AppState>,
    req: HttpRequest,
    current: CurrentUser,
    body: Json<ReauthenticateRequest>,
) -> ApiResult<HttpResponse> {
    let user = current.user;
    let sid = current.claims.sid;
    let proven = state
        .signin
        .guarded(&user.id, check(&state, &user, body.into_inner()))
        .await?;
    let client = state.client(&req);
    let user_id = user.id.clone();
    let session = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                Session::reauthenticated(conn, &sid, now(), &proven)?;
                let event = audit::Event::by_self(audit::kind::REAUTHENTICATED, &user_id, &client);
                audit::record_in(conn, event.detail(proven.clone()))?;
                Session::find(conn, &sid)?.ok_or(ApiError::Unauthorized("This session has ended."))
            })
        })
        .await?;
    let signed = issue(&state.signin.tokens, user, &session, None)?;
    Ok(signed_in(&state, StatusCode::OK, signed))
}

/// The methods the request proves for `user` (its `amr`), or why not.
async fn check(state: &AppState, user: &User, body: ReauthenticateRequest) -> ApiResult<String> {
    if let (Some(challenge_id), Some(credential)) = (body.challenge_id, body.credential) {
        let code = Code::Passkey {
            challenge_id,
            credential,
        };
        let (second, user_id) = (state.signin.second.clone(), user.id.clone());
        let mine = state
            .db
            .run(move |c| write_tx(c, |c| Ok(second.check_in(c, &user_id, &code, now()))))
            .await??;
        return if mine {
            Ok(amr::HWK.to_string())
        } else {
            Err(ApiError::WrongCode)
        };
    }
    let password = body.password.ok_or_else(|| {
        ApiError::validation(
            "password",
            "required",
            "Give the password (with `code` or `backup_code` when the account has TOTP), or `challenge_id` and `credential` of a passkey.",
        )
    })?;
    let Some(hash) = user.password_hash.clone() else {
        return Err(ApiError::Conflict("no_password"));
    };
    let user_id = user.id.clone();
    let methods = state
        .db
        .run(move |c| crate::mfa::methods_in(c, &user_id))
        .await?;
    let code = match (body.code, body.backup_code) {
        (Some(c), None) => Some(Code::Totp(c)),
        (None, Some(b)) => Some(Code::Backup(b)),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "code",
                "one_of",
                "Give `code` or `backup_code`, not both.",
            ))
        }
    };
    let has_totp = methods.contains(&"totp");
    if !methods.is_empty() && !has_totp {
        return Err(ApiError::validation(
            "credential",
            "required",
            "This account's second factor is a passkey: reauthenticate with it.",
        ));
    }
    if has_totp && code.is_none() {
        return Err(ApiError::validation(
            "code",
            "required",
            "This account has TOTP: give `code` or `backup_code` with the password.",
        ));
    }
    let verified = state
        .hasher()
        .verify(SecretString::from(password), Some(hash))
        .await?;
    if !verified.ok {
        return Err(ApiError::WrongPassword);
    }
    let Some(code) = code.filter(|_| has_totp) else {
        return Ok(amr::PWD.to_string());
    };
    let (second, user_id) = (state.signin.second.clone(), user.id.clone());
    let right = state
        .db
        .run(move |c| write_tx(c, |c| second.check_in(c, &user_id, &code, now())))
        .await?;
    if right {
        Ok(format!("{},{}", amr::PWD, amr::OTP))
    } else {
        Err(ApiError::WrongCode)
    }
}
