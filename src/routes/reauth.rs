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
use crate::db::models::{now, Identity, Session, User};
use crate::db::write_tx;
use crate::error::{ApiError, ApiResult};
use crate::mfa::Code;
use crate::routes::json::Json;
use crate::routes::mfa::SecondFactorFields;
use crate::routes::{signed_in, SignInResponse};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct ReauthenticateRequest {
    /// The account's password, with its second factor when it has TOTP (a code or a
    /// backup code); or no password and a passkey alone.
    pub password: Option<String>,
    #[serde(flatten)]
    pub factor: SecondFactorFields,
}

/// Prove the factors again to make the session fresh
///
/// For a signed-in user (Bearer): send `password` (checked against the directory for a
/// directory account), plus `code` or `backup_code` when the account has TOTP, or a passkey
/// alone (`challenge_id` and `credential`). On success the session counts as recently
/// authenticated for `REAUTH_MAX_AGE` and the answer is a new access token with the new
/// `auth_time` and `amr`; the refresh token is not rotated. A wrong password or code is
/// `403 invalid_credentials` (counted per account; repeated failures pause with `429`), an
/// account without a password is `409 no_password`, and a missing factor is `422`.
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
    let factor = body.factor.factor()?;
    let Some(password) = body.password else {
        return match factor {
            Some(passkey @ Code::Passkey { .. }) => {
                proven(state, user, passkey, amr::HWK.to_string()).await
            }
            _ => Err(ApiError::validation(
                "password",
                "required",
                "Give the password (with `code` or `backup_code` when the account has TOTP), or `challenge_id` and `credential` of a passkey.",
            )),
        };
    };
    let hash = password_of(state, user).await?;
    let user_id = user.id.clone();
    let methods = state
        .db
        .run(move |c| crate::mfa::methods_in(c, &user_id))
        .await?;
    let has_totp = methods.contains(&"totp");
    let code = match factor {
        Some(Code::Passkey { .. }) => {
            return Err(ApiError::validation(
                "password",
                "one_of",
                "A passkey proves both factors: give it without the password.",
            ))
        }
        code if has_totp => code.ok_or_else(|| {
            ApiError::validation(
                "code",
                "required",
                "This account has TOTP: give `code` or `backup_code` with the password.",
            )
        })?,
        _ if !methods.is_empty() => {
            return Err(ApiError::validation(
                "credential",
                "required",
                "This account's second factor is a passkey: reauthenticate with it.",
            ))
        }
        _ => {
            check_password(state, password, hash).await?;
            return Ok(amr::PWD.to_string());
        }
    };
    check_password(state, password, hash).await?;
    proven(state, user, code, format!("{},{}", amr::PWD, amr::OTP)).await
}

/// Where the account's password is checked, as at sign-in.
pub(crate) enum PasswordOf {
    /// Its local hash.
    Local(String),
    /// The directory, for the entry of this identity key.
    Directory(String),
}

/// With a directory on, an account linked to a directory identity proves its password
/// there (as it signs in); otherwise with its local password, if it has one.
pub(crate) async fn password_of(state: &AppState, user: &User) -> ApiResult<PasswordOf> {
    if state.signin.directory.is_some() {
        let user_id = user.id.clone();
        let identities = state
            .db
            .run(move |c| Ok(Identity::for_user(c, &user_id)?))
            .await?;
        if let Some(entry) = identities
            .into_iter()
            .find(|i| i.provider == crate::directory::PROVIDER)
        {
            return Ok(PasswordOf::Directory(entry.subject));
        }
    }
    match user.password_hash.clone() {
        Some(hash) => Ok(PasswordOf::Local(hash)),
        None => Err(ApiError::Conflict("no_password")),
    }
}

/// `403 invalid_credentials` unless `password` is the account's, where `of` says.
pub(crate) async fn check_password(
    state: &AppState,
    password: String,
    of: PasswordOf,
) -> ApiResult<()> {
    let password = SecretString::from(password);
    let ok = match (of, &state.signin.directory) {
        (PasswordOf::Directory(subject), Some(directory)) => directory
            .authenticate_subject(&subject, &password)
            .await
            .map_err(|why| ApiError::Unavailable(format!("directory: {}", why.0)))?
            .is_some_and(|entry| entry.subject == subject),
        (PasswordOf::Local(hash), _) => state.hasher().verify(password, Some(hash)).await?.ok,
        (PasswordOf::Directory(_), None) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::WrongPassword)
    }
}

/// `amr` when `code` is the user's second factor (spent), else `403 invalid_credentials`.
async fn proven(state: &AppState, user: &User, code: Code, amr: String) -> ApiResult<String> {
    let (second, user_id) = (state.signin.second.clone(), user.id.clone());
    // A passkey's ceremony is spent whatever the outcome: the check commits either way.
    let right = state
        .db
        .run(move |c| write_tx(c, |c| Ok(second.check_in(c, &user_id, &code, now()))))
        .await??;
    if right {
        Ok(amr)
    } else {
        Err(ApiError::WrongCode)
    }
}
