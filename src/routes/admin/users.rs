//! Accounts, as admins manage them.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{admin_event, page, page_limit, text_param};
use crate::auth::accounts::{create_user_in, delete_user_in, keep_an_admin_in, set_password_in};
use crate::auth::audit::{self, kind};
use crate::auth::extractor::AdminUser;
use crate::auth::links;
use crate::db::models::session::reason;
use crate::db::models::user::Role;
use crate::db::models::{now, Session, User};
use crate::db::write_tx;
use crate::domain::{Email, Password, UserName};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::mail::templates::Kind;
use crate::routes::json::Json;
use crate::routes::UserView;
use crate::state::AppState;

/// A user as admins see it: the user object plus whether it is disabled.
#[derive(Serialize, ToSchema)]
pub struct AdminUserView {
    #[serde(flatten)]
    pub user: UserView,
    pub disabled: bool,
}

impl From<&User> for AdminUserView {
    fn from(u: &User) -> Self {
        AdminUserView {
            user: UserView::from(u),
            disabled: u.disabled,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<AdminUserView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct UserQuery {
    /// Case-insensitive substring of the email or the name.
    pub q: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<uuid::Uuid>,
}

/// List and search users
///
/// Users in creation order, each with `disabled`. `q` matches a case-insensitive substring
/// of the email or name; page with `limit` (1 to 200, default 50) and `cursor`. Admins only
/// (Bearer of a current admin with a live session, else `403 forbidden`); a bad `limit` or
/// `q` is `400 invalid_request`.
#[utoipa::path(
    tag = "admin",
    operation_id = "listUsers",
    params(UserQuery),
    responses(
        (status = 200, description = "Users in creation order", body = UserList),
        (status = 400, response = crate::routes::problems::BadRequest),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[get("/admin/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: web::Query<UserQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    let text = text_param("q", q.q)?;
    let cursor = q.cursor.map(|c| c.to_string());
    let rows = state
        .db
        .run(move |c| {
            Ok(User::search(
                c,
                text.as_deref(),
                cursor.as_deref(),
                limit + 1,
            )?)
        })
        .await?;
    let (rows, next_cursor) = page(rows, limit, |r| r.id.clone());
    Ok(HttpResponse::Ok().json(UserList {
        users: rows.iter().map(AdminUserView::from).collect(),
        next_cursor,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateUserRequest {
    #[schema(format = Email, example = "grace@example.com")]
    pub email: String,
    pub name: Option<String>,
    /// Without one, the user is invited by email (mail must be configured).
    #[schema(min_length = 8, max_length = 1024)]
    pub password: Option<String>,
    /// `user` (default) or `admin`.
    pub role: Option<String>,
}

/// The value, or `None` with the broken rule added to `errors`.
fn keep<T>(errors: &mut Vec<FieldError>, r: Result<T, FieldError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

fn parse_role(raw: &str) -> Result<Role, FieldError> {
    Role::parse(raw)
        .ok_or_else(|| FieldError::new("role", "invalid_role", "Use `user` or `admin`."))
}

/// Create a user, with a password or by invitation
///
/// Creates an account from `email`, optional `name` (default the email's local part),
/// `password` and `role` (`user` or `admin`) and answers `201`. With a password the address
/// counts as verified; without one the user is invited by email, and without mail
/// configured a missing password is `422`. Admins only (Bearer of a current admin with a
/// live session, else `403 forbidden`); a taken email is `409 email_taken`.
#[utoipa::path(
    tag = "admin",
    operation_id = "createUser",
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "Created; without a password, invited by email", body = AdminUserView),
        crate::routes::problems::JsonBodyErrors,
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 409, response = crate::routes::problems::Conflict),
        (status = 422, response = crate::routes::problems::ValidationFailed),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[post("/admin/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    body: Json<CreateUserRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let mut errors = Vec::new();
    let email = keep(&mut errors, Email::parse("email", &body.email));
    let name = body.name.as_deref().map(|n| UserName::parse("name", n));
    let name = keep(&mut errors, name.transpose()).flatten();
    let rules = state.settings.passwords;
    let password = body
        .password
        .as_deref()
        .map(|p| Password::parse("password", p, rules));
    let password = keep(&mut errors, password.transpose()).flatten();
    let role = keep(
        &mut errors,
        parse_role(body.role.as_deref().unwrap_or("user")),
    );
    if body.password.is_none() && state.mail().is_none() {
        errors.push(FieldError::new(
            "password",
            "required",
            "Without mail to send an invitation, a password is required.",
        ));
    }
    let (Some(email), Some(role), true) = (email, role, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let name = name.unwrap_or_else(|| UserName::from_email(&email));
    let hash = match password {
        Some(p) => Some(state.hasher().hash(p.into_secret()).await?),
        None => None,
    };
    let invite = hash.is_none();
    let (admin_id, who, signin) = (
        admin.id().to_string(),
        state.client(&req),
        state.signin.clone(),
    );
    let user = state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                // An admin vouches for the address of an account made with a password.
                let user = create_user_in(c, &email, &name, hash.as_deref(), !invite)?;
                if role != user.role {
                    User::set_role(c, &user.id, role)?;
                }
                if invite {
                    signin.invite_in(c, &user)?;
                }
                let detail = if invite { "invited" } else { "with a password" };
                let event = admin_event(kind::ADMIN_USER_CREATED, &admin_id, &user.id, &who);
                audit::record_in(c, event.detail(detail))?;
                Ok(User::find(c, &user.id)?.unwrap_or(user))
            })
        })
        .await?;
    state.signin.wake_mail();
    tracing::info!(admin = %admin.id(), user_id = %user.id, invite, "admin created a user");
    Ok(HttpResponse::Created().json(AdminUserView::from(&user)))
}

async fn target(state: &AppState, id: uuid::Uuid) -> ApiResult<User> {
    let id = id.to_string();
    state
        .db
        .run(move |c| User::find(c, &id)?.ok_or(ApiError::NotFound))
        .await
}

/// Get a user
///
/// The user with this id, including `disabled`. Admins only (Bearer of a current admin with
/// a live session, else `403 forbidden`). An unknown or malformed id is `404 not_found`.
#[utoipa::path(
    tag = "admin",
    operation_id = "getUser",
    params(("id" = uuid::Uuid, Path, description = "A user id")),
    responses(
        (status = 200, description = "The user", body = AdminUserView),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 404, response = crate::routes::problems::NotFound),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[get("/admin/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    let user = target(&state, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(AdminUserView::from(&user)))
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateUserRequest {
    pub name: Option<String>,
    /// `user` or `admin`.
    pub role: Option<String>,
    /// A disabled user cannot sign in, and disabling ends every session of the user.
    pub disabled: Option<bool>,
}

/// Update a user's name, role or disabled state
///
/// Changes any of `name`, `role` (`user` or `admin`) and `disabled`, records the change in
/// the audit log and answers `200` with the user. Disabling a user ends every session of
/// theirs. A change that would leave no enabled admin is `409 last_admin`; an invalid name
/// or role is `422`; an unknown id is `404`. Admins only (Bearer of a current admin with a
/// live session, else `403 forbidden`).
#[utoipa::path(
    tag = "admin",
    operation_id = "updateUser",
    params(("id" = uuid::Uuid, Path, description = "A user id")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The updated user", body = AdminUserView),
        crate::routes::problems::JsonBodyErrors,
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 404, response = crate::routes::problems::NotFound),
        (status = 409, response = crate::routes::problems::Conflict),
        (status = 422, response = crate::routes::problems::ValidationFailed),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[patch("/admin/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    id: web::Path<uuid::Uuid>,
    body: Json<UpdateUserRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let mut errors = Vec::new();
    let name = body.name.as_deref().map(|n| UserName::parse("name", n));
    let name = keep(&mut errors, name.transpose()).flatten();
    let role = keep(
        &mut errors,
        body.role.as_deref().map(parse_role).transpose(),
    )
    .flatten();
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let id = id.into_inner().to_string();
    let disabled = body.disabled;
    let (admin_id, who) = (admin.id().to_string(), state.client(&req));
    let user = state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let user = User::find(c, &id)?.ok_or(ApiError::NotFound)?;
                let loses_admin = role.is_some_and(|r| r != Role::Admin) || disabled == Some(true);
                if loses_admin {
                    keep_an_admin_in(c, &user)?;
                }
                let now = now();
                let name = name.as_ref().map(UserName::as_str);
                User::update_admin_fields(c, &id, name, role, disabled, now)?;
                if disabled == Some(true) {
                    Session::revoke_all(c, &id, None, reason::DISABLED, now)?;
                }
                let changed: Vec<String> = [
                    name.map(|_| "name".to_string()),
                    role.map(|r| format!("role={r}")),
                    disabled.map(|d| format!("disabled={d}")),
                ]
                .into_iter()
                .flatten()
                .collect();
                let event = admin_event(kind::ADMIN_USER_UPDATED, &admin_id, &id, &who);
                audit::record_in(c, event.detail(changed.join(", ")))?;
                User::find(c, &id)?.ok_or(ApiError::NotFound)
            })
        })
        .await?;
    tracing::info!(admin = %admin.id(), user_id = %user.id, "admin updated a user");
    Ok(HttpResponse::Ok().json(AdminUserView::from(&user)))
}

/// Delete a user
///
/// Deletes the user and its sessions, records it in the audit log and answers `204`.
/// Admins only (Bearer of a current admin with a live session, else `403 forbidden`).
/// Deleting the last admin is `409 last_admin`; an unknown id is `404 not_found`.
#[utoipa::path(
    tag = "admin",
    operation_id = "deleteUser",
    params(("id" = uuid::Uuid, Path, description = "A user id")),
    responses(
        (status = 204, description = "Deleted, with its sessions"),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 404, response = crate::routes::problems::NotFound),
        (status = 409, response = crate::routes::problems::Conflict),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[delete("/admin/users/{id}")]
pub async fn delete_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    id: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let (admin_id, who) = (admin.id().to_string(), state.client(&req));
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let user = User::find(c, &id)?.ok_or(ApiError::NotFound)?;
                delete_user_in(c, &user)?;
                let event = admin_event(kind::ADMIN_USER_DELETED, &admin_id, &id, &who);
                audit::record_in(c, event.detail(user.email))
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct SetPasswordRequest {
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
}

/// Set a user's password
///
/// Sets the user's password and answers `204`; the user's sessions are signed out, its
/// reset, magic-link, invitation and address-change links stop working, and a notice is
/// mailed when mail is on. A password that breaks the rules is `422 validation_failed`; an unknown id is `404`.
/// Admins only (Bearer of a current admin with a live session, else `403 forbidden`).
#[utoipa::path(
    tag = "admin",
    operation_id = "setUserPassword",
    params(("id" = uuid::Uuid, Path, description = "A user id")),
    request_body = SetPasswordRequest,
    responses(
        (status = 204, description = "Set; the user's sessions are signed out and its reset, magic-link, invitation and address-change links stop working"),
        crate::routes::problems::JsonBodyErrors,
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 404, response = crate::routes::problems::NotFound),
        (status = 422, response = crate::routes::problems::ValidationFailed),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[post("/admin/users/{id}/password")]
pub async fn set_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    id: web::Path<uuid::Uuid>,
    body: Json<SetPasswordRequest>,
) -> ApiResult<HttpResponse> {
    let password = Password::parse("password", &body.password, state.settings.passwords)?;
    let user = target(&state, id.into_inner()).await?;
    let hash = state.hasher().hash(password.into_secret()).await?;
    let (admin_id, who, mail) = (
        admin.id().to_string(),
        state.client(&req),
        state.mail().cloned(),
    );
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                set_password_in(c, &user, &hash)?;
                links::notice_in(c, mail.as_ref(), Kind::PasswordChanged, &user)?;
                let event = admin_event(kind::ADMIN_PASSWORD_SET, &admin_id, &user.id, &who);
                audit::record_in(c, event)
            })
        })
        .await?;
    state.signin.wake_mail();
    Ok(HttpResponse::NoContent().finish())
}

/// Sign a user out everywhere
///
/// Revokes every session of the user, records it in the audit log and answers `204`.
/// Admins only (Bearer of a current admin with a live session, else `403 forbidden`). An
/// unknown id is `404 not_found`.
#[utoipa::path(
    tag = "admin",
    operation_id = "revokeUserSessions",
    params(("id" = uuid::Uuid, Path, description = "A user id")),
    responses(
        (status = 204, description = "Every session of the user is signed out"),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 404, response = crate::routes::problems::NotFound),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[post("/admin/users/{id}/sessions/revoke")]
pub async fn revoke_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: AdminUser,
    id: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    let user = target(&state, id.into_inner()).await?;
    let (admin_id, who) = (admin.id().to_string(), state.client(&req));
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                Session::revoke_all(c, &user.id, None, reason::REVOKED_BY_ADMIN, now())?;
                let event = admin_event(kind::ADMIN_SESSIONS_REVOKED, &admin_id, &user.id, &who);
                audit::record_in(c, event)
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Remove a user's second factors
///
/// Removes the user's TOTP secret, backup codes and passkeys (for a lost phone), mails the
/// user a notice when mail is on and answers `204`. Admins only (Bearer of a current admin
/// with a live session, else `403 forbidden`). An unknown id is `404 not_found`.
#[utoipa::path(
    tag = "admin",
    operation_id = "resetUserSecondFactors",
    params(("id" = uuid::Uuid, Path, description = "A user id")),
    responses(
        (status = 204, description = "The user's TOTP, backup codes and passkeys are gone (a lost phone); the user is mailed a notice"),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 404, response = crate::routes::problems::NotFound),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[delete("/admin/users/{id}/mfa")]
pub async fn reset_second_factors(
    state: web::Data<AppState>,
    admin: AdminUser,
    id: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    let user = target(&state, id.into_inner()).await?;
    let (second, admin_id) = (state.signin.second.clone(), admin.id().to_string());
    state
        .db
        .run(move |c| write_tx(c, |c| second.reset_in(c, &user, Some(&admin_id))))
        .await?;
    state.signin.wake_mail();
    Ok(HttpResponse::NoContent().finish())
}
