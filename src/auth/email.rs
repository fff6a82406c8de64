//! The flows that start with an email: registration that must be verified, asking for a
//! reset or magic link, resending and following a verification link, invitations. The
//! links they send are spent by the sign-in pipeline (reset, magic link, invitation) or
//! by `verify_email`.
//!
//! The "always 202" requests do their work after answering, so a known and an unknown
//! address take the same time to answer.

use crate::auth::accounts::{create_user_in, prove_address_in};
use crate::auth::audit;
use crate::auth::links::{self, Link};
use crate::auth::signin::SignIn;
use crate::db::models::{new_id, now, User};
use crate::db::{write_tx, DbConn};
use crate::domain::{Email, Password, UserName};
use crate::error::{ApiError, ApiResult};
use crate::mail::templates::Kind;
use crate::mail::MailService;

impl SignIn {
    /// The mail service, or `403 feature_disabled` naming the feature that needs it.
    pub fn mail(&self, feature: &'static str) -> ApiResult<&MailService> {
        self.mail.as_ref().ok_or(ApiError::FeatureDisabled(feature))
    }

    /// Runs `work` in a transaction after the answer has gone, and wakes the mail worker
    /// when it queued mail: the caller always answers `202` and the time it takes tells
    /// nothing about the address. Past `EMAIL_ADDRESS_MAX` links of `kind` to `email`,
    /// nothing is done:
    /// nothing is sent and the last link stays valid. A failure is logged.
    pub(super) fn in_background(
        &self,
        kind: Kind,
        email: &Email,
        work: impl FnOnce(&mut DbConn, &SignIn) -> ApiResult<bool> + Send + 'static,
    ) {
        let ctx = self.clone();
        let email = email.as_str().to_string();
        let what = kind.name();
        actix_web::rt::spawn(async move {
            match ctx.moderation.mail_allowed(&email, kind).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(what, "mail to this address is throttled; nothing sent");
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, what, "background email request failed");
                    return;
                }
            }
            let inner = ctx.clone();
            match ctx
                .db
                .run(move |conn| write_tx(conn, |conn| work(conn, &inner)))
                .await
            {
                Ok(true) => ctx.wake_mail(),
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, what, "background email request failed"),
            }
        });
    }

    pub fn wake_mail(&self) {
        if let Some(mail) = &self.mail {
            mail.wake();
        }
    }

    /// Sends a link of `kind` to `user` in the caller's transaction.
    fn send_link_in(
        &self,
        conn: &mut DbConn,
        kind: Kind,
        user: &User,
        password_hash: Option<&str>,
    ) -> ApiResult<()> {
        let link = Link {
            kind,
            user_id: Some(&user.id),
            name: &user.name,
            email: &user.email,
            password_hash,
        };
        links::send_in(conn, self.mail("Email")?, &self.key, link, now())
    }

    /// A registration that must be verified before it signs in. A new address gets its
    /// account and a verification link; a taken one gets the very same answer while its
    /// owner is mailed (a notice, or a fresh link if it never verified), so registration
    /// reveals nothing about which addresses have accounts. The link keeps the password
    /// of this registration: whoever follows it proved the address for it.
    pub async fn register_pending(
        &self,
        email: Email,
        name: UserName,
        password: Password,
    ) -> ApiResult<User> {
        let hash = self.hasher.hash(password.into_secret()).await?;
        // A proven owner is sent a notice (once per window, whoever registers how often);
        // anyone else a verification link, counted as one. Past the limit the answer is the
        // same, and nothing changes.
        let lookup = email.as_str().to_string();
        let owner = self
            .db
            .run(move |conn| Ok(User::find_by_email(conn, &lookup)?))
            .await?;
        let kind = match owner {
            Some(owner) if owner.email_verified => Kind::AccountExists,
            _ => Kind::VerifyEmail,
        };
        let mail = self.moderation.mail_allowed(email.as_str(), kind).await?;
        let ctx = self.clone();
        let user = self
            .db
            .run(move |conn| {
                write_tx(conn, |conn| {
                    let now = now();
                    match User::find_by_email(conn, email.as_str())? {
                        Some(_) if !mail => {}
                        Some(owner) if owner.email_verified => {
                            links::notice_in(conn, ctx.mail.as_ref(), Kind::AccountExists, &owner)?;
                        }
                        Some(owner) => {
                            // The latest registration of a never-verified address is the
                            // one a resent link is for.
                            User::set_password(conn, &owner.id, Some(&hash), now)?;
                            ctx.send_link_in(conn, Kind::VerifyEmail, &owner, Some(&hash))?;
                        }
                        None => {
                            let user = create_user_in(conn, &email, &name, Some(&hash), false)?;
                            if mail {
                                ctx.send_link_in(conn, Kind::VerifyEmail, &user, Some(&hash))?;
                            }
                            audit::registered_in(conn, &user.id)?;
                            return Ok(user);
                        }
                    }
                    // What a new account would have looked like; nothing is stored.
                    Ok(User {
                        id: new_id(),
                        email: email.as_str().to_string(),
                        name: name.as_str().to_string(),
                        password_hash: None,
                        role: crate::db::models::user::Role::User,
                        email_verified: false,
                        disabled: false,
                        created_at: now,
                        updated_at: now,
                        banned_until: None,
                        webauthn_id: None,
                        username: None,
                        legacy_id: None,
                    })
                })
            })
            .await?;
        self.wake_mail();
        self.metrics.sign_in("register", "pending_verification");
        Ok(user)
    }

    pub fn request_password_reset(&self, email: Email) -> ApiResult<()> {
        self.in_background(Kind::PasswordReset, &email.clone(), move |conn, ctx| {
            match User::find_by_email(conn, email.as_str())? {
                Some(user) if !user.disabled => {
                    ctx.send_link_in(conn, Kind::PasswordReset, &user, None)?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        });
        Ok(())
    }

    pub fn request_magic_link(&self, email: Email) -> ApiResult<()> {
        let may_register = self.policy.may_register();
        self.in_background(Kind::MagicLink, &email.clone(), move |conn, ctx| {
            let (user_id, name) = match User::find_by_email(conn, email.as_str())? {
                Some(u) if u.disabled => return Ok(false),
                Some(u) => (Some(u.id), u.name),
                // The account is made when the link is used, where registration is on.
                None if may_register => (None, UserName::from_email(&email).as_str().to_string()),
                None => return Ok(false),
            };
            let link = Link {
                kind: Kind::MagicLink,
                user_id: user_id.as_deref(),
                name: &name,
                email: email.as_str(),
                password_hash: None,
            };
            links::send_in(conn, ctx.mail("Email")?, &ctx.key, link, now())?;
            Ok(true)
        });
        Ok(())
    }

    pub fn magic_link_allowed(&self) -> ApiResult<()> {
        if self.policy.allow_magic_link && self.mail.is_some() {
            Ok(())
        } else {
            Err(ApiError::FeatureDisabled(
                "Magic-link sign-in (ALLOW_MAGIC_LINK)",
            ))
        }
    }

    pub fn reset_allowed(&self) -> ApiResult<()> {
        self.mail("Password reset")?;
        if self.policy.allow_password_reset {
            Ok(())
        } else {
            Err(ApiError::FeatureDisabled("Password reset"))
        }
    }

    /// Follows a verification link. A never-verified account keeps the password of the
    /// registration the link was sent for, and no other.
    pub async fn verify_email(&self, token: String) -> ApiResult<User> {
        self.mail("Email verification")?;
        let key = self.key.clone();
        self.db
            .run(move |conn| {
                write_tx(conn, |conn| {
                    let now = now();
                    let used = links::consume_in(conn, &key, Kind::VerifyEmail, &token, now)?;
                    let mut user = links::account_of(conn, &used)?.ok_or(ApiError::InvalidToken)?;
                    if user.disabled {
                        return Err(ApiError::AccountDisabled);
                    }
                    prove_address_in(conn, &mut user, used.password_hash.as_deref(), now)?;
                    let event = audit::Event {
                        subject: Some(&user.id),
                        actor: Some(&user.id),
                        ..audit::Event::new(audit::kind::EMAIL_VERIFIED)
                    };
                    audit::record_in(conn, event)?;
                    Ok(user)
                })
            })
            .await
    }

    pub fn resend_verification(&self, email: Email) -> ApiResult<()> {
        self.mail("Email verification")?;
        self.in_background(Kind::VerifyEmail, &email.clone(), move |conn, ctx| {
            match User::find_by_email(conn, email.as_str())? {
                Some(user) if !user.email_verified && !user.disabled => {
                    let hash = user.password_hash.clone();
                    ctx.send_link_in(conn, Kind::VerifyEmail, &user, hash.as_deref())?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        });
        Ok(())
    }

    /// Invites an existing account (made by an admin, without a password) by email.
    pub fn invite_in(&self, conn: &mut DbConn, user: &User) -> ApiResult<()> {
        self.send_link_in(conn, Kind::Invite, user, None)
    }
}
