//! Signing in and out: register, login, refresh, logout, dev login, and the settings a
//! frontend needs to draw its sign-in screen.

use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::accounts::create_user_in;
use crate::auth::audit;
use crate::auth::client::ClientInfo;
use crate::auth::email as email_flows;
use crate::auth::extractor::AuthUser;
use crate::auth::refresh as refresh_token;
use crate::auth::sessions::{
    self, create_session_in, finish, session_of_refresh_token, FreshToken,
};
use crate::db::models::session::reason;
use crate::db::models::{new_id, now, Session, User};
use crate::db::write_tx;
use crate::domain::{Email, Password, UserName, PASSWORD_MIN_LENGTH};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::routes::{
    clear_refresh_cookie, presented_refresh_token, signed_in, SignInResponse, UserView,
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
}

/// A social sign-in provider.
#[derive(Serialize, ToSchema)]
pub struct Provider {
    pub id: String,
    pub name: String,
}

#[utoipa::path(
    tag = "auth",
    responses((status = 200, description = "Which sign-in methods are on", body = AuthConfig))
)]
#[get("/auth/config")]
pub async fn config(state: web::Data<AppState>) -> HttpResponse {
    let s = &state.settings;
    HttpResponse::Ok().json(AuthConfig {
        password_login: s.allow_email_login,
        registration: s.allow_registration && !s.invite_required,
        magic_link: s.email.allow_magic_link,
        social_login: false,
        social_registration: false,
        dev_login: s.dev_login,
        invite_required: s.invite_required,
        has_email: s.mail.is_some(),
        require_email_verification: s.email.require_verification,
        providers: Vec::new(),
        password_min_length: PASSWORD_MIN_LENGTH,
    })
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(
        example = "correct horse battery staple",
        min_length = 8,
        max_length = 1024
    )]
    pub password: String,
    /// Defaults to the email's local part.
    pub name: Option<String>,
}

#[utoipa::path(
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered and signed in (the refresh token is set as a cookie); with REQUIRE_EMAIL_VERIFICATION, `PendingVerification` instead and no tokens", body = SignInResponse),
        crate::openapi::JsonBodyErrors,
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
#[post("/auth/register")]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<RegisterRequest>,
) -> ApiResult<HttpResponse> {
    if !state.settings.allow_registration || state.settings.invite_required {
        return Err(ApiError::FeatureDisabled("Registration"));
    }
    let body = body.into_inner();
    let email = Email::parse("email", &body.email);
    let password = Password::parse("password", &body.password);
    let name = match (&body.name, &email) {
        (Some(n), _) => UserName::parse("name", n).map(Some),
        (None, _) => Ok(None),
    };
    let (email, password, name) = match (email, password, name) {
        (Ok(e), Ok(p), Ok(n)) => (e, p, n),
        (e, p, n) => {
            let errors: Vec<FieldError> =
                [e.err(), p.err(), n.err()].into_iter().flatten().collect();
            return Err(ApiError::Validation(errors));
        }
    };
    let name = name.unwrap_or_else(|| UserName::from_email(&email));
    let hash = state.hasher.hash(password.into_secret()).await?;

    if state.settings.email.require_verification {
        return register_pending_verification(&state, email, name, hash).await;
    }
    let client = ClientInfo::from_request(&req, state.settings.trust_proxy);
    let fresh = FreshToken::new(&state);
    let token_hash = fresh.hash.clone();
    let st = state.clone();
    let (user, session_id) = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let user = create_user_in(conn, &email, &name, Some(&hash), false)?;
                if st.mail.is_some() {
                    email_flows::send_verification_in(conn, &st, &user)?;
                }
                let sid = create_session_in(conn, &st, &user.id, &token_hash, &client, "register")?;
                Ok((user, sid))
            })
        })
        .await?;
    email_flows::mail_queued(&state);
    tracing::info!(user_id = %user.id, role = %user.role, "account registered");
    let signed = finish(&state, user, session_id, Some(fresh.token))?;
    Ok(signed_in(&state, StatusCode::CREATED, signed))
}

/// The answer to a registration that must be verified before signing in.
#[derive(Serialize, ToSchema)]
pub struct PendingVerification {
    pub user: UserView,
    /// Always `true`: follow the emailed link, then sign in.
    pub verification_required: bool,
}

/// With verification required, a new address gets its account and a verification email,
/// and a taken address gets the very same answer while its owner is mailed a notice:
/// registration then reveals nothing about which addresses have accounts.
async fn register_pending_verification(
    state: &web::Data<AppState>,
    email: Email,
    name: UserName,
    hash: String,
) -> ApiResult<HttpResponse> {
    let st = state.clone();
    let user = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                match User::find_by_email(conn, email.as_str())? {
                    Some(owner) => {
                        // An owner who never verified most likely lost the first link.
                        if owner.email_verified {
                            email_flows::account_exists_in(conn, &st, &owner)?;
                        } else {
                            email_flows::send_verification_in(conn, &st, &owner)?;
                        }
                        // What a new account would have looked like; nothing is stored.
                        let now = now();
                        Ok(User {
                            id: new_id(),
                            email: email.as_str().to_string(),
                            name: name.as_str().to_string(),
                            password_hash: None,
                            role: crate::db::models::user::ROLE_USER.to_string(),
                            email_verified: false,
                            disabled: false,
                            created_at: now,
                            updated_at: now,
                        })
                    }
                    None => {
                        let user = create_user_in(conn, &email, &name, Some(&hash), false)?;
                        email_flows::send_verification_in(conn, &st, &user)?;
                        Ok(user)
                    }
                }
            })
        })
        .await?;
    email_flows::mail_queued(state);
    state.metrics.sign_in("register", "pending_verification");
    Ok(HttpResponse::Created().json(PendingVerification {
        user: UserView::from(&user),
        verification_required: true,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    pub password: String,
}

#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; the refresh token is set as a cookie", body = SignInResponse),
        crate::openapi::JsonBodyErrors,
        (status = 401, response = crate::openapi::InvalidCredentials),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    if !state.settings.allow_email_login {
        return Err(ApiError::FeatureDisabled("Email and password sign-in"));
    }
    let body = body.into_inner();
    let client = ClientInfo::from_request(&req, state.settings.trust_proxy);
    // All three failures (unknown email, wrong password, malformed email) do the same
    // work, a look-up and a hash, and give the same answer. A malformed address is looked
    // up as a placeholder that no stored (valid) address can equal; the raw text is never
    // sent to the database.
    let lookup = match Email::parse("email", &body.email) {
        Ok(email) => email.as_str().to_string(),
        Err(_) => "malformed@invalid".to_string(),
    };
    let user = state
        .db
        .run(move |conn| Ok(User::find_by_email(conn, &lookup)?))
        .await?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let verified = state
        .hasher
        .verify(SecretString::from(body.password), stored.clone())
        .await?;
    let user = match user {
        Some(user) if verified.ok => user,
        other => {
            let id = other.map(|u| u.id);
            audit::sign_in_refused(&state, "password", "failure", id.as_deref(), &client).await;
            return Err(ApiError::InvalidCredentials);
        }
    };
    if user.disabled {
        audit::sign_in_refused(&state, "password", "disabled", Some(&user.id), &client).await;
        return Err(ApiError::AccountDisabled);
    }
    if state.settings.email.require_verification && !user.email_verified {
        audit::sign_in_refused(&state, "password", "unverified", Some(&user.id), &client).await;
        return Err(ApiError::EmailNotVerified);
    }
    if let (Some(new), Some(old)) = (verified.rehash, stored) {
        let id = user.id.clone();
        state
            .db
            .run(move |conn| Ok(User::upgrade_password_hash(conn, &id, &old, &new)?))
            .await?;
        tracing::info!(user_id = %user.id, "password hash upgraded to the current cost");
    }
    let signed = sessions::sign_in(&state, user, client, "password").await?;
    Ok(signed_in(&state, StatusCode::OK, signed))
}

/// Optional body of `/auth/refresh` and `/auth/logout`.
#[derive(Deserialize, ToSchema, Default)]
pub struct RefreshRequest {
    /// For clients that keep the refresh token themselves (`REFRESH_TOKEN_DELIVERY=body`);
    /// browsers send the cookie instead.
    pub refresh_token: Option<String>,
}

/// Parses an optional JSON body: empty is `None`; anything else must be JSON.
fn optional_json<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    body: &web::Bytes,
) -> ApiResult<Option<T>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| ApiError::InvalidRequest(format!("The body is not valid: {e}.")))
}

#[utoipa::path(
    tag = "auth",
    request_body(content = RefreshRequest, description = "Optional: the refresh token, for clients that do not use the cookie"),
    responses(
        (status = 200, description = "A new access token; the refresh token is rotated (none is set inside the reuse grace window)", body = SignInResponse),
        crate::openapi::JsonBodyErrors,
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let body: RefreshRequest = optional_json(&req, &body)?.unwrap_or_default();
    let presented = presented_refresh_token(&state, &req, body.refresh_token)?
        .ok_or(ApiError::Unauthorized("A refresh token is required."))?;
    let client = ClientInfo::from_request(&req, state.settings.trust_proxy);
    let signed = sessions::refresh(&state, presented.value(), &client).await?;
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

#[utoipa::path(
    tag = "auth",
    request_body(content = LogoutRequest, description = "Optional"),
    responses(
        (status = 204, description = "Signed out; the refresh cookie is cleared"),
        crate::openapi::JsonBodyErrors,
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("bearer" = []), ("refresh_cookie" = []))
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Option<AuthUser>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let body: LogoutRequest = optional_json(&req, &body)?.unwrap_or_default();
    let all = body.scope == Some(LogoutScope::All);
    // The session is named by the access token, or else by the refresh token.
    let presented = match &auth {
        Some(_) => None,
        None => presented_refresh_token(&state, &req, body.refresh_token)?,
    };
    let key_hash = presented
        .as_ref()
        .filter(|p| refresh_token::looks_valid(p.value()))
        .map(|p| refresh_token::hash(state.refresh_key(), p.value()));
    let claims = auth.map(|a| a.0);
    if claims.is_none() && key_hash.is_none() {
        return Err(ApiError::Unauthorized(
            "An access token or refresh token is required.",
        ));
    }
    let client = ClientInfo::from_request(&req, state.settings.trust_proxy);
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let now = now();
                let (user_id, session_id) = match (&claims, &key_hash) {
                    (Some(c), _) => (c.sub.clone(), c.sid.clone()),
                    (None, Some(hash)) => match session_of_refresh_token(conn, hash, now)? {
                        Some(s) => (s.user_id, s.id),
                        None => {
                            return Err(ApiError::Unauthorized("The refresh token is not valid."))
                        }
                    },
                    (None, None) => unreachable!("checked above"),
                };
                if all {
                    Session::revoke_all(conn, &user_id, None, reason::LOGOUT_ALL, now)?;
                } else {
                    Session::revoke(conn, &session_id, reason::LOGOUT, now)?;
                }
                let scope = if all { "all sessions" } else { "this session" };
                audit::record_in(
                    conn,
                    audit::Event::by_self(audit::kind::LOGOUT, &user_id, &client).detail(scope),
                )
            })
        })
        .await?;
    Ok(HttpResponse::NoContent()
        .cookie(clear_refresh_cookie(&state))
        .finish())
}

#[derive(Deserialize, ToSchema)]
pub struct DevLoginRequest {
    #[schema(example = "dev@example.com")]
    pub email: String,
}

#[utoipa::path(
    tag = "auth",
    request_body = DevLoginRequest,
    responses(
        (status = 200, description = "Signed in without a password (development only; the account is created if missing)", body = SignInResponse),
        crate::openapi::JsonBodyErrors,
        (status = 403, response = crate::openapi::Forbidden),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    )
)]
#[post("/auth/dev-login")]
pub async fn dev_login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<DevLoginRequest>,
) -> ApiResult<HttpResponse> {
    if !state.settings.dev_login {
        return Err(ApiError::FeatureDisabled("Dev login (DEV_LOGIN)"));
    }
    let email = Email::parse("email", &body.email)?;
    let st = state.clone();
    let user = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                match User::find_by_email(conn, email.as_str())? {
                    Some(user) => Ok(user),
                    None if st.settings.invite_required => Err(ApiError::FeatureDisabled(
                        "Creating accounts (INVITE_REQUIRED)",
                    )),
                    None => create_user_in(conn, &email, &UserName::from_email(&email), None, true),
                }
            })
        })
        .await?;
    if user.disabled {
        return Err(ApiError::AccountDisabled);
    }
    let client = ClientInfo::from_request(&req, state.settings.trust_proxy);
    let signed = sessions::sign_in(&state, user, client, "dev").await?;
    Ok(signed_in(&state, StatusCode::OK, signed))
}
