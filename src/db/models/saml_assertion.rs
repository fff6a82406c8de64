use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};

use crate::db::schema::saml_assertions;
use crate::db::DbConn;

/// A SAML assertion that was used to sign in, remembered until it expires.
#[derive(Debug, Insertable)]
#[diesel(table_name = saml_assertions)]
pub struct SamlAssertion {
    pub id_hash: String,
    pub expires_at: NaiveDateTime,
}

impl SamlAssertion {
    /// Records the assertion's first use: `false` when it was used before (a replay).
    pub fn first_use(
        conn: &mut DbConn,
        id_hash: &str,
        expires_at: NaiveDateTime,
    ) -> QueryResult<bool> {
        let row = SamlAssertion {
            id_hash: id_hash.to_string(),
            expires_at,
        };
        match diesel::insert_into(saml_assertions::table)
            .values(&row)
            .execute(conn)
        {
            Ok(_) => Ok(true),
            Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn delete_expired(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(saml_assertions::table.filter(saml_assertions::expires_at.lt(before)))
            .execute(conn)
    }
}
