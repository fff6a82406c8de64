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
}

pub struct Login;
/// A sign-in with a password: the login limit, and a hash.
pub struct PasswordLogin;
pub struct Register;
pub struct ResetPassword;
pub struct VerifyEmail;

impl Kind for Login {
    const KIND: LimitKind = LimitKind::Login;
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
    const KIND: LimitKind = LimitKind::ResetPassword;
}
impl Kind for VerifyEmail {
    const KIND: LimitKind = LimitKind::VerifyEmail;
}

/// The request was admitted under the limit `K` (and holds its place with the hasher).
pub struct Limited<K> {
    _kind: PhantomData<K>,
    _place: Option<OwnedSemaphorePermit>,
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
            state.moderation.admit(K::KIND, ip.as_deref()).await?;
            Ok(Limited {
                _kind: PhantomData,
                _place: place,
            })
        })
    }
}
