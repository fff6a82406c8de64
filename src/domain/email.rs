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

/// The domain of placeholder addresses.
pub const PLACEHOLDER_DOMAIN: &str = "ldap.invalid";

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

    /// The address given to a directory entry that has none: `<name>@ldap.invalid`, from
    /// the entry's username (or identity key), with `tag` (a few hex digits) appended when
    /// asked for, to tell apart two entries with the same name. `.invalid` never resolves
    /// (RFC 2606), and nothing is ever queued for it (see `is_placeholder`).
    pub fn placeholder(name: &str, tag: Option<&str>) -> Email {
        let mut local: String = name
            .chars()
            .map(|c| c.to_ascii_lowercase())
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .take(48)
            .collect();
        local = local.trim_matches('.').replace("..", ".");
        if local.is_empty() {
            local = "user".into();
        }
        if let Some(tag) = tag {
            local = format!("{local}.{tag}");
        }
        Email(format!("{local}@{PLACEHOLDER_DOMAIN}"))
    }

    /// A placeholder (see `placeholder`): an address nobody reads.
    pub fn is_placeholder(address: &str) -> bool {
        address.ends_with(&format!("@{PLACEHOLDER_DOMAIN}"))
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
    fn placeholders_are_addresses_nobody_reads() {
        for (name, tag, want) in [
            ("J.Doe", None, "j.doe@ldap.invalid"),
            (
                "uid=x,ou=People",
                Some("1a2b"),
                "uidxoupeople.1a2b@ldap.invalid",
            ),
            ("..", None, "user@ldap.invalid"),
            ("ünï", None, "n@ldap.invalid"),
        ] {
            let e = Email::placeholder(name, tag);
            assert_eq!(e.as_str(), want);
            assert_eq!(Email::parse("email", want).unwrap(), e, "a valid address");
            assert!(Email::is_placeholder(e.as_str()));
        }
        assert!(!Email::is_placeholder("ada@example.invalid.com"));
    }

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
