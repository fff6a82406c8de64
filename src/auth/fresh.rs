//! Recent authentication: whether a session is fresh enough to change how its account is
//! entered (add or remove a passkey, TOTP, backup codes, an identity, the address; delete
//! the account). A stolen access token alone never adds or removes a way in.
//!
//! A session remembers when it last proved its account's factors (`auth_time`) and with
//! which methods (`amr`, RFC 8176 values). It is fresh when that was within
//! `REAUTH_MAX_AGE` and the methods satisfy what a sign-in of the account requires now:
//! a passkey alone, or a first factor plus, when the account has a second factor, the
//! second. `RecentUser` is the one check; `POST /auth/reauthenticate` makes a session fresh.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use chrono::NaiveDateTime;

use crate::auth::extractor::{live_session, verified_bearer};
use crate::auth::tokens::Claims;
use crate::db::models::second_factor::has_second_factor;
use crate::db::models::{now, Session, User};
use crate::error::ApiError;
use crate::state::AppState;

/// RFC 8176 authentication methods, and Latch's own.
pub mod amr {
    /// A password (local, or checked against the directory).
    pub const PWD: &str = "pwd";
    /// A one-time code: TOTP or a backup code.
    pub const OTP: &str = "otp";
    /// A hardware-bound key: a passkey.
    pub const HWK: &str = "hwk";
    /// An emailed link (Latch's own value).
    pub const EMAIL: &str = "email";
    /// A social, SAML or directory identity (Latch's own value).
    pub const FED: &str = "fed";
}

/// The methods in a stored `amr` list.
pub fn methods(amr: &str) -> impl Iterator<Item = &str> {
    amr.split(',').filter(|m| !m.is_empty())
}

/// `amr` with `method` added (once).
pub fn with_method(amr: &str, method: &str) -> String {
    if methods(amr).any(|m| m == method) {
        return amr.to_string();
    }
    let mut all: Vec<&str> = methods(amr).collect();
    all.push(method);
    all.join(",")
}

/// Whether methods proven at `auth_time` satisfy an account that has (or has not) a
/// second factor, at `now`, within `max_age`.
pub fn is_fresh(
    auth_time: Option<NaiveDateTime>,
    amr: &str,
    has_second_factor: bool,
    now: NaiveDateTime,
    max_age: Duration,
) -> bool {
    let Some(at) = auth_time else {
        return false;
    };
    let max_age = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
    if now - at > max_age || at > now + chrono::Duration::seconds(60) {
        return false;
    }
    let has = |m: &str| methods(amr).any(|x| x == m);
    if has(amr::HWK) {
        return true;
    }
    let first = has(amr::PWD) || has(amr::EMAIL) || has(amr::FED);
    first && (!has_second_factor || has(amr::OTP))
}

/// A signed-in caller whose session is live and fresh: it may change how the account is
/// entered. Otherwise `403 reauthentication_required` (nothing in the request is looked
/// at, so no code it carries is spent).
pub struct RecentUser {
    pub claims: Claims,
    /// The account as it is now.
    pub user: User,
    /// The caller's session as it is now.
    pub session: Session,
}

impl FromRequest for RecentUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let checked = verified_bearer(req);
        Box::pin(async move {
            let (claims, state): (Claims, web::Data<AppState>) = checked?;
            let sid = claims.sid.clone();
            let found = state
                .db
                .run(move |conn| {
                    let found = Session::find_with_user(conn, &sid)?;
                    let second = match &found {
                        Some((_, user)) => has_second_factor(conn, &user.id)?,
                        None => false,
                    };
                    Ok((found, second))
                })
                .await?;
            let (session, user) = live_session(found.0, &claims.sub)?;
            let max_age = state.settings.policy.reauth_max_age;
            if !is_fresh(session.auth_time, &session.amr, found.1, now(), max_age) {
                return Err(ApiError::ReauthenticationRequired);
            }
            Ok(RecentUser {
                claims,
                user,
                session,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_MINUTES: Duration = Duration::from_secs(300);

    #[test]
    fn freshness_needs_every_factor_the_account_has_and_a_recent_time() {
        let now = crate::db::models::now();
        let recent = Some(now - chrono::Duration::seconds(60));
        let old = Some(now - chrono::Duration::seconds(301));
        // No second factor: any first factor will do, recently.
        assert!(is_fresh(recent, "pwd", false, now, FIVE_MINUTES));
        assert!(is_fresh(recent, "email", false, now, FIVE_MINUTES));
        assert!(is_fresh(recent, "fed", false, now, FIVE_MINUTES));
        assert!(!is_fresh(old, "pwd", false, now, FIVE_MINUTES));
        assert!(!is_fresh(None, "pwd", false, now, FIVE_MINUTES));
        assert!(!is_fresh(recent, "", false, now, FIVE_MINUTES));
        // With a second factor: the first alone is not enough; a passkey alone is.
        assert!(!is_fresh(recent, "pwd", true, now, FIVE_MINUTES));
        assert!(is_fresh(recent, "pwd,otp", true, now, FIVE_MINUTES));
        assert!(is_fresh(recent, "hwk", true, now, FIVE_MINUTES));
        assert!(!is_fresh(recent, "otp", true, now, FIVE_MINUTES));
        assert!(!is_fresh(old, "hwk", true, now, FIVE_MINUTES));
    }

    #[test]
    fn methods_are_added_once() {
        assert_eq!(with_method("", "pwd"), "pwd");
        assert_eq!(with_method("pwd", "otp"), "pwd,otp");
        assert_eq!(with_method("pwd,otp", "otp"), "pwd,otp");
    }
}
