//! Webhooks: `WEBHOOK_URL` with `WEBHOOK_SECRET` (and `WEBHOOK_EVENTS`), or the config
//! file's `[[webhooks]]` entries; the retry schedule and the time-out.

use std::time::Duration;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::parse::{bad, comma_list, parse_num, SettingsError};
use super::sources::Raw;

/// Every event type a webhook can receive (`ping` only comes from `latch webhooks test`,
/// to every endpoint).
pub const EVENT_TYPES: &[&str] = &[
    "user.created",
    "user.updated",
    "user.deleted",
    "user.banned",
    "user.unbanned",
    "session.created",
    "session.revoked",
    "password.changed",
    "mfa.enabled",
    "mfa.disabled",
    "identity.linked",
    "identity.unlinked",
];

#[derive(Clone, Debug)]
pub struct WebhookSettings {
    pub endpoints: Vec<Endpoint>,
    /// The first retry's delay (`WEBHOOK_RETRY_BASE`, seconds, default 60); each next
    /// one doubles.
    pub retry_base: Duration,
    /// How long an event is retried before it is marked failed (`WEBHOOK_RETRY_FOR`,
    /// seconds, default 3 days).
    pub retry_for: Duration,
    /// How long a receiver has to answer (`WEBHOOK_TIMEOUT`, seconds, default 10).
    pub timeout: Duration,
}

#[derive(Clone, Debug)]
pub struct Endpoint {
    pub url: String,
    /// The keys every delivery is signed with, the newest first: during a rotation the
    /// old and the new, so a receiver with either verifies.
    pub secrets: Vec<Secret>,
    /// The event types it receives; `None`: all.
    pub events: Option<Vec<String>>,
}

/// A `whsec_` secret, decoded.
#[derive(Clone)]
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// `[[webhooks]]` in the config file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWebhook {
    pub url: String,
    /// One secret, or several during a rotation.
    pub secret: OneOrMany,
    pub events: Option<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

pub fn webhooks(raw: &Raw) -> Result<WebhookSettings, SettingsError> {
    let secs = |n: &str, default: u64| -> Result<Duration, SettingsError> {
        let v: u64 = raw.get(n).map_or(Ok(default), |v| parse_num(n, v))?;
        if v == 0 {
            return Err(bad(n, "must be at least 1 (seconds)"));
        }
        Ok(Duration::from_secs(v))
    };
    let mut endpoints = Vec::new();
    match (raw.get("WEBHOOK_URL"), raw.get("WEBHOOK_SECRET")) {
        (Some(url), Some(secret)) => endpoints.push(Endpoint {
            url: url_of("WEBHOOK_URL", url)?,
            secrets: comma_list(&secret.replace(' ', ","))
                .map(|s| parse_secret("WEBHOOK_SECRET", s))
                .collect::<Result<_, _>>()?,
            events: raw
                .get("WEBHOOK_EVENTS")
                .map(|v| events_of("WEBHOOK_EVENTS", comma_list(v)))
                .transpose()?,
        }),
        (Some(_), None) => {
            return Err(bad(
                "WEBHOOK_URL",
                "needs WEBHOOK_SECRET (`latch webhooks secret` makes one)",
            ))
        }
        (None, Some(_)) => return Err(bad("WEBHOOK_SECRET", "needs WEBHOOK_URL as well")),
        (None, None) => {}
    }
    for (i, f) in raw.file_webhooks.iter().enumerate() {
        let at = format!("webhooks[{i}]");
        let secrets = match &f.secret {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(list) => list.clone(),
        };
        if secrets.is_empty() {
            return Err(bad(&at, "secret: at least one is needed"));
        }
        endpoints.push(Endpoint {
            url: url_of(&at, &f.url)?,
            secrets: secrets
                .iter()
                .map(|s| parse_secret(&at, s))
                .collect::<Result<_, _>>()?,
            events: f
                .events
                .as_ref()
                .map(|e| events_of(&at, e.iter().map(String::as_str)))
                .transpose()?,
        });
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = endpoints.iter().find(|e| !seen.insert(e.url.as_str())) {
        return Err(bad("webhooks", format!("`{}` is listed twice", twice.url)));
    }
    Ok(WebhookSettings {
        endpoints,
        retry_base: secs("WEBHOOK_RETRY_BASE", 60)?,
        retry_for: secs("WEBHOOK_RETRY_FOR", 3 * 24 * 3600)?,
        timeout: secs("WEBHOOK_TIMEOUT", 10)?,
    })
}

fn url_of(name: &str, v: &str) -> Result<String, SettingsError> {
    let u = url::Url::parse(v).map_err(|e| bad(name, format!("`{v}`: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(bad(name, "expected an http:// or https:// URL"));
    }
    Ok(v.to_string())
}

/// A Standard Webhooks secret: `whsec_` and the base64 of 24 to 64 random bytes.
pub fn parse_secret(name: &str, v: &str) -> Result<Secret, SettingsError> {
    let text = SecretString::from(v.trim().to_string());
    let Some(b64) = text.expose_secret().strip_prefix("whsec_") else {
        return Err(bad(
            name,
            "a secret starts with whsec_ (`latch webhooks secret` makes one)",
        ));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| bad(name, "the part after whsec_ is not base64"))?;
    if !(24..=64).contains(&bytes.len()) {
        return Err(bad(name, "a secret holds 24 to 64 bytes"));
    }
    Ok(Secret(bytes))
}

/// A new secret, as `latch webhooks secret` prints it.
pub fn new_secret() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

fn events_of<'a>(
    name: &str,
    list: impl Iterator<Item = &'a str>,
) -> Result<Vec<String>, SettingsError> {
    let events: Vec<String> = list.map(|e| e.trim().to_string()).collect();
    if let Some(unknown) = events.iter().find(|e| !EVENT_TYPES.contains(&e.as_str())) {
        return Err(bad(
            name,
            format!(
                "`{unknown}` is not an event (known: {})",
                EVENT_TYPES.join(", ")
            ),
        ));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_needs_a_secret_and_events_are_known_ones() {
        let secret = new_secret();
        let load = |pairs: &[(&str, &str)]| webhooks(&Raw::from_pairs(pairs));
        assert!(load(&[]).unwrap().endpoints.is_empty());
        let e = load(&[("WEBHOOK_URL", "https://chat.example/hooks")]).unwrap_err();
        assert!(e.to_string().contains("WEBHOOK_SECRET"), "{e}");
        let s = load(&[
            ("WEBHOOK_URL", "https://chat.example/hooks"),
            ("WEBHOOK_SECRET", &format!("{secret} {}", new_secret())),
            ("WEBHOOK_EVENTS", "user.deleted, user.banned"),
        ])
        .unwrap();
        assert_eq!(
            s.endpoints[0].secrets.len(),
            2,
            "a rotation signs with both"
        );
        assert_eq!(s.endpoints[0].events.as_ref().unwrap().len(), 2);
        assert_eq!(s.retry_base, Duration::from_secs(60));
        assert_eq!(s.retry_for, Duration::from_secs(3 * 24 * 3600));
        for (n, v) in [
            ("WEBHOOK_SECRET", "not-a-secret"),
            ("WEBHOOK_SECRET", "whsec_AAAA"),
            ("WEBHOOK_EVENTS", "user.eaten"),
        ] {
            let mut pairs = vec![
                ("WEBHOOK_URL", "https://chat.example/hooks"),
                ("WEBHOOK_SECRET", secret.as_str()),
            ];
            pairs.retain(|(k, _)| *k != n);
            pairs.push((n, v));
            let e = load(&pairs).unwrap_err().to_string();
            assert!(e.contains(n), "{e}");
            assert!(!e.contains(&secret[6..]), "a secret is never repeated: {e}");
        }
    }
}
