use crate::error::FieldError;

/// A display name: trimmed, 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

const MAX_CHARS: usize = 100;

impl UserName {
    pub fn parse(field: &str, raw: &str) -> Result<UserName, FieldError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(FieldError::new(
                field,
                "required",
                "A name cannot be empty.",
            ));
        }
        if name.chars().count() > MAX_CHARS {
            return Err(FieldError::new(
                field,
                "too_long",
                format!("Use at most {MAX_CHARS} characters."),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(FieldError::new(
                field,
                "invalid_characters",
                "A name cannot contain control characters.",
            ));
        }
        Ok(UserName(name.to_string()))
    }

    /// The name for an account created without one: the email's local part, cut to fit.
    pub fn from_email(email: &super::Email) -> UserName {
        UserName(email.local_part().chars().take(MAX_CHARS).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_checks() {
        assert_eq!(UserName::parse("name", "  Ada  ").unwrap().as_str(), "Ada");
        assert_eq!(UserName::parse("name", "   ").unwrap_err().code, "required");
        assert_eq!(
            UserName::parse("name", "a\u{0}b").unwrap_err().code,
            "invalid_characters"
        );
        assert_eq!(
            UserName::parse("name", &"x".repeat(101)).unwrap_err().code,
            "too_long"
        );
    }
}
