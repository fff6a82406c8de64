//! Fixed-window counters shared by every instance: a row per key in the database, or a
//! key in Redis (`USE_REDIS`). A hit increments the key's count and says when its window
//! ends; a window that has ended starts again at one.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use crate::db::models::{now, span};
use crate::db::{Db, DbConn};
use crate::error::{ApiError, ApiResult};

/// A key's count in its current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub count: u64,
    /// Until the window ends.
    pub resets_in: Duration,
}

#[derive(Clone)]
pub enum Counters {
    Database(Db),
    Redis {
        conn: redis::aio::ConnectionManager,
        prefix: String,
    },
}

/// INCRBY, with the window's expiry set by the hit that starts it.
const REDIS_HIT: &str = r"
local c = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if c == tonumber(ARGV[2]) or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {c, ttl}
";

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    count: i64,
    #[diesel(sql_type = Timestamp)]
    window_end: NaiveDateTime,
}

impl Row {
    fn count_at(&self, now: NaiveDateTime) -> Count {
        Count {
            count: self.count.max(0) as u64,
            resets_in: (self.window_end - now).to_std().unwrap_or_default(),
        }
    }
}

/// One statement on either backend: insert the key, or add to it (or start a new window).
fn add_in(
    conn: &mut DbConn,
    key: &str,
    by: i64,
    window: Duration,
    now: NaiveDateTime,
) -> QueryResult<Row> {
    let end = now + span(window);
    let sql = |p: [&str; 4]| {
        format!(
            "INSERT INTO rate_counters (key, count, window_end) VALUES ({0}, {3}, {1}) \
             ON CONFLICT (key) DO UPDATE SET \
               count = CASE WHEN rate_counters.window_end <= {2} THEN {3} ELSE rate_counters.count + {3} END, \
               window_end = CASE WHEN rate_counters.window_end <= {2} THEN {1} ELSE rate_counters.window_end END \
             RETURNING CAST(count AS BIGINT) AS count, window_end",
            p[0], p[1], p[2], p[3]
        )
    };
    match conn {
        DbConn::Postgres(pg) => diesel::sql_query(sql(["$1", "$2", "$3", "$4"]))
            .bind::<Text, _>(key)
            .bind::<Timestamp, _>(end)
            .bind::<Timestamp, _>(now)
            .bind::<diesel::sql_types::Integer, _>(by as i32)
            .get_result(pg),
        DbConn::Sqlite(lite) => diesel::sql_query(sql(["?1", "?2", "?3", "?4"]))
            .bind::<Text, _>(key)
            .bind::<Timestamp, _>(end)
            .bind::<Timestamp, _>(now)
            .bind::<diesel::sql_types::Integer, _>(by as i32)
            .get_result(lite),
    }
}

impl Counters {
    /// Connects to Redis as `settings` say. Credentials it refuses stop the start, naming
    /// `REDIS_PASSWORD` (otherwise every counted request would answer `503` later).
    pub async fn connect_redis(
        settings: &crate::settings::moderation::RedisSettings,
    ) -> anyhow::Result<Counters> {
        use secrecy::ExposeSecret;
        let uri = settings.uri.expose_secret();
        let client = match &settings.ca {
            Some(ca) => redis::Client::build_with_tls(
                uri,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(ca.clone()),
                },
            ),
            None => redis::Client::open(uri),
        }
        .map_err(|e| anyhow::anyhow!("setting REDIS_URI: {e}"))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2);
        let mut conn = redis::aio::ConnectionManager::new_with_config(client, config)
            .await
            .map_err(redis_start_error)?;
        redis::cmd("PING")
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_start_error)?;
        Ok(Counters::Redis {
            conn,
            prefix: format!("{}:", settings.key_prefix),
        })
    }

    /// Whether the counters can be reached (`/readyz`): always for the database, which
    /// readiness checks anyway; a `PING` for Redis.
    pub async fn ready(&self) -> ApiResult<()> {
        match self {
            Counters::Database(_) => Ok(()),
            Counters::Redis { conn, .. } => {
                let mut conn = conn.clone();
                redis::cmd("PING")
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(redis_down)
            }
        }
    }

    /// Counts a hit on `key` in a window of `window`.
    pub async fn hit(&self, key: &str, window: Duration) -> ApiResult<Count> {
        self.add(key, 1, window).await
    }

    /// Asks `first` of the database `db`, then counts a hit on `key` unless it answered
    /// (`Err` with its answer): one trip to the database when the counters are kept
    /// there.
    pub async fn hit_unless<T: Send + 'static>(
        &self,
        db: &Db,
        key: &str,
        window: Duration,
        first: impl FnOnce(&mut DbConn) -> QueryResult<Option<T>> + Send + 'static,
    ) -> ApiResult<Result<Count, T>> {
        let Counters::Database(counters) = self else {
            if let Some(answer) = db.run(move |conn| Ok(first(conn)?)).await? {
                return Ok(Err(answer));
            }
            return self.hit(key, window).await.map(Ok);
        };
        let key = key.to_string();
        let now = now();
        let row = counters
            .run(move |conn| match first(conn)? {
                Some(answer) => Ok(Err(answer)),
                None => Ok(Ok(add_in(conn, &key, 1, window, now)?)),
            })
            .await?;
        Ok(row.map(|row| row.count_at(now)))
    }

    /// Adds `by` to `key` in a window of `window`.
    pub async fn add(&self, key: &str, by: u64, window: Duration) -> ApiResult<Count> {
        let by = by.min(i32::MAX as u64);
        match self {
            Counters::Database(db) => {
                let key = key.to_string();
                let now = now();
                let row = db
                    .run(move |conn| Ok(add_in(conn, &key, by as i64, window, now)?))
                    .await?;
                Ok(row.count_at(now))
            }
            Counters::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let (count, ttl_ms): (u64, i64) = redis::Script::new(REDIS_HIT)
                    .key(format!("{prefix}{key}"))
                    .arg(window.as_millis() as u64)
                    .arg(by)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(redis_down)?;
                Ok(Count {
                    count,
                    resets_in: Duration::from_millis(ttl_ms.max(0) as u64),
                })
            }
        }
    }

    /// How long the window of `key` still runs, when it holds a count: a pause set with
    /// `add` is read back here without counting.
    pub async fn peek(&self, key: &str) -> ApiResult<Option<Duration>> {
        match self {
            Counters::Database(db) => {
                let key = key.to_string();
                let now = now();
                let end = db
                    .run(move |conn| {
                        use crate::db::schema::rate_counters;
                        Ok(rate_counters::table
                            .find(key)
                            .filter(rate_counters::window_end.gt(now))
                            .filter(rate_counters::count.gt(0))
                            .select(rate_counters::window_end)
                            .first::<NaiveDateTime>(conn)
                            .optional()?)
                    })
                    .await?;
                Ok(end.map(|end| (end - now).to_std().unwrap_or_default()))
            }
            Counters::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let ttl_ms: i64 = redis::cmd("PTTL")
                    .arg(format!("{prefix}{key}"))
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_down)?;
                Ok((ttl_ms > 0).then(|| Duration::from_millis(ttl_ms as u64)))
            }
        }
    }

    /// Forgets `key` (a score that just banned starts again).
    pub async fn reset(&self, key: &str) -> ApiResult<()> {
        match self {
            Counters::Database(db) => {
                let key = key.to_string();
                db.run(move |conn| {
                    use crate::db::schema::rate_counters;
                    diesel::delete(rate_counters::table.find(key)).execute(conn)?;
                    Ok(())
                })
                .await
            }
            Counters::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                redis::cmd("DEL")
                    .arg(format!("{prefix}{key}"))
                    .query_async::<()>(&mut conn)
                    .await
                    .map_err(redis_down)
            }
        }
    }
}

/// A Redis that cannot be used at start, in one line naming the setting to look at.
fn redis_start_error(e: redis::RedisError) -> anyhow::Error {
    let refused = matches!(
        e.kind(),
        redis::ErrorKind::AuthenticationFailed | redis::ErrorKind::Server(_)
    ) || e.to_string().contains("NOAUTH")
        || e.to_string().contains("WRONGPASS");
    if refused {
        anyhow::anyhow!(
            "setting REDIS_PASSWORD: Redis refused Latch's credentials (REDIS_USERNAME, REDIS_PASSWORD or those in REDIS_URI): {e}"
        )
    } else {
        anyhow::anyhow!("setting REDIS_URI: cannot connect: {e}")
    }
}

fn redis_down(e: redis::RedisError) -> ApiError {
    ApiError::Unavailable(format!("redis: {e}"))
}

/// Deletes counters whose window ended before `before`.
pub fn prune_in(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    use crate::db::schema::rate_counters;
    diesel::delete(rate_counters::table.filter(rate_counters::window_end.lt(before))).execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_then_starts_again() {
        let conn = &mut crate::db::memory();
        let t0 = now();
        let w = Duration::from_secs(60);
        assert_eq!(add_in(conn, "k", 1, w, t0).unwrap().count, 1);
        assert_eq!(
            add_in(conn, "k", 1, w, t0 + chrono::Duration::seconds(10))
                .unwrap()
                .count,
            2
        );
        let row = add_in(conn, "k", 1, w, t0 + chrono::Duration::seconds(20)).unwrap();
        assert_eq!(row.count, 3);
        assert_eq!(row.window_end, t0 + chrono::Duration::seconds(60));
        assert_eq!(add_in(conn, "other", 5, w, t0).unwrap().count, 5);
        let row = add_in(conn, "k", 1, w, t0 + chrono::Duration::seconds(61)).unwrap();
        assert_eq!(row.count, 1, "a new window");
        assert_eq!(row.window_end, t0 + chrono::Duration::seconds(121));
        assert_eq!(
            prune_in(conn, t0 + chrono::Duration::seconds(200)).unwrap(),
            2
        );
    }
}
