//! Delivers webhooks, a job of the shared queue (`crate::queue`): each round claims the due
//! heads of the queues (see `deliveries::claim_in`), sends them at once, signed when sent,
//! and records what became of each. No connection is held while receivers answer. A
//! receiver's answer counts only as success (2xx) or not: redirects are not followed and
//! at most 64 KiB of a body is read.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::sync::{watch, Notify};

use super::deliveries::{self, Attempted, Claimed, Next};
use crate::db::models::{now, span};
use crate::db::{write_tx, Backend, Db};
use crate::error::ApiResult;
use crate::settings::webhooks::{Endpoint, WebhookSettings};

/// Deliveries claimed per round, and so sent at once at most.
const BATCH: i64 = 32;
/// How often an idle worker looks for due deliveries.
const POLL: Duration = Duration::from_millis(250);
/// The most of a receiver's answer read (and then dropped).
const BODY_CAP: usize = 64 * 1024;
/// Beyond the time-out, how long a claim lasts (a crashed worker's runs out then).
const LEASE_MARGIN: Duration = Duration::from_secs(5);

pub struct Deliverer {
    db: Db,
    client: reqwest::Client,
    /// By endpoint key.
    endpoints: Arc<HashMap<String, Endpoint>>,
    settings: WebhookSettings,
}

impl Deliverer {
    pub fn new(db: Db, settings: &WebhookSettings) -> anyhow::Result<Deliverer> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("Latch-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let endpoints = settings
            .endpoints
            .iter()
            .map(|e| (deliveries::endpoint_key(&e.url), e.clone()))
            .collect();
        Ok(Deliverer {
            db,
            client,
            endpoints: Arc::new(endpoints),
            settings: settings.clone(),
        })
    }

    /// Runs until `shutdown`; on SQLite, whatever this process was sending when it last
    /// stopped is due again first.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        if self.db.backend() == Backend::Sqlite {
            if let Err(e) = self.db.run(|c| Ok(deliveries::release_claims_in(c)?)).await {
                tracing::warn!(error = %e, "could not release webhook claims");
            }
        }
        crate::queue::run(self, Arc::new(Notify::new()), shutdown, POLL).await;
    }

    /// One round, for callers that deliver without a worker (`latch webhooks test`).
    pub async fn deliver_due(&mut self) -> ApiResult<bool> {
        crate::queue::Job::round(self).await
    }
}

impl crate::queue::Job for Deliverer {
    const NAME: &'static str = "webhooks";

    async fn round(&mut self) -> ApiResult<bool> {
        let now = now();
        let until = now + span(self.settings.timeout + LEASE_MARGIN);
        // One statement: on PostgreSQL atomic as it is; SQLite takes its writer lock.
        let claimed = self
            .db
            .run(move |c| match c.backend() {
                Backend::Postgres => Ok(deliveries::claim_in(c, now, until, BATCH)?),
                Backend::Sqlite => write_tx(c, |c| Ok(deliveries::claim_in(c, now, until, BATCH)?)),
            })
            .await?;
        if claimed.is_empty() {
            return Ok(false);
        }
        // A full batch says more may be due at once; otherwise the next poll will do.
        let more = claimed.len() as i64 == BATCH;
        let mut sends = tokio::task::JoinSet::new();
        for delivery in claimed {
            let endpoint = self.endpoints.get(&delivery.endpoint_id).cloned();
            let (client, settings) = (self.client.clone(), self.settings.clone());
            sends.spawn(async move { attempt(&client, endpoint, &settings, delivery).await });
        }
        let mut attempts = Vec::new();
        while let Some(done) = sends.join_next().await {
            attempts.push(done.map_err(|e| anyhow::anyhow!("delivery task: {e}"))?);
        }
        for a in &attempts {
            match &a.next {
                Next::Delivered => {}
                Next::RetryAt(at) => {
                    tracing::info!(seq = a.seq, status = ?a.status, error = ?a.error, retry_at = %at, "webhook not delivered")
                }
                Next::Failed => {
                    tracing::warn!(seq = a.seq, status = ?a.status, error = ?a.error, "webhook delivery failed for good")
                }
            }
        }
        // Each record stands alone (it holds only under its own claim); one transaction
        // saves a commit per delivery, and is SQLite's writer lock.
        self.db
            .run(move |c| match (c.backend(), attempts.as_slice()) {
                (Backend::Postgres, [one]) => Ok(deliveries::record_in(c, one).map(|_| ())?),
                _ => write_tx(c, |c| {
                    for a in &attempts {
                        deliveries::record_in(c, a)?;
                    }
                    Ok(())
                }),
            })
            .await?;
        Ok(more)
    }
}

/// Sends one delivery and says what comes next.
async fn attempt(
    client: &reqwest::Client,
    endpoint: Option<Endpoint>,
    settings: &WebhookSettings,
    d: Claimed,
) -> Attempted {
    let Some(endpoint) = endpoint else {
        return Attempted {
            seq: d.seq,
            claimed_until: d.claimed_until,
            next: Next::Failed,
            status: None,
            error: Some("the endpoint is no longer configured".into()),
            at: now(),
        };
    };
    let timestamp = chrono::Utc::now().timestamp();
    let signature = super::sign::signature(&endpoint.secrets, &d.id, timestamp, d.body.as_bytes());
    let sent = client
        .post(&endpoint.url)
        .header("content-type", "application/json")
        .header("webhook-id", &d.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(d.body.clone())
        .send()
        .await;
    let (status, error) = match sent {
        Ok(mut res) => {
            let status = res.status();
            // Read a little of the answer so the connection can be used again; never more.
            let mut read = 0;
            while let Ok(Some(chunk)) = res.chunk().await {
                read += chunk.len();
                if read > BODY_CAP {
                    break;
                }
            }
            let error = (!status.is_success()).then(|| format!("answered {status}"));
            (Some(i32::from(status.as_u16())), error)
        }
        Err(e) if e.is_timeout() => (None, Some("no answer in time".into())),
        Err(e) => (None, Some(format!("{}", without_url(e)))),
    };
    let at = now();
    let next = match error {
        None => Next::Delivered,
        Some(_) => next_after_failure(&d, settings, at),
    };
    Attempted {
        seq: d.seq,
        claimed_until: d.claimed_until,
        next,
        status,
        error,
        at,
    }
}

/// A failed attempt is tried again after the backoff, until the delivery's time is up.
fn next_after_failure(d: &Claimed, settings: &WebhookSettings, at: NaiveDateTime) -> Next {
    let deadline = d
        .give_up_at
        .unwrap_or(d.created_at + span(settings.retry_for));
    if at >= deadline {
        return Next::Failed;
    }
    let attempt = u32::try_from(d.attempts).unwrap_or(0) + 1;
    let delay = crate::queue::backoff(settings.retry_base, attempt, settings.retry_for);
    Next::RetryAt((at + span(delay)).min(deadline))
}

/// A transport error without the URL (which may carry credentials).
fn without_url(e: reqwest::Error) -> reqwest::Error {
    e.without_url()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claimed(
        attempts: i32,
        created_at: NaiveDateTime,
        give_up_at: Option<NaiveDateTime>,
    ) -> Claimed {
        Claimed {
            seq: 1,
            id: "msg_1".into(),
            endpoint_id: "e".into(),
            event_type: "user.created".into(),
            body: "{}".into(),
            attempts,
            created_at,
            give_up_at,
            claimed_until: created_at,
        }
    }

    #[test]
    fn retries_double_until_the_time_is_up() {
        let settings = WebhookSettings {
            endpoints: Vec::new(),
            retry_base: Duration::from_secs(60),
            retry_for: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
        };
        let t0 = now();
        let s = |secs: u64| t0 + span(Duration::from_secs(secs));
        assert_eq!(
            next_after_failure(&claimed(0, t0, None), &settings, t0),
            Next::RetryAt(s(60))
        );
        assert_eq!(
            next_after_failure(&claimed(1, t0, None), &settings, s(60)),
            Next::RetryAt(s(180))
        );
        assert_eq!(
            next_after_failure(&claimed(5, t0, None), &settings, s(3000)),
            Next::RetryAt(s(3600)),
            "never past the deadline"
        );
        assert_eq!(
            next_after_failure(&claimed(6, t0, None), &settings, s(3600)),
            Next::Failed
        );
        // A manual retry is one attempt.
        assert_eq!(
            next_after_failure(&claimed(9, t0, Some(s(7200))), &settings, s(7200)),
            Next::Failed
        );
    }
}
