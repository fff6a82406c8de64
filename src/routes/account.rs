//! The signed-in user's own account.

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::audit;
use crate::auth::client::ClientInfo;
use crate::auth::extractor::AuthUser;
use crate::db::models::session::reason;
use crate::db::models::{now, Session, User};
use crate::db::write_tx;
use crate::domain::{Password, UserName};
use crate::error::{ApiError, ApiResult};
use crate::routes::UserView;
use crate::state::AppState;

/// The caller's account; gone or disabled since the token was issued means "sign in again".
async fn current_user(state: &AppState, auth: &AuthUser) -> ApiResult<User> {
    let id = auth.0.sub.clone();
    let user = state.db.run(move |conn| Ok(User::find(conn, &id)?)).await?;
    match user {
        Some(u) if !u.disabled => Ok(u),
        Some(_) => Err(ApiError::AccountDisabled),
        None => Err(ApiError::Unauthorized("This account no longer exists.")),
    }
}

#[utoipa::path(
    tag = "account",
    responses(
        (status = 200, description = "The signed-in user", body = UserView),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
#[get("/auth/me")]
pub async fn me(state: web::Data<AppState>, auth: AuthUser) -> ApiResult<HttpResponse> {
    let user = current_user(&state, &auth).await?;
    Ok(HttpResponse::Ok().json(UserView::from(&user)))
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateMeRequest {
    /// A new display name, 1 to 100 characters.
    pub name: Option<String>,
}

#[utoipa::path(
    tag = "account",
    request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "The updated user", body = UserView),
        crate::openapi::JsonBodyErrors,
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
#[patch("/auth/me")]
pub async fn update_me(
    state: web::Data<AppState>,
    auth: AuthUser,
    body: web::Json<UpdateMeRequest>,
) -> ApiResult<HttpResponse> {
    let name = body
        .name
        .as_deref()
        .map(|n| UserName::parse("name", n))
        .transpose()?;
    let user = current_user(&state, &auth).await?;
    let id = user.id.clone();
    let user = state
        .db
        .run(move |conn| {
            if let Some(name) = name {
                User::set_name(conn, &id, name.as_str(), now())?;
            }
            User::find(conn, &id)?.ok_or(ApiError::Unauthorized("This account no longer exists."))
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

#[utoipa::path(
    tag = "account",
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; every other session of the user is signed out"),
        crate::openapi::JsonBodyErrors,
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
#[post("/auth/password/change")]
pub async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: AuthUser,
    body: web::Json<ChangePasswordRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let user = current_user(&state, &auth).await?;
    let verified = state
        .hasher
        .verify(
            SecretString::from(body.current_password),
            user.password_hash.clone(),
        )
        .await?;
    if !verified.ok {
        return Err(ApiError::WrongPassword);
    }
    let new = Password::parse("new_password", &body.new_password)?;
    let hash = state.hasher.hash(new.into_secret()).await?;
    let (user_id, keep) = (user.id.clone(), auth.0.sid.clone());
    let (st, notice_to) = (state.clone(), user.clone());
    let client = ClientInfo::from_request(&req, state.settings.trust_proxy);
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let now = now();
                User::set_password_hash(conn, &user_id, &hash, now)?;
                Session::revoke_all(conn, &user_id, Some(&keep), reason::PASSWORD_CHANGED, now)?;
                crate::auth::email::password_changed_in(conn, &st, &notice_to)?;
                audit::record_in(
                    conn,
                    audit::Event::by_self(audit::kind::PASSWORD_CHANGED, &user_id, &client),
                )
            })
        })
        .await?;
    crate::auth::email::mail_queued(&state);
    tracing::info!(user_id = %user.id, "password changed");
    Ok(HttpResponse::NoContent().finish())
}
