use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Text, Timestamp};

use crate::db::models::{Session, User};
use crate::db::schema::{refresh_tokens, sessions, users};
use crate::db::DbConn;

/// A stored refresh token: only its keyed hash, never the token.
#[derive(Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    pub id: String,
    pub session_id: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub rotated_at: Option<NaiveDateTime>,
}

/// Leaves out the hash.
impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("id", &self.id)
            .field("session_id", &self.session_id)
            .field("expires_at", &self.expires_at)
            .field("rotated_at", &self.rotated_at)
            .finish_non_exhaustive()
    }
}

/// The token, its session and the session's user.
pub type ForRefresh = (RefreshToken, Session, User);

#[derive(Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefreshToken<'a> {
    pub id: &'a str,
    pub session_id: &'a str,
    pub token_hash: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl RefreshToken {
    pub fn insert(conn: &mut DbConn, new: &NewRefreshToken<'_>) -> QueryResult<usize> {
        diesel::insert_into(refresh_tokens::table)
            .values(new)
            .execute(conn)
    }

    pub fn find_by_hash(conn: &mut DbConn, hash: &str) -> QueryResult<Option<RefreshToken>> {
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(hash))
            .select(RefreshToken::as_select())
            .first(conn)
            .optional()
    }

    /// What a refresh decides on, in one query.
    pub fn find_for_refresh(conn: &mut DbConn, hash: &str) -> QueryResult<Option<ForRefresh>> {
        refresh_tokens::table
            .inner_join(sessions::table.inner_join(users::table))
            .filter(refresh_tokens::token_hash.eq(hash))
            .select((
                RefreshToken::as_select(),
                Session::as_select(),
                User::as_select(),
            ))
            .first(conn)
            .optional()
    }

    /// Marks the token rotated if nobody has yet. Returns 1 for the caller that won,
    /// 0 when a concurrent request rotated it first: an atomic claim on both backends.
    pub fn claim_rotation(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(
            refresh_tokens::table
                .find(id)
                .filter(refresh_tokens::rotated_at.is_null()),
        )
        .set(refresh_tokens::rotated_at.eq(now))
        .execute(conn)
    }

    /// Exchanges the token `id` for `successor` if nobody has yet and its session is not
    /// revoked: marks it rotated, stores the successor and slides the session's expiry to
    /// the successor's. True for the caller that won. One statement on PostgreSQL (atomic
    /// without a transaction, one round trip); on SQLite, three inside the caller's write
    /// transaction.
    pub fn rotate(
        conn: &mut DbConn,
        id: &str,
        successor: &NewRefreshToken<'_>,
    ) -> QueryResult<bool> {
        let now = successor.created_at;
        if let DbConn::Postgres(pg) = conn {
            let touched = PgRotation { id, successor }.execute(pg)?;
            return Ok(touched == 1);
        }
        if RefreshToken::claim_rotation(conn, id, now)? != 1 {
            return Ok(false);
        }
        RefreshToken::insert(conn, successor)?;
        Session::touch(conn, successor.session_id, now, successor.expires_at)?;
        Ok(true)
    }

    /// Deletes refresh tokens that expired before `before`. An expired token is refused
    /// before any reuse check, so keeping it would detect nothing.
    pub fn delete_expired(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(refresh_tokens::table.filter(refresh_tokens::expires_at.lt(before)))
            .execute(conn)
    }
}

/// The PostgreSQL rotation: one statement that claims the token (if its session is not
/// revoked), stores the successor and slides the session's expiry. Written as a query
/// type with a static id rather than `sql_query`, so that Diesel prepares it once per
/// connection instead of PostgreSQL parsing and planning it on every refresh.
struct PgRotation<'a> {
    id: &'a str,
    successor: &'a NewRefreshToken<'a>,
}

impl QueryId for PgRotation<'_> {
    type QueryId = PgRotation<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for PgRotation<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let new = self.successor;
        out.push_sql("WITH claimed AS (UPDATE refresh_tokens SET rotated_at = ");
        out.push_bind_param::<Timestamp, _>(&new.created_at)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, _>(self.id)?;
        out.push_sql(
            " AND rotated_at IS NULL AND EXISTS (SELECT 1 FROM sessions s \
             WHERE s.id = refresh_tokens.session_id AND s.revoked_at IS NULL) \
             RETURNING session_id), \
             stored AS (INSERT INTO refresh_tokens \
             (id, session_id, token_hash, created_at, expires_at) SELECT ",
        );
        out.push_bind_param::<Text, _>(new.id)?;
        out.push_sql(", session_id, ");
        out.push_bind_param::<Text, _>(new.token_hash)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&new.created_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&new.expires_at)?;
        out.push_sql(" FROM claimed RETURNING session_id) UPDATE sessions SET last_used_at = ");
        out.push_bind_param::<Timestamp, _>(&new.created_at)?;
        out.push_sql(", expires_at = ");
        out.push_bind_param::<Timestamp, _>(&new.expires_at)?;
        out.push_sql(" WHERE id IN (SELECT session_id FROM stored)");
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for PgRotation<'_> {}

/// PostgreSQL's refresh in one round trip, in the common case: one statement exchanges
/// the current token `hash` for its successor (when its session is live and within
/// `SESSION_MAX_AGE`), slides the session's expiry, and returns the session and its user
/// for the gate to decide on. No row: the token is not current (spent, unknown, expired,
/// its session ended or too old), and the caller takes the long way, which tells those
/// apart. A query type with a static id, so that it is prepared once per connection.
pub struct PgRefresh<'a> {
    pub hash: &'a str,
    pub successor_id: &'a str,
    pub successor_hash: &'a str,
    pub now: NaiveDateTime,
    /// `now` plus the refresh token's lifetime.
    pub until: NaiveDateTime,
    /// Sessions opened at or before this are past `SESSION_MAX_AGE`.
    pub oldest: NaiveDateTime,
    /// `SESSION_MAX_AGE` in seconds.
    pub max_age: f64,
}

impl QueryId for PgRefresh<'_> {
    type QueryId = PgRefresh<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for PgRefresh<'_> {
    type SqlType = (
        diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<Session, Pg>>,
        diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<User, Pg>>,
    );
}

impl QueryFragment<Pg> for PgRefresh<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH claimed AS (UPDATE refresh_tokens SET rotated_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" FROM sessions s WHERE refresh_tokens.token_hash = ");
        out.push_bind_param::<Text, _>(self.hash)?;
        out.push_sql(" AND refresh_tokens.rotated_at IS NULL AND refresh_tokens.expires_at > ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(
            " AND s.id = refresh_tokens.session_id AND s.revoked_at IS NULL AND s.expires_at > ",
        );
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" AND s.created_at > ");
        out.push_bind_param::<Timestamp, _>(&self.oldest)?;
        out.push_sql(" RETURNING refresh_tokens.session_id, LEAST(");
        out.push_bind_param::<Timestamp, _>(&self.until)?;
        out.push_sql(", s.created_at + make_interval(secs => ");
        out.push_bind_param::<diesel::sql_types::Double, _>(&self.max_age)?;
        out.push_sql(
            ")) AS expires_at), \
             stored AS (INSERT INTO refresh_tokens \
             (id, session_id, token_hash, created_at, expires_at) SELECT ",
        );
        out.push_bind_param::<Text, _>(self.successor_id)?;
        out.push_sql(", session_id, ");
        out.push_bind_param::<Text, _>(self.successor_hash)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(
            ", expires_at FROM claimed RETURNING session_id, expires_at), \
             touched AS (UPDATE sessions SET last_used_at = ",
        );
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        // The columns in the order of `Session` and `User`.
        out.push_sql(
            ", expires_at = stored.expires_at FROM stored WHERE sessions.id = stored.session_id \
             RETURNING sessions.id, sessions.user_id, sessions.created_at, \
             sessions.last_used_at, sessions.expires_at, sessions.user_agent, sessions.ip, \
             sessions.revoked_at, sessions.revoked_reason, sessions.auth_time, sessions.amr, \
             sessions.provider) \
             SELECT touched.*, u.id, u.email, u.name, u.password_hash, u.role, \
             u.email_verified, u.disabled, u.created_at, u.updated_at, u.banned_until, \
             u.webauthn_id, u.username, u.legacy_id \
             FROM touched JOIN users u ON u.id = touched.user_id",
        );
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for PgRefresh<'_> {}
