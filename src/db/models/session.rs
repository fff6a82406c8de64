use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::models::User;
use crate::db::schema::{sessions, users};
use crate::db::DbConn;
use crate::events::{self, kind};

/// One signed-in device.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_reason: Option<String>,
    /// When the session last proved the factors its account needs (`None`: never known).
    pub auth_time: Option<NaiveDateTime>,
    /// With which methods (RFC 8176 `amr` values, comma-separated).
    pub amr: String,
    /// The provider it was opened through, for a social or SAML sign-in.
    pub provider: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub auth_time: NaiveDateTime,
    pub amr: &'a str,
    pub provider: Option<&'a str>,
}

/// Why a session ended, as stored in `revoked_reason`.
pub mod reason {
    pub const LOGOUT: &str = "logout";
    pub const LOGOUT_ALL: &str = "logout_all";
    pub const REVOKED_BY_USER: &str = "revoked_by_user";
    pub const SESSION_LIMIT: &str = "session_limit";
    pub const PASSWORD_CHANGED: &str = "password_changed";
    pub const PASSWORD_RESET: &str = "password_reset";
    pub const PASSWORD_SET_BY_ADMIN: &str = "password_set_by_admin";
    pub const REVOKED_BY_ADMIN: &str = "revoked_by_admin";
    pub const REFRESH_TOKEN_REUSED: &str = "refresh_token_reused";
    pub const DISABLED: &str = "disabled";
    pub const BANNED: &str = "banned";
    pub const INVITE_ACCEPTED: &str = "invite_accepted";
    /// The address of a never-verified account was proven: whoever signed in before had
    /// not proven it.
    pub const ADDRESS_PROVEN: &str = "address_proven";
    /// The user was deleted.
    pub const DELETED: &str = "deleted";
    /// The owner reported a sign-in that was not theirs.
    pub const REPORTED: &str = "reported";
    /// Past `SESSION_MAX_AGE`.
    pub const EXPIRED: &str = "expired";
}

impl Session {
    pub fn is_active(&self, now: NaiveDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }

    /// Opens the session (`session.created`).
    pub fn insert(conn: &mut DbConn, new: &NewSession<'_>) -> QueryResult<usize> {
        let inserted = diesel::insert_into(sessions::table)
            .values(new)
            .execute(conn)?;
        events::session_in(conn, kind::SESSION_CREATED, new.id, new.user_id, None)?;
        Ok(inserted)
    }

    pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Session>> {
        sessions::table
            .find(id)
            .select(Session::as_select())
            .first(conn)
            .optional()
    }

    /// The session and its user, in one query.
    pub fn find_with_user(conn: &mut DbConn, id: &str) -> QueryResult<Option<(Session, User)>> {
        sessions::table
            .inner_join(users::table)
            .filter(sessions::id.eq(id))
            .select((Session::as_select(), User::as_select()))
            .first(conn)
            .optional()
    }

    /// The user's unrevoked, unexpired sessions, newest first.
    pub fn list_active(
        conn: &mut DbConn,
        user_id: &str,
        now: NaiveDateTime,
    ) -> QueryResult<Vec<Session>> {
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(now))
            .order((sessions::created_at.desc(), sessions::id.desc()))
            .select(Session::as_select())
            .load(conn)
    }

    /// Revokes one active session (`session.revoked`); returns how many rows changed (0
    /// or 1).
    pub fn revoke(
        conn: &mut DbConn,
        id: &str,
        why: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        let revoked = diesel::update(
            sessions::table
                .find(id)
                .filter(sessions::revoked_at.is_null()),
        )
        .set((
            sessions::revoked_at.eq(now),
            sessions::revoked_reason.eq(why),
        ))
        .execute(conn);
        let revoked = crate::db::standing_changed(revoked)?;
        if revoked == 1 {
            let user_id: String = sessions::table
                .find(id)
                .select(sessions::user_id)
                .first(conn)?;
            events::session_in(conn, kind::SESSION_REVOKED, id, &user_id, Some(why))?;
        }
        Ok(revoked)
    }

    /// Revokes every active session of the user, but `keep` when given (a
    /// `session.revoked` each).
    pub fn revoke_all(
        conn: &mut DbConn,
        user_id: &str,
        keep: Option<&str>,
        why: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        // Expired ones ended already.
        let ids: Vec<String> = sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(now))
            .filter(sessions::id.ne(keep.unwrap_or("")))
            .select(sessions::id)
            .load(conn)?;
        if ids.is_empty() {
            return Ok(0);
        }
        let revoked = diesel::update(
            sessions::table
                .filter(sessions::id.eq_any(&ids))
                .filter(sessions::revoked_at.is_null()),
        )
        .set((
            sessions::revoked_at.eq(now),
            sessions::revoked_reason.eq(why),
        ))
        .execute(conn);
        let revoked = crate::db::standing_changed(revoked)?;
        for id in &ids {
            events::session_in(conn, kind::SESSION_REVOKED, id, user_id, Some(why))?;
        }
        Ok(revoked)
    }

    /// Records a new authentication of the session (`POST /auth/reauthenticate`).
    pub fn reauthenticated(
        conn: &mut DbConn,
        id: &str,
        at: NaiveDateTime,
        amr: &str,
    ) -> QueryResult<usize> {
        diesel::update(sessions::table.find(id))
            .set((sessions::auth_time.eq(at), sessions::amr.eq(amr)))
            .execute(conn)
    }

    /// Adds a method to what the session proved (a factor it set up counts as proven).
    pub fn prove_method(conn: &mut DbConn, session: &Session, method: &str) -> QueryResult<usize> {
        let amr = crate::auth::fresh::with_method(&session.amr, method);
        diesel::update(sessions::table.find(&session.id))
            .set(sessions::amr.eq(amr))
            .execute(conn)
    }

    /// Records a use and slides the expiry to that of the newest refresh token.
    pub fn touch(
        conn: &mut DbConn,
        id: &str,
        now: NaiveDateTime,
        expires_at: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(sessions::table.find(id))
            .set((
                sessions::last_used_at.eq(now),
                sessions::expires_at.eq(expires_at),
            ))
            .execute(conn)
    }

    /// Deletes sessions that expired before `before`, with their refresh tokens (by
    /// cascade). An expired session can never be used again, so nothing is lost.
    pub fn delete_expired(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(sessions::table.filter(sessions::expires_at.lt(before))).execute(conn)
    }
}
