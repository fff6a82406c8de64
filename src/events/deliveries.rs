//! The `webhook_deliveries` table: one row per event and endpoint, from `pending` to
//! `delivered` or `failed`, and the `webhook_endpoints` it is fanned out to.
//!
//! A worker claims the heads of the queues (per endpoint and user, the oldest pending
//! delivery) until a lease runs out, commits, and sends without holding a connection; it
//! records each outcome only while its claim still holds. On PostgreSQL `SKIP LOCKED` keeps
//! two instances off the same rows while they claim.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};

use crate::db::schema::{webhook_deliveries, webhook_endpoints};
use crate::db::DbConn;
use crate::settings::webhooks::WebhookSettings;

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

/// A delivery as the admin API lists it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    pub seq: i64,
    pub id: String,
    pub event_type: String,
    pub user_id: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_attempt_at: Option<NaiveDateTime>,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// A delivery a worker claimed.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = BigInt)]
    pub seq: i64,
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub endpoint_id: String,
    #[diesel(sql_type = Text)]
    pub event_type: String,
    #[diesel(sql_type = Text)]
    pub body: String,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Timestamp)]
    pub created_at: NaiveDateTime,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub give_up_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Timestamp)]
    pub claimed_until: NaiveDateTime,
}

/// What became of an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Delivered,
    RetryAt(NaiveDateTime),
    Failed,
}

/// One attempt's outcome, to record.
#[derive(Debug, Clone)]
pub struct Attempted {
    pub seq: i64,
    /// The claim it was sent under: the outcome is recorded only while it holds.
    pub claimed_until: NaiveDateTime,
    pub next: Next,
    /// The receiver's HTTP status; `None` when none came (time-out, refused connection).
    pub status: Option<i32>,
    pub error: Option<String>,
    pub at: NaiveDateTime,
}

/// The key deliveries name an endpoint by: a digest of its URL.
pub fn endpoint_key(url: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(url.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes the configured endpoints (at start, before anything can emit an event).
pub fn sync_endpoints_in(conn: &mut DbConn, settings: &WebhookSettings) -> QueryResult<()> {
    diesel::delete(webhook_endpoints::table).execute(conn)?;
    for (i, e) in settings.endpoints.iter().enumerate() {
        let events = match &e.events {
            Some(list) => format!(",{},", list.join(",")),
            None => "*".to_string(),
        };
        diesel::insert_into(webhook_endpoints::table)
            .values((
                webhook_endpoints::id.eq(endpoint_key(&e.url)),
                webhook_endpoints::url.eq(&e.url),
                webhook_endpoints::events.eq(events),
                webhook_endpoints::id_suffix.eq(if i == 0 {
                    String::new()
                } else {
                    format!("_{}", i + 1)
                }),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn any_endpoint_in(conn: &mut DbConn) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        webhook_endpoints::table.select(webhook_endpoints::id),
    ))
    .get_result(conn)
}

/// One delivery of the event `id` per endpoint that wants `kind` (a ping goes to all),
/// in one statement: nothing when none does.
pub fn insert_in(
    conn: &mut DbConn,
    id: &str,
    kind: &str,
    user_id: Option<&str>,
    body: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let sql = |p: [&str; 6]| {
        format!(
            "INSERT INTO webhook_deliveries \
               (id, endpoint_id, event_type, user_id, body, status, attempts, next_attempt_at, created_at) \
             SELECT {0} || e.id_suffix, e.id, {1}, {2}, {3}, 'pending', 0, {4}, {4} \
             FROM webhook_endpoints e \
             WHERE e.events = '*' OR e.events LIKE {5} OR {1} = 'ping'",
            p[0], p[1], p[2], p[3], p[4], p[5]
        )
    };
    let pattern = format!("%,{kind},%");
    match conn {
        DbConn::Postgres(pg) => diesel::sql_query(sql(["$1", "$2", "$3", "$4", "$5", "$6"]))
            .bind::<Text, _>(id)
            .bind::<Text, _>(kind)
            .bind::<Nullable<Text>, _>(user_id)
            .bind::<Text, _>(body)
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(&pattern)
            .execute(pg),
        DbConn::Sqlite(lite) => diesel::sql_query(sql(["?1", "?2", "?3", "?4", "?5", "?6"]))
            .bind::<Text, _>(id)
            .bind::<Text, _>(kind)
            .bind::<Nullable<Text>, _>(user_id)
            .bind::<Text, _>(body)
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(&pattern)
            .execute(lite),
    }
    .map(|_| ())
}

/// Claims up to `limit` due deliveries until `until`: of each endpoint's queue per user,
/// only the oldest pending one (a later one waits while it is pending, even claimed).
pub fn claim_in(
    conn: &mut DbConn,
    now: NaiveDateTime,
    until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Claimed>> {
    let sql = |p: [&str; 3], lock: &str| {
        format!(
            "UPDATE webhook_deliveries SET claimed_until = {0} WHERE seq IN ( \
               SELECT d.seq FROM webhook_deliveries d \
               WHERE d.status = 'pending' AND d.next_attempt_at <= {1} \
                 AND (d.claimed_until IS NULL OR d.claimed_until < {1}) \
                 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
                   WHERE e.status = 'pending' AND e.endpoint_id = d.endpoint_id \
                     AND e.user_id = d.user_id AND e.seq < d.seq) \
               ORDER BY d.seq LIMIT {2} {lock}) \
             RETURNING seq, id, endpoint_id, event_type, body, attempts, created_at, \
               give_up_at, claimed_until",
            p[0], p[1], p[2]
        )
    };
    let mut claimed: Vec<Claimed> = match conn {
        DbConn::Postgres(pg) => {
            diesel::sql_query(sql(["$1", "$2", "$3"], "FOR UPDATE SKIP LOCKED"))
                .bind::<Timestamp, _>(until)
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(limit)
                .load(pg)?
        }
        DbConn::Sqlite(lite) => diesel::sql_query(sql(["?1", "?2", "?3"], ""))
            .bind::<Timestamp, _>(until)
            .bind::<Timestamp, _>(now)
            .bind::<BigInt, _>(limit)
            .load(lite)?,
    };
    claimed.sort_by_key(|c| c.seq);
    Ok(claimed)
}

/// Records an attempt, if the claim it was made under still holds.
pub fn record_in(conn: &mut DbConn, a: &Attempted) -> QueryResult<usize> {
    let (status, next_at) = match a.next {
        Next::Delivered => (DELIVERED, None),
        Next::RetryAt(at) => (PENDING, Some(at)),
        Next::Failed => (FAILED, None),
    };
    let target = webhook_deliveries::table
        .filter(webhook_deliveries::seq.eq(a.seq))
        .filter(webhook_deliveries::claimed_until.eq(a.claimed_until));
    let error: Option<String> = a.error.as_ref().map(|e| e.chars().take(300).collect());
    let common = (
        webhook_deliveries::status.eq(status),
        webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
        webhook_deliveries::last_status.eq(a.status),
        webhook_deliveries::last_error.eq(error),
        webhook_deliveries::last_attempt_at.eq(a.at),
        webhook_deliveries::claimed_until.eq(None::<NaiveDateTime>),
    );
    match next_at {
        Some(at) => diesel::update(target)
            .set((common, webhook_deliveries::next_attempt_at.eq(at)))
            .execute(conn),
        None => diesel::update(target).set(common).execute(conn),
    }
}

/// Forgets deliveries that are done: delivered ones after a week, failed ones after 30
/// days (time enough to replay them).
pub fn prune_in(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    let delivered = diesel::delete(
        webhook_deliveries::table
            .filter(webhook_deliveries::status.eq(DELIVERED))
            .filter(webhook_deliveries::created_at.lt(now - chrono::Duration::days(7))),
    )
    .execute(conn)?;
    let failed = diesel::delete(
        webhook_deliveries::table
            .filter(webhook_deliveries::status.eq(FAILED))
            .filter(webhook_deliveries::created_at.lt(now - chrono::Duration::days(30))),
    )
    .execute(conn)?;
    Ok(delivered + failed)
}

/// Drops every claim (SQLite at start: its one worker is this process).
pub fn release_claims_in(conn: &mut DbConn) -> QueryResult<usize> {
    diesel::update(
        webhook_deliveries::table.filter(webhook_deliveries::claimed_until.is_not_null()),
    )
    .set(webhook_deliveries::claimed_until.eq(None::<NaiveDateTime>))
    .execute(conn)
}

/// Deliveries newest first, of one status or all, after the cursor `before` (a `seq`).
pub fn list_in(
    conn: &mut DbConn,
    status: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Delivery>> {
    let mut q = webhook_deliveries::table
        .select(Delivery::as_select())
        .into_boxed();
    if let Some(status) = status {
        q = q.filter(webhook_deliveries::status.eq(status.to_string()));
    }
    if let Some(before) = before {
        q = q.filter(webhook_deliveries::seq.lt(before));
    }
    q.order(webhook_deliveries::seq.desc())
        .limit(limit)
        .load(conn)
}

/// Makes the delivery `id` due now for one more attempt (marked failed if that one fails).
pub fn retry_in(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq(id)))
        .set((
            webhook_deliveries::status.eq(PENDING),
            webhook_deliveries::next_attempt_at.eq(now),
            webhook_deliveries::give_up_at.eq(Some(now)),
            webhook_deliveries::claimed_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
}

/// The status and last error of each delivery of `ids` (for `latch webhooks test`).
pub fn statuses_in(
    conn: &mut DbConn,
    ids: &[String],
) -> QueryResult<Vec<(String, Option<String>)>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::id.eq_any(ids))
        .select((webhook_deliveries::status, webhook_deliveries::last_error))
        .load(conn)
}

/// Gives the deliveries of `ids` up at `at`, whatever the retry settings.
pub fn give_up_at_in(conn: &mut DbConn, ids: &[String], at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(ids)))
        .set(webhook_deliveries::give_up_at.eq(Some(at)))
        .execute(conn)
}

/// The ids of the deliveries of the event `event_id` (one per endpoint).
pub fn ids_of_event_in(conn: &mut DbConn, event_id: &str) -> QueryResult<Vec<String>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::id.like(format!("{event_id}%")))
        .select(webhook_deliveries::id)
        .load(conn)
}
