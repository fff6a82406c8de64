//! Mail settings, by LibreChat's `EMAIL_*` names. Mail counts as configured when a
//! server (`EMAIL_HOST` or `EMAIL_SERVICE`) and `EMAIL_FROM` are set; anything in between
//! stops the start with a message naming what is missing.

use std::time::Duration;

use secrecy::SecretString;

use super::parse::{bad, parse_bool, parse_product, SettingsError};
use super::sources::Raw;

/// How the connection to the mail server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encryption {
    /// TLS from the first byte (`EMAIL_ENCRYPTION=tls`, usually port 465).
    Implicit,
    /// STARTTLS, refusing to go on without it (`starttls`).
    StartTls,
    /// STARTTLS when the server offers it (`EMAIL_ENCRYPTION` unset and no preset).
    Opportunistic,
    /// Never TLS (`none`): a relay on the same host or network, without credentials.
    Plain,
}

#[derive(Clone, Debug)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    pub encryption: Encryption,
    /// The name checked in the server's certificate (default: `host`).
    pub tls_hostname: String,
    pub allow_self_signed: bool,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub from: String,
    pub from_name: String,
    /// Retries after the first attempt before a message is marked failed.
    pub max_retries: u32,
    /// First retry delay; doubled after each failed attempt (capped at an hour).
    pub retry_base: Duration,
}

/// Host, port and encryption of the well-known services, for `EMAIL_SERVICE`.
pub fn preset(service: &str) -> Option<(&'static str, u16, Encryption)> {
    use Encryption::*;
    Some(match service.to_ascii_lowercase().as_str() {
        "gmail" => ("smtp.gmail.com", 465, Implicit),
        "outlook" | "hotmail" | "outlook365" | "office365" => {
            ("smtp-mail.outlook.com", 587, StartTls)
        }
        "yahoo" => ("smtp.mail.yahoo.com", 465, Implicit),
        "icloud" => ("smtp.mail.me.com", 587, StartTls),
        "protonmail" | "proton" => ("smtp.protonmail.ch", 587, StartTls),
        "sendgrid" => ("smtp.sendgrid.net", 587, StartTls),
        "mailgun" => ("smtp.mailgun.org", 587, StartTls),
        "zoho" => ("smtp.zoho.com", 465, Implicit),
        "fastmail" => ("smtp.fastmail.com", 465, Implicit),
        "postmark" => ("smtp.postmarkapp.com", 587, StartTls),
        "ses" | "amazon-ses" => ("email-smtp.us-east-1.amazonaws.com", 587, StartTls),
        _ => return None,
    })
}

impl MailSettings {
    /// `None` when no mail setting is given at all.
    pub fn from_raw(raw: &Raw, app_title: &str) -> Result<Option<MailSettings>, SettingsError> {
        let get = |n: &str| raw.get(n);
        let service = get("EMAIL_SERVICE");
        let host = get("EMAIL_HOST");
        let from = get("EMAIL_FROM");
        let any = [
            "EMAIL_SERVICE",
            "EMAIL_HOST",
            "EMAIL_PORT",
            "EMAIL_USERNAME",
            "EMAIL_PASSWORD",
            "EMAIL_FROM",
            "EMAIL_ENCRYPTION",
            "EMAIL_ENCRYPTION_HOSTNAME",
        ]
        .iter()
        .any(|n| get(n).is_some());
        if !any {
            return Ok(None);
        }
        let preset = match service {
            Some(s) => Some(preset(s).ok_or_else(|| {
                bad(
                    "EMAIL_SERVICE",
                    format!("unknown service `{s}`; set EMAIL_HOST and EMAIL_PORT instead"),
                )
            })?),
            None => None,
        };
        let Some(host) = host.map(str::to_string).or(preset.map(|p| p.0.to_string())) else {
            return Err(bad(
                "EMAIL_HOST",
                "mail is half configured: set EMAIL_HOST (or EMAIL_SERVICE) as well",
            ));
        };
        let Some(from) = from else {
            return Err(bad(
                "EMAIL_FROM",
                "mail is half configured: set EMAIL_FROM, the sender address",
            ));
        };
        if crate::domain::Email::parse("EMAIL_FROM", from).is_err() {
            return Err(bad(
                "EMAIL_FROM",
                format!("`{from}` is not an email address"),
            ));
        }
        let encryption = match get("EMAIL_ENCRYPTION")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("tls") | Some("ssl") => Encryption::Implicit,
            Some("starttls") => Encryption::StartTls,
            Some("none") => Encryption::Plain,
            // Anything else is a typo, and guessing would risk credentials in clear.
            Some(other) => {
                return Err(bad(
                    "EMAIL_ENCRYPTION",
                    format!("expected tls, starttls or none (or leave it unset), got `{other}`"),
                ))
            }
            None => preset.map_or(Encryption::Opportunistic, |p| p.2),
        };
        let port = match get("EMAIL_PORT") {
            Some(p) => p
                .parse()
                .map_err(|_| bad("EMAIL_PORT", format!("expected a port number, got `{p}`")))?,
            None => preset.map_or(
                if encryption == Encryption::Implicit {
                    465
                } else {
                    587
                },
                |p| p.1,
            ),
        };
        let username = get("EMAIL_USERNAME").map(str::to_string);
        let password = get("EMAIL_PASSWORD").map(|p| SecretString::from(p.to_string()));
        if username.is_some() != password.is_some() {
            return Err(bad(
                if username.is_some() {
                    "EMAIL_PASSWORD"
                } else {
                    "EMAIL_USERNAME"
                },
                "EMAIL_USERNAME and EMAIL_PASSWORD go together",
            ));
        }
        if encryption == Encryption::Plain && username.is_some() {
            return Err(bad(
                "EMAIL_ENCRYPTION",
                "`none` would send EMAIL_USERNAME and EMAIL_PASSWORD in clear; use tls or starttls",
            ));
        }
        let flag = |n: &str| get(n).map_or(Ok(false), |v| parse_bool(n, v));
        let number = |n: &str, default: u64| -> Result<u64, SettingsError> {
            get(n).map_or(Ok(default), |v| parse_product(n, v))
        };
        Ok(Some(MailSettings {
            tls_hostname: get("EMAIL_ENCRYPTION_HOSTNAME")
                .unwrap_or(&host)
                .to_string(),
            host,
            port,
            encryption,
            allow_self_signed: flag("EMAIL_ALLOW_SELFSIGNED")?,
            username,
            password,
            from: from.to_string(),
            from_name: get("EMAIL_FROM_NAME").unwrap_or(app_title).to_string(),
            max_retries: number("EMAIL_MAX_RETRIES", 8)? as u32,
            retry_base: Duration::from_millis(number("EMAIL_RETRY_DELAY", 5000)?),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Option<MailSettings>, SettingsError> {
        MailSettings::from_raw(&Raw::from_pairs(pairs), "Latch")
    }

    #[test]
    fn nothing_set_is_no_mail() {
        assert!(parse(&[]).unwrap().is_none());
    }

    #[test]
    fn presets_fill_in_the_server() {
        let m = parse(&[("EMAIL_SERVICE", "gmail"), ("EMAIL_FROM", "a@example.com")])
            .unwrap()
            .unwrap();
        assert_eq!(
            (m.host.as_str(), m.port, m.encryption),
            ("smtp.gmail.com", 465, Encryption::Implicit)
        );
        assert_eq!(m.from_name, "Latch");
        for s in [
            "outlook",
            "hotmail",
            "yahoo",
            "icloud",
            "protonmail",
            "sendgrid",
            "mailgun",
            "zoho",
            "fastmail",
        ] {
            assert!(preset(s).is_some(), "{s}");
        }
    }

    #[test]
    fn half_configured_mail_names_what_is_missing() {
        let e = parse(&[("EMAIL_HOST", "smtp.example.com")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("EMAIL_FROM"), "{e}");
        let e = parse(&[("EMAIL_FROM", "a@example.com")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("EMAIL_HOST"), "{e}");
        let e = parse(&[
            ("EMAIL_HOST", "h"),
            ("EMAIL_FROM", "a@example.com"),
            ("EMAIL_USERNAME", "u"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("EMAIL_PASSWORD"), "{e}");
        let e = parse(&[
            ("EMAIL_SERVICE", "carrier-pigeon"),
            ("EMAIL_FROM", "a@example.com"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("EMAIL_SERVICE"), "{e}");
    }

    #[test]
    fn encryption_modes() {
        let base = [
            ("EMAIL_HOST", "smtp.example.com"),
            ("EMAIL_FROM", "a@example.com"),
        ];
        let with = |e: &str| {
            let mut v = base.to_vec();
            v.push(("EMAIL_ENCRYPTION", e));
            parse(&v).unwrap().unwrap()
        };
        assert_eq!(with("tls").encryption, Encryption::Implicit);
        assert_eq!(with("tls").port, 465);
        assert_eq!(with("starttls").encryption, Encryption::StartTls);
        assert_eq!(parse(&base).unwrap().unwrap().port, 587);
        assert_eq!(
            parse(&base).unwrap().unwrap().encryption,
            Encryption::Opportunistic,
            "only an unset value means opportunistic"
        );
        assert_eq!(with("none").encryption, Encryption::Plain);
        let mut creds = base.to_vec();
        creds.extend([
            ("EMAIL_ENCRYPTION", "none"),
            ("EMAIL_USERNAME", "u"),
            ("EMAIL_PASSWORD", "p"),
        ]);
        assert!(parse(&creds).is_err(), "credentials in clear");
        for typo in ["whatever", "rot13", "start_tls"] {
            let mut v = base.to_vec();
            v.push(("EMAIL_ENCRYPTION", typo));
            let e = parse(&v).unwrap_err().to_string();
            assert!(e.contains("EMAIL_ENCRYPTION"), "{typo}: {e}");
        }
    }
}
