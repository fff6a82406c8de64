//! What a provider says about a person, read the same way whatever the provider:
//! claims at dotted paths, the email only with its verification, roles.

use serde_json::Value;

use crate::domain::Email;
use crate::settings::social::{RoleRule, TokenKind};

/// A person as a provider (or the directory) describes them, after every protocol check
/// passed. The sign-in pipeline reads `vouched`, never the provider's raw claims.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExternalIdentity {
    pub provider: String,
    pub subject: String,
    /// The address, normalised; `None` when the provider gave none (or not an address).
    pub email: Option<Email>,
    /// Whether somebody vouches that the address is this person's (see `address_of`):
    /// only then may it link to an existing account or prove an account's address.
    pub vouched: bool,
    pub name: Option<String>,
    /// The username the provider gives (`OPENID_USERNAME_CLAIM`, `SAML_USERNAME_CLAIM`).
    #[serde(default)]
    pub username: Option<String>,
    /// With `OPENID_ADMIN_ROLE`: whether the person holds it now.
    pub admin: Option<bool>,
}

/// The documents a sign-in produced: the ID token's claims, the userinfo answer and the
/// access token's payload (when it is a JWT).
#[derive(Debug, Default, Clone)]
pub struct Documents {
    pub id_token: Option<Value>,
    pub userinfo: Option<Value>,
    pub access_token: Option<Value>,
}

impl Documents {
    pub fn of(&self, kind: TokenKind) -> Option<&Value> {
        match kind {
            TokenKind::Id => self.id_token.as_ref(),
            TokenKind::Access => self.access_token.as_ref(),
            TokenKind::Userinfo => self.userinfo.as_ref(),
        }
    }

    /// The document that carries `claim`, ID token first: an address and its
    /// verification must come from the same document.
    fn first_with(&self, claim: &str) -> Option<&Value> {
        [&self.id_token, &self.userinfo]
            .into_iter()
            .flatten()
            .find(|d| claim_at(d, claim).is_some_and(|v| !v.is_null()))
    }
}

/// `realm_access.roles` is `claims["realm_access"]["roles"]`; a whole key with dots in it
/// (`https://example.com/roles`) is tried first.
pub fn claim_at<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    path.split('.').try_fold(claims, |v, k| v.get(k))
}

/// A claim that is `true` (or the string `"true"`, as Apple sends it).
pub fn is_true(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether the documents show any of the rule's roles at its path (a string or a list).
pub fn holds_role(docs: &Documents, rule: &RoleRule) -> bool {
    let found = docs.of(rule.token).and_then(|d| claim_at(d, &rule.path));
    let has = |s: &str| rule.roles.iter().any(|r| r == s);
    match found {
        Some(Value::String(s)) => s.split([' ', ',']).any(has),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).any(has),
        _ => false,
    }
}

/// The address the documents give (`email_claim`, default `email`) and whether it is
/// vouched for. The provider's verification claim (`verified_claim`: `email_verified`, or
/// the preset's own) speaks only for the standard `email` claim of the same document: an
/// address read from another claim (`upn`, `preferred_username`) is vouched for only when
/// the operator says so (`trusted`: `OPENID_TRUST_EMAIL_CLAIM`).
pub fn address_of(
    docs: &Documents,
    email_claim: Option<&str>,
    verified_claim: &str,
    trusted: bool,
) -> (Option<Email>, bool) {
    let claim = email_claim.unwrap_or("email");
    let Some(doc) = docs.first_with(claim) else {
        return (None, false);
    };
    let email = text(claim_at(doc, claim)).and_then(|e| Email::parse("email", &e).ok());
    let vouched = email.is_some()
        && (trusted || (claim == "email" && is_true(claim_at(doc, verified_claim))));
    (email, vouched)
}

/// The address a directory entry gives (its `LDAP_EMAIL` attribute) and whether it is
/// vouched for: only when the operator trusts the directory (`trusted`:
/// `LDAP_TRUST_EMAIL`), since a directory says nothing of whether anyone proved it.
pub fn address_from_directory(value: Option<&str>, trusted: bool) -> (Option<Email>, bool) {
    let email = value.and_then(|v| Email::parse("email", v).ok());
    let vouched = trusted && email.is_some();
    (email, vouched)
}

/// The text at `claim` in the first document that has it.
pub fn text_of(docs: &Documents, claim: &str) -> Option<String> {
    docs.first_with(claim)
        .and_then(|d| text(claim_at(d, claim)))
}

/// The display name: `name_claim`, else `name`, else given and family names.
pub fn name_of(docs: &Documents, name_claim: Option<&str>) -> Option<String> {
    let doc = |claim: &str| {
        docs.first_with(claim)
            .and_then(|d| text(claim_at(d, claim)))
    };
    if let Some(claim) = name_claim {
        return doc(claim);
    }
    doc("name").or_else(|| {
        let parts: Vec<String> = ["given_name", "family_name"]
            .into_iter()
            .filter_map(doc)
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    })
}

/// The payload of a JWT access token, unverified: it came straight from the token
/// endpoint over the back channel, and is only read for role claims. Anything that is not
/// a JWT has none.
pub fn jwt_payload(token: &str) -> Option<Value> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_at_dotted_paths() {
        let c = json!({"realm_access": {"roles": ["a", "b"]}, "https://x.io/roles": "c"});
        assert_eq!(claim_at(&c, "realm_access.roles"), Some(&json!(["a", "b"])));
        assert_eq!(claim_at(&c, "https://x.io/roles"), Some(&json!("c")));
        assert_eq!(claim_at(&c, "realm_access.missing"), None);
    }

    #[test]
    fn roles_from_lists_and_strings() {
        let docs = Documents {
            id_token: Some(json!({"roles": ["chat", "x"], "scope": "read chat-admin"})),
            ..Default::default()
        };
        let rule = |roles: &[&str], path: &str| RoleRule {
            roles: roles.iter().map(|s| s.to_string()).collect(),
            path: path.into(),
            token: TokenKind::Id,
        };
        assert!(holds_role(&docs, &rule(&["staff", "chat"], "roles")));
        assert!(!holds_role(&docs, &rule(&["staff"], "roles")));
        assert!(holds_role(&docs, &rule(&["chat-admin"], "scope")));
        let access = RoleRule {
            token: TokenKind::Access,
            ..rule(&["chat"], "roles")
        };
        assert!(!holds_role(&docs, &access), "no access-token document");
    }

    #[test]
    fn an_email_counts_only_with_its_own_verification() {
        let docs = Documents {
            id_token: Some(json!({"email": "Ada@Example.com", "email_verified": "true"})),
            userinfo: Some(json!({"email": "other@example.com", "email_verified": true})),
            ..Default::default()
        };
        let (email, verified) = address_of(&docs, None, "email_verified", false);
        assert_eq!(email.unwrap().as_str(), "ada@example.com");
        assert!(verified);
        // The userinfo's verification does not vouch for the ID token's address.
        let docs = Documents {
            id_token: Some(json!({"email": "ada@example.com"})),
            userinfo: Some(json!({"email_verified": true})),
            ..Default::default()
        };
        assert!(!address_of(&docs, None, "email_verified", false).1);
        let docs = Documents {
            id_token: Some(json!({"upn": "not an address", "email_verified": true})),
            ..Default::default()
        };
        assert_eq!(
            address_of(&docs, Some("upn"), "email_verified", false),
            (None, false)
        );
    }

    #[test]
    fn email_verified_vouches_for_the_email_claim_only() {
        let docs = Documents {
            id_token: Some(json!({
                "preferred_username": "admin@corp.example",
                "email": "me@evil.example",
                "email_verified": true
            })),
            ..Default::default()
        };
        let (email, vouched) =
            address_of(&docs, Some("preferred_username"), "email_verified", false);
        assert_eq!(email.unwrap().as_str(), "admin@corp.example");
        assert!(
            !vouched,
            "email_verified speaks for `email`, not this claim"
        );
        // Unless the operator trusts the claim.
        assert!(address_of(&docs, Some("preferred_username"), "email_verified", true).1);
        assert!(address_of(&docs, Some("email"), "email_verified", false).1);
    }

    #[test]
    fn names_fall_back_to_given_and_family() {
        let docs = Documents {
            userinfo: Some(json!({"given_name": "Ada", "family_name": "Lovelace"})),
            ..Default::default()
        };
        assert_eq!(name_of(&docs, None).as_deref(), Some("Ada Lovelace"));
        assert_eq!(name_of(&docs, Some("nickname")), None);
    }
}
