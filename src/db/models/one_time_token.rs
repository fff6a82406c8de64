use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::one_time_tokens;
use crate::db::DbConn;

/// A single-use token sent by email; only its keyed hash is stored.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = one_time_tokens)]
pub struct OneTimeToken {
    pub id: String,
    pub kind: String,
    pub user_id: Option<String>,
    pub email: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    /// Verification links only: the password of the registration the link was sent for.
    pub password_hash: Option<String>,
    /// New-device notices only: the session the link reports.
    pub session_id: Option<String>,
}

/// Leaves out the hashes.
impl std::fmt::Debug for OneTimeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneTimeToken")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .field("used_at", &self.used_at)
            .finish_non_exhaustive()
    }
}

impl OneTimeToken {
    pub fn insert(conn: &mut DbConn, token: &OneTimeToken) -> QueryResult<usize> {
        diesel::insert_into(one_time_tokens::table)
            .values(token)
            .execute(conn)
    }

    /// Spends the unused tokens of this kind for this address, so that asking for a new
    /// one invalidates the older ones.
    pub fn invalidate(
        conn: &mut DbConn,
        kind: &str,
        email: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            one_time_tokens::table
                .filter(one_time_tokens::kind.eq(kind))
                .filter(one_time_tokens::email.eq(email))
                .filter(one_time_tokens::used_at.is_null()),
        )
        .set(one_time_tokens::used_at.eq(now))
        .execute(conn)
    }

    /// Spends every unused token of these kinds for the user (by id, or by address for
    /// links sent before the account existed).
    pub fn void_for_user(
        conn: &mut DbConn,
        kinds: &[&str],
        user_id: &str,
        email: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            one_time_tokens::table
                .filter(one_time_tokens::kind.eq_any(kinds))
                .filter(
                    one_time_tokens::user_id
                        .eq(user_id)
                        .or(one_time_tokens::email.eq(email)),
                )
                .filter(one_time_tokens::used_at.is_null()),
        )
        .set(one_time_tokens::used_at.eq(now))
        .execute(conn)
    }

    /// Makes the user's unused tokens of `kind` that carry `old` carry `new` instead: a
    /// registrant who changes the password keeps it when the link is followed.
    pub fn rebind_password(
        conn: &mut DbConn,
        kind: &str,
        user_id: &str,
        old: &str,
        new: &str,
    ) -> QueryResult<usize> {
        diesel::update(
            one_time_tokens::table
                .filter(one_time_tokens::kind.eq(kind))
                .filter(one_time_tokens::user_id.eq(user_id))
                .filter(one_time_tokens::password_hash.eq(old))
                .filter(one_time_tokens::used_at.is_null()),
        )
        .set(one_time_tokens::password_hash.eq(new))
        .execute(conn)
    }

    /// The unused, unexpired token of `kind` with this hash.
    pub fn find_usable(
        conn: &mut DbConn,
        kind: &str,
        hash: &str,
        now: NaiveDateTime,
    ) -> QueryResult<Option<OneTimeToken>> {
        one_time_tokens::table
            .filter(one_time_tokens::token_hash.eq(hash))
            .filter(one_time_tokens::kind.eq(kind))
            .filter(one_time_tokens::used_at.is_null())
            .filter(one_time_tokens::expires_at.gt(now))
            .select(OneTimeToken::as_select())
            .first(conn)
            .optional()
    }

    /// Marks the token used if it still is unused: 1 for the one caller that wins, 0 for
    /// any concurrent use.
    pub fn consume(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(
            one_time_tokens::table
                .find(id)
                .filter(one_time_tokens::used_at.is_null()),
        )
        .set(one_time_tokens::used_at.eq(now))
        .execute(conn)
    }

    /// Deletes every token sent to `email` (a deleted account's, including those sent
    /// before it existed).
    pub fn delete_for_address(conn: &mut DbConn, email: &str) -> QueryResult<usize> {
        diesel::delete(one_time_tokens::table.filter(one_time_tokens::email.eq(email)))
            .execute(conn)
    }

    pub fn delete_expired(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(one_time_tokens::table.filter(one_time_tokens::expires_at.lt(before)))
            .execute(conn)
    }
}
