//! Passkeys: the WebAuthn ceremonies (registration by a signed-in user; sign-in), and the
//! account's list of passkeys.

use actix_web::http::StatusCode;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::audit;
use crate::auth::extractor::CurrentUser;
use crate::auth::fresh::{amr, RecentUser};
use crate::auth::signin::FirstFactor;
use crate::db::models::second_factor::PasskeyRow;
use crate::db::models::{now, Identity, Session};
use crate::db::write_tx;
use crate::domain::Email;
use crate::error::{ApiError, ApiResult};
use crate::mfa::passkeys::{Options, Passkeys};
use crate::moderation::guard::{self, Limited};
use crate::routes::json::{Json, OptionalJson};
use crate::routes::{answer, no_store, SignInResult};
use crate::state::AppState;

fn passkeys(state: &AppState) -> ApiResult<Passkeys> {
    state
        .signin
        .passkeys
        .clone()
        .ok_or(ApiError::FeatureDisabled("Passkeys (WEBAUTHN_RP_ID)"))
}

/// Options for `navigator.credentials`: pass `publicKey` (its binary fields are base64url
/// strings), and send back `challenge_id` with the result.
#[derive(Serialize, ToSchema)]
pub struct CeremonyOptions {
    pub challenge_id: String,
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    pub public_key: serde_json::Value,
}

fn options(o: Options) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    no_store(&mut res);
    res.json(CeremonyOptions {
        challenge_id: o.challenge_id,
        public_key: o.public_key,
    })
}

/// A passkey of the account.
#[derive(Serialize, ToSchema)]
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<PasskeyRow> for PasskeyView {
    fn from(p: PasskeyRow) -> Self {
        PasskeyView {
            id: p.id,
            name: p.name,
            created_at: p.created_at.and_utc(),
            last_used_at: p.last_used_at.map(|t| t.and_utc()),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PasskeyList {
    pub passkeys: Vec<PasskeyView>,
}

/// Start registering a passkey for the signed-in user
///
/// Requires a Bearer access token with recent authentication (else
/// `403 reauthentication_required`). Answers `200` with `challenge_id` and the `publicKey`
/// options for `navigator.credentials.create` (binary fields as base64url); the challenge is
/// single use and expires in 5 minutes. Passkeys not configured is `403 feature_disabled`.
#[utoipa::path(
    tag = "second factor",
    operation_id = "startPasskeyRegistration",
    responses(
        (status = 200, description = "Creation options for `navigator.credentials.create`", body = CeremonyOptions),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[post("/auth/passkeys/register/options")]
pub async fn register_options(
    state: web::Data<AppState>,
    current: RecentUser,
) -> ApiResult<HttpResponse> {
    let pk = passkeys(&state)?;
    let o = state
        .db
        .run(move |c| write_tx(c, |c| pk.register_options_in(c, &current.user, now())))
        .await?;
    Ok(options(o))
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterPasskeyRequest {
    pub challenge_id: String,
    /// What `navigator.credentials.create` gave, with its binary fields as base64url.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// A name to tell it by (default "Passkey").
    pub name: Option<String>,
}

/// Finish registering a passkey for the signed-in user
///
/// Requires a Bearer access token with recent authentication. Send the `challenge_id` from
/// the options, the `credential` that `navigator.credentials.create` gave and an optional
/// `name` (default "Passkey"); answers `201` with the new passkey, which signs in on its own
/// and counts as both factors; the owner is mailed a notice when mail is on. A refused
/// credential is `403 invalid_credentials`, one already registered `409 passkey_registered`.
#[utoipa::path(
    tag = "second factor",
    operation_id = "finishPasskeyRegistration",
    request_body = RegisterPasskeyRequest,
    responses(
        (status = 201, description = "The new passkey; it signs in on its own and counts as both factors", body = PasskeyView),
        crate::routes::problems::JsonBodyErrors,
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 409, response = crate::routes::problems::Conflict),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[post("/auth/passkeys/register")]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    current: RecentUser,
    body: Json<RegisterPasskeyRequest>,
) -> ApiResult<HttpResponse> {
    let pk = passkeys(&state)?;
    let body = body.into_inner();
    let name: String = body
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("Passkey")
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    let (second, client) = (state.signin.second.clone(), state.client(&req));
    let row = state
        .db
        .run(move |c| {
            let (user, session) = (current.user, current.session);
            let done = write_tx(c, |c| {
                let row =
                    pk.register_in(c, &user, &body.challenge_id, body.credential, &name, now())?;
                if let Ok(row) = &row {
                    let what = format!("A passkey ({})", row.name);
                    second.added_in(c, &user, &client, audit::kind::PASSKEY_ADDED, &what)?;
                    // Made in this session: the session has proven it.
                    Session::prove_method(c, &session, amr::HWK)?;
                }
                Ok(row)
            })?;
            // A refused credential still spent its ceremony (committed above).
            done.map_err(|e| match e {
                ApiError::InvalidCredentials => ApiError::WrongCode,
                other => other,
            })
        })
        .await?;
    state.signin.wake_mail();
    Ok(HttpResponse::Created().json(PasskeyView::from(row)))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct PasskeyOptionsRequest {
    /// Narrows the allowed credentials to this account's; without it, any discoverable
    /// passkey may answer.
    pub email: Option<String>,
}

/// Start signing in with a passkey
///
/// Anonymous. Answers `200` with `challenge_id` and the `publicKey` options for
/// `navigator.credentials.get`. With an optional `email`, `allowCredentials` lists that
/// account's passkeys, and an address without any gets made-up ids of the same shape, so
/// the answer reveals nothing about the address. Passkeys not configured is
/// `403 feature_disabled`; limited by `LOGIN_MAX`.
#[utoipa::path(
    tag = "auth",
    operation_id = "startPasskeySignIn",
    request_body(content = Option<PasskeyOptionsRequest>, description = "Optional"),
    responses(
        (status = 200, description = "Request options for `navigator.credentials.get`. With `email`, `allowCredentials` lists that account's passkeys; an address without any gets made-up ids of the same shape, so the answer tells nothing about the address", body = CeremonyOptions),
        crate::routes::problems::JsonBodyErrors,
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 429, response = crate::routes::problems::TooManyRequests),
        (status = 503, response = crate::routes::problems::Unavailable),
    )
)]
#[post("/auth/passkeys/login/options")]
pub async fn login_options(
    state: web::Data<AppState>,
    _limit: Limited<guard::Login>,
    body: OptionalJson<PasskeyOptionsRequest>,
) -> ApiResult<HttpResponse> {
    let pk = passkeys(&state)?;
    let email = body
        .0
        .unwrap_or_default()
        .email
        .and_then(|e| Email::parse("email", &e).ok());
    let o = state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                pk.login_options_in(c, email.as_ref().map(|e| e.as_str()), now())
            })
        })
        .await?;
    Ok(options(o))
}

#[derive(Deserialize, ToSchema)]
pub struct PasskeySignInRequest {
    pub challenge_id: String,
    /// What `navigator.credentials.get` gave, with its binary fields as base64url.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// Sign in with a passkey
///
/// Anonymous: the `challenge_id` from `POST /auth/passkeys/login/options` and the
/// `credential` that `navigator.credentials.get` gave. Answers `200` signed in; a passkey
/// counts as both factors. A credential that does not verify is `401 invalid_credentials`;
/// a disabled or banned account is `403`. Limited by `LOGIN_MAX`.
#[utoipa::path(
    tag = "auth",
    operation_id = "signInWithPasskey",
    request_body = PasskeySignInRequest,
    responses(
        (status = 200, description = "Signed in (a passkey counts as both factors)", body = SignInResult),
        crate::routes::problems::JsonBodyErrors,
        (status = 401, response = crate::routes::problems::InvalidCredentials),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 429, response = crate::routes::problems::TooManyRequests),
        (status = 503, response = crate::routes::problems::Unavailable),
    )
)]
#[post("/auth/passkeys/login")]
pub async fn login(
    state: web::Data<AppState>,
    _limit: Limited<guard::Login>,
    req: HttpRequest,
    body: Json<PasskeySignInRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let factor = FirstFactor::Passkey {
        challenge_id: body.challenge_id,
        credential: body.credential,
    };
    let outcome = state.signin.sign_in(factor, state.client(&req)).await?;
    Ok(answer(&state, StatusCode::OK, outcome))
}

/// List the signed-in user's passkeys
///
/// The passkeys registered to the caller's account, each with `id`, `name`, `created_at`
/// and `last_used_at`. Requires a Bearer access token whose session is still live.
#[utoipa::path(
    tag = "second factor",
    operation_id = "listPasskeys",
    responses(
        (status = 200, description = "The account's passkeys", body = PasskeyList),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[get("/auth/passkeys")]
pub async fn list(state: web::Data<AppState>, current: CurrentUser) -> ApiResult<HttpResponse> {
    let user_id = current.user.id;
    let rows = state
        .db
        .run(move |c| Ok(PasskeyRow::for_user(c, &user_id)?))
        .await?;
    Ok(HttpResponse::Ok().json(PasskeyList {
        passkeys: rows.into_iter().map(PasskeyView::from).collect(),
    }))
}

/// Remove one of the signed-in user's passkeys
///
/// Requires a Bearer access token with recent authentication (else
/// `403 reauthentication_required`). Removes the passkey, mails the owner a notice when mail
/// is on, and answers `204`. An unknown id or another user's passkey is `404 not_found`;
/// removing the account's last way to sign in is `409 last_sign_in_method`.
#[utoipa::path(
    tag = "second factor",
    operation_id = "removePasskey",
    params(("id" = uuid::Uuid, Path, description = "A passkey id from `listPasskeys`")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 404, response = crate::routes::problems::NotFound),
        (status = 409, response = crate::routes::problems::Conflict),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[delete("/auth/passkeys/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    req: HttpRequest,
    current: RecentUser,
    id: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let (second, client) = (state.signin.second.clone(), state.client(&req));
    let magic_link = state.signin.magic_link_allowed().is_ok();
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let user = current.user;
                let mine = PasskeyRow::for_user(c, &user.id)?;
                let target = mine.iter().find(|p| p.id == id).ok_or(ApiError::NotFound)?;
                let other_ways = user.password_hash.is_some()
                    || mine.len() > 1
                    || !Identity::for_user(c, &user.id)?.is_empty()
                    || magic_link;
                if !other_ways {
                    return Err(ApiError::Conflict("last_sign_in_method"));
                }
                PasskeyRow::delete(c, &user.id, &id)?;
                let notice = format!("The passkey {} was removed.", target.name);
                second.changed_in(c, &user, &client, audit::kind::PASSKEY_REMOVED, &notice)
            })
        })
        .await?;
    state.signin.wake_mail();
    Ok(HttpResponse::NoContent().finish())
}
