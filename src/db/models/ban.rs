use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{bans, users};
use crate::db::DbConn;
use crate::events::{self, kind};
use serde_json::json;

/// A ban of a user or an IP until `expires_at`, unless lifted.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = bans)]
pub struct Ban {
    pub id: String,
    pub user_id: Option<String>,
    pub ip: Option<String>,
    pub reason: Option<String>,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub lifted_at: Option<NaiveDateTime>,
}

impl Ban {
    /// Records the ban (`user.banned` for a user's).
    pub fn insert(conn: &mut DbConn, ban: &Ban) -> QueryResult<usize> {
        let inserted = diesel::insert_into(bans::table).values(ban).execute(conn)?;
        if let Some(user_id) = &ban.user_id {
            let until = ban
                .expires_at
                .and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            events::about_user_in(conn, kind::USER_BANNED, user_id, json!({ "until": until }))?;
        }
        Ok(inserted)
    }

    /// Until when `ip` is banned, if it is: a ban of the address itself, or of its
    /// bucket (an IPv6 address's /64, see `ip_bucket`).
    pub fn ip_banned_until(
        conn: &mut DbConn,
        ip: &str,
        now: NaiveDateTime,
    ) -> QueryResult<Option<NaiveDateTime>> {
        let bucket = crate::auth::client::ip_bucket(ip);
        Ban::ip_ban_end(ip, &bucket, now).first(conn)
    }

    /// The query of `ip_banned_until` (with the address's `bucket`), to ask it within
    /// another query.
    #[diesel::dsl::auto_type(no_type_alias)]
    pub fn ip_ban_end<'a>(ip: &'a str, bucket: &'a str, now: NaiveDateTime) -> _ {
        let latest: diesel::helper_types::max<bans::expires_at> =
            diesel::dsl::max(bans::expires_at);
        bans::table
            .filter(bans::ip.eq(ip).or(bans::ip.eq(bucket)))
            .filter(bans::lifted_at.is_null())
            .filter(bans::expires_at.gt(now))
            .select(latest)
    }

    /// Until when the user's latest active ban lasts, if any.
    pub fn user_banned_until(
        conn: &mut DbConn,
        user_id: &str,
        now: NaiveDateTime,
    ) -> QueryResult<Option<NaiveDateTime>> {
        bans::table
            .filter(bans::user_id.eq(user_id))
            .filter(bans::lifted_at.is_null())
            .filter(bans::expires_at.gt(now))
            .select(diesel::dsl::max(bans::expires_at))
            .first(conn)
    }

    pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Ban>> {
        bans::table
            .find(id)
            .select(Ban::as_select())
            .first(conn)
            .optional()
    }

    /// Active bans, newest first.
    pub fn active(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Vec<Ban>> {
        bans::table
            .filter(bans::lifted_at.is_null())
            .filter(bans::expires_at.gt(now))
            .order(bans::created_at.desc())
            .select(Ban::as_select())
            .load(conn)
    }

    /// Lifts an active ban: 1 when it was active (`user.unbanned` for a user's).
    pub fn lift(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
        let lifted = diesel::update(
            bans::table
                .find(id)
                .filter(bans::lifted_at.is_null())
                .filter(bans::expires_at.gt(now)),
        )
        .set(bans::lifted_at.eq(now))
        .execute(conn)?;
        if lifted == 1 {
            if let Some(user_id) = Ban::find(conn, id)?.and_then(|b| b.user_id) {
                events::about_user_in(conn, kind::USER_UNBANNED, &user_id, json!({}))?;
            }
        }
        Ok(lifted)
    }

    /// Sets the user's `banned_until` from its active bans.
    pub fn refresh_user(conn: &mut DbConn, user_id: &str, now: NaiveDateTime) -> QueryResult<()> {
        let until = Ban::user_banned_until(conn, user_id, now)?;
        let set = diesel::update(users::table.find(user_id))
            .set(users::banned_until.eq(until))
            .execute(conn);
        crate::db::standing_changed(set)?;
        Ok(())
    }

    /// Deletes bans that ended (expired or lifted) before `before`.
    pub fn delete_ended(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(
            bans::table.filter(bans::expires_at.lt(before).or(bans::lifted_at.lt(before))),
        )
        .execute(conn)
    }
}
