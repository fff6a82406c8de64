use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::signing_keys;
use crate::db::DbConn;

/// A JWT signing key pair, kept in the database so every instance shares it. The private
/// half is sealed when `JWT_KEYS_ENCRYPTION_KEY` is set.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKey {
    pub id: String,
    pub alg: String,
    pub private_jwk: String,
    pub public_jwk: String,
    pub created_at: NaiveDateTime,
    /// When it stopped (or will stop) signing: a newer key took over.
    pub retired_at: Option<NaiveDateTime>,
    /// When it starts (or started) signing; `None` for keys made before this was kept.
    pub activates_at: Option<NaiveDateTime>,
}

/// Leaves out the private key.
impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .field("alg", &self.alg)
            .field("activates_at", &self.activates_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn activates(&self) -> NaiveDateTime {
        self.activates_at.unwrap_or(self.created_at)
    }

    pub fn insert(conn: &mut DbConn, key: &SigningKey) -> QueryResult<usize> {
        diesel::insert_into(signing_keys::table)
            .values(key)
            .execute(conn)
    }

    /// Keys of `alg` still published: not retired, or retired after `retired_since`
    /// (tokens they signed may still be unexpired). Newest first.
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
            .order((signing_keys::created_at.desc(), signing_keys::id.desc()))
            .select(SigningKey::as_select())
            .load(conn)
    }

    /// Every key, of every algorithm (sealing them at a start).
    pub fn all(conn: &mut DbConn) -> QueryResult<Vec<SigningKey>> {
        signing_keys::table
            .select(SigningKey::as_select())
            .load(conn)
    }

    pub fn set_private(conn: &mut DbConn, id: &str, private_jwk: &str) -> QueryResult<usize> {
        diesel::update(signing_keys::table.find(id))
            .set(signing_keys::private_jwk.eq(private_jwk))
            .execute(conn)
    }

    /// Ends the signing of every key of `alg` that signs at `at` or would later.
    pub fn retire_at(conn: &mut DbConn, alg: &str, at: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(
            signing_keys::table
                .filter(signing_keys::alg.eq(alg))
                .filter(
                    signing_keys::retired_at
                        .is_null()
                        .or(signing_keys::retired_at.gt(at)),
                ),
        )
        .set(signing_keys::retired_at.eq(at))
        .execute(conn)
    }

    /// Removes a key (a leaked one): 1 when it existed.
    pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
        diesel::delete(signing_keys::table.find(id)).execute(conn)
    }

    /// Makes a key published ahead sign from `at`.
    pub fn activate(conn: &mut DbConn, id: &str, at: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(signing_keys::table.find(id))
            .set(signing_keys::activates_at.eq(at))
            .execute(conn)
    }
}
