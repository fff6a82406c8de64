use secrecy::{ExposeSecret, SecretString};

use crate::error::FieldError;
use crate::settings::PasswordRules;

/// An upper bound keeps hashing cost per request bounded.
pub const PASSWORD_MAX_BYTES: usize = 1024;

/// A new password that passed the rules: long enough (in characters), not absurdly long
/// (in bytes), and not one of the passwords attackers try first.
pub struct Password(SecretString);

impl Password {
    pub fn parse(field: &str, raw: &str, rules: PasswordRules) -> Result<Password, FieldError> {
        let min = rules.min_length;
        if raw.chars().count() < min {
            return Err(FieldError::new(
                field,
                "too_short",
                format!("Use at least {min} characters."),
            ));
        }
        if raw.len() > PASSWORD_MAX_BYTES {
            return Err(FieldError::new(
                field,
                "too_long",
                format!("Use at most {PASSWORD_MAX_BYTES} bytes."),
            ));
        }
        if is_common(raw) {
            return Err(FieldError::new(
                field,
                "too_common",
                "This password is among the most common ones; choose another.",
            ));
        }
        Ok(Password(SecretString::from(raw.to_string())))
    }

    pub fn into_secret(self) -> SecretString {
        self.0
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// True when the whole password is one entry of zxcvbn's list of common passwords,
/// including its l33t-speak, reversed and upper-case variants ("P@ssw0rd").
fn is_common(raw: &str) -> bool {
    use zxcvbn::matching::patterns::MatchPattern;
    // zxcvbn only looks at the first 100 characters; a longer password is not common.
    if raw.chars().count() > 100 {
        return false;
    }
    let entropy = zxcvbn::zxcvbn(raw, &[]);
    let len = raw.chars().count();
    entropy.sequence().iter().any(|m| {
        m.i == 0
            && m.j + 1 == len
            // The dictionary type is not exported; `Passwords` is its default value.
            && matches!(&m.pattern, MatchPattern::Dictionary(d) if d.dictionary_name == Default::default())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: PasswordRules = PasswordRules { min_length: 8 };

    #[test]
    fn enforces_length() {
        assert_eq!(
            Password::parse("password", "Zq7#k", R).err().unwrap().code,
            "too_short"
        );
        // Eight characters of multi-byte text are eight characters.
        assert!(Password::parse("password", "ñçüéøåßð", R).is_ok());
        let strict = PasswordRules { min_length: 12 };
        assert_eq!(
            Password::parse("password", "Tr0ub4dor&3x", strict).map(|_| ()),
            Ok(())
        );
        assert_eq!(
            Password::parse("password", "Tr0ub4dor&3", strict)
                .err()
                .unwrap()
                .code,
            "too_short"
        );
        let long = "x9!".repeat(400);
        assert_eq!(
            Password::parse("password", &long, R).err().unwrap().code,
            "too_long"
        );
    }

    #[test]
    fn refuses_common_passwords() {
        for common in [
            "password",
            "12345678",
            "P@ssw0rd",
            "qwertyuiop",
            "iloveyou",
            "PASSWORD1",
        ] {
            assert_eq!(
                Password::parse("password", common, R).err().map(|e| e.code),
                Some("too_common".to_string()),
                "{common} was accepted"
            );
        }
        assert!(Password::parse("password", "correct horse battery staple", R).is_ok());
        assert!(Password::parse("password", "Tr0ub4dor&3-lantern", R).is_ok());
    }
}
