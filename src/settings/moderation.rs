//! Limits, violation scores and bans, with LibreChat's names, units and defaults: windows
//! in minutes, `*_MAX` requests per window per client IP, `BAN_DURATION` in milliseconds.

use std::time::Duration;

use secrecy::SecretString;

use super::parse::{bad, parse_bool, parse_num, parse_product, SettingsError};
use super::sources::Raw;

/// At most `max` requests per `window` from one client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub max: u64,
    pub window: Duration,
}

#[derive(Clone, Debug)]
pub struct ModerationSettings {
    pub login: Limit,
    /// The second-factor step (`TWO_FACTOR_TEMP_*`, LibreChat's names), by default as
    /// `login`.
    pub two_factor: Limit,
    pub register: Limit,
    /// Asking for a reset link.
    pub reset_password: Limit,
    /// Submitting a reset link (`RESET_PASSWORD_SUBMISSION_*`).
    pub reset_submission: Limit,
    /// Asking for a verification link.
    pub verify_email: Limit,
    /// Submitting a verification link (`VERIFY_EMAIL_SUBMISSION_*`).
    pub verify_submission: Limit,
    /// `BAN_VIOLATIONS`: scores lead to bans (limits apply either way).
    pub ban_violations: bool,
    pub ban_duration: Duration,
    /// Points that ban.
    pub ban_interval: u64,
    pub login_score: u64,
    pub registration_score: u64,
    /// `TWO_FACTOR_TEMP_VIOLATION_SCORE`, default the login score.
    pub two_factor_score: u64,
    pub reset_password_score: u64,
    pub reset_submission_score: u64,
    pub verify_email_score: u64,
    pub verify_submission_score: u64,
    pub non_browser_score: u64,
    /// One address receives at most this many emails per `email_address_window`.
    pub email_address_max: u64,
    pub email_address_window: Duration,
    /// `USE_REDIS` with `REDIS_URI`: counters in Redis instead of the database.
    pub redis: Option<RedisSettings>,
}

#[derive(Clone, Debug)]
pub struct RedisSettings {
    /// With `REDIS_USERNAME` and `REDIS_PASSWORD` in it, when set.
    pub uri: SecretString,
    /// Put before every key, so several deployments can share one Redis.
    pub key_prefix: String,
    /// `REDIS_CA`: the CA certificate (PEM) a `rediss://` server's certificate is checked
    /// against.
    pub ca: Option<Vec<u8>>,
}

/// The name under which `Sources` passes on the value of the variable
/// `REDIS_KEY_PREFIX_VAR` names (a variable Latch does not otherwise read).
pub const PREFIX_FROM_VAR: &str = "REDIS_KEY_PREFIX_VAR value";

/// `REDIS_URI` (LibreChat also accepts a bare `HOST:PORT`), with LibreChat's
/// `REDIS_USERNAME` and `REDIS_PASSWORD` put in it, `REDIS_CA`, and the key prefix from
/// `REDIS_KEY_PREFIX` or the variable `REDIS_KEY_PREFIX_VAR` names.
fn redis(raw: &Raw, uri: &str) -> Result<RedisSettings, SettingsError> {
    let text = if uri.contains("://") {
        uri.to_string()
    } else {
        format!("redis://{uri}")
    };
    if text.contains(',') {
        return Err(bad(
            "REDIS_URI",
            "a list of nodes needs a cluster client (USE_REDIS_CLUSTER), which Latch does not have yet: give one node",
        ));
    }
    let mut url = url::Url::parse(&text)
        .ok()
        .filter(|u| matches!(u.scheme(), "redis" | "rediss" | "unix" | "redis+unix"))
        .ok_or_else(|| bad("REDIS_URI", "expected redis://HOST:PORT (or rediss://)"))?;
    if let Some(user) = raw.get("REDIS_USERNAME") {
        url.set_username(user)
            .map_err(|_| bad("REDIS_USERNAME", "cannot go in REDIS_URI"))?;
    }
    if let Some(password) = raw.get("REDIS_PASSWORD") {
        url.set_password(Some(password))
            .map_err(|_| bad("REDIS_PASSWORD", "cannot go in REDIS_URI"))?;
    }
    let key_prefix = match (raw.get("REDIS_KEY_PREFIX"), raw.get("REDIS_KEY_PREFIX_VAR")) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "REDIS_KEY_PREFIX_VAR",
                "set REDIS_KEY_PREFIX or REDIS_KEY_PREFIX_VAR, not both",
            ))
        }
        (Some(prefix), None) => prefix.to_string(),
        (None, Some(var)) => raw
            .get(PREFIX_FROM_VAR)
            .ok_or_else(|| {
                bad(
                    "REDIS_KEY_PREFIX_VAR",
                    format!("names `{var}`, which is not set"),
                )
            })?
            .to_string(),
        (None, None) => "latch".to_string(),
    };
    let ca = match raw.get("REDIS_CA") {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|e| bad("REDIS_CA", format!("cannot read `{path}`: {e}")))?,
        ),
        None => None,
    };
    Ok(RedisSettings {
        uri: SecretString::from(url.to_string()),
        key_prefix,
        ca,
    })
}

pub fn moderation(raw: &Raw) -> Result<ModerationSettings, SettingsError> {
    let num = |n: &str, default: u64| raw.get(n).map_or(Ok(default), |v| parse_num::<u64>(n, v));
    let limit = |max: &str, window: &str, default_max: u64, default_minutes: u64| {
        let minutes = num(window, default_minutes)?;
        if minutes == 0 {
            return Err(bad(window, "is in minutes and must be at least 1"));
        }
        Ok(Limit {
            max: num(max, default_max)?,
            window: Duration::from_secs(minutes * 60),
        })
    };
    let ban_ms = raw
        .get("BAN_DURATION")
        .map_or(Ok(2 * 60 * 60 * 1000), |v| parse_product("BAN_DURATION", v))?;
    if ban_ms < 1000 {
        return Err(bad(
            "BAN_DURATION",
            "is in milliseconds and must be at least 1000",
        ));
    }
    let ban_interval = num("BAN_INTERVAL", 20)?;
    if ban_interval == 0 {
        return Err(bad("BAN_INTERVAL", "must be at least 1"));
    }
    let use_redis = raw
        .get("USE_REDIS")
        .map_or(Ok(false), |v| parse_bool("USE_REDIS", v))?;
    let redis = match (use_redis, raw.get("REDIS_URI")) {
        (true, Some(uri)) => Some(redis(raw, uri)?),
        (true, None) => return Err(bad("USE_REDIS", "needs REDIS_URI")),
        (false, _) => None,
    };
    let email_minutes = num("EMAIL_ADDRESS_WINDOW", 15)?;
    if email_minutes == 0 {
        return Err(bad(
            "EMAIL_ADDRESS_WINDOW",
            "is in minutes and must be at least 1",
        ));
    }
    let login = limit("LOGIN_MAX", "LOGIN_WINDOW", 7, 5)?;
    let login_minutes = login.window.as_secs() / 60;
    let reset = limit("RESET_PASSWORD_MAX", "RESET_PASSWORD_WINDOW", 2, 2)?;
    let verify = limit("VERIFY_EMAIL_MAX", "VERIFY_EMAIL_WINDOW", 2, 2)?;
    // An unset score is LibreChat's default of one point.
    let login_score = num("LOGIN_VIOLATION_SCORE", 1)?;
    Ok(ModerationSettings {
        two_factor: limit(
            "TWO_FACTOR_TEMP_MAX",
            "TWO_FACTOR_TEMP_WINDOW",
            login.max,
            login_minutes,
        )?,
        login,
        register: limit("REGISTER_MAX", "REGISTER_WINDOW", 5, 60)?,
        reset_password: reset,
        reset_submission: limit(
            "RESET_PASSWORD_SUBMISSION_MAX",
            "RESET_PASSWORD_SUBMISSION_WINDOW",
            reset.max,
            reset.window.as_secs() / 60,
        )?,
        verify_email: verify,
        verify_submission: limit(
            "VERIFY_EMAIL_SUBMISSION_MAX",
            "VERIFY_EMAIL_SUBMISSION_WINDOW",
            verify.max,
            verify.window.as_secs() / 60,
        )?,
        ban_violations: raw
            .get("BAN_VIOLATIONS")
            .map_or(Ok(true), |v| parse_bool("BAN_VIOLATIONS", v))?,
        ban_duration: Duration::from_millis(ban_ms),
        ban_interval,
        login_score,
        registration_score: num("REGISTRATION_VIOLATION_SCORE", 1)?,
        two_factor_score: num("TWO_FACTOR_TEMP_VIOLATION_SCORE", login_score)?,
        reset_password_score: num("RESET_PASSWORD_VIOLATION_SCORE", 1)?,
        reset_submission_score: num("RESET_PASSWORD_SUBMISSION_VIOLATION_SCORE", 1)?,
        verify_email_score: num("VERIFY_EMAIL_VIOLATION_SCORE", 1)?,
        verify_submission_score: num("VERIFY_EMAIL_SUBMISSION_VIOLATION_SCORE", 1)?,
        non_browser_score: num("NON_BROWSER_VIOLATION_SCORE", 20)?,
        email_address_max: num("EMAIL_ADDRESS_MAX", 3)?,
        email_address_window: Duration::from_secs(email_minutes * 60),
        redis,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn librechat_defaults_and_units() {
        let m = moderation(&Raw::default()).unwrap();
        assert_eq!(
            m.login,
            Limit {
                max: 7,
                window: Duration::from_secs(300)
            }
        );
        assert_eq!(
            m.register,
            Limit {
                max: 5,
                window: Duration::from_secs(3600)
            }
        );
        assert_eq!(m.reset_password.max, 2);
        assert_eq!(m.verify_email.window, Duration::from_secs(120));
        assert_eq!(m.ban_duration, Duration::from_secs(7200));
        assert_eq!((m.ban_interval, m.non_browser_score), (20, 20));
        assert!(m.ban_violations && m.redis.is_none());
        let m = moderation(&Raw::from_pairs(&[("BAN_DURATION", "1000 * 60 * 30")])).unwrap();
        assert_eq!(m.ban_duration, Duration::from_secs(1800));
        let e = moderation(&Raw::from_pairs(&[("USE_REDIS", "true")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("REDIS_URI"), "{e}");
        let e = moderation(&Raw::from_pairs(&[("LOGIN_WINDOW", "0")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("LOGIN_WINDOW"), "{e}");
    }
}
