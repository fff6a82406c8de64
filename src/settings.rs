//! Layered settings: defaults < `config/latch.toml` (or `--config FILE`) < environment
//! (a `.env` file counts as environment; the real environment wins) < command-line flags.
//!
//! Names follow LibreChat's `.env` so an existing file works unchanged. Every layer is read
//! as text and parsed here, so a bad value stops the start with a message naming the
//! setting, whichever layer it came from.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::mail::settings::MailSettings;

/// Every setting Latch reads, by its environment name. The config file uses the same
/// names in lower case; an unknown key there is an error, an unknown environment variable
/// is ignored (a LibreChat `.env` is full of them).
pub const KNOWN: &[&str] = &[
    "APP_ENV",
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
    "SESSION_EXPIRY",
    "REFRESH_TOKEN_EXPIRY",
    "REFRESH_REUSE_GRACE",
    "REFRESH_TOKEN_DELIVERY",
    "COOKIE_SAMESITE",
    "COOKIE_SECURE",
    "MAX_ACTIVE_SESSIONS",
    "JWT_ALG",
    "JWT_SECRET",
    "JWT_REFRESH_SECRET",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_LEEWAY",
    "SCRYPT_LOG_N",
    "SCRYPT_R",
    "SCRYPT_P",
    "PASSWORD_HASH_CONCURRENCY",
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
    "EMAIL_MAX_RETRIES",
    "EMAIL_RETRY_DELAY",
    "EMAIL_TEMPLATES_DIR",
    "ALLOW_MAGIC_LINK",
    "REQUIRE_EMAIL_VERIFICATION",
    "EMAIL_VERIFICATION_EXPIRY",
    "PASSWORD_RESET_EXPIRY",
    "MAGIC_LINK_EXPIRY",
    "INVITE_EXPIRY",
    "EMAIL_VERIFY_PATH",
    "PASSWORD_RESET_PATH",
    "MAGIC_LINK_PATH",
    "INVITE_PATH",
    "INVITE_REQUIRED",
    "INITIAL_USER_EMAIL",
    "INITIAL_USER_NAME",
    "INITIAL_USER_PASSWORD",
    "AUDIT_RETENTION_DAYS",
];

/// A setting that could not be used; the message names it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

fn bad(name: &str, why: impl fmt::Display) -> SettingsError {
    SettingsError(format!("setting {name}: {why}"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtAlg {
    Es256,
    EdDsa,
    Rs256,
    Hs256,
}

impl JwtAlg {
    pub fn name(self) -> &'static str {
        match self {
            JwtAlg::Es256 => "ES256",
            JwtAlg::EdDsa => "EdDSA",
            JwtAlg::Rs256 => "RS256",
            JwtAlg::Hs256 => "HS256",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Cookie,
    Body,
    Both,
}

impl Delivery {
    pub fn cookie(self) -> bool {
        matches!(self, Delivery::Cookie | Delivery::Both)
    }
    pub fn body(self) -> bool {
        matches!(self, Delivery::Body | Delivery::Both)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

/// A database URL whose password never reaches a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        DatabaseUrl(url.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres://") || self.0.starts_with("postgresql://")
    }
    /// The SQLite file path, for a `sqlite:` URL.
    pub fn sqlite_path(&self) -> Option<&str> {
        let rest = self.0.strip_prefix("sqlite:")?;
        Some(rest.strip_prefix("//").unwrap_or(rest))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("REDACTED"));
                write!(f, "{u}")
            }
            _ => write!(f, "{}", self.0),
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
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
    pub trust_proxy: usize,
    pub allow_email_login: bool,
    pub allow_registration: bool,
    pub dev_login: bool,
    pub service_tokens: Vec<SecretString>,
    pub max_active_sessions: u32,
    pub jwt: JwtSettings,
    pub refresh: RefreshSettings,
    pub scrypt: ScryptSettings,
    /// `None` when no mail server is configured: the email features are then off.
    pub mail: Option<MailSettings>,
    pub email: EmailFlows,
    /// No sign-in method creates accounts; people join by invitation.
    pub invite_required: bool,
    /// The admin made on first start.
    pub initial_user: Option<InitialUser>,
    /// How long audit events are kept; `None` keeps them forever.
    pub audit_retention: Option<Duration>,
}

#[derive(Clone, Debug)]
pub struct InitialUser {
    /// Normalised.
    pub email: String,
    pub name: Option<String>,
    /// Set only if the account has no password yet.
    pub password: Option<SecretString>,
}

/// The flows that prove a person owns an address.
#[derive(Clone, Debug)]
pub struct EmailFlows {
    pub allow_magic_link: bool,
    pub require_verification: bool,
    pub verify_ttl: Duration,
    pub reset_ttl: Duration,
    pub magic_link_ttl: Duration,
    pub invite_ttl: Duration,
    /// A directory whose templates replace the built-in ones, file by file.
    pub templates_dir: Option<PathBuf>,
    /// Frontend paths (under `APP_URL`) the links in each email point to.
    pub verify_path: String,
    pub reset_path: String,
    pub magic_link_path: String,
    pub invite_path: String,
}

#[derive(Clone, Debug)]
pub struct JwtSettings {
    pub alg: JwtAlg,
    /// The HS256 key; required only for that algorithm.
    pub secret: Option<SecretString>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub leeway: Duration,
}

#[derive(Clone, Debug)]
pub struct RefreshSettings {
    /// Key of the HMAC that refresh tokens are stored under. `None` until resolved
    /// (development generates and keeps one; production refuses to start without it).
    pub secret: Option<SecretString>,
    pub ttl: Duration,
    pub reuse_grace: Duration,
    pub delivery: Delivery,
    pub cookie_samesite: SameSite,
    pub cookie_secure: bool,
}

#[derive(Clone, Debug)]
pub struct ScryptSettings {
    pub log_n: u8,
    pub r: u32,
    pub p: u32,
    /// How many hashes may run at once; the rest queue. Each takes 128·r·2^log_n bytes.
    pub concurrency: usize,
}

/// Where the settings come from, so the binary reads the process environment and tests
/// pass their own.
#[derive(Default)]
pub struct Sources {
    /// An explicit `--config FILE`, which must exist.
    pub config_file: Option<PathBuf>,
    /// The default `config/latch.toml`, read when present.
    pub default_config_file: Option<PathBuf>,
    pub env: HashMap<String, String>,
    /// Command-line flags, by setting name.
    pub flags: HashMap<String, String>,
}

impl Sources {
    /// The process environment (after `.env`), filtered to the names Latch knows.
    pub fn from_process(config_file: Option<PathBuf>, flags: HashMap<String, String>) -> Self {
        // A missing .env is normal; a malformed one is reported by the values it leaves out.
        let _ = dotenvy::dotenv();
        let env = std::env::vars()
            .filter(|(k, _)| KNOWN.contains(&k.as_str()))
            .collect();
        Sources {
            config_file,
            default_config_file: Some(PathBuf::from("config/latch.toml")),
            env,
            flags,
        }
    }
}

/// The raw text of every setting after layering.
#[derive(Debug, Default)]
struct Raw(HashMap<String, String>);

impl Raw {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }
}

#[derive(Deserialize)]
#[serde(transparent)]
struct FileTable(HashMap<String, config::Value>);

fn read_layers(sources: &Sources) -> Result<Raw, SettingsError> {
    let mut raw = HashMap::new();
    let file = match (&sources.config_file, &sources.default_config_file) {
        (Some(path), _) => {
            if !path.exists() {
                return Err(SettingsError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            Some(path.as_path())
        }
        (None, Some(path)) if path.exists() => Some(path.as_path()),
        _ => None,
    };
    if let Some(path) = file {
        let table: FileTable = config::Config::builder()
            .add_source(config::File::from(path).format(config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| SettingsError(format!("config file {}: {e}", path.display())))?;
        for (key, value) in table.0 {
            let name = key.to_ascii_uppercase();
            if !KNOWN.contains(&name.as_str()) {
                return Err(SettingsError(format!(
                    "config file {}: unknown setting `{key}`",
                    path.display()
                )));
            }
            let text = value
                .into_string()
                .map_err(|e| bad(&name, format!("in {}: {e}", path.display())))?;
            raw.insert(name, text);
        }
    }
    for (k, v) in sources.env.iter().chain(sources.flags.iter()) {
        if KNOWN.contains(&k.as_str()) {
            raw.insert(k.clone(), v.clone());
        }
    }
    Ok(Raw(raw))
}

fn parse_bool(name: &str, v: &str) -> Result<bool, SettingsError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(bad(name, format!("expected true or false, got `{v}`"))),
    }
}

fn parse_num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, SettingsError> {
    v.parse()
        .map_err(|_| bad(name, format!("expected a whole number, got `{v}`")))
}

/// A whole number, or a product of whole numbers such as LibreChat's documented
/// `1000 * 60 * 15` and `(1000 * 60 * 60 * 24) * 7`. The text is parsed, never evaluated;
/// parentheses may group factors (a product is the same however it is grouped).
pub fn parse_product(name: &str, v: &str) -> Result<u64, SettingsError> {
    let mut depth = 0i32;
    for c in v.chars() {
        depth += match c {
            '(' => 1,
            ')' => -1,
            _ => 0,
        };
        if depth < 0 {
            break;
        }
    }
    if depth != 0 {
        return Err(bad(name, format!("unbalanced parentheses in `{v}`")));
    }
    let flat: String = v.chars().filter(|c| !matches!(c, '(' | ')')).collect();
    let mut total: u64 = 1;
    for factor in flat.split('*') {
        let factor = factor.trim();
        if factor.is_empty() || !factor.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(
                name,
                format!("expected a whole number or a product like `1000 * 60 * 15`, got `{v}`"),
            ));
        }
        let n: u64 = factor
            .parse()
            .map_err(|_| bad(name, format!("`{factor}` is too large")))?;
        total = total
            .checked_mul(n)
            .ok_or_else(|| bad(name, format!("`{v}` is too large")))?;
    }
    Ok(total)
}

fn parse_url(name: &str, v: &str) -> Result<String, SettingsError> {
    let u = url::Url::parse(v).map_err(|e| bad(name, format!("`{v}` is not a URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(bad(name, format!("`{v}` must be an http or https URL")));
    }
    Ok(v.trim_end_matches('/').to_string())
}

/// The `Origin` form of a URL (scheme, host and port).
pub fn origin_of(u: &str) -> Option<String> {
    url::Url::parse(u)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
}

impl Settings {
    pub fn load(sources: &Sources) -> Result<Settings, SettingsError> {
        let raw = read_layers(sources)?;
        Settings::from_raw(&raw)
    }

    fn from_raw(raw: &Raw) -> Result<Settings, SettingsError> {
        let get = |n: &str| raw.get(n);
        let flag = |n: &str, default: bool| get(n).map_or(Ok(default), |v| parse_bool(n, v));

        let app_env = match get("APP_ENV").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("development") | Some("dev") => AppEnv::Development,
            Some("production") | Some("prod") => AppEnv::Production,
            Some(other) => {
                return Err(bad(
                    "APP_ENV",
                    format!("expected development or production, got `{other}`"),
                ))
            }
        };
        let host = get("HOST").unwrap_or("127.0.0.1").to_string();
        let port = get("PORT").map_or(Ok(8080), |v| parse_num::<u16>("PORT", v))?;

        let database_url = DatabaseUrl::new(get("DATABASE_URL").unwrap_or("sqlite://latch.db"));
        if !database_url.is_postgres() && database_url.sqlite_path().is_none_or(str::is_empty) {
            return Err(bad(
                "DATABASE_URL",
                "expected sqlite://PATH or postgres://USER@HOST/DB",
            ));
        }
        let default_pool = if database_url.is_postgres() { 10 } else { 8 };
        let database_pool_size = get("DATABASE_POOL_SIZE").map_or(Ok(default_pool), |v| {
            parse_num::<u32>("DATABASE_POOL_SIZE", v)
        })?;
        if database_pool_size == 0 {
            return Err(bad("DATABASE_POOL_SIZE", "must be at least 1"));
        }

        let app_url = match (get("APP_URL"), get("DOMAIN_CLIENT")) {
            (Some(v), _) => parse_url("APP_URL", v)?,
            (None, Some(v)) => parse_url("DOMAIN_CLIENT", v)?,
            (None, None) => "http://localhost:3080".to_string(),
        };
        let server_url = get("DOMAIN_SERVER")
            .map(|v| parse_url("DOMAIN_SERVER", v))
            .transpose()?;
        let cors_origins = match get("CORS_ORIGINS") {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|o| {
                    origin_of(o)
                        .ok_or_else(|| bad("CORS_ORIGINS", format!("`{o}` is not an origin")))
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => origin_of(&app_url).into_iter().collect(),
        };
        let trust_proxy = get("TRUST_PROXY").map_or(Ok(0), |v| parse_num("TRUST_PROXY", v))?;

        let service_tokens = get("SERVICE_TOKENS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| SecretString::from(s.to_string()))
                    .collect()
            })
            .unwrap_or_default();

        let alg = match get("JWT_ALG").unwrap_or("ES256") {
            "ES256" => JwtAlg::Es256,
            "EdDSA" | "EDDSA" | "Ed25519" => JwtAlg::EdDsa,
            "RS256" => JwtAlg::Rs256,
            "HS256" => JwtAlg::Hs256,
            other => {
                return Err(bad(
                    "JWT_ALG",
                    format!("expected ES256, EdDSA, RS256 or HS256, got `{other}`"),
                ))
            }
        };
        let secret = |n: &str| get(n).map(|v| SecretString::from(v.to_string()));
        let jwt_secret = secret("JWT_SECRET");
        let refresh_secret = secret("JWT_REFRESH_SECRET");
        if app_env == AppEnv::Production {
            let weak =
                |s: &Option<SecretString>| s.as_ref().is_none_or(|s| s.expose_secret().len() < 32);
            if weak(&refresh_secret) {
                return Err(bad(
                    "JWT_REFRESH_SECRET",
                    "a production start needs at least 32 random characters",
                ));
            }
            if alg == JwtAlg::Hs256 && weak(&jwt_secret) {
                return Err(bad(
                    "JWT_SECRET",
                    "a production start with JWT_ALG=HS256 needs at least 32 random characters",
                ));
            }
        }

        let millis = |n: &str, default: u64| -> Result<Duration, SettingsError> {
            let ms = get(n).map_or(Ok(default), |v| parse_product(n, v))?;
            if ms < 1000 {
                return Err(bad(n, "is in milliseconds and must be at least 1000"));
            }
            Ok(Duration::from_millis(ms))
        };
        let seconds = |n: &str, default: u64| -> Result<Duration, SettingsError> {
            get(n)
                .map_or(Ok(default), |v| parse_product(n, v))
                .map(Duration::from_secs)
        };

        let jwt = JwtSettings {
            alg,
            secret: jwt_secret,
            issuer: get("JWT_ISSUER")
                .map(str::to_string)
                .or_else(|| server_url.clone())
                .unwrap_or_else(|| "latch".to_string()),
            audience: get("JWT_AUDIENCE").unwrap_or("latch").to_string(),
            access_ttl: millis("SESSION_EXPIRY", 15 * 60 * 1000)?,
            leeway: seconds("JWT_LEEWAY", 30)?,
        };
        if jwt.alg == JwtAlg::Hs256 && jwt.secret.is_none() && app_env == AppEnv::Production {
            return Err(bad("JWT_SECRET", "is required with JWT_ALG=HS256"));
        }

        let refresh = RefreshSettings {
            secret: refresh_secret,
            ttl: millis("REFRESH_TOKEN_EXPIRY", 7 * 24 * 60 * 60 * 1000)?,
            reuse_grace: seconds("REFRESH_REUSE_GRACE", 10)?,
            delivery: match get("REFRESH_TOKEN_DELIVERY")
                .map(|v| v.to_ascii_lowercase())
                .as_deref()
            {
                None | Some("cookie") => Delivery::Cookie,
                Some("body") => Delivery::Body,
                Some("both") => Delivery::Both,
                Some(other) => {
                    return Err(bad(
                        "REFRESH_TOKEN_DELIVERY",
                        format!("expected cookie, body or both, got `{other}`"),
                    ))
                }
            },
            cookie_samesite: match get("COOKIE_SAMESITE")
                .map(|v| v.to_ascii_lowercase())
                .as_deref()
            {
                None | Some("strict") => SameSite::Strict,
                Some("lax") => SameSite::Lax,
                Some("none") => SameSite::None,
                Some(other) => {
                    return Err(bad(
                        "COOKIE_SAMESITE",
                        format!("expected strict, lax or none, got `{other}`"),
                    ))
                }
            },
            cookie_secure: flag("COOKIE_SECURE", true)?,
        };
        if refresh.cookie_samesite == SameSite::None && !refresh.cookie_secure {
            return Err(bad(
                "COOKIE_SAMESITE",
                "`none` needs COOKIE_SECURE=true (browsers drop such cookies otherwise)",
            ));
        }

        let scrypt = ScryptSettings {
            log_n: get("SCRYPT_LOG_N").map_or(Ok(17), |v| parse_num("SCRYPT_LOG_N", v))?,
            r: get("SCRYPT_R").map_or(Ok(8), |v| parse_num("SCRYPT_R", v))?,
            p: get("SCRYPT_P").map_or(Ok(1), |v| parse_num("SCRYPT_P", v))?,
            concurrency: get("PASSWORD_HASH_CONCURRENCY").map_or_else(
                || Ok(std::thread::available_parallelism().map_or(2, |n| n.get())),
                |v| parse_num("PASSWORD_HASH_CONCURRENCY", v),
            )?,
        };
        if scrypt::Params::new(scrypt.log_n, scrypt.r, scrypt.p, 32).is_err() {
            return Err(bad(
                "SCRYPT_LOG_N",
                format!(
                    "scrypt parameters log_n={} r={} p={} are out of range",
                    scrypt.log_n, scrypt.r, scrypt.p
                ),
            ));
        }
        if scrypt.concurrency == 0 {
            return Err(bad("PASSWORD_HASH_CONCURRENCY", "must be at least 1"));
        }

        let max_active_sessions = get("MAX_ACTIVE_SESSIONS")
            .map_or(Ok(3), |v| parse_num::<u32>("MAX_ACTIVE_SESSIONS", v))?;
        if max_active_sessions == 0 {
            return Err(bad("MAX_ACTIVE_SESSIONS", "must be at least 1"));
        }

        let app_title = get("APP_TITLE").unwrap_or("Latch").to_string();
        let mail = MailSettings::from_raw(get, &app_title)?;
        let has_mail = mail.is_some();
        let needs_mail = |n: &str| -> Result<bool, SettingsError> {
            let on = flag(n, has_mail)?;
            if on && !has_mail {
                return Err(bad(
                    n,
                    "needs mail: set EMAIL_HOST (or EMAIL_SERVICE) and EMAIL_FROM",
                ));
            }
            Ok(on)
        };
        let path = |n: &str, default: &str| -> Result<String, SettingsError> {
            let p = get(n).unwrap_or(default);
            if !p.starts_with('/') {
                return Err(bad(n, format!("`{p}` must be a path starting with /")));
            }
            Ok(p.to_string())
        };
        let email = EmailFlows {
            allow_magic_link: needs_mail("ALLOW_MAGIC_LINK")?,
            require_verification: needs_mail("REQUIRE_EMAIL_VERIFICATION")?,
            verify_ttl: seconds("EMAIL_VERIFICATION_EXPIRY", 15 * 60)?,
            reset_ttl: seconds("PASSWORD_RESET_EXPIRY", 15 * 60)?,
            magic_link_ttl: seconds("MAGIC_LINK_EXPIRY", 15 * 60)?,
            invite_ttl: seconds("INVITE_EXPIRY", 7 * 24 * 60 * 60)?,
            templates_dir: get("EMAIL_TEMPLATES_DIR").map(PathBuf::from),
            verify_path: path("EMAIL_VERIFY_PATH", "/verify-email")?,
            reset_path: path("PASSWORD_RESET_PATH", "/reset-password")?,
            magic_link_path: path("MAGIC_LINK_PATH", "/magic-link")?,
            invite_path: path("INVITE_PATH", "/invite")?,
        };

        let initial_user = match (get("INITIAL_USER_EMAIL"), get("INITIAL_USER_PASSWORD")) {
            (Some(email), password) => {
                let email = crate::domain::Email::parse("INITIAL_USER_EMAIL", email)
                    .map_err(|e| bad("INITIAL_USER_EMAIL", e.message))?;
                if let Some(p) = password {
                    crate::domain::Password::parse("INITIAL_USER_PASSWORD", p)
                        .map_err(|e| bad("INITIAL_USER_PASSWORD", e.message))?;
                }
                Some(InitialUser {
                    email: email.as_str().to_string(),
                    name: get("INITIAL_USER_NAME").map(str::to_string),
                    password: password.map(|p| SecretString::from(p.to_string())),
                })
            }
            (None, Some(_)) => {
                return Err(bad(
                    "INITIAL_USER_PASSWORD",
                    "needs INITIAL_USER_EMAIL as well",
                ))
            }
            (None, None) => None,
        };

        let retention_days: u64 =
            get("AUDIT_RETENTION_DAYS").map_or(Ok(90), |v| parse_num("AUDIT_RETENTION_DAYS", v))?;
        Ok(Settings {
            audit_retention: (retention_days > 0)
                .then(|| Duration::from_secs(retention_days * 24 * 60 * 60)),
            invite_required: flag("INVITE_REQUIRED", false)?,
            initial_user,
            app_env,
            app_title,
            host,
            port,
            database_url,
            database_pool_size,
            app_url,
            server_url,
            cors_origins,
            trust_proxy,
            allow_email_login: flag("ALLOW_EMAIL_LOGIN", true)?,
            allow_registration: flag("ALLOW_REGISTRATION", true)?,
            dev_login: flag("DEV_LOGIN", false)?,
            service_tokens,
            max_active_sessions,
            jwt,
            refresh,
            scrypt,
            mail,
            email,
        })
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
    fn products_are_parsed_not_evaluated() {
        assert_eq!(parse_product("X", "1000 * 60 * 15").unwrap(), 900_000);
        assert_eq!(parse_product("X", "900000").unwrap(), 900_000);
        // LibreChat documents the refresh expiry with parentheses.
        assert_eq!(
            parse_product("X", "(1000 * 60 * 60 * 24) * 7").unwrap(),
            604_800_000
        );
        for v in [
            "1000 + 5",
            "1000*",
            "abc",
            "-5",
            "1e3",
            "(1000",
            "1000)(",
            "()",
            "18446744073709551615 * 2",
        ] {
            assert!(parse_product("X", v).is_err(), "{v} was accepted");
        }
    }

    #[test]
    fn defaults_are_safe() {
        let s = load(&[]).unwrap();
        assert_eq!(s.jwt.alg, JwtAlg::Es256);
        assert_eq!(s.jwt.access_ttl, Duration::from_secs(900));
        assert_eq!(s.refresh.ttl, Duration::from_secs(7 * 24 * 3600));
        assert_eq!(s.refresh.delivery, Delivery::Cookie);
        assert!(s.refresh.cookie_secure);
        assert_eq!(s.max_active_sessions, 3);
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
        assert!(load(&[("APP_ENV", "production"), ("JWT_REFRESH_SECRET", &strong)]).is_ok());
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

    #[test]
    fn example_config_documents_every_setting_and_loads() {
        let example = include_str!("../config/latch.example.toml");
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

    #[test]
    fn database_url_hides_its_password() {
        let url = DatabaseUrl::new("postgres://latch:hunter2@db:5432/latch");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert_eq!(
            DatabaseUrl::new("sqlite://data/latch.db").sqlite_path(),
            Some("data/latch.db")
        );
    }
}
