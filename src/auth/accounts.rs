//! Creating accounts, whatever the sign-in method.

use crate::db::models::user::{ROLE_ADMIN, ROLE_USER};
use crate::db::models::{new_id, now, NewUser, User};
use crate::db::{lock_first_user, DbConn};
use crate::domain::{Email, UserName};
use crate::error::{ApiError, ApiResult};

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
    User::insert(
        conn,
        &NewUser {
            id: &id,
            email: email.as_str(),
            name: name.as_str(),
            password_hash,
            role: if first { ROLE_ADMIN } else { ROLE_USER },
            email_verified,
            disabled: false,
            created_at: now,
            updated_at: now,
        },
    )?;
    User::find(conn, &id)?.ok_or(ApiError::NotFound)
}

/// True when `user` is the only enabled admin: removing, demoting or disabling it would
/// leave nobody able to administer.
pub fn is_last_active_admin(conn: &mut DbConn, user: &User) -> ApiResult<bool> {
    if !user.is_admin() || user.disabled {
        return Ok(false);
    }
    Ok(User::count_active_admins(conn)? <= 1)
}

/// Deletes the user (sessions and tokens go with it), refusing the last admin.
pub fn delete_user_in(conn: &mut DbConn, user: &User) -> ApiResult<()> {
    if is_last_active_admin(conn, user)? {
        return Err(ApiError::LastAdmin);
    }
    User::delete(conn, &user.id)?;
    Ok(())
}

/// Sets a password (already hashed) and signs the user out everywhere.
pub fn set_password_in(conn: &mut DbConn, user: &User, hash: &str) -> ApiResult<()> {
    let now = now();
    User::set_password_hash(conn, &user.id, hash, now)?;
    crate::db::models::Session::revoke_all(
        conn,
        &user.id,
        None,
        crate::db::models::session::reason::PASSWORD_SET_BY_ADMIN,
        now,
    )?;
    Ok(())
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
                User::set_role(conn, &user.id, ROLE_ADMIN)?;
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
