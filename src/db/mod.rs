//! One schema on two backends. The backend is picked from the URL scheme (the
//! MultiConnection derive's own `establish` would take any string as a SQLite path).
//! Diesel is synchronous: every call goes through [`Db::run`], which takes a pooled
//! connection on the blocking pool, never on the async executor.

pub mod local;
pub mod models;
pub mod schema;

use std::time::Duration;

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::ApiResult;
use crate::settings::DatabaseUrl;

pub use local::standing_changed;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Key of the PostgreSQL advisory lock that serialises start-up work (migrations, the
/// first signing key) between instances starting at once.
const STARTUP_LOCK: i64 = 0x6c61_7463_6801;

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl DbConn {
    pub fn backend(&self) -> Backend {
        match self {
            DbConn::Sqlite(_) => Backend::Sqlite,
            DbConn::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Builds connections for r2d2, applying SQLite's pragmas to every new connection.
pub struct Manager {
    url: DatabaseUrl,
}

impl Manager {
    pub fn new(url: DatabaseUrl) -> Manager {
        Manager { url }
    }
}

const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;";

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = ConnectionError;

    fn connect(&self) -> Result<DbConn, ConnectionError> {
        match self.url.sqlite_path() {
            Some(path) => {
                let mut conn = SqliteConnection::establish(path)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                conn.set_instrumentation(count_statements);
                Ok(DbConn::Sqlite(conn))
            }
            None => {
                let mut conn = PgConnection::establish(self.url.expose())?;
                conn.set_instrumentation(count_statements);
                Ok(DbConn::Postgres(conn))
            }
        }
    }

    /// Run at every check-out, so a connection the database dropped (a restart, a
    /// failover) is replaced instead of failing a request. Without a round trip: what the
    /// server sent while the connection sat in the pool is read, and a server that ended
    /// it has said so (or closed the socket) by then. A SQLite file does not drop.
    fn is_valid(&self, conn: &mut DbConn) -> Result<(), ConnectionError> {
        if dropped(conn) {
            return Err(ConnectionError::BadConnection(
                "the server closed the connection".into(),
            ));
        }
        Ok(())
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken() || dropped(conn)
    }
}

/// True when the server ended the connection: reading what it sent (libpq's
/// `PQconsumeInput`, through the notification reader; Latch listens to no channel) fails.
/// Twice, as a terminated backend's last message and its closing arrive one after the other.
fn dropped(conn: &mut DbConn) -> bool {
    match conn {
        DbConn::Postgres(pg) => {
            (0..2).any(|_| matches!(pg.notifications_iter().next(), Some(Err(_))))
        }
        DbConn::Sqlite(_) => false,
    }
}

/// Statements sent to the database (each a round trip on PostgreSQL, `BEGIN` and `COMMIT`
/// included), for `/metrics` (`latch_db_statements_total`): what a request costs in round
/// trips, measured rather than read off the code.
pub static STATEMENTS: std::sync::LazyLock<prometheus::IntCounter> =
    std::sync::LazyLock::new(|| {
        prometheus::IntCounter::new(
            "latch_db_statements_total",
            "Statements sent to the database, BEGIN and COMMIT included",
        )
        .expect("a valid metric")
    });

fn count_statements(event: diesel::connection::InstrumentationEvent<'_>) {
    if let diesel::connection::InstrumentationEvent::StartQuery { .. } = event {
        STATEMENTS.inc();
    }
}

pub type Pool = r2d2::Pool<Manager>;

/// The shared database handle.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    backend: Backend,
    url: DatabaseUrl,
    local: local::Local,
}

impl Db {
    /// Opens the pool. Connections are made lazily, so an unreachable database shows up
    /// in `connect_and_migrate`, with its own message.
    pub fn new(url: &DatabaseUrl, size: u32) -> anyhow::Result<Db> {
        let backend = if url.is_postgres() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(0))
            // Fail fast: with the database down, a request (and a load balancer's health
            // check) gets `503` and `Retry-After` within a second, and no blocking thread
            // waits longer than that for a connection.
            .connection_timeout(Duration::from_secs(1))
            .test_on_check_out(true)
            // Failures surface as errors where a connection is needed; r2d2's own
            // logging would repeat them on every retry.
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(Manager { url: url.clone() });
        Ok(Db {
            pool,
            backend,
            url: url.clone(),
            local: Default::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    pub async fn run<F, T>(&self, f: F) -> ApiResult<T>
    where
        F: FnOnce(&mut DbConn) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let (pool, local) = (self.pool.clone(), self.local.clone());
        actix_web::web::block(move || {
            let mut conn = pool.get()?;
            local.scope(|| f(&mut conn))
        })
        .await?
    }

    /// How many standing changes were made through this handle (see `local`).
    pub fn standing_epoch(&self) -> u64 {
        self.local.standing_epoch()
    }

    /// A connection for synchronous callers (start-up, the command line).
    pub fn conn(&self) -> anyhow::Result<r2d2::PooledConnection<Manager>> {
        self.pool.get().context("cannot connect to the database")
    }

    /// Connects, applies pending migrations and runs `then` under the same start-up lock,
    /// so two instances starting at once on one PostgreSQL do this one after the other.
    pub fn migrate_and<T>(
        &self,
        then: impl FnOnce(&mut DbConn) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        // SQLite: an exclusive lock on a file beside the database, held to the end of
        // this function, plays the part of PostgreSQL's advisory lock.
        let _sqlite_lock = match self.url.sqlite_path() {
            Some(path) => Some(lock_file(&format!("{path}.lock"))?),
            None => None,
        };
        let mut conn = self.conn()?;
        if let DbConn::Postgres(pg) = &mut *conn {
            diesel::sql_query(format!("SELECT pg_advisory_lock({STARTUP_LOCK})"))
                .execute(pg)
                .context("taking the start-up lock")?;
        }
        let result = run_migrations(&mut conn).and_then(|_| then(&mut conn));
        if let DbConn::Postgres(pg) = &mut *conn {
            let _ =
                diesel::sql_query(format!("SELECT pg_advisory_unlock({STARTUP_LOCK})")).execute(pg);
        }
        result
    }

    /// True when the database answers and no migration is pending.
    pub fn ready(conn: &mut DbConn) -> bool {
        let pending = match conn {
            DbConn::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
            DbConn::Postgres(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
        };
        matches!(pending, Ok(false))
    }
}

/// A fresh in-memory SQLite database with the whole schema, for unit tests of the rules.
#[cfg(test)]
pub fn memory() -> DbConn {
    let mut conn = SqliteConnection::establish(":memory:").expect("in-memory SQLite");
    conn.batch_execute("PRAGMA foreign_keys = ON;")
        .expect("foreign keys");
    let mut conn = DbConn::Sqlite(conn);
    run_migrations(&mut conn).expect("migrations");
    conn
}

/// Opens (creating) and exclusively locks `path`; the lock goes with the returned file.
fn lock_file(path: &str) -> anyhow::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening the start-up lock {path}"))?;
    file.lock()
        .with_context(|| format!("taking the start-up lock {path}"))?;
    Ok(file)
}

fn run_migrations(conn: &mut DbConn) -> anyhow::Result<()> {
    let applied = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        DbConn::Postgres(c) => c
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.len()),
    }
    .map_err(|e| anyhow::anyhow!("applying migrations: {e}"))?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok(())
}

/// A write transaction. SQLite's must start `IMMEDIATE`: a deferred one that reads and
/// then writes fails at once with `SQLITE_BUSY` when another writer got there first,
/// instead of waiting out the busy timeout.
pub fn write_tx<T>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> ApiResult<T>) -> ApiResult<T> {
    let writing = local::Writing::begin();
    let result = match conn {
        DbConn::Postgres(_) => write_tx_inner(conn, f),
        DbConn::Sqlite(_) => writing.with_writer_lock(|| write_tx_inner(conn, f)),
    };
    writing.end();
    result
}

fn write_tx_inner<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> ApiResult<T>,
) -> ApiResult<T> {
    match conn {
        DbConn::Postgres(_) => conn.transaction(f),
        DbConn::Sqlite(_) => {
            conn.batch_execute("BEGIN IMMEDIATE")?;
            // Whatever fails, the connection goes back to the pool outside a transaction.
            let result = f(conn).and_then(|v| {
                conn.batch_execute("COMMIT")?;
                Ok(v)
            });
            if result.is_err() {
                let _ = conn.batch_execute("ROLLBACK");
            }
            result
        }
    }
}

/// Serialises writers for one user across PostgreSQL instances (a row lock held to the
/// end of the transaction). SQLite's `BEGIN IMMEDIATE` already serialises all writers.
pub fn lock_user(conn: &mut DbConn, user_id: &str) -> ApiResult<()> {
    if let DbConn::Postgres(pg) = conn {
        diesel::sql_query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind::<diesel::sql_types::Text, _>(user_id)
            .execute(pg)?;
    }
    Ok(())
}

/// Serialises the issuing of one-time links to one address across PostgreSQL instances (a
/// transaction-scoped advisory lock on the address): voiding the older links and making the
/// new one must not interleave with another request's. SQLite's `BEGIN IMMEDIATE` already
/// serialises all writers.
pub fn lock_address(conn: &mut DbConn, email: &str) -> ApiResult<()> {
    if let DbConn::Postgres(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7089066323150085))")
            .bind::<diesel::sql_types::Text, _>(email)
            .execute(pg)?;
    }
    Ok(())
}

/// Serialises changes that could leave no enabled admin, across PostgreSQL instances (a
/// transaction-scoped advisory lock). SQLite's `BEGIN IMMEDIATE` already serialises them.
pub fn lock_admins(conn: &mut DbConn) -> ApiResult<()> {
    if let DbConn::Postgres(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(7089066323150084)").execute(pg)?;
    }
    Ok(())
}

/// Serialises the creation of the very first account, which becomes admin.
pub fn lock_first_user(conn: &mut DbConn) -> ApiResult<()> {
    if let DbConn::Postgres(pg) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(7089066323150083)").execute(pg)?;
    }
    Ok(())
}
