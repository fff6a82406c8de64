//! `latch webhooks test`: a `ping` to every configured endpoint, delivered by this process
//! (or by a running server, whichever claims it first) within 10 s.

use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::json;

use super::deliveries;
use super::worker::Deliverer;
use crate::db::models::{now, span};
use crate::db::{write_tx, Db};
use crate::settings::webhooks::WebhookSettings;

const WAIT: Duration = Duration::from_secs(10);

/// Queues the ping and waits for it: how many endpoints got it.
pub async fn ping_all(db: Db, settings: &WebhookSettings) -> anyhow::Result<usize> {
    if settings.endpoints.is_empty() {
        bail!("no webhook is configured (WEBHOOK_URL and WEBHOOK_SECRET, or [[webhooks]])");
    }
    let endpoints = settings.clone();
    let ids = {
        let db = db.clone();
        tokio::task::spawn_blocking(move || {
            db.migrate_and(|conn| {
                Ok(write_tx(conn, |conn| {
                    deliveries::sync_endpoints_in(conn, &endpoints)?;
                    let event = format!("msg_{}", uuid::Uuid::now_v7().simple());
                    let body = json!({
                        "type": super::kind::PING,
                        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        "data": {},
                    })
                    .to_string();
                    deliveries::insert_in(conn, &event, super::kind::PING, None, &body, now())?;
                    let ids = deliveries::ids_of_event_in(conn, &event)?;
                    deliveries::give_up_at_in(conn, &ids, now() + span(WAIT))?;
                    Ok(ids)
                })?)
            })
        })
        .await??
    };
    let mut deliverer = Deliverer::new(db.clone(), settings)?;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        deliverer
            .deliver_due()
            .await
            .context("delivering the ping")?;
        let asked = ids.clone();
        let statuses = db
            .run(move |c| Ok(deliveries::statuses_in(c, &asked)?))
            .await?;
        if let Some((_, error)) = statuses.iter().find(|(s, _)| s == deliveries::FAILED) {
            bail!(
                "the ping was not delivered: {}",
                error.as_deref().unwrap_or("no answer")
            );
        }
        if statuses.iter().all(|(s, _)| s == deliveries::DELIVERED) {
            return Ok(statuses.len());
        }
        if tokio::time::Instant::now() >= deadline {
            let why = statuses.iter().find_map(|(_, e)| e.clone());
            bail!(
                "the ping was not delivered within 10 s: {}",
                why.as_deref().unwrap_or("no attempt was made")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
