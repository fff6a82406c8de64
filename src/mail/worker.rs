//! The background sender, a job of the shared queue (`crate::queue`). One message at a
//! time: it takes the next due message, sends it, and records the outcome, all on a
//! blocking thread. On PostgreSQL the message stays
//! row-locked in one transaction from pick to outcome, so instances sharing the database
//! never send the same message, and a crash releases it at once. On shutdown the worker
//! finishes the message in hand and stops.

use std::sync::Arc;
use std::time::Duration;

use diesel::Connection;
use tokio::sync::{watch, Notify};

use crate::db::models::{now, span, OutboxMessage};
use crate::db::{Backend, Db, DbConn};
use crate::error::ApiResult;
use crate::mail::outbox::{claim_next, lock_next_due, retry_delay};
use crate::mail::transport::{Mailer, SendError};
use crate::settings::MailSettings;

/// How long a SQLite claim holds: longer than a send can take (30 s timeout).
const LEASE: Duration = Duration::from_secs(120);
/// How often an idle worker looks for due retries.
const POLL: Duration = Duration::from_millis(500);

pub struct Worker {
    pub db: Db,
    pub mailer: Arc<Mailer>,
    pub settings: MailSettings,
    pub wake: Arc<Notify>,
    pub shutdown: watch::Receiver<bool>,
}

/// What one round did.
enum Round {
    Idle,
    Sent(String),
    Failed(String, SendError, i32),
}

impl Worker {
    pub async fn run(self) {
        if self.db.backend() == Backend::Sqlite {
            // SQLite has exactly one worker: whatever it was sending when it stopped is
            // pending again.
            if let Err(e) = self
                .db
                .run(|c| Ok(OutboxMessage::release_claims(c, now())?))
                .await
            {
                tracing::warn!(error = %e, "could not release outbox claims");
            }
        }
        let (wake, shutdown) = (self.wake.clone(), self.shutdown.clone());
        crate::queue::run(self, wake, shutdown, POLL).await;
    }
}

impl crate::queue::Job for Worker {
    const NAME: &'static str = "mail";

    async fn round(&mut self) -> ApiResult<bool> {
        let (mailer, settings) = (self.mailer.clone(), self.settings.clone());
        let round = self
            .db
            .run(move |conn| deliver_next(conn, &mailer, &settings))
            .await?;
        match round {
            Round::Sent(kind) => tracing::info!(%kind, "mail sent"),
            Round::Failed(kind, e, attempt) => {
                tracing::warn!(%kind, attempt, error = %e.message, "mail not sent")
            }
            Round::Idle => return Ok(false),
        }
        Ok(true)
    }
}

/// Sends the next due message, if any, and records what happened.
fn deliver_next(conn: &mut DbConn, mailer: &Mailer, settings: &MailSettings) -> ApiResult<Round> {
    match conn.backend() {
        Backend::Postgres => conn.transaction(|conn| {
            let DbConn::Postgres(pg) = &mut *conn else {
                unreachable!("matched the backend above")
            };
            let Some(message) = lock_next_due(pg, now())? else {
                return Ok(Round::Idle);
            };
            let outcome = mailer.send(&message);
            record(conn, &message, outcome, settings)
        }),
        Backend::Sqlite => {
            let Some(message) = claim_next(conn, LEASE)? else {
                return Ok(Round::Idle);
            };
            let outcome = mailer.send(&message);
            record(conn, &message, outcome, settings)
        }
    }
}

fn record(
    conn: &mut DbConn,
    message: &OutboxMessage,
    outcome: Result<(), SendError>,
    settings: &MailSettings,
) -> ApiResult<Round> {
    let now = now();
    let kind = message.kind.clone();
    match outcome {
        Ok(()) => {
            OutboxMessage::mark_sent(conn, &message.id, now)?;
            Ok(Round::Sent(kind))
        }
        Err(e) => {
            let retry_at = (!e.permanent)
                .then(|| retry_delay(message.attempts, settings.retry_base, settings.max_retries))
                .flatten()
                .map(|d| now + span(d));
            let error: String = e.message.chars().take(500).collect();
            OutboxMessage::mark_attempt_failed(conn, &message.id, &error, retry_at, now)?;
            Ok(Round::Failed(kind, e, message.attempts + 1))
        }
    }
}
