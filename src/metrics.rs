//! Prometheus metrics: request counts and latencies per route (from the middleware) and
//! the outcomes of sign-ins and refreshes.

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// Sign-in attempts by method and result.
    pub sign_ins: IntCounterVec,
    /// Refresh attempts by result (`rotated`, `grace`, `reused`, `invalid`).
    pub refreshes: IntCounterVec,
    /// Outbox messages by state (`pending`, `failed`), read at each scrape.
    pub mail: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Metrics> {
        let registry = Registry::new();
        let sign_ins = IntCounterVec::new(
            Opts::new(
                "latch_sign_ins_total",
                "Sign-in attempts by method and result",
            ),
            &["method", "result"],
        )?;
        let refreshes = IntCounterVec::new(
            Opts::new("latch_refreshes_total", "Refresh-token exchanges by result"),
            &["result"],
        )?;
        let mail = IntGaugeVec::new(
            Opts::new("latch_mail_messages", "Outbox messages by state"),
            &["state"],
        )?;
        registry.register(Box::new(mail.clone()))?;
        registry.register(Box::new(sign_ins.clone()))?;
        registry.register(Box::new(refreshes.clone()))?;
        Ok(Metrics {
            registry,
            sign_ins,
            refreshes,
            mail,
        })
    }

    pub fn sign_in(&self, method: &str, result: &str) {
        self.sign_ins.with_label_values(&[method, result]).inc();
    }

    pub fn refresh(&self, result: &str) {
        self.refreshes.with_label_values(&[result]).inc();
    }
}
