//! Social sign-in: the presets by LibreChat's (and MikroChat's) names, the generic OpenID
//! Connect provider `openid`, and any number of providers from the config file
//! (`[[oauth.providers]]`). A preset is on when its client id and secret are set.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::parse::{bad, comma_list, parse_bool, parse_num, parse_url, SettingsError};
use super::sources::Raw;

#[derive(Clone, Debug)]
pub struct SocialSettings {
    /// `ALLOW_SOCIAL_LOGIN`: nothing social is served without it.
    pub allow_login: bool,
    /// `ALLOW_SOCIAL_REGISTRATION`: a provider's verified email may create an account.
    pub allow_registration: bool,
    /// `OPENID_CLOCK_TOLERANCE`: skew allowed when checking the times of an ID token or a
    /// SAML assertion.
    pub clock_tolerance: Duration,
    pub providers: Vec<ProviderConfig>,
    /// `PROXY`: the outbound HTTP proxy every call to a provider goes through.
    pub proxy: Option<String>,
    /// `OPENID_AUTO_REDIRECT`: `/auth/config` tells the frontend to go straight to `openid`.
    pub auto_redirect: bool,
    /// `OPENID_USE_END_SESSION_ENDPOINT`: logging out of a session opened through `openid`
    /// also ends the provider's, returning there with this address
    /// (`OPENID_POST_LOGOUT_REDIRECT_URI`, default `DOMAIN_CLIENT/login`).
    pub end_session_redirect: Option<String>,
}

impl SocialSettings {
    /// The providers that are served: none unless social sign-in is on.
    pub fn enabled(&self) -> &[ProviderConfig] {
        if self.allow_login {
            &self.providers
        } else {
            &[]
        }
    }
}

#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// In URLs (`/auth/oauth/{id}`), in identities and in `/auth/config`.
    pub id: String,
    /// What a sign-in button says.
    pub name: String,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub kind: ProviderKind,
    pub scopes: Vec<String>,
    /// The path the provider redirects back to (under `DOMAIN_SERVER`): LibreChat's
    /// `<PROVIDER>_CALLBACK_URL` when set, else `/auth/oauth/{id}/callback`.
    pub callback_path: String,
    pub email_claim: Option<String>,
    /// The operator vouches for the address the provider gives, whatever the claim
    /// (`OPENID_TRUST_EMAIL_CLAIM`, `SAML_TRUST_EMAIL`): it may link to an existing account.
    pub trust_email: bool,
    pub name_claim: Option<String>,
    /// `OPENID_USERNAME_CLAIM`, `SAML_USERNAME_CLAIM`: the username of a new account.
    pub username_claim: Option<String>,
    /// `OPENID_AUDIENCE`: sent as `audience` to the authorization endpoint.
    pub audience: Option<String>,
    /// `OPENID_TOKEN_ENDPOINT_AUTH_METHOD=client_secret_post`: the client secret goes in
    /// the token request's body instead of Basic authentication.
    pub secret_in_body: bool,
    pub required_role: Option<RoleRule>,
    pub admin_role: Option<RoleRule>,
    /// An icon for the sign-in button (`OPENID_IMAGE_URL`, `SAML_IMAGE_URL`).
    pub image_url: Option<String>,
}

impl ProviderConfig {
    pub fn default_callback_path(id: &str) -> String {
        format!("/auth/oauth/{id}/callback")
    }
}

#[derive(Clone, Debug)]
pub enum ProviderKind {
    /// OpenID Connect, by discovery at `issuer`.
    Oidc {
        issuer: String,
    },
    /// Microsoft Entra: the issuer names the tenant of each token.
    Microsoft {
        tenant: String,
    },
    /// Sign in with Apple: the client secret is a JWT signed with the team's key, and the
    /// callback is a form `POST`.
    Apple {
        team_id: String,
        key_id: String,
        private_key: SecretString,
    },
    /// GitHub (or GitHub Enterprise): the email is the primary verified one of the
    /// emails API.
    GitHub {
        web: String,
        api: String,
        user_agent: Option<String>,
    },
    Discord,
    Facebook,
    /// SAML 2.0 (`SAML_*`): no client id or secret, an IdP certificate instead.
    Saml(Box<super::saml::SamlConfig>),
    /// Plain OAuth2 from the config file: explicit endpoints and a profile API.
    OAuth2 {
        authorization_url: String,
        token_url: String,
        userinfo_url: String,
        subject_claim: String,
        email_verified_claim: String,
    },
}

/// A role a sign-in needs (`OPENID_REQUIRED_ROLE`) or that makes an admin
/// (`OPENID_ADMIN_ROLE`): any of `roles` found at the dotted `path` of the token named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRule {
    pub roles: Vec<String>,
    pub path: String,
    pub token: TokenKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Id,
    Access,
    Userinfo,
}

/// `[[oauth.providers]]` in the config file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileProvider {
    pub id: String,
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub authorization_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub email_claim: Option<String>,
    pub name_claim: Option<String>,
    /// Plain OAuth2 only: where the profile says the email was verified (default
    /// `email_verified`).
    pub email_verified_claim: Option<String>,
    /// Plain OAuth2 only: the profile's stable id (default `sub`, then `id`).
    pub subject_claim: Option<String>,
    pub callback_path: Option<String>,
}

const PRESETS: [&str; 8] = [
    "google",
    "github",
    "discord",
    "facebook",
    "apple",
    "microsoft",
    "gitlab",
    "openid",
];

pub fn social(raw: &Raw) -> Result<SocialSettings, SettingsError> {
    let flag = |n: &str, default: bool| raw.get(n).map_or(Ok(default), |v| parse_bool(n, v));
    let mut providers = Vec::new();
    for preset in PRESETS {
        if let Some(p) = preset_provider(raw, preset)? {
            providers.push(p);
        }
    }
    if let Some(p) = super::saml::saml_provider(raw)? {
        providers.push(p);
    }
    for f in &raw.file_providers {
        providers.push(file_provider(f)?);
    }
    let mut seen = std::collections::HashSet::new();
    for p in &providers {
        if !seen.insert(p.id.as_str()) {
            return Err(bad(
                "oauth.providers",
                format!("two providers are `{}`", p.id),
            ));
        }
    }
    let proxy = raw
        .get("PROXY")
        .map(|p| {
            url::Url::parse(p)
                .map(|_| p.to_string())
                .map_err(|e| bad("PROXY", format!("`{p}` is not a URL: {e}")))
        })
        .transpose()?;
    let end_session_redirect = match flag("OPENID_USE_END_SESSION_ENDPOINT", false)? {
        true => Some(match raw.get("OPENID_POST_LOGOUT_REDIRECT_URI") {
            Some(uri) => parse_url("OPENID_POST_LOGOUT_REDIRECT_URI", uri)?,
            None => {
                let client = raw
                    .get("APP_URL")
                    .or(raw.get("DOMAIN_CLIENT"))
                    .unwrap_or("http://localhost:3080");
                format!("{}/login", client.trim_end_matches('/'))
            }
        }),
        false => None,
    };
    Ok(SocialSettings {
        proxy,
        auto_redirect: flag("OPENID_AUTO_REDIRECT", false)?
            && providers.iter().any(|p| p.id == "openid"),
        end_session_redirect,
        allow_login: flag("ALLOW_SOCIAL_LOGIN", false)?,
        allow_registration: flag("ALLOW_SOCIAL_REGISTRATION", false)?,
        clock_tolerance: Duration::from_secs(
            raw.get("OPENID_CLOCK_TOLERANCE")
                .map_or(Ok(300), |v| parse_num("OPENID_CLOCK_TOLERANCE", v))?,
        ),
        providers,
    })
}

/// `OPENID_TOKEN_ENDPOINT_AUTH_METHOD`: `client_secret_basic` (the default) or
/// `client_secret_post`.
fn token_auth_in_body(raw: &Raw) -> Result<bool, SettingsError> {
    const NAME: &str = "OPENID_TOKEN_ENDPOINT_AUTH_METHOD";
    match raw.get(NAME) {
        None | Some("client_secret_basic") => Ok(false),
        Some("client_secret_post") => Ok(true),
        Some(other) => Err(bad(
            NAME,
            format!("expected client_secret_basic or client_secret_post, got `{other}`"),
        )),
    }
}

fn upper(id: &str) -> String {
    id.to_ascii_uppercase()
}

/// `<PROVIDER>_CALLBACK_URL`: a path (LibreChat's form) or a whole URL, of which the path
/// is used.
pub(super) fn callback_path(raw: &Raw, id: &str) -> Result<String, SettingsError> {
    let name = format!("{}_CALLBACK_URL", upper(id));
    let Some(v) = raw.get(&name) else {
        return Ok(ProviderConfig::default_callback_path(id));
    };
    let path = if v.starts_with('/') {
        v.to_string()
    } else {
        url::Url::parse(v)
            .map(|u| u.path().to_string())
            .map_err(|_| bad(&name, format!("`{v}` is neither a path nor a URL")))?
    };
    if path.len() < 2 || path.contains(['?', '#', '{', '}']) {
        return Err(bad(&name, format!("`{v}` is not a usable callback path")));
    }
    Ok(path)
}

fn role_rule(raw: &Raw, prefix: &str) -> Result<Option<RoleRule>, SettingsError> {
    let Some(roles) = raw.get(prefix) else {
        return Ok(None);
    };
    let kind_name = format!("{prefix}_TOKEN_KIND");
    let token = match raw.get(&kind_name).map(str::to_ascii_lowercase).as_deref() {
        None | Some("id") => TokenKind::Id,
        Some("access") => TokenKind::Access,
        Some("userinfo") => TokenKind::Userinfo,
        Some(other) => {
            return Err(bad(
                &kind_name,
                format!("expected id, access or userinfo, got `{other}`"),
            ))
        }
    };
    Ok(Some(RoleRule {
        roles: comma_list(roles).map(str::to_string).collect(),
        path: raw
            .get(&format!("{prefix}_PARAMETER_PATH"))
            .unwrap_or("roles")
            .to_string(),
        token,
    }))
}

fn secret(raw: &Raw, name: &str) -> Option<SecretString> {
    raw.get(name).map(|v| SecretString::from(v.to_string()))
}

/// The preset `id`, when its client id (and secret) are set; half a configuration stops
/// the start.
fn preset_provider(raw: &Raw, id: &str) -> Result<Option<ProviderConfig>, SettingsError> {
    let p = upper(id);
    let client_id = raw.get(&format!("{p}_CLIENT_ID"));
    let client_secret = secret(raw, &format!("{p}_CLIENT_SECRET"));
    let Some(client_id) = client_id else {
        if client_secret.is_some() {
            return Err(bad(&format!("{p}_CLIENT_ID"), "is needed with its secret"));
        }
        return Ok(None);
    };
    let needs_secret = |secret: &Option<SecretString>| -> Result<(), SettingsError> {
        match secret {
            Some(_) => Ok(()),
            None => Err(bad(
                &format!("{p}_CLIENT_SECRET"),
                format!("is needed with {p}_CLIENT_ID"),
            )),
        }
    };
    let base = |name: &str, default: &str| -> Result<String, SettingsError> {
        match raw.get(name) {
            Some(v) => parse_url(name, v),
            None => Ok(default.to_string()),
        }
    };
    let scopes =
        |default: &str| -> Vec<String> { default.split(' ').map(str::to_string).collect() };
    let (name, kind, scopes) = match id {
        "google" => (
            "Google",
            ProviderKind::Oidc {
                issuer: "https://accounts.google.com".into(),
            },
            scopes("openid profile email"),
        ),
        "github" => {
            let (web, api) = match raw.get("GITHUB_ENTERPRISE_BASE_URL") {
                Some(b) => {
                    let b = parse_url("GITHUB_ENTERPRISE_BASE_URL", b)?;
                    (b.clone(), format!("{b}/api/v3"))
                }
                None => ("https://github.com".into(), "https://api.github.com".into()),
            };
            let user_agent = raw.get("GITHUB_ENTERPRISE_USER_AGENT").map(str::to_string);
            (
                "GitHub",
                ProviderKind::GitHub {
                    web,
                    api,
                    user_agent,
                },
                scopes("user:email read:user"),
            )
        }
        "discord" => ("Discord", ProviderKind::Discord, scopes("identify email")),
        "facebook" => (
            "Facebook",
            ProviderKind::Facebook,
            scopes("public_profile email"),
        ),
        "apple" => {
            let need = |n: &str| {
                raw.get(n)
                    .map(str::to_string)
                    .ok_or_else(|| bad(n, "is needed with APPLE_CLIENT_ID"))
            };
            let path = need("APPLE_PRIVATE_KEY_PATH")?;
            let key = std::fs::read_to_string(&path)
                .map_err(|e| bad("APPLE_PRIVATE_KEY_PATH", format!("cannot read {path}: {e}")))?;
            (
                "Apple",
                ProviderKind::Apple {
                    team_id: need("APPLE_TEAM_ID")?,
                    key_id: need("APPLE_KEY_ID")?,
                    private_key: SecretString::from(key),
                },
                scopes("openid name email"),
            )
        }
        "microsoft" => (
            "Microsoft",
            ProviderKind::Microsoft {
                tenant: raw
                    .get("MICROSOFT_TENANT_ID")
                    .unwrap_or("common")
                    .to_string(),
            },
            scopes("openid profile email"),
        ),
        "gitlab" => (
            "GitLab",
            ProviderKind::Oidc {
                issuer: base("GITLAB_BASE_URL", "https://gitlab.com")?,
            },
            scopes("openid profile email"),
        ),
        "openid" => {
            let issuer = raw
                .get("OPENID_ISSUER")
                .ok_or_else(|| bad("OPENID_ISSUER", "is needed with OPENID_CLIENT_ID"))?;
            // Kept exactly: some providers publish their issuer with a trailing slash.
            url::Url::parse(issuer)
                .map_err(|e| bad("OPENID_ISSUER", format!("`{issuer}` is not a URL: {e}")))?;
            (
                "OpenID",
                ProviderKind::Oidc {
                    issuer: issuer.to_string(),
                },
                scopes(raw.get("OPENID_SCOPE").unwrap_or("openid profile email")),
            )
        }
        other => unreachable!("unknown preset {other}"),
    };
    let pkce_only = id == "openid"
        && raw
            .get("OPENID_USE_PKCE")
            .map_or(Ok(false), |v| parse_bool("OPENID_USE_PKCE", v))?;
    if !matches!(kind, ProviderKind::Apple { .. }) && !pkce_only {
        needs_secret(&client_secret)?;
    }
    let openid = id == "openid";
    Ok(Some(ProviderConfig {
        id: id.to_string(),
        name: if openid {
            raw.get("OPENID_BUTTON_LABEL").unwrap_or(name).to_string()
        } else {
            name.to_string()
        },
        client_id: client_id.to_string(),
        client_secret,
        kind,
        scopes,
        callback_path: callback_path(raw, id)?,
        email_claim: openid
            .then(|| raw.get("OPENID_EMAIL_CLAIM").map(str::to_string))
            .flatten(),
        trust_email: openid
            && raw
                .get("OPENID_TRUST_EMAIL_CLAIM")
                .map_or(Ok(false), |v| parse_bool("OPENID_TRUST_EMAIL_CLAIM", v))?,
        name_claim: openid
            .then(|| raw.get("OPENID_NAME_CLAIM").map(str::to_string))
            .flatten(),
        username_claim: openid
            .then(|| raw.get("OPENID_USERNAME_CLAIM").map(str::to_string))
            .flatten(),
        audience: openid
            .then(|| raw.get("OPENID_AUDIENCE").map(str::to_string))
            .flatten(),
        secret_in_body: openid && token_auth_in_body(raw)?,
        required_role: if openid {
            role_rule(raw, "OPENID_REQUIRED_ROLE")?
        } else {
            None
        },
        admin_role: if openid {
            role_rule(raw, "OPENID_ADMIN_ROLE")?
        } else {
            None
        },
        image_url: openid
            .then(|| raw.get("OPENID_IMAGE_URL").map(str::to_string))
            .flatten(),
    }))
}

fn file_provider(f: &FileProvider) -> Result<ProviderConfig, SettingsError> {
    let at = |field: &str| format!("oauth.providers `{}` {field}", f.id);
    let id_ok = !f.id.is_empty()
        && f.id.len() <= 40
        && f.id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !id_ok {
        return Err(bad(
            "oauth.providers",
            format!("`{}`: an id is 1 to 40 of a-z, 0-9, - and _", f.id),
        ));
    }
    if PRESETS.contains(&f.id.as_str()) || f.id == "saml" {
        return Err(bad(
            "oauth.providers",
            format!("`{}` is a built-in provider; choose another id", f.id),
        ));
    }
    let url_of = |field: &str, v: &Option<String>| -> Result<String, SettingsError> {
        let v = v.as_deref().ok_or_else(|| bad(&at(field), "is needed"))?;
        parse_url(&at(field), v)
    };
    let kind = match &f.issuer {
        Some(issuer) => {
            url::Url::parse(issuer)
                .map_err(|e| bad(&at("issuer"), format!("`{issuer}` is not a URL: {e}")))?;
            ProviderKind::Oidc {
                issuer: issuer.clone(),
            }
        }
        None => ProviderKind::OAuth2 {
            authorization_url: url_of("authorization_url", &f.authorization_url)?,
            token_url: url_of("token_url", &f.token_url)?,
            userinfo_url: url_of("userinfo_url", &f.userinfo_url)?,
            subject_claim: f.subject_claim.clone().unwrap_or_else(|| "sub".into()),
            email_verified_claim: f
                .email_verified_claim
                .clone()
                .unwrap_or_else(|| "email_verified".into()),
        },
    };
    let oidc = matches!(kind, ProviderKind::Oidc { .. });
    let default_scopes = if oidc {
        "openid profile email"
    } else {
        "email"
    };
    let callback_path = match &f.callback_path {
        Some(p) if p.starts_with('/') => p.clone(),
        Some(p) => return Err(bad(&at("callback_path"), format!("`{p}` is not a path"))),
        None => ProviderConfig::default_callback_path(&f.id),
    };
    Ok(ProviderConfig {
        id: f.id.clone(),
        name: f.name.clone().unwrap_or_else(|| f.id.clone()),
        client_id: f.client_id.clone(),
        client_secret: f.client_secret.clone().map(SecretString::from),
        kind,
        scopes: f
            .scopes
            .clone()
            .unwrap_or_else(|| default_scopes.split(' ').map(str::to_string).collect()),
        callback_path,
        email_claim: f.email_claim.clone(),
        trust_email: false,
        username_claim: None,
        audience: None,
        secret_in_body: false,
        name_claim: f.name_claim.clone(),
        required_role: None,
        admin_role: None,
        image_url: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<SocialSettings, SettingsError> {
        social(&Raw::from_pairs(pairs))
    }

    #[test]
    fn a_preset_is_on_with_its_id_and_secret() {
        let s = load(&[
            ("ALLOW_SOCIAL_LOGIN", "true"),
            ("GOOGLE_CLIENT_ID", "g"),
            ("GOOGLE_CLIENT_SECRET", "s"),
            ("GOOGLE_CALLBACK_URL", "/oauth/google/callback"),
        ])
        .unwrap();
        assert_eq!(s.enabled().len(), 1);
        let g = &s.providers[0];
        assert_eq!((g.id.as_str(), g.name.as_str()), ("google", "Google"));
        assert_eq!(g.callback_path, "/oauth/google/callback");
        assert_eq!(g.scopes, ["openid", "profile", "email"]);
        let e = load(&[("GITHUB_CLIENT_ID", "x")]).unwrap_err().to_string();
        assert!(e.contains("GITHUB_CLIENT_SECRET"), "{e}");
        assert!(
            load(&[("GOOGLE_CLIENT_ID", "g"), ("GOOGLE_CLIENT_SECRET", "s")])
                .unwrap()
                .enabled()
                .is_empty()
        );
    }

    #[test]
    fn openid_takes_librechat_names() {
        let s = load(&[
            ("OPENID_ISSUER", "https://idp.example.com/realms/chat"),
            ("OPENID_CLIENT_ID", "latch"),
            ("OPENID_USE_PKCE", "true"),
            ("OPENID_BUTTON_LABEL", "Company SSO"),
            ("OPENID_REQUIRED_ROLE", "chat, staff"),
            ("OPENID_REQUIRED_ROLE_PARAMETER_PATH", "realm_access.roles"),
            ("OPENID_REQUIRED_ROLE_TOKEN_KIND", "access"),
            ("OPENID_ADMIN_ROLE", "chat-admin"),
        ])
        .unwrap();
        let p = &s.providers[0];
        assert_eq!(p.name, "Company SSO");
        assert!(p.client_secret.is_none());
        assert_eq!(
            p.required_role,
            Some(RoleRule {
                roles: vec!["chat".into(), "staff".into()],
                path: "realm_access.roles".into(),
                token: TokenKind::Access,
            })
        );
        assert_eq!(p.admin_role.as_ref().unwrap().token, TokenKind::Id);
        let e = load(&[("OPENID_CLIENT_ID", "latch"), ("OPENID_CLIENT_SECRET", "s")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("OPENID_ISSUER"), "{e}");
    }

    #[test]
    fn github_enterprise_moves_every_endpoint() {
        let s = load(&[
            ("GITHUB_CLIENT_ID", "x"),
            ("GITHUB_CLIENT_SECRET", "y"),
            ("GITHUB_ENTERPRISE_BASE_URL", "https://ghe.example.com/"),
        ])
        .unwrap();
        match &s.providers[0].kind {
            ProviderKind::GitHub { web, api, .. } => {
                assert_eq!(web, "https://ghe.example.com");
                assert_eq!(api, "https://ghe.example.com/api/v3");
            }
            other => panic!("{other:?}"),
        }
    }
}
