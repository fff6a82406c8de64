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

/// What the gate needs to know about what was proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstFactorFacts {
    /// Following an emailed link proves the address; a password does not.
    pub proves_email: bool,
    /// A passkey counts as both factors; an `mfa_token` completed with a code is the
    /// second.
    pub second_factor_done: bool,
}

/// The gate let the sign-in through: to a session, or to its second factor first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    Open,
    SecondFactor,
}

/// What the gate needs to know besides the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    pub require_email_verification: bool,
    /// Until when the request's IP is banned, if it is.
    pub ip_banned_until: Option<NaiveDateTime>,
    /// The account has a second factor (TOTP or a passkey).
    pub has_second_factor: bool,
    pub now: NaiveDateTime,
}

/// The gate: disabled, banned (the user or the IP), verification, then the second factor.
/// A second factor is never a way around the rest: they are checked again when it is done.
pub fn decide(user: &User, facts: FirstFactorFacts, cx: Context) -> Result<Pass, Refusal> {
    admit(user, facts, &cx)?;
    Ok(second_factor(facts, cx.has_second_factor))
}

/// The gate's first part: whether this account may sign in at all (disabled, banned,
/// verification). The pipeline lets a first factor prove an address only past this.
pub fn admit(user: &User, facts: FirstFactorFacts, cx: &Context) -> Result<(), Refusal> {
    standing(user, cx.now)?;
    // A banned address may not open new sessions (those already open go on: see
    // `standing`).
    if let Some(until) = cx.ip_banned_until.filter(|&t| t > cx.now) {
        return Err(Refusal::Banned(until));
    }
    if cx.require_email_verification && !user.email_verified && !facts.proves_email {
        return Err(Refusal::Unverified);
    }
    Ok(())
}

/// The gate's last part: an account with a second factor gives it before a session opens.
pub fn second_factor(facts: FirstFactorFacts, has_second_factor: bool) -> Pass {
    if has_second_factor && !facts.second_factor_done {
        Pass::SecondFactor
    } else {
        Pass::Open
    }
}

/// Whether an account may go on using a session it already has. A ban of the address a
/// request comes from does not end sessions: a flood through a shared address (a proxy, a
/// NAT) would otherwise sign out everyone behind it.
pub fn standing(user: &User, now: NaiveDateTime) -> Result<(), Refusal> {
    if user.disabled {
        return Err(Refusal::Disabled);
    }
    if let Some(until) = user.banned_until.filter(|&t| t > now) {
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
            webauthn_id: None,
            username: None,
            legacy_id: None,
        }
    }

    fn cx(require: bool) -> Context {
        Context {
            require_email_verification: require,
            ip_banned_until: None,
            has_second_factor: false,
            now: crate::db::models::now(),
        }
    }

    const PASSWORD: FirstFactorFacts = FirstFactorFacts {
        proves_email: false,
        second_factor_done: false,
    };
    const LINK: FirstFactorFacts = FirstFactorFacts {
        proves_email: true,
        second_factor_done: false,
    };
    const PASSKEY: FirstFactorFacts = FirstFactorFacts {
        proves_email: true,
        second_factor_done: true,
    };

    #[test]
    fn a_verified_enabled_account_passes() {
        assert_eq!(decide(&user(), PASSWORD, cx(true)), Ok(Pass::Open));
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
        assert_eq!(standing(&u, cx(true).now), Err(Refusal::Disabled));
    }

    #[test]
    fn verification_is_needed_only_where_required_and_unproven() {
        let u = User {
            email_verified: false,
            ..user()
        };
        assert_eq!(decide(&u, PASSWORD, cx(true)), Err(Refusal::Unverified));
        assert_eq!(decide(&u, PASSWORD, cx(false)), Ok(Pass::Open));
        assert_eq!(decide(&u, LINK, cx(true)), Ok(Pass::Open));
        assert_eq!(
            standing(&u, cx(true).now),
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
        assert_eq!(standing(&ended, now), Ok(()));
        let both = User {
            disabled: true,
            ..banned
        };
        assert_eq!(standing(&both, now), Err(Refusal::Disabled));
    }

    #[test]
    fn a_second_factor_comes_after_everything_else() {
        let with_mfa = Context {
            has_second_factor: true,
            ..cx(true)
        };
        assert_eq!(decide(&user(), PASSWORD, with_mfa), Ok(Pass::SecondFactor));
        assert_eq!(decide(&user(), LINK, with_mfa), Ok(Pass::SecondFactor));
        assert_eq!(decide(&user(), PASSKEY, with_mfa), Ok(Pass::Open));
        let done = FirstFactorFacts {
            second_factor_done: true,
            ..PASSWORD
        };
        assert_eq!(decide(&user(), done, with_mfa), Ok(Pass::Open));
        // Never a way around a ban or a disabled account.
        let later = with_mfa.now + chrono::Duration::hours(1);
        let banned = User {
            banned_until: Some(later),
            ..user()
        };
        assert_eq!(
            decide(&banned, PASSKEY, with_mfa),
            Err(Refusal::Banned(later))
        );
        let disabled = User {
            disabled: true,
            ..user()
        };
        assert_eq!(decide(&disabled, done, with_mfa), Err(Refusal::Disabled));
    }
}
