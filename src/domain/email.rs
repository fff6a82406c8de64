use crate::error::FieldError;

/// A syntactically valid email address, trimmed and lower-cased so that uniqueness and
/// look-ups ignore case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl TryFrom<String> for Email {
    type Error = String;

    fn try_from(value: String) -> Result<Email, String> {
        Email::parse("email", &value).map_err(|e| e.message)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> String {
        email.0
    }
}

/// RFC 5321 caps a forward path at 256 octets, so an address at 254.
const MAX_LEN: usize = 254;

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Email, FieldError> {
        let normalised = raw.trim().to_lowercase();
        if normalised.is_empty() {
            return Err(FieldError::new(
                field,
                "required",
                "An email address is required.",
            ));
        }
        if normalised.len() > MAX_LEN || !is_a_plain_address(&normalised) {
            return Err(FieldError::new(
                field,
                "invalid_email",
                "This is not an email address.",
            ));
        }
        Ok(Email(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@`, the default display name.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or(&self.0)
    }
}

/// A bare address with a dot in its domain. Refused although the RFCs allow them:
/// - a display name (`Ada <ada@example.com>`): the whole text would be stored, another
///   account's mail would go to the address inside, and the local part would be empty;
/// - a quoted local part (`"ada"@example.com` is the mailbox `ada@example.com`): two
///   accounts could share one mailbox;
/// - a domain literal or a domain without a dot: never a person's deliverable address.
fn is_a_plain_address(address: &str) -> bool {
    use email_address::{EmailAddress, Options};
    let options = Options::default()
        .without_display_text()
        .without_domain_literal()
        .with_minimum_sub_domains(2);
    !address.contains('"') && EmailAddress::parse_with_options(address, options).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_space() {
        let e = Email::parse("email", "  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "ada.lovelace@example.com");
        assert_eq!(e.local_part(), "ada.lovelace");
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "a b@example.com",
            "ada@[127.0.0.1]",
            "Ada <ada@example.com>",
            "<ada@example.com>",
            "\"ada\"@example.com",
            "\"a@b\"@example.com",
        ] {
            assert!(Email::parse("email", bad).is_err(), "{bad:?} was accepted");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(
            Email::parse("email", &long).unwrap_err().code,
            "invalid_email"
        );
    }
}
