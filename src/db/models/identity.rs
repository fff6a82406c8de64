use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::models::User;
use crate::db::schema::{identities, users};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::events::{self, kind};

/// An identity at a social provider, linked to a user.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = identities)]
pub struct Identity {
    pub id: String,
    pub user_id: String,
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
}

impl Identity {
    /// Links the identity (`identity.linked`); one already linked (a concurrent first
    /// sign-in) is `409`.
    pub fn insert(conn: &mut DbConn, identity: &Identity) -> ApiResult<()> {
        match diesel::insert_into(identities::table)
            .values(identity)
            .execute(conn)
        {
            Ok(_) => Ok(identity_event(
                conn,
                kind::IDENTITY_LINKED,
                &identity.user_id,
                &identity.provider,
            )?),
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                Err(ApiError::Conflict("identity_taken"))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn find(conn: &mut DbConn, provider: &str, subject: &str) -> QueryResult<Option<Identity>> {
        identities::table
            .filter(identities::provider.eq(provider))
            .filter(identities::subject.eq(subject))
            .select(Identity::as_select())
            .first(conn)
            .optional()
    }

    /// The identity and the user it belongs to, in one query.
    pub fn find_with_user(
        conn: &mut DbConn,
        provider: &str,
        subject: &str,
    ) -> QueryResult<Option<(Identity, User)>> {
        identities::table
            .inner_join(users::table)
            .filter(identities::provider.eq(provider))
            .filter(identities::subject.eq(subject))
            .select((Identity::as_select(), User::as_select()))
            .first(conn)
            .optional()
    }

    pub fn for_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<Identity>> {
        identities::table
            .filter(identities::user_id.eq(user_id))
            .order(identities::created_at.asc())
            .select(Identity::as_select())
            .load(conn)
    }

    /// Records a sign-in with the identity, at most once a day: nothing reads the time
    /// closer than that, and most sign-ins then write nothing here.
    pub fn touch(conn: &mut DbConn, identity: &Identity, now: NaiveDateTime) -> QueryResult<()> {
        if identity.last_used_at > now - chrono::Duration::days(1) {
            return Ok(());
        }
        diesel::update(identities::table.find(&identity.id))
            .set(identities::last_used_at.eq(now))
            .execute(conn)
            .map(|_| ())
    }

    /// Unlinks the user's identity `id` (`identity.unlinked`); 0 when it is not theirs.
    pub fn delete(conn: &mut DbConn, user_id: &str, id: &str) -> QueryResult<usize> {
        let target = identities::table
            .filter(identities::id.eq(id))
            .filter(identities::user_id.eq(user_id));
        let provider: Option<String> =
            target.select(identities::provider).first(conn).optional()?;
        let deleted = diesel::delete(target).execute(conn)?;
        if let (1, Some(provider)) = (deleted, provider) {
            identity_event(conn, kind::IDENTITY_UNLINKED, user_id, &provider)?;
        }
        Ok(deleted)
    }

    /// Unlinks every identity of the user (an `identity.unlinked` each).
    pub fn delete_all(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
        let providers: Vec<String> = identities::table
            .filter(identities::user_id.eq(user_id))
            .select(identities::provider)
            .load(conn)?;
        let deleted = diesel::delete(identities::table.filter(identities::user_id.eq(user_id)))
            .execute(conn)?;
        for provider in &providers {
            identity_event(conn, kind::IDENTITY_UNLINKED, user_id, provider)?;
        }
        Ok(deleted)
    }
}

fn identity_event(conn: &mut DbConn, kind: &str, user_id: &str, provider: &str) -> QueryResult<()> {
    events::about_user_in(
        conn,
        kind,
        user_id,
        serde_json::json!({ "provider": provider }),
    )
}
