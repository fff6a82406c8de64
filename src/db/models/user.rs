use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::schema::users;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::events::{self, kind};
use serde_json::json;

#[derive(Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    #[diesel(deserialize_as = String)]
    pub role: Role,
    pub email_verified: bool,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The end of the latest active ban, if any (see `Ban`).
    pub banned_until: Option<NaiveDateTime>,
    /// The WebAuthn user handle, made at the first passkey.
    pub webauthn_id: Option<String>,
    /// LibreChat's, a provider's or the directory's username.
    pub username: Option<String>,
    /// LibreChat's `_id`, for accounts brought over by `latch import librechat`.
    pub legacy_id: Option<String>,
}

/// Everything but the password hash.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("email_verified", &self.email_verified)
            .field("disabled", &self.disabled)
            .field("banned_until", &self.banned_until)
            .field("has_password", &self.password_hash.is_some())
            .finish_non_exhaustive()
    }
}

/// What an account may do. Stored as its lower-case name.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored value Latch did not write grants nothing.
impl From<String> for Role {
    fn from(s: String) -> Role {
        Role::parse(&s).unwrap_or(Role::User)
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: Option<&'a str>,
    pub role: &'a str,
    pub email_verified: bool,
    pub disabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub username: Option<&'a str>,
    pub legacy_id: Option<&'a str>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<User>> {
        users::table
            .find(id)
            .select(User::as_select())
            .first(conn)
            .optional()
    }

    /// `email` must already be normalised (see `domain::Email`).
    /// The account brought over from LibreChat with this `_id`.
    pub fn find_by_legacy_id(conn: &mut DbConn, legacy_id: &str) -> QueryResult<Option<User>> {
        users::table
            .filter(users::legacy_id.eq(legacy_id))
            .select(User::as_select())
            .first(conn)
            .optional()
    }

    pub fn find_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<User>> {
        users::table
            .filter(users::email.eq(email))
            .select(User::as_select())
            .first(conn)
            .optional()
    }

    pub fn any_exists(conn: &mut DbConn) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(users::table.select(users::id))).get_result(conn)
    }

    /// Inserts the user; a taken email is `409 email_taken`.
    /// Inserts the user (`user.created`).
    pub fn insert(conn: &mut DbConn, new: &NewUser<'_>) -> ApiResult<()> {
        match diesel::insert_into(users::table).values(new).execute(conn) {
            Ok(_) => {
                let data = events::UserData {
                    id: new.id,
                    email: new.email,
                    name: new.name,
                    role: new.role,
                    email_verified: new.email_verified,
                    disabled: new.disabled,
                    legacy_id: new.legacy_id,
                };
                Ok(events::user_in(conn, kind::USER_CREATED, data, json!({}))?)
            }
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                Err(ApiError::EmailTaken)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sets the password (`password.changed`).
    pub fn set_password_hash(
        conn: &mut DbConn,
        id: &str,
        hash: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        User::set_password(conn, id, Some(hash), now)
    }

    /// Sets or removes the password (`password.changed`).
    pub fn set_password(
        conn: &mut DbConn,
        id: &str,
        hash: Option<&str>,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        let set = diesel::update(users::table.find(id))
            .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
            .execute(conn)?;
        if set == 1 {
            events::about_user_in(conn, kind::PASSWORD_CHANGED, id, json!({}))?;
        }
        Ok(set)
    }

    /// Replaces the hash only if it is still `old`, so a rehash at sign-in never
    /// overwrites a password changed in the meantime.
    pub fn upgrade_password_hash(
        conn: &mut DbConn,
        id: &str,
        old: &str,
        new: &str,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(id).filter(users::password_hash.eq(old)))
            .set(users::password_hash.eq(new))
            .execute(conn)
    }

    /// `user.updated`.
    pub fn set_name(
        conn: &mut DbConn,
        id: &str,
        name: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        let set = diesel::update(users::table.find(id))
            .set((users::name.eq(name), users::updated_at.eq(now)))
            .execute(conn)?;
        updated(conn, id, set)
    }

    /// `user.updated`, when it was not verified yet.
    pub fn set_email_verified(
        conn: &mut DbConn,
        id: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        let set = diesel::update(
            users::table
                .find(id)
                .filter(users::email_verified.eq(false)),
        )
        .set((users::email_verified.eq(true), users::updated_at.eq(now)))
        .execute(conn);
        updated(conn, id, crate::db::standing_changed(set)?)
    }

    /// A new address, proven by the link that confirmed it (`user.updated`).
    pub fn set_email(
        conn: &mut DbConn,
        id: &str,
        email: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        let set = diesel::update(users::table.find(id))
            .set((
                users::email.eq(email),
                users::email_verified.eq(true),
                users::updated_at.eq(now),
            ))
            .execute(conn);
        updated(conn, id, crate::db::standing_changed(set)?)
    }

    pub fn count_active_admins(conn: &mut DbConn) -> QueryResult<i64> {
        users::table
            .filter(users::role.eq(Role::Admin.as_str()))
            .filter(users::disabled.eq(false))
            .count()
            .get_result(conn)
    }

    pub fn set_webauthn_id(conn: &mut DbConn, id: &str, handle: &str) -> QueryResult<usize> {
        diesel::update(users::table.find(id).filter(users::webauthn_id.is_null()))
            .set(users::webauthn_id.eq(handle))
            .execute(conn)
    }

    /// Sets the username (trimmed, lower case, as LibreChat keeps it); the user as stored.
    pub fn set_username(conn: &mut DbConn, id: String, username: &str) -> QueryResult<User> {
        let username: String = username.trim().to_lowercase().chars().take(100).collect();
        diesel::update(users::table.find(&id))
            .set(users::username.eq(Some(username)))
            .execute(conn)?;
        users::table.find(&id).select(User::as_select()).first(conn)
    }

    /// Forgets the account's WebAuthn user handle: passkeys made for it name nobody.
    pub fn clear_webauthn_id(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
        diesel::update(users::table.find(id))
            .set(users::webauthn_id.eq(None::<String>))
            .execute(conn)
    }

    pub fn find_by_webauthn_id(conn: &mut DbConn, handle: &str) -> QueryResult<Option<User>> {
        users::table
            .filter(users::webauthn_id.eq(handle))
            .select(User::as_select())
            .first(conn)
            .optional()
    }

    pub fn set_banned_until(
        conn: &mut DbConn,
        id: &str,
        until: Option<NaiveDateTime>,
    ) -> QueryResult<usize> {
        let set = diesel::update(users::table.find(id))
            .set(users::banned_until.eq(until))
            .execute(conn);
        crate::db::standing_changed(set)
    }

    /// `user.deleted` (its sessions' end is for the caller to record, see
    /// `accounts::delete_user_in`).
    pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
        let gone = if events::deliveries::any_endpoint_in(conn)? {
            User::find(conn, id)?
        } else {
            None
        };
        let deleted =
            crate::db::standing_changed(diesel::delete(users::table.find(id)).execute(conn))?;
        if let (1, Some(user)) = (deleted, gone) {
            events::user_in(
                conn,
                kind::USER_DELETED,
                events::UserData::from(&user),
                json!({}),
            )?;
        }
        Ok(deleted)
    }

    /// Every user, oldest first (for the command line).
    pub fn all(conn: &mut DbConn) -> QueryResult<Vec<User>> {
        users::table
            .order((users::created_at.asc(), users::id.asc()))
            .select(User::as_select())
            .load(conn)
    }

    /// `user.updated`.
    pub fn set_role(conn: &mut DbConn, id: &str, role: Role) -> QueryResult<usize> {
        let set = diesel::update(users::table.find(id))
            .set(users::role.eq(role.as_str()))
            .execute(conn);
        updated(conn, id, crate::db::standing_changed(set)?)
    }

    /// Users whose email or name contains `q` (any case), in creation order, after the
    /// `after` id.
    pub fn search(
        conn: &mut DbConn,
        q: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> QueryResult<Vec<User>> {
        let mut query = users::table.select(User::as_select()).into_boxed();
        if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
            let escaped = q
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            let pattern = format!("%{escaped}%");
            query = query.filter(
                lower(users::email)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(users::name).like(pattern).escape('\\')),
            );
        }
        if let Some(after) = after {
            query = query.filter(users::id.gt(after.to_string()));
        }
        query.order(users::id.asc()).limit(limit).load(conn)
    }

    pub fn update_admin_fields(
        conn: &mut DbConn,
        id: &str,
        name: Option<&str>,
        role: Option<Role>,
        disabled: Option<bool>,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        if let Some(name) = name {
            diesel::update(users::table.find(id))
                .set(users::name.eq(name))
                .execute(conn)?;
        }
        if let Some(role) = role {
            diesel::update(users::table.find(id))
                .set(users::role.eq(role.as_str()))
                .execute(conn)?;
        }
        if let Some(disabled) = disabled {
            diesel::update(users::table.find(id))
                .set(users::disabled.eq(disabled))
                .execute(conn)?;
        }
        let set = diesel::update(users::table.find(id))
            .set(users::updated_at.eq(now))
            .execute(conn);
        updated(conn, id, crate::db::standing_changed(set)?)
    }
}

/// `user.updated` when the update changed the user.
fn updated(conn: &mut DbConn, id: &str, set: usize) -> QueryResult<usize> {
    if set == 1 {
        events::about_user_in(conn, kind::USER_UPDATED, id, json!({}))?;
    }
    Ok(set)
}

diesel::define_sql_function! {
    /// SQL `lower()`, on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}
