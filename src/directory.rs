//! The directory (LDAP or Active Directory) as a first factor: find the one entry the
//! login names with the service bind, bind as it with the password, read its attributes.
//! What it finds becomes an `ExternalIdentity` of provider `ldap`, and the sign-in
//! pipeline treats it like any other (see `auth::signin::factor`).
//!
//! Searches share one service-bound connection (operations are multiplexed over it, and it
//! is made again when it breaks); passwords are checked on other connections, kept for
//! binds alone, since a bind changes who a connection is. A directory that cannot be reached, or does
//! not answer in time, is `Unreachable`: the caller answers `503`, never `401`.

use std::sync::Arc;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use crate::settings::ldap::LdapSettings;
use crate::social::identity::address_from_directory;
use crate::social::ExternalIdentity;

/// The provider id of directory identities.
pub const PROVIDER: &str = "ldap";

/// The DN of the bind an unknown login costs.
const NOBODY: &str = "cn=nobody";

/// Idle connections kept for password binds.
const IDLE_BINDS: usize = 16;

/// LDAP result codes (RFC 4511): a wrong password, a DN that names no entry, a DN that
/// is not one.
const INVALID_CREDENTIALS: u32 = 49;
const NO_SUCH_OBJECT: u32 = 32;
const INVALID_DN_SYNTAX: u32 = 34;

/// The directory could not be asked (down, too slow, TLS refused, or an error it gave).
#[derive(Debug)]
pub struct Unreachable(pub String);

#[derive(Clone)]
pub struct Directory {
    settings: Arc<LdapSettings>,
    /// The service-bound connection searches go through, once made.
    service: Arc<Mutex<Option<Ldap>>>,
    /// Idle connections for password binds (each is bound as whoever last signed in on it,
    /// and is only ever used to bind again).
    binds: Arc<Mutex<Vec<Ldap>>>,
}

impl Directory {
    pub fn new(settings: LdapSettings) -> Directory {
        Directory {
            settings: Arc::new(settings),
            service: Arc::new(Mutex::new(None)),
            binds: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn settings(&self) -> &LdapSettings {
        &self.settings
    }

    /// The person `login` and `password` prove, if they do: `None` for an unknown login,
    /// a login that names several entries, or a wrong password (told apart by nobody).
    pub async fn authenticate(
        &self,
        login: &str,
        password: &SecretString,
    ) -> Result<Option<ExternalIdentity>, Unreachable> {
        let filter = self
            .settings
            .search_filter
            .replace("{{username}}", &ldap3::ldap_escape(login));
        let entries = self.search_people(&filter).await?;
        self.bind_as_the_one(&entries, password).await
    }

    /// The same check for the person whose identity is `subject` (reauthentication of a
    /// directory account).
    pub async fn authenticate_subject(
        &self,
        subject: &str,
        password: &SecretString,
    ) -> Result<Option<ExternalIdentity>, Unreachable> {
        // The entry that any of the key attributes names so: the caller checks that the
        // entry found is keyed by `subject` (`ExternalIdentity::subject`).
        let value = ldap3::ldap_escape(subject);
        let terms: String = (self.settings.id_attributes.iter())
            .map(|attr| format!("({attr}={value})"))
            .collect();
        let mut entries = self.search_people(&format!("(|{terms})")).await?;
        // An entry with none of the key attributes is keyed by its DN, which no filter can
        // name: it is read at that DN, if the DN lies under the search base.
        if entries.is_empty() && under(subject, &self.settings.search_base) {
            entries = self.search(subject, Scope::Base, "(objectClass=*)").await?;
        }
        self.bind_as_the_one(&entries, password).await
    }

    /// Binds as the one entry found with `password`; anyone else is `None`.
    async fn bind_as_the_one(
        &self,
        entries: &[SearchEntry],
        password: &SecretString,
    ) -> Result<Option<ExternalIdentity>, Unreachable> {
        match entries {
            // An empty password would be an unauthenticated bind, which succeeds.
            [entry] if !password.expose_secret().is_empty() => Ok(self
                .bind(&entry.dn, password)
                .await?
                .then(|| self.identity(entry))),
            // No one, several, or no password: a bind that fails all the same, so that
            // an unknown login costs what a wrong password does.
            _ => {
                self.bind(NOBODY, &SecretString::from("-".to_string()))
                    .await?;
                Ok(None)
            }
        }
    }

    /// What the entry says of the person.
    fn identity(&self, entry: &SearchEntry) -> ExternalIdentity {
        let s = &self.settings;
        // Attribute names are case-insensitive: the server spells them as its schema does.
        let first = |attr: &str| {
            entry
                .attrs
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(attr))
                .and_then(|(_, v)| v.first())
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let subject = (s.id_attributes.iter())
            .find_map(|a| first(a))
            .unwrap_or_else(|| entry.dn.clone());
        let (email, vouched) =
            address_from_directory(first(&s.email_attribute).as_deref(), s.trust_email);
        let name = s
            .name_attributes
            .iter()
            .filter_map(|a| first(a))
            .collect::<Vec<_>>()
            .join(" ");
        ExternalIdentity {
            provider: PROVIDER.to_string(),
            vouched,
            email,
            name: Some(name).filter(|n| !n.is_empty()),
            username: s
                .username_attribute
                .as_deref()
                .or(Some("uid"))
                .and_then(first),
            subject,
            admin: None,
        }
    }

    /// The entries `filter` finds under the search base.
    async fn search_people(&self, filter: &str) -> Result<Vec<SearchEntry>, Unreachable> {
        self.search(&self.settings.search_base, Scope::Subtree, filter)
            .await
    }

    /// The entries `filter` finds at or below `base`, through the service connection
    /// (made again once if it broke; a time-out is not retried).
    async fn search(
        &self,
        base: &str,
        scope: Scope,
        filter: &str,
    ) -> Result<Vec<SearchEntry>, Unreachable> {
        let s = &self.settings;
        let mut attrs: Vec<&str> = s.id_attributes.iter().map(String::as_str).collect();
        attrs.push(&s.email_attribute);
        attrs.extend(s.name_attributes.iter().map(String::as_str));
        attrs.push(s.username_attribute.as_deref().unwrap_or("uid"));
        let mut retried = false;
        loop {
            let mut ldap = self.service_connection().await?;
            let found = ldap
                .with_timeout(s.timeout)
                .search(base, scope, filter, attrs.clone())
                .await
                .and_then(|r| r.success());
            match found {
                Ok((entries, _)) => {
                    return Ok(entries.into_iter().map(SearchEntry::construct).collect())
                }
                // A login no filter can hold names nobody; so does an entry's DN that is
                // not there (moved) or is not a DN. A search base that is not there stays
                // an error: it is the settings that are wrong.
                Err(LdapError::FilterParsing) => return Ok(Vec::new()),
                Err(LdapError::LdapResult { result })
                    if scope == Scope::Base
                        && [NO_SUCH_OBJECT, INVALID_DN_SYNTAX].contains(&result.rc) =>
                {
                    return Ok(Vec::new())
                }
                Err(e) => {
                    *self.service.lock().await = None;
                    if retried || matches!(e, LdapError::Timeout { .. }) {
                        return Err(Unreachable(format!("search: {e}")));
                    }
                    retried = true;
                }
            }
        }
    }

    async fn service_connection(&self) -> Result<Ldap, Unreachable> {
        let mut slot = self.service.lock().await;
        if let Some(ldap) = slot.as_mut() {
            if !ldap.is_closed() {
                return Ok(ldap.clone());
            }
        }
        let mut ldap = self.connect().await?;
        let s = &self.settings;
        if let (Some(dn), Some(pw)) = (&s.bind_dn, &s.bind_credentials) {
            ldap.with_timeout(s.timeout)
                .simple_bind(dn, pw.expose_secret())
                .await
                .and_then(|r| r.success())
                .map_err(|e| Unreachable(format!("service bind (LDAP_BIND_DN): {e}")))?;
        }
        *slot = Some(ldap.clone());
        Ok(ldap)
    }

    /// Whether `password` binds as `dn`, on a connection used only for binds (taken from
    /// the idle ones, or made), which goes back once the directory has answered.
    async fn bind(&self, dn: &str, password: &SecretString) -> Result<bool, Unreachable> {
        let idle = {
            let mut idle = self.binds.lock().await;
            std::iter::from_fn(|| idle.pop()).find_map(|mut l| (!l.is_closed()).then_some(l))
        };
        let was_idle = idle.is_some();
        let mut ldap = match idle {
            Some(ldap) => ldap,
            None => self.connect().await?,
        };
        let timeout = self.settings.timeout;
        let mut result = ldap
            .with_timeout(timeout)
            .simple_bind(dn, password.expose_secret())
            .await;
        if let Err(e) = &result {
            // An idle connection the directory dropped meanwhile: once more on a new one.
            if was_idle && !matches!(e, LdapError::Timeout { .. }) {
                ldap = self.connect().await?;
                result = ldap
                    .with_timeout(timeout)
                    .simple_bind(dn, password.expose_secret())
                    .await;
            }
        }
        let result = result.map_err(|e| Unreachable(format!("bind: {e}")))?;
        let answer = match result.rc {
            0 => Ok(true),
            INVALID_CREDENTIALS => Ok(false),
            // An unknown DN is `invalidDNSyntax` or `noSuchObject` on some servers.
            NO_SUCH_OBJECT | INVALID_DN_SYNTAX => Ok(false),
            rc => Err(Unreachable(format!("bind answered {rc}: {}", result.text))),
        };
        if answer.is_ok() {
            let mut idle = self.binds.lock().await;
            if idle.len() < IDLE_BINDS {
                idle.push(ldap);
            }
        }
        answer
    }

    async fn connect(&self) -> Result<Ldap, Unreachable> {
        let s = &self.settings;
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(s.timeout)
            .set_starttls(s.starttls)
            .set_no_tls_verify(!s.reject_unauthorized);
        if let Some(ca) = &s.ca_cert {
            let cert = native_tls::Certificate::from_pem(ca)
                .map_err(|e| Unreachable(format!("LDAP_CA_CERT_PATH: {e}")))?;
            let connector = native_tls::TlsConnector::builder()
                .add_root_certificate(cert)
                .danger_accept_invalid_certs(!s.reject_unauthorized)
                .build()
                .map_err(|e| Unreachable(format!("TLS: {e}")))?;
            settings = settings.set_connector(connector);
        }
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &s.url)
            .await
            .map_err(|e| Unreachable(format!("connect: {e}")))?;
        ldap3::drive!(conn);
        Ok(ldap)
    }
}

/// Whether `dn` names an entry below `base` (compared without regard to case, as
/// directories compare attribute names and most values).
fn under(dn: &str, base: &str) -> bool {
    let (dn, base) = (dn.to_ascii_lowercase(), base.to_ascii_lowercase());
    dn.strip_suffix(&base)
        .is_some_and(|above| above.len() > 1 && above.ends_with(','))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::settings::sources::Raw;

    fn directory(extra: &[(&str, &str)]) -> Directory {
        let mut pairs = vec![
            ("LDAP_URL", "ldap://directory.invalid"),
            ("LDAP_USER_SEARCH_BASE", "dc=example,dc=com"),
        ];
        pairs.extend_from_slice(extra);
        let settings = crate::settings::ldap::ldap(&Raw::from_pairs(&pairs));
        Directory::new(settings.unwrap().unwrap())
    }

    fn entry(attrs: &[(&str, &str)]) -> SearchEntry {
        SearchEntry {
            dn: "cn=Ada Example,ou=people,dc=example,dc=com".into(),
            attrs: (attrs.iter())
                .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
                .collect(),
            bin_attrs: HashMap::new(),
        }
    }

    #[test]
    fn a_person_is_keyed_as_librechat_keys_them() {
        let plain = directory(&[]);
        let key = |d: &Directory, attrs: &[(&str, &str)]| d.identity(&entry(attrs)).subject;
        let ad = [("sAMAccountName", "ADA"), ("mail", "ada@example.com")];
        assert_eq!(key(&plain, &[("uid", "ada"), ad[0], ad[1]]), "ada");
        // Active Directory's entries have no uid: their account name, as LibreChat's
        // `ldapId` has it (an imported user keeps their account).
        assert_eq!(key(&plain, &ad), "ADA");
        // Never by an address its owner may be able to edit, unless LDAP_ID says so: by
        // the DN.
        let dn = "cn=Ada Example,ou=people,dc=example,dc=com";
        assert_eq!(key(&plain, &ad[1..]), dn);
        assert_eq!(key(&plain, &[]), dn);
        let by_mail = directory(&[("LDAP_ID", "mail")]);
        assert_eq!(key(&by_mail, &ad), "ada@example.com");
        // LDAP_ID first, whatever case the server spells it in; the rest when it is missing.
        let chosen = directory(&[("LDAP_ID", "employeeNumber")]);
        let numbered = [("employeenumber", "1001"), ("uid", "ada")];
        assert_eq!(key(&chosen, &numbered), "1001");
        assert_eq!(key(&chosen, &numbered[1..]), "ada");
    }

    #[test]
    fn only_a_dn_below_the_search_base_is_read_at_its_dn() {
        let base = "ou=people,dc=example,dc=com";
        assert!(under("cn=Ada Example,ou=people,dc=example,dc=com", base));
        assert!(under("CN=Ada Example,OU=People,DC=example,DC=com", base));
        assert!(under("cn=Ada,ou=moved,ou=people,dc=example,dc=com", base));
        assert!(!under(base, base));
        assert!(!under("cn=Ada Example,ou=staff,dc=example,dc=com", base));
        assert!(!under("cn=Ada Example,xou=people,dc=example,dc=com", base));
        assert!(!under("ada", base));
    }
}
