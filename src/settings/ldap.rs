//! Directory sign-in, by LibreChat's `LDAP_*` names: on when `LDAP_URL` and
//! `LDAP_USER_SEARCH_BASE` are set.

use std::time::Duration;

use secrecy::SecretString;

use super::parse::{bad, parse_bool, parse_num, SettingsError};
use super::sources::Raw;

#[derive(Clone, Debug)]
pub struct LdapSettings {
    /// `ldap://` or `ldaps://`.
    pub url: String,
    /// The service bind; anonymous without it.
    pub bind_dn: Option<String>,
    pub bind_credentials: Option<SecretString>,
    pub search_base: String,
    /// With `{{username}}` where the escaped login goes; parenthesised.
    pub search_filter: String,
    pub starttls: bool,
    /// `LDAP_CA_CERT_PATH`: the CA (PEM) the server's certificate is checked against.
    pub ca_cert: Option<Vec<u8>>,
    /// `LDAP_TLS_REJECT_UNAUTHORIZED` (default true): refuse a certificate that does not
    /// check out.
    pub reject_unauthorized: bool,
    /// `LDAP_LOGIN_USES_USERNAME`: the form asks for a username, not an address.
    pub login_uses_username: bool,
    /// The attributes that name a person for good, the first an entry has: `LDAP_ID`,
    /// then `uid` and `sAMAccountName`, as LibreChat reads its `ldapId`, then the entry's
    /// DN. Not `mail`, LibreChat's last: where people may edit their own address, one
    /// could take another's key by setting it (`LDAP_ID=mail` chooses it knowingly).
    pub id_attributes: Vec<String>,
    pub username_attribute: Option<String>,
    pub email_attribute: String,
    /// `LDAP_FULL_NAME`: attributes joined with spaces (default `cn`).
    pub name_attributes: Vec<String>,
    /// `LDAP_TRUST_EMAIL`: the directory's addresses are vouched for.
    pub trust_email: bool,
    /// `LDAP_TIMEOUT` (seconds, default 5): how long to wait for the directory to connect
    /// and for each answer; past it, a sign-in is `503`.
    pub timeout: Duration,
}

pub fn ldap(raw: &Raw) -> Result<Option<LdapSettings>, SettingsError> {
    let (Some(url), Some(base)) = (raw.get("LDAP_URL"), raw.get("LDAP_USER_SEARCH_BASE")) else {
        return Ok(None);
    };
    let parsed = url::Url::parse(url).map_err(|e| bad("LDAP_URL", format!("`{url}`: {e}")))?;
    if !matches!(parsed.scheme(), "ldap" | "ldaps") {
        return Err(bad(
            "LDAP_URL",
            "expected ldap://HOST[:PORT] or ldaps://HOST[:PORT]",
        ));
    }
    let flag = |n: &str, default: bool| raw.get(n).map_or(Ok(default), |v| parse_bool(n, v));
    let filter = raw.get("LDAP_SEARCH_FILTER").unwrap_or("mail={{username}}");
    if !filter.contains("{{username}}") {
        return Err(bad(
            "LDAP_SEARCH_FILTER",
            "must contain {{username}}, where the login goes (e.g. mail={{username}})",
        ));
    }
    let search_filter = if filter.starts_with('(') {
        filter.to_string()
    } else {
        format!("({filter})")
    };
    let ca_cert = match raw.get("LDAP_CA_CERT_PATH") {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|e| bad("LDAP_CA_CERT_PATH", format!("cannot read `{path}`: {e}")))?,
        ),
        None => None,
    };
    let starttls = flag("LDAP_STARTTLS", false)?;
    if starttls && parsed.scheme() == "ldaps" {
        return Err(bad(
            "LDAP_STARTTLS",
            "ldaps:// is TLS already; use ldap:// with StartTLS",
        ));
    }
    let attr = |n: &str| raw.get(n).map(str::to_string);
    let timeout: u64 = raw
        .get("LDAP_TIMEOUT")
        .map_or(Ok(5), |v| parse_num("LDAP_TIMEOUT", v))?;
    if timeout == 0 {
        return Err(bad("LDAP_TIMEOUT", "must be at least 1 (seconds)"));
    }
    Ok(Some(LdapSettings {
        url: url.to_string(),
        bind_dn: attr("LDAP_BIND_DN"),
        bind_credentials: raw
            .get("LDAP_BIND_CREDENTIALS")
            .map(|c| SecretString::from(c.to_string())),
        search_base: base.to_string(),
        search_filter,
        starttls,
        ca_cert,
        reject_unauthorized: flag("LDAP_TLS_REJECT_UNAUTHORIZED", true)?,
        login_uses_username: flag("LDAP_LOGIN_USES_USERNAME", false)?,
        id_attributes: id_attributes(raw.get("LDAP_ID")),
        username_attribute: attr("LDAP_USERNAME"),
        email_attribute: attr("LDAP_EMAIL").unwrap_or_else(|| "mail".into()),
        name_attributes: raw
            .get("LDAP_FULL_NAME")
            .map(|v| super::parse::comma_list(v).map(str::to_string).collect())
            .unwrap_or_else(|| vec!["cn".into()]),
        trust_email: flag("LDAP_TRUST_EMAIL", false)?,
        timeout: Duration::from_secs(timeout),
    }))
}

/// `LDAP_ID` (when set), then LibreChat's fall-backs but `mail`, each named once.
fn id_attributes(chosen: Option<&str>) -> Vec<String> {
    let mut attrs: Vec<String> = chosen.map(str::to_string).into_iter().collect();
    for fallback in ["uid", "sAMAccountName"] {
        if !attrs.iter().any(|a| a.eq_ignore_ascii_case(fallback)) {
            attrs.push(fallback.to_string());
        }
    }
    attrs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Option<LdapSettings>, SettingsError> {
        ldap(&Raw::from_pairs(pairs))
    }

    #[test]
    fn on_with_a_url_and_a_base_and_librechats_defaults() {
        assert!(load(&[("LDAP_URL", "ldap://d")]).unwrap().is_none());
        let s = load(&[("LDAP_URL", "ldap://d"), ("LDAP_USER_SEARCH_BASE", "dc=x")])
            .unwrap()
            .unwrap();
        assert_eq!(s.search_filter, "(mail={{username}})");
        assert_eq!(
            (s.id_attributes.join(","), s.email_attribute.as_str()),
            ("uid,sAMAccountName".to_string(), "mail")
        );
        assert!(s.reject_unauthorized && !s.starttls && !s.trust_email);
        let e = load(&[
            ("LDAP_URL", "ldap://d"),
            ("LDAP_USER_SEARCH_BASE", "dc=x"),
            ("LDAP_SEARCH_FILTER", "mail="),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("LDAP_SEARCH_FILTER"), "{e}");
        assert!(load(&[("LDAP_URL", "http://d"), ("LDAP_USER_SEARCH_BASE", "dc=x")]).is_err());
    }
}
