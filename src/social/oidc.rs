//! OpenID Connect providers (Google, Apple, Microsoft, GitLab, `openid`, and config-file
//! providers with an `issuer`), with the `openidconnect` crate: discovery, PKCE S256,
//! `nonce`, the ID token verified in full (signature by the provider's JWKS, refetched once
//! on an unknown `kid`; `iss`, `aud`, `exp`, `iat`, `nonce`; only asymmetric algorithms),
//! RFC 9207 `iss`, and a userinfo answer whose `sub` must match.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreSubjectIdentifierType, CoreTokenIntrospectionResponse,
    CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AdditionalProviderMetadata, AuthType, AuthUrl, AuthorizationCode,
    ClaimsVerificationError, Client, ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields,
    EndpointNotSet, EndpointSet, IdTokenClaims, IdTokenFields, IdTokenVerifier, IssuerUrl,
    JsonWebKeySetUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    ProviderMetadata, RedirectUrl, Scope, SignatureVerificationError, StandardErrorResponse,
    StandardTokenResponse, TokenResponse, TokenUrl, UserInfoClaims, UserInfoUrl,
};
use serde::{Deserialize, Serialize};

use super::identity::{jwt_payload, Documents};
use super::{ProviderError, Started};
use crate::settings::social::ProviderKind;
use crate::settings::ProviderConfig;

/// Every claim beyond the standard ones, as JSON.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraClaims(pub serde_json::Map<String, serde_json::Value>);
impl AdditionalClaims for ExtraClaims {}

/// Discovery metadata, plus RFC 9207's flag.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraMetadata {
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;
type Claims = IdTokenClaims<ExtraClaims, CoreGenderClaim>;
type TokenResp = StandardTokenResponse<
    IdTokenFields<
        ExtraClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;
type OidcClient<A, T, U> = Client<
    ExtraClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResp,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    A,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    T,
    U,
>;
type ReadyClient = OidcClient<EndpointSet, EndpointSet, EndpointNotSet>;

/// A JWKS refetch on an unknown `kid` happens at most this often, so made-up key ids
/// cannot make Latch hammer the provider.
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(10);

/// Microsoft's tenant of personal accounts.
const MICROSOFT_CONSUMERS: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// What discovery found, kept for as long as the process runs.
struct Discovered {
    issuer: IssuerUrl,
    auth_url: AuthUrl,
    token_url: TokenUrl,
    userinfo_url: Option<UserInfoUrl>,
    jwks_uri: JsonWebKeySetUrl,
    jwks: RwLock<CoreJsonWebKeySet>,
    last_refetch: Mutex<Option<Instant>>,
    iss_param_supported: bool,
    end_session: Option<String>,
}

pub struct OidcProvider {
    config: Arc<ProviderConfig>,
    redirect: RedirectUrl,
    leeway: chrono::Duration,
    /// Discovered on first use, and again after a failure.
    discovered: tokio::sync::Mutex<Option<Arc<Discovered>>>,
}

fn perr(what: &str) -> impl Fn(String) -> ProviderError + '_ {
    move |e| ProviderError(format!("{what}: {e}"))
}

impl OidcProvider {
    pub fn new(
        config: Arc<ProviderConfig>,
        redirect: &str,
        leeway: Duration,
    ) -> anyhow::Result<Self> {
        Ok(OidcProvider {
            config,
            redirect: RedirectUrl::new(redirect.to_string())?,
            leeway: chrono::Duration::from_std(leeway)?,
            discovered: tokio::sync::Mutex::new(None),
        })
    }

    fn issuer(&self) -> &str {
        match &self.config.kind {
            ProviderKind::Oidc { issuer } => issuer,
            ProviderKind::Apple { .. } => "https://appleid.apple.com",
            ProviderKind::Microsoft { .. } => "https://login.microsoftonline.com",
            _ => "",
        }
    }

    async fn discovered(&self, http: &reqwest::Client) -> Result<Arc<Discovered>, ProviderError> {
        let mut slot = self.discovered.lock().await;
        if let Some(d) = slot.as_ref() {
            return Ok(d.clone());
        }
        let d = Arc::new(self.discover(http).await?);
        *slot = Some(d.clone());
        Ok(d)
    }

    async fn discover(&self, http: &reqwest::Client) -> Result<Discovered, ProviderError> {
        let meta: Metadata = match &self.config.kind {
            // The document of a tenant alias (`common`, `organizations`…) names
            // `{tenantid}` as its issuer; each token's issuer is checked against its tenant.
            ProviderKind::Microsoft { tenant } => {
                let url = format!(
                    "https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration"
                );
                let body = http
                    .get(url)
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .map_err(|e| perr("discovery")(e.to_string()))?
                    .bytes()
                    .await
                    .map_err(|e| perr("discovery")(e.to_string()))?;
                serde_json::from_slice(&body).map_err(|e| perr("discovery")(e.to_string()))?
            }
            _ => {
                let issuer = IssuerUrl::new(self.issuer().to_string())
                    .map_err(|e| perr("issuer")(e.to_string()))?;
                // Refuses a document whose `issuer` is not exactly this one.
                Metadata::discover_async(issuer, http)
                    .await
                    .map_err(|e| perr("discovery")(e.to_string()))?
            }
        };
        let token_url = meta
            .token_endpoint()
            .cloned()
            .ok_or_else(|| ProviderError("discovery: no token endpoint".into()))?;
        let jwks = CoreJsonWebKeySet::fetch_async(meta.jwks_uri(), http)
            .await
            .map_err(|e| perr("jwks")(e.to_string()))?;
        Ok(Discovered {
            issuer: meta.issuer().clone(),
            auth_url: meta.authorization_endpoint().clone(),
            token_url,
            userinfo_url: meta.userinfo_endpoint().cloned(),
            jwks_uri: meta.jwks_uri().clone(),
            jwks: RwLock::new(jwks),
            last_refetch: Mutex::new(None),
            iss_param_supported: meta
                .additional_metadata()
                .authorization_response_iss_parameter_supported,
            end_session: meta.additional_metadata().end_session_endpoint.clone(),
        })
    }

    fn client(&self, d: &Discovered, secret: Option<ClientSecret>) -> ReadyClient {
        let jwks = d.jwks.read().unwrap_or_else(|e| e.into_inner()).clone();
        let client = OidcClient::<EndpointNotSet, EndpointNotSet, EndpointNotSet>::new(
            ClientId::new(self.config.client_id.clone()),
            d.issuer.clone(),
            jwks,
        )
        .set_auth_uri(d.auth_url.clone())
        .set_token_uri(d.token_url.clone())
        .set_redirect_uri(self.redirect.clone());
        match secret {
            Some(secret) => client.set_client_secret(secret),
            None => client,
        }
    }

    /// The client secret: configured, or (Apple) a short-lived JWT signed with the team key.
    fn secret(&self) -> Result<(Option<ClientSecret>, AuthType), ProviderError> {
        use secrecy::ExposeSecret;
        match &self.config.kind {
            ProviderKind::Apple {
                team_id,
                key_id,
                private_key,
            } => {
                let jwt = super::apple::client_secret(
                    team_id,
                    &self.config.client_id,
                    key_id,
                    private_key.expose_secret().as_bytes(),
                )
                .map_err(|e| perr("apple client secret")(e.to_string()))?;
                Ok((Some(ClientSecret::new(jwt)), AuthType::RequestBody))
            }
            _ => Ok((
                self.config
                    .client_secret
                    .as_ref()
                    .map(|s| ClientSecret::new(s.expose_secret().to_string())),
                if self.config.secret_in_body {
                    AuthType::RequestBody
                } else {
                    AuthType::BasicAuth
                },
            )),
        }
    }

    /// The provider's `end_session_endpoint`, if its discovery document names one.
    pub async fn end_session_endpoint(&self, http: &reqwest::Client) -> Option<String> {
        self.discovered(http).await.ok()?.end_session.clone()
    }

    /// The authorization URL, with a fresh `state`, `nonce` and PKCE S256 challenge.
    pub async fn start(
        &self,
        http: &reqwest::Client,
        state: String,
    ) -> Result<Started, ProviderError> {
        let d = self.discovered(http).await?;
        let client = self.client(&d, None);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = crate::auth::opaque_token::generate();
        let mut req = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                {
                    let nonce = nonce.clone();
                    move || Nonce::new(nonce)
                },
            )
            .set_pkce_challenge(challenge);
        for scope in self.config.scopes.iter().filter(|s| s.as_str() != "openid") {
            req = req.add_scope(Scope::new(scope.clone()));
        }
        if matches!(self.config.kind, ProviderKind::Apple { .. }) {
            // Apple posts the result back as a form when it is asked for name and email.
            req = req.add_extra_param("response_mode", "form_post");
        }
        if let Some(audience) = &self.config.audience {
            // LibreChat's OPENID_AUDIENCE (Auth0 and others issue access tokens for it).
            req = req.add_extra_param("audience", audience.clone());
        }
        let (url, _, _) = req.url();
        Ok(Started {
            url: url.to_string(),
            nonce: Some(nonce),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    fn verifier(
        &self,
        d: &Discovered,
        jwks: CoreJsonWebKeySet,
    ) -> IdTokenVerifier<'static, CoreJsonWebKey> {
        type A = CoreJwsSigningAlgorithm;
        let leeway = self.leeway;
        let v = IdTokenVerifier::new_public_client(
            ClientId::new(self.config.client_id.clone()),
            d.issuer.clone(),
            jwks,
        )
        // Asymmetric only: `none` and HS* (a key anyone holding the client secret has)
        // never verify.
        .set_allowed_algs([
            A::RsaSsaPkcs1V15Sha256,
            A::RsaSsaPkcs1V15Sha384,
            A::RsaSsaPkcs1V15Sha512,
            A::RsaSsaPssSha256,
            A::RsaSsaPssSha384,
            A::RsaSsaPssSha512,
            A::EcdsaP256Sha256,
            A::EcdsaP384Sha384,
            A::EdDsa,
        ])
        // `exp` with the configured leeway, and no `iat` from the future.
        .set_time_fn(move || chrono::Utc::now() - leeway)
        .set_issue_time_verifier_fn(move |iat| {
            if iat > chrono::Utc::now() + leeway {
                Err(format!("iat {iat} is in the future"))
            } else {
                Ok(())
            }
        });
        // Microsoft's tenant aliases: the issuer is checked against the token's tenant.
        match &self.config.kind {
            ProviderKind::Microsoft { .. } => v.require_issuer_match(false),
            _ => v,
        }
    }

    /// Refetches the JWKS (an unknown `kid`: the provider rotated its keys).
    async fn refetch(
        &self,
        http: &reqwest::Client,
        d: &Discovered,
    ) -> Result<CoreJsonWebKeySet, ProviderError> {
        {
            let mut last = d.last_refetch.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|t| t.elapsed() < REFETCH_AT_MOST_EVERY) {
                return Err(ProviderError(
                    "unknown signing key; keys refetched moments ago".into(),
                ));
            }
            *last = Some(Instant::now());
        }
        let fresh = CoreJsonWebKeySet::fetch_async(&d.jwks_uri, http)
            .await
            .map_err(|e| perr("jwks")(e.to_string()))?;
        *d.jwks.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
        Ok(fresh)
    }

    /// Finishes a sign-in: checks the `iss` of the authorization response (RFC 9207),
    /// exchanges the code, verifies the ID token, and reads userinfo.
    pub async fn finish(
        &self,
        http: &reqwest::Client,
        code: &str,
        iss: Option<&str>,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Documents, ProviderError> {
        let d = self.discovered(http).await?;
        match iss {
            Some(iss) if iss != d.issuer.as_str() && !self.is_microsoft() => {
                return Err(ProviderError(
                    "the authorization response names another issuer".into(),
                ))
            }
            None if d.iss_param_supported => {
                return Err(ProviderError(
                    "the authorization response lacks its issuer".into(),
                ))
            }
            _ => {}
        }
        let (secret, auth_type) = self.secret()?;
        let client = self.client(&d, secret).set_auth_type(auth_type);
        let token: TokenResp = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(http)
            .await
            .map_err(|e| perr("code exchange")(describe_token_error(&e)))?;
        let id_token = token
            .id_token()
            .ok_or_else(|| ProviderError("the token response has no ID token".into()))?;
        let nonce = Nonce::new(nonce.to_string());
        let jwks = d.jwks.read().unwrap_or_else(|e| e.into_inner()).clone();
        let claims: Claims = match id_token.claims(&self.verifier(&d, jwks), &nonce) {
            Ok(c) => c.clone(),
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let fresh = self.refetch(http, &d).await?;
                id_token
                    .claims(&self.verifier(&d, fresh), &nonce)
                    .map_err(|e| perr("id token")(e.to_string()))?
                    .clone()
            }
            Err(e) => return Err(perr("id token")(e.to_string())),
        };
        if let ProviderKind::Microsoft { tenant } = &self.config.kind {
            let tid = claims
                .additional_claims()
                .0
                .get("tid")
                .and_then(|v| v.as_str());
            microsoft_issuer(claims.issuer().as_str(), tid, tenant)?;
        }
        let userinfo = match &d.userinfo_url {
            Some(url) => {
                let info: UserInfoClaims<ExtraClaims, CoreGenderClaim> = client
                    .set_user_info_url(url.clone())
                    .user_info(token.access_token().clone(), Some(claims.subject().clone()))
                    .request_async(http)
                    .await
                    .map_err(|e| perr("userinfo")(e.to_string()))?;
                Some(serde_json::to_value(&info).map_err(|e| perr("userinfo")(e.to_string()))?)
            }
            None => None,
        };
        Ok(Documents {
            id_token: Some(
                serde_json::to_value(&claims).map_err(|e| perr("id token")(e.to_string()))?,
            ),
            userinfo,
            access_token: jwt_payload(token.access_token().secret()),
        })
    }

    fn is_microsoft(&self) -> bool {
        matches!(self.config.kind, ProviderKind::Microsoft { .. })
    }
}

/// The error body's code and description, never the response in full.
fn describe_token_error<E: std::error::Error>(
    e: &openidconnect::RequestTokenError<E, StandardErrorResponse<CoreErrorResponseType>>,
) -> String {
    match e {
        openidconnect::RequestTokenError::ServerResponse(r) => r.to_string(),
        other => other.to_string(),
    }
}

/// Microsoft: the token's issuer must be its own tenant's, and that tenant one the
/// configured `MICROSOFT_TENANT_ID` admits.
fn microsoft_issuer(issuer: &str, tid: Option<&str>, tenant: &str) -> Result<(), ProviderError> {
    let tid = tid.ok_or_else(|| ProviderError("the ID token has no tenant".into()))?;
    if issuer != format!("https://login.microsoftonline.com/{tid}/v2.0") {
        return Err(ProviderError(
            "the ID token's issuer is not its tenant's".into(),
        ));
    }
    let admitted = match tenant {
        "common" => true,
        "organizations" => tid != MICROSOFT_CONSUMERS,
        "consumers" => tid == MICROSOFT_CONSUMERS,
        t => t == tid,
    };
    if admitted {
        Ok(())
    } else {
        Err(ProviderError("the account's tenant is not admitted".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORK: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn iss(tid: &str) -> String {
        format!("https://login.microsoftonline.com/{tid}/v2.0")
    }

    #[test]
    fn microsoft_tokens_are_checked_against_their_tenant() {
        assert!(microsoft_issuer(&iss(WORK), Some(WORK), "common").is_ok());
        assert!(microsoft_issuer(&iss(WORK), Some(WORK), "organizations").is_ok());
        assert!(microsoft_issuer(&iss(WORK), Some(WORK), "consumers").is_err());
        assert!(microsoft_issuer(
            &iss(MICROSOFT_CONSUMERS),
            Some(MICROSOFT_CONSUMERS),
            "consumers"
        )
        .is_ok());
        assert!(microsoft_issuer(
            &iss(MICROSOFT_CONSUMERS),
            Some(MICROSOFT_CONSUMERS),
            "organizations"
        )
        .is_err());
        assert!(microsoft_issuer(&iss(WORK), Some(WORK), WORK).is_ok());
        assert!(microsoft_issuer(&iss(WORK), Some(WORK), "another-tenant").is_err());
        // An issuer that is not the token's own tenant's, or no tenant at all.
        assert!(microsoft_issuer(&iss(WORK), Some(MICROSOFT_CONSUMERS), "common").is_err());
        assert!(microsoft_issuer("https://evil.example/v2.0", Some(WORK), "common").is_err());
        assert!(microsoft_issuer(&iss(WORK), None, "common").is_err());
    }
}
