//! Abuse control, as LibreChat's moderation settings describe it: per-IP limits on the
//! sign-in endpoints (`429` with `Retry-After`), violation scores, and bans (`403 banned`
//! with `banned_until`). Anonymous floods ban the IP, never an account, so nobody can lock
//! an owner out by failing their password; violations reported for a user ban the user
//! (and the IP given). Counters are shared by every instance (database or Redis); bans live
//! in the database.

pub mod counters;
pub mod guard;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;

use crate::auth::audit;
use crate::db::models::session::reason;
use crate::db::models::{new_id, now, span, Ban, Session, User};
use crate::db::{write_tx, Db};
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
use crate::settings::{Limit, ModerationSettings};
pub use counters::Counters;

/// The limited kinds of request, each with LibreChat's setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// Sign-in attempts: password, magic link, dev, passkey, social.
    Login,
    /// The second step of a sign-in (`/auth/mfa/verify`).
    TwoFactor,
    Register,
    /// Forgot-password requests (for a link).
    ResetPassword,
    /// Reset submissions (`/auth/password/reset`).
    ResetSubmission,
    /// Verification resends (for a link).
    VerifyEmail,
    /// Verification submissions (`/auth/email/verify`).
    VerifySubmission,
}

impl LimitKind {
    pub fn name(self) -> &'static str {
        match self {
            LimitKind::Login => "login",
            LimitKind::TwoFactor => "two_factor",
            LimitKind::Register => "register",
            LimitKind::ResetPassword => "reset_password",
            LimitKind::ResetSubmission => "reset_password_submission",
            LimitKind::VerifySubmission => "verify_email_submission",
            LimitKind::VerifyEmail => "verify_email",
        }
    }
}

/// How long a violation score is remembered.
const SCORE_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// What to ban.
#[derive(Debug, Clone, Default)]
pub struct BanTarget {
    pub user_id: Option<String>,
    pub ip: Option<String>,
}

#[derive(Clone)]
pub struct Moderation {
    settings: Arc<ModerationSettings>,
    counters: Counters,
    db: Db,
    metrics: Metrics,
}

impl Moderation {
    pub async fn new(
        settings: &ModerationSettings,
        db: Db,
        metrics: Metrics,
    ) -> anyhow::Result<Self> {
        let counters = match &settings.redis {
            Some(r) => Counters::connect_redis(r).await?,
            None => Counters::Database(db.clone()),
        };
        Ok(Moderation {
            settings: Arc::new(settings.clone()),
            counters,
            db,
            metrics,
        })
    }

    fn limit(&self, kind: LimitKind) -> Limit {
        let s = &self.settings;
        match kind {
            LimitKind::Login => s.login,
            LimitKind::TwoFactor => s.two_factor,
            LimitKind::Register => s.register,
            LimitKind::ResetPassword => s.reset_password,
            LimitKind::ResetSubmission => s.reset_submission,
            LimitKind::VerifySubmission => s.verify_submission,
            LimitKind::VerifyEmail => s.verify_email,
        }
    }

    /// The points a `429` of this kind adds.
    fn score(&self, kind: LimitKind) -> u64 {
        let s = &self.settings;
        match kind {
            LimitKind::Login => s.login_score,
            LimitKind::TwoFactor => s.two_factor_score,
            LimitKind::Register => s.registration_score,
            LimitKind::ResetPassword => s.reset_password_score,
            LimitKind::ResetSubmission => s.reset_submission_score,
            LimitKind::VerifyEmail => s.verify_email_score,
            LimitKind::VerifySubmission => s.verify_submission_score,
        }
    }

    /// The points of a violation reported as `kind`, unless the report says.
    pub fn reported_score(&self, kind: &str) -> u64 {
        match kind {
            "non_browser" => self.settings.non_browser_score,
            "login" => self.settings.login_score,
            "registration" => self.settings.registration_score,
            _ => 1,
        }
    }

    /// Lets a request of `kind` from `ip` through, or refuses it: `403 banned` for a banned
    /// IP, `429` past the limit (which scores, and may ban the IP).
    pub async fn admit(&self, kind: LimitKind, ip: Option<&str>) -> ApiResult<()> {
        let Some(ip) = ip else {
            return Ok(());
        };
        let (address, now) = (ip.to_string(), now());
        // An IPv6 client is counted, and banned, by its /64.
        let ip = &crate::auth::client::ip_bucket(ip);
        let limit = self.limit(kind);
        let key = format!("limit:{}:{ip}", kind.name());
        let banned = move |conn: &mut _| Ban::ip_banned_until(conn, &address, now);
        let hit = match self
            .counters
            .hit_unless(&self.db, &key, limit.window, banned)
            .await?
        {
            Ok(hit) => hit,
            Err(until) => return Err(ApiError::Banned(until)),
        };
        if hit.count <= limit.max {
            return Ok(());
        }
        self.metrics.rate_limited(kind.name());
        if hit.count == limit.max + 1 {
            // Once per window and client: a flood writes one row, not one per request.
            let event = audit::Event {
                detail: Some(format!("{} limit, ip {ip}", kind.name())),
                ..audit::Event::new(audit::kind::RATE_LIMITED)
            };
            audit::record(&self.db, event).await;
        }
        let target = BanTarget {
            user_id: None,
            ip: Some(ip.to_string()),
        };
        let why = format!("{} flood", kind.name());
        if let Some(until) = self.add_points(&target, self.score(kind), &why).await? {
            return Err(ApiError::Banned(until));
        }
        Err(ApiError::RateLimited(hit.resets_in))
    }

    /// Adds a violation's points to the user (if named) and the IP (if given); reaching
    /// `BAN_INTERVAL` bans them for `BAN_DURATION`. Returns the ban's end when one fell.
    pub async fn add_points(
        &self,
        target: &BanTarget,
        points: u64,
        why: &str,
    ) -> ApiResult<Option<NaiveDateTime>> {
        if !self.settings.ban_violations || points == 0 {
            return Ok(None);
        }
        // A reported user's score decides; an anonymous flood's is the IP's own.
        let key = match (&target.user_id, &target.ip) {
            (Some(user), _) => format!("score:user:{user}"),
            (None, Some(ip)) => format!("score:ip:{ip}"),
            (None, None) => return Ok(None),
        };
        let total = self.counters.add(&key, points, SCORE_WINDOW).await?.count;
        if total < self.settings.ban_interval {
            return Ok(None);
        }
        self.counters.reset(&key).await?;
        let duration = self.settings.ban_duration;
        let ban = self
            .ban(target.clone(), duration, Some(why.to_string()), None)
            .await?;
        Ok(Some(ban.expires_at))
    }

    /// Bans a user and/or an IP. A banned user's sessions end at once.
    pub async fn ban(
        &self,
        target: BanTarget,
        duration: Duration,
        reason_text: Option<String>,
        by: Option<String>,
    ) -> ApiResult<Ban> {
        let now = now();
        let ban = Ban {
            id: new_id(),
            user_id: target.user_id,
            ip: target.ip,
            reason: reason_text,
            created_by: by,
            created_at: now,
            expires_at: now + span(duration),
            lifted_at: None,
        };
        let row = ban.clone();
        self.db
            .run(move |conn| {
                write_tx(conn, |conn| {
                    if let Some(user) = &row.user_id {
                        User::find(conn, user)?.ok_or(ApiError::NotFound)?;
                    }
                    Ban::insert(conn, &row)?;
                    if let Some(user) = &row.user_id {
                        Ban::refresh_user(conn, user, now)?;
                        Session::revoke_all(conn, user, None, reason::BANNED, now)?;
                    }
                    let event = audit::Event {
                        actor: row.created_by.as_deref(),
                        subject: row.user_id.as_deref(),
                        detail: Some(ban_detail(&row)),
                        ..audit::Event::new(audit::kind::BANNED)
                    };
                    audit::record_in(conn, event)
                })
            })
            .await?;
        let subject = if ban.user_id.is_some() { "user" } else { "ip" };
        self.metrics.banned(subject);
        tracing::warn!(ban = %ban.id, user_id = ?ban.user_id, ip = ?ban.ip, until = %ban.expires_at, "banned");
        Ok(ban)
    }

    /// Lifts an active ban (`404` for an unknown or ended one).
    pub async fn lift(&self, id: &str, by: Option<String>) -> ApiResult<()> {
        let id = id.to_string();
        self.db
            .run(move |conn| {
                write_tx(conn, |conn| {
                    let now = now();
                    let ban = Ban::find(conn, &id)?.ok_or(ApiError::NotFound)?;
                    if Ban::lift(conn, &id, now)? != 1 {
                        return Err(ApiError::NotFound);
                    }
                    if let Some(user) = &ban.user_id {
                        Ban::refresh_user(conn, user, now)?;
                    }
                    let event = audit::Event {
                        actor: by.as_deref(),
                        subject: ban.user_id.as_deref(),
                        detail: Some(ban_detail(&ban)),
                        ..audit::Event::new(audit::kind::UNBANNED)
                    };
                    audit::record_in(conn, event)
                })
            })
            .await
    }

    /// Whether the counters can be reached (`/readyz`).
    pub async fn ready(&self) -> ApiResult<()> {
        self.counters.ready().await
    }

    /// Whether `email` may receive one more email of `kind` now: `EMAIL_ADDRESS_MAX` of
    /// each kind of link per `EMAIL_ADDRESS_WINDOW`, counted apart, so that links a
    /// stranger asks for never use up those the owner asks for; a notice a stranger can
    /// trigger (an "account exists" notice) at most once per window.
    pub async fn mail_allowed(
        &self,
        email: &str,
        kind: crate::mail::templates::Kind,
    ) -> ApiResult<bool> {
        use crate::mail::templates::Kind;
        let s = &self.settings;
        let max = match kind {
            Kind::AccountExists => 1,
            _ => s.email_address_max,
        };
        let hit = self
            .counters
            .hit(
                &format!("mail:{}:{email}", kind.name()),
                s.email_address_window,
            )
            .await?;
        if hit.count > max {
            self.metrics.rate_limited("email_address");
            return Ok(false);
        }
        Ok(true)
    }
}

/// Consecutive wrong codes and current passwords an account takes before its checks
/// pause, and how long the first pause lasts (each further failure doubles it, up to
/// `MAX_PAUSE`).
pub const FAILURES_BEFORE_PAUSE: u64 = 5;
const FIRST_PAUSE: Duration = Duration::from_secs(60);
const MAX_PAUSE: Duration = Duration::from_secs(60 * 60);
/// How long failures are remembered without a success or a new failure window.
const FAILURE_MEMORY: Duration = Duration::from_secs(24 * 60 * 60);

/// The pause after `failures` consecutive failures: none below `FAILURES_BEFORE_PAUSE`,
/// then one minute, doubling with each further failure, at most an hour.
pub fn pause_after(failures: u64) -> Option<Duration> {
    let extra = failures.checked_sub(FAILURES_BEFORE_PAUSE)?;
    let doubled = FIRST_PAUSE.saturating_mul(1u32 << extra.min(16));
    Some(doubled.min(MAX_PAUSE))
}

/// What a failure led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// The account's checks now pause this long.
    pub paused: Option<Duration>,
    /// This failure started the account's first pause (its owner is told).
    pub first_pause: bool,
}

impl Moderation {
    /// Refuses a code or current-password check of `user_id` while its checks pause:
    /// `429` with `Retry-After`, and the check is not made (nor counted).
    pub async fn account_admit(&self, user_id: &str) -> ApiResult<()> {
        match self.counters.peek(&format!("pause:user:{user_id}")).await? {
            Some(left) => {
                self.metrics.rate_limited("account");
                Err(ApiError::Paused(left))
            }
            None => Ok(()),
        }
    }

    /// Counts a wrong code or current password of `user_id`, whatever token, session or
    /// address it came from; the fifth in a row pauses the account's checks.
    pub async fn account_failed(&self, user_id: &str) -> ApiResult<Failure> {
        let failures = self
            .counters
            .hit(&format!("failures:user:{user_id}"), FAILURE_MEMORY)
            .await?
            .count;
        let Some(pause) = pause_after(failures) else {
            return Ok(Failure {
                paused: None,
                first_pause: false,
            });
        };
        self.counters
            .add(&format!("pause:user:{user_id}"), 1, pause)
            .await?;
        tracing::warn!(%user_id, failures, pause_s = pause.as_secs(), "account checks paused after wrong codes or passwords");
        Ok(Failure {
            paused: Some(pause),
            first_pause: failures == FAILURES_BEFORE_PAUSE,
        })
    }

    /// A right code or password: the count starts again.
    pub async fn account_succeeded(&self, user_id: &str) -> ApiResult<()> {
        self.counters
            .reset(&format!("failures:user:{user_id}"))
            .await
    }
}

fn ban_detail(ban: &Ban) -> String {
    let mut parts = vec![format!("ban {}", ban.id)];
    if let Some(ip) = &ban.ip {
        parts.push(format!("ip {ip}"));
    }
    parts.push(format!("until {}", ban.expires_at.and_utc().to_rfc3339()));
    if let Some(r) = &ban.reason {
        parts.push(r.clone());
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_start_at_the_fifth_failure_and_double_to_an_hour() {
        assert_eq!(pause_after(4), None);
        assert_eq!(pause_after(5), Some(Duration::from_secs(60)));
        assert_eq!(pause_after(6), Some(Duration::from_secs(120)));
        assert_eq!(pause_after(10), Some(Duration::from_secs(1920)));
        assert_eq!(pause_after(11), Some(Duration::from_secs(3600)));
        assert_eq!(pause_after(1000), Some(Duration::from_secs(3600)));
    }
}
