//! The OpenAPI document, generated from the route table and the handlers' annotations.
//! `openapi/openapi.json` is this document, committed; a test fails when they differ.

use actix_web::App;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::error::{FieldError, Problem};
use crate::routes::problems::{
    BadRequest, Conflict, Forbidden, InvalidCredentials, NotFound, PayloadTooLarge,
    TooManyRequests, Unauthorized, Unavailable, UnsupportedMediaType, ValidationFailed,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Latch",
        description = "A headless JSON authentication service: accounts, passwords, sessions and tokens. \
            Errors are RFC 9457 `application/problem+json` documents whose `code` is stable.",
        license(name = "MIT OR Apache-2.0")
    ),
    components(
        schemas(Problem, FieldError, crate::routes::auth::PendingVerification,
            crate::routes::SecondFactorRequired),
        responses(BadRequest, Unauthorized, InvalidCredentials, Forbidden, NotFound, Conflict,
            PayloadTooLarge, UnsupportedMediaType, ValidationFailed, Unavailable, TooManyRequests)
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Signing in and out"),
        (name = "email", description = "Links sent by email: password reset, magic links, verification, invitations"),
        (name = "account", description = "The signed-in user's account"),
        (name = "sessions", description = "The signed-in user's devices"),
        (name = "second factor", description = "TOTP, backup codes and passkeys: adding and removing them (recent authentication), and passkey sign-in"),
        (name = "social", description = "Signing in with Google, GitHub, an OpenID Connect provider…; the identities linked to an account"),
        (name = "service", description = "For other backend services"),
        (name = "admin", description = "Administration (admins only)"),
        (name = "operations", description = "Health, metrics, keys and this document"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from a sign-in answer"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "refresh_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "refresh_token",
                "The HttpOnly refresh-token cookie set at sign-in",
            ))),
        );
        components.add_security_scheme(
            "service_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("One of SERVICE_TOKENS"))
                    .build(),
            ),
        );
    }
}

/// The whole document, from the same route table the server serves.
pub fn spec() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes::configure)
        .split_for_parts();
    let mut api = api;
    add_links(&mut api);
    api
}

/// A link's name and the operation it leads to.
type Link = (&'static str, &'static str);

/// OpenAPI links: where an answer's ids can be used next. Clients read them, and the
/// stateful phase of the Schemathesis run follows them (create, then read, change and
/// remove what was created).
///
/// (operation, status, the id in its answer, [(link name, the operation taking it)])
const LINKS: &[(&str, &str, &str, &[Link])] = &[
    (
        "createUser",
        "201",
        "/id",
        &[
            ("GetUser", "getUser"),
            ("UpdateUser", "updateUser"),
            ("SetUserPassword", "setUserPassword"),
            ("RevokeUserSessions", "revokeUserSessions"),
            ("ResetUserSecondFactors", "resetUserSecondFactors"),
            ("DeleteUser", "deleteUser"),
        ],
    ),
    ("listUsers", "200", "/users/0/id", &[("GetUser", "getUser")]),
    ("createBan", "201", "/id", &[("LiftBan", "liftBan")]),
    (
        "listSessions",
        "200",
        "/sessions/0/id",
        &[("RevokeSession", "revokeSession")],
    ),
    (
        "finishPasskeyRegistration",
        "201",
        "/id",
        &[("RemovePasskey", "removePasskey")],
    ),
];

fn add_links(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::link::LinkBuilder;
    use utoipa::openapi::RefOr;
    for path in api.paths.paths.values_mut() {
        for op in operations(path) {
            for (from, status, pointer, links) in LINKS {
                if op.operation_id.as_deref() != Some(from) {
                    continue;
                }
                let Some(RefOr::T(response)) = op.responses.responses.get_mut(*status) else {
                    continue;
                };
                for (name, to) in links.iter() {
                    let link = LinkBuilder::new()
                        .operation_id(*to)
                        .parameter("id", format!("$response.body#{pointer}"))
                        .build();
                    response.links.insert((*name).into(), RefOr::T(link));
                }
            }
        }
    }
}

fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// The document as committed: pretty JSON with a trailing newline.
pub fn spec_json() -> String {
    let mut json = spec().to_pretty_json().expect("the spec serialises");
    json.push('\n');
    json
}
