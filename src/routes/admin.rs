//! Administration. Every route checks the caller's current role in the database, so a
//! demoted admin's still-valid token is not enough.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::accounts::{
    create_user_in, delete_user_in, is_last_active_admin, set_password_in,
};
use crate::auth::audit::{self, kind, Event};
use crate::auth::client::ClientInfo;
use crate::auth::extractor::AuthUser;
use crate::db::models::session::reason;
use crate::db::models::user::{ROLE_ADMIN, ROLE_USER};
use crate::db::models::{now, AuditEvent, AuditFilter, OutboxMessage, Session, User};
use crate::db::write_tx;
use crate::domain::{Email, Password, UserName};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::routes::UserView;
use crate::state::AppState;

/// Refuses anyone who is not, right now, an enabled admin.
async fn require_admin(state: &AppState, auth: &AuthUser) -> ApiResult<User> {
    let id = auth.0.sub.clone();
    match state.db.run(move |c| Ok(User::find(c, &id)?)).await? {
        Some(u) if u.is_admin() && !u.disabled => Ok(u),
        Some(_) => Err(ApiError::Forbidden),
        None => Err(ApiError::Unauthorized("This account no longer exists.")),
    }
}

/// A message in the outbox, without its body (which carries a token).
#[derive(Serialize, ToSchema)]
pub struct MailView {
    pub id: String,
    pub recipient: String,
    /// `verify_email`, `password_reset`, `magic_link`, `invite`, `password_changed`, `account_exists`.
    pub kind: String,
    /// `pending`, `sending`, `sent` or `failed`.
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct MailList {
    pub messages: Vec<MailView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct MailQuery {
    /// Only messages in this state.
    pub state: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[utoipa::path(
    tag = "admin",
    params(MailQuery),
    responses(
        (status = 200, description = "The outbox, newest first", body = MailList),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
#[get("/admin/mail")]
pub async fn mail(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: web::Query<MailQuery>,
) -> ApiResult<HttpResponse> {
    require_admin(&state, &auth).await?;
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    if let Some(s) = &q.state {
        if !["pending", "sending", "sent", "failed"].contains(&s.as_str()) {
            return Err(ApiError::InvalidRequest(
                "`state` must be pending, sending, sent or failed.".into(),
            ));
        }
    }
    let rows = state
        .db
        .run(move |c| {
            Ok(OutboxMessage::list(
                c,
                q.state.as_deref(),
                q.cursor.as_deref(),
                limit + 1,
            )?)
        })
        .await?;
    let (rows, next_cursor) = page(rows, limit, |r| r.id.clone());
    let messages = rows
        .into_iter()
        .map(|m| MailView {
            id: m.id,
            recipient: m.recipient,
            kind: m.kind,
            state: m.state,
            attempts: m.attempts,
            last_error: m.last_error,
            next_attempt_at: m.next_attempt_at.and_utc(),
            created_at: m.created_at.and_utc(),
            updated_at: m.updated_at.and_utc(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(MailList {
        messages,
        next_cursor,
    }))
}

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
    pub cursor: Option<String>,
}

/// Splits one row more than a page off: its presence means there is a next page, which
/// starts after the last row kept.
fn page<T>(mut rows: Vec<T>, limit: i64, id: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        let next = rows.last().map(id);
        (rows, next)
    } else {
        (rows, None)
    }
}

fn page_limit(limit: Option<i64>) -> ApiResult<i64> {
    let limit = limit.unwrap_or(50);
    if (1..=200).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::InvalidRequest(
            "`limit` must be between 1 and 200.".into(),
        ))
    }
}

#[utoipa::path(
    tag = "admin",
    params(UserQuery),
    responses(
        (status = 200, description = "Users in creation order", body = UserList),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
#[get("/admin/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: web::Query<UserQuery>,
) -> ApiResult<HttpResponse> {
    require_admin(&state, &auth).await?;
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    let rows = state
        .db
        .run(move |c| {
            Ok(User::search(
                c,
                q.q.as_deref(),
                q.cursor.as_deref(),
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
    pub email: String,
    pub name: Option<String>,
    /// Without one, the user is invited by email (mail must be configured).
    pub password: Option<String>,
    /// `user` (default) or `admin`.
    pub role: Option<String>,
}

fn parse_role(raw: &str) -> Result<&'static str, FieldError> {
    match raw {
        "user" => Ok(ROLE_USER),
        "admin" => Ok(ROLE_ADMIN),
        _ => Err(FieldError::new(
            "role",
            "invalid_role",
            "Use `user` or `admin`.",
        )),
    }
}

#[utoipa::path(
    tag = "admin",
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "Created; without a password, invited by email", body = AdminUserView),
        crate::openapi::JsonBodyErrors,
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
#[post("/admin/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: AuthUser,
    body: web::Json<CreateUserRequest>,
) -> ApiResult<HttpResponse> {
    require_admin(&state, &auth).await?;
    let body = body.into_inner();
    let mut errors = Vec::new();
    let email = Email::parse("email", &body.email)
        .map_err(|e| errors.push(e))
        .ok();
    let name = body
        .name
        .as_deref()
        .map(|n| UserName::parse("name", n))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let password = body
        .password
        .as_deref()
        .map(|p| Password::parse("password", p))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let role = parse_role(body.role.as_deref().unwrap_or("user"))
        .map_err(|e| errors.push(e))
        .ok();
    if password.is_none() && body.password.is_none() && state.mail.is_none() {
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
        Some(p) => Some(state.hasher.hash(p.into_secret()).await?),
        None => None,
    };
    let invite = hash.is_none();
    let (admin, who) = (auth.0.sub.clone(), client(&state, &req));
    let user = state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                // An admin vouches for the address of an account made with a password.
                let user = create_user_in(c, &email, &name, hash.as_deref(), !invite)?;
                if role != user.role {
                    User::set_role(c, &user.id, role)?;
                }
                let detail = if invite { "invited" } else { "with a password" };
                audit::record_in(
                    c,
                    admin_event(kind::ADMIN_USER_CREATED, &admin, &user.id, &who).detail(detail),
                )?;
                Ok(User::find(c, &user.id)?.unwrap_or(user))
            })
        })
        .await?;
    if invite {
        crate::auth::email::invite(&state, user.clone()).await?;
    }
    tracing::info!(admin = %auth.0.sub, user_id = %user.id, invite, "admin created a user");
    Ok(HttpResponse::Created().json(AdminUserView::from(&user)))
}

async fn target(state: &AppState, id: uuid::Uuid) -> ApiResult<User> {
    let id = id.to_string();
    state
        .db
        .run(move |c| User::find(c, &id)?.ok_or(ApiError::NotFound))
        .await
}

#[utoipa::path(
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "A user id")),
    responses(
        (status = 200, description = "The user", body = AdminUserView),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
#[get("/admin/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    auth: AuthUser,
    id: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    require_admin(&state, &auth).await?;
    let user = target(&state, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(AdminUserView::from(&user)))
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateUserRequest {
    pub name: Option<String>,
    /// `user` or `admin`.
    pub role: Option<String>,
    /// A disabled user cannot sign in; its sessions stop at the next refresh.
    pub disabled: Option<bool>,
}

#[utoipa::path(
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "A user id")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The updated user", body = AdminUserView),
        crate::openapi::JsonBodyErrors,
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
#[patch("/admin/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: AuthUser,
    id: web::Path<uuid::Uuid>,
    body: web::Json<UpdateUserRequest>,
) -> ApiResult<HttpResponse> {
    require_admin(&state, &auth).await?;
    let body = body.into_inner();
    let mut errors = Vec::new();
    let name = body
        .name
        .as_deref()
        .map(|n| UserName::parse("name", n))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let role = body
        .role
        .as_deref()
        .map(parse_role)
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let id = id.into_inner().to_string();
    let disabled = body.disabled;
    let (admin, who) = (auth.0.sub.clone(), client(&state, &req));
    let user = state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let user = User::find(c, &id)?.ok_or(ApiError::NotFound)?;
                let loses_admin = role.is_some_and(|r| r != ROLE_ADMIN) || disabled == Some(true);
                if loses_admin && is_last_active_admin(c, &user)? {
                    return Err(ApiError::LastAdmin);
                }
                User::update_admin_fields(
                    c,
                    &id,
                    name.as_ref().map(UserName::as_str),
                    role,
                    disabled,
                    now(),
                )?;
                let changed: Vec<String> = [
                    name.as_ref().map(|_| "name".to_string()),
                    role.map(|r| format!("role={r}")),
                    disabled.map(|d| format!("disabled={d}")),
                ]
                .into_iter()
                .flatten()
                .collect();
                audit::record_in(
                    c,
                    admin_event(kind::ADMIN_USER_UPDATED, &admin, &id, &who)
                        .detail(changed.join(", ")),
                )?;
                User::find(c, &id)?.ok_or(ApiError::NotFound)
            })
        })
        .await?;
    tracing::info!(admin = %auth.0.sub, user_id = %user.id, "admin updated a user");
    Ok(HttpResponse::Ok().json(AdminUserView::from(&user)))
}

#[utoipa::path(
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "A user id")),
    responses(
        (status = 204, description = "Deleted, with its sessions"),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 409, response = crate::openapi::Conflict),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
#[delete("/admin/users/{id}")]
pub async fn delete_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: AuthUser,
    id: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    require_admin(&state, &auth).await?;
    let id = id.into_inner().to_string();
    let (admin, who) = (auth.0.sub.clone(), client(&state, &req));
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let user = User::find(c, &id)?.ok_or(ApiError::NotFound)?;
                delete_user_in(c, &user)?;
                audit::record_in(
                    c,
                    admin_event(kind::ADMIN_USER_DELETED, &admin, &id, &who).detail(user.email),
                )
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

#[utoipa::path(
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "A user id")),
    request_body = SetPasswordRequest,
    responses(
        (status = 204, description = "Set; the user's sessions are signed out"),
        crate::openapi::JsonBodyErrors,
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 422, response = crate::openapi::ValidationFailed),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
#[post("/admin/users/{id}/password")]
pub async fn set_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: AuthUser,
    id: web::Path<uuid::Uuid>,
    body: web::Json<SetPasswordRequest>,
) -> ApiResult<HttpResponse> {
    require_admin(&state, &auth).await?;
    let password = Password::parse("password", &body.password)?;
    let user = target(&state, id.into_inner()).await?;
    let hash = state.hasher.hash(password.into_secret()).await?;
    let st = state.clone();
    let (admin, who) = (auth.0.sub.clone(), client(&state, &req));
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                set_password_in(c, &user, &hash)?;
                crate::auth::email::password_changed_in(c, &st, &user)?;
                audit::record_in(
                    c,
                    admin_event(kind::ADMIN_PASSWORD_SET, &admin, &user.id, &who),
                )
            })
        })
        .await?;
    crate::auth::email::mail_queued(&state);
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    tag = "admin",
    params(("id" = uuid::Uuid, Path, description = "A user id")),
    responses(
        (status = 204, description = "Every session of the user is signed out"),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
#[post("/admin/users/{id}/sessions/revoke")]
pub async fn revoke_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: AuthUser,
    id: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    require_admin(&state, &auth).await?;
    let user = target(&state, id.into_inner()).await?;
    let (admin, who) = (auth.0.sub.clone(), client(&state, &req));
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                Session::revoke_all(c, &user.id, None, reason::REVOKED_BY_ADMIN, now())?;
                audit::record_in(
                    c,
                    admin_event(kind::ADMIN_SESSIONS_REVOKED, &admin, &user.id, &who),
                )
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// An admin action on `subject`, for the audit log.
fn admin_event<'a>(
    kind: &'static str,
    admin: &'a str,
    subject: &'a str,
    client: &'a ClientInfo,
) -> Event<'a> {
    Event {
        kind,
        actor: Some(admin),
        subject: Some(subject),
        client: Some(client),
        detail: None,
    }
}

fn client(state: &AppState, req: &HttpRequest) -> ClientInfo {
    ClientInfo::from_request(req, state.settings.trust_proxy)
}

#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: String,
    /// `sign_in`, `sign_in_failed`, `registered`, `refresh_token_reused`, `logout`,
    /// `password_changed`, `password_reset`, `session_revoked`, `email_verified`, `admin_…`.
    pub kind: String,
    /// Who acted; `null` for an anonymous client.
    pub actor_id: Option<String>,
    /// Whose account it concerns.
    pub subject_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditList {
    pub events: Vec<AuditEventView>,
    /// Pass as `cursor` for the next (older) page; `null` on the last.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Events where this user acted or was acted on.
    pub user_id: Option<String>,
    pub kind: Option<String>,
    /// RFC 3339; events at or after.
    pub since: Option<DateTime<Utc>>,
    /// RFC 3339; events before.
    pub until: Option<DateTime<Utc>>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[utoipa::path(
    tag = "admin",
    params(AuditQuery),
    responses(
        (status = 200, description = "The audit log, newest first", body = AuditList),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
#[get("/admin/audit")]
pub async fn audit_log(
    state: web::Data<AppState>,
    auth: AuthUser,
    query: web::Query<AuditQuery>,
) -> ApiResult<HttpResponse> {
    require_admin(&state, &auth).await?;
    let q = query.into_inner();
    let limit = page_limit(q.limit)?;
    let filter = AuditFilter {
        user_id: q.user_id,
        kind: q.kind,
        since: q.since.map(|t| t.naive_utc()),
        until: q.until.map(|t| t.naive_utc()),
        before: q.cursor,
    };
    let rows = state
        .db
        .run(move |c| Ok(AuditEvent::list(c, &filter, limit + 1)?))
        .await?;
    let (rows, next_cursor) = page(rows, limit, |r| r.id.clone());
    let events = rows
        .into_iter()
        .map(|e| AuditEventView {
            id: e.id,
            kind: e.kind,
            actor_id: e.actor_id,
            subject_id: e.subject_id,
            ip: e.ip,
            user_agent: e.user_agent,
            detail: e.detail,
            created_at: e.created_at.and_utc(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(AuditList {
        events,
        next_cursor,
    }))
}
