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
    /// Social sign-ins by provider and outcome (`success` or a `?error=` code).
    pub social: IntCounterVec,
    /// Requests refused past a limit, by kind.
    pub rate_limited: IntCounterVec,
    /// Bans, by what was banned (`user` or `ip`).
    pub bans: IntCounterVec,
    /// Second-factor events: enabled, disabled, verified, failed, passkeys added…
    pub second_factors: IntCounterVec,
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
        let social = IntCounterVec::new(
            Opts::new(
                "latch_social_sign_ins_total",
                "Social sign-ins by provider and outcome",
            ),
            &["provider", "outcome"],
        )?;
        registry.register(Box::new(social.clone()))?;
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "latch_rate_limited_total",
                "Requests refused past a limit, by kind",
            ),
            &["kind"],
        )?;
        registry.register(Box::new(rate_limited.clone()))?;
        let bans = IntCounterVec::new(
            Opts::new("latch_bans_total", "Bans, by what was banned"),
            &["subject"],
        )?;
        registry.register(Box::new(bans.clone()))?;
        let second_factors = IntCounterVec::new(
            Opts::new("latch_second_factor_events_total", "Second-factor events"),
            &["event"],
        )?;
        registry.register(Box::new(second_factors.clone()))?;
        registry.register(Box::new(mail.clone()))?;
        registry.register(Box::new(sign_ins.clone()))?;
        registry.register(Box::new(refreshes.clone()))?;
        registry.register(Box::new(crate::db::STATEMENTS.clone()))?;
        Ok(Metrics {
            registry,
            sign_ins,
            refreshes,
            mail,
            social,
            rate_limited,
            bans,
            second_factors,
        })
    }

    pub fn sign_in(&self, method: &str, result: &str) {
        self.sign_ins.with_label_values(&[method, result]).inc();
    }

    pub fn social(&self, provider: &str, outcome: &str) {
        self.social.with_label_values(&[provider, outcome]).inc();
    }

    pub fn rate_limited(&self, kind: &str) {
        self.rate_limited.with_label_values(&[kind]).inc();
    }

    pub fn second_factor(&self, event: &str) {
        self.second_factors.with_label_values(&[event]).inc();
    }

    pub fn banned(&self, subject: &str) {
        self.bans.with_label_values(&[subject]).inc();
    }

    pub fn refresh(&self, result: &str) {
        self.refreshes.with_label_values(&[result]).inc();
    }
}
