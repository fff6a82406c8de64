//! The sign-in pipeline. Every way in goes the same way:
//!
//! 1. `factor::prove`: the first factor's slow part, outside any transaction;
//! 2. in one write transaction: `factor::identify_in` finds or creates the account,
//!    `gate::decide` says yes or no (disabled, verification), `factor::apply_in` makes
//!    the sign-in's changes and `session::open_in` opens the session;
//! 3. the access token is signed after the commit.
//!
//! A refusal by the gate commits what was spent (a link stays spent) and the audit row
//! that records it; it changes nothing else on the account.

pub mod factor;
pub mod gate;
pub mod session;

use std::sync::Arc;

pub use factor::{FirstFactor, Method};
pub use session::SignedIn;

use crate::auth::audit;
use crate::auth::client::ClientInfo;
use crate::auth::opaque_token::TokenKey;
use crate::auth::password::PasswordHasher;
use crate::auth::tokens::TokenIssuer;
use crate::db::models::second_factor::has_second_factor;
use crate::db::models::{now, Ban};
use crate::db::{write_tx, Db};
use crate::error::{ApiError, ApiResult};
use crate::mail::MailService;
use crate::metrics::Metrics;
use crate::settings::{SessionPolicy, SignInPolicy};

/// What signing in needs from the running service. Cheap to clone.
#[derive(Clone)]
pub struct SignIn {
    pub db: Db,
    pub hasher: PasswordHasher,
    pub tokens: Arc<TokenIssuer>,
    pub metrics: Metrics,
    pub policy: Arc<SignInPolicy>,
    pub sessions: SessionPolicy,
    pub key: TokenKey,
    /// `None` when no mail server is configured.
    pub mail: Option<MailService>,
    /// Bans and limits, and the per-address mail throttle.
    pub moderation: crate::moderation::Moderation,
    /// TOTP and backup codes.
    pub second: crate::mfa::SecondFactors,
    /// `None` when `APP_URL` (or `WEBAUTHN_RP_ID`) cannot name a relying party.
    pub passkeys: Option<crate::mfa::passkeys::Passkeys>,
}

/// How a sign-in ended well.
pub enum Outcome {
    SignedIn(Box<SignedIn>),
    /// The account has a second factor: `/auth/mfa/verify` with this token finishes.
    SecondFactor {
        mfa_token: String,
    },
}

/// A failed sign-in, with the account it concerned when that is known.
pub struct Refused {
    pub error: ApiError,
    pub user_id: Option<String>,
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Refused {
        Refused {
            error,
            user_id: None,
        }
    }
}

enum Attempt {
    Opened(Box<SignedIn>),
    SecondFactor(String),
    Denied {
        error: ApiError,
        outcome: &'static str,
    },
}

impl SignIn {
    /// Signs in with `factor` from `client`: the answer carries a new session, or says why
    /// not. Every outcome is counted; refusals are also audited.
    pub async fn sign_in(&self, factor: FirstFactor, client: ClientInfo) -> ApiResult<Outcome> {
        let method = factor.method();
        match self.attempt(factor, &client).await {
            Ok(Attempt::Opened(signed)) => {
                self.metrics.sign_in(method.name(), "success");
                self.wake_mail();
                Ok(Outcome::SignedIn(signed))
            }
            Ok(Attempt::SecondFactor(mfa_token)) => {
                self.metrics
                    .sign_in(method.name(), "second_factor_required");
                self.wake_mail();
                Ok(Outcome::SecondFactor { mfa_token })
            }
            Ok(Attempt::Denied { error, outcome }) => {
                self.metrics.sign_in(method.name(), outcome);
                Err(error)
            }
            Err(Refused { error, user_id }) => {
                if let Some(outcome) = failure_outcome(&error) {
                    self.metrics.sign_in(method.name(), outcome);
                    let event = refused_event(method, outcome, user_id.as_deref(), &client);
                    audit::record(&self.db, event).await;
                }
                Err(error)
            }
        }
    }

    async fn attempt(&self, factor: FirstFactor, client: &ClientInfo) -> Result<Attempt, Refused> {
        let method = factor.method();
        let proof = factor::prove(self, factor).await?;
        let fresh = self.key.fresh();
        let (ctx, client) = (self.clone(), client.clone());
        let attempt = self
            .db
            .run(move |conn| {
                write_tx(conn, |conn| {
                    let now = now();
                    let mut id = factor::identify_in(conn, &ctx, proof, now)?;
                    let ip_banned_until = match &client.ip {
                        Some(ip) => Ban::ip_banned_until(conn, ip, now)?,
                        None => None,
                    };
                    let cx = gate::Context {
                        require_email_verification: ctx.policy.require_email_verification,
                        ip_banned_until,
                        has_second_factor: has_second_factor(conn, &id.user.id)?,
                        now,
                    };
                    let pass = match gate::decide(&id.user, id.facts, cx) {
                        Ok(pass) => pass,
                        Err(refusal) => {
                            let outcome = refusal.outcome();
                            let event = refused_event(method, outcome, Some(&id.user.id), &client);
                            audit::record_in(conn, event)?;
                            return Ok(Err((refusal.error(), outcome)));
                        }
                    };
                    factor::apply_in(conn, &ctx, &mut id, &client, now)?;
                    if pass == gate::Pass::SecondFactor {
                        let token =
                            ctx.second
                                .challenge_in(conn, &id.user.id, method.name(), now)?;
                        let event = audit::Event::by_self(
                            audit::kind::SECOND_FACTOR_REQUIRED,
                            &id.user.id,
                            &client,
                        );
                        audit::record_in(conn, event.detail(method.name()))?;
                        return Ok(Ok(Err(token)));
                    }
                    let policy = &ctx.sessions;
                    let sid = session::open_in(
                        conn,
                        policy,
                        &id.user.id,
                        &fresh.hash,
                        &client,
                        method.name(),
                        now,
                    )?;
                    Ok(Ok(Ok((id.user, sid))))
                })
            })
            .await?;
        match attempt {
            Ok(Ok((user, sid))) => {
                let signed = session::issue(&self.tokens, user, sid, Some(fresh.token))?;
                Ok(Attempt::Opened(Box::new(signed)))
            }
            Ok(Err(mfa_token)) => Ok(Attempt::SecondFactor(mfa_token)),
            Err((error, outcome)) => Ok(Attempt::Denied { error, outcome }),
        }
    }
}

/// The metrics label of a first factor that failed; `None` for errors that are not a
/// sign-in failure (a switched-off feature, an overloaded server).
fn failure_outcome(e: &ApiError) -> Option<&'static str> {
    match e {
        ApiError::InvalidCredentials => Some("failure"),
        ApiError::InvalidToken => Some("invalid_token"),
        _ => None,
    }
}

fn refused_event<'a>(
    method: Method,
    outcome: &str,
    user_id: Option<&'a str>,
    client: &'a ClientInfo,
) -> audit::Event<'a> {
    audit::Event {
        kind: audit::kind::SIGN_IN_FAILED,
        actor: user_id,
        subject: user_id,
        client: Some(client),
        detail: Some(format!("{}: {outcome}", method.name())),
    }
}
