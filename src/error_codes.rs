//! Every problem `code` a client may get, with its status, what it means and what a client
//! should do. The README's table is generated from this list, and the tests fail when the
//! error type answers a code (or a status for it) that has no row here.

/// One row of the table.
pub struct CodeRow {
    pub code: &'static str,
    pub status: u16,
    pub means: &'static str,
    pub then: &'static str,
}

const fn row(code: &'static str, status: u16, means: &'static str, then: &'static str) -> CodeRow {
    CodeRow {
        code,
        status,
        means,
        then,
    }
}

pub const CODES: &[CodeRow] = &[
    row("invalid_request", 400, "the body is not the JSON object the endpoint takes (syntax, types, missing fields, not UTF-8), or a query parameter is malformed", "fix the request; `detail` names the field"),
    row("invalid_token", 400, "an emailed link (reset, magic link, verification, invitation, address change, sign-in report) or an `mfa_token` is unknown, used or expired", "ask for a new link, or start the sign-in again"),
    row("unauthorized", 401, "no access token, or one that is expired, revoked or for an account that is gone; at `/auth/refresh`, a missing, expired or revoked refresh token (including past `SESSION_MAX_AGE`)", "refresh once; if that fails too, show the sign-in screen"),
    row("invalid_credentials", 401, "a sign-in failed: wrong email, username or password, or no such account (the same answer for each)", "say \"wrong email or password\"; never which"),
    row("refresh_token_reused", 401, "a refresh token was presented again after it was exchanged: treated as theft, its session is revoked", "show the sign-in screen"),
    row("invalid_credentials", 403, "a signed-in caller gave a wrong current password, TOTP code or backup code (the session stays valid)", "ask for it again; do not sign out"),
    row("forbidden", 403, "the caller may not do this (not an admin, not a service)", "do not retry"),
    row("reauthentication_required", 403, "the change needs a session that authenticated within `REAUTH_MAX_AGE`", "ask for the password (and second factor), `POST /auth/reauthenticate`, then retry with the new access token"),
    row("feature_disabled", 403, "the feature is switched off on this server (`detail` names it)", "hide the feature; `GET /auth/config` says what is on"),
    row("origin_not_allowed", 403, "a request carrying the refresh cookie came from an origin not in `CORS_ORIGINS`", "serve the app from an allowed origin (operators: add it to `CORS_ORIGINS`)"),
    row("account_disabled", 403, "an admin disabled the account", "tell the user to contact the operator"),
    row("email_not_verified", 403, "a password sign-in to an account whose address is not verified, where verification is required", "tell the user to follow the emailed link (`POST /auth/email/verify/resend` sends another)"),
    row("banned", 403, "the account or address is banned; `banned_until` says until when", "show when it ends; do not retry before"),
    row("not_found", 404, "no such route or resource", "check the path and the id"),
    row("method_not_allowed", 405, "the route does not answer this method; `Allow` lists those it does", "use a listed method"),
    row("email_taken", 409, "an account with this address exists (registration, admin creation, an address change confirmed after the address was taken)", "sign in instead, or choose another address"),
    row("last_admin", 409, "the change would leave no enabled admin", "make another admin first"),
    row("last_sign_in_method", 409, "removing this passkey or identity would leave the account no way to sign in", "add another way in first"),
    row("identity_taken", 409, "the provider's identity is already linked to another account", "sign in with that account, or unlink it there first"),
    row("passkey_registered", 409, "this authenticator already holds a passkey for the account", "use the existing passkey"),
    row("totp_enabled", 409, "TOTP is already on for the account", "disable it first to set up a new one"),
    row("totp_not_set_up", 409, "enabling TOTP before `POST /auth/mfa/totp/setup`", "set it up first"),
    row("totp_not_enabled", 409, "disabling TOTP or making backup codes for an account without TOTP", "nothing to do"),
    row("no_password", 409, "reauthenticating with a password on an account that has none", "reauthenticate with a passkey, or sign in again"),
    row("payload_too_large", 413, "the body is over 64 KiB", "send less"),
    row("unsupported_media_type", 415, "the body is not `application/json`", "send JSON with that content type"),
    row("validation_failed", 422, "fields break a rule; `errors` lists each field with its own code (`too_short`, `too_common`, `invalid_email`, `required`, …)", "show each field's message next to it"),
    row("rate_limited", 429, "too many attempts from this address, or too many wrong codes or passwords for this account", "wait `Retry-After` seconds"),
    row("internal_error", 500, "a fault on the server (logged with the request id)", "retry later; report it if it persists"),
    row("overloaded", 503, "too many requests wait for a password check (`PASSWORD_HASH_QUEUE`)", "retry after `Retry-After` seconds"),
    row("service_unavailable", 503, "the database, Redis, the directory or a provider cannot be reached", "retry after `Retry-After` seconds"),
];

/// The table as Markdown, for the README.
pub fn markdown_table() -> String {
    let mut out =
        String::from("| code | status | means | a client should |\n| --- | --- | --- | --- |\n");
    for r in CODES {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            r.code, r.status, r.means, r.then
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use std::time::Duration;

    /// One error of each kind. A new variant does not compile here until it has a sample,
    /// and so a row.
    fn one_of_each() -> Vec<ApiError> {
        let all = vec![
            ApiError::InvalidRequest(String::new()),
            ApiError::UnsupportedMediaType,
            ApiError::PayloadTooLarge,
            ApiError::Validation(vec![]),
            ApiError::Unauthorized(""),
            ApiError::InvalidCredentials,
            ApiError::WrongPassword,
            ApiError::WrongCode,
            ApiError::RefreshTokenReused,
            ApiError::Forbidden,
            ApiError::ReauthenticationRequired,
            ApiError::Paused(Duration::from_secs(1)),
            ApiError::FeatureDisabled(""),
            ApiError::OriginNotAllowed,
            ApiError::AccountDisabled,
            ApiError::NotFound,
            ApiError::MethodNotAllowed(vec![]),
            ApiError::EmailTaken,
            ApiError::LastAdmin,
            ApiError::InvalidToken,
            ApiError::EmailNotVerified,
            ApiError::Unavailable(String::new()),
            ApiError::RateLimited(Duration::from_secs(1)),
            ApiError::Banned(chrono::NaiveDateTime::default()),
            ApiError::Overloaded,
            ApiError::Unexpected(anyhow::anyhow!("x")),
        ];
        for e in &all {
            use ApiError::*;
            match e {
                InvalidRequest(_)
                | UnsupportedMediaType
                | PayloadTooLarge
                | Validation(_)
                | Unauthorized(_)
                | InvalidCredentials
                | WrongPassword
                | WrongCode
                | RefreshTokenReused
                | Forbidden
                | ReauthenticationRequired
                | Paused(_)
                | FeatureDisabled(_)
                | OriginNotAllowed
                | AccountDisabled
                | NotFound
                | MethodNotAllowed(_)
                | EmailTaken
                | LastAdmin
                | InvalidToken
                | EmailNotVerified
                | Unavailable(_)
                | RateLimited(_)
                | Banned(_)
                | Overloaded
                | Unexpected(_) => {}
                // Its codes come from the source, below.
                Conflict(_) => {}
            }
        }
        all
    }

    fn listed(code: &str, status: u16) -> bool {
        CODES.iter().any(|r| r.code == code && r.status == status)
    }

    #[test]
    fn every_error_has_a_row() {
        for e in one_of_each() {
            let p = e.problem();
            assert!(
                listed(&p.code, p.status),
                "no row for `{}` ({})",
                p.code,
                p.status
            );
        }
    }

    /// `Conflict` carries its code: every one written in the source has a row.
    #[test]
    fn every_conflict_code_has_a_row() {
        let mut found = 0;
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    let codes = text.split("Conflict(\"").skip(1).filter_map(|rest| {
                        let code = rest.split('"').next()?;
                        code.chars()
                            .all(|c| c.is_ascii_lowercase() || c == '_')
                            .then_some(code)
                    });
                    for code in codes {
                        found += 1;
                        assert!(
                            listed(code, 409),
                            "no row for `{code}` ({})",
                            path.display()
                        );
                    }
                }
            }
        }
        assert!(found > 5, "the scan found the conflicts ({found})");
    }

    #[test]
    fn every_row_is_answered_by_some_error() {
        for r in CODES {
            let answered = one_of_each().iter().any(|e| {
                let p = e.problem();
                p.code == r.code && p.status == r.status
            }) || r.status == 409;
            assert!(answered, "`{}` ({}) is not an answer", r.code, r.status);
        }
    }

    #[test]
    fn the_readme_table_is_generated_from_this_one() {
        let readme = include_str!("../README.md");
        let table = markdown_table();
        if std::env::var_os("LATCH_WRITE_README").is_some() {
            let start = readme.find(BEGIN).expect("the README's table markers");
            let end = readme.find(END).expect("the README's table markers");
            let new = format!("{}{BEGIN}\n{table}{}", &readme[..start], &readme[end..]);
            std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"), new).unwrap();
            return;
        }
        assert!(
            readme.contains(&format!("{BEGIN}\n{table}{END}")),
            "README.md's table of problem codes differs from src/error_codes.rs: run \
             `LATCH_WRITE_README=1 cargo test --lib error_codes` and commit README.md"
        );
    }

    const BEGIN: &str = "<!-- problem-codes: generated from src/error_codes.rs -->";
    const END: &str = "<!-- problem-codes: end -->";
}
