//! Second factors: TOTP with backup codes, and passkeys. A user with a confirmed TOTP
//! secret or a passkey has a second factor; every sign-in by a first factor then ends in an
//! `mfa_token` that `POST /auth/mfa/verify` completes (the sign-in pipeline does both).

pub mod passkeys;
pub mod totp;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;

use crate::auth::audit;
use crate::auth::client::ClientInfo;
use crate::auth::links::notice_saying_in;
use crate::auth::opaque_token::{looks_valid, TokenKey};
use crate::crypto::Sealer;
use crate::db::models::second_factor::{BackupCode, MfaChallenge, PasskeyRow, TotpSecret};
use crate::db::models::{new_id, span, User};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::mail::templates::Kind;
use crate::mail::MailService;
use crate::metrics::Metrics;

/// How long an `mfa_token` lives, and how many wrong codes it takes.
pub const CHALLENGE_LIFETIME: Duration = Duration::from_secs(300);
pub const MAX_ATTEMPTS: i32 = 5;

/// A second factor as presented.
#[derive(Debug, Clone)]
pub enum Code {
    Totp(String),
    Backup(String),
    /// A passkey assertion for a ceremony begun by `/auth/passkeys/login/options`.
    Passkey {
        challenge_id: String,
        credential: serde_json::Value,
    },
}

/// A second step completed: whose, after which first factor, and what the sign-in
/// changes on the account now.
#[derive(Debug, Clone)]
pub struct Completed {
    pub user_id: String,
    /// The first factor's method (`password`, `magic_link`…).
    pub method: String,
    /// The second factor given: `otp` or `hwk`.
    pub second: &'static str,
    pub pending: Option<String>,
}

/// How a backup code brought over from LibreChat is stored: its SHA-256 (hex) after
/// trimming, as LibreChat stored it, under the user's id and marked so it never matches
/// one of ours. The id keeps stored hashes apart: LibreChat's codes are 32 random bits,
/// so two of a large deployment's users share one sooner or later.
pub fn legacy_backup_hash(user_id: &str, code: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(code.trim().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    legacy_backup_row(user_id, &hex)
}

/// The stored form of a LibreChat backup code hash (`sha256_hex`) of `user_id`.
pub fn legacy_backup_row(user_id: &str, sha256_hex: &str) -> String {
    format!("librechat-sha256:{user_id}:{sha256_hex}")
}

/// The second factors an account has, as `mfa_required` answers name them.
pub fn methods_in(conn: &mut DbConn, user_id: &str) -> ApiResult<Vec<&'static str>> {
    let mut methods = Vec::new();
    if TotpSecret::find(conn, user_id)?.is_some_and(|t| t.confirmed_at.is_some()) {
        methods.extend(["totp", "backup_code"]);
    }
    if PasskeyRow::count(conn, user_id)? > 0 {
        methods.push("passkey");
    }
    Ok(methods)
}

/// What TOTP and backup codes need. Cheap to clone.
#[derive(Clone)]
pub struct SecondFactors {
    sealer: Sealer,
    key: TokenKey,
    issuer: Arc<str>,
    metrics: Metrics,
    mail: Option<MailService>,
    /// For a passkey given as the second factor.
    passkeys: Option<passkeys::Passkeys>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl SecondFactors {
    pub fn new(
        secret: &[u8],
        key: TokenKey,
        issuer: &str,
        metrics: Metrics,
        mail: Option<MailService>,
        passkeys: Option<passkeys::Passkeys>,
    ) -> Self {
        SecondFactors {
            sealer: Sealer::new(secret, "totp secrets"),
            key,
            issuer: issuer.into(),
            metrics,
            mail,
            passkeys,
        }
    }

    fn secret_of(&self, row: &TotpSecret) -> ApiResult<Vec<u8>> {
        self.sealer.open(&row.secret, &row.user_id).map_err(|e| {
            ApiError::Unexpected(anyhow::anyhow!("TOTP secret of {}: {e}", row.user_id))
        })
    }

    /// A new, unconfirmed secret for `user` (replacing an unconfirmed one): the base32
    /// secret and the `otpauth://` URI. `409 totp_enabled` while one is confirmed.
    pub fn setup_in(
        &self,
        conn: &mut DbConn,
        user: &User,
        now: NaiveDateTime,
    ) -> ApiResult<(String, String)> {
        if TotpSecret::find(conn, &user.id)?.is_some_and(|t| t.confirmed_at.is_some()) {
            return Err(ApiError::Conflict("totp_enabled"));
        }
        let secret = totp::new_secret();
        TotpSecret::replace_unconfirmed(
            conn,
            &TotpSecret {
                user_id: user.id.clone(),
                secret: self.sealer.seal(&secret, &user.id),
                confirmed_at: None,
                last_used_step: None,
                created_at: now,
            },
        )?;
        totp::provisioning(&secret, &self.issuer, &user.email).map_err(ApiError::Unexpected)
    }

    /// Whether `code` is the user's current TOTP code (the pending secret's with
    /// `pending`), accepted once: its step may never be accepted again.
    fn totp_in(
        &self,
        conn: &mut DbConn,
        user_id: &str,
        code: &str,
        pending: bool,
    ) -> ApiResult<bool> {
        let Some(row) = TotpSecret::find(conn, user_id)? else {
            return Ok(false);
        };
        if row.confirmed_at.is_some() == pending {
            return Ok(false);
        }
        let secret = self.secret_of(&row)?;
        let Some(step) = totp::matched_step(&secret, code, unix_now()) else {
            return Ok(false);
        };
        Ok(TotpSecret::use_step(conn, user_id, step as i64)? == 1)
    }

    /// Whether `code` is good for the user: a TOTP code, or an unused backup code (spent).
    pub fn check_in(
        &self,
        conn: &mut DbConn,
        user_id: &str,
        code: &Code,
        now: NaiveDateTime,
    ) -> ApiResult<bool> {
        match code {
            Code::Totp(c) => self.totp_in(conn, user_id, c, false),
            Code::Backup(c) => {
                let hash = self.key.hash(&totp::normalise_backup_code(c));
                if BackupCode::spend(conn, user_id, &hash, now)? == 1 {
                    return Ok(true);
                }
                // A code brought over from LibreChat is kept as it kept it.
                let legacy = legacy_backup_hash(user_id, c);
                Ok(BackupCode::spend(conn, user_id, &legacy, now)? == 1)
            }
            Code::Passkey {
                challenge_id,
                credential,
            } => {
                let Some(passkeys) = &self.passkeys else {
                    return Err(ApiError::FeatureDisabled("Passkeys (WEBAUTHN_RP_ID)"));
                };
                // A refused assertion or ceremony is a wrong second factor; the ceremony is
                // spent either way.
                match passkeys.login_in(conn, challenge_id, credential.clone(), now)? {
                    Ok(owner) => Ok(owner == user_id),
                    Err(ApiError::InvalidRequest(why)) => Err(ApiError::InvalidRequest(why)),
                    Err(_) => Ok(false),
                }
            }
        }
    }

    fn new_backup_codes_in(
        &self,
        conn: &mut DbConn,
        user_id: &str,
        now: NaiveDateTime,
    ) -> ApiResult<Vec<String>> {
        let codes = totp::new_backup_codes();
        let rows: Vec<BackupCode> = codes
            .iter()
            .map(|c| BackupCode {
                id: new_id(),
                user_id: user_id.to_string(),
                code_hash: self.key.hash(&totp::normalise_backup_code(c)),
                used_at: None,
                created_at: now,
            })
            .collect();
        BackupCode::replace_all(conn, user_id, &rows)?;
        Ok(codes)
    }

    /// Confirms the pending secret with a code from it: TOTP is on, and the user gets ten
    /// backup codes. The inner error (a wrong code) changes nothing.
    pub fn enable_in(
        &self,
        conn: &mut DbConn,
        user: &User,
        code: &str,
        client: &ClientInfo,
        now: NaiveDateTime,
    ) -> ApiResult<Vec<String>> {
        let pending = TotpSecret::find(conn, &user.id)?.filter(|t| t.confirmed_at.is_none());
        if pending.is_none() {
            return Err(ApiError::Conflict("totp_not_set_up"));
        }
        if !self.totp_in(conn, &user.id, code, true)? {
            return Err(ApiError::WrongCode);
        }
        TotpSecret::confirm(conn, &user.id, now)?;
        let codes = self.new_backup_codes_in(conn, &user.id, now)?;
        self.added_in(
            conn,
            user,
            client,
            audit::kind::TOTP_ENABLED,
            "An authenticator app (TOTP)",
        )?;
        Ok(codes)
    }

    /// Turns TOTP off (the caller checked the password, or `code` is checked here).
    pub fn disable_in(
        &self,
        conn: &mut DbConn,
        user: &User,
        code: Option<&Code>,
        client: &ClientInfo,
        now: NaiveDateTime,
    ) -> ApiResult<()> {
        if TotpSecret::find(conn, &user.id)?.is_none_or(|t| t.confirmed_at.is_none()) {
            return Err(ApiError::Conflict("totp_not_enabled"));
        }
        if let Some(code) = code {
            if !self.check_in(conn, &user.id, code, now)? {
                return Err(ApiError::WrongCode);
            }
        }
        TotpSecret::delete(conn, &user.id)?;
        BackupCode::delete_all(conn, &user.id)?;
        self.changed_in(
            conn,
            user,
            client,
            audit::kind::TOTP_DISABLED,
            "The authenticator app (TOTP) was removed as a second factor.",
        )
    }

    /// New backup codes (the earlier ones stop working), for a current TOTP code.
    pub fn regenerate_in(
        &self,
        conn: &mut DbConn,
        user: &User,
        code: &str,
        client: &ClientInfo,
        now: NaiveDateTime,
    ) -> ApiResult<Vec<String>> {
        if TotpSecret::find(conn, &user.id)?.is_none_or(|t| t.confirmed_at.is_none()) {
            return Err(ApiError::Conflict("totp_not_enabled"));
        }
        if !self.totp_in(conn, &user.id, code, false)? {
            return Err(ApiError::WrongCode);
        }
        let codes = self.new_backup_codes_in(conn, &user.id, now)?;
        let event = audit::Event::by_self(audit::kind::BACKUP_CODES_REGENERATED, &user.id, client);
        audit::record_in(conn, event)?;
        Ok(codes)
    }

    /// Removes every second factor of `user` (an admin's reset: a lost phone).
    pub fn reset_in(&self, conn: &mut DbConn, user: &User, admin: Option<&str>) -> ApiResult<()> {
        reset_in(conn, user, admin, self.mail.as_ref())?;
        self.metrics.second_factor("reset");
        Ok(())
    }

    /// Audits a factor the user added, and mails them a notice naming it and the device,
    /// with every way into the account there is now.
    pub fn added_in(
        &self,
        conn: &mut DbConn,
        user: &User,
        client: &ClientInfo,
        kind: &'static str,
        what: &str,
    ) -> ApiResult<()> {
        let device = match (&client.user_agent, &client.ip) {
            (Some(agent), Some(ip)) => format!("{agent}, at {ip}"),
            (Some(agent), None) => agent.clone(),
            (None, Some(ip)) => format!("a device at {ip}"),
            (None, None) => "a device".to_string(),
        };
        let ways = ways_in(conn, user)?;
        let notice =
            format!("{what} was added from {device}. The ways into your account are now: {ways}.");
        self.changed_in(conn, user, client, kind, &notice)
    }

    /// Audits and announces a change of the user's own second factors.
    pub fn changed_in(
        &self,
        conn: &mut DbConn,
        user: &User,
        client: &ClientInfo,
        kind: &'static str,
        notice: &str,
    ) -> ApiResult<()> {
        audit::record_in(conn, audit::Event::by_self(kind, &user.id, client))?;
        self.metrics.second_factor(kind);
        notice_saying_in(
            conn,
            self.mail.as_ref(),
            Kind::SecondFactorChanged,
            user,
            Some(notice),
        )
    }

    /// Starts the second step of a sign-in by `method`: the `mfa_token` to send back.
    /// `pending` is what the sign-in changes on the account once the step is done.
    pub fn challenge_in(
        &self,
        conn: &mut DbConn,
        user_id: &str,
        method: &str,
        pending: Option<String>,
        now: NaiveDateTime,
    ) -> ApiResult<String> {
        let fresh = self.key.fresh();
        MfaChallenge::insert(
            conn,
            &MfaChallenge {
                id: new_id(),
                token_hash: fresh.hash,
                user_id: user_id.to_string(),
                method: method.to_string(),
                attempts: 0,
                created_at: now,
                expires_at: now + span(CHALLENGE_LIFETIME),
                used_at: None,
                pending,
            },
        )?;
        Ok(fresh.token)
    }

    /// The account a live `mfa_token` is for: `400 invalid_token` for any other token,
    /// answered before the account's pause is looked at.
    pub fn challenged_in(
        &self,
        conn: &mut DbConn,
        mfa_token: &str,
        now: NaiveDateTime,
    ) -> ApiResult<String> {
        if !looks_valid(mfa_token) {
            return Err(ApiError::InvalidToken);
        }
        let hash = self.key.hash(mfa_token);
        MfaChallenge::find_live(conn, &hash, MAX_ATTEMPTS, now)?
            .map(|c| c.user_id)
            .ok_or(ApiError::InvalidToken)
    }

    /// Checks the second factor for an `mfa_token`: the user it signs in. A wrong code is
    /// counted (the token is void after five) and is an inner error, to be committed; a
    /// void token is `400 invalid_token`.
    pub fn complete_in(
        &self,
        conn: &mut DbConn,
        mfa_token: &str,
        code: &Code,
        now: NaiveDateTime,
    ) -> ApiResult<ApiResult<Completed>> {
        if !looks_valid(mfa_token) {
            return Ok(Err(ApiError::InvalidToken));
        }
        let hash = self.key.hash(mfa_token);
        let Some(challenge) = MfaChallenge::find_live(conn, &hash, MAX_ATTEMPTS, now)? else {
            return Ok(Err(ApiError::InvalidToken));
        };
        if !self.check_in(conn, &challenge.user_id, code, now)? {
            MfaChallenge::fail(conn, &challenge.id)?;
            self.metrics.second_factor("failed");
            return Ok(Err(ApiError::InvalidCredentials));
        }
        if MfaChallenge::spend(conn, &challenge.id, now)? != 1 {
            return Ok(Err(ApiError::InvalidToken));
        }
        self.metrics.second_factor("verified");
        let second = match code {
            Code::Passkey { .. } => crate::auth::fresh::amr::HWK,
            _ => crate::auth::fresh::amr::OTP,
        };
        Ok(Ok(Completed {
            user_id: challenge.user_id,
            method: challenge.method,
            second,
            pending: challenge.pending,
        }))
    }
}

/// Every way into the account, in words: its password, passkeys by name, authenticator
/// app and linked providers.
pub fn ways_in(conn: &mut DbConn, user: &User) -> ApiResult<String> {
    let mut ways = Vec::new();
    if user.password_hash.is_some() {
        ways.push("a password".to_string());
    }
    for passkey in PasskeyRow::for_user(conn, &user.id)? {
        ways.push(format!("the passkey {}", passkey.name));
    }
    if TotpSecret::find(conn, &user.id)?.is_some_and(|t| t.confirmed_at.is_some()) {
        ways.push("an authenticator app (with backup codes)".to_string());
    }
    for identity in crate::db::models::Identity::for_user(conn, &user.id)? {
        ways.push(format!("sign-in with {}", identity.provider));
    }
    if ways.is_empty() {
        ways.push("emailed sign-in links".to_string());
    }
    Ok(ways.join(", "))
}

/// Removes every second factor of `user`, audits it (as `admin`'s act, or the command
/// line's) and mails the user a notice when mail is on.
pub fn reset_in(
    conn: &mut DbConn,
    user: &User,
    admin: Option<&str>,
    mail: Option<&MailService>,
) -> ApiResult<()> {
    TotpSecret::delete(conn, &user.id)?;
    BackupCode::delete_all(conn, &user.id)?;
    PasskeyRow::delete_all(conn, &user.id)?;
    let event = audit::Event {
        actor: admin,
        subject: Some(&user.id),
        ..audit::Event::new(audit::kind::SECOND_FACTOR_RESET)
    };
    audit::record_in(conn, event)?;
    notice_saying_in(
        conn,
        mail,
        Kind::SecondFactorChanged,
        user,
        Some("An administrator removed every second factor."),
    )
}
