use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::known_devices;
use crate::db::DbConn;

/// A device an account signed in from (see `auth::devices`). Rows are never pruned: an
/// account whose devices were all forgotten would look new, and new accounts get no notice.
pub struct KnownDevice;

impl KnownDevice {
    /// Whether the account has signed in from any device before.
    pub fn any_for_user(conn: &mut DbConn, user_id: &str) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            known_devices::table.filter(known_devices::user_id.eq(user_id)),
        ))
        .get_result(conn)
    }

    /// When the account last signed in from `device`.
    pub fn last_seen(
        conn: &mut DbConn,
        user_id: &str,
        device: &str,
    ) -> QueryResult<Option<NaiveDateTime>> {
        known_devices::table
            .find((user_id, device))
            .select(known_devices::last_seen_at)
            .first(conn)
            .optional()
    }

    /// Records a sign-in from `device` now. (The caller holds the user's lock: no other
    /// sign-in of the account inserts the same row meanwhile.)
    pub fn seen(
        conn: &mut DbConn,
        user_id: &str,
        device: &str,
        known: bool,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        if known {
            return diesel::update(known_devices::table.find((user_id, device)))
                .set(known_devices::last_seen_at.eq(now))
                .execute(conn);
        }
        diesel::insert_into(known_devices::table)
            .values((
                known_devices::user_id.eq(user_id),
                known_devices::device.eq(device),
                known_devices::first_seen_at.eq(now),
                known_devices::last_seen_at.eq(now),
            ))
            .execute(conn)
    }
}
