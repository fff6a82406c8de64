//! What token verifiers fetch: the public keys, and the discovery document that points
//! at them.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// A JSON Web Key Set (RFC 7517).
#[derive(ToSchema)]
#[schema(example = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "...", "y": "...", "kid": "...", "alg": "ES256", "use": "sig"}]}))]
pub struct Jwks {
    pub keys: Vec<serde_json::Value>,
}

/// Verifiers cache the keys this long; a rotated key is published longer than that
/// (`JWT_KEY_PREPUBLISH`) before it signs.
const CACHE_CONTROL: &str = "public, max-age=300";

/// Get the public keys that verify access tokens
///
/// The JSON Web Key Set (RFC 7517) for verifying access tokens, no authentication. It holds
/// the signing key, a rotated key published ahead of signing (`JWT_KEY_PREPUBLISH`), and
/// retired keys until their last token has expired; it is empty with `HS256`. Served with
/// `Cache-Control: public, max-age=300` and an `ETag`; a matching `If-None-Match` gets `304`.
#[utoipa::path(
    tag = "operations",
    operation_id = "getJwks",
    path = "/.well-known/jwks.json",
    params(("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy held")),
    responses(
        (status = 200, description = "Public keys that verify access tokens: the signing key, a rotated key before it signs, and retired keys until their last token expired (empty with HS256)", body = Jwks,
            headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "The copy held is current"),
    )
)]
#[get("/.well-known/jwks.json")]
pub async fn jwks(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let ring = state.tokens.key_ring();
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|held| matches_etag(held, &ring.etag));
    let mut answer = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    answer
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        .insert_header((header::ETAG, ring.etag.as_str()));
    if fresh {
        answer.finish()
    } else {
        answer
            .content_type("application/json")
            .body(ring.jwks_body.clone())
    }
}

/// `If-None-Match` compares weakly (RFC 9110 §13.1.2): any listed tag, `W/` or not, or `*`.
fn matches_etag(held: &HeaderValue, etag: &str) -> bool {
    let Ok(held) = held.to_str() else {
        return false;
    };
    held.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// OpenID Connect discovery, as far as a token verifier needs it.
#[derive(Serialize, ToSchema)]
pub struct Discovery {
    /// The `iss` of every access token.
    pub issuer: String,
    pub jwks_uri: String,
    /// The algorithm access tokens are signed with.
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    /// `POST`, with a service token (`SERVICE_TOKENS`); answers `403` while none is set.
    pub introspection_endpoint: String,
    pub subject_types_supported: Vec<&'static str>,
}

/// Get the discovery document for token verifiers
///
/// OpenID Connect discovery, as far as a token verifier needs it, no authentication:
/// `issuer`, `jwks_uri`, `id_token_signing_alg_values_supported` and
/// `introspection_endpoint`. URLs are built from `DOMAIN_SERVER`, else from the request's own
/// scheme and host (forwarded headers only with an explicit `TRUST_PROXY`).
#[utoipa::path(
    tag = "operations",
    operation_id = "getDiscovery",
    path = "/.well-known/openid-configuration",
    responses((status = 200, description = "Where verifiers find the keys and the introspection endpoint", body = Discovery))
)]
#[get("/.well-known/openid-configuration")]
pub async fn openid_configuration(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let base = public_base(&req, &state);
    let discovery = Discovery {
        issuer: state.settings.jwt.issuer.clone(),
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        id_token_signing_alg_values_supported: vec![state.tokens.key_ring().alg.name()],
        introspection_endpoint: format!("{base}/auth/introspect"),
        subject_types_supported: vec!["public"],
    };
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        .json(discovery)
}

/// Latch's public address: `DOMAIN_SERVER`, else the request's own scheme and `Host`
/// (forwarded ones only from a trusted proxy, so a client cannot point verifiers at its
/// own keys through a shared cache).
fn public_base(req: &HttpRequest, state: &AppState) -> String {
    if let Some(url) = &state.settings.server_url {
        return url.trim_end_matches('/').to_string();
    }
    let header_str = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or("").trim().to_string())
    };
    // Only an operator's explicit TRUST_PROXY: a proxy beside Latch may pass on a
    // client's own X-Forwarded-Host, and the document is cached by verifiers.
    let proxied = state.settings.trust_proxy.is_some_and(|hops| hops > 0);
    let host = proxied
        .then(|| header_str("x-forwarded-host"))
        .flatten()
        .or_else(|| header_str("host"))
        .filter(|h| is_host(h))
        .unwrap_or_else(|| format!("{}:{}", state.settings.host, state.settings.port));
    let scheme = proxied
        .then(|| header_str("x-forwarded-proto"))
        .flatten()
        .filter(|p| p == "https" || p == "http")
        .unwrap_or_else(|| req.connection_info().scheme().to_string());
    format!("{scheme}://{host}")
}

/// A host and optional port, with nothing that could change the URL around it.
fn is_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly() {
        let tag = "\"abc\"";
        for held in ["\"abc\"", "W/\"abc\"", "\"x\", \"abc\"", "*"] {
            assert!(matches_etag(&HeaderValue::from_static(held), tag), "{held}");
        }
        for held in ["\"abd\"", "abc", ""] {
            assert!(
                !matches_etag(&HeaderValue::from_static(held), tag),
                "{held}"
            );
        }
    }

    #[test]
    fn a_host_header_cannot_reshape_the_url() {
        assert!(is_host("auth.example.com:8443"));
        assert!(is_host("[::1]:8080"));
        for bad in ["evil.com/x", "a@b", "a b", "", "evil.com#"] {
            assert!(!is_host(bad), "{bad}");
        }
    }
}
