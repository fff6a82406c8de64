//! Changing an account's address: a link to the new address proves it, a notice tells
//! the old one. Asking reveals nothing about the new address: a taken one gets the same
//! answer and the same notice, and no link.

use crate::auth::audit;
use crate::auth::links::{self, Link};
use crate::auth::signin::SignIn;
use crate::db::models::{now, OneTimeToken, User};
use crate::db::{lock_address, write_tx};
use crate::domain::Email;
use crate::error::{ApiError, ApiResult};
use crate::mail::templates::Kind;

/// The links an address change makes moot: they were sent to, or for, the old address.
const VOIDED_BY_A_NEW_ADDRESS: [Kind; 5] = [
    Kind::VerifyEmail,
    Kind::PasswordReset,
    Kind::MagicLink,
    Kind::Invite,
    Kind::EmailChange,
];

impl SignIn {
    /// Asks to move the account `user_id` to `new`, after the answer has gone (`202`
    /// whatever the address). The account's older requests stop working.
    pub fn request_email_change(&self, user_id: String, new: Email) -> ApiResult<()> {
        self.mail("Changing the email address")?;
        self.in_background(Kind::EmailChange, &new.clone(), move |conn, ctx| {
            let Some(user) = User::find(conn, &user_id)? else {
                return Ok(false);
            };
            let now = now();
            let kinds = [Kind::EmailChange.name()];
            OneTimeToken::void_for_user(conn, &kinds, &user.id, &user.email, now)?;
            lock_address(conn, new.as_str())?;
            if User::find_by_email(conn, new.as_str())?.is_none() {
                let link = Link {
                    kind: Kind::EmailChange,
                    user_id: Some(&user.id),
                    name: &user.name,
                    email: new.as_str(),
                    password_hash: None,
                };
                links::send_in(conn, ctx.mail("Email")?, &ctx.key, link, now)?;
            }
            let detail = format!(
                "Someone asked to change the address of your account to {}. If that was \
                 you, follow the link sent there; if not, change your password.",
                new.as_str()
            );
            let (mail, notice) = (ctx.mail.as_ref(), Kind::EmailChangeRequested);
            links::notice_saying_in(conn, mail, notice, &user, Some(&detail))?;
            let event = audit::Event {
                actor: Some(&user.id),
                subject: Some(&user.id),
                ..audit::Event::new(audit::kind::EMAIL_CHANGE_REQUESTED)
            };
            audit::record_in(conn, event)?;
            Ok(true)
        });
        Ok(())
    }

    /// Follows an address-change link: the new address is the account's, verified, and
    /// every other link sent for the account stops working. An address taken since the
    /// request is `409 email_taken` (the link stays unspent).
    pub async fn confirm_email_change(&self, token: String) -> ApiResult<User> {
        self.mail("Changing the email address")?;
        let key = self.key.clone();
        self.db
            .run(move |conn| {
                write_tx(conn, |conn| {
                    let now = now();
                    let used = links::consume_in(conn, &key, Kind::EmailChange, &token, now)?;
                    let user = links::account_of(conn, &used)?.ok_or(ApiError::InvalidToken)?;
                    if user.disabled {
                        return Err(ApiError::AccountDisabled);
                    }
                    lock_address(conn, &used.email)?;
                    if User::find_by_email(conn, &used.email)?.is_some() {
                        return Err(ApiError::EmailTaken);
                    }
                    User::set_email(conn, &user.id, &used.email, now)?;
                    let kinds = VOIDED_BY_A_NEW_ADDRESS.map(Kind::name);
                    OneTimeToken::void_for_user(conn, &kinds, &user.id, &user.email, now)?;
                    let event = audit::Event {
                        actor: Some(&user.id),
                        subject: Some(&user.id),
                        ..audit::Event::new(audit::kind::EMAIL_CHANGED)
                    };
                    audit::record_in(conn, event)?;
                    User::find(conn, &user.id)?.ok_or(ApiError::InvalidToken)
                })
            })
            .await
    }
}
