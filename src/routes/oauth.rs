//! Social sign-in over HTTP: the redirect to the provider, the callback (a `GET`, or a
//! form `POST` for Apple), LibreChat's callback paths, and the identities a user holds.
//! The callback answers with redirects to `APP_URL`, never with tokens in a URL.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::audit;
use crate::auth::extractor::{live_session, CurrentUser};
use crate::auth::fresh::RecentUser;
use crate::auth::signin::{FirstFactor, Outcome};
use crate::db::models::Identity;
use crate::db::write_tx;
use crate::error::{ApiError, ApiResult};
use crate::moderation::guard::{self, Limited};
use crate::routes::{no_store, refresh_cookie};
use crate::social::{Callback, LinkFor, SocialError, STATE_LIFETIME};
use crate::state::AppState;

/// The cookie that binds a sign-in under way to the browser that started it.
pub const BINDING_COOKIE: &str = "latch_oauth";

/// `?link=`: the intent of `linkIdentity`, when a signed-in user links an identity.
#[derive(Debug, Default, serde::Deserialize)]
pub struct StartQuery {
    pub link: Option<String>,
}

/// Start a social sign-in with a provider
///
/// Anonymous, opened in the browser. Answers `302` to the provider with a one-time `state`,
/// a PKCE `code_challenge` and, for OpenID Connect, a `nonce` (for `saml`, to
/// `SAML_ENTRY_POINT` with an AuthnRequest), and sets a cookie that binds the sign-in to
/// this browser. With `link` from `POST /auth/identities/{provider}/link`, the identity is
/// added to that account instead; an unreachable provider redirects to
/// `APP_URL?error=provider_error`. An unknown or unconfigured provider is `404`, a configured
/// one while social sign-in is off `403 feature_disabled`; limited by `LOGIN_MAX`.
#[utoipa::path(
    tag = "social",
    operation_id = "startSocialSignIn",
    params(
        ("provider" = String, Path, description = "A provider id from `/auth/config`"),
        ("link" = Option<String>, Query, description = "From `linkIdentity`: the provider's identity is added to that account instead of signing in"),
    ),
    responses(
        (status = 302, description = "To the provider, with `state`, a PKCE `code_challenge` and (OpenID Connect) a `nonce`; for `saml`, to `SAML_ENTRY_POINT` with an AuthnRequest and the `state` as `RelayState`. A cookie binds the sign-in to this browser. When the provider cannot be reached: to `APP_URL?error=provider_error`"),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 404, response = crate::routes::problems::NotFound),
        (status = 429, response = crate::routes::problems::TooManyRequests),
    )
)]
#[get("/auth/oauth/{provider}")]
pub async fn start(
    state: web::Data<AppState>,
    _limit: Limited<guard::Login>,
    req: HttpRequest,
    provider: web::Path<String>,
    query: web::Query<StartQuery>,
) -> ApiResult<HttpResponse> {
    let provider = served(&state, &provider)?;
    crate::routes::not_for_head(&req)?;
    let binding = req.cookie(BINDING_COOKIE).map(|c| c.value().to_string());
    let link = match &query.link {
        Some(intent) => match state
            .social
            .take_link_intent(&state.db, &provider, intent)
            .await
        {
            Ok(link) => Some(link),
            Err(e) => return Ok(back_to_app(&state, Err(e.code())).finish()),
        },
        None => None,
    };
    let begun = state
        .social
        .begin(&state.db, &provider, binding, link)
        .await;
    match begun {
        Ok((url, binding)) => {
            let cookie = binding_cookie(&state, binding, provider.posts_back());
            Ok(redirect(&url).cookie(cookie).finish())
        }
        Err(e) => {
            state.metrics.social(&provider.config.id, e.code());
            Ok(back_to_app(&state, Err(e.code())).finish())
        }
    }
}

/// Complete a social sign-in at the provider's redirect
///
/// Where the provider sends the browser back. Checks the one-time `state` against the
/// browser's binding cookie, exchanges the code server-side and signs in to (or, where
/// social registration is allowed, creates) the account; then `302` to `APP_URL` with the
/// refresh cookie set, or to `APP_URL?mfa_required=true` with an `mfa_token` cookie when the
/// account has a second factor. A refusal redirects to `APP_URL?error=<code>` (for example
/// `invalid_state`, `access_denied`, `provider_error`, `email_taken`, `banned`); tokens never
/// appear in a URL. Limited by `LOGIN_MAX`.
#[utoipa::path(
    tag = "social",
    operation_id = "finishSocialSignIn",
    params(
        ("provider" = String, Path, description = "A provider id"),
        ("code" = Option<String>, Query, description = "From the provider"),
        ("state" = Option<String>, Query, description = "From the provider"),
        ("iss" = Option<String>, Query, description = "RFC 9207: the provider's issuer"),
        ("error" = Option<String>, Query, description = "From the provider, when it refused"),
    ),
    responses(
        (status = 302, description = "Signed in: the refresh cookie is set and the browser goes to `APP_URL` (with a second factor: `APP_URL?mfa_required=true`, and the `mfa_token` as an HttpOnly cookie for `/auth/mfa/verify`). Refused: `APP_URL?error=` one of `invalid_state`, `access_denied`, `provider_error`, `email_not_verified`, `registration_disabled`, `account_disabled`, `banned`, `role_required`"),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 404, response = crate::routes::problems::NotFound),
        (status = 429, response = crate::routes::problems::TooManyRequests),
    )
)]
#[get("/auth/oauth/{provider}/callback")]
pub async fn callback(
    state: web::Data<AppState>,
    _limit: Limited<guard::Login>,
    req: HttpRequest,
    provider: web::Path<String>,
    answer: web::Query<Callback>,
) -> ApiResult<HttpResponse> {
    finish(&state, &req, &provider, answer.into_inner()).await
}

/// Complete a social sign-in posted back as a form
///
/// The callback as a form `POST`, for providers that post their answer back: Apple's
/// `response_mode=form_post`, and SAML's HTTP-POST binding with `SAMLResponse` and
/// `RelayState` (the SAML assertion consumer service). It checks and answers exactly as the
/// `GET` callback does: a `302` to `APP_URL`, with `?error=<code>` on a refusal.
#[utoipa::path(
    tag = "social",
    operation_id = "finishSocialSignInByForm",
    params(("provider" = String, Path, description = "A provider id")),
    request_body(content = CallbackForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 302, description = "As the `GET` callback"),
        crate::routes::problems::JsonBodyErrors,
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 404, response = crate::routes::problems::NotFound),
        (status = 429, response = crate::routes::problems::TooManyRequests),
    )
)]
#[post("/auth/oauth/{provider}/callback")]
pub async fn callback_form(
    state: web::Data<AppState>,
    _limit: Limited<guard::Login>,
    req: HttpRequest,
    provider: web::Path<String>,
    answer: web::Form<Callback>,
) -> ApiResult<HttpResponse> {
    finish(&state, &req, &provider, answer.into_inner()).await
}

/// The fields of a form `POST` callback.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CallbackForm {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    /// SAML: the base64 `Response`.
    #[schema(rename = "SAMLResponse")]
    saml_response: Option<String>,
    /// SAML: the `state` under its SAML name.
    #[schema(rename = "RelayState")]
    relay_state: Option<String>,
}

/// Get the SAML service-provider metadata
///
/// Latch's SAML 2.0 service-provider metadata, for registering Latch with the identity
/// provider: the entity id `SAML_ISSUER` and the HTTP-POST assertion consumer service. No
/// authentication; `404` when SAML is not configured.
#[utoipa::path(
    tag = "social",
    operation_id = "getSamlMetadata",
    responses(
        (status = 200, description = "Latch's SAML 2.0 service-provider metadata (entity id `SAML_ISSUER`, the HTTP-POST assertion consumer service), to register with the identity provider", content_type = "application/samlmetadata+xml", body = String),
        (status = 404, response = crate::routes::problems::NotFound),
    )
)]
#[get("/auth/saml/metadata")]
pub async fn saml_metadata(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let xml = state.social.saml_metadata().ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .body(xml.to_string()))
}

/// A provider's callback at a path of its own (LibreChat's `<PROVIDER>_CALLBACK_URL`).
pub struct CallbackAlias(pub String);

pub async fn alias_get(
    state: web::Data<AppState>,
    _limit: Limited<guard::Login>,
    req: HttpRequest,
    alias: web::Data<CallbackAlias>,
    answer: web::Query<Callback>,
) -> ApiResult<HttpResponse> {
    finish(&state, &req, &alias.0, answer.into_inner()).await
}

pub async fn alias_post(
    state: web::Data<AppState>,
    _limit: Limited<guard::Login>,
    req: HttpRequest,
    alias: web::Data<CallbackAlias>,
    answer: web::Form<Callback>,
) -> ApiResult<HttpResponse> {
    finish(&state, &req, &alias.0, answer.into_inner()).await
}

async fn finish(
    state: &AppState,
    req: &HttpRequest,
    provider: &str,
    answer: Callback,
) -> ApiResult<HttpResponse> {
    let provider = served(state, provider)?;
    crate::routes::not_for_head(req)?;
    let id = provider.config.id.clone();
    let binding = req.cookie(BINDING_COOKIE).map(|c| c.value().to_string());
    let completed = match state
        .social
        .complete(&state.db, &provider, &answer, binding.as_deref())
        .await
    {
        Ok(completed) => completed,
        Err(e) => {
            state.metrics.social(&id, e.code());
            // Refused before any account was looked at (forged, replayed or broken
            // answers among them): on the record, with the address it came from.
            let client = state.client(req);
            let event = audit::Event {
                kind: audit::kind::SIGN_IN_FAILED,
                actor: None,
                subject: None,
                client: Some(&client),
                detail: Some(format!("social: {} ({id})", e.code())),
            };
            audit::record(&state.db, event).await;
            return Ok(back_to_app(state, Err(e.code())).finish());
        }
    };
    let identity = completed.identity;
    if let Some(to) = completed.link {
        return link(state, req, &id, to, identity).await;
    }
    let signed = state
        .signin
        .sign_in(FirstFactor::Social(identity), state.client(req))
        .await;
    match signed {
        Ok(Outcome::SignedIn(signed)) => {
            state.metrics.social(&id, "success");
            let cookie = refresh_cookie(state, signed.refresh_token.unwrap_or_default());
            Ok(back_to_app(state, Ok(())).cookie(cookie).finish())
        }
        Ok(Outcome::SecondFactor { mfa_token, .. }) => {
            state.metrics.social(&id, "second_factor_required");
            let mut url =
                url::Url::parse(&state.settings.app_url).expect("APP_URL was checked at start");
            url.query_pairs_mut().append_pair("mfa_required", "true");
            let cookie = crate::routes::mfa_cookie(state, mfa_token);
            Ok(redirect(url.as_str()).cookie(cookie).finish())
        }
        Err(e) => {
            let code = refusal_code(&e);
            if code == SocialError::Provider.code() {
                tracing::warn!(provider = %id, error = %e, "social sign-in failed");
            }
            state.metrics.social(&id, code);
            Ok(back_to_app(state, Err(code)).finish())
        }
    }
}

/// Adds `identity` to the account `to` names (a signed-in user asked for it) and sends the
/// browser back with `?linked=<provider>`; no session opens. An identity that another
/// account holds is `?error=identity_taken`; an account that may no longer act, as at
/// sign-in; a link whose session has ended since, `?error=invalid_state`.
async fn link(
    state: &AppState,
    req: &HttpRequest,
    provider: &str,
    to: LinkFor,
    identity: crate::social::ExternalIdentity,
) -> ApiResult<HttpResponse> {
    let client = state.client(req);
    let linked = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let now = crate::db::models::now();
                // The session that asked, by the rule every request's session is held to.
                let asked = crate::db::models::Session::find_with_user(conn, &to.session_id)?;
                let (_, user) = live_session(asked, &to.user_id).map_err(|e| match e {
                    ApiError::Unauthorized(_) => {
                        ApiError::Conflict(SocialError::InvalidState.code())
                    }
                    refused => refused,
                })?;
                if let Some(known) = Identity::find(conn, &identity.provider, &identity.subject)? {
                    return match known.user_id == user.id {
                        true => Ok(()),
                        false => Err(ApiError::Conflict("identity_taken")),
                    };
                }
                crate::auth::signin::factor::link_identity_in(conn, &user, &identity, now)?;
                let event = audit::Event::by_self(audit::kind::IDENTITY_LINKED, &user.id, &client);
                audit::record_in(conn, event.detail(identity.provider.clone()))
            })
        })
        .await;
    let code = match &linked {
        Ok(()) => "success",
        Err(ApiError::Conflict(code)) => code,
        Err(e) => refusal_code(e),
    };
    state.metrics.social(provider, code);
    if linked.is_err() {
        return Ok(back_to_app(state, Err(code)).finish());
    }
    let mut url = url::Url::parse(&state.settings.app_url).expect("APP_URL was checked at start");
    url.query_pairs_mut().append_pair("linked", provider);
    Ok(redirect(url.as_str()).finish())
}

#[derive(Serialize, ToSchema)]
pub struct LinkStart {
    /// Where to send the browser: it signs in at the provider, and comes back to
    /// `APP_URL?linked=<provider>` (or `?error=`).
    pub url: String,
}

/// Start linking a provider's identity to the signed-in account
///
/// Requires a Bearer access token with recent authentication (else
/// `403 reauthentication_required`). Answers `200 {url}`: the browser follows it, signs in at
/// the provider, and the callback adds that identity to this account and redirects to
/// `APP_URL?linked=<provider>` without opening a session (an identity already linked to
/// another account: `?error=identity_taken`; this session ended before the provider
/// answered: `?error=invalid_state`). An unknown provider is `404`.
#[utoipa::path(
    tag = "social",
    operation_id = "linkIdentity",
    params(("provider" = String, Path, description = "A provider id from `/auth/config`")),
    responses(
        (status = 200, description = "Follow `url` in the browser to add that provider's identity to this account (recent authentication needed); no session opens", body = LinkStart),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 404, response = crate::routes::problems::NotFound),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[post("/auth/identities/{provider}/link")]
pub async fn link_identity(
    state: web::Data<AppState>,
    current: RecentUser,
    provider: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let provider = served(&state, &provider)?;
    let intent = state
        .social
        .intend_link(
            &state.db,
            &provider,
            LinkFor {
                user_id: current.user.id.clone(),
                session_id: current.session.id.clone(),
            },
        )
        .await
        .map_err(|_| ApiError::Unavailable("could not record the link".into()))?;
    let server = state.settings.server_url.as_deref().unwrap_or_default();
    let mut url = url::Url::parse(&format!("{server}/auth/oauth/{}", provider.config.id))
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    url.query_pairs_mut().append_pair("link", &intent);
    let mut res = HttpResponse::Ok();
    no_store(&mut res);
    Ok(res.json(LinkStart {
        url: url.to_string(),
    }))
}

/// The provider `id` when it is served: a configured provider while social sign-in is off
/// is `403 feature_disabled` (so a frontend can tell "off" from "wrong URL"); one that is
/// not configured, `404`.
fn served(state: &AppState, id: &str) -> ApiResult<std::sync::Arc<crate::social::Provider>> {
    if let Some(provider) = state.social.get(id) {
        return Ok(provider.clone());
    }
    let social = &state.settings.social;
    if !social.allow_login && social.providers.iter().any(|p| p.id == id) {
        return Err(ApiError::FeatureDisabled(
            "Social sign-in (ALLOW_SOCIAL_LOGIN)",
        ));
    }
    Err(ApiError::NotFound)
}

/// The `?error=` code for a sign-in the pipeline refused.
fn refusal_code(e: &ApiError) -> &'static str {
    match e {
        ApiError::EmailTaken => "email_taken",
        ApiError::EmailNotVerified => "email_not_verified",
        ApiError::FeatureDisabled(_) => "registration_disabled",
        ApiError::AccountDisabled => "account_disabled",
        ApiError::Banned(_) => "banned",
        _ => SocialError::Provider.code(),
    }
}

fn redirect(to: &str) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::build(StatusCode::FOUND);
    no_store(&mut res);
    res.insert_header((header::LOCATION, to.to_string()));
    res
}

/// A redirect to `APP_URL`, with `?error=` on a refusal.
fn back_to_app(state: &AppState, outcome: Result<(), &str>) -> actix_web::HttpResponseBuilder {
    let mut url = url::Url::parse(&state.settings.app_url).expect("APP_URL was checked at start");
    if let Err(code) = outcome {
        url.query_pairs_mut().append_pair("error", code);
    }
    redirect(url.as_str())
}

/// The binding cookie: `SameSite=Lax` follows the top-level redirect back from a provider;
/// a provider that posts its answer back from its own site (Apple) needs `None`, which
/// browsers accept only with `Secure`.
fn binding_cookie(state: &AppState, value: String, posts_back: bool) -> Cookie<'static> {
    let secure = state.settings.refresh.cookie_secure;
    let same_site = if posts_back && secure {
        SameSite::None
    } else {
        SameSite::Lax
    };
    Cookie::build(BINDING_COOKIE, value)
        .http_only(true)
        .secure(secure)
        .same_site(same_site)
        .path("/")
        .max_age(CookieDuration::seconds(STATE_LIFETIME.as_secs() as i64))
        .finish()
}

/// A social identity linked to the account.
#[derive(Serialize, ToSchema)]
pub struct IdentityView {
    pub id: String,
    /// The provider id, as in `/auth/config`.
    pub provider: String,
    /// The address the provider gave when it was linked.
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct IdentityList {
    pub identities: Vec<IdentityView>,
}

/// List the signed-in user's linked identities
///
/// The social, SAML and directory identities linked to the caller's account, each with
/// `id`, `provider`, the `email` the provider gave when it was linked, and `created_at`.
/// Requires a Bearer access token whose session is still live.
#[utoipa::path(
    tag = "social",
    operation_id = "listIdentities",
    responses(
        (status = 200, description = "The social identities linked to the account", body = IdentityList),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[get("/auth/identities")]
pub async fn list_identities(
    state: web::Data<AppState>,
    current: CurrentUser,
) -> ApiResult<HttpResponse> {
    let user_id = current.user.id;
    let rows = state
        .db
        .run(move |conn| Ok(Identity::for_user(conn, &user_id)?))
        .await?;
    let identities = rows
        .into_iter()
        .map(|i| IdentityView {
            id: i.id,
            provider: i.provider,
            email: i.email,
            created_at: i.created_at.and_utc(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(IdentityList { identities }))
}

/// Unlink an identity from the signed-in account
///
/// Requires a Bearer access token with recent authentication (else
/// `403 reauthentication_required`). Removes the identity, records it in the audit log and
/// answers `204`. An unknown id or another user's identity is `404 not_found`; unlinking the
/// account's last way to sign in (no password, passkey, other identity or magic link) is
/// `409 last_sign_in_method`.
#[utoipa::path(
    tag = "social",
    operation_id = "unlinkIdentity",
    params(("id" = uuid::Uuid, Path, description = "An identity id from `GET /auth/identities`")),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 401, response = crate::routes::problems::Unauthorized),
        (status = 403, response = crate::routes::problems::Forbidden),
        (status = 404, response = crate::routes::problems::NotFound),
        (status = 409, response = crate::routes::problems::Conflict),
        (status = 503, response = crate::routes::problems::Unavailable),
    ),
    security(("bearer" = []))
)]
#[delete("/auth/identities/{id}")]
pub async fn unlink_identity(
    state: web::Data<AppState>,
    req: HttpRequest,
    current: RecentUser,
    id: web::Path<uuid::Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let user = current.user;
    let client = state.client(&req);
    // A magic link is a way in for every account while it is on.
    let magic_link = state.signin.magic_link_allowed().is_ok();
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let mine = Identity::for_user(conn, &user.id)?;
                let target = mine.iter().find(|i| i.id == id).ok_or(ApiError::NotFound)?;
                let others = mine.len() - 1;
                let passkeys = crate::db::models::second_factor::PasskeyRow::count(conn, &user.id)?;
                if user.password_hash.is_none() && others == 0 && passkeys == 0 && !magic_link {
                    return Err(ApiError::Conflict("last_sign_in_method"));
                }
                Identity::delete(conn, &user.id, &id)?;
                let event =
                    audit::Event::by_self(audit::kind::IDENTITY_UNLINKED, &user.id, &client);
                audit::record_in(conn, event.detail(target.provider.clone()))
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
