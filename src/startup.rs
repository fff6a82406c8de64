//! Builds the application on a `TcpListener` (port 0 in tests): settings → database and
//! keys → the one route table with its middleware.

use std::net::TcpListener;

use actix_cors::Cors;
use actix_web::dev::{Server, Service as _, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::{DefaultHeaders, ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, App, HttpMessage as _, HttpRequest, HttpResponse, HttpServer};
use actix_web_prom::PrometheusMetricsBuilder;
use anyhow::Context;
use tokio::sync::watch;
use tracing_actix_web::TracingLogger;
use utoipa_actix_web::AppExt;

use crate::auth::keys::KeyRing;
use crate::auth::opaque_token::TokenKey;
use crate::auth::password::PasswordHasher;
use crate::auth::secrets;
use crate::auth::signin::SignIn;
use crate::auth::tokens::TokenIssuer;
use crate::db::Db;
use crate::error::ApiError;
use crate::mail::transport::Mailer;
use crate::mail::worker::Worker;
use crate::mail::MailService;
use crate::metrics::Metrics;
use crate::routes::docs::SpecJson;
use crate::settings::Settings;
use crate::state::AppState;

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    /// The mail worker and the switch that stops it, when mail is configured.
    mail_worker: Option<(tokio::task::JoinHandle<()>, watch::Sender<bool>)>,
    /// The webhook worker likewise, when an endpoint is configured.
    webhook_worker: Option<(tokio::task::JoinHandle<()>, watch::Sender<bool>)>,
}

impl Application {
    pub async fn build(mut settings: Settings) -> anyhow::Result<Application> {
        secrets::resolve(&mut settings)?;
        if !settings.social.providers.is_empty() && !settings.social.allow_login {
            tracing::warn!(
                "social providers are configured but ALLOW_SOCIAL_LOGIN is not true: none is served"
            );
        }
        for (name, why) in &settings.unused {
            tracing::warn!("LibreChat's `{name}` is set but not read: {why}");
        }
        if let Some(name) = settings.mail_off_despite {
            tracing::warn!(
                "`{name}` is set but neither EMAIL_HOST nor EMAIL_SERVICE (nor MAILGUN_API_KEY and MAILGUN_DOMAIN): mail is off, as in LibreChat"
            );
        }
        if settings.policy.dev_login {
            tracing::warn!(
                "DEV_LOGIN is on: anyone can sign in as any email without a password; never in production"
            );
        }
        let db = Db::new(&settings.database_url, settings.database_pool_size)?;
        let jwt = settings.jwt.clone();
        let (initial, scrypt) = (settings.initial_user.clone(), settings.scrypt.clone());
        let webhooks = settings.webhooks.clone();
        let keys = {
            let db = db.clone();
            tokio::task::spawn_blocking(move || {
                db.migrate_and(|conn| {
                    // First, so that what the start changes has its events.
                    crate::db::write_tx(conn, |c| {
                        Ok(crate::events::deliveries::sync_endpoints_in(c, &webhooks)?)
                    })?;
                    if let Some(initial) = &initial {
                        crate::auth::accounts::ensure_initial_user_in(conn, initial, &scrypt)?;
                    }
                    KeyRing::load_or_create(conn, &jwt)
                })
            })
            .await?
            .with_context(|| format!("preparing the database {}", settings.database_url))?
        };
        let hasher = PasswordHasher::new(&settings.scrypt).await?;
        let tokens = std::sync::Arc::new(TokenIssuer::new(keys, &settings.jwt));
        let listener = TcpListener::bind((settings.host.as_str(), settings.port))
            .with_context(|| format!("cannot listen on {}:{}", settings.host, settings.port))?;
        let port = listener.local_addr()?.port();
        // The first tick runs at once, so a restart also cleans up.
        tokio::spawn(crate::auth::sessions::prune_periodically(
            db.clone(),
            settings.audit_retention,
        ));
        let (mail, mail_worker) = match &settings.mail {
            Some(mail_settings) => {
                let service = MailService::new(&settings)?;
                let (stop, shutdown) = watch::channel(false);
                let worker = Worker {
                    db: db.clone(),
                    mailer: std::sync::Arc::new(Mailer::new(mail_settings)?),
                    settings: mail_settings.clone(),
                    wake: service.wake.clone(),
                    shutdown,
                };
                tracing::info!(via = %mail_settings.via.describe(), "mail is on");
                (Some(service), Some((tokio::spawn(worker.run()), stop)))
            }
            None => (None, None),
        };
        let webhook_worker = if settings.webhooks.endpoints.is_empty() {
            None
        } else {
            let (stop, shutdown) = watch::channel(false);
            let deliverer = crate::events::worker::Deliverer::new(db.clone(), &settings.webhooks)?;
            tracing::info!(
                endpoints = settings.webhooks.endpoints.len(),
                "webhooks are on"
            );
            Some((tokio::spawn(deliverer.run(shutdown)), stop))
        };
        let metrics = Metrics::new()?;
        let moderation =
            crate::moderation::Moderation::new(&settings.moderation, db.clone(), metrics.clone())
                .await?;
        let passkeys = match &settings.webauthn {
            Some(w) => Some(
                crate::mfa::passkeys::Passkeys::new(
                    &w.rp_id,
                    &w.rp_origin,
                    &w.rp_name,
                    TokenKey::new(settings.token_key()),
                )
                .map_err(|e| anyhow::anyhow!("setting WEBAUTHN_RP_ID: {e}"))?,
            ),
            None => {
                tracing::warn!(
                    "APP_URL is an IP address: passkeys are off unless WEBAUTHN_RP_ID is set"
                );
                None
            }
        };
        let signin = SignIn {
            db: db.clone(),
            hasher,
            tokens: tokens.clone(),
            metrics: metrics.clone(),
            policy: std::sync::Arc::new(settings.policy.clone()),
            sessions: settings.refresh.policy(),
            key: TokenKey::new(settings.token_key()),
            second: crate::mfa::SecondFactors::new(
                settings.token_key(),
                TokenKey::new(settings.token_key()),
                &settings.app_title,
                metrics.clone(),
                mail.clone(),
                passkeys.clone(),
            ),
            passkeys,
            mail,
            moderation: moderation.clone(),
            directory: settings.ldap.clone().map(crate::directory::Directory::new),
        };
        let social = crate::social::Social::new(&settings)?;
        let session_cache = settings.session_cache;
        let state = AppState {
            settings,
            db,
            tokens,
            metrics,
            signin,
            social,
            moderation,
            sessions: crate::auth::session_cache::SessionCache::new(session_cache),
        };
        let state = web::Data::new(state);
        tokio::spawn(reload_keys_periodically(state.clone()));
        tokio::spawn(crate::memory::trim_periodically());
        let server = run(listener, state.clone())?;
        Ok(Application {
            port,
            server,
            state,
            mail_worker,
            webhook_worker,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The state the handlers share, for callers that act without HTTP (tests, tools).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGINT or SIGTERM, then finishes the requests in flight and lets the
    /// mail and webhook workers finish the work in hand.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        for (name, worker) in [("mail", self.mail_worker), ("webhook", self.webhook_worker)] {
            let Some((worker, stop)) = worker else {
                continue;
            };
            let _ = stop.send(true);
            if tokio::time::timeout(std::time::Duration::from_secs(60), worker)
                .await
                .is_err()
            {
                tracing::warn!("the {name} worker did not stop in time");
            }
        }
        served
    }
}

fn run(listener: TcpListener, state: web::Data<AppState>) -> anyhow::Result<Server> {
    let spec = crate::openapi::spec();
    let spec_json = web::Data::new(SpecJson(spec.to_json()?));
    let routes = web::Data::new(RouteTable::from_spec(&spec));
    let prometheus = PrometheusMetricsBuilder::new("latch")
        .registry(state.metrics.registry.clone())
        .mask_unmatched_patterns("UNMATCHED")
        .build()
        .map_err(|e| anyhow::anyhow!("metrics: {e}"))?;
    let cors_origins = state.settings.cors_origins.clone();
    // LibreChat's callback paths, served beside `/auth/oauth/{id}/callback`.
    let aliases: Vec<(String, String)> = state
        .social
        .providers()
        .iter()
        .map(|p| (p.config.callback_path.clone(), p.config.id.clone()))
        .filter(|(path, id)| *path != crate::settings::ProviderConfig::default_callback_path(id))
        .collect();

    let server = HttpServer::new(move || {
        let cors = cors_origins
            .iter()
            .fold(Cors::default(), |c, o| c.allowed_origin(o))
            .allowed_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .supports_credentials()
            .max_age(3600);
        App::new()
            .app_data(state.clone())
            .app_data(spec_json.clone())
            .app_data(routes.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY))
            // A signed SAML response is larger than actix's 16 KB form default.
            .app_data(web::FormConfig::default().limit(MAX_BODY))
            .app_data(web::PathConfig::default().error_handler(crate::error::path_error))
            .app_data(web::QueryConfig::default().error_handler(crate::error::query_error))
            // RFC 9110: HEAD wherever GET. Routed as the GET, marked so that a GET that
            // spends something refuses it (`routes::not_for_head`); the connection sends
            // its headers and no body.
            .wrap_fn(|mut req, srv| {
                if req.method() == Method::HEAD {
                    req.head_mut().method = Method::GET;
                    req.extensions_mut().insert(crate::routes::Head);
                }
                srv.call(req)
            })
            .wrap(ErrorHandlers::new().default_handler(problem_for_bare_errors))
            .wrap(
                DefaultHeaders::new()
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::X_FRAME_OPTIONS, "DENY"))
                    .add((header::REFERRER_POLICY, "no-referrer")),
            )
            .wrap(cors)
            .wrap(prometheus.clone())
            .wrap(TracingLogger::<crate::telemetry::RequestSpan>::new())
            .into_utoipa_app()
            .configure(crate::routes::configure)
            .into_app()
            .configure(|cfg| {
                use crate::routes::oauth::{alias_get, alias_post, CallbackAlias};
                for (path, id) in &aliases {
                    cfg.service(
                        web::resource(path.as_str())
                            .app_data(web::Data::new(CallbackAlias(id.clone())))
                            .route(web::get().to(alias_get))
                            .route(web::post().to(alias_post)),
                    );
                }
            })
            .default_service(web::to(fallback))
    })
    .listen(listener)?
    .run();
    Ok(server)
}

/// Path templates and methods of every documented route, to tell a wrong method (`405`)
/// from a wrong URL (`404`).
pub struct RouteTable(Vec<(Vec<String>, Vec<String>)>);

impl RouteTable {
    fn from_spec(spec: &utoipa::openapi::OpenApi) -> RouteTable {
        let value = serde_json::to_value(&spec.paths).unwrap_or_default();
        let mut table = Vec::new();
        if let Some(paths) = value
            .get("paths")
            .and_then(|p| p.as_object())
            .or(value.as_object())
        {
            for (path, item) in paths {
                let methods = item
                    .as_object()
                    .map(|m| {
                        m.keys()
                            .filter(|k| {
                                ["get", "post", "put", "patch", "delete"].contains(&k.as_str())
                            })
                            .map(|k| k.to_uppercase())
                            .collect::<Vec<_>>()
                    })
                    .map(|mut m| {
                        if m.iter().any(|k| k == "GET") {
                            m.insert(
                                m.iter().position(|k| k == "GET").unwrap() + 1,
                                "HEAD".into(),
                            );
                        }
                        m
                    })
                    .unwrap_or_default();
                table.push((path.split('/').map(str::to_string).collect(), methods));
            }
        }
        RouteTable(table)
    }

    /// The methods of the most specific template `path` matches (`/auth/passkeys/login`
    /// is its own route before it is `/auth/passkeys/{id}`), as the document lists them
    /// for that path; `None` when none matches.
    pub fn allowed(&self, path: &str) -> Option<Vec<String>> {
        let segments: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .filter(|(template, _)| {
                template.len() == segments.len()
                    && template
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
            })
            .max_by_key(|(template, _)| template.iter().filter(|t| !t.starts_with('{')).count())
            .map(|(_, methods)| methods.clone())
    }
}

async fn fallback(
    req: HttpRequest,
    routes: web::Data<RouteTable>,
) -> Result<HttpResponse, ApiError> {
    Err(match routes.allowed(req.path()) {
        Some(methods) => ApiError::MethodNotAllowed(methods),
        None => ApiError::NotFound,
    })
}

/// Turns error responses that did not come from `ApiError` (actix's own, say for a body
/// over the limit) into problem documents, so every error a client sees has one shape.
fn problem_for_bare_errors<B>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed(Vec::new()),
        s if s.is_client_error() => {
            ApiError::InvalidRequest("The request could not be understood.".into())
        }
        StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable("upstream".into()),
        _ => ApiError::Unexpected(anyhow::anyhow!("unhandled error response {status}")),
    };
    let mut problem = error.problem();
    problem.status = status.as_u16();
    let (req, old) = res.into_parts();
    let mut new = HttpResponse::build(status);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.append_header((name.clone(), value.clone()));
        }
    }
    let new = new.content_type("application/problem+json").json(problem);
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new).map_into_right_body::<B>(),
    ))
}

/// How often an instance rereads the signing keys, to follow a rotation or a revocation
/// made by `latch keys` or another instance, and makes a scheduled rotation when one is
/// due: every `SESSION_CACHE` (a revoked key is gone everywhere within it), between a
/// quarter second and five seconds. A reread that finds the same keys builds nothing.
fn key_reload_interval(session_cache: std::time::Duration) -> std::time::Duration {
    session_cache.clamp(
        std::time::Duration::from_millis(250),
        std::time::Duration::from_secs(5),
    )
}

async fn reload_keys_periodically(state: web::Data<AppState>) {
    let mut every = tokio::time::interval(key_reload_interval(state.settings.session_cache));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        every.tick().await;
        let jwt = state.settings.jwt.clone();
        let current = state.tokens.key_ring();
        let due = jwt
            .rotation
            .is_some_and(|every| current.rotation_due(every));
        let hs256 = jwt.alg == crate::settings::JwtAlg::Hs256;
        let reloaded = state
            .db
            .run(move |c| {
                if let (true, Some(every)) = (due, jwt.rotation) {
                    let made = crate::db::write_tx(c, |c| {
                        KeyRing::rotate_if_due(c, &jwt, every, jwt.prepublish)
                            .map_err(ApiError::Unexpected)
                    })?;
                    if let Some(kid) = made {
                        tracing::info!(%kid, "scheduled key rotation: the new key is published");
                    }
                }
                current
                    .reload_if_changed(c, &jwt)
                    .map_err(ApiError::Unexpected)
            })
            .await;
        match reloaded {
            Ok(Some(ring)) => state.tokens.replace_keys(ring),
            Ok(None) if hs256 => return,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not reload the signing keys"),
        }
    }
}
