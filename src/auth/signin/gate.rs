//! The one gate every sign-in passes, whatever proved the first factor, and the standing
//! check that every later use of a session repeats (refresh, introspection, the signed-in
//! and admin routes). Pure functions: the rules are unit-tested without a database.

use crate::db::models::User;
use crate::error::ApiError;

/// Why an account may not sign in (or go on using its sessions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Disabled,
    /// Only at sign-in: the address must be verified first.
    Unverified,
}

impl Refusal {
    /// The metrics and audit label.
    pub fn outcome(&self) -> &'static str {
        match self {
            Refusal::Disabled => "disabled",
            Refusal::Unverified => "unverified",
        }
    }

    pub fn error(&self) -> ApiError {
        match self {
            Refusal::Disabled => ApiError::AccountDisabled,
            Refusal::Unverified => ApiError::EmailNotVerified,
        }
    }
}

/// What the gate needs to know about the first factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstFactorFacts {
    /// Following an emailed link proves the address; a password does not.
    pub proves_email: bool,
}

/// The gate: disabled, then verification. `Ok` lets the sign-in open its session.
pub fn decide(
    user: &User,
    facts: FirstFactorFacts,
    require_email_verification: bool,
) -> Result<(), Refusal> {
    standing(user)?;
    if require_email_verification && !user.email_verified && !facts.proves_email {
        return Err(Refusal::Unverified);
    }
    Ok(())
}

/// Whether an account may go on using a session it already has.
pub fn standing(user: &User) -> Result<(), Refusal> {
    if user.disabled {
        return Err(Refusal::Disabled);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::models::user::Role;

    fn user() -> User {
        let now = crate::db::models::now();
        User {
            id: "u".into(),
            email: "a@example.com".into(),
            name: "a".into(),
            password_hash: None,
            role: Role::User,
            email_verified: true,
            disabled: false,
            created_at: now,
            updated_at: now,
        }
    }

    const PASSWORD: FirstFactorFacts = FirstFactorFacts {
        proves_email: false,
    };
    const LINK: FirstFactorFacts = FirstFactorFacts { proves_email: true };

    #[test]
    fn a_verified_enabled_account_passes() {
        assert_eq!(decide(&user(), PASSWORD, true), Ok(()));
    }

    #[test]
    fn disabled_comes_first_whatever_the_factor() {
        let u = User {
            disabled: true,
            email_verified: false,
            ..user()
        };
        assert_eq!(decide(&u, PASSWORD, true), Err(Refusal::Disabled));
        assert_eq!(decide(&u, LINK, true), Err(Refusal::Disabled));
        assert_eq!(standing(&u), Err(Refusal::Disabled));
    }

    #[test]
    fn verification_is_needed_only_where_required_and_unproven() {
        let u = User {
            email_verified: false,
            ..user()
        };
        assert_eq!(decide(&u, PASSWORD, true), Err(Refusal::Unverified));
        assert_eq!(decide(&u, PASSWORD, false), Ok(()));
        assert_eq!(decide(&u, LINK, true), Ok(()));
        assert_eq!(standing(&u), Ok(()), "sessions go on while unverified");
    }
}
