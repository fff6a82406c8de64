//! Signing in and out: register, login, refresh, logout, dev login, and the settings a
//! frontend needs to draw its sign-in screen. Each sign-in builds a first factor and
//! hands it to the pipeline (`auth::signin`).

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::extractor::Bearer;
use crate::auth::sessions::{self, LogoutBy};
use crate::auth::signin::FirstFactor;
use crate::domain::{Email, Password, UserName};
use crate::error::{ApiError, ApiResult};
use crate::moderation::guard::{self, Limited};
use crate::routes::json::{Json, OptionalJson};
use crate::routes::{
    answer, clear_refresh_cookie, presented_refresh_token, signed_in, SignInResponse, SignInResult,
    UserView,
};
use crate::state::AppState;

/// What a frontend needs to draw its sign-in screen.
#[derive(Serialize, ToSchema)]
pub struct AuthConfig {
    pub password_login: bool,
    pub registration: bool,
    pub magic_link: bool,
    pub social_login: bool,
    pub social_registration: bool,
    pub dev_login: bool,
    pub invite_required: bool,
    pub has_email: bool,
    pub require_email_verification: bool,
    pub providers: Vec<Provider>,
    pub password_min_length: usize,
    /// `"openid"` with `OPENID_AUTO_REDIRECT`: the frontend may go straight to that
    /// provider instead of showing its sign-in form. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_redirect: Option<&'static str>,
    /// Present when directory sign-in (LDAP) is on: `/auth/login` checks the directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ldap: Option<LdapConfig>,
}

/// A social sign-in provider.
#[derive(Serialize, ToSchema)]
pub struct Provider {
    pub id: String,
    pub name: String,
    /// An icon for the button, when one is configured (`OPENID_IMAGE_URL`,
    /// `SAML_IMAGE_URL`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

/// Get the sign-in settings for a frontend
///
/// What a frontend needs to draw its sign-in screen, for anyone, no authentication: which
/// methods are on (password, registration, magic link, social, dev login), whether invites
/// are required, `has_email`, `require_email_verification`, the social `providers` and
/// `password_min_length`. `auto_redirect` and `ldap` appear only when configured.
#[utoipa::path(
    tag = "auth",
    operation_id = "getAuthConfig",
    responses((status = 200, description = "Which sign-in methods are on", body = AuthConfig))
)]
#[get("/auth/config")]
pub async fn config(state: web::Data<AppState>) -> HttpResponse {
    let s = &state.settings;
    let p = &s.policy;
    HttpResponse::Ok().json(AuthConfig {
        password_login: p.allow_email_login || s.ldap.is_some(),
        registration: p.may_register(),
        magic_link: p.allow_magic_link,
        social_login: s.social.allow_login,
        social_registration: s.social.allow_login
            && p.allow_social_registration
            && !p.invite_required,
        dev_login: p.dev_login,
        invite_required: p.invite_required,
        has_email: s.mail.is_some(),
        require_email_verification: p.require_email_verification,
        providers: state
            .social
            .providers()
            .iter()
            .map(|p| Provider {
                id: p.config.id.clone(),
                name: p.config.name.clone(),
                image_url: p.config.image_url.clone(),
            })
            .collect(),
        password_min_length: s.passwords.min_length,
        auto_redirect: (s.social.auto_redirect && state.social.get("openid").is_some())
            .then_some("openid"),
        ldap: s.ldap.as_ref().map(|l| LdapConfig {
            username: l.login_uses_username,
        }),
    })
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(format = Email, example = "ada@example.com")]
    pub email: String,
    /// At least `password_min_length` characters (see `/auth/config`), at most 1024 bytes.
    #[schema(
        example = "correct horse battery staple",
        min_length = 8,
        max_length = 1024
    )]
    pub password: String,
    /// Defaults to the email's local part.
    pub name: Option<String>,
}

/// The answer to a registration that must be verified before signing in.
#[derive(Serialize, ToSchema)]
pub struct PendingVerification {
    pub user: UserView,
    /// Always `true`: follow the emailed link, then sign in.
    pub verification_required: bool,
}

/// Register a new account with email and password
///
/// Anonymous. Creates an account and answers `201` signed in, with the refresh token set as
/// configured by `REFRESH_TOKEN_DELIVERY`. When email verification is required it answers
/// `201 {user, verification_required: true}` without tokens, the same for an address that
/// is already registered; otherwise a taken address is `409 email_taken`. Registration off
/// (or `INVITE_REQUIRED`) is `403 feature_disabled`; a bad email, password or name is
/// `422 validation_failed`.
#[utoipa::path(
    tag = "auth",
    operation_id = "register",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered and signed in (the refresh token is set as a cookie); with REQUIRE_EMAIL_VERIFICATION, `PendingVerification` instead and no tokens", body = SignInResponse),
        crate::routes::problems::JsonBodyErrors,
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 409, response = crate::routes::problems::Conflict),
        (status = 422, response = crate::routes::problems::ValidationFailed),
        (status = 429, response = crate::routes::problems::TooManyRequests),
        (status = 503, response = crate::routes::problems::Unavailable),
    )
)]
#[post("/auth/register")]
pub async fn register(
    state: web::Data<AppState>,
    _limit: Limited<guard::Register>,
    req: HttpRequest,
    body: Json<RegisterRequest>,
) -> ApiResult<HttpResponse> {
    if !state.settings.policy.may_register() {
        return Err(ApiError::FeatureDisabled("Registration"));
    }
    let body = body.into_inner();
    let email = Email::parse("email", &body.email);
    let password = Password::parse("password", &body.password, state.settings.passwords);
    let name = body
        .name
        .as_deref()
        .map(|n| UserName::parse("name", n))
        .transpose();
    let (email, password, name) = match (email, password, name) {
        (Ok(e), Ok(p), Ok(n)) => (e, p, n),
        (e, p, n) => {
            let errors = [e.err(), p.err(), n.err()].into_iter().flatten().collect();
            return Err(ApiError::Validation(errors));
        }
    };
    let name = name.unwrap_or_else(|| UserName::from_email(&email));
    if state.settings.policy.require_email_verification {
        let user = state.signin.register_pending(email, name, password).await?;
        return Ok(HttpResponse::Created().json(PendingVerification {
            user: UserView::from(&user),
            verification_required: true,
        }));
    }
    let factor = FirstFactor::Registration {
        email,
        name,
        password,
    };
    let outcome = state.signin.sign_in(factor, state.client(&req)).await?;
    Ok(answer(&state, StatusCode::CREATED, outcome))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The address; with directory sign-in, whatever the directory's filter looks up (a
    /// username with `"ldap": {"username": true}` in `/auth/config`).
    #[schema(example = "ada@example.com")]
    pub email: Option<String>,
    /// With directory sign-in: the username, instead of `email`.
    pub username: Option<String>,
    pub password: String,
}

/// What `/auth/config` says of directory sign-in.
#[derive(Serialize, ToSchema)]
pub struct LdapConfig {
    /// The sign-in form asks for a username (`LDAP_LOGIN_USES_USERNAME`), not an address.
    pub username: bool,
}

/// Sign in with email and password
///
/// Anonymous. Checks the password locally or, with directory sign-in on, against LDAP (which
/// may take a `username` instead of `email`). Answers `200` signed in, or, for an account
/// with a second factor, `200` with `mfa_required` and an `mfa_token` for `/auth/mfa/verify`.
/// An unknown email and a wrong password give the same `401 invalid_credentials`. After a
/// correct password, a disabled or banned account, or an unverified one while verification
/// is required, is `403`; an unreachable directory is `503`.
#[utoipa::path(
    tag = "auth",
    operation_id = "login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in (the refresh token is set as a cookie), or, for an account with a second factor, `SecondFactorRequired`", body = SignInResult),
        crate::routes::problems::JsonBodyErrors,
        (status = 401, response = crate::routes::problems::InvalidCredentials),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 409, response = crate::routes::problems::Conflict),
        (status = 422, response = crate::routes::problems::ValidationFailed),
        (status = 429, response = crate::routes::problems::TooManyRequests),
        (status = 503, response = crate::routes::problems::Unavailable),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    _limit: Limited<guard::PasswordLogin>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    if !state.settings.policy.allow_email_login && state.signin.directory.is_none() {
        return Err(ApiError::FeatureDisabled("Email and password sign-in"));
    }
    let body = body.into_inner();
    let Some(login) = body.username.or(body.email) else {
        return Err(ApiError::validation(
            "email",
            "required",
            "Give `email` (or, with directory sign-in, `username`).",
        ));
    };
    let factor = FirstFactor::Password {
        email: login,
        password: SecretString::from(body.password),
    };
    let outcome = state.signin.sign_in(factor, state.client(&req)).await?;
    Ok(answer(&state, StatusCode::OK, outcome))
}

/// Optional body of `/auth/refresh`.
#[derive(Deserialize, ToSchema, Default)]
pub struct RefreshRequest {
    /// For clients that keep the refresh token themselves (`REFRESH_TOKEN_DELIVERY=body`);
    /// browsers send the cookie instead.
    pub refresh_token: Option<String>,
}

/// Get a new access token with the refresh token
///
/// Takes the refresh token from its cookie or from `refresh_token` in the body, no Bearer
/// token. Answers `200` with a new access token and rotates the refresh token. An
/// already-rotated token inside `REFRESH_REUSE_GRACE` gets an access token and no new refresh
/// token; after the window it counts as theft, the session is revoked and the answer is
/// `401 refresh_token_reused`. A cookie sent from an origin outside `CORS_ORIGINS` is
/// `403 origin_not_allowed`; a missing, expired or unknown token is `401 unauthorized`.
#[utoipa::path(
    tag = "auth",
    operation_id = "refresh",
    request_body(content = Option<RefreshRequest>, description = "Optional: the refresh token, for clients that do not use the cookie"),
    responses(
        (status = 200, description = "A new access token; the refresh token is rotated (none is set inside the reuse grace window)", body = SignInResponse),
        crate::routes::problems::JsonBodyErrors,
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 503, response = crate::routes::problems::Unavailable),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: OptionalJson<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.0.unwrap_or_default();
    let presented = presented_refresh_token(&state, &req, body.refresh_token)?
        .ok_or(ApiError::Unauthorized("A refresh token is required."))?;
    let signed = state
        .refresher()
        .refresh(presented.value(), &state.client(&req))
        .await?;
    Ok(signed_in(&state, StatusCode::OK, signed))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct LogoutRequest {
    /// `all` signs out every session of the user; default: this one.
    pub scope: Option<LogoutScope>,
    /// For clients that keep the refresh token themselves.
    pub refresh_token: Option<String>,
}

#[derive(Deserialize, ToSchema, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum LogoutScope {
    Current,
    All,
}

/// Sign out this session or every session
///
/// Ends the session named by the Bearer access token, or else by the refresh token (cookie
/// or body); `{"scope": "all"}` ends every session of the user. Clears the refresh cookie
/// and answers `204`, or `200 {redirect}` for a session opened through `openid` with
/// `OPENID_USE_END_SESSION_ENDPOINT`, so the browser can end the provider's session too.
/// Neither token is `401 unauthorized`; a cookie from a foreign origin is
/// `403 origin_not_allowed`.
#[utoipa::path(
    tag = "auth",
    operation_id = "logout",
    request_body(content = Option<LogoutRequest>, description = "Optional"),
    responses(
        (status = 204, description = "Signed out; the refresh cookie is cleared"),
        (status = 200, description = "Signed out, from a session opened through `openid` with `OPENID_USE_END_SESSION_ENDPOINT`: send the browser to `redirect` to end the provider's session too", body = LogoutRedirect),
        crate::routes::problems::JsonBodyErrors,
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []), ("refresh_cookie" = []))
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Option<Bearer>,
    body: OptionalJson<LogoutRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.0.unwrap_or_default();
    let all = body.scope == Some(LogoutScope::All);
    // The session is named by the access token, or else by the refresh token.
    let by = match auth {
        Some(Bearer(claims)) => LogoutBy::Session {
            user_id: claims.sub,
            session_id: claims.sid,
        },
        None => match presented_refresh_token(&state, &req, body.refresh_token)? {
            Some(p) if crate::auth::opaque_token::looks_valid(p.value()) => {
                LogoutBy::RefreshToken {
                    hash: state.key().hash(p.value()),
                }
            }
            Some(_) => return Err(ApiError::Unauthorized("The refresh token is not valid.")),
            None => {
                return Err(ApiError::Unauthorized(
                    "An access token or refresh token is required.",
                ))
            }
        },
    };
    let policy = state.settings.refresh.policy();
    let provider = sessions::logout(&state.db, by, all, policy, &state.client(&req)).await?;
    // OPENID_USE_END_SESSION_ENDPOINT: the provider's session ends too, in the browser.
    let end_session = match (&state.settings.social.end_session_redirect, provider) {
        (Some(back_to), Some(p)) if p == "openid" => {
            state.social.end_session_url(&p, back_to).await
        }
        _ => None,
    };
    Ok(match end_session {
        Some(redirect) => HttpResponse::Ok()
            .cookie(clear_refresh_cookie(&state))
            .json(LogoutRedirect { redirect }),
        None => HttpResponse::NoContent()
            .cookie(clear_refresh_cookie(&state))
            .finish(),
    })
}

/// Where to send the browser after a logout, to end the provider's session too.
#[derive(Serialize, ToSchema)]
pub struct LogoutRedirect {
    /// The provider's end-session endpoint, with `client_id` and `post_logout_redirect_uri`.
    pub redirect: String,
}

#[derive(Deserialize, ToSchema)]
pub struct DevLoginRequest {
    #[schema(example = "dev@example.com")]
    pub email: String,
}

/// Sign in by email alone, for development
///
/// Anonymous. Signs in to the account with this email with no password and no email sent,
/// creating the account if it is missing; an account with a second factor gets
/// `mfa_required` instead. Only when `DEV_LOGIN=true` (which a production start refuses);
/// otherwise `403 feature_disabled`. Counts against the login rate limit (`LOGIN_MAX`).
#[utoipa::path(
    tag = "auth",
    operation_id = "devLogin",
    request_body = DevLoginRequest,
    responses(
        (status = 200, description = "Signed in without a password (development only; the account is created if missing), or `SecondFactorRequired`", body = SignInResult),
        crate::routes::problems::JsonBodyErrors,
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 422, response = crate::routes::problems::ValidationFailed),
        (status = 429, response = crate::routes::problems::TooManyRequests),
        (status = 503, response = crate::routes::problems::Unavailable),
    )
)]
#[post("/auth/dev-login")]
pub async fn dev_login(
    state: web::Data<AppState>,
    _limit: Limited<guard::Login>,
    req: HttpRequest,
    body: Json<DevLoginRequest>,
) -> ApiResult<HttpResponse> {
    if !state.settings.policy.dev_login {
        return Err(ApiError::FeatureDisabled("Dev login (DEV_LOGIN)"));
    }
    let email = Email::parse("email", &body.email)?;
    let outcome = state
        .signin
        .sign_in(FirstFactor::Dev { email }, state.client(&req))
        .await?;
    Ok(answer(&state, StatusCode::OK, outcome))
}
