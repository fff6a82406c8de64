//! Mail settings, by LibreChat's `EMAIL_*` and `MAILGUN_*` names. Mail counts as
//! configured when a server (`EMAIL_HOST` or `EMAIL_SERVICE`) and `EMAIL_FROM` are set, or
//! Mailgun's `MAILGUN_API_KEY`, `MAILGUN_DOMAIN` and `EMAIL_FROM`. Settings without a server
//! (LibreChat's example file sets `EMAIL_PORT` and `EMAIL_FROM` alone) leave mail off, as in
//! LibreChat, and the start says so; a server without a sender stops the start.

use std::time::Duration;

use secrecy::SecretString;

use super::parse::{bad, parse_bool, parse_product, parse_url, SettingsError};
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
    /// How messages leave.
    pub via: Via,
    pub from: String,
    pub from_name: String,
    /// Retries after the first attempt before a message is marked failed.
    pub max_retries: u32,
    /// First retry delay; doubled after each failed attempt (capped at an hour).
    pub retry_base: Duration,
}

/// A mail server, or Mailgun's HTTP API.
#[derive(Clone, Debug)]
pub enum Via {
    Smtp(Smtp),
    Mailgun(Mailgun),
}

#[derive(Clone, Debug)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub encryption: Encryption,
    /// The name checked in the server's certificate (default: `host`).
    pub tls_hostname: String,
    pub allow_self_signed: bool,
    pub username: Option<String>,
    pub password: Option<SecretString>,
}

/// Mailgun's messages API: `POST {host}/v3/{domain}/messages`.
#[derive(Clone, Debug)]
pub struct Mailgun {
    pub api_key: SecretString,
    pub domain: String,
    /// `MAILGUN_HOST`, default `https://api.mailgun.net` (`https://api.eu.mailgun.net` for
    /// the EU region).
    pub host: String,
}

impl Via {
    /// Where mail goes, for the log.
    pub fn describe(&self) -> String {
        match self {
            Via::Smtp(s) => format!("smtp {}:{}", s.host, s.port),
            Via::Mailgun(m) => format!("mailgun {} ({})", m.domain, m.host),
        }
    }
}

/// What mail settings came to.
pub enum Configured {
    On(MailSettings),
    /// Something was set, but no server: mail is off, and the start says which.
    OffBut(&'static str),
    Off,
}

impl MailSettings {
    /// `None` when mail is off; see `configured` for why.
    pub fn from_raw(raw: &Raw, app_title: &str) -> Result<Option<MailSettings>, SettingsError> {
        Ok(match Self::configured(raw, app_title)? {
            Configured::On(m) => Some(m),
            _ => None,
        })
    }

    pub fn configured(raw: &Raw, app_title: &str) -> Result<Configured, SettingsError> {
        let get = |n: &str| raw.get(n);
        let number = |n: &str, default: u64| -> Result<u64, SettingsError> {
            get(n).map_or(Ok(default), |v| parse_product(n, v))
        };
        let via = match (get("MAILGUN_API_KEY"), get("MAILGUN_DOMAIN")) {
            (Some(key), Some(domain)) => Via::Mailgun(Mailgun {
                api_key: SecretString::from(key.to_string()),
                domain: domain.to_string(),
                host: parse_url(
                    "MAILGUN_HOST",
                    get("MAILGUN_HOST").unwrap_or("https://api.mailgun.net"),
                )?,
            }),
            (Some(_), None) => return Err(bad("MAILGUN_DOMAIN", "is needed with MAILGUN_API_KEY")),
            (None, Some(_)) => return Err(bad("MAILGUN_API_KEY", "is needed with MAILGUN_DOMAIN")),
            (None, None) => match smtp(raw)? {
                Some(smtp) => Via::Smtp(smtp),
                None => {
                    let set = [
                        "EMAIL_FROM",
                        "EMAIL_PORT",
                        "EMAIL_USERNAME",
                        "EMAIL_PASSWORD",
                    ]
                    .into_iter()
                    .find(|n| get(n).is_some());
                    return Ok(match set {
                        Some(name) => Configured::OffBut(name),
                        None => Configured::Off,
                    });
                }
            },
        };
        let Some(from) = get("EMAIL_FROM") else {
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
        Ok(Configured::On(MailSettings {
            via,
            from: from.to_string(),
            from_name: get("EMAIL_FROM_NAME").unwrap_or(app_title).to_string(),
            max_retries: number("EMAIL_MAX_RETRIES", 8)? as u32,
            retry_base: Duration::from_millis(number("EMAIL_RETRY_DELAY", 5000)?),
        }))
    }
}

/// The SMTP server `EMAIL_SERVICE` or `EMAIL_HOST` names, if one does.
fn smtp(raw: &Raw) -> Result<Option<Smtp>, SettingsError> {
    let get = |n: &str| raw.get(n);
    let preset = match get("EMAIL_SERVICE") {
        Some(s) => Some(super::mail_services::lookup(s).ok_or_else(|| {
            bad(
                "EMAIL_SERVICE",
                format!("unknown service `{s}`; set EMAIL_HOST and EMAIL_PORT instead"),
            )
        })?),
        None => None,
    };
    let Some(host) = get("EMAIL_HOST")
        .map(str::to_string)
        .or(preset.map(|p| p.0.to_string()))
    else {
        return Ok(None);
    };
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
    Ok(Some(Smtp {
        tls_hostname: get("EMAIL_ENCRYPTION_HOSTNAME")
            .unwrap_or(&host)
            .to_string(),
        host,
        port,
        encryption,
        allow_self_signed: get("EMAIL_ALLOW_SELFSIGNED")
            .map_or(Ok(false), |v| parse_bool("EMAIL_ALLOW_SELFSIGNED", v))?,
        username,
        password,
    }))
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
        let Via::Smtp(s) = &m.via else { panic!("smtp") };
        assert_eq!(
            (s.host.as_str(), s.port, s.encryption),
            ("smtp.gmail.com", 465, Encryption::Implicit)
        );
        assert_eq!(m.from_name, "Latch");
        for s in [
            "Outlook365",
            "hotmail",
            "yahoo",
            "iCloud",
            "SendGrid",
            "mailgun",
            "Zoho",
            "FastMail",
            "Mailjet",
        ] {
            assert!(super::super::mail_services::lookup(s).is_some(), "{s}");
        }
    }

    #[test]
    fn a_sender_without_a_server_is_no_mail_as_in_librechat() {
        // LibreChat's example file: EMAIL_PORT=25 and EMAIL_FROM with an empty host.
        let c = MailSettings::configured(
            &Raw::from_pairs(&[("EMAIL_PORT", "25"), ("EMAIL_FROM", "noreply@example.com")]),
            "Latch",
        )
        .unwrap();
        assert!(matches!(c, Configured::OffBut("EMAIL_FROM")));
    }

    #[test]
    fn mailgun_needs_a_key_a_domain_and_a_sender() {
        let m = parse(&[
            ("MAILGUN_API_KEY", "key-1"),
            ("MAILGUN_DOMAIN", "mg.example.com"),
            ("EMAIL_FROM", "noreply@example.com"),
        ])
        .unwrap()
        .unwrap();
        let Via::Mailgun(g) = &m.via else {
            panic!("mailgun")
        };
        assert_eq!(g.host, "https://api.mailgun.net");
        assert!(parse(&[("MAILGUN_API_KEY", "k"), ("EMAIL_FROM", "a@example.com")]).is_err());
        let e = parse(&[("MAILGUN_API_KEY", "k"), ("MAILGUN_DOMAIN", "d")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("EMAIL_FROM"), "{e}");
    }

    #[test]
    fn half_configured_mail_names_what_is_missing() {
        let e = parse(&[("EMAIL_HOST", "smtp.example.com")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("EMAIL_FROM"), "{e}");
        // A sender alone is no mail (LibreChat's rule), not an error.
        assert!(parse(&[("EMAIL_FROM", "a@example.com")]).unwrap().is_none());
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
        let smtp = |m: MailSettings| match m.via {
            Via::Smtp(s) => s,
            Via::Mailgun(_) => panic!("smtp"),
        };
        let with = |e: &str| {
            let mut v = base.to_vec();
            v.push(("EMAIL_ENCRYPTION", e));
            smtp(parse(&v).unwrap().unwrap())
        };
        assert_eq!(with("tls").encryption, Encryption::Implicit);
        assert_eq!(with("tls").port, 465);
        assert_eq!(with("starttls").encryption, Encryption::StartTls);
        assert_eq!(smtp(parse(&base).unwrap().unwrap()).port, 587);
        assert_eq!(
            smtp(parse(&base).unwrap().unwrap()).encryption,
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
