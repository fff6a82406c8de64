//! One-time links sent by email (verify, reset, magic link, invite): made, mailed and
//! spent inside the caller's transaction. A token is single use and stored only as a
//! keyed hash; asking for a new one of a kind voids the address's older ones.

use chrono::NaiveDateTime;

use crate::auth::opaque_token::{looks_valid, TokenKey};
use crate::db::models::{new_id, span, OneTimeToken, User};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::mail::templates::Kind;
use crate::mail::MailService;

/// A link to send.
pub struct Link<'a> {
    pub kind: Kind,
    /// `None` for a magic link to an address that has no account yet.
    pub user_id: Option<&'a str>,
    pub name: &'a str,
    pub email: &'a str,
    /// Verification links: the password of the registration the link is sent for.
    pub password_hash: Option<&'a str>,
}

/// Makes the token (voiding the address's older ones of that kind) and queues the email
/// that carries it.
pub fn send_in(
    conn: &mut DbConn,
    mail: &MailService,
    key: &TokenKey,
    link: Link<'_>,
    now: NaiveDateTime,
) -> ApiResult<()> {
    let (ttl, _) = mail
        .link_terms(link.kind)
        .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("{:?} carries no link", link.kind)))?;
    let fresh = key.fresh();
    crate::db::lock_address(conn, link.email)?;
    OneTimeToken::invalidate(conn, link.kind.name(), link.email, now)?;
    OneTimeToken::insert(
        conn,
        &OneTimeToken {
            id: new_id(),
            kind: link.kind.name().to_string(),
            user_id: link.user_id.map(str::to_string),
            email: link.email.to_string(),
            token_hash: fresh.hash,
            created_at: now,
            expires_at: now + span(ttl),
            used_at: None,
            password_hash: link.password_hash.map(str::to_string),
            session_id: None,
        },
    )?;
    mail.queue_in(
        conn,
        link.kind,
        link.name,
        link.email,
        Some(&fresh.token),
        None,
    )
}

/// Queues a notice that carries no link (password changed, account exists), when mail
/// is on.
pub fn notice_in(
    conn: &mut DbConn,
    mail: Option<&MailService>,
    kind: Kind,
    user: &User,
) -> ApiResult<()> {
    notice_saying_in(conn, mail, kind, user, None)
}

/// A notice that says what happened (`detail`), when mail is on.
pub fn notice_saying_in(
    conn: &mut DbConn,
    mail: Option<&MailService>,
    kind: Kind,
    user: &User,
    detail: Option<&str>,
) -> ApiResult<()> {
    match mail {
        Some(mail) => mail.queue_in(conn, kind, &user.name, &user.email, None, detail),
        None => Ok(()),
    }
}

/// The live token of `kind` that `token` names, without spending it: `400 invalid_token`
/// for anything else. Used to refuse before costly work (hashing a new password).
pub fn live_in(
    conn: &mut DbConn,
    key: &TokenKey,
    kind: Kind,
    token: &str,
    now: NaiveDateTime,
) -> ApiResult<OneTimeToken> {
    if !looks_valid(token) {
        return Err(ApiError::InvalidToken);
    }
    OneTimeToken::find_usable(conn, kind.name(), &key.hash(token), now)?
        .ok_or(ApiError::InvalidToken)
}

/// Spends a token of `kind`: the first use wins, any other gets `400 invalid_token`.
pub fn consume_in(
    conn: &mut DbConn,
    key: &TokenKey,
    kind: Kind,
    token: &str,
    now: NaiveDateTime,
) -> ApiResult<OneTimeToken> {
    let found = live_in(conn, key, kind, token, now)?;
    if OneTimeToken::consume(conn, &found.id, now)? != 1 {
        return Err(ApiError::InvalidToken);
    }
    Ok(found)
}

/// The account a spent token is for, if it still exists.
pub fn account_of(conn: &mut DbConn, token: &OneTimeToken) -> ApiResult<Option<User>> {
    Ok(match &token.user_id {
        Some(id) => User::find(conn, id)?,
        None => User::find_by_email(conn, &token.email)?,
    })
}
