//! Administration, one module per resource. Every route takes an `AdminUser`: a live
//! session of an account that is an enabled admin right now (a demoted or signed-out
//! admin's still-valid token is not enough).

pub mod audit;
pub mod bans;
pub mod mail;
pub mod users;
pub mod webhooks;

use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::audit::Event;
use crate::auth::client::ClientInfo;
use crate::error::{ApiError, ApiResult};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(users::list_users)
        .service(users::create_user)
        .service(users::get_user)
        .service(users::update_user)
        .service(users::delete_user)
        .service(users::set_password)
        .service(users::revoke_sessions)
        .service(users::reset_second_factors)
        .service(bans::create_ban)
        .service(bans::list_bans)
        .service(bans::lift_ban)
        .service(bans::report_violation)
        .service(mail::list_outbox)
        .service(webhooks::list_deliveries)
        .service(webhooks::retry_delivery)
        .service(audit::list_audit_events);
}

/// Splits one row more than a page off: its presence means there is a next page, which
/// starts after the last row kept.
fn page<T>(mut rows: Vec<T>, limit: i64, id: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        let next = rows.last().map(id);
        (rows, next)
    } else {
        (rows, None)
    }
}

fn page_limit(limit: Option<i64>) -> ApiResult<i64> {
    let limit = limit.unwrap_or(50);
    if (1..=200).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::InvalidRequest(
            "`limit` must be between 1 and 200.".into(),
        ))
    }
}

/// A free-text query parameter: printable text only (PostgreSQL cannot even store a NUL
/// byte, and no search needs control characters).
fn text_param(name: &str, value: Option<String>) -> ApiResult<Option<String>> {
    match value {
        Some(v) if v.chars().any(char::is_control) => Err(ApiError::InvalidRequest(format!(
            "`{name}` must not contain control characters."
        ))),
        other => Ok(other),
    }
}

/// An admin action on `subject`, for the audit log.
fn admin_event<'a>(
    kind: &'static str,
    admin: &'a str,
    subject: &'a str,
    client: &'a ClientInfo,
) -> Event<'a> {
    Event {
        kind,
        actor: Some(admin),
        subject: Some(subject),
        client: Some(client),
        detail: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_text_must_be_printable() {
        assert!(text_param("q", Some("ada".into())).is_ok());
        assert!(text_param("q", None).is_ok());
        assert!(text_param("q", Some("a\0b".into())).is_err());
        assert!(text_param("q", Some("\u{7}".into())).is_err());
    }
}
