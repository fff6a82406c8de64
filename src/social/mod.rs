//! Social sign-in: the configured providers, and the two halves of a sign-in through one
//! (`begin` redirects to the provider; `complete` checks what comes back). What the
//! provider vouches for becomes an `ExternalIdentity`, a first factor of the sign-in
//! pipeline like any other.

pub mod apple;
pub mod identity;
pub mod oauth2;
pub mod oidc;
pub mod saml;
pub mod xml_logs;

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::opaque_token::{generate, looks_valid};
use crate::db::models::{new_id, now, span, OAuthState, SamlAssertion};
use crate::db::Db;
use crate::settings::social::ProviderKind;
use crate::settings::{ProviderConfig, Settings};
pub use identity::ExternalIdentity;
use identity::{address_of, holds_role, name_of, Documents};

/// How long a started sign-in may take at the provider.
pub const STATE_LIFETIME: Duration = Duration::from_secs(600);

/// The provider (or the exchange with it) got something wrong. The text is for the log,
/// never for the browser.
#[derive(Debug)]
pub struct ProviderError(pub String);

/// The start of a sign-in at a provider: where to send the browser, and what the
/// callback will need.
pub struct Started {
    pub url: String,
    pub nonce: Option<String>,
    pub pkce_verifier: String,
}

/// Why a social sign-in ended without an identity; each is a `?error=` code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocialError {
    /// A missing, unknown, used, expired or other browser's `state`.
    InvalidState,
    /// The person said no at the provider.
    AccessDenied,
    /// Anything the provider or the exchange got wrong.
    Provider,
    /// `OPENID_REQUIRED_ROLE` is not held.
    RoleRequired,
}

impl SocialError {
    pub fn code(&self) -> &'static str {
        match self {
            SocialError::InvalidState => "invalid_state",
            SocialError::AccessDenied => "access_denied",
            SocialError::Provider => "provider_error",
            SocialError::RoleRequired => "role_required",
        }
    }
}

enum Protocol {
    Oidc(oidc::OidcProvider),
    OAuth2(Box<oauth2::OAuth2Provider>),
    Saml(Arc<saml::SamlProvider>),
}

/// A configured provider, ready to use.
pub struct Provider {
    pub config: Arc<ProviderConfig>,
    protocol: Protocol,
}

impl Provider {
    /// Whether the provider posts its answer back as a form (Apple, SAML), which a
    /// `SameSite=Lax` cookie would not follow.
    pub fn posts_back(&self) -> bool {
        matches!(
            self.config.kind,
            ProviderKind::Apple { .. } | ProviderKind::Saml(_)
        )
    }

    /// The identity the documents describe, and whether it may sign in at all
    /// (`OPENID_REQUIRED_ROLE`).
    fn identity(&self, docs: &Documents) -> Result<ExternalIdentity, SocialError> {
        let c = &self.config;
        if let Some(rule) = &c.required_role {
            if !holds_role(docs, rule) {
                return Err(SocialError::RoleRequired);
            }
        }
        let subject = docs
            .id_token
            .as_ref()
            .or(docs.userinfo.as_ref())
            .and_then(|d| d["sub"].as_str())
            .filter(|s| !s.is_empty())
            .ok_or(SocialError::Provider)?;
        // Microsoft never says `email_verified`; `xms_edov` says the domain's owner did.
        let verified_claim = match c.kind {
            ProviderKind::Microsoft { .. } => "xms_edov",
            ProviderKind::OAuth2 {
                ref email_verified_claim,
                ..
            } => email_verified_claim.as_str(),
            _ => "email_verified",
        };
        let (email, vouched) = address_of(
            docs,
            c.email_claim.as_deref(),
            verified_claim,
            c.trust_email,
        );
        let username = c
            .username_claim
            .as_deref()
            .and_then(|claim| identity::text_of(docs, claim));
        Ok(ExternalIdentity {
            provider: c.id.clone(),
            subject: subject.to_string(),
            email,
            vouched,
            username,
            name: name_of(docs, c.name_claim.as_deref()),
            admin: c.admin_role.as_ref().map(|rule| holds_role(docs, rule)),
        })
    }
}

/// The providers that are on, and the HTTP client they share.
pub struct Social {
    providers: Vec<Arc<Provider>>,
    http: reqwest::Client,
}

/// A provider's answer, checked.
pub struct Completed {
    pub identity: ExternalIdentity,
    /// Where a signed-in user asked to link this identity to.
    pub link: Option<LinkFor>,
}

/// The account an identity is to be linked to, and the session that asked: the link is
/// made only while that session lives (one ended since, by a sign-out or a revocation,
/// takes its unfinished links with it).
#[derive(Clone, Debug)]
pub struct LinkFor {
    pub user_id: String,
    pub session_id: String,
}

/// Parameters of the provider's answer (query or form; SAML's names for SAML).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    #[serde(alias = "RelayState")]
    pub state: Option<String>,
    #[serde(rename = "SAMLResponse")]
    pub saml_response: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Social {
    pub fn new(settings: &Settings) -> anyhow::Result<Social> {
        let mut http = reqwest::Client::builder();
        if let Some(proxy) = &settings.social.proxy {
            // LibreChat's PROXY: every call to a provider goes through it.
            http = http.proxy(
                reqwest::Proxy::all(proxy).map_err(|e| anyhow::anyhow!("setting PROXY: {e}"))?,
            );
        }
        let http = http
            // A redirect from a provider's endpoint is never followed (SSRF, token leaks).
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("latch/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()?;
        let server = settings.server_url.as_deref().unwrap_or_default();
        let leeway = settings.social.clock_tolerance;
        let mut providers = Vec::new();
        for c in settings.social.enabled() {
            let config = Arc::new(c.clone());
            let redirect = format!("{server}{}", c.callback_path);
            let protocol = match c.kind {
                ProviderKind::Oidc { .. }
                | ProviderKind::Microsoft { .. }
                | ProviderKind::Apple { .. } => {
                    if let ProviderKind::Apple { private_key, .. } = &c.kind {
                        use secrecy::ExposeSecret;
                        apple::check_key(private_key.expose_secret().as_bytes()).map_err(|e| {
                            anyhow::anyhow!("setting APPLE_PRIVATE_KEY_PATH: not an ES256 key: {e}")
                        })?;
                    }
                    Protocol::Oidc(oidc::OidcProvider::new(config.clone(), &redirect, leeway)?)
                }
                ProviderKind::Saml(_) => Protocol::Saml(Arc::new(saml::SamlProvider::new(
                    config.clone(),
                    &redirect,
                    leeway,
                )?)),
                _ => Protocol::OAuth2(Box::new(oauth2::OAuth2Provider::new(
                    config.clone(),
                    &redirect,
                )?)),
            };
            providers.push(Arc::new(Provider { config, protocol }));
        }
        Ok(Social { providers, http })
    }

    pub fn providers(&self) -> &[Arc<Provider>] {
        &self.providers
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Provider>> {
        self.providers.iter().find(|p| p.config.id == id)
    }

    /// Our SAML service provider's metadata, when SAML is on.
    /// Where to send the browser to end its session at `provider` too
    /// (`OPENID_USE_END_SESSION_ENDPOINT`): the provider's `end_session_endpoint` with our
    /// `client_id` and `post_logout_redirect_uri`; `None` when it has none.
    pub async fn end_session_url(&self, provider: &str, back_to: &str) -> Option<String> {
        let p = self.get(provider)?;
        let Protocol::Oidc(oidc) = &p.protocol else {
            return None;
        };
        let endpoint = oidc.end_session_endpoint(&self.http).await?;
        let mut url = url::Url::parse(&endpoint).ok()?;
        url.query_pairs_mut()
            .append_pair("client_id", &p.config.client_id)
            .append_pair("post_logout_redirect_uri", back_to);
        Some(url.to_string())
    }

    pub fn saml_metadata(&self) -> Option<&str> {
        self.providers.iter().find_map(|p| match &p.protocol {
            Protocol::Saml(s) => Some(s.metadata()),
            _ => None,
        })
    }

    /// Records that the signed-in user of `link` wants to link an identity of `provider`:
    /// the one-time intent the browser presents at `/auth/oauth/{provider}?link=…`, which
    /// then starts the provider's sign-in as any other (bound to that browser). Returns the
    /// intent.
    pub async fn intend_link(
        &self,
        db: &Db,
        provider: &Provider,
        link: LinkFor,
    ) -> Result<String, SocialError> {
        let intent = generate();
        let now = now();
        let row = OAuthState {
            id: new_id(),
            state_hash: sha256_hex(&format!("link:{intent}")),
            provider: provider.config.id.clone(),
            browser_hash: String::new(),
            nonce: None,
            pkce_verifier: String::new(),
            created_at: now,
            expires_at: now + span(STATE_LIFETIME),
            link_user_id: Some(link.user_id),
            link_session_id: Some(link.session_id),
        };
        db.run(move |conn| Ok(OAuthState::insert(conn, &row)?))
            .await
            .map_err(|_| SocialError::Provider)?;
        Ok(intent)
    }

    /// What a link intent (from `intend_link`) is for, spending it.
    pub async fn take_link_intent(
        &self,
        db: &Db,
        provider: &Provider,
        intent: &str,
    ) -> Result<LinkFor, SocialError> {
        if !looks_valid(intent) {
            return Err(SocialError::InvalidState);
        }
        let hash = sha256_hex(&format!("link:{intent}"));
        let stored = db
            .run(move |conn| Ok(OAuthState::take(conn, &hash)?))
            .await
            .map_err(|_| SocialError::Provider)?
            .ok_or(SocialError::InvalidState)?;
        match stored.link() {
            Some(link) if stored.provider == provider.config.id && stored.expires_at > now() => {
                Ok(link)
            }
            _ => Err(SocialError::InvalidState),
        }
    }

    /// Starts a sign-in at `provider` from the browser that holds `binding` (the value of
    /// its binding cookie, made here when it has none), or a link to the account
    /// `link` asks for. Returns where to send the browser, and the binding to set.
    pub async fn begin(
        &self,
        db: &Db,
        provider: &Provider,
        binding: Option<String>,
        link: Option<LinkFor>,
    ) -> Result<(String, String), SocialError> {
        let binding = binding.filter(|b| looks_valid(b)).unwrap_or_else(generate);
        let state = generate();
        let started = match &provider.protocol {
            Protocol::Oidc(p) => p.start(&self.http, state.clone()).await,
            Protocol::OAuth2(p) => Ok(p.start(state.clone())),
            Protocol::Saml(p) => p.start(&state),
        }
        .map_err(|e| {
            tracing::warn!(provider = %provider.config.id, error = %e.0, "social sign-in could not start");
            SocialError::Provider
        })?;
        let now = now();
        let row = OAuthState {
            id: new_id(),
            state_hash: sha256_hex(&state),
            provider: provider.config.id.clone(),
            browser_hash: sha256_hex(&binding),
            nonce: started.nonce,
            pkce_verifier: started.pkce_verifier,
            created_at: now,
            expires_at: now + span(STATE_LIFETIME),
            link_user_id: link.as_ref().map(|l| l.user_id.clone()),
            link_session_id: link.map(|l| l.session_id),
        };
        db.run(move |conn| Ok(OAuthState::insert(conn, &row)?))
            .await
            .map_err(|_| SocialError::Provider)?;
        Ok((started.url, binding))
    }

    /// Checks the provider's answer: a `state` this browser started for this provider,
    /// spent now, then the provider's own checks. Returns who the provider describes, and
    /// the account to link them to when a signed-in user started it.
    pub async fn complete(
        &self,
        db: &Db,
        provider: &Provider,
        answer: &Callback,
        binding: Option<&str>,
    ) -> Result<Completed, SocialError> {
        let state = answer
            .state
            .as_deref()
            .filter(|s| looks_valid(s))
            .ok_or(SocialError::InvalidState)?;
        let hash = sha256_hex(state);
        let stored = db
            .run(move |conn| Ok(OAuthState::take(conn, &hash)?))
            .await
            .map_err(|_| SocialError::Provider)?
            .ok_or(SocialError::InvalidState)?;
        let same_browser = binding.is_some_and(|b| {
            bool::from(
                sha256_hex(b)
                    .as_bytes()
                    .ct_eq(stored.browser_hash.as_bytes()),
            )
        });
        if !same_browser || stored.provider != provider.config.id || stored.expires_at <= now() {
            return Err(SocialError::InvalidState);
        }
        if let Some(error) = &answer.error {
            return Err(if error == "access_denied" {
                SocialError::AccessDenied
            } else {
                SocialError::Provider
            });
        }
        let link = stored.link();
        if link.is_none() && stored.link_user_id.is_some() {
            return Err(SocialError::InvalidState);
        }
        let identity = self.identity_from(db, provider, answer, stored).await?;
        Ok(Completed { identity, link })
    }

    /// The provider's own checks of an answer to the sign-in `stored`.
    async fn identity_from(
        &self,
        db: &Db,
        provider: &Provider,
        answer: &Callback,
        stored: OAuthState,
    ) -> Result<ExternalIdentity, SocialError> {
        if let Protocol::Saml(p) = &provider.protocol {
            let request_id = stored.nonce.unwrap_or_default();
            return self.complete_saml(db, p, answer, request_id).await;
        }
        let code = answer.code.as_deref().ok_or(SocialError::Provider)?;
        let docs = match &provider.protocol {
            Protocol::Oidc(p) => {
                let nonce = stored.nonce.as_deref().unwrap_or_default();
                p.finish(
                    &self.http,
                    code,
                    answer.iss.as_deref(),
                    nonce,
                    &stored.pkce_verifier,
                )
                .await
            }
            Protocol::OAuth2(p) => p.finish(&self.http, code, &stored.pkce_verifier).await,
            Protocol::Saml(_) => unreachable!("SAML answers are checked above"),
        }
        .map_err(|e| {
            tracing::warn!(provider = %provider.config.id, error = %e.0, "social sign-in refused");
            SocialError::Provider
        })?;
        provider.identity(&docs)
    }

    /// A SAML response for the request `request_id`: checked on a blocking thread (XML and
    /// signatures), then its assertion is used up (a second use is a replay).
    async fn complete_saml(
        &self,
        db: &Db,
        provider: &Arc<saml::SamlProvider>,
        answer: &Callback,
        request_id: String,
    ) -> Result<ExternalIdentity, SocialError> {
        let encoded = answer.saml_response.clone().ok_or(SocialError::Provider)?;
        let p = provider.clone();
        let checked = tokio::task::spawn_blocking(move || p.finish(&encoded, &request_id))
            .await
            .map_err(|_| SocialError::Provider)?;
        let accepted = checked.map_err(|refused| {
            let (code, why) = match refused {
                saml::Refused::Denied(why) => (SocialError::AccessDenied, why),
                saml::Refused::Invalid(why) => (SocialError::Provider, why),
            };
            tracing::warn!(provider = "saml", error = %why, "SAML response refused");
            code
        })?;
        let key = sha256_hex(&accepted.replay_key);
        let until = accepted.expires_at.naive_utc();
        let first = db
            .run(move |conn| Ok(SamlAssertion::first_use(conn, &key, until)?))
            .await
            .map_err(|_| SocialError::Provider)?;
        if !first {
            tracing::warn!(provider = "saml", "SAML assertion replayed");
            return Err(SocialError::Provider);
        }
        Ok(accepted.identity)
    }
}
