//! `Limited<K>`: a handler argument that admits the request under the limit of kind `K`
//! (or refuses it with `429` or `403 banned`) before the handler does any work.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use tokio::sync::OwnedSemaphorePermit;

use super::LimitKind;
use crate::error::ApiError;
use crate::state::AppState;

/// A kind of limit, as a type.
pub trait Kind {
    const KIND: LimitKind;
    /// The request goes on to hash a password: it needs a place with the hasher
    /// (`PasswordHasher::admit`) before it is counted.
    const HASHES: bool = false;
    /// The request asks for an email (always answered `202`): from a banned address it is
    /// still answered `202`, and nothing is sent (`Limited::may_mail`).
    const ASKS_FOR_MAIL: bool = false;
}

pub struct Login;
/// The second step of a sign-in.
pub struct TwoFactor;
/// A sign-in with a password: the login limit, and a hash.
pub struct PasswordLogin;
pub struct Register;
/// Submitting a reset link.
pub struct ResetPassword;
/// Submitting a verification link.
pub struct VerifyEmail;
/// Asking for a reset link.
pub struct ForgotPassword;
/// Asking for a magic link.
pub struct MagicLinkRequest;
/// Asking for another verification link.
pub struct ResendVerification;

impl Kind for Login {
    const KIND: LimitKind = LimitKind::Login;
}
impl Kind for TwoFactor {
    const KIND: LimitKind = LimitKind::TwoFactor;
}
impl Kind for PasswordLogin {
    const KIND: LimitKind = LimitKind::Login;
    const HASHES: bool = true;
}
impl Kind for Register {
    const KIND: LimitKind = LimitKind::Register;
    const HASHES: bool = true;
}
impl Kind for ResetPassword {
    const KIND: LimitKind = LimitKind::ResetSubmission;
}
impl Kind for VerifyEmail {
    const KIND: LimitKind = LimitKind::VerifySubmission;
}
impl Kind for ForgotPassword {
    const KIND: LimitKind = LimitKind::ResetPassword;
    const ASKS_FOR_MAIL: bool = true;
}
impl Kind for MagicLinkRequest {
    const KIND: LimitKind = LimitKind::Login;
    const ASKS_FOR_MAIL: bool = true;
}
impl Kind for ResendVerification {
    const KIND: LimitKind = LimitKind::VerifyEmail;
    const ASKS_FOR_MAIL: bool = true;
}

/// The request was admitted under the limit `K` (and holds its place with the hasher).
pub struct Limited<K> {
    _kind: PhantomData<K>,
    _place: Option<OwnedSemaphorePermit>,
    /// The request comes from a banned address (only for kinds that ask for mail).
    banned: bool,
}

impl<K> Limited<K> {
    /// Whether the mail this request asks for may be sent: not from a banned address.
    pub fn may_mail(&self) -> bool {
        !self.banned
    }
}

impl<K: Kind + 'static> FromRequest for Limited<K> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let ip = state.as_ref().and_then(|s| s.client(req).ip);
        Box::pin(async move {
            let state = state.ok_or_else(|| {
                ApiError::Unexpected(anyhow::anyhow!("application state missing"))
            })?;
            let place = if K::HASHES {
                Some(state.hasher().admit()?)
            } else {
                None
            };
            let banned = match state.moderation.admit(K::KIND, ip.as_deref()).await {
                Ok(()) => false,
                Err(ApiError::Banned(_)) if K::ASKS_FOR_MAIL => true,
                Err(e) => return Err(e),
            };
            Ok(Limited {
                _kind: PhantomData,
                _place: place,
                banned,
            })
        })
    }
}
