//! The flows that prove a person owns an address: email verification, password reset,
//! magic links and invitations. Each token is single use, stored only as a keyed hash,
//! and written in the same transaction as the email that carries it.
//!
//! The "always 202" requests do their work after answering, so a known and an unknown
//! address take the same time to answer.

use actix_web::web;

use crate::auth::audit;
use crate::auth::client::ClientInfo;
use crate::auth::refresh;
use crate::auth::sessions::{create_session_in, finish, FreshToken, SignedIn};
use crate::db::models::session::reason;
use crate::db::models::{new_id, now, span, OneTimeToken, Session, User};
use crate::db::{write_tx, DbConn};
use crate::domain::{Email, Password, UserName};
use crate::error::{ApiError, ApiResult};
use crate::mail::link;
use crate::mail::outbox::enqueue_in;
use crate::mail::templates::{human_duration, Context, Kind};
use crate::state::AppState;

/// Makes a token of `kind` for `email` (spending the older ones of that kind) and
/// queues the email carrying its link, in the caller's transaction.
fn issue_and_mail_in(
    conn: &mut DbConn,
    st: &AppState,
    kind: Kind,
    user_id: Option<&str>,
    name: &str,
    email: &str,
) -> ApiResult<()> {
    let flows = &st.settings.email;
    let (ttl, path) = match kind {
        Kind::VerifyEmail => (flows.verify_ttl, &flows.verify_path),
        Kind::PasswordReset => (flows.reset_ttl, &flows.reset_path),
        Kind::MagicLink => (flows.magic_link_ttl, &flows.magic_link_path),
        Kind::Invite => (flows.invite_ttl, &flows.invite_path),
        Kind::PasswordChanged | Kind::AccountExists => {
            return Err(ApiError::Unexpected(anyhow::anyhow!(
                "{kind:?} carries no token"
            )))
        }
    };
    let mail = st.mail("Email")?;
    let fresh = FreshToken::new(st);
    let now = now();
    OneTimeToken::invalidate(conn, kind.name(), email, now)?;
    OneTimeToken::insert(
        conn,
        &OneTimeToken {
            id: new_id(),
            kind: kind.name().to_string(),
            user_id: user_id.map(str::to_string),
            email: email.to_string(),
            token_hash: fresh.hash,
            created_at: now,
            expires_at: now + span(ttl),
            used_at: None,
        },
    )?;
    let url = link(&st.settings.app_url, path, &fresh.token);
    let rendered = mail.templates.render(
        kind,
        &Context {
            app_title: &st.settings.app_title,
            name,
            email,
            link: Some(&url),
            expires_in: Some(human_duration(ttl)),
        },
    )?;
    enqueue_in(conn, kind, email, rendered)
}

/// Queues a notice that carries no token (password changed, account exists).
fn notice_in(conn: &mut DbConn, st: &AppState, kind: Kind, user: &User) -> ApiResult<()> {
    let Some(mail) = st.mail.as_ref() else {
        return Ok(());
    };
    let rendered = mail.templates.render(
        kind,
        &Context {
            app_title: &st.settings.app_title,
            name: &user.name,
            email: &user.email,
            link: None,
            expires_in: None,
        },
    )?;
    enqueue_in(conn, kind, &user.email, rendered)
}

fn wake(st: &AppState) {
    if let Some(mail) = &st.mail {
        mail.wake.notify_one();
    }
}

/// Runs `work` in a transaction after the answer has gone, and wakes the mail worker when
/// it queued mail: the caller always answers `202` and the time it takes tells nothing
/// about the address. A failure is logged.
fn in_background(
    state: web::Data<AppState>,
    what: &'static str,
    work: impl FnOnce(&mut DbConn, &AppState) -> ApiResult<bool> + Send + 'static,
) {
    actix_web::rt::spawn(async move {
        let st = state.clone();
        match state
            .db
            .run(move |conn| write_tx(conn, |conn| work(conn, &st)))
            .await
        {
            Ok(true) => wake(&state),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, what, "background email request failed"),
        }
    });
}

/// Spends a token of `kind`: the first use wins, any other gets `400 invalid_token`.
fn consume_in(
    conn: &mut DbConn,
    st: &AppState,
    kind: Kind,
    token: &str,
) -> ApiResult<OneTimeToken> {
    if !refresh::looks_valid(token) {
        return Err(ApiError::InvalidToken);
    }
    let hash = refresh::hash(st.refresh_key(), token);
    let now = now();
    let found =
        OneTimeToken::find_usable(conn, kind.name(), &hash, now)?.ok_or(ApiError::InvalidToken)?;
    if OneTimeToken::consume(conn, &found.id, now)? != 1 {
        return Err(ApiError::InvalidToken);
    }
    Ok(found)
}

/// The account a consumed token is for, if it still exists and may sign in.
fn account_of(conn: &mut DbConn, token: &OneTimeToken) -> ApiResult<User> {
    let user = match &token.user_id {
        Some(id) => User::find(conn, id)?,
        None => User::find_by_email(conn, &token.email)?,
    };
    match user {
        Some(u) if u.disabled => Err(ApiError::AccountDisabled),
        Some(u) => Ok(u),
        None => Err(ApiError::InvalidToken),
    }
}

fn mark_verified_in(conn: &mut DbConn, user: &mut User) -> ApiResult<()> {
    if !user.email_verified {
        User::set_email_verified(conn, &user.id, now())?;
        user.email_verified = true;
    }
    Ok(())
}

/// Queues the verification email for a new account (in the registering transaction).
pub fn send_verification_in(conn: &mut DbConn, st: &AppState, user: &User) -> ApiResult<()> {
    issue_and_mail_in(
        conn,
        st,
        Kind::VerifyEmail,
        Some(&user.id),
        &user.name,
        &user.email,
    )
}

/// Tells the owner of an address that someone tried to register it again.
pub fn account_exists_in(conn: &mut DbConn, st: &AppState, user: &User) -> ApiResult<()> {
    notice_in(conn, st, Kind::AccountExists, user)
}

pub fn request_password_reset(state: web::Data<AppState>, email: Email) -> ApiResult<()> {
    state.mail("Password reset")?;
    in_background(
        state,
        "password reset",
        move |conn, st| match User::find_by_email(conn, email.as_str())? {
            Some(user) if !user.disabled => {
                issue_and_mail_in(
                    conn,
                    st,
                    Kind::PasswordReset,
                    Some(&user.id),
                    &user.name,
                    &user.email,
                )?;
                Ok(true)
            }
            _ => Ok(false),
        },
    );
    Ok(())
}

/// Sets a new password from a reset link or an invitation, marks the address verified
/// (following the link proved it) and signs in. A reset also signs out every earlier
/// session and sends the "password changed" notice.
pub async fn set_password_from_link(
    state: &web::Data<AppState>,
    kind: Kind,
    token: String,
    password: Password,
    client: ClientInfo,
) -> ApiResult<SignedIn> {
    state.mail(if kind == Kind::Invite {
        "Invitations"
    } else {
        "Password reset"
    })?;
    let hash = state.hasher.hash(password.into_secret()).await?;
    let st = state.clone();
    let fresh = FreshToken::new(state);
    let refresh_hash = fresh.hash.clone();
    let (user, session_id) = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let used = consume_in(conn, &st, kind, &token)?;
                let mut user = account_of(conn, &used)?;
                let now = now();
                User::set_password_hash(conn, &user.id, &hash, now)?;
                mark_verified_in(conn, &mut user)?;
                if kind == Kind::PasswordReset {
                    Session::revoke_all(conn, &user.id, None, reason::PASSWORD_RESET, now)?;
                    notice_in(conn, &st, Kind::PasswordChanged, &user)?;
                    audit::record_in(
                        conn,
                        audit::Event::by_self(audit::kind::PASSWORD_RESET, &user.id, &client),
                    )?;
                }
                let method = if kind == Kind::Invite {
                    "invite"
                } else {
                    "password_reset"
                };
                let sid = create_session_in(conn, &st, &user.id, &refresh_hash, &client, method)?;
                Ok((user, sid))
            })
        })
        .await?;
    wake(state);
    tracing::info!(user_id = %user.id, kind = kind.name(), "password set from an emailed link");
    finish(state, user, session_id, Some(fresh.token))
}

pub fn request_magic_link(state: web::Data<AppState>, email: Email) -> ApiResult<()> {
    if !state.settings.email.allow_magic_link || state.mail.is_none() {
        return Err(ApiError::FeatureDisabled(
            "Magic-link sign-in (ALLOW_MAGIC_LINK)",
        ));
    }
    let may_register = state.settings.allow_registration && !state.settings.invite_required;
    in_background(state, "magic link", move |conn, st| {
        let (user_id, name) = match User::find_by_email(conn, email.as_str())? {
            Some(u) if u.disabled => return Ok(false),
            Some(u) => (Some(u.id), u.name),
            // The account is made when the link is used, where registration is on.
            None if may_register => (None, UserName::from_email(&email).as_str().to_string()),
            None => return Ok(false),
        };
        issue_and_mail_in(
            conn,
            st,
            Kind::MagicLink,
            user_id.as_deref(),
            &name,
            email.as_str(),
        )?;
        Ok(true)
    });
    Ok(())
}

/// Signs in with a magic link, creating the account if the link was for a new address.
pub async fn verify_magic_link(
    state: &web::Data<AppState>,
    token: String,
    client: ClientInfo,
) -> ApiResult<SignedIn> {
    if !state.settings.email.allow_magic_link || state.mail.is_none() {
        return Err(ApiError::FeatureDisabled(
            "Magic-link sign-in (ALLOW_MAGIC_LINK)",
        ));
    }
    let st = state.clone();
    let fresh = FreshToken::new(state);
    let refresh_hash = fresh.hash.clone();
    let may_register = state.settings.allow_registration && !state.settings.invite_required;
    let (user, session_id) = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let used = consume_in(conn, &st, Kind::MagicLink, &token)?;
                let mut user = match account_of(conn, &used) {
                    Err(ApiError::InvalidToken) if used.user_id.is_none() && may_register => {
                        let email = Email::parse("email", &used.email)
                            .map_err(|_| ApiError::InvalidToken)?;
                        crate::auth::accounts::create_user_in(
                            conn,
                            &email,
                            &UserName::from_email(&email),
                            None,
                            true,
                        )?
                    }
                    other => other?,
                };
                mark_verified_in(conn, &mut user)?;
                let sid =
                    create_session_in(conn, &st, &user.id, &refresh_hash, &client, "magic_link")?;
                Ok((user, sid))
            })
        })
        .await?;
    finish(state, user, session_id, Some(fresh.token))
}

pub async fn verify_email(state: &web::Data<AppState>, token: String) -> ApiResult<User> {
    state.mail("Email verification")?;
    let st = state.clone();
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                let used = consume_in(conn, &st, Kind::VerifyEmail, &token)?;
                let mut user = account_of(conn, &used)?;
                mark_verified_in(conn, &mut user)?;
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

pub fn resend_verification(state: web::Data<AppState>, email: Email) -> ApiResult<()> {
    state.mail("Email verification")?;
    in_background(
        state,
        "verification",
        move |conn, st| match User::find_by_email(conn, email.as_str())? {
            Some(user) if !user.email_verified && !user.disabled => {
                send_verification_in(conn, st, &user)?;
                Ok(true)
            }
            _ => Ok(false),
        },
    );
    Ok(())
}

/// Invites an existing account (made by an admin, without a password) by email.
pub async fn invite(state: &web::Data<AppState>, user: User) -> ApiResult<()> {
    state.mail("Invitations")?;
    let st = state.clone();
    state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| {
                issue_and_mail_in(
                    conn,
                    &st,
                    Kind::Invite,
                    Some(&user.id),
                    &user.name,
                    &user.email,
                )
            })
        })
        .await?;
    wake(state);
    Ok(())
}

/// Queues the "your password was changed" notice.
pub fn password_changed_in(conn: &mut DbConn, st: &AppState, user: &User) -> ApiResult<()> {
    notice_in(conn, st, Kind::PasswordChanged, user)
}

/// Wakes the mail worker after a transaction that queued mail has committed.
pub fn mail_queued(st: &AppState) {
    wake(st)
}
