//! Devices an account signs in from. A device is the browser family and operating system
//! its user agent names, with its network (the IPv4 /24 or IPv6 /64): a sign-in from one
//! the account has not used in `REMEMBERED` mails the owner, with a one-time link that
//! reports the sign-in (`report_in`). An account's first sign-in, however the account was
//! made, never counts.

use std::net::IpAddr;

use chrono::NaiveDateTime;

use crate::auth::audit;
use crate::auth::client::ClientInfo;
use crate::auth::links::{self, Link};
use crate::auth::opaque_token::TokenKey;
use crate::db::models::session::reason;
use crate::db::models::{new_id, span, KnownDevice, OneTimeToken, Session, User};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::mail::templates::Kind;
use crate::mail::MailService;

/// How long a device stays known after its last sign-in.
pub const REMEMBERED: chrono::Duration = chrono::Duration::days(90);

/// What tells one device from another.
#[derive(Debug, PartialEq, Eq)]
pub struct Device {
    pub browser: String,
    pub os: &'static str,
    pub network: String,
}

impl Device {
    pub fn of(client: &ClientInfo) -> Device {
        let ua = client.user_agent.as_deref().unwrap_or("");
        Device {
            browser: browser(ua),
            os: os(ua),
            network: client
                .ip
                .as_deref()
                .and_then(|ip| ip.parse::<IpAddr>().ok())
                .map_or_else(|| "unknown".into(), network),
        }
    }

    /// "Chrome on Linux".
    pub fn describe(&self) -> String {
        format!("{} on {}", self.browser, self.os)
    }
}

/// The browser family a user agent names; for a client that is not a browser, the name
/// of its first product (`curl`, `okhttp`).
pub fn browser(ua: &str) -> String {
    const FAMILIES: [(&str, &str); 8] = [
        ("Edg/", "Edge"),
        ("EdgA/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ];
    if let Some((_, family)) = FAMILIES.iter().find(|(mark, _)| ua.contains(mark)) {
        return family.to_string();
    }
    let product: String = ua
        .split(['/', ' '])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(32)
        .collect();
    if product.is_empty() || product == "Mozilla" {
        "an unknown browser".into()
    } else {
        product
    }
}

/// The operating system a user agent names.
pub fn os(ua: &str) -> &'static str {
    const SYSTEMS: [(&str, &str); 8] = [
        ("Windows", "Windows"),
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iOS"),
        ("CrOS", "ChromeOS"),
        ("Mac OS X", "macOS"),
        ("Macintosh", "macOS"),
        ("Linux", "Linux"),
    ];
    SYSTEMS
        .iter()
        .find(|(mark, _)| ua.contains(mark))
        .map_or("an unknown system", |(_, name)| name)
}

/// The network an address is in: its IPv4 /24 or IPv6 /64.
pub fn network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => network(IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Records the sign-in that opened `session` and, when its device is new to an account
/// that has signed in before, mails the owner (when mail is on) a notice with a link
/// that reports it. In the sign-in's transaction.
pub fn seen_in(
    conn: &mut DbConn,
    key: &TokenKey,
    mail: Option<&MailService>,
    user: &User,
    session: &Session,
    client: &ClientInfo,
    now: NaiveDateTime,
) -> ApiResult<()> {
    let device = Device::of(client);
    let id = key.hash(&format!(
        "device\0{}\0{}\0{}",
        device.browser, device.os, device.network
    ));
    let last = KnownDevice::last_seen(conn, &user.id, &id)?;
    // A device seen before is not the account's first; only a new one needs the question.
    let first = last.is_none() && !KnownDevice::any_for_user(conn, &user.id)?;
    // Written at most once a day per device: a day more or less does not change whether
    // it is still remembered, and most sign-ins then write nothing here.
    if last.is_none_or(|at| at <= now - chrono::Duration::days(1)) {
        KnownDevice::seen(conn, &user.id, &id, last.is_some(), now)?;
    }
    let recent = last.is_some_and(|at| at > now - REMEMBERED);
    let Some(mail) = mail.filter(|_| !first && !recent) else {
        return Ok(());
    };
    let Some((ttl, _)) = mail.link_terms(Kind::NewDevice) else {
        return Ok(());
    };
    // Each notice has its own link: a second new device does not void the first's.
    let fresh = key.fresh();
    OneTimeToken::insert(
        conn,
        &OneTimeToken {
            id: new_id(),
            kind: Kind::NewDevice.name().into(),
            user_id: Some(user.id.clone()),
            email: user.email.clone(),
            token_hash: fresh.hash,
            created_at: now,
            expires_at: now + span(ttl),
            used_at: None,
            password_hash: None,
            session_id: Some(session.id.clone()),
        },
    )?;
    let detail = format!(
        "{} UTC, from the IP address {}, with {}.",
        now.format("%Y-%m-%d %H:%M"),
        client.ip.as_deref().unwrap_or("(unknown)"),
        device.describe()
    );
    mail.queue_in(
        conn,
        Kind::NewDevice,
        &user.name,
        &user.email,
        Some(&fresh.token),
        Some(&detail),
    )
}

/// Follows a new-device notice's link: the session it names ends (`reported`), the owner
/// is mailed a reset link (where resets are on), and the report is audited. Anything but
/// a live link is `400 invalid_token`.
pub fn report_in(
    conn: &mut DbConn,
    key: &TokenKey,
    mail: &MailService,
    resets: bool,
    token: &str,
    client: &ClientInfo,
    now: NaiveDateTime,
) -> ApiResult<()> {
    let used = links::consume_in(conn, key, Kind::NewDevice, token, now)?;
    let user = links::account_of(conn, &used)?.ok_or(ApiError::InvalidToken)?;
    if let Some(session_id) = &used.session_id {
        Session::revoke(conn, session_id, reason::REPORTED, now)?;
    }
    if resets && !user.disabled {
        let link = Link {
            kind: Kind::PasswordReset,
            user_id: Some(&user.id),
            name: &user.name,
            email: &user.email,
            password_hash: None,
        };
        links::send_in(conn, mail, key, link, now)?;
    }
    let event = audit::Event {
        subject: Some(&user.id),
        client: Some(client),
        detail: used.session_id.clone(),
        ..audit::Event::new(audit::kind::SESSION_REPORTED)
    };
    audit::record_in(conn, event)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    const EDGE: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
    const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
    const FIREFOX_MAC: &str =
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:133.0) Gecko/20100101 Firefox/133.0";
    const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";

    #[test]
    fn names_the_browser_and_system() {
        let named = |ua: &str| format!("{} on {}", browser(ua), os(ua));
        assert_eq!(named(CHROME), "Chrome on Linux");
        assert_eq!(named(EDGE), "Edge on Windows");
        assert_eq!(named(SAFARI_IOS), "Safari on iOS");
        assert_eq!(named(FIREFOX_MAC), "Firefox on macOS");
        assert_eq!(named(CHROME_ANDROID), "Chrome on Android");
        assert_eq!(named("curl/8.5.0"), "curl on an unknown system");
        assert_eq!(named(""), "an unknown browser on an unknown system");
        // Whatever a client sends, the name stays short and plain.
        assert_eq!(browser(&format!("<b>{}/1", "x".repeat(100))).len(), 32);
    }

    #[test]
    fn a_network_is_a_slash_24_or_a_slash_64() {
        let n = |s: &str| network(s.parse().unwrap());
        assert_eq!(n("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(n("::ffff:203.0.113.77"), "203.0.113.0/24");
        assert_eq!(n("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(n("2001:db8:1:2:bbbb::9"), n("2001:db8:1:2:aaaa::1"));
    }

    #[test]
    fn a_new_version_of_the_same_browser_is_the_same_device() {
        let at = |ua: &str| {
            Device::of(&ClientInfo {
                ip: Some("203.0.113.7".into()),
                user_agent: Some(ua.into()),
            })
        };
        assert_eq!(at(CHROME), at(&CHROME.replace("131.0.0.0", "132.0.1.2")));
        assert_ne!(at(CHROME), at(CHROME_ANDROID));
    }
}
