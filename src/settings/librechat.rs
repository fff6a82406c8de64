//! Every authentication name LibreChat documents, and what Latch does with it: the same
//! thing, something close (said how), or nothing (said why, in one line at start when the
//! name is set). One table, so the README's copy is generated from it and a test keeps the
//! two alike.

/// What Latch does with a LibreChat name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Read as LibreChat reads it.
    Same,
    /// Read, with this difference.
    Differs(&'static str),
    /// Not read: named at start when set, with this reason.
    Unused(&'static str),
}

use Use::{Differs, Same, Unused};

const CHAT_BACKEND: &str =
    "a limit of the chat backend, not of sign-in; it reports its violations to /admin/violations";
const NO_WEB_SESSION: &str = "Latch keeps no server-side web session for sign-ins";
const PROVIDER_TOKENS: &str =
    "Latch issues its own tokens and never keeps a provider's (its keys are fetched again on an unknown kid)";
const REDIS_TUNING: &str = "tuning of LibreChat's Redis client; Latch's has its own";
const GRAPH: &str = "a chat-backend feature (Microsoft Graph, SharePoint), not sign-in";

/// LibreChat's authentication names, by section.
pub const NAMES: &[(&str, &str, Use)] = &[
    // Server
    ("Server", "HOST", Differs("default 127.0.0.1 (LibreChat: localhost)")),
    ("Server", "PORT", Differs("default 8080 (LibreChat: 3080, so both can run on one host)")),
    ("Server", "MONGO_URI", Unused("Latch keeps its users in DATABASE_URL; see `latch import librechat`")),
    ("Server", "DOMAIN_CLIENT", Same),
    ("Server", "DOMAIN_SERVER", Differs("also the default token issuer")),
    ("Server", "NODE_ENV", Differs("`production` means APP_ENV=production unless APP_ENV says otherwise")),
    ("Server", "TRUST_PROXY", Differs("unset believes one hop from a loopback or private peer only; `0` believes none (LibreChat turns 0 into 1)")),
    ("Server", "APP_TITLE", Same),
    ("Server", "ADMIN_PANEL_URL", Unused("LibreChat's admin panel; Latch has its own admin API")),
    ("Server", "TRUST_TENANT_HEADER", Unused("Latch serves one tenant per deployment")),
    // Sessions
    ("Sessions", "SESSION_EXPIRY", Same),
    ("Sessions", "REFRESH_TOKEN_EXPIRY", Same),
    ("Sessions", "JWT_SECRET", Differs("signs only with JWT_ALG=HS256; with a key pair (the default) it is named at start as unused")),
    ("Sessions", "JWT_REFRESH_SECRET", Differs("the HMAC key refresh and one-time tokens are stored under")),
    ("Sessions", "SESSION_COOKIE_SECURE", Differs("the same as COOKIE_SECURE (default true)")),
    ("Sessions", "LIBRECHAT_TEMP_CREDENTIALS_PATH", Unused("a development start keeps generated secrets beside the database")),
    // Sign-in and registration
    ("Sign-in", "ALLOW_EMAIL_LOGIN", Same),
    ("Sign-in", "ALLOW_EMAIL_LOGIN_OVERRIDE", Unused("there is no second door: the API is the form")),
    ("Sign-in", "ALLOW_REGISTRATION", Differs("default on, as LibreChat's example file sets it")),
    ("Sign-in", "ALLOW_SOCIAL_LOGIN", Same),
    ("Sign-in", "ALLOW_SOCIAL_REGISTRATION", Differs("also covers OpenID Connect and SAML")),
    ("Sign-in", "ALLOW_PASSWORD_RESET", Differs("unset: on when mail is configured; `true` without mail stops the start")),
    ("Sign-in", "ALLOW_ACCOUNT_DELETION", Same),
    ("Sign-in", "ALLOW_UNVERIFIED_EMAIL_LOGIN", Same),
    ("Sign-in", "MIN_PASSWORD_LENGTH", Differs("below 8 stops the start")),
    // Mail
    ("Mail", "EMAIL_SERVICE", Same),
    ("Mail", "EMAIL_HOST", Same),
    ("Mail", "EMAIL_PORT", Same),
    ("Mail", "EMAIL_ENCRYPTION", Differs("`starttls` is enforced (LibreChat's mailer never enforces it)")),
    ("Mail", "EMAIL_ENCRYPTION_HOSTNAME", Same),
    ("Mail", "EMAIL_ALLOW_SELFSIGNED", Same),
    ("Mail", "EMAIL_USERNAME", Same),
    ("Mail", "EMAIL_PASSWORD", Same),
    ("Mail", "EMAIL_FROM", Same),
    ("Mail", "EMAIL_FROM_NAME", Same),
    ("Mail", "MAILGUN_API_KEY", Same),
    ("Mail", "MAILGUN_DOMAIN", Same),
    ("Mail", "MAILGUN_HOST", Same),
    // Social
    ("Social", "GOOGLE_CLIENT_ID", Same),
    ("Social", "GOOGLE_CLIENT_SECRET", Same),
    ("Social", "GOOGLE_CALLBACK_URL", Differs("served as well as /auth/oauth/google/callback")),
    ("Social", "GITHUB_CLIENT_ID", Same),
    ("Social", "GITHUB_CLIENT_SECRET", Same),
    ("Social", "GITHUB_CALLBACK_URL", Differs("served as well as /auth/oauth/github/callback")),
    ("Social", "GITHUB_ENTERPRISE_BASE_URL", Same),
    ("Social", "GITHUB_ENTERPRISE_USER_AGENT", Same),
    ("Social", "DISCORD_CLIENT_ID", Same),
    ("Social", "DISCORD_CLIENT_SECRET", Same),
    ("Social", "DISCORD_CALLBACK_URL", Differs("served as well as /auth/oauth/discord/callback")),
    ("Social", "FACEBOOK_CLIENT_ID", Same),
    ("Social", "FACEBOOK_CLIENT_SECRET", Same),
    ("Social", "FACEBOOK_CALLBACK_URL", Differs("served as well as /auth/oauth/facebook/callback")),
    ("Social", "APPLE_CLIENT_ID", Same),
    ("Social", "APPLE_TEAM_ID", Same),
    ("Social", "APPLE_KEY_ID", Same),
    ("Social", "APPLE_PRIVATE_KEY_PATH", Same),
    ("Social", "APPLE_CALLBACK_URL", Differs("served as well as /auth/oauth/apple/callback")),
    ("Social", "PROXY", Same),
    // OpenID Connect
    ("OpenID", "OPENID_ISSUER", Same),
    ("OpenID", "OPENID_CLIENT_ID", Same),
    ("OpenID", "OPENID_CLIENT_SECRET", Same),
    ("OpenID", "OPENID_SESSION_SECRET", Unused(NO_WEB_SESSION)),
    ("OpenID", "OPENID_SCOPE", Same),
    ("OpenID", "OPENID_CALLBACK_URL", Differs("served as well as /auth/oauth/openid/callback")),
    ("OpenID", "OPENID_AUDIENCE", Same),
    ("OpenID", "OPENID_REFRESH_AUDIENCE", Unused(PROVIDER_TOKENS)),
    ("OpenID", "OPENID_REQUIRED_ROLE", Same),
    ("OpenID", "OPENID_REQUIRED_ROLE_TOKEN_KIND", Same),
    ("OpenID", "OPENID_REQUIRED_ROLE_PARAMETER_PATH", Same),
    ("OpenID", "OPENID_ADMIN_ROLE", Same),
    ("OpenID", "OPENID_ADMIN_ROLE_PARAMETER_PATH", Same),
    ("OpenID", "OPENID_ADMIN_ROLE_TOKEN_KIND", Same),
    ("OpenID", "OPENID_ROLE_SYNC_ENABLED", Unused("Latch's roles are user and admin; other roles are the chat backend's")),
    ("OpenID", "OPENID_ROLE_SYNC_API_ENABLED", Unused("Latch's roles are user and admin; other roles are the chat backend's")),
    ("OpenID", "OPENID_ROLE_SYNC_SOURCE", Unused("Latch's roles are user and admin; other roles are the chat backend's")),
    ("OpenID", "OPENID_ROLE_SYNC_CLAIM", Unused("Latch's roles are user and admin; other roles are the chat backend's")),
    ("OpenID", "OPENID_ROLE_SYNC_ROLE_PRIORITY", Unused("Latch's roles are user and admin; other roles are the chat backend's")),
    ("OpenID", "OPENID_ROLE_SYNC_FALLBACK_ROLE", Unused("Latch's roles are user and admin; other roles are the chat backend's")),
    ("OpenID", "OPENID_USERNAME_CLAIM", Same),
    ("OpenID", "OPENID_NAME_CLAIM", Same),
    ("OpenID", "OPENID_EMAIL_CLAIM", Differs("an address from a claim other than `email` is not vouched for unless OPENID_TRUST_EMAIL_CLAIM=true")),
    ("OpenID", "OPENID_BUTTON_LABEL", Same),
    ("OpenID", "OPENID_IMAGE_URL", Same),
    ("OpenID", "OPENID_AUTO_REDIRECT", Same),
    ("OpenID", "OPENID_USE_PKCE", Differs("PKCE is always used; `true` also allows no client secret")),
    ("OpenID", "OPENID_GENERATE_NONCE", Differs("always: every request carries a nonce")),
    ("OpenID", "OPENID_TOKEN_ENDPOINT_AUTH_METHOD", Same),
    ("OpenID", "OPENID_CLOCK_TOLERANCE", Same),
    ("OpenID", "OPENID_REUSE_TOKENS", Unused(PROVIDER_TOKENS)),
    ("OpenID", "OPENID_REUSE_MAX_SESSION_AGE_MS", Unused(PROVIDER_TOKENS)),
    ("OpenID", "OPENID_JWKS_URL_CACHE_ENABLED", Unused(PROVIDER_TOKENS)),
    ("OpenID", "OPENID_JWKS_URL_CACHE_TIME", Unused(PROVIDER_TOKENS)),
    ("OpenID", "OPENID_ON_BEHALF_FLOW_FOR_USERINFO_REQUIRED", Unused(PROVIDER_TOKENS)),
    ("OpenID", "OPENID_ON_BEHALF_FLOW_USERINFO_SCOPE", Unused(PROVIDER_TOKENS)),
    ("OpenID", "OPENID_USE_END_SESSION_ENDPOINT", Same),
    ("OpenID", "OPENID_POST_LOGOUT_REDIRECT_URI", Same),
    ("OpenID", "OPENID_MAX_LOGOUT_URL_LENGTH", Unused("the end-session URL carries client_id only, never an ID token")),
    ("OpenID", "OPENID_GRAPH_SCOPES", Unused(GRAPH)),
    ("OpenID", "USE_ENTRA_ID_FOR_PEOPLE_SEARCH", Unused(GRAPH)),
    ("OpenID", "ENTRA_ID_INCLUDE_OWNERS_AS_MEMBERS", Unused(GRAPH)),
    ("OpenID", "ENABLE_SHAREPOINT_FILEPICKER", Unused(GRAPH)),
    ("OpenID", "SHAREPOINT_BASE_URL", Unused(GRAPH)),
    ("OpenID", "SHAREPOINT_PICKER_SHAREPOINT_SCOPE", Unused(GRAPH)),
    ("OpenID", "SHAREPOINT_PICKER_GRAPH_SCOPE", Unused(GRAPH)),
    // SAML
    ("SAML", "SAML_ENTRY_POINT", Same),
    ("SAML", "SAML_ISSUER", Same),
    ("SAML", "SAML_CERT", Same),
    ("SAML", "SAML_CALLBACK_URL", Same),
    ("SAML", "SAML_SESSION_SECRET", Unused(NO_WEB_SESSION)),
    ("SAML", "SAML_EMAIL_CLAIM", Differs("the address is not vouched for unless SAML_TRUST_EMAIL=true")),
    ("SAML", "SAML_USERNAME_CLAIM", Same),
    ("SAML", "SAML_GIVEN_NAME_CLAIM", Same),
    ("SAML", "SAML_FAMILY_NAME_CLAIM", Same),
    ("SAML", "SAML_PICTURE_CLAIM", Unused("Latch keeps no pictures")),
    ("SAML", "SAML_NAME_CLAIM", Same),
    ("SAML", "SAML_BUTTON_LABEL", Same),
    ("SAML", "SAML_IMAGE_URL", Same),
    ("SAML", "SAML_USE_AUTHN_RESPONSE_SIGNED", Same),
    // LDAP
    ("LDAP", "LDAP_URL", Same),
    ("LDAP", "LDAP_BIND_DN", Same),
    ("LDAP", "LDAP_BIND_CREDENTIALS", Same),
    ("LDAP", "LDAP_USER_SEARCH_BASE", Same),
    ("LDAP", "LDAP_SEARCH_FILTER", Same),
    ("LDAP", "LDAP_CA_CERT_PATH", Same),
    ("LDAP", "LDAP_TLS_REJECT_UNAUTHORIZED", Differs("default true, as LibreChat documents it (its code treats unset as false)")),
    ("LDAP", "LDAP_STARTTLS", Same),
    ("LDAP", "LDAP_LOGIN_USES_USERNAME", Differs("the username may also come as `username`; local accounts keep signing in with their address")),
    ("LDAP", "LDAP_ID", Differs("the attribute first, else `uid`, `sAMAccountName`, as LibreChat, then the entry's DN; never `mail` unless named (LibreChat's last fall-back: an address its owner may edit)")),
    ("LDAP", "LDAP_USERNAME", Differs("default `uid`")),
    ("LDAP", "LDAP_EMAIL", Differs("an entry without one gets a placeholder under `ldap.invalid`, never mailed; a directory address links to an existing account only with LDAP_TRUST_EMAIL=true")),
    ("LDAP", "LDAP_FULL_NAME", Same),
    // Second factor
    ("Second factor", "CREDS_KEY", Differs("read by `latch import librechat` to carry TOTP enrolments over; Latch seals its own secrets")),
    ("Second factor", "CREDS_IV", Unused("the TOTP formats LibreChat writes carry their own IV; `latch import librechat` needs only CREDS_KEY")),
    ("Second factor", "TWO_FACTOR_TEMP_MAX", Same),
    ("Second factor", "TWO_FACTOR_TEMP_WINDOW", Same),
    ("Second factor", "TWO_FACTOR_TEMP_VIOLATION_SCORE", Same),
    // Limits and bans
    ("Limits", "BAN_VIOLATIONS", Differs("default on, as LibreChat's example file sets it")),
    ("Limits", "BAN_DURATION", Same),
    ("Limits", "BAN_INTERVAL", Same),
    ("Limits", "LOGIN_MAX", Same),
    ("Limits", "LOGIN_WINDOW", Same),
    ("Limits", "LOGIN_VIOLATION_SCORE", Same),
    ("Limits", "REGISTER_MAX", Same),
    ("Limits", "REGISTER_WINDOW", Same),
    ("Limits", "REGISTRATION_VIOLATION_SCORE", Same),
    ("Limits", "RESET_PASSWORD_MAX", Same),
    ("Limits", "RESET_PASSWORD_WINDOW", Same),
    ("Limits", "RESET_PASSWORD_VIOLATION_SCORE", Same),
    ("Limits", "RESET_PASSWORD_SUBMISSION_MAX", Same),
    ("Limits", "RESET_PASSWORD_SUBMISSION_WINDOW", Same),
    ("Limits", "RESET_PASSWORD_SUBMISSION_VIOLATION_SCORE", Same),
    ("Limits", "VERIFY_EMAIL_MAX", Same),
    ("Limits", "VERIFY_EMAIL_WINDOW", Same),
    ("Limits", "VERIFY_EMAIL_VIOLATION_SCORE", Same),
    ("Limits", "VERIFY_EMAIL_SUBMISSION_MAX", Same),
    ("Limits", "VERIFY_EMAIL_SUBMISSION_WINDOW", Same),
    ("Limits", "VERIFY_EMAIL_SUBMISSION_VIOLATION_SCORE", Same),
    ("Limits", "NON_BROWSER_VIOLATION_SCORE", Differs("the score of a `non_browser` violation reported to /admin/violations; a user agent alone never bans")),
    ("Limits", "LIMIT_CONCURRENT_MESSAGES", Unused(CHAT_BACKEND)),
    ("Limits", "CONCURRENT_MESSAGE_MAX", Unused(CHAT_BACKEND)),
    ("Limits", "CONCURRENT_VIOLATION_SCORE", Unused(CHAT_BACKEND)),
    ("Limits", "LIMIT_MESSAGE_IP", Unused(CHAT_BACKEND)),
    ("Limits", "MESSAGE_IP_MAX", Unused(CHAT_BACKEND)),
    ("Limits", "MESSAGE_IP_WINDOW", Unused(CHAT_BACKEND)),
    ("Limits", "LIMIT_MESSAGE_USER", Unused(CHAT_BACKEND)),
    ("Limits", "MESSAGE_USER_MAX", Unused(CHAT_BACKEND)),
    ("Limits", "MESSAGE_USER_WINDOW", Unused(CHAT_BACKEND)),
    ("Limits", "MESSAGE_VIOLATION_SCORE", Unused(CHAT_BACKEND)),
    ("Limits", "ILLEGAL_MODEL_REQ_SCORE", Unused(CHAT_BACKEND)),
    // Redis
    ("Redis", "USE_REDIS", Differs("holds the limit counters (and the per-account failure counts); bans stay in the database")),
    ("Redis", "REDIS_URI", Same),
    ("Redis", "REDIS_USERNAME", Same),
    ("Redis", "REDIS_PASSWORD", Same),
    ("Redis", "REDIS_CA", Same),
    ("Redis", "REDIS_KEY_PREFIX", Differs("default `latch`")),
    ("Redis", "REDIS_KEY_PREFIX_VAR", Same),
    ("Redis", "USE_REDIS_CLUSTER", Unused("one Redis (or a proxy in front of a cluster) holds Latch's counters; cluster clients are not supported yet")),
    ("Redis", "REDIS_CLUSTER_SAFE_DELETE", Unused(REDIS_TUNING)),
    ("Redis", "REDIS_MAX_LISTENERS", Unused(REDIS_TUNING)),
    ("Redis", "REDIS_PING_INTERVAL", Unused(REDIS_TUNING)),
    ("Redis", "REDIS_USE_ALTERNATIVE_DNS_LOOKUP", Unused(REDIS_TUNING)),
    ("Redis", "USE_REDIS_STREAMS", Unused("LibreChat's resumable streams, not sign-in")),
    ("Redis", "FORCED_IN_MEMORY_CACHE_NAMESPACES", Unused(REDIS_TUNING)),
    ("Redis", "AUTH_USER_CACHE_MODE", Unused("Latch reuses session reads for SESSION_CACHE instead")),
];

/// The names set in `get`'s world that Latch has no use for, with the reason to say.
pub fn unused_set<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Vec<(&'static str, &'static str)> {
    NAMES
        .iter()
        .filter_map(|&(_, name, used)| match used {
            Unused(why) if get(name).is_some() => Some((name, why)),
            _ => None,
        })
        .collect()
}

/// The README's table of these names, as markdown.
pub fn markdown_table() -> String {
    let mut out = String::from("| LibreChat name | in Latch |\n| --- | --- |\n");
    for &(_, name, used) in NAMES {
        let what = match used {
            Same => "as in LibreChat".to_string(),
            Differs(how) => format!("read; {how}"),
            Unused(why) => format!("not read, and named at start when set: {why}"),
        };
        out.push_str(&format!("| `{name}` | {what} |\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_read_so_that_none_is_dropped_without_a_word() {
        for &(_, name, used) in NAMES {
            if !matches!(used, Unused(_)) {
                assert!(
                    super::super::KNOWN.contains(&name),
                    "{name} is honoured but not among Latch's settings"
                );
            }
            assert!(super::super::is_known(name));
        }
        let mut seen = std::collections::HashSet::new();
        for &(_, name, _) in NAMES {
            assert!(seen.insert(name), "{name} twice");
        }
    }

    #[test]
    fn the_readme_table_is_generated_from_this_one() {
        let readme = include_str!("../../README.md");
        let table = markdown_table();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        if std::env::var_os("LATCH_WRITE_README").is_some() {
            let start = readme.find(BEGIN).expect("the README's table markers");
            let end = readme.find(END).expect("the README's table markers");
            let new = format!("{}{BEGIN}\n{table}{}", &readme[..start], &readme[end..]);
            std::fs::write(path, new).unwrap();
            return;
        }
        assert!(
            readme.contains(&format!("{BEGIN}\n{table}{END}")),
            "README.md's LibreChat table differs from src/settings/librechat.rs: run \
             `LATCH_WRITE_README=1 cargo test --lib settings::librechat` and commit README.md"
        );
    }

    const BEGIN: &str = "<!-- librechat-names: generated from src/settings/librechat.rs -->";
    const END: &str = "<!-- librechat-names: end -->";
}
