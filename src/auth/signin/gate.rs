//! The one gate every sign-in passes, whatever proved the first factor, and the standing
//! check that every later use of a session repeats (refresh, introspection, the signed-in
//! and admin routes). Pure functions: the rules are unit-tested without a database.

use chrono::NaiveDateTime;

use crate::db::models::User;
use crate::error::ApiError;

/// Why an account may not sign in (or go on using its sessions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Disabled,
    /// The user, or the address the request comes from, is banned until then.
    Banned(NaiveDateTime),
    /// Only at sign-in: the address must be verified first.
    Unverified,
}

impl Refusal {
    /// The metrics and audit label.
    pub fn outcome(&self) -> &'static str {
        match self {
            Refusal::Disabled => "disabled",
            Refusal::Banned(_) => "banned",
            Refusal::Unverified => "unverified",
        }
    }

    pub fn error(&self) -> ApiError {
        match self {
            Refusal::Disabled => ApiError::AccountDisabled,
            Refusal::Banned(until) => ApiError::Banned(*until),
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

/// What the gate needs to know besides the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    pub require_email_verification: bool,
    /// Until when the request's IP is banned, if it is.
    pub ip_banned_until: Option<NaiveDateTime>,
    pub now: NaiveDateTime,
}

/// The gate: disabled, banned (the user or the IP), then verification. `Ok` lets the
/// sign-in open its session.
pub fn decide(user: &User, facts: FirstFactorFacts, cx: Context) -> Result<(), Refusal> {
    standing(user, cx.ip_banned_until, cx.now)?;
    if cx.require_email_verification && !user.email_verified && !facts.proves_email {
        return Err(Refusal::Unverified);
    }
    Ok(())
}

/// Whether an account may go on using a session it already has (from an IP banned until
/// `ip_banned_until`, when known).
pub fn standing(
    user: &User,
    ip_banned_until: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Result<(), Refusal> {
    if user.disabled {
        return Err(Refusal::Disabled);
    }
    let banned = user.banned_until.max(ip_banned_until).filter(|&t| t > now);
    if let Some(until) = banned {
        return Err(Refusal::Banned(until));
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
            banned_until: None,
        }
    }

    fn cx(require: bool) -> Context {
        Context {
            require_email_verification: require,
            ip_banned_until: None,
            now: crate::db::models::now(),
        }
    }

    const PASSWORD: FirstFactorFacts = FirstFactorFacts {
        proves_email: false,
    };
    const LINK: FirstFactorFacts = FirstFactorFacts { proves_email: true };

    #[test]
    fn a_verified_enabled_account_passes() {
        assert_eq!(decide(&user(), PASSWORD, cx(true)), Ok(()));
    }

    #[test]
    fn disabled_comes_first_whatever_the_factor() {
        let u = User {
            disabled: true,
            email_verified: false,
            ..user()
        };
        assert_eq!(decide(&u, PASSWORD, cx(true)), Err(Refusal::Disabled));
        assert_eq!(decide(&u, LINK, cx(true)), Err(Refusal::Disabled));
        assert_eq!(standing(&u, None, cx(true).now), Err(Refusal::Disabled));
    }

    #[test]
    fn verification_is_needed_only_where_required_and_unproven() {
        let u = User {
            email_verified: false,
            ..user()
        };
        assert_eq!(decide(&u, PASSWORD, cx(true)), Err(Refusal::Unverified));
        assert_eq!(decide(&u, PASSWORD, cx(false)), Ok(()));
        assert_eq!(decide(&u, LINK, cx(true)), Ok(()));
        assert_eq!(
            standing(&u, None, cx(true).now),
            Ok(()),
            "sessions go on while unverified"
        );
    }

    #[test]
    fn a_ban_of_the_user_or_the_ip_refuses_until_it_ends() {
        let now = crate::db::models::now();
        let later = now + chrono::Duration::hours(2);
        let banned = User {
            banned_until: Some(later),
            email_verified: false,
            ..user()
        };
        // Before verification: a ban says more than "verify first".
        assert_eq!(
            decide(&banned, PASSWORD, cx(true)),
            Err(Refusal::Banned(later))
        );
        assert_eq!(
            decide(&banned, LINK, cx(false)),
            Err(Refusal::Banned(later))
        );
        let ip = Context {
            ip_banned_until: Some(later),
            ..cx(false)
        };
        assert_eq!(decide(&user(), PASSWORD, ip), Err(Refusal::Banned(later)));
        // An ended ban is no ban; disabled still comes first.
        let ended = User {
            banned_until: Some(now - chrono::Duration::seconds(1)),
            ..user()
        };
        assert_eq!(standing(&ended, None, now), Ok(()));
        let both = User {
            disabled: true,
            ..banned
        };
        assert_eq!(standing(&both, None, now), Err(Refusal::Disabled));
    }
}
