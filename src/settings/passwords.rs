//! Password rules and the scrypt hashing pool.

use super::parse::{bad, parse_num, SettingsError};
use super::sources::Raw;

/// The least a new password may have, in characters (LibreChat's `MIN_PASSWORD_LENGTH`);
/// a lower setting is refused.
pub const PASSWORD_MIN_FLOOR: usize = 8;

/// What a new password must satisfy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordRules {
    pub min_length: usize,
}

impl Default for PasswordRules {
    fn default() -> Self {
        PasswordRules {
            min_length: PASSWORD_MIN_FLOOR,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ScryptSettings {
    pub log_n: u8,
    pub r: u32,
    pub p: u32,
    /// How many hashes may run at once. Each takes 128·r·2^log_n bytes.
    pub concurrency: usize,
    /// How many requests may wait for a hash; beyond that they are answered
    /// `503 overloaded` at once instead of queueing without bound.
    pub queue: usize,
}

pub fn rules(raw: &Raw) -> Result<PasswordRules, SettingsError> {
    let min_length = raw
        .get("MIN_PASSWORD_LENGTH")
        .map_or(Ok(PASSWORD_MIN_FLOOR), |v| {
            parse_num("MIN_PASSWORD_LENGTH", v)
        })?;
    if min_length < PASSWORD_MIN_FLOOR {
        return Err(bad(
            "MIN_PASSWORD_LENGTH",
            format!("must be at least {PASSWORD_MIN_FLOOR}"),
        ));
    }
    if min_length > 128 {
        return Err(bad("MIN_PASSWORD_LENGTH", "must be at most 128"));
    }
    Ok(PasswordRules { min_length })
}

pub fn scrypt(raw: &Raw) -> Result<ScryptSettings, SettingsError> {
    let s = ScryptSettings {
        log_n: raw
            .get("SCRYPT_LOG_N")
            .map_or(Ok(17), |v| parse_num("SCRYPT_LOG_N", v))?,
        r: raw
            .get("SCRYPT_R")
            .map_or(Ok(8), |v| parse_num("SCRYPT_R", v))?,
        p: raw
            .get("SCRYPT_P")
            .map_or(Ok(1), |v| parse_num("SCRYPT_P", v))?,
        concurrency: raw.get("PASSWORD_HASH_CONCURRENCY").map_or_else(
            || Ok(std::thread::available_parallelism().map_or(2, |n| n.get())),
            |v| parse_num("PASSWORD_HASH_CONCURRENCY", v),
        )?,
        queue: raw
            .get("PASSWORD_HASH_QUEUE")
            .map_or(Ok(32), |v| parse_num("PASSWORD_HASH_QUEUE", v))?,
    };
    if scrypt::Params::new(s.log_n, s.r, s.p, 32).is_err() {
        return Err(bad(
            "SCRYPT_LOG_N",
            format!(
                "scrypt parameters log_n={} r={} p={} are out of range",
                s.log_n, s.r, s.p
            ),
        ));
    }
    if s.concurrency == 0 {
        return Err(bad("PASSWORD_HASH_CONCURRENCY", "must be at least 1"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_password_length_has_a_floor() {
        let e = rules(&Raw::from_pairs(&[("MIN_PASSWORD_LENGTH", "6")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("MIN_PASSWORD_LENGTH"), "{e}");
        let r = rules(&Raw::from_pairs(&[("MIN_PASSWORD_LENGTH", "12")])).unwrap();
        assert_eq!(r.min_length, 12);
        assert_eq!(rules(&Raw::default()).unwrap().min_length, 8);
    }
}
