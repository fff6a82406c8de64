//! The background job queue mail and webhooks share: a worker takes due work from a table
//! of its own (written in the transaction of the change it follows), does it, and records
//! the outcome; when there is none it waits to be woken or for its poll, and when the
//! database is down it waits a second. On shutdown it finishes the round in hand.

use std::future::Future;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::error::ApiResult;

/// One kind of work.
pub trait Job: Send + 'static {
    /// For the log.
    const NAME: &'static str;

    /// Does the due work there is (a message, a batch of deliveries): whether there was any.
    fn round(&mut self) -> impl Future<Output = ApiResult<bool>> + Send;
}

/// Runs `job` until `shutdown` says so.
pub async fn run<J: Job>(
    mut job: J,
    wake: std::sync::Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
    poll: Duration,
) {
    loop {
        if *shutdown.borrow() {
            break;
        }
        match job.round().await {
            Ok(true) => {}
            Ok(false) => {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, queue = J::NAME, "queue unavailable");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
    tracing::info!(queue = J::NAME, "worker stopped");
}

/// The delay before retry number `attempt` (1 for the first retry): `base`, doubled per
/// earlier retry, at most `cap`.
pub fn backoff(base: Duration, attempt: u32, cap: Duration) -> Duration {
    let factor = 1u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let (base, cap) = (Duration::from_secs(60), Duration::from_secs(3600));
        assert_eq!(backoff(base, 1, cap), Duration::from_secs(60));
        assert_eq!(backoff(base, 2, cap), Duration::from_secs(120));
        assert_eq!(backoff(base, 3, cap), Duration::from_secs(240));
        assert_eq!(backoff(base, 40, cap), cap);
    }
}
