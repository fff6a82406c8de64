//! Request guards: a signed-in user (a valid access token, no database round trip) and
//! a service caller (one of `SERVICE_TOKENS`).

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::tokens::Claims;
use crate::error::ApiError;
use crate::state::AppState;

/// The caller's verified access-token claims.
pub struct AuthUser(pub Claims);

fn state(req: &HttpRequest) -> Result<&web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("application state missing")))
}

/// The token of an `Authorization: Bearer` header, if there is one.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let state = state(req)?;
            let token =
                bearer(req).ok_or(ApiError::Unauthorized("A bearer access token is required."))?;
            let claims = state
                .tokens
                .verify(token)
                .map_err(|_| ApiError::Unauthorized("The access token is invalid or expired."))?;
            Ok(AuthUser(claims))
        })())
    }
}

/// A backend service authenticated with one of `SERVICE_TOKENS`.
pub struct ServiceCaller;

impl FromRequest for ServiceCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let state = state(req)?;
            let tokens = &state.settings.service_tokens;
            if tokens.is_empty() {
                return Err(ApiError::FeatureDisabled(
                    "Token introspection (SERVICE_TOKENS)",
                ));
            }
            let presented =
                bearer(req).ok_or(ApiError::Unauthorized("A service token is required."))?;
            // Compare digests so neither the length nor the content leaks through timing,
            // and check every configured token.
            let presented = Sha256::digest(presented.as_bytes());
            let mut matched = subtle::Choice::from(0);
            for t in tokens {
                matched |= Sha256::digest(t.expose_secret().as_bytes()).ct_eq(&presented);
            }
            if bool::from(matched) {
                Ok(ServiceCaller)
            } else {
                Err(ApiError::Unauthorized("The service token is not valid."))
            }
        })())
    }
}
