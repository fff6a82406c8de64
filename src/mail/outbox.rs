//! Queueing and claiming messages. A message is written in the transaction that makes
//! the token it carries, so either both exist or neither does.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::PgConnection;

use crate::db::models::outbox::PENDING;
use crate::db::models::{new_id, now, span, OutboxMessage};
use crate::db::schema::outbox;
use crate::db::{write_tx, DbConn};
use crate::error::ApiResult;
use crate::mail::templates::{Kind, Rendered};

pub fn enqueue_in(conn: &mut DbConn, kind: Kind, to: &str, r: Rendered) -> ApiResult<()> {
    let now = now();
    OutboxMessage::insert(
        conn,
        &OutboxMessage {
            id: new_id(),
            kind: kind.name().to_string(),
            recipient: to.to_string(),
            subject: r.subject,
            body_text: Some(r.text),
            body_html: Some(r.html),
            state: PENDING.to_string(),
            attempts: 0,
            next_attempt_at: now,
            claimed_until: None,
            last_error: None,
            created_at: now,
            updated_at: now,
        },
    )?;
    Ok(())
}

/// The next due message on PostgreSQL, row-locked for the rest of the caller's
/// transaction. `SKIP LOCKED` passes over messages other instances hold, and a lock dies
/// with its connection, so a crashed sender's message is due again at once.
pub fn lock_next_due(
    pg: &mut PgConnection,
    now: NaiveDateTime,
) -> QueryResult<Option<OutboxMessage>> {
    outbox::table
        .filter(outbox::state.eq(PENDING))
        .filter(outbox::next_attempt_at.le(now))
        .order(outbox::next_attempt_at.asc())
        .select(OutboxMessage::as_select())
        .for_update()
        .skip_locked()
        .first(pg)
        .optional()
}

/// Claims the next due message on SQLite, where one worker sends: marked `sending` until
/// its outcome is recorded (a restart puts it back to `pending`).
pub fn claim_next(conn: &mut DbConn, lease: Duration) -> ApiResult<Option<OutboxMessage>> {
    write_tx(conn, |conn| {
        let now = now();
        let Some(id) = OutboxMessage::next_due_id(conn, now)? else {
            return Ok(None);
        };
        let until = now + span(lease);
        OutboxMessage::claim(conn, &id, until, now)?;
        Ok(OutboxMessage::find(conn, &id)?)
    })
}

/// When a failed attempt is tried again: `base`, doubled per earlier attempt, at most an
/// hour; `None` once `max_retries` retries are spent.
pub fn retry_delay(attempts_so_far: i32, base: Duration, max_retries: u32) -> Option<Duration> {
    let attempt = u32::try_from(attempts_so_far).unwrap_or(0);
    if attempt >= max_retries {
        return None;
    }
    Some(crate::queue::backoff(
        base,
        attempt + 1,
        Duration::from_secs(3600),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_stops() {
        let base = Duration::from_secs(5);
        assert_eq!(retry_delay(0, base, 3), Some(Duration::from_secs(5)));
        assert_eq!(retry_delay(1, base, 3), Some(Duration::from_secs(10)));
        assert_eq!(retry_delay(2, base, 3), Some(Duration::from_secs(20)));
        assert_eq!(retry_delay(3, base, 3), None);
        assert_eq!(retry_delay(30, base, 100), Some(Duration::from_secs(3600)));
    }
}
