//! LibreChat's user documents, read: one per line (mongoexport's default) or one JSON
//! array (`--jsonArray`), in either Extended JSON form. Unknown fields are ignored; a
//! document that cannot be read is reported by its line (or its place in the array).

use chrono::NaiveDateTime;
use serde_json::{Map, Value};

use super::ejson;
use crate::auth::password::is_bcrypt;
use crate::domain::{Email, UserName};

/// LibreChat's provider-id fields, and the Latch provider each becomes.
const PROVIDER_IDS: [(&str, &str); 8] = [
    ("googleId", "google"),
    ("githubId", "github"),
    ("discordId", "discord"),
    ("facebookId", "facebook"),
    ("appleId", "apple"),
    ("openidId", "openid"),
    ("samlId", "saml"),
    ("ldapId", "ldap"),
];

/// A user as LibreChat kept them, ready to write.
#[derive(Debug)]
pub struct Incoming {
    pub legacy_id: String,
    pub email: Email,
    pub email_verified: bool,
    pub name: String,
    pub username: Option<String>,
    pub admin: bool,
    pub created_at: NaiveDateTime,
    /// A bcrypt hash, accepted at sign-in until replaced by scrypt.
    pub password_hash: Option<String>,
    pub identities: Vec<(&'static str, String)>,
    pub totp: Option<TotpIn>,
}

/// An active TOTP enrolment: the secret as stored, and the backup codes.
#[derive(Debug)]
pub struct TotpIn {
    pub secret: String,
    pub backup_codes: Vec<BackupCodeIn>,
}

#[derive(Debug)]
pub struct BackupCodeIn {
    /// SHA-256 of the code, hex, as LibreChat stored it.
    pub sha256_hex: String,
    pub used: bool,
    pub used_at: Option<NaiveDateTime>,
}

/// A document of the export, and where it is.
pub struct Document {
    /// `line 12`, or `document 3` in an array.
    pub place: String,
    pub read: Read,
}

pub enum Read {
    User(Box<Incoming>),
    Unreadable(String),
}

/// The documents of an export.
pub fn read(text: &str) -> Vec<Document> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        return match serde_json::from_str::<Vec<Value>>(trimmed) {
            Ok(docs) => docs
                .into_iter()
                .enumerate()
                .map(|(i, v)| Document {
                    place: format!("document {}", i + 1),
                    read: user(v),
                })
                .collect(),
            Err(e) => vec![Document {
                place: format!("line {}", e.line()),
                read: Read::Unreadable(format!("the array is not JSON: {e}")),
            }],
        };
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| Document {
            place: format!("line {}", i + 1),
            read: match serde_json::from_str::<Value>(line) {
                Ok(v) => user(v),
                Err(_) => Read::Unreadable("not a JSON document".into()),
            },
        })
        .collect()
}

fn user(v: Value) -> Read {
    match incoming(v) {
        Ok(u) => Read::User(Box::new(u)),
        Err(why) => Read::Unreadable(why),
    }
}

fn incoming(v: Value) -> Result<Incoming, String> {
    let Value::Object(d) = v else {
        return Err("not a JSON object".into());
    };
    let legacy_id = d.get("_id").and_then(ejson::id).ok_or("no `_id`")?;
    let raw_email = ejson::text(d.get("email")).ok_or("no `email`")?;
    let email =
        Email::parse("email", &raw_email).map_err(|_| "`email` is not an address".to_string())?;
    let name = ejson::text(d.get("name"))
        .and_then(|n| UserName::parse("name", &n).ok())
        .unwrap_or_else(|| UserName::from_email(&email));
    let password_hash = ejson::text(d.get("password")).filter(|h| is_bcrypt(h));
    let identities = PROVIDER_IDS
        .iter()
        .filter_map(|(field, provider)| ejson::text(d.get(*field)).map(|s| (*provider, s)))
        .collect();
    Ok(Incoming {
        legacy_id,
        // A pending, unverified sign-up (LibreChat sets `expiresAt` until it is verified).
        email_verified: ejson::flag(d.get("emailVerified"))
            && d.get("expiresAt").is_none_or(Value::is_null),
        name: name.as_str().to_string(),
        username: ejson::text(d.get("username")).map(|u| u.to_lowercase()),
        admin: ejson::text(d.get("role")).is_some_and(|r| r.eq_ignore_ascii_case("ADMIN")),
        created_at: ejson::date(d.get("createdAt")).unwrap_or_else(crate::db::models::now),
        password_hash,
        identities,
        totp: totp(&d),
        email,
    })
}

/// An active enrolment only (`twoFactorEnabled: true` with a secret); pending ones are
/// not carried over.
fn totp(d: &Map<String, Value>) -> Option<TotpIn> {
    if !ejson::flag(d.get("twoFactorEnabled")) {
        return None;
    }
    let secret = ejson::text(d.get("totpSecret"))?;
    let backup_codes = d
        .get("backupCodes")
        .and_then(Value::as_array)
        .map(|codes| {
            codes
                .iter()
                .filter_map(|c| {
                    Some(BackupCodeIn {
                        sha256_hex: ejson::text(c.get("codeHash"))?.to_lowercase(),
                        used: ejson::flag(c.get("used")),
                        used_at: ejson::date(c.get("usedAt")),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(TotpIn {
        secret,
        backup_codes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(v: Value) -> Incoming {
        match user(v) {
            Read::User(u) => *u,
            Read::Unreadable(why) => panic!("{why}"),
        }
    }

    #[test]
    fn a_relaxed_document_with_everything() {
        let u = one(json!({
            "_id": {"$oid": "65f0c1aa00000000000000a1"},
            "email": "Ann@X.org", "emailVerified": true, "name": "Ann", "username": "Ann",
            "password": format!("$2a$10${}", "a".repeat(53)),
            "role": "ADMIN", "provider": "local", "googleId": "g-1", "openidId": "o-1",
            "twoFactorEnabled": true, "totpSecret": "v3:00:11",
            "backupCodes": [{"codeHash": "AB", "used": true, "usedAt": {"$date": "2024-01-01T00:00:00Z"}}],
            "createdAt": {"$date": "2024-03-12T09:15:02.113Z"}, "plugins": [], "__v": 0
        }));
        assert_eq!(u.legacy_id, "65f0c1aa00000000000000a1");
        assert_eq!(u.email.as_str(), "ann@x.org");
        assert!(u.email_verified && u.admin);
        assert_eq!(u.username.as_deref(), Some("ann"));
        assert!(u.password_hash.is_some());
        assert_eq!(
            u.identities,
            vec![("google", "g-1".into()), ("openid", "o-1".into())]
        );
        let totp = u.totp.unwrap();
        assert_eq!(totp.backup_codes[0].sha256_hex, "ab");
        assert!(totp.backup_codes[0].used);
    }

    #[test]
    fn odd_documents() {
        // A pending sign-up stays unverified; no password; a canonical date.
        let u = one(
            json!({"_id": {"$oid": "b2"}, "email": "b@x.org", "emailVerified": true,
            "expiresAt": {"$date": {"$numberLong": "1710234902113"}},
            "createdAt": {"$date": {"$numberLong": "1710234902113"}}, "role": "USER"}),
        );
        assert!(!u.email_verified && !u.admin && u.password_hash.is_none());
        assert!(u.totp.is_none());
        // Unreadable ones say why.
        for (doc, why) in [
            (json!({"email": "c@x.org"}), "_id"),
            (json!({"_id": "c"}), "email"),
            (json!({"_id": "c", "email": "not an address"}), "address"),
            (json!([1]), "object"),
        ] {
            match user(doc) {
                Read::Unreadable(w) => assert!(w.contains(why), "{w}"),
                Read::User(_) => panic!("read"),
            }
        }
        let docs = read("{\"_id\":\"a\",\"email\":\"a@x.org\"}\n\n{broken\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].place, "line 3");
        assert!(matches!(docs[1].read, Read::Unreadable(_)));
        let docs = read("[{\"_id\":\"a\",\"email\":\"a@x.org\"}, {\"_id\":\"b\"}]");
        assert_eq!(docs[1].place, "document 2");
    }
}
