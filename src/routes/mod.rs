//! Thin handlers by resource, and the one route table. A handler extracts, parses into
//! domain types, calls a plain function and maps the result to a response.

pub mod account;
pub mod admin;
pub mod auth;
pub mod discovery;
pub mod docs;
pub mod email;
pub mod health;
pub mod json;
pub mod mfa;
pub mod oauth;
pub mod passkeys;
pub mod problems;
pub mod reauth;
pub mod service;
pub mod sessions;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite as CookieSameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, HttpResponseBuilder};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::signin::{Outcome, SignedIn};
use crate::db::models::user::Role;
use crate::db::models::User;
use crate::error::ApiError;
use crate::settings::{origin_of, SameSite};
use crate::state::AppState;

/// Marks a HEAD request routed as its GET (see `startup`).
pub struct Head;

/// `405` for a HEAD request where the GET's answer spends something (an OAuth state): a
/// link checker's HEAD must not use up a browser's sign-in.
pub fn not_for_head(req: &HttpRequest) -> Result<(), ApiError> {
    match req.extensions().contains::<Head>() {
        true => Err(ApiError::MethodNotAllowed(vec!["GET".into()])),
        false => Ok(()),
    }
}

/// Name and path of the refresh-token cookie.
pub const REFRESH_COOKIE: &str = "refresh_token";
const REFRESH_COOKIE_PATH: &str = "/auth";

/// `Content-Type: application/json`, for answers whose JSON is already rendered.
pub const JSON_CONTENT: (header::HeaderName, header::HeaderValue) = (
    header::CONTENT_TYPE,
    header::HeaderValue::from_static("application/json"),
);

/// Every route. `startup` serves it and `openapi::spec` documents it, so the two cannot
/// drift. A request tries the routes in this order (a path with a parameter costs a
/// pattern match), so the session checks a chat backend makes on every request come first.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(account::me)
        .service(service::introspect)
        .service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(discovery::jwks)
        .service(discovery::openid_configuration)
        .service(docs::openapi_json)
        .service(docs::docs)
        .service(auth::config)
        .service(auth::register)
        .service(auth::login)
        .service(auth::refresh)
        .service(auth::logout)
        .service(auth::dev_login)
        .service(email::forgot_password)
        .service(email::reset_password)
        .service(email::magic_link)
        .service(email::verify_magic_link)
        .service(email::verify_email)
        .service(email::resend_verification)
        .service(email::accept_invite)
        .service(email::change_email)
        .service(email::confirm_email_change)
        .service(account::update_me)
        .service(account::change_password)
        .service(account::delete_me)
        .service(reauth::reauthenticate)
        .service(sessions::list)
        .service(sessions::revoke)
        .service(sessions::report)
        .service(oauth::start)
        .service(oauth::callback)
        .service(oauth::callback_form)
        .service(oauth::saml_metadata)
        .service(oauth::list_identities)
        .service(oauth::unlink_identity)
        .service(oauth::link_identity)
        .service(mfa::verify)
        .service(mfa::setup)
        .service(mfa::enable)
        .service(mfa::disable)
        .service(mfa::regenerate)
        .service(passkeys::register_options)
        .service(passkeys::register)
        .service(passkeys::login_options)
        .service(passkeys::login)
        .service(passkeys::list)
        .service(passkeys::remove)
        .configure(admin::configure)
        .map(|c| c.service(docs::docs_asset));
}

/// A user as every endpoint returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    /// LibreChat's, a provider's or the directory's username; `null` when there is none.
    pub username: Option<String>,
    pub role: Role,
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
    /// LibreChat's `_id` for accounts brought over by `latch import librechat` (the chat
    /// backend finds their data by it); `null` otherwise.
    pub legacy_id: Option<String>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id.clone(),
            email: u.email.clone(),
            name: u.name.clone(),
            username: u.username.clone(),
            role: u.role,
            email_verified: u.email_verified,
            created_at: u.created_at.and_utc(),
            legacy_id: u.legacy_id.clone(),
        }
    }
}

/// The answer to every successful sign-in.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignInResponse {
    pub user: UserView,
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub expires_at: DateTime<Utc>,
    /// Only with `REFRESH_TOKEN_DELIVERY=body` or `both`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// The answer when a second factor is needed: no session, no tokens, no cookie.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecondFactorRequired {
    /// Always `true`.
    pub mfa_required: bool,
    /// For `POST /auth/mfa/verify`, with a TOTP code, a backup code or a passkey.
    pub mfa_token: String,
    /// Seconds the token lives.
    pub expires_in: u64,
    /// The second factors the account has: `totp`, `backup_code`, `passkey`.
    pub methods: Vec<&'static str>,
}

/// What a sign-in answers: signed in, or a second factor to give first.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum SignInResult {
    SignedIn(SignInResponse),
    SecondFactor(SecondFactorRequired),
}

/// The answer to a sign-in: signed in (`status`), or `200` asking for the second factor.
pub fn answer(state: &AppState, status: StatusCode, outcome: Outcome) -> HttpResponse {
    match outcome {
        Outcome::SignedIn(signed) => signed_in(state, status, *signed),
        Outcome::SecondFactor { mfa_token, methods } => {
            let mut res = HttpResponseBuilder::new(StatusCode::OK);
            no_store(&mut res);
            res.json(SecondFactorRequired {
                mfa_required: true,
                mfa_token,
                expires_in: crate::mfa::CHALLENGE_LIFETIME.as_secs(),
                methods,
            })
        }
    }
}

/// Builds the sign-in answer: JSON, plus the refresh token as cookie and/or in the body
/// as `REFRESH_TOKEN_DELIVERY` says. No refresh token (a grace-window refresh) sets no
/// cookie.
pub fn signed_in(state: &AppState, status: StatusCode, s: SignedIn) -> HttpResponse {
    let delivery = state.settings.refresh.delivery;
    let mut res = HttpResponseBuilder::new(status);
    no_store(&mut res);
    if let (true, Some(token)) = (delivery.cookie(), &s.refresh_token) {
        res.cookie(refresh_cookie(state, token.clone()));
    }
    res.json(SignInResponse {
        user: UserView::from(&s.user),
        access_token: s.access.token,
        token_type: "Bearer",
        expires_in: s.access.expires_in,
        expires_at: s.access.expires_at,
        refresh_token: s.refresh_token.filter(|_| delivery.body()),
    })
}

/// The cookie that carries an `mfa_token` after a social sign-in that needs a second
/// factor: the token never travels in a URL (history, logs), and only `/auth/mfa/verify`
/// receives it.
pub const MFA_COOKIE: &str = "mfa_token";

pub fn mfa_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build(MFA_COOKIE, token)
        .http_only(true)
        .secure(state.settings.refresh.cookie_secure)
        .same_site(CookieSameSite::Lax)
        .path("/auth/mfa")
        .max_age(CookieDuration::seconds(
            crate::mfa::CHALLENGE_LIFETIME.as_secs() as i64,
        ))
        .finish()
}

/// Drops the `mfa_token` cookie once it is spent.
pub fn clear_mfa_cookie(state: &AppState) -> Cookie<'static> {
    let mut cookie = mfa_cookie(state, String::new());
    cookie.set_max_age(CookieDuration::ZERO);
    cookie
}

/// Responses that carry tokens must never be cached.
pub fn no_store(res: &mut HttpResponseBuilder) {
    res.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header((actix_web::http::header::PRAGMA, "no-cache"));
}

fn cookie_base(state: &AppState, value: String) -> actix_web::cookie::CookieBuilder<'static> {
    let r = &state.settings.refresh;
    Cookie::build(REFRESH_COOKIE, value)
        .http_only(true)
        .secure(r.cookie_secure)
        .same_site(match r.cookie_samesite {
            SameSite::Strict => CookieSameSite::Strict,
            SameSite::Lax => CookieSameSite::Lax,
            SameSite::None => CookieSameSite::None,
        })
        .path(REFRESH_COOKIE_PATH)
}

pub fn refresh_cookie(state: &AppState, token: String) -> Cookie<'static> {
    let max_age = CookieDuration::seconds(state.settings.refresh.ttl.as_secs() as i64);
    cookie_base(state, token).max_age(max_age).finish()
}

/// A cookie that tells the browser to drop the refresh token.
pub fn clear_refresh_cookie(state: &AppState) -> Cookie<'static> {
    cookie_base(state, String::new())
        .max_age(CookieDuration::ZERO)
        .finish()
}

/// Where a refresh token came from: the cookie needs the Origin check, the body does not.
pub enum PresentedToken {
    Cookie(String),
    Body(String),
}

impl PresentedToken {
    pub fn value(&self) -> &str {
        match self {
            PresentedToken::Cookie(t) | PresentedToken::Body(t) => t,
        }
    }
}

/// The refresh token of the request: the JSON body's wins over the cookie. A token from
/// the cookie is refused when the request's `Origin` is present and not allowed, which
/// stops another site from spending the cookie.
pub fn presented_refresh_token(
    state: &AppState,
    req: &HttpRequest,
    from_body: Option<String>,
) -> Result<Option<PresentedToken>, ApiError> {
    if let Some(t) = from_body.filter(|t| !t.is_empty()) {
        return Ok(Some(PresentedToken::Body(t)));
    }
    let Some(cookie) = req.cookie(REFRESH_COOKIE).filter(|c| !c.value().is_empty()) else {
        return Ok(None);
    };
    check_origin(state, req)?;
    Ok(Some(PresentedToken::Cookie(cookie.value().to_string())))
}

fn check_origin(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    let Some(origin) = req.headers().get(actix_web::http::header::ORIGIN) else {
        return Ok(());
    };
    let allowed = origin
        .to_str()
        .ok()
        .and_then(origin_of)
        .is_some_and(|o| state.settings.cors_origins.contains(&o));
    if allowed {
        Ok(())
    } else {
        Err(ApiError::OriginNotAllowed)
    }
}
