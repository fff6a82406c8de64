//! Layered settings: defaults < `config/latch.toml` (or `--config FILE`) < environment
//! (a `.env` file counts as environment; the real environment wins) < command-line flags.
//!
//! Names follow LibreChat's `.env` so an existing file works unchanged. Every layer is read
//! as text and parsed here, one section per concern, so a bad value stops the start with a
//! message naming the setting, whichever layer it came from.

pub mod database;
pub mod dotenv;
pub mod ldap;
pub mod librechat;
pub mod mail;
pub mod mail_services;
pub mod moderation;
pub mod parse;
pub mod passwords;
pub mod saml;
pub mod signin;
pub mod social;
pub mod sources;
pub mod tokens;
pub mod webhooks;

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

pub use database::DatabaseUrl;
pub use mail::MailSettings;
pub use moderation::{Limit, ModerationSettings};
pub use parse::{origin_of, parse_product, SettingsError};
pub use passwords::{PasswordRules, ScryptSettings};
pub use signin::{EmailFlows, SignInPolicy};
pub use social::{ProviderConfig, ProviderKind, SocialSettings};
pub use sources::Sources;
pub use tokens::{
    Delivery, JwtAlg, JwtSettings, RefreshSettings, SameSite, ServiceTokens, SessionPolicy,
};

use parse::{bad, comma_list, parse_num, parse_url};
use sources::Raw;

/// Every setting Latch reads, by its environment name. The config file uses the same
/// names in lower case; an unknown key there is an error, an unknown environment variable
/// is ignored (a LibreChat `.env` is full of them).
pub const KNOWN: &[&str] = &[
    "APP_ENV",
    "NODE_ENV",
    "APP_TITLE",
    "HOST",
    "PORT",
    "DATABASE_URL",
    "DATABASE_POOL_SIZE",
    "APP_URL",
    "DOMAIN_CLIENT",
    "DOMAIN_SERVER",
    "CORS_ORIGINS",
    "TRUST_PROXY",
    "ALLOW_EMAIL_LOGIN",
    "ALLOW_REGISTRATION",
    "DEV_LOGIN",
    "SERVICE_TOKENS",
    "SESSION_CACHE",
    "SESSION_EXPIRY",
    "REFRESH_TOKEN_EXPIRY",
    "REFRESH_REUSE_GRACE",
    "REFRESH_TOKEN_DELIVERY",
    "COOKIE_SAMESITE",
    "COOKIE_SECURE",
    "SESSION_COOKIE_SECURE",
    "MAX_ACTIVE_SESSIONS",
    "SESSION_MAX_AGE",
    "JWT_ALG",
    "JWT_SECRET",
    "JWT_REFRESH_SECRET",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_LEEWAY",
    "JWT_KEYS_ENCRYPTION_KEY",
    "JWT_KEY_PREPUBLISH",
    "JWT_KEY_ROTATION_DAYS",
    "SCRYPT_LOG_N",
    "SCRYPT_R",
    "SCRYPT_P",
    "PASSWORD_HASH_CONCURRENCY",
    "PASSWORD_HASH_QUEUE",
    "MIN_PASSWORD_LENGTH",
    "EMAIL_SERVICE",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_ENCRYPTION",
    "EMAIL_ENCRYPTION_HOSTNAME",
    "EMAIL_ALLOW_SELFSIGNED",
    "EMAIL_USERNAME",
    "EMAIL_PASSWORD",
    "EMAIL_FROM",
    "EMAIL_FROM_NAME",
    "MAILGUN_API_KEY",
    "MAILGUN_DOMAIN",
    "MAILGUN_HOST",
    "EMAIL_MAX_RETRIES",
    "EMAIL_RETRY_DELAY",
    "EMAIL_TEMPLATES_DIR",
    "ALLOW_MAGIC_LINK",
    "REQUIRE_EMAIL_VERIFICATION",
    "ALLOW_UNVERIFIED_EMAIL_LOGIN",
    "ALLOW_PASSWORD_RESET",
    "EMAIL_VERIFICATION_EXPIRY",
    "PASSWORD_RESET_EXPIRY",
    "MAGIC_LINK_EXPIRY",
    "INVITE_EXPIRY",
    "EMAIL_VERIFY_PATH",
    "PASSWORD_RESET_PATH",
    "MAGIC_LINK_PATH",
    "INVITE_PATH",
    "EMAIL_CHANGE_PATH",
    "SESSION_REPORT_PATH",
    "INVITE_REQUIRED",
    "REAUTH_MAX_AGE",
    "ALLOW_ACCOUNT_DELETION",
    "INITIAL_USER_EMAIL",
    "INITIAL_USER_NAME",
    "INITIAL_USER_PASSWORD",
    "AUDIT_RETENTION_DAYS",
    "ALLOW_SOCIAL_LOGIN",
    "ALLOW_SOCIAL_REGISTRATION",
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "GOOGLE_CALLBACK_URL",
    "GITHUB_CLIENT_ID",
    "GITHUB_CLIENT_SECRET",
    "GITHUB_CALLBACK_URL",
    "GITHUB_ENTERPRISE_BASE_URL",
    "GITHUB_ENTERPRISE_USER_AGENT",
    "DISCORD_CLIENT_ID",
    "DISCORD_CLIENT_SECRET",
    "DISCORD_CALLBACK_URL",
    "FACEBOOK_CLIENT_ID",
    "FACEBOOK_CLIENT_SECRET",
    "FACEBOOK_CALLBACK_URL",
    "APPLE_CLIENT_ID",
    "APPLE_TEAM_ID",
    "APPLE_KEY_ID",
    "APPLE_PRIVATE_KEY_PATH",
    "APPLE_CALLBACK_URL",
    "MICROSOFT_CLIENT_ID",
    "MICROSOFT_CLIENT_SECRET",
    "MICROSOFT_TENANT_ID",
    "MICROSOFT_CALLBACK_URL",
    "GITLAB_CLIENT_ID",
    "GITLAB_CLIENT_SECRET",
    "GITLAB_BASE_URL",
    "GITLAB_CALLBACK_URL",
    "OPENID_ISSUER",
    "OPENID_CLIENT_ID",
    "OPENID_CLIENT_SECRET",
    "OPENID_USE_PKCE",
    "OPENID_SCOPE",
    "OPENID_BUTTON_LABEL",
    "OPENID_EMAIL_CLAIM",
    "OPENID_NAME_CLAIM",
    "OPENID_REQUIRED_ROLE",
    "OPENID_REQUIRED_ROLE_PARAMETER_PATH",
    "OPENID_REQUIRED_ROLE_TOKEN_KIND",
    "OPENID_ADMIN_ROLE",
    "OPENID_ADMIN_ROLE_PARAMETER_PATH",
    "OPENID_ADMIN_ROLE_TOKEN_KIND",
    "OPENID_CALLBACK_URL",
    "OPENID_CLOCK_TOLERANCE",
    "OPENID_IMAGE_URL",
    "OPENID_AUDIENCE",
    "OPENID_USERNAME_CLAIM",
    "OPENID_AUTO_REDIRECT",
    "OPENID_GENERATE_NONCE",
    "OPENID_TOKEN_ENDPOINT_AUTH_METHOD",
    "OPENID_USE_END_SESSION_ENDPOINT",
    "OPENID_POST_LOGOUT_REDIRECT_URI",
    "PROXY",
    "OPENID_TRUST_EMAIL_CLAIM",
    "SAML_ENTRY_POINT",
    "SAML_ISSUER",
    "SAML_CERT",
    "SAML_CALLBACK_URL",
    "SAML_BUTTON_LABEL",
    "SAML_IMAGE_URL",
    "SAML_USE_AUTHN_RESPONSE_SIGNED",
    "SAML_EMAIL_CLAIM",
    "SAML_NAME_CLAIM",
    "SAML_GIVEN_NAME_CLAIM",
    "SAML_FAMILY_NAME_CLAIM",
    "SAML_USERNAME_CLAIM",
    "SAML_TRUST_EMAIL",
    "LOGIN_MAX",
    "LOGIN_WINDOW",
    "TWO_FACTOR_TEMP_MAX",
    "TWO_FACTOR_TEMP_WINDOW",
    "TWO_FACTOR_TEMP_VIOLATION_SCORE",
    "REGISTER_MAX",
    "REGISTER_WINDOW",
    "RESET_PASSWORD_MAX",
    "RESET_PASSWORD_WINDOW",
    "RESET_PASSWORD_VIOLATION_SCORE",
    "RESET_PASSWORD_SUBMISSION_MAX",
    "RESET_PASSWORD_SUBMISSION_WINDOW",
    "RESET_PASSWORD_SUBMISSION_VIOLATION_SCORE",
    "VERIFY_EMAIL_MAX",
    "VERIFY_EMAIL_WINDOW",
    "VERIFY_EMAIL_VIOLATION_SCORE",
    "VERIFY_EMAIL_SUBMISSION_MAX",
    "VERIFY_EMAIL_SUBMISSION_WINDOW",
    "VERIFY_EMAIL_SUBMISSION_VIOLATION_SCORE",
    "BAN_VIOLATIONS",
    "BAN_DURATION",
    "BAN_INTERVAL",
    "LOGIN_VIOLATION_SCORE",
    "REGISTRATION_VIOLATION_SCORE",
    "NON_BROWSER_VIOLATION_SCORE",
    "EMAIL_ADDRESS_MAX",
    "EMAIL_ADDRESS_WINDOW",
    "USE_REDIS",
    "REDIS_URI",
    "REDIS_KEY_PREFIX",
    "REDIS_KEY_PREFIX_VAR",
    "REDIS_USERNAME",
    "REDIS_PASSWORD",
    "REDIS_CA",
    "CREDS_KEY",
    "WEBAUTHN_RP_ID",
    "WEBAUTHN_RP_ORIGIN",
    "WEBAUTHN_RP_NAME",
    "LDAP_URL",
    "LDAP_BIND_DN",
    "LDAP_BIND_CREDENTIALS",
    "LDAP_USER_SEARCH_BASE",
    "LDAP_SEARCH_FILTER",
    "LDAP_CA_CERT_PATH",
    "LDAP_TLS_REJECT_UNAUTHORIZED",
    "LDAP_STARTTLS",
    "LDAP_LOGIN_USES_USERNAME",
    "LDAP_ID",
    "LDAP_USERNAME",
    "LDAP_EMAIL",
    "LDAP_FULL_NAME",
    "LDAP_TRUST_EMAIL",
    "LDAP_TIMEOUT",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
    "WEBHOOK_EVENTS",
    "WEBHOOK_RETRY_BASE",
    "WEBHOOK_RETRY_FOR",
    "WEBHOOK_TIMEOUT",
];

/// Whether `name` is a setting Latch reads: one of its own, or one of LibreChat's names
/// that it names at start (see `librechat`).
pub fn is_known(name: &str) -> bool {
    KNOWN.contains(&name) || librechat::NAMES.iter().any(|&(_, n, _)| n == name)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub app_env: AppEnv,
    pub app_title: String,
    pub host: String,
    pub port: u16,
    pub database_url: DatabaseUrl,
    pub database_pool_size: u32,
    pub app_url: String,
    pub server_url: Option<String>,
    pub cors_origins: Vec<String>,
    /// `TRUST_PROXY`: hops of `X-Forwarded-For` to believe; `None` (unset) believes one
    /// from a loopback or private peer (see `auth::client::hops`).
    pub trust_proxy: Option<usize>,
    pub service_tokens: ServiceTokens,
    /// How long introspection and `GET /auth/me` may reuse what they read of a session;
    /// zero reads every time.
    pub session_cache: Duration,
    pub policy: SignInPolicy,
    pub passwords: PasswordRules,
    pub jwt: JwtSettings,
    pub refresh: RefreshSettings,
    pub scrypt: ScryptSettings,
    /// `None` when no mail server is configured: the email features are then off.
    pub mail: Option<MailSettings>,
    pub email: EmailFlows,
    pub social: SocialSettings,
    pub moderation: ModerationSettings,
    /// The passkeys' relying party; `None` when `APP_URL` names none (an IP address) and
    /// `WEBAUTHN_RP_ID` is not set.
    pub webauthn: Option<WebauthnSettings>,
    /// The admin made on first start.
    pub initial_user: Option<InitialUser>,
    /// How long audit events are kept; `None` keeps them forever.
    pub audit_retention: Option<Duration>,
    /// LibreChat settings that are set but mean nothing to Latch, and why (logged at
    /// start, one line each).
    pub unused: Vec<(&'static str, &'static str)>,
    /// Mail settings given without a server (the first such name): mail is off.
    pub mail_off_despite: Option<&'static str>,
    /// LibreChat's `CREDS_KEY`, for `latch import librechat`.
    pub creds_key: Option<SecretString>,
    /// Directory sign-in; `None` unless `LDAP_URL` and `LDAP_USER_SEARCH_BASE` are set.
    pub ldap: Option<ldap::LdapSettings>,
    /// Where events are sent (none configured: no webhooks).
    pub webhooks: webhooks::WebhookSettings,
}

/// The passkeys' relying party.
#[derive(Clone, Debug)]
pub struct WebauthnSettings {
    pub rp_id: String,
    pub rp_origin: String,
    pub rp_name: String,
}

#[derive(Clone, Debug)]
pub struct InitialUser {
    /// Normalised.
    pub email: String,
    pub name: Option<String>,
    /// Set only if the account has no password yet.
    pub password: Option<SecretString>,
}

impl Settings {
    pub fn load(sources: &Sources) -> Result<Settings, SettingsError> {
        let raw = sources::read_layers(sources)?;
        Settings::from_raw(&raw)
    }

    fn from_raw(raw: &Raw) -> Result<Settings, SettingsError> {
        let get = |n: &str| raw.get(n);
        let app_env = app_env(raw)?;
        let database_url = database::url(raw)?;
        let app_url = match (get("APP_URL"), get("DOMAIN_CLIENT")) {
            (Some(v), _) => parse_url("APP_URL", v)?,
            (None, Some(v)) => parse_url("DOMAIN_CLIENT", v)?,
            (None, None) => "http://localhost:3080".to_string(),
        };
        let server_url = get("DOMAIN_SERVER")
            .map(|v| parse_url("DOMAIN_SERVER", v))
            .transpose()?;
        let cors_origins = match get("CORS_ORIGINS") {
            Some(list) => comma_list(list)
                .map(|o| {
                    origin_of(o)
                        .ok_or_else(|| bad("CORS_ORIGINS", format!("`{o}` is not an origin")))
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => origin_of(&app_url).into_iter().collect(),
        };
        let app_title = get("APP_TITLE").unwrap_or("Latch").to_string();
        let mail = MailSettings::from_raw(raw, &app_title)?;
        let passwords = passwords::rules(raw)?;
        let retention_days: u64 =
            get("AUDIT_RETENTION_DAYS").map_or(Ok(90), |v| parse_num("AUDIT_RETENTION_DAYS", v))?;
        Ok(Settings {
            app_env,
            host: get("HOST").unwrap_or("127.0.0.1").to_string(),
            port: get("PORT").map_or(Ok(8080), |v| parse_num::<u16>("PORT", v))?,
            database_pool_size: database::pool_size(raw, &database_url)?,
            database_url,
            trust_proxy: get("TRUST_PROXY")
                .map(|v| parse_num("TRUST_PROXY", v))
                .transpose()?,
            service_tokens: ServiceTokens::new(
                get("SERVICE_TOKENS").map(comma_list).into_iter().flatten(),
            ),
            session_cache: session_cache(raw)?,
            policy: signin::policy(raw, app_env, mail.is_some())?,
            refresh: tokens::refresh(raw, app_env)?,
            jwt: tokens::jwt(raw, app_env, server_url.as_deref())?,
            scrypt: passwords::scrypt(raw)?,
            email: signin::email_flows(raw)?,
            social: social_with_a_server(raw, server_url.as_deref())?,
            moderation: moderation::moderation(raw)?,
            webauthn: webauthn(raw, &app_url, &app_title)?,
            initial_user: initial_user(raw, passwords)?,
            audit_retention: (retention_days > 0)
                .then(|| Duration::from_secs(retention_days * 24 * 60 * 60)),
            unused: unused(raw),
            creds_key: get("CREDS_KEY").map(|k| SecretString::from(k.to_string())),
            ldap: ldap::ldap(raw)?,
            webhooks: webhooks::webhooks(raw)?,
            mail_off_despite: match mail::MailSettings::configured(raw, &app_title)? {
                mail::Configured::OffBut(name) => Some(name),
                _ => None,
            },
            passwords,
            mail,
            app_title,
            app_url,
            server_url,
            cors_origins,
        })
    }

    /// The HMAC key refresh and one-time tokens are stored under.
    pub fn token_key(&self) -> &[u8] {
        use secrecy::ExposeSecret;
        self.refresh
            .secret
            .as_ref()
            .map(|s| s.expose_secret().as_bytes())
            .expect("the refresh secret is resolved before the service starts")
    }

    /// Where a development start keeps the secrets it generated: beside the SQLite file,
    /// or in the working directory for PostgreSQL.
    pub fn generated_secrets_path(&self) -> PathBuf {
        match self.database_url.sqlite_path() {
            Some(p) => {
                let p = Path::new(p);
                let name = p
                    .file_name()
                    .map_or_else(|| "latch".into(), |n| n.to_string_lossy().into_owned());
                p.with_file_name(format!("{name}.secrets"))
            }
            None => PathBuf::from("latch.secrets"),
        }
    }
}

/// `WEBAUTHN_RP_ID` (default: the host of `APP_URL`, unless an IP address),
/// `WEBAUTHN_RP_ORIGIN` (default: the origin of `APP_URL`), `WEBAUTHN_RP_NAME` (default:
/// `APP_TITLE`). The origin's host must be the RP ID or under it.
fn webauthn(
    raw: &Raw,
    app_url: &str,
    app_title: &str,
) -> Result<Option<WebauthnSettings>, SettingsError> {
    let origin = match raw.get("WEBAUTHN_RP_ORIGIN") {
        Some(o) => origin_of(o)
            .ok_or_else(|| bad("WEBAUTHN_RP_ORIGIN", format!("`{o}` is not an origin")))?,
        None => origin_of(app_url).unwrap_or_default(),
    };
    let host = url::Url::parse(&origin)
        .ok()
        .and_then(|u| u.domain().map(str::to_string));
    let rp_id = match raw.get("WEBAUTHN_RP_ID") {
        Some(id) => {
            let fits = host
                .as_deref()
                .is_some_and(|h| h == id || h.ends_with(&format!(".{id}")));
            if !fits {
                return Err(bad(
                    "WEBAUTHN_RP_ID",
                    format!("`{id}` must be the host of {origin} or a parent domain of it"),
                ));
            }
            id.to_string()
        }
        // An IP address names no relying party: passkeys stay off.
        None => match host {
            Some(h) => h,
            None => return Ok(None),
        },
    };
    Ok(Some(WebauthnSettings {
        rp_id,
        rp_origin: origin,
        rp_name: raw.get("WEBAUTHN_RP_NAME").unwrap_or(app_title).to_string(),
    }))
}

/// `APP_ENV`, or LibreChat's `NODE_ENV` (`production` means production; any other value,
/// a Node.js convention such as `development` or `test`, means development).
fn app_env(raw: &Raw) -> Result<AppEnv, SettingsError> {
    match raw
        .get("APP_ENV")
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        Some("development") | Some("dev") => Ok(AppEnv::Development),
        Some("production") | Some("prod") => Ok(AppEnv::Production),
        Some(other) => Err(bad(
            "APP_ENV",
            format!("expected development or production, got `{other}`"),
        )),
        None => Ok(match raw.get("NODE_ENV") {
            Some(v) if v.eq_ignore_ascii_case("production") => AppEnv::Production,
            _ => AppEnv::Development,
        }),
    }
}

/// The LibreChat names set that Latch does not read, and `JWT_SECRET` when it signs
/// nothing (a key pair signs).
fn unused(raw: &Raw) -> Vec<(&'static str, &'static str)> {
    let mut unused = librechat::unused_set(|n| raw.get(n));
    let hs256 = raw.get("JWT_ALG") == Some("HS256");
    if raw.get("JWT_SECRET").is_some() && !hs256 {
        unused.push((
            "JWT_SECRET",
            "tokens are signed with a key pair (JWT_ALG, default ES256) that verifiers fetch from the JWKS; JWT_SECRET signs only with JWT_ALG=HS256",
        ));
    }
    unused
}

/// Milliseconds a session read may be reused; at most a minute, `0` for none.
fn session_cache(raw: &Raw) -> Result<Duration, SettingsError> {
    const NAME: &str = "SESSION_CACHE";
    let ms = raw
        .get(NAME)
        .map_or(Ok(1000), |v| parse::parse_product(NAME, v))?;
    if ms > 60_000 {
        return Err(bad(NAME, "is in milliseconds and at most 60000"));
    }
    Ok(Duration::from_millis(ms))
}

fn social_with_a_server(
    raw: &Raw,
    server_url: Option<&str>,
) -> Result<SocialSettings, SettingsError> {
    let social = social::social(raw)?;
    if !social.enabled().is_empty() && server_url.is_none() {
        return Err(bad(
            "DOMAIN_SERVER",
            "is needed for social sign-in: the providers redirect back to it",
        ));
    }
    Ok(social)
}

fn initial_user(raw: &Raw, rules: PasswordRules) -> Result<Option<InitialUser>, SettingsError> {
    match (
        raw.get("INITIAL_USER_EMAIL"),
        raw.get("INITIAL_USER_PASSWORD"),
    ) {
        (Some(email), password) => {
            let email = crate::domain::Email::parse("INITIAL_USER_EMAIL", email)
                .map_err(|e| bad("INITIAL_USER_EMAIL", e.message))?;
            if let Some(p) = password {
                crate::domain::Password::parse("INITIAL_USER_PASSWORD", p, rules)
                    .map_err(|e| bad("INITIAL_USER_PASSWORD", e.message))?;
            }
            Ok(Some(InitialUser {
                email: email.as_str().to_string(),
                name: raw.get("INITIAL_USER_NAME").map(str::to_string),
                password: password.map(|p| SecretString::from(p.to_string())),
            }))
        }
        (None, Some(_)) => Err(bad(
            "INITIAL_USER_PASSWORD",
            "needs INITIAL_USER_EMAIL as well",
        )),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let env = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load(&Sources {
            env,
            ..Default::default()
        })
    }

    #[test]
    fn defaults_are_safe() {
        let s = load(&[]).unwrap();
        assert_eq!(s.jwt.alg, JwtAlg::Es256);
        assert_eq!(s.jwt.access_ttl, Duration::from_secs(900));
        assert_eq!(s.refresh.ttl, Duration::from_secs(7 * 24 * 3600));
        assert_eq!(s.refresh.delivery, Delivery::Cookie);
        assert!(s.refresh.cookie_secure);
        assert_eq!(s.refresh.max_active_sessions, 3);
        assert_eq!((s.scrypt.log_n, s.scrypt.r, s.scrypt.p), (17, 8, 1));
        assert_eq!(s.cors_origins, vec!["http://localhost:3080".to_string()]);
    }

    #[test]
    fn errors_name_the_setting() {
        let e = load(&[("PORT", "eighty")]).unwrap_err().to_string();
        assert!(e.contains("PORT"), "{e}");
        let e = load(&[("SESSION_EXPIRY", "1000 * x")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("SESSION_EXPIRY"), "{e}");
        let e = load(&[("JWT_ALG", "none")]).unwrap_err().to_string();
        assert!(e.contains("JWT_ALG"), "{e}");
    }

    #[test]
    fn node_env_production_is_a_production_start() {
        let strong = "x".repeat(32);
        let prod = [
            ("NODE_ENV", "production"),
            ("JWT_REFRESH_SECRET", strong.as_str()),
            ("JWT_KEYS_ENCRYPTION_KEY", strong.as_str()),
        ];
        assert_eq!(load(&prod).unwrap().app_env, AppEnv::Production);
        let e = load(&[("NODE_ENV", "production")]).unwrap_err().to_string();
        assert!(e.contains("JWT_REFRESH_SECRET"), "{e}");
        assert_eq!(
            load(&[("NODE_ENV", "production"), ("APP_ENV", "development")])
                .unwrap()
                .app_env,
            AppEnv::Development,
            "APP_ENV says otherwise"
        );
        assert_eq!(
            load(&[("NODE_ENV", "test")]).unwrap().app_env,
            AppEnv::Development
        );
        assert!(
            !load(&[("SESSION_COOKIE_SECURE", "false")])
                .unwrap()
                .refresh
                .cookie_secure
        );
    }

    #[test]
    fn librechat_names_without_a_use_are_named() {
        let s = load(&[
            ("MONGO_URI", "mongodb://127.0.0.1:27017/Chat"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("OPENID_REUSE_TOKENS", "true"),
        ])
        .unwrap();
        let names: Vec<&str> = s.unused.iter().map(|(n, _)| *n).collect();
        assert!(names.contains(&"MONGO_URI"), "{names:?}");
        assert!(names.contains(&"OPENID_REUSE_TOKENS"), "{names:?}");
        assert!(
            names.contains(&"JWT_SECRET"),
            "unused under ES256: {names:?}"
        );
        let why = s.unused.iter().find(|(n, _)| *n == "MONGO_URI").unwrap().1;
        assert!(why.contains("latch import librechat"), "{why}");
    }

    #[test]
    fn samesite_none_needs_secure_cookies() {
        let e = load(&[("COOKIE_SAMESITE", "none"), ("COOKIE_SECURE", "false")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("COOKIE_SAMESITE"), "{e}");
        assert!(load(&[("COOKIE_SAMESITE", "none")]).is_ok());
    }

    #[test]
    fn production_refuses_weak_secrets() {
        let e = load(&[("APP_ENV", "production")]).unwrap_err().to_string();
        assert!(e.contains("JWT_REFRESH_SECRET"), "{e}");
        let strong = "x".repeat(32);
        let e = load(&[("APP_ENV", "production"), ("JWT_REFRESH_SECRET", &strong)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("JWT_KEYS_ENCRYPTION_KEY"), "{e}");
        assert!(load(&[
            ("APP_ENV", "production"),
            ("JWT_REFRESH_SECRET", &strong),
            ("JWT_KEYS_ENCRYPTION_KEY", &strong),
        ])
        .is_ok());
        let e = load(&[
            ("APP_ENV", "production"),
            ("JWT_REFRESH_SECRET", &strong),
            ("JWT_ALG", "HS256"),
            ("JWT_SECRET", "short"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("JWT_SECRET"), "{e}");
    }

    /// The README's reference names every setting the service reads (the per-provider
    /// callback paths as `<PROVIDER>_CALLBACK_URL`).
    #[test]
    fn the_readme_documents_every_setting() {
        let readme = include_str!("../../README.md");
        let missing: Vec<&str> = KNOWN
            .iter()
            .copied()
            .filter(|n| !readme.contains(&format!("`{n}`")))
            .filter(|n| {
                !(n.ends_with("_CALLBACK_URL") && readme.contains("`<PROVIDER>_CALLBACK_URL`"))
            })
            .collect();
        assert!(
            missing.is_empty(),
            "settings the README does not name: {missing:?}"
        );
    }

    #[test]
    fn example_config_documents_every_setting_and_loads() {
        let example = include_str!("../../config/latch.example.toml");
        for name in KNOWN {
            let key = format!("# {} =", name.to_ascii_lowercase());
            assert!(
                example.contains(&key),
                "config/latch.example.toml lacks {key}"
            );
        }
        // With every line switched on, the example is a valid file.
        let dir = std::env::temp_dir().join(format!("latch-example-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("latch.toml");
        let enabled: String = example
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .filter(|l| l.contains(" = "))
                    .unwrap_or(l)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&path, enabled).unwrap();
        let loaded = Settings::load(&Sources {
            config_file: Some(path),
            ..Default::default()
        });
        std::fs::remove_dir_all(&dir).unwrap();
        let s = loaded.unwrap();
        assert_eq!(s.refresh.ttl, Duration::from_secs(7 * 24 * 3600));
    }
}
