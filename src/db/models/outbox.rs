use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::outbox;
use crate::db::DbConn;

pub const PENDING: &str = "pending";
pub const SENDING: &str = "sending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";

/// A message in the outbox.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox)]
pub struct OutboxMessage {
    pub id: String,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Leaves out what is secret (the bodies carry tokens).
impl std::fmt::Debug for OutboxMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMessage")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("recipient", &self.recipient)
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .field("next_attempt_at", &self.next_attempt_at)
            .finish_non_exhaustive()
    }
}

impl OutboxMessage {
    /// Deletes the messages to `recipient` that are not being sent this moment (a deleted
    /// account's: pending ones are not sent, sent ones no longer keep the address).
    pub fn forget_recipient(conn: &mut DbConn, recipient: &str) -> QueryResult<usize> {
        diesel::delete(
            outbox::table
                .filter(outbox::recipient.eq(recipient))
                .filter(outbox::state.ne(SENDING)),
        )
        .execute(conn)
    }

    pub fn insert(conn: &mut DbConn, m: &OutboxMessage) -> QueryResult<usize> {
        diesel::insert_into(outbox::table).values(m).execute(conn)
    }

    /// The id of the next message due: pending and due, or claimed by a worker whose
    /// claim has lapsed.
    pub fn next_due_id(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Option<String>> {
        outbox::table
            .filter(
                outbox::state
                    .eq(PENDING)
                    .and(outbox::next_attempt_at.le(now))
                    .or(outbox::state.eq(SENDING).and(outbox::claimed_until.lt(now))),
            )
            .order(outbox::next_attempt_at.asc())
            .select(outbox::id)
            .first(conn)
            .optional()
    }

    pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<OutboxMessage>> {
        outbox::table
            .find(id)
            .select(OutboxMessage::as_select())
            .first(conn)
            .optional()
    }

    pub fn claim(
        conn: &mut DbConn,
        id: &str,
        until: NaiveDateTime,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(outbox::table.find(id))
            .set((
                outbox::state.eq(SENDING),
                outbox::claimed_until.eq(until),
                outbox::updated_at.eq(now),
            ))
            .execute(conn)
    }

    /// Sent: the bodies, which carry tokens, are removed.
    pub fn mark_sent(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(outbox::table.find(id))
            .set((
                outbox::state.eq(SENT),
                outbox::attempts.eq(outbox::attempts + 1),
                outbox::body_text.eq(None::<String>),
                outbox::body_html.eq(None::<String>),
                outbox::claimed_until.eq(None::<NaiveDateTime>),
                outbox::last_error.eq(None::<String>),
                outbox::updated_at.eq(now),
            ))
            .execute(conn)
    }

    /// A failed attempt: retried at `retry_at`, or failed for good (bodies removed).
    pub fn mark_attempt_failed(
        conn: &mut DbConn,
        id: &str,
        error: &str,
        retry_at: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        let target = outbox::table.find(id);
        let common = (
            outbox::attempts.eq(outbox::attempts + 1),
            outbox::last_error.eq(error),
            outbox::claimed_until.eq(None::<NaiveDateTime>),
            outbox::updated_at.eq(now),
        );
        match retry_at {
            Some(at) => diesel::update(target)
                .set((
                    common,
                    outbox::state.eq(PENDING),
                    outbox::next_attempt_at.eq(at),
                ))
                .execute(conn),
            None => diesel::update(target)
                .set((
                    common,
                    outbox::state.eq(FAILED),
                    outbox::body_text.eq(None::<String>),
                    outbox::body_html.eq(None::<String>),
                ))
                .execute(conn),
        }
    }

    /// After a restart of the only SQLite worker, a message it was sending is pending again.
    pub fn release_claims(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(outbox::table.filter(outbox::state.eq(SENDING)))
            .set((
                outbox::state.eq(PENDING),
                outbox::claimed_until.eq(None::<NaiveDateTime>),
                outbox::updated_at.eq(now),
            ))
            .execute(conn)
    }

    pub fn count_in_state(conn: &mut DbConn, state: &str) -> QueryResult<i64> {
        outbox::table
            .filter(outbox::state.eq(state))
            .count()
            .get_result(conn)
    }

    /// Newest first, `limit` at most, before the `before` id for paging.
    pub fn list(
        conn: &mut DbConn,
        state: Option<&str>,
        before: Option<&str>,
        limit: i64,
    ) -> QueryResult<Vec<OutboxMessage>> {
        let mut q = outbox::table
            .select(OutboxMessage::as_select())
            .into_boxed();
        if let Some(s) = state {
            q = q.filter(outbox::state.eq(s.to_string()));
        }
        if let Some(b) = before {
            q = q.filter(outbox::id.lt(b.to_string()));
        }
        q.order(outbox::id.desc()).limit(limit).load(conn)
    }
}
