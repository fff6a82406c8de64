//! The signed-in user's own account.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::accounts::{delete_user_in, replace_password_in};
use crate::auth::audit;
use crate::auth::extractor::{CachedUser, CurrentUser};
use crate::auth::fresh::RecentUser;
use crate::auth::links;
use crate::db::models::session::reason;
use crate::db::models::{now, User};
use crate::db::write_tx;
use crate::domain::{Password, UserName};
use crate::error::{ApiError, ApiResult};
use crate::mail::templates::Kind;
use crate::routes::json::Json;
use crate::routes::{clear_refresh_cookie, UserView};
use crate::state::AppState;

/// Get the signed-in user
///
/// The caller's account as it is now (not the access token's copy), for a Bearer access
/// token whose session is still live. The session check may reuse an answer up to
/// `SESSION_CACHE` old, so a change made through another instance can take that long to
/// show; a banned or disabled account is `403`.
#[utoipa::path(
    tag = "account",
    operation_id = "getCurrentUser",
    responses(
        (status = 200, description = "The signed-in user", body = UserView),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[get("/auth/me")]
pub async fn me(current: CachedUser) -> ApiResult<HttpResponse> {
    let body = current.kept.view(|user| {
        serde_json::to_vec(&UserView::from(user))
            .map(Into::into)
            .map_err(|e| ApiError::Unexpected(e.into()))
    })?;
    Ok(HttpResponse::Ok()
        .insert_header(crate::routes::JSON_CONTENT)
        .body(body))
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateMeRequest {
    /// A new display name, 1 to 100 characters.
    pub name: Option<String>,
}

/// Update the signed-in user's profile
///
/// Changes the caller's display `name` (1 to 100 characters; a name that breaks the rule is
/// `422 validation_failed`) and answers with the updated user. Requires a Bearer access token
/// whose session is still live; a body without `name` changes nothing.
#[utoipa::path(
    tag = "account",
    operation_id = "updateCurrentUser",
    request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "The updated user", body = UserView),
        crate::routes::problems::JsonBodyErrors,
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 422, response = crate::routes::problems::ValidationFailed),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[patch("/auth/me")]
pub async fn update_me(
    state: web::Data<AppState>,
    current: CurrentUser,
    body: Json<UpdateMeRequest>,
) -> ApiResult<HttpResponse> {
    let name = body
        .name
        .as_deref()
        .map(|n| UserName::parse("name", n))
        .transpose()?;
    let id = current.user.id;
    let user = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                if let Some(name) = name {
                    User::set_name(conn, &id, name.as_str(), now())?;
                }
                User::find(conn, &id)?
                    .ok_or(ApiError::Unauthorized("This account no longer exists."))
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    #[schema(min_length = 8, max_length = 1024)]
    pub new_password: String,
}

/// Change the signed-in user's password
///
/// Requires a Bearer access token and the `current_password`; a wrong one is
/// `403 invalid_credentials` (not `401`), counted per account so repeated failures pause with
/// `429`. A `new_password` that breaks the password rules is `422 validation_failed`. On
/// success every other session of the user is signed out, outstanding reset, magic-link,
/// invitation and address-change links are voided, a notice is mailed when mail is on, and
/// the answer is `204`.
#[utoipa::path(
    tag = "account",
    operation_id = "changePassword",
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; every other session of the user is signed out"),
        crate::routes::problems::JsonBodyErrors,
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 422, response = crate::routes::problems::ValidationFailed),
        (status = 429, response = crate::routes::problems::TooManyRequests),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[post("/auth/password/change")]
pub async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    current: CurrentUser,
    body: Json<ChangePasswordRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let user = current.user;
    let check = async {
        let verified = state
            .hasher()
            .verify(
                SecretString::from(body.current_password),
                user.password_hash.clone(),
            )
            .await?;
        if verified.ok {
            Ok(())
        } else {
            Err(ApiError::WrongPassword)
        }
    };
    state.signin.guarded(&user.id, check).await?;
    let new = Password::parse("new_password", &body.new_password, state.settings.passwords)?;
    let hash = state.hasher().hash(new.into_secret()).await?;
    let keep = current.claims.sid;
    let (mail, client) = (state.mail().cloned(), state.client(&req));
    let user_id = user.id.clone();
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let why = reason::PASSWORD_CHANGED;
                replace_password_in(conn, &user, &hash, Some(&keep), why, now())?;
                links::notice_in(conn, mail.as_ref(), Kind::PasswordChanged, &user)?;
                audit::record_in(
                    conn,
                    audit::Event::by_self(audit::kind::PASSWORD_CHANGED, &user.id, &client),
                )
            })
        })
        .await?;
    state.signin.wake_mail();
    tracing::info!(%user_id, "password changed");
    Ok(HttpResponse::NoContent().finish())
}

/// Delete the signed-in user's account
///
/// Deletes the caller's account with its sessions, identities, factors, links and pending
/// mail, clears the refresh cookie and answers `204`; the audit log keeps a row naming only
/// the account's id. Requires a Bearer access token with recent authentication (else
/// `403 reauthentication_required`). With `ALLOW_ACCOUNT_DELETION` off it is
/// `403 feature_disabled`, and the last admin gets `409 last_admin`.
#[utoipa::path(
    tag = "account",
    operation_id = "deleteCurrentUser",
    responses(
        (status = 204, description = "Deleted with its sessions, identities, factors, links and pending mail; the refresh cookie is cleared. The audit log keeps a row that names only the account's id"),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 409, response = crate::routes::problems::Conflict),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[delete("/auth/me")]
pub async fn delete_me(
    state: web::Data<AppState>,
    current: Result<RecentUser, ApiError>,
) -> ApiResult<HttpResponse> {
    // A switched-off feature says so whatever the session.
    if !state.settings.policy.allow_account_deletion {
        return Err(ApiError::FeatureDisabled("Account deletion"));
    }
    let user = current?.user;
    let user_id = user.id.clone();
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                delete_user_in(conn, &user)?;
                let event = audit::Event {
                    actor: Some(&user.id),
                    subject: Some(&user.id),
                    ..audit::Event::new(audit::kind::ACCOUNT_DELETED)
                };
                audit::record_in(conn, event)
            })
        })
        .await?;
    tracing::info!(%user_id, "account deleted by its owner");
    Ok(HttpResponse::NoContent()
        .cookie(clear_refresh_cookie(&state))
        .finish())
}
