//! Providers that speak plain OAuth2 and describe the person through a profile API
//! (GitHub, Discord, Facebook, and config-file providers with explicit endpoints), with
//! the `oauth2` crate: authorization code with PKCE S256, the code exchanged server-side.

use std::sync::Arc;

use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse as _,
    TokenUrl,
};
use serde_json::{json, Value};

use super::identity::Documents;
use super::{ProviderError, Started};
use crate::settings::social::ProviderKind;
use crate::settings::ProviderConfig;

type Ready = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Graph API version used for Facebook.
const FACEBOOK: &str = "https://graph.facebook.com/v19.0";

pub struct OAuth2Provider {
    config: Arc<ProviderConfig>,
    client: Ready,
}

impl OAuth2Provider {
    pub fn new(config: Arc<ProviderConfig>, redirect: &str) -> anyhow::Result<Self> {
        use secrecy::ExposeSecret;
        let (auth, token, auth_type) = match &config.kind {
            ProviderKind::GitHub { web, .. } => (
                format!("{web}/login/oauth/authorize"),
                format!("{web}/login/oauth/access_token"),
                AuthType::BasicAuth,
            ),
            ProviderKind::Discord => (
                "https://discord.com/oauth2/authorize".to_string(),
                "https://discord.com/api/oauth2/token".to_string(),
                AuthType::BasicAuth,
            ),
            ProviderKind::Facebook => (
                "https://www.facebook.com/v19.0/dialog/oauth".to_string(),
                format!("{FACEBOOK}/oauth/access_token"),
                AuthType::RequestBody,
            ),
            ProviderKind::OAuth2 {
                authorization_url,
                token_url,
                ..
            } => (
                authorization_url.clone(),
                token_url.clone(),
                AuthType::BasicAuth,
            ),
            other => anyhow::bail!("{other:?} is not a plain OAuth2 provider"),
        };
        let mut client = BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_auth_uri(AuthUrl::new(auth)?)
            .set_token_uri(TokenUrl::new(token)?)
            .set_redirect_uri(RedirectUrl::new(redirect.to_string())?)
            .set_auth_type(auth_type);
        if let Some(secret) = &config.client_secret {
            client =
                client.set_client_secret(ClientSecret::new(secret.expose_secret().to_string()));
        }
        Ok(OAuth2Provider { config, client })
    }

    pub fn start(&self, state: String) -> Started {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = self
            .client
            .authorize_url(move || CsrfToken::new(state))
            .set_pkce_challenge(challenge);
        for scope in &self.config.scopes {
            req = req.add_scope(Scope::new(scope.clone()));
        }
        let (url, _) = req.url();
        Started {
            url: url.to_string(),
            nonce: None,
            pkce_verifier: verifier.secret().clone(),
        }
    }

    /// Exchanges the code and reads the profile, normalised to OpenID Connect's claim names
    /// (`sub`, `email`, `email_verified`, `name`).
    pub async fn finish(
        &self,
        http: &reqwest::Client,
        code: &str,
        pkce_verifier: &str,
    ) -> Result<Documents, ProviderError> {
        let token: BasicTokenResponse = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(http)
            .await
            .map_err(|e| ProviderError(format!("code exchange: {e}")))?;
        let access = token.access_token().secret();
        let profile = match &self.config.kind {
            ProviderKind::GitHub {
                api, user_agent, ..
            } => github(http, api, user_agent.as_deref(), access).await?,
            ProviderKind::Discord => {
                let me = get(http, "https://discord.com/api/users/@me", access, None).await?;
                json!({
                    "sub": me["id"],
                    "email": me["email"],
                    "email_verified": me["verified"],
                    "name": me.get("global_name").filter(|v| !v.is_null()).unwrap_or(&me["username"]),
                })
            }
            // Facebook tells nothing of whether it verified the address, so the address
            // never counts as verified (see the README).
            ProviderKind::Facebook => {
                let url = format!("{FACEBOOK}/me?fields=id,name,email");
                let me = get(http, &url, access, None).await?;
                json!({"sub": me["id"], "email": me["email"], "email_verified": false, "name": me["name"]})
            }
            ProviderKind::OAuth2 {
                userinfo_url,
                subject_claim,
                ..
            } => {
                let mut me = get(http, userinfo_url, access, None).await?;
                let sub = me
                    .get(subject_claim.as_str())
                    .or_else(|| me.get("id"))
                    .cloned()
                    .unwrap_or(Value::Null);
                me["sub"] = sub;
                me
            }
            _ => return Err(ProviderError("not a plain OAuth2 provider".into())),
        };
        let sub = match &profile["sub"] {
            Value::String(s) if !s.is_empty() => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(ProviderError("the profile names no subject".into())),
        };
        let mut profile = profile;
        profile["sub"] = Value::String(sub);
        Ok(Documents {
            userinfo: Some(profile),
            ..Default::default()
        })
    }
}

/// GitHub: the person, and the primary address among those GitHub verified.
async fn github(
    http: &reqwest::Client,
    api: &str,
    user_agent: Option<&str>,
    access: &str,
) -> Result<Value, ProviderError> {
    let user = get(http, &format!("{api}/user"), access, user_agent).await?;
    let emails = get(http, &format!("{api}/user/emails"), access, user_agent).await?;
    let primary = emails.as_array().and_then(|list| {
        list.iter()
            .find(|e| e["primary"].as_bool() == Some(true) && e["verified"].as_bool() == Some(true))
    });
    let name = user
        .get("name")
        .filter(|v| !v.is_null())
        .unwrap_or(&user["login"]);
    Ok(json!({
        "sub": user["id"],
        "email": primary.map(|e| e["email"].clone()).unwrap_or(Value::Null),
        "email_verified": primary.is_some(),
        "name": name,
    }))
}

async fn get(
    http: &reqwest::Client,
    url: &str,
    access: &str,
    user_agent: Option<&str>,
) -> Result<Value, ProviderError> {
    let mut req = http
        .get(url)
        .bearer_auth(access)
        .header(reqwest::header::ACCEPT, "application/json");
    if let Some(agent) = user_agent {
        req = req.header(reqwest::header::USER_AGENT, agent);
    }
    let res = req
        .send()
        .await
        .map_err(|e| ProviderError(format!("profile: {e}")))?;
    let status = res.status();
    if !status.is_success() {
        return Err(ProviderError(format!("profile: {url} answered {status}")));
    }
    res.json()
        .await
        .map_err(|e| ProviderError(format!("profile: {e}")))
}
