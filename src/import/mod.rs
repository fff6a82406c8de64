//! `latch import librechat FILE [--dry-run] [--without-totp]`: LibreChat's users, as
//! `mongoexport --collection users` writes them, become Latch accounts that sign in the
//! way they did (bcrypt passwords, provider identities, TOTP and backup codes), keeping
//! LibreChat's `_id` as `legacy_id`.
//!
//! Reading a document (`librechat`) and carrying its secrets over (`creds`) are plain
//! functions; this module writes, one transaction per user, and reports.

pub mod creds;
pub mod ejson;
pub mod librechat;

use std::collections::BTreeMap;
use std::io::Write;

use chrono::NaiveDateTime;

use crate::crypto::Sealer;
use crate::db::models::second_factor::{BackupCode, TotpSecret};
use crate::db::models::user::Role;
use crate::db::models::{new_id, now, Identity, NewUser, User};
use crate::db::{write_tx, DbConn};
use crate::error::{ApiError, ApiResult};
use librechat::{Incoming, Read};

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Report what would happen, and write nothing.
    pub dry_run: bool,
    /// Import users with TOTP without it (no `CREDS_KEY`): listed in the report.
    pub without_totp: bool,
}

/// What importing did, to print.
#[derive(Debug, Default)]
pub struct Report {
    pub imported: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub with_totp: usize,
    pub without_totp: Vec<String>,
    pub with_identities: usize,
    /// Identities by provider, and whether that provider is configured here.
    pub identities: BTreeMap<String, usize>,
    pub lines: Vec<String>,
}

impl Report {
    /// The report: each skipped document with its place and reason, then the summary.
    pub fn write(
        &self,
        out: &mut dyn Write,
        providers: &[String],
        dry_run: bool,
    ) -> std::io::Result<()> {
        for line in &self.lines {
            writeln!(out, "{line}")?;
        }
        let verb = if dry_run { "would import" } else { "imported" };
        writeln!(
            out,
            "{verb} {}, unchanged {}, skipped {}; with TOTP {}, with identities {}",
            self.imported, self.unchanged, self.skipped, self.with_totp, self.with_identities
        )?;
        for (provider, n) in &self.identities {
            let note = if providers.iter().any(|p| p == provider) {
                ""
            } else {
                " (provider not configured yet)"
            };
            writeln!(out, "  identities of {provider}: {n}{note}")?;
        }
        if !self.without_totp.is_empty() {
            writeln!(
                out,
                "imported without their second factor (--without-totp): {}",
                self.without_totp.join(", ")
            )?;
        }
        Ok(())
    }
}

/// What importing one document came to.
enum Outcome {
    Imported { totp: bool, identities: Vec<String> },
    Unchanged,
    Skipped(String),
}

/// Imports the users in `text` (the export's contents). `creds_key` is LibreChat's
/// `CREDS_KEY`; `sealer` seals TOTP secrets as Latch keeps them. Refuses, before writing
/// anything, an export with TOTP users and no key (unless `without_totp`).
pub fn librechat(
    conn: &mut DbConn,
    text: &str,
    creds_key: Option<&str>,
    sealer: &Sealer,
    opts: Options,
) -> anyhow::Result<Report> {
    let key = creds_key.map(creds::Key::parse).transpose()?;
    let documents = librechat::read(text);
    if key.is_none() && !opts.without_totp {
        let with_totp = documents
            .iter()
            .filter(|d| matches!(&d.read, Read::User(u) if u.totp.is_some()))
            .count();
        anyhow::ensure!(
            with_totp == 0,
            "{with_totp} users have TOTP: set LibreChat's CREDS_KEY so that they keep it, or give --without-totp to import them without it"
        );
    }
    let mut report = Report::default();
    for doc in documents {
        let incoming = match doc.read {
            Read::User(u) => u,
            Read::Unreadable(why) => {
                report.skipped += 1;
                report.lines.push(format!("{}: skipped: {why}", doc.place));
                continue;
            }
        };
        let outcome = import_one(conn, &incoming, key.as_ref(), sealer, opts);
        match outcome {
            Ok(Outcome::Imported { totp, identities }) => {
                report.imported += 1;
                if totp {
                    report.with_totp += 1;
                } else if incoming.totp.is_some() {
                    report
                        .without_totp
                        .push(incoming.email.as_str().to_string());
                }
                if !identities.is_empty() {
                    report.with_identities += 1;
                }
                for provider in identities {
                    *report.identities.entry(provider).or_default() += 1;
                }
            }
            Ok(Outcome::Unchanged) => report.unchanged += 1,
            Ok(Outcome::Skipped(why)) => {
                report.skipped += 1;
                report.lines.push(format!("{}: skipped: {why}", doc.place));
            }
            Err(e) => {
                report.skipped += 1;
                report.lines.push(format!("{}: skipped: {e}", doc.place));
            }
        }
    }
    Ok(report)
}

/// Imports one user in one transaction (rolled back for a dry run).
fn import_one(
    conn: &mut DbConn,
    u: &Incoming,
    key: Option<&creds::Key>,
    sealer: &Sealer,
    opts: Options,
) -> ApiResult<Outcome> {
    // A TOTP secret that does not open is this document's problem, found before writing.
    let totp = match (&u.totp, key) {
        (Some(t), Some(key)) => match key.totp_secret(&t.secret) {
            Ok(secret) => Some((secret, &t.backup_codes)),
            Err(why) => return Ok(Outcome::Skipped(format!("its TOTP secret: {why}"))),
        },
        _ => None,
    };
    let mut result = None;
    let done = write_tx(conn, |conn| {
        let outcome = write_user_in(
            conn,
            u,
            totp.as_ref().map(|(s, c)| (s.as_slice(), *c)),
            sealer,
        )?;
        let keep = matches!(outcome, Outcome::Imported { .. }) && !opts.dry_run;
        result = Some(outcome);
        if keep {
            Ok(())
        } else {
            // Nothing to keep: roll back (a dry run, or nothing was written anyway).
            Err(ApiError::Conflict("rolled back"))
        }
    });
    match (done, result) {
        (Ok(()), Some(outcome)) | (Err(ApiError::Conflict("rolled back")), Some(outcome)) => {
            Ok(outcome)
        }
        (Err(e), _) => Err(e),
        (Ok(()), None) => unreachable!("the transaction set its outcome"),
    }
}

fn write_user_in(
    conn: &mut DbConn,
    u: &Incoming,
    totp: Option<(&[u8], &Vec<librechat::BackupCodeIn>)>,
    sealer: &Sealer,
) -> ApiResult<Outcome> {
    if User::find_by_legacy_id(conn, &u.legacy_id)?.is_some() {
        return Ok(Outcome::Unchanged);
    }
    if User::find_by_email(conn, u.email.as_str())?.is_some() {
        return Ok(Outcome::Skipped(format!(
            "{} already has an account in Latch; it is left as it is",
            u.email.as_str()
        )));
    }
    for (provider, subject) in &u.identities {
        if Identity::find(conn, provider, subject)?.is_some() {
            return Ok(Outcome::Skipped(format!(
                "its {provider} identity already belongs to another account"
            )));
        }
    }
    let id = new_id();
    let role = if u.admin { Role::Admin } else { Role::User };
    User::insert(
        conn,
        &NewUser {
            id: &id,
            email: u.email.as_str(),
            name: &u.name,
            password_hash: u.password_hash.as_deref(),
            role: role.as_str(),
            email_verified: u.email_verified,
            disabled: false,
            created_at: u.created_at,
            updated_at: now(),
            username: u.username.as_deref(),
            legacy_id: Some(&u.legacy_id),
        },
    )?;
    let mut providers = Vec::new();
    for (provider, subject) in &u.identities {
        Identity::insert(
            conn,
            &Identity {
                id: new_id(),
                user_id: id.clone(),
                provider: provider.to_string(),
                subject: subject.clone(),
                email: Some(u.email.as_str().to_string()),
                created_at: u.created_at,
                last_used_at: u.created_at,
            },
        )?;
        providers.push(provider.to_string());
    }
    let with_totp = totp.is_some();
    if let Some((secret, codes)) = totp {
        write_totp_in(conn, &id, secret, codes, sealer, u.created_at)?;
    }
    Ok(Outcome::Imported {
        totp: with_totp,
        identities: providers,
    })
}

fn write_totp_in(
    conn: &mut DbConn,
    user_id: &str,
    secret: &[u8],
    codes: &[librechat::BackupCodeIn],
    sealer: &Sealer,
    enrolled: NaiveDateTime,
) -> ApiResult<()> {
    TotpSecret::replace_unconfirmed(
        conn,
        &TotpSecret {
            user_id: user_id.to_string(),
            secret: sealer.seal(secret, user_id),
            confirmed_at: None,
            last_used_step: None,
            created_at: enrolled,
        },
    )?;
    TotpSecret::confirm(conn, user_id, enrolled)?;
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<BackupCode> = codes
        .iter()
        // The same code twice is one code.
        .filter(|c| seen.insert(c.sha256_hex.clone()))
        .map(|c| BackupCode {
            id: new_id(),
            user_id: user_id.to_string(),
            code_hash: crate::mfa::legacy_backup_row(user_id, &c.sha256_hex),
            used_at: c.used_at.or(c.used.then_some(enrolled)),
            created_at: enrolled,
        })
        .collect();
    BackupCode::replace_all(conn, user_id, &rows)?;
    Ok(())
}
