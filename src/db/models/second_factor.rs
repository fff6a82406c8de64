//! The second factors' tables: TOTP secrets, backup codes, sign-ins waiting for a second
//! factor, passkeys, and WebAuthn ceremonies under way.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{
    backup_codes, mfa_challenges, passkeys, totp_secrets, webauthn_challenges,
};
use crate::db::DbConn;
use crate::events::{self, kind};

/// A user's TOTP secret (sealed); active once `confirmed_at` is set.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = totp_secrets)]
pub struct TotpSecret {
    pub user_id: String,
    pub secret: String,
    pub confirmed_at: Option<NaiveDateTime>,
    pub last_used_step: Option<i64>,
    pub created_at: NaiveDateTime,
}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpSecret")
            .field("user_id", &self.user_id)
            .field("confirmed_at", &self.confirmed_at)
            .finish_non_exhaustive()
    }
}

impl TotpSecret {
    pub fn find(conn: &mut DbConn, user_id: &str) -> QueryResult<Option<TotpSecret>> {
        totp_secrets::table
            .find(user_id)
            .select(TotpSecret::as_select())
            .first(conn)
            .optional()
    }

    /// Stores a new, unconfirmed secret in place of any unconfirmed one.
    pub fn replace_unconfirmed(conn: &mut DbConn, row: &TotpSecret) -> QueryResult<usize> {
        diesel::delete(totp_secrets::table.find(&row.user_id)).execute(conn)?;
        diesel::insert_into(totp_secrets::table)
            .values(row)
            .execute(conn)
    }

    /// Turns TOTP on (`mfa.enabled`).
    pub fn confirm(conn: &mut DbConn, user_id: &str, now: NaiveDateTime) -> QueryResult<usize> {
        let set = diesel::update(totp_secrets::table.find(user_id))
            .set(totp_secrets::confirmed_at.eq(now))
            .execute(conn)?;
        if set == 1 {
            mfa_event(conn, kind::MFA_ENABLED, user_id, TOTP)?;
        }
        Ok(set)
    }

    /// Records `step` as used if no later or equal step was: 1 when this use is the first.
    pub fn use_step(conn: &mut DbConn, user_id: &str, step: i64) -> QueryResult<usize> {
        diesel::update(
            totp_secrets::table.find(user_id).filter(
                totp_secrets::last_used_step
                    .is_null()
                    .or(totp_secrets::last_used_step.lt(step)),
            ),
        )
        .set(totp_secrets::last_used_step.eq(step))
        .execute(conn)
    }

    /// Removes the secret (`mfa.disabled` when it was on).
    pub fn delete(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
        let was_on = TotpSecret::find(conn, user_id)?.is_some_and(|t| t.confirmed_at.is_some());
        let deleted = diesel::delete(totp_secrets::table.find(user_id)).execute(conn)?;
        if was_on && deleted == 1 {
            mfa_event(conn, kind::MFA_DISABLED, user_id, TOTP)?;
        }
        Ok(deleted)
    }
}

const TOTP: &str = "totp";
const PASSKEY: &str = "passkey";

fn mfa_event(conn: &mut DbConn, kind: &str, user_id: &str, method: &str) -> QueryResult<()> {
    events::about_user_in(conn, kind, user_id, serde_json::json!({ "method": method }))
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = backup_codes)]
pub struct BackupCode {
    pub id: String,
    pub user_id: String,
    pub code_hash: String,
    pub used_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

impl BackupCode {
    pub fn replace_all(conn: &mut DbConn, user_id: &str, codes: &[BackupCode]) -> QueryResult<()> {
        diesel::delete(backup_codes::table.filter(backup_codes::user_id.eq(user_id)))
            .execute(conn)?;
        // One by one: a batch insert does not go through the multi-backend connection.
        for code in codes {
            diesel::insert_into(backup_codes::table)
                .values(code)
                .execute(conn)?;
        }
        Ok(())
    }

    /// Spends the user's unused code with this hash: 1 for the one use that wins.
    pub fn spend(
        conn: &mut DbConn,
        user_id: &str,
        code_hash: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            backup_codes::table
                .filter(backup_codes::user_id.eq(user_id))
                .filter(backup_codes::code_hash.eq(code_hash))
                .filter(backup_codes::used_at.is_null()),
        )
        .set(backup_codes::used_at.eq(now))
        .execute(conn)
    }

    pub fn delete_all(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
        diesel::delete(backup_codes::table.filter(backup_codes::user_id.eq(user_id))).execute(conn)
    }
}

/// A sign-in waiting for its second factor.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = mfa_challenges)]
pub struct MfaChallenge {
    pub id: String,
    pub token_hash: String,
    pub user_id: String,
    pub method: String,
    pub attempts: i32,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    /// What the sign-in changes on the account once the second factor is given (JSON).
    pub pending: Option<String>,
}

impl MfaChallenge {
    pub fn insert(conn: &mut DbConn, row: &MfaChallenge) -> QueryResult<usize> {
        diesel::insert_into(mfa_challenges::table)
            .values(row)
            .execute(conn)
    }

    /// The live challenge with this token hash (unused, unexpired, tries left).
    pub fn find_live(
        conn: &mut DbConn,
        token_hash: &str,
        max_attempts: i32,
        now: NaiveDateTime,
    ) -> QueryResult<Option<MfaChallenge>> {
        mfa_challenges::table
            .filter(mfa_challenges::token_hash.eq(token_hash))
            .filter(mfa_challenges::used_at.is_null())
            .filter(mfa_challenges::expires_at.gt(now))
            .filter(mfa_challenges::attempts.lt(max_attempts))
            .select(MfaChallenge::as_select())
            .first(conn)
            .optional()
    }

    /// Counts a wrong code.
    pub fn fail(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
        diesel::update(mfa_challenges::table.find(id))
            .set(mfa_challenges::attempts.eq(mfa_challenges::attempts + 1))
            .execute(conn)
    }

    /// Spends it: 1 for the one use that wins.
    pub fn spend(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(
            mfa_challenges::table
                .find(id)
                .filter(mfa_challenges::used_at.is_null()),
        )
        .set(mfa_challenges::used_at.eq(now))
        .execute(conn)
    }

    pub fn delete_expired(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(mfa_challenges::table.filter(mfa_challenges::expires_at.lt(before)))
            .execute(conn)
    }

    /// Voids every challenge of the user (its address was just proven by someone else).
    pub fn delete_for_user(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
        diesel::delete(mfa_challenges::table.filter(mfa_challenges::user_id.eq(user_id)))
            .execute(conn)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = passkeys)]
pub struct PasskeyRow {
    pub id: String,
    pub user_id: String,
    pub credential_id: String,
    pub passkey: String,
    pub sign_count: i64,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

impl PasskeyRow {
    /// Stores a new passkey (`mfa.enabled`).
    pub fn insert(conn: &mut DbConn, row: &PasskeyRow) -> QueryResult<usize> {
        let inserted = diesel::insert_into(passkeys::table)
            .values(row)
            .execute(conn)?;
        mfa_event(conn, kind::MFA_ENABLED, &row.user_id, PASSKEY)?;
        Ok(inserted)
    }

    pub fn for_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<PasskeyRow>> {
        passkeys::table
            .filter(passkeys::user_id.eq(user_id))
            .order(passkeys::created_at.asc())
            .select(PasskeyRow::as_select())
            .load(conn)
    }

    pub fn find_by_credential(
        conn: &mut DbConn,
        credential_id: &str,
    ) -> QueryResult<Option<PasskeyRow>> {
        passkeys::table
            .filter(passkeys::credential_id.eq(credential_id))
            .select(PasskeyRow::as_select())
            .first(conn)
            .optional()
    }

    /// Stores a use, if the counter is still the one read: 1 when it was.
    pub fn record_use(
        conn: &mut DbConn,
        id: &str,
        expected_count: i64,
        new_count: i64,
        passkey: &str,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            passkeys::table
                .find(id)
                .filter(passkeys::sign_count.eq(expected_count)),
        )
        .set((
            passkeys::sign_count.eq(new_count),
            passkeys::passkey.eq(passkey),
            passkeys::last_used_at.eq(now),
        ))
        .execute(conn)
    }

    /// Removes one of the user's passkeys (`mfa.disabled`).
    pub fn delete(conn: &mut DbConn, user_id: &str, id: &str) -> QueryResult<usize> {
        let deleted = diesel::delete(
            passkeys::table
                .filter(passkeys::id.eq(id))
                .filter(passkeys::user_id.eq(user_id)),
        )
        .execute(conn)?;
        if deleted == 1 {
            mfa_event(conn, kind::MFA_DISABLED, user_id, PASSKEY)?;
        }
        Ok(deleted)
    }

    /// Removes all the user's passkeys (an `mfa.disabled` each).
    pub fn delete_all(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
        let deleted =
            diesel::delete(passkeys::table.filter(passkeys::user_id.eq(user_id))).execute(conn)?;
        for _ in 0..deleted {
            mfa_event(conn, kind::MFA_DISABLED, user_id, PASSKEY)?;
        }
        Ok(deleted)
    }

    pub fn count(conn: &mut DbConn, user_id: &str) -> QueryResult<i64> {
        passkeys::table
            .filter(passkeys::user_id.eq(user_id))
            .count()
            .get_result(conn)
    }
}

/// A WebAuthn ceremony under way.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webauthn_challenges)]
pub struct WebauthnChallenge {
    pub id: String,
    pub kind: String,
    pub user_id: Option<String>,
    pub state: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl WebauthnChallenge {
    pub fn insert(conn: &mut DbConn, row: &WebauthnChallenge) -> QueryResult<usize> {
        diesel::insert_into(webauthn_challenges::table)
            .values(row)
            .execute(conn)
    }

    /// Takes the live ceremony out: found at most once, by one caller.
    pub fn take(
        conn: &mut DbConn,
        id: &str,
        now: NaiveDateTime,
    ) -> QueryResult<Option<WebauthnChallenge>> {
        // Ids are ours: anything else (a NUL, which PostgreSQL text refuses) is unknown.
        if uuid::Uuid::parse_str(id).is_err() {
            return Ok(None);
        }
        let Some(found) = webauthn_challenges::table
            .find(id)
            .filter(webauthn_challenges::expires_at.gt(now))
            .select(WebauthnChallenge::as_select())
            .first(conn)
            .optional()?
        else {
            return Ok(None);
        };
        let deleted = diesel::delete(webauthn_challenges::table.find(id)).execute(conn)?;
        Ok((deleted == 1).then_some(found))
    }

    pub fn delete_expired(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
        diesel::delete(
            webauthn_challenges::table.filter(webauthn_challenges::expires_at.lt(before)),
        )
        .execute(conn)
    }

    /// Voids the user's ceremonies under way.
    pub fn delete_for_user(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
        diesel::delete(webauthn_challenges::table.filter(webauthn_challenges::user_id.eq(user_id)))
            .execute(conn)
    }
}

/// Whether the user has a second factor: a confirmed TOTP secret or a passkey.
pub fn has_second_factor(conn: &mut DbConn, user_id: &str) -> QueryResult<bool> {
    diesel::select(second_factor_exists(user_id)).get_result(conn)
}

/// The condition of `has_second_factor`, to ask it within another query.
#[diesel::dsl::auto_type(no_type_alias)]
pub fn second_factor_exists<'a>(user_id: &'a str) -> _ {
    let totp = totp_secrets::table
        .filter(totp_secrets::user_id.eq(user_id))
        .filter(totp_secrets::confirmed_at.is_not_null());
    let passkey = passkeys::table.filter(passkeys::user_id.eq(user_id));
    diesel::dsl::exists(totp).or(diesel::dsl::exists(passkey))
}
