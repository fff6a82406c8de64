//! Passkeys with `webauthn-rs`: registration by a signed-in user, sign-in with a
//! discoverable credential (no email) or with the credentials of an email. User
//! verification is required; each ceremony's state is kept in the database (any instance
//! can finish what another began), single use, for five minutes; a signature counter that
//! does not move forward (a cloned authenticator) is refused, also across ceremonies that
//! overlap.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chrono::NaiveDateTime;
use serde_json::Value;
use webauthn_rs::prelude::{
    AuthenticationResult, CredentialID, DiscoverableAuthentication, DiscoverableKey, Passkey,
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    Url, Uuid, Webauthn, WebauthnBuilder,
};

use crate::db::models::second_factor::{PasskeyRow, WebauthnChallenge};
use crate::db::models::{new_id, span, User};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};

/// How long a ceremony may take.
pub const CEREMONY_LIFETIME: Duration = Duration::from_secs(300);

const REGISTER: &str = "register";
const BY_EMAIL: &str = "passkey";
const DISCOVERABLE: &str = "discoverable";

/// The relying party: `WEBAUTHN_RP_ID`, `WEBAUTHN_RP_ORIGIN`, `WEBAUTHN_RP_NAME`.
#[derive(Clone)]
pub struct Passkeys {
    webauthn: Arc<Webauthn>,
    /// Makes the stand-in credential ids of addresses without passkeys.
    decoys: crate::auth::opaque_token::TokenKey,
}

/// A ceremony's options for the browser: `publicKey` goes to `navigator.credentials`.
pub struct Options {
    pub challenge_id: String,
    pub public_key: Value,
}

fn bad_credential(what: impl std::fmt::Display) -> ApiError {
    tracing::info!(reason = %what, "passkey refused");
    ApiError::InvalidCredentials
}

impl Passkeys {
    pub fn new(
        rp_id: &str,
        rp_origin: &str,
        rp_name: &str,
        decoys: crate::auth::opaque_token::TokenKey,
    ) -> anyhow::Result<Passkeys> {
        let origin = Url::parse(rp_origin)?;
        let webauthn = WebauthnBuilder::new(rp_id, &origin)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .rp_name(rp_name)
            .timeout(CEREMONY_LIFETIME)
            .build()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Passkeys {
            webauthn: Arc::new(webauthn),
            decoys,
        })
    }

    fn store_in(
        conn: &mut DbConn,
        kind: &str,
        user_id: Option<&str>,
        state: String,
        now: NaiveDateTime,
    ) -> ApiResult<String> {
        let id = new_id();
        WebauthnChallenge::insert(
            conn,
            &WebauthnChallenge {
                id: id.clone(),
                kind: kind.to_string(),
                user_id: user_id.map(str::to_string),
                state,
                created_at: now,
                expires_at: now + span(CEREMONY_LIFETIME),
            },
        )?;
        Ok(id)
    }

    fn stored(rows: &[PasskeyRow]) -> ApiResult<Vec<Passkey>> {
        rows.iter()
            .map(|r| {
                serde_json::from_str(&r.passkey)
                    .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("stored passkey: {e}")))
            })
            .collect()
    }

    /// Creation options for a new passkey of `user` (its handle is made at the first).
    pub fn register_options_in(
        &self,
        conn: &mut DbConn,
        user: &User,
        now: NaiveDateTime,
    ) -> ApiResult<Options> {
        let handle = match &user.webauthn_id {
            Some(h) => h.clone(),
            None => {
                let h = Uuid::new_v4().to_string();
                User::set_webauthn_id(conn, &user.id, &h)?;
                User::find(conn, &user.id)?
                    .and_then(|u| u.webauthn_id)
                    .unwrap_or(h)
            }
        };
        let handle = Uuid::parse_str(&handle)
            .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("webauthn handle: {e}")))?;
        let exclude: Vec<CredentialID> = Self::stored(&PasskeyRow::for_user(conn, &user.id)?)?
            .iter()
            .map(|p| p.cred_id().clone())
            .collect();
        let display = if user.name.is_empty() {
            &user.email
        } else {
            &user.name
        };
        let (ccr, state): (_, PasskeyRegistration) = self
            .webauthn
            .start_passkey_registration(handle, &user.email, display, Some(exclude))
            .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("webauthn: {e}")))?;
        let mut options = serde_json::to_value(&ccr).map_err(anyhow::Error::from)?;
        // A discoverable credential, so that it signs in without an email first.
        let selection = &mut options["publicKey"]["authenticatorSelection"];
        selection["residentKey"] = "required".into();
        selection["requireResidentKey"] = true.into();
        let state = serde_json::to_string(&state).map_err(anyhow::Error::from)?;
        let challenge_id = Self::store_in(conn, REGISTER, Some(&user.id), state, now)?;
        Ok(Options {
            challenge_id,
            public_key: options["publicKey"].take(),
        })
    }

    /// Finishes a registration for `user`: the new passkey's row. The ceremony is spent
    /// whatever the outcome, so the inner error (a refused credential) is to be committed.
    pub fn register_in(
        &self,
        conn: &mut DbConn,
        user: &User,
        challenge_id: &str,
        credential: Value,
        name: &str,
        now: NaiveDateTime,
    ) -> ApiResult<ApiResult<PasskeyRow>> {
        let Some(ceremony) = WebauthnChallenge::take(conn, challenge_id, now)?
            .filter(|c| c.kind == REGISTER && c.user_id.as_deref() == Some(&user.id))
        else {
            return Ok(Err(ApiError::InvalidToken));
        };
        Ok(self.register_checked_in(conn, user, &ceremony, credential, name, now))
    }

    fn register_checked_in(
        &self,
        conn: &mut DbConn,
        user: &User,
        ceremony: &WebauthnChallenge,
        credential: Value,
        name: &str,
        now: NaiveDateTime,
    ) -> ApiResult<PasskeyRow> {
        let credential: RegisterPublicKeyCredential =
            serde_json::from_value(credential).map_err(|e| {
                ApiError::InvalidRequest(format!(
                    "`credential` is not a WebAuthn registration: {e}."
                ))
            })?;
        let state: PasskeyRegistration = serde_json::from_str(&ceremony.state)
            .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("ceremony state: {e}")))?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&credential, &state)
            .map_err(bad_credential)?;
        let credential_id = B64.encode(passkey.cred_id());
        if PasskeyRow::find_by_credential(conn, &credential_id)?.is_some() {
            return Err(ApiError::Conflict("passkey_registered"));
        }
        let json = serde_json::to_value(&passkey).map_err(anyhow::Error::from)?;
        let row = PasskeyRow {
            id: new_id(),
            user_id: user.id.clone(),
            credential_id,
            sign_count: json["cred"]["counter"].as_i64().unwrap_or(0),
            passkey: json.to_string(),
            name: name.to_string(),
            created_at: now,
            last_used_at: None,
        };
        PasskeyRow::insert(conn, &row)?;
        Ok(row)
    }

    /// Request options. With no address: for any discoverable credential. With an
    /// address: for that account's passkeys, and for an address without any (no account,
    /// or no passkey) the same shape with one or two made-up credential ids derived from
    /// the address with a server key (the same on every request), so the answer tells an
    /// observer nothing about the address. No authenticator holds a made-up id, so such a
    /// ceremony can only end as a discoverable one.
    pub fn login_options_in(
        &self,
        conn: &mut DbConn,
        email: Option<&str>,
        now: NaiveDateTime,
    ) -> ApiResult<Options> {
        let user = match email {
            Some(e) => User::find_by_email(conn, e)?,
            None => None,
        };
        let keys = match &user {
            Some(u) => Self::stored(&PasskeyRow::for_user(conn, &u.id)?)?,
            None => Vec::new(),
        };
        let failed = |e: webauthn_rs::prelude::WebauthnError| {
            ApiError::Unexpected(anyhow::anyhow!("webauthn: {e}"))
        };
        let (rcr, kind, state, user_id) = match &user {
            Some(u) if !keys.is_empty() => {
                let (rcr, st): (_, PasskeyAuthentication) = self
                    .webauthn
                    .start_passkey_authentication(&keys)
                    .map_err(failed)?;
                (
                    rcr,
                    BY_EMAIL,
                    serde_json::to_string(&st),
                    Some(u.id.as_str()),
                )
            }
            _ => {
                let (rcr, st): (_, DiscoverableAuthentication) = self
                    .webauthn
                    .start_discoverable_authentication()
                    .map_err(failed)?;
                (rcr, DISCOVERABLE, serde_json::to_string(&st), None)
            }
        };
        let state = state.map_err(anyhow::Error::from)?;
        let challenge_id = Self::store_in(conn, kind, user_id, state, now)?;
        let options = serde_json::to_value(&rcr).map_err(anyhow::Error::from)?;
        let mut public_key = options["publicKey"].clone();
        if let Some(email) = email {
            let allowed = match kind {
                BY_EMAIL => plain_ids(&public_key["allowCredentials"]),
                _ => {
                    // What a discoverable ceremony asks beyond an address's one.
                    if let Some(o) = public_key.as_object_mut() {
                        o.remove("extensions");
                    }
                    self.decoy_ids(email)
                }
            };
            public_key["allowCredentials"] = Value::Array(allowed);
        }
        Ok(Options {
            challenge_id,
            public_key,
        })
    }

    /// One or two made-up credential ids for `email`, the same every time.
    fn decoy_ids(&self, email: &str) -> Vec<Value> {
        let seed = self.decoys.hash(&format!("passkey decoy:{email}"));
        let count = 1 + usize::from(seed.as_bytes()[0].is_multiple_of(2));
        (0..count)
            .map(|n| {
                let id = self.decoys.hash(&format!("passkey decoy {n}:{email}"));
                let bytes: Vec<u8> = (0..32)
                    .map(|i| u8::from_str_radix(&id[2 * i..2 * i + 2], 16).unwrap_or(0))
                    .collect();
                serde_json::json!({"type": "public-key", "id": B64.encode(bytes)})
            })
            .collect()
    }

    /// Checks a sign-in with a passkey: the user it belongs to. The counter is checked
    /// against the stored one and moved forward only if no other sign-in moved it first.
    /// The ceremony is spent whatever the outcome: the inner error is to be committed.
    pub fn login_in(
        &self,
        conn: &mut DbConn,
        challenge_id: &str,
        credential: Value,
        now: NaiveDateTime,
    ) -> ApiResult<ApiResult<String>> {
        let Some(ceremony) = WebauthnChallenge::take(conn, challenge_id, now)?
            .filter(|c| c.kind == BY_EMAIL || c.kind == DISCOVERABLE)
        else {
            return Ok(Err(ApiError::InvalidToken));
        };
        Ok(self.login_checked_in(conn, ceremony, credential, now))
    }

    fn login_checked_in(
        &self,
        conn: &mut DbConn,
        ceremony: WebauthnChallenge,
        credential: Value,
        now: NaiveDateTime,
    ) -> ApiResult<String> {
        let credential: PublicKeyCredential = serde_json::from_value(credential).map_err(|e| {
            ApiError::InvalidRequest(format!("`credential` is not a WebAuthn assertion: {e}."))
        })?;
        let state_err =
            |e: serde_json::Error| ApiError::Unexpected(anyhow::anyhow!("ceremony state: {e}"));
        let (user_id, result): (String, AuthenticationResult) = if ceremony.kind == BY_EMAIL {
            let state: PasskeyAuthentication =
                serde_json::from_str(&ceremony.state).map_err(state_err)?;
            let user_id = ceremony.user_id.ok_or(ApiError::InvalidToken)?;
            let result = self
                .webauthn
                .finish_passkey_authentication(&credential, &state)
                .map_err(bad_credential)?;
            (user_id, result)
        } else {
            let state: DiscoverableAuthentication =
                serde_json::from_str(&ceremony.state).map_err(state_err)?;
            let (handle, _) = self
                .webauthn
                .identify_discoverable_authentication(&credential)
                .map_err(bad_credential)?;
            let user = User::find_by_webauthn_id(conn, &handle.to_string())?
                .ok_or_else(|| bad_credential("no account has this user handle"))?;
            let keys: Vec<DiscoverableKey> = Self::stored(&PasskeyRow::for_user(conn, &user.id)?)?
                .iter()
                .map(DiscoverableKey::from)
                .collect();
            let result = self
                .webauthn
                .finish_discoverable_authentication(&credential, state, &keys)
                .map_err(bad_credential)?;
            (user.id, result)
        };
        let credential_id = B64.encode(result.cred_id());
        let row = PasskeyRow::find_by_credential(conn, &credential_id)?
            .filter(|r| r.user_id == user_id)
            .ok_or_else(|| bad_credential("the credential is not the account's"))?;
        // The ceremony compared with the counter as it was at its start; compare with the
        // stored one, and store the new one only if nobody moved it meanwhile.
        let counter = i64::from(result.counter());
        if (counter > 0 || row.sign_count > 0) && counter <= row.sign_count {
            return Err(bad_credential(
                "the signature counter went back: a cloned authenticator?",
            ));
        }
        let mut passkey: Passkey = serde_json::from_str(&row.passkey)
            .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("stored passkey: {e}")))?;
        passkey.update_credential(&result);
        let json = serde_json::to_string(&passkey).map_err(anyhow::Error::from)?;
        if PasskeyRow::record_use(conn, &row.id, row.sign_count, counter, &json, now)? != 1 {
            return Err(bad_credential("the counter moved during the sign-in"));
        }
        Ok(user_id)
    }
}

/// Credential descriptors as type and id only: what the made-up ones carry too.
fn plain_ids(allowed: &Value) -> Vec<Value> {
    allowed
        .as_array()
        .map(|list| {
            list.iter()
                .map(|c| serde_json::json!({"type": c["type"], "id": c["id"]}))
                .collect()
        })
        .unwrap_or_default()
}
