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
