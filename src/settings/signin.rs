//! Which ways in are open, and on what terms (LibreChat's `ALLOW_*` names).

use std::path::PathBuf;
use std::time::Duration;

use super::parse::{bad, parse_bool, SettingsError};
use super::sources::Raw;
use super::tokens::seconds;
use super::AppEnv;

/// The switches the sign-in pipeline and the handlers consult.
#[derive(Clone, Debug)]
pub struct SignInPolicy {
    pub allow_email_login: bool,
    pub allow_registration: bool,
    /// No sign-in method creates accounts; people join by invitation.
    pub invite_required: bool,
    pub dev_login: bool,
    pub allow_password_reset: bool,
    pub allow_magic_link: bool,
    /// A password sign-in needs a verified address.
    pub require_email_verification: bool,
    /// `ALLOW_SOCIAL_REGISTRATION`: a provider-verified email may make an account.
    pub allow_social_registration: bool,
    /// `REAUTH_MAX_AGE`: how recent a session's last authentication must be for a change
    /// to how the account is entered.
    pub reauth_max_age: Duration,
    /// LibreChat's `ALLOW_ACCOUNT_DELETION`: users may delete their own accounts.
    pub allow_account_deletion: bool,
}

impl SignInPolicy {
    /// Whether a sign-in method may create an account that does not exist yet.
    pub fn may_register(&self) -> bool {
        self.allow_registration && !self.invite_required
    }
}

/// The links that prove a person owns an address: lifetimes and frontend paths.
#[derive(Clone, Debug)]
pub struct EmailFlows {
    pub verify_ttl: Duration,
    pub reset_ttl: Duration,
    pub magic_link_ttl: Duration,
    pub invite_ttl: Duration,
    /// A directory whose templates replace the built-in ones, file by file.
    pub templates_dir: Option<PathBuf>,
    /// Frontend paths (under `APP_URL`) the links in each email point to.
    pub verify_path: String,
    pub reset_path: String,
    pub magic_link_path: String,
    pub invite_path: String,
    /// Links that confirm a new address, and that report a sign-in from a new device
    /// (they live as long as a verification link).
    pub email_change_path: String,
    pub report_path: String,
}

pub fn policy(raw: &Raw, app_env: AppEnv, has_mail: bool) -> Result<SignInPolicy, SettingsError> {
    let flag = |n: &str, default: bool| raw.get(n).map_or(Ok(default), |v| parse_bool(n, v));
    let needs_mail = |n: &str, on: bool| -> Result<bool, SettingsError> {
        if on && !has_mail {
            return Err(bad(
                n,
                "needs mail: set EMAIL_HOST (or EMAIL_SERVICE) and EMAIL_FROM",
            ));
        }
        Ok(on)
    };
    let dev_login = flag("DEV_LOGIN", false)?;
    if dev_login && app_env == AppEnv::Production {
        return Err(bad(
            "DEV_LOGIN",
            "signs anyone in without a password; a production start refuses it",
        ));
    }
    // LibreChat's ALLOW_UNVERIFIED_EMAIL_LOGIN is the negation of ours; both may be given
    // only if they agree.
    let require = raw
        .get("REQUIRE_EMAIL_VERIFICATION")
        .map(|v| parse_bool("REQUIRE_EMAIL_VERIFICATION", v))
        .transpose()?;
    let allow_unverified = raw
        .get("ALLOW_UNVERIFIED_EMAIL_LOGIN")
        .map(|v| parse_bool("ALLOW_UNVERIFIED_EMAIL_LOGIN", v))
        .transpose()?;
    let require_email_verification = match (require, allow_unverified) {
        (Some(r), Some(a)) if r == a => {
            return Err(bad(
                "ALLOW_UNVERIFIED_EMAIL_LOGIN",
                format!("contradicts REQUIRE_EMAIL_VERIFICATION={r}; set one of them"),
            ))
        }
        (Some(r), _) => needs_mail("REQUIRE_EMAIL_VERIFICATION", r)?,
        (None, Some(a)) => needs_mail("ALLOW_UNVERIFIED_EMAIL_LOGIN", !a)?,
        (None, None) => has_mail,
    };
    Ok(SignInPolicy {
        allow_email_login: flag("ALLOW_EMAIL_LOGIN", true)?,
        allow_registration: flag("ALLOW_REGISTRATION", true)?,
        invite_required: flag("INVITE_REQUIRED", false)?,
        dev_login,
        allow_password_reset: needs_mail(
            "ALLOW_PASSWORD_RESET",
            flag("ALLOW_PASSWORD_RESET", has_mail)?,
        )?,
        allow_magic_link: needs_mail("ALLOW_MAGIC_LINK", flag("ALLOW_MAGIC_LINK", has_mail)?)?,
        require_email_verification,
        allow_social_registration: flag("ALLOW_SOCIAL_REGISTRATION", false)?,
        reauth_max_age: seconds(raw, "REAUTH_MAX_AGE", 300)?,
        allow_account_deletion: flag("ALLOW_ACCOUNT_DELETION", true)?,
    })
}

pub fn email_flows(raw: &Raw) -> Result<EmailFlows, SettingsError> {
    let path = |n: &str, default: &str| -> Result<String, SettingsError> {
        let p = raw.get(n).unwrap_or(default);
        if !p.starts_with('/') {
            return Err(bad(n, format!("`{p}` must be a path starting with /")));
        }
        Ok(p.to_string())
    };
    Ok(EmailFlows {
        verify_ttl: seconds(raw, "EMAIL_VERIFICATION_EXPIRY", 15 * 60)?,
        reset_ttl: seconds(raw, "PASSWORD_RESET_EXPIRY", 15 * 60)?,
        magic_link_ttl: seconds(raw, "MAGIC_LINK_EXPIRY", 15 * 60)?,
        invite_ttl: seconds(raw, "INVITE_EXPIRY", 7 * 24 * 60 * 60)?,
        templates_dir: raw.get("EMAIL_TEMPLATES_DIR").map(PathBuf::from),
        verify_path: path("EMAIL_VERIFY_PATH", "/verify-email")?,
        reset_path: path("PASSWORD_RESET_PATH", "/reset-password")?,
        magic_link_path: path("MAGIC_LINK_PATH", "/magic-link")?,
        invite_path: path("INVITE_PATH", "/invite")?,
        email_change_path: path("EMAIL_CHANGE_PATH", "/confirm-email-change")?,
        report_path: path("SESSION_REPORT_PATH", "/report-sign-in")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)], mail: bool) -> Result<SignInPolicy, SettingsError> {
        policy(&Raw::from_pairs(pairs), AppEnv::Development, mail)
    }

    #[test]
    fn librechat_names_are_honoured() {
        assert!(p(&[], true).unwrap().allow_password_reset);
        assert!(!p(&[], false).unwrap().allow_password_reset);
        assert!(
            !p(&[("ALLOW_PASSWORD_RESET", "false")], true)
                .unwrap()
                .allow_password_reset
        );
        let e = p(&[("ALLOW_PASSWORD_RESET", "true")], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("ALLOW_PASSWORD_RESET"), "{e}");

        assert!(p(&[], true).unwrap().require_email_verification);
        let lax = p(&[("ALLOW_UNVERIFIED_EMAIL_LOGIN", "true")], true).unwrap();
        assert!(!lax.require_email_verification);
        let e = p(
            &[
                ("ALLOW_UNVERIFIED_EMAIL_LOGIN", "true"),
                ("REQUIRE_EMAIL_VERIFICATION", "true"),
            ],
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("ALLOW_UNVERIFIED_EMAIL_LOGIN"), "{e}");
        assert!(p(
            &[
                ("ALLOW_UNVERIFIED_EMAIL_LOGIN", "true"),
                ("REQUIRE_EMAIL_VERIFICATION", "false"),
            ],
            true,
        )
        .is_ok());
    }

    #[test]
    fn production_refuses_dev_login() {
        let e = policy(
            &Raw::from_pairs(&[("DEV_LOGIN", "true")]),
            AppEnv::Production,
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("DEV_LOGIN"), "{e}");
    }
}
