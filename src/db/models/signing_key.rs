use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::signing_keys;
use crate::db::DbConn;

/// A JWT signing key pair, kept in the database so every instance shares it.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKey {
    pub id: String,
    pub alg: String,
    pub private_jwk: String,
    pub public_jwk: String,
    pub created_at: NaiveDateTime,
    pub retired_at: Option<NaiveDateTime>,
}

/// Leaves out what is secret (the private key).
impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn insert(conn: &mut DbConn, key: &SigningKey) -> QueryResult<usize> {
        diesel::insert_into(signing_keys::table)
            .values(key)
            .execute(conn)
    }

    /// Keys of `alg` still good for verification (not retired, or retired after
    /// `retired_since`), newest first: the first is the one that signs.
    pub fn usable(
        conn: &mut DbConn,
        alg: &str,
        retired_since: NaiveDateTime,
    ) -> QueryResult<Vec<SigningKey>> {
        signing_keys::table
            .filter(signing_keys::alg.eq(alg))
            .filter(
                signing_keys::retired_at
                    .is_null()
                    .or(signing_keys::retired_at.gt(retired_since)),
            )
            .order(signing_keys::created_at.desc())
            .select(SigningKey::as_select())
            .load(conn)
    }

    pub fn retire_current(conn: &mut DbConn, alg: &str, now: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(
            signing_keys::table
                .filter(signing_keys::alg.eq(alg))
                .filter(signing_keys::retired_at.is_null()),
        )
        .set(signing_keys::retired_at.eq(now))
        .execute(conn)
    }
}
