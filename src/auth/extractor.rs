//! Request guards. `Bearer` is a valid access token and nothing more (no database round
//! trip). `CurrentUser` is a valid access token whose session is still live and whose
//! account is in good standing, checked once per request in one query (`CachedUser`, for
//! read-only routes, may reuse that answer briefly; `fresh::RecentUser` adds that the
//! session authenticated recently); `AdminUser` adds the account's current role.
//! `ServiceCaller` is one of `SERVICE_TOKENS`.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use crate::auth::session_cache::Kept;
use crate::auth::signin::gate;
use crate::auth::tokens::Claims;
use crate::db::models::{now, Session, User};
use crate::error::ApiError;
use crate::state::AppState;

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("application state missing")))
}

/// The token of an `Authorization: Bearer` header, if there is one.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    // UTF-8 is checked a word at a time, `to_str`'s visible-ASCII rule a byte at a time;
    // a token with anything but base64url and dots fails its signature check anyway.
    let value = std::str::from_utf8(req.headers().get(header::AUTHORIZATION)?.as_bytes()).ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn verified_claims(req: &HttpRequest, state: &AppState) -> Result<Arc<Claims>, ApiError> {
    let token = bearer(req).ok_or(ApiError::Unauthorized("A bearer access token is required."))?;
    state
        .tokens
        .verify_shared(token)
        .map_err(|_| ApiError::Unauthorized("The access token is invalid or expired."))
}

fn own_claims(req: &HttpRequest, state: &AppState) -> Result<Claims, ApiError> {
    verified_claims(req, state).map(Arc::unwrap_or_clone)
}

/// The caller's verified access-token claims, checked without the database.
pub struct Bearer(pub Claims);

impl FromRequest for Bearer {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(state(req).and_then(|s| own_claims(req, &s).map(Bearer)))
    }
}

/// A signed-in caller whose session is live and whose account may go on using it.
pub struct CurrentUser {
    pub claims: Claims,
    /// The account as it is now (not the token's copy).
    pub user: User,
}

impl CurrentUser {
    pub fn session_id(&self) -> &str {
        &self.claims.sid
    }
}

type Checked<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = Checked<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let checked = verified_bearer(req);
        Box::pin(async move {
            let (claims, state) = checked?;
            let sid = claims.sid.clone();
            let found = state
                .db
                .run(move |conn| Ok(Session::find_with_user(conn, &sid)?))
                .await?;
            let (_, user) = live_session(found, &claims.sub)?;
            Ok(CurrentUser { claims, user })
        })
    }
}

/// The verified claims of the request's bearer token, and the service state.
pub fn verified_bearer(req: &HttpRequest) -> Result<(Claims, web::Data<AppState>), ApiError> {
    state(req).and_then(|s| Ok((own_claims(req, &s)?, s)))
}

/// The session and user found for a token (or a link intent), when the session is live,
/// belongs to `subject`, and the account may go on using it.
pub fn live_session(
    found: Option<(Session, User)>,
    subject: &str,
) -> Result<(Session, User), ApiError> {
    still_standing(found.as_ref().map(|(s, u)| (s, u)), subject)?;
    Ok(found.expect("checked by still_standing"))
}

/// The user of a session that is live, belongs to `subject`, and whose account may go on
/// using it.
fn still_standing<'a>(
    found: Option<(&Session, &'a User)>,
    subject: &str,
) -> Result<&'a User, ApiError> {
    let now = now();
    let user = match found {
        Some((session, user)) if session.is_active(now) && user.id == subject => user,
        _ => return Err(ApiError::Unauthorized("This session has ended.")),
    };
    gate::standing(user, now).map_err(|r| r.error())?;
    Ok(user)
}

/// `CurrentUser` as known within `SESSION_CACHE` (see `session_cache`), for routes that
/// only read the caller's own account: a change made through this instance shows at once,
/// one made through another within that time. It shares the cached answer rather than
/// copying it.
pub struct CachedUser {
    pub claims: Arc<Claims>,
    /// The session and the account as they are now (not the token's copy).
    pub kept: Arc<Kept>,
}

impl FromRequest for CachedUser {
    type Error = ApiError;
    type Future = Checked<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let checked = state(req).and_then(|s| Ok((verified_claims(req, &s)?, s)));
        Box::pin(async move {
            let (claims, state) = checked?;
            let found = state.sessions.session(&state.db, &claims.sid).await?;
            let kept = found.ok_or(ApiError::Unauthorized("This session has ended."))?;
            still_standing(Some((&kept.session, &kept.user)), &claims.sub)?;
            Ok(CachedUser { claims, kept })
        })
    }
}

/// A signed-in caller who is, right now, an enabled admin.
pub struct AdminUser(pub CurrentUser);

impl AdminUser {
    pub fn id(&self) -> &str {
        &self.0.user.id
    }
}

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = Checked<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let current = CurrentUser::from_request(req, payload);
        Box::pin(async move {
            let current = current.await?;
            if !current.user.is_admin() {
                return Err(ApiError::Forbidden);
            }
            Ok(AdminUser(current))
        })
    }
}

/// A backend service authenticated with one of `SERVICE_TOKENS`.
pub struct ServiceCaller;

impl FromRequest for ServiceCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(state(req).and_then(|state| service_caller(req, &state)))
    }
}

fn service_caller(req: &HttpRequest, state: &AppState) -> Result<ServiceCaller, ApiError> {
    let tokens = &state.settings.service_tokens;
    if tokens.is_empty() {
        return Err(ApiError::FeatureDisabled(
            "Token introspection (SERVICE_TOKENS)",
        ));
    }
    let presented = bearer(req).ok_or(ApiError::Unauthorized("A service token is required."))?;
    if tokens.admit(presented) {
        return Ok(ServiceCaller);
    }
    // A user's access token (even an admin's) is a valid caller without this right.
    if state.tokens.verify(presented).is_ok() {
        return Err(ApiError::Forbidden);
    }
    Err(ApiError::Unauthorized("The service token is not valid."))
}
