//! `Limited<K>`: a handler argument that admits the request under the limit of kind `K`
//! (or refuses it with `429` or `403 banned`) before the handler does any work.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

use super::LimitKind;
use crate::error::ApiError;
use crate::state::AppState;

/// A kind of limit, as a type.
pub trait Kind {
    const KIND: LimitKind;
}

pub struct Login;
pub struct Register;
pub struct ResetPassword;
pub struct VerifyEmail;

impl Kind for Login {
    const KIND: LimitKind = LimitKind::Login;
}
impl Kind for Register {
    const KIND: LimitKind = LimitKind::Register;
}
impl Kind for ResetPassword {
    const KIND: LimitKind = LimitKind::ResetPassword;
}
impl Kind for VerifyEmail {
    const KIND: LimitKind = LimitKind::VerifyEmail;
}

/// The request was admitted under the limit `K`.
pub struct Limited<K>(PhantomData<K>);

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
            state.moderation.admit(K::KIND, ip.as_deref()).await?;
            Ok(Limited(PhantomData))
        })
    }
}
