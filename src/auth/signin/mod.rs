//! The sign-in pipeline. Every way in goes the same way:
//!
//! 1. `factor::prove`: the first factor's slow part, outside any transaction;
//! 2. in one write transaction: `factor::identify_in` finds or creates the account,
//!    `gate::admit` says yes or no (disabled, banned, verification), `factor::prove_in`
//!    records what the first factor proves (an address), `gate::second_factor` asks for
//!    the second factor when the account has one (keeping what is left to change with the
//!    `mfa_token`), else `factor::apply_in` makes the sign-in's changes and
//!    `session::open_in` opens the session;
//! 3. the access token is signed after the commit.
//!
//! A refusal by the gate commits what was spent (a link stays spent) and the audit row
//! that records it; it changes nothing else on the account.

pub mod factor;
pub mod gate;
pub mod session;

use std::sync::Arc;

use chrono::NaiveDateTime;
use diesel::{QueryDsl, RunQueryDsl};

pub use factor::{FirstFactor, Method};
pub use session::SignedIn;

use crate::auth::audit;
use crate::auth::client::ClientInfo;
use crate::auth::devices;
use crate::auth::opaque_token::TokenKey;
use crate::auth::password::PasswordHasher;
use crate::auth::tokens::TokenIssuer;
use crate::db::models::second_factor::{has_second_factor, second_factor_exists};
use crate::db::models::{now, Ban};
use crate::db::{write_tx, Db, DbConn};
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
    /// The directory passwords are checked against first, when LDAP is configured.
    pub directory: Option<crate::directory::Directory>,
}

/// How a sign-in ended well.
pub enum Outcome {
    SignedIn(Box<SignedIn>),
    /// The account has a second factor: `/auth/mfa/verify` with this token finishes.
    SecondFactor {
        mfa_token: String,
        /// The second factors the account has (`totp`, `backup_code`, `passkey`).
        methods: Vec<&'static str>,
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
    SecondFactor(String, Vec<&'static str>),
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
            Ok(Attempt::SecondFactor(mfa_token, methods)) => {
                self.metrics
                    .sign_in(method.name(), "second_factor_required");
                self.wake_mail();
                Ok(Outcome::SecondFactor { mfa_token, methods })
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
                    let (ip_banned_until, second) =
                        gate_facts_in(conn, &id.user.id, client.ip.as_deref(), now)?;
                    let mut cx = gate::Context {
                        require_email_verification: ctx.policy.require_email_verification,
                        ip_banned_until,
                        has_second_factor: second,
                        now,
                    };
                    if let Err(refusal) = gate::admit(&id.user, id.facts, &cx) {
                        let outcome = refusal.outcome();
                        let event = refused_event(method, outcome, Some(&id.user.id), &client);
                        audit::record_in(conn, event)?;
                        return Ok(Err((refusal.error(), outcome)));
                    }
                    if factor::prove_in(conn, &mut id, now)? {
                        // The first proof of an address removes the second factors that
                        // came before it.
                        cx.has_second_factor = has_second_factor(conn, &id.user.id)?;
                    }
                    if gate::second_factor(id.facts, cx.has_second_factor)
                        == gate::Pass::SecondFactor
                    {
                        let pending = id.pending()?;
                        // The provider goes with the method, for the session it will open.
                        let first = match &id.provider {
                            Some(p) => format!("{}:{p}", method.name()),
                            None => method.name().to_string(),
                        };
                        let token =
                            ctx.second
                                .challenge_in(conn, &id.user.id, &first, pending, now)?;
                        let methods = crate::mfa::methods_in(conn, &id.user.id)?;
                        let event = audit::Event::by_self(
                            audit::kind::SECOND_FACTOR_REQUIRED,
                            &id.user.id,
                            &client,
                        );
                        audit::record_in(conn, event.detail(method.name()))?;
                        return Ok(Ok(Err((token, methods))));
                    }
                    factor::apply_in(conn, &ctx, &mut id, &client, now)?;
                    let opening = session::Opening {
                        user_id: &id.user.id,
                        token_hash: &fresh.hash,
                        method: method.name(),
                        amr: &id.amr,
                        provider: id.provider.as_deref(),
                    };
                    let opened = session::open_in(conn, &ctx.sessions, opening, &client, now)?;
                    let mail = ctx.mail.as_ref();
                    devices::seen_in(conn, &ctx.key, mail, &id.user, &opened, &client, now)?;
                    Ok(Ok(Ok((id.user, opened))))
                })
            })
            .await?;
        match attempt {
            Ok(Ok((user, opened))) => {
                let signed = session::issue(&self.tokens, user, &opened, Some(fresh.token))?;
                Ok(Attempt::Opened(Box::new(signed)))
            }
            Ok(Err((mfa_token, methods))) => Ok(Attempt::SecondFactor(mfa_token, methods)),
            Err((error, outcome)) => Ok(Attempt::Denied { error, outcome }),
        }
    }
}

impl SignIn {
    /// Runs `check`, a check of a code or current password of the account `user_id`,
    /// counted per account across every token, session and address: refused with `429`
    /// (and not run) while the account's checks pause; a wrong answer counts towards a
    /// pause (the owner is mailed at the first); a right one resets the count.
    pub async fn guarded<T>(
        &self,
        user_id: &str,
        check: impl std::future::Future<Output = ApiResult<T>>,
    ) -> ApiResult<T> {
        self.moderation.account_admit(user_id).await?;
        let result = check.await;
        match &result {
            Ok(_) => self.moderation.account_succeeded(user_id).await?,
            Err(ApiError::InvalidCredentials | ApiError::WrongCode | ApiError::WrongPassword) => {
                let failure = self.moderation.account_failed(user_id).await?;
                if failure.first_pause {
                    self.tell_of_pause(user_id, failure.paused).await?;
                }
            }
            Err(_) => {}
        }
        result
    }

    /// Mails the owner that their account's checks paused after wrong codes or passwords.
    async fn tell_of_pause(
        &self,
        user_id: &str,
        paused: Option<std::time::Duration>,
    ) -> ApiResult<()> {
        let Some(mail) = self.mail.clone() else {
            return Ok(());
        };
        let (user_id, minutes) = (
            user_id.to_string(),
            paused.map_or(1, |p| p.as_secs().div_ceil(60)),
        );
        self.db
            .run(move |conn| {
                write_tx(conn, |conn| {
                    let Some(user) = crate::db::models::User::find(conn, &user_id)? else {
                        return Ok(());
                    };
                    let detail = format!(
                        "Someone gave five wrong codes or passwords for your account in a row. \
                         Checks of codes and passwords are paused for {minutes} minute(s), and longer \
                         after each further wrong answer."
                    );
                    crate::auth::links::notice_saying_in(
                        conn,
                        Some(&mail),
                        crate::mail::templates::Kind::SecurityNotice,
                        &user,
                        Some(&detail),
                    )
                })
            })
            .await?;
        self.wake_mail();
        Ok(())
    }
}

/// What the gate needs to know besides the account, in one query: until when the
/// address `ip` is banned, and whether the user has a second factor.
pub(crate) fn gate_facts_in(
    conn: &mut DbConn,
    user_id: &str,
    ip: Option<&str>,
    now: NaiveDateTime,
) -> ApiResult<(Option<NaiveDateTime>, bool)> {
    // Without an address, one no ban can name (bans name parsed addresses).
    let ip = ip.unwrap_or_default();
    let bucket = crate::auth::client::ip_bucket(ip);
    Ok(diesel::select((
        Ban::ip_ban_end(ip, &bucket, now).single_value(),
        second_factor_exists(user_id),
    ))
    .get_result(conn)?)
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
