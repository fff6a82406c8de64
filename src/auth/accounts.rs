//! Account rules that every path shares: creating accounts, the last admin, replacing a
//! password, the initial admin.

use chrono::NaiveDateTime;

use crate::db::models::session::reason;
use crate::db::models::user::Role;
use crate::db::models::{
    new_id, now, AuditEvent, NewUser, OneTimeToken, OutboxMessage, Session, User,
};
use crate::db::{lock_admins, lock_first_user, DbConn};
use crate::domain::{Email, UserName};
use crate::error::{ApiError, ApiResult};
use crate::mail::templates::Kind;

/// The first account ever created becomes admin; a taken email is `409`.
pub fn create_user_in(
    conn: &mut DbConn,
    email: &Email,
    name: &UserName,
    password_hash: Option<&str>,
    email_verified: bool,
) -> ApiResult<User> {
    let mut first = !User::any_exists(conn)?;
    if first {
        lock_first_user(conn)?;
        first = !User::any_exists(conn)?;
    }
    let now = now();
    let id = new_id();
    let role = if first { Role::Admin } else { Role::User };
    User::insert(
        conn,
        &NewUser {
            id: &id,
            email: email.as_str(),
            name: name.as_str(),
            password_hash,
            role: role.as_str(),
            email_verified,
            disabled: false,
            created_at: now,
            updated_at: now,
            username: None,
            legacy_id: None,
        },
    )?;
    User::find(conn, &id)?.ok_or(ApiError::NotFound)
}

/// Refuses a change that would take `user` out of the enabled admins when it is the last
/// one. Admin changes take one lock, so two admins disabling each other at the same
/// moment cannot both pass the count.
pub fn keep_an_admin_in(conn: &mut DbConn, user: &User) -> ApiResult<()> {
    lock_admins(conn)?;
    let Some(current) = User::find(conn, &user.id)? else {
        return Err(ApiError::NotFound);
    };
    if current.is_admin() && !current.disabled && User::count_active_admins(conn)? <= 1 {
        return Err(ApiError::LastAdmin);
    }
    Ok(())
}

/// Deletes the user (sessions and tokens go with it), refusing the last admin.
pub fn delete_user_in(conn: &mut DbConn, user: &User) -> ApiResult<()> {
    keep_an_admin_in(conn, user)?;
    // Ended first, so that each session's end is reported.
    Session::revoke_all(conn, &user.id, None, reason::DELETED, now())?;
    User::delete(conn, &user.id)?;
    // What the cascade does not reach: links and mail to the address, and where the
    // user acted from.
    OneTimeToken::delete_for_address(conn, &user.email)?;
    OutboxMessage::forget_recipient(conn, &user.email)?;
    AuditEvent::forget_client(conn, &user.id)?;
    Ok(())
}

/// Links that a new password makes moot: whoever asked for them knew the old state. An
/// address change asked for by a session the owner has since shut out must not complete.
const VOIDED_BY_A_NEW_PASSWORD: [Kind; 4] = [
    Kind::PasswordReset,
    Kind::MagicLink,
    Kind::Invite,
    Kind::EmailChange,
];

/// Sets a new password (already hashed), whoever sets it: the user, a reset link, an
/// invitation, an admin or the command line. Outstanding reset, magic-link, invite and
/// address-change links stop working; a pending verification link keeps the new password; every
/// session but `keep` ends.
pub fn replace_password_in(
    conn: &mut DbConn,
    user: &User,
    hash: &str,
    keep: Option<&str>,
    why: &str,
    now: NaiveDateTime,
) -> ApiResult<()> {
    User::set_password_hash(conn, &user.id, hash, now)?;
    let kinds = VOIDED_BY_A_NEW_PASSWORD.map(Kind::name);
    OneTimeToken::void_for_user(conn, &kinds, &user.id, &user.email, now)?;
    if let Some(old) = &user.password_hash {
        OneTimeToken::rebind_password(conn, Kind::VerifyEmail.name(), &user.id, old, hash)?;
    }
    Session::revoke_all(conn, &user.id, keep, why, now)?;
    Ok(())
}

/// Sets a password for an admin or the command line: the user is signed out everywhere.
pub fn set_password_in(conn: &mut DbConn, user: &User, hash: &str) -> ApiResult<()> {
    replace_password_in(conn, user, hash, None, reason::PASSWORD_SET_BY_ADMIN, now())
}

/// The first proof of a never-verified address (a verification, reset or magic link, a
/// vouched identity). Nothing attached to the account while its address was unproven
/// outlives it: whoever attached it never proved the address. Its sessions end, its
/// passkeys (and WebAuthn handle), TOTP and backup codes, linked identities and second
/// steps under way go, and its password too unless `keep_password` is the one the proof
/// vouches for (see `OneTimeToken::password_hash`). Returns whether anything changed (a
/// proven address is left alone).
pub fn prove_address_in(
    conn: &mut DbConn,
    user: &mut User,
    keep_password: Option<&str>,
    now: NaiveDateTime,
) -> ApiResult<bool> {
    use crate::db::models::second_factor::{
        BackupCode, MfaChallenge, PasskeyRow, TotpSecret, WebauthnChallenge,
    };
    use crate::db::models::Identity;
    if user.email_verified {
        return Ok(false);
    }
    User::set_email_verified(conn, &user.id, now)?;
    user.email_verified = true;
    if user.password_hash.as_deref() != keep_password {
        User::set_password(conn, &user.id, keep_password, now)?;
        user.password_hash = keep_password.map(str::to_string);
    }
    TotpSecret::delete(conn, &user.id)?;
    BackupCode::delete_all(conn, &user.id)?;
    PasskeyRow::delete_all(conn, &user.id)?;
    WebauthnChallenge::delete_for_user(conn, &user.id)?;
    User::clear_webauthn_id(conn, &user.id)?;
    user.webauthn_id = None;
    Identity::delete_all(conn, &user.id)?;
    MfaChallenge::delete_for_user(conn, &user.id)?;
    Session::revoke_all(conn, &user.id, None, reason::ADDRESS_PROVEN, now)?;
    Ok(true)
}

/// Makes the initial admin on first start (`INITIAL_USER_*`). An existing account is left
/// as it is, but for a password it does not have yet.
pub fn ensure_initial_user_in(
    conn: &mut DbConn,
    initial: &crate::settings::InitialUser,
    scrypt: &crate::settings::ScryptSettings,
) -> anyhow::Result<()> {
    use secrecy::ExposeSecret;
    let hash = initial
        .password
        .as_ref()
        .map(|p| crate::auth::password::hash_blocking(scrypt, p.expose_secret()))
        .transpose()?;
    let email = Email::parse("INITIAL_USER_EMAIL", &initial.email)
        .map_err(|e| anyhow::anyhow!("setting INITIAL_USER_EMAIL: {}", e.message))?;
    let name = match &initial.name {
        Some(n) => UserName::parse("INITIAL_USER_NAME", n)
            .map_err(|e| anyhow::anyhow!("setting INITIAL_USER_NAME: {}", e.message))?,
        None => UserName::from_email(&email),
    };
    crate::db::write_tx(conn, |conn| {
        match User::find_by_email(conn, email.as_str())? {
            None => {
                let user = create_user_in(conn, &email, &name, hash.as_deref(), true)?;
                User::set_role(conn, &user.id, Role::Admin)?;
                tracing::info!(email = %user.email, "created the initial admin");
            }
            Some(user) if user.password_hash.is_none() => {
                if let Some(hash) = &hash {
                    User::set_password_hash(conn, &user.id, hash, now())?;
                    tracing::info!(email = %user.email, "set the initial admin's password");
                }
            }
            Some(_) => {}
        }
        Ok(())
    })
    .map_err(|e| anyhow::anyhow!("creating the initial admin: {e}"))
}
