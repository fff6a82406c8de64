//! The command-line user tools. They run on a blocking thread with their own connection,
//! read the same settings as `serve`, and fail with one line saying why.

use std::io::{BufRead, IsTerminal, Read, Write};

use anyhow::{bail, Context};

use crate::auth::accounts::{create_user_in, delete_user_in, set_password_in};
use crate::auth::keys::KeyRing;
use crate::auth::password::hash_blocking;
use crate::cli::{BansCommand, Command, ImportCommand, KeysCommand, MfaCommand};
use crate::db::models::User;
use crate::db::{write_tx, Db};
use crate::domain::{Email, Password, UserName};
use crate::error::ApiError;
use crate::routes::UserView;
use crate::settings::Settings;

/// Runs a user tool; `Ok(false)` when `command` is not one.
pub fn run(command: &Command, settings: &Settings, db: &Db) -> anyhow::Result<bool> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    match command {
        Command::CreateUser {
            email,
            name,
            password,
            password_stdin,
            admin,
        } => {
            let email = match email {
                Some(e) => e.clone(),
                None => prompt("Email: ")?,
            };
            let email = Email::parse("email", &email).map_err(field)?;
            let name = match name {
                Some(n) => UserName::parse("name", n).map_err(field)?,
                None => UserName::from_email(&email),
            };
            let password = read_password(password.as_deref(), *password_stdin, settings)?;
            let hash = hash_blocking(&settings.scrypt, password.expose())?;
            let user = write_tx(conn, |conn| {
                let user = create_user_in(conn, &email, &name, Some(&hash), true)?;
                if *admin && !user.is_admin() {
                    User::set_role(conn, &user.id, crate::db::models::user::Role::Admin)?;
                }
                Ok(User::find(conn, &user.id)?.unwrap_or(user))
            })
            .map_err(api)?;
            println!("created {} {} ({})", user.role, user.email, user.id);
        }
        Command::DeleteUser { email, yes } => {
            let user = find(conn, email)?;
            if !yes {
                if !std::io::stdin().is_terminal() {
                    bail!(
                        "refusing to delete {} without --yes when not on a terminal",
                        user.email
                    );
                }
                let answer = prompt(&format!(
                    "Delete {} and all its sessions? [y/N] ",
                    user.email
                ))?;
                if !matches!(answer.to_ascii_lowercase().as_str(), "y" | "yes") {
                    bail!("not deleted");
                }
            }
            write_tx(conn, |conn| delete_user_in(conn, &user)).map_err(api)?;
            println!("deleted {}", user.email);
        }
        Command::ListUsers { json } => {
            let users = User::all(conn)?;
            if *json {
                let views: Vec<serde_json::Value> = users
                    .iter()
                    .map(|u| {
                        let mut v = serde_json::to_value(UserView::from(u)).unwrap_or_default();
                        v["disabled"] = u.disabled.into();
                        v
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&views)?);
            } else {
                print_users(&users);
            }
        }
        Command::SetPassword {
            email,
            password,
            password_stdin,
        } => {
            let user = find(conn, email)?;
            let password = read_password(password.as_deref(), *password_stdin, settings)?;
            let hash = hash_blocking(&settings.scrypt, password.expose())?;
            write_tx(conn, |conn| set_password_in(conn, &user, &hash)).map_err(api)?;
            println!(
                "password set for {}; its sessions are signed out",
                user.email
            );
        }
        Command::Keys {
            command: KeysCommand::Rotate { now },
        } => {
            let wait = if *now {
                std::time::Duration::ZERO
            } else {
                settings.jwt.prepublish
            };
            let activates = crate::db::models::now() + crate::db::models::span(wait);
            let kid = write_tx(conn, |conn| {
                KeyRing::rotate(conn, &settings.jwt, activates).map_err(ApiError::Unexpected)
            })
            .map_err(api)?;
            if *now {
                println!(
                    "new signing key {kid} signs now; running servers pick it up within seconds"
                );
            } else {
                println!(
                    "new signing key {kid} is published now and signs from {} UTC",
                    activates.format("%Y-%m-%d %H:%M:%S")
                );
            }
        }
        Command::Keys {
            command: KeysCommand::Revoke { kid },
        } => {
            let signs = write_tx(conn, |conn| {
                KeyRing::revoke(conn, &settings.jwt, kid).map_err(ApiError::Unexpected)
            })
            .map_err(api)?;
            println!(
                "signing key {kid} is revoked: running servers stop accepting its tokens within seconds; {signs} signs now"
            );
        }
        Command::Import {
            command:
                ImportCommand::Librechat {
                    file,
                    dry_run,
                    without_totp,
                },
        } => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            // TOTP secrets are sealed as Latch seals its own: with the token key.
            let mut settings = settings.clone();
            crate::auth::secrets::resolve(&mut settings)?;
            let sealer = crate::crypto::Sealer::new(settings.token_key(), "totp secrets");
            let opts = crate::import::Options {
                dry_run: *dry_run,
                without_totp: *without_totp,
            };
            let creds_key = settings
                .creds_key
                .as_ref()
                .map(|k| secrecy::ExposeSecret::expose_secret(k).to_string());
            let report =
                crate::import::librechat(conn, &text, creds_key.as_deref(), &sealer, opts)?;
            let providers: Vec<String> = settings
                .social
                .providers
                .iter()
                .map(|p| p.id.clone())
                .collect();
            report.write(&mut std::io::stdout().lock(), &providers, *dry_run)?;
            anyhow::ensure!(
                report.skipped == 0,
                "{} document(s) skipped: see the report on standard output",
                report.skipped
            );
        }
        Command::Bans {
            command: BansCommand::List { json },
        } => {
            let bans = crate::db::models::Ban::active(conn, crate::db::models::now())?;
            if *json {
                let views: Vec<serde_json::Value> = bans
                    .iter()
                    .map(|b| {
                        serde_json::json!({"id": b.id, "user_id": b.user_id, "ip": b.ip,
                            "reason": b.reason, "banned_until": b.expires_at.and_utc()})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&views)?);
            } else {
                let rows: Vec<Vec<String>> = bans
                    .iter()
                    .map(|b| {
                        vec![
                            b.id.clone(),
                            b.user_id.clone().unwrap_or_default(),
                            b.ip.clone().unwrap_or_default(),
                            b.expires_at.and_utc().format("%Y-%m-%d %H:%M").to_string(),
                            b.reason.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                print_table(&["ID", "USER", "IP", "UNTIL", "REASON"], &rows);
            }
        }
        Command::Bans {
            command: BansCommand::Lift { id },
        } => {
            let now = crate::db::models::now();
            let lifted = write_tx(conn, |conn| {
                let Some(ban) = crate::db::models::Ban::find(conn, id)? else {
                    return Ok(false);
                };
                if crate::db::models::Ban::lift(conn, id, now)? != 1 {
                    return Ok(false);
                }
                if let Some(user) = &ban.user_id {
                    crate::db::models::Ban::refresh_user(conn, user, now)?;
                }
                let event = crate::auth::audit::Event {
                    subject: ban.user_id.as_deref(),
                    detail: Some(format!("ban {id} lifted from the command line")),
                    ..crate::auth::audit::Event::new(crate::auth::audit::kind::UNBANNED)
                };
                crate::auth::audit::record_in(conn, event)?;
                Ok(true)
            })
            .map_err(api)?;
            if !lifted {
                bail!("no active ban {id}");
            }
            println!("lifted ban {id}");
        }
        Command::Mfa {
            command: MfaCommand::Reset { email },
        } => {
            let user = find(conn, email)?;
            // The notice is queued here; a running server's mail worker sends it.
            let mail = match &settings.mail {
                Some(_) => Some(crate::mail::MailService::new(settings)?),
                None => None,
            };
            write_tx(conn, |conn| {
                crate::mfa::reset_in(conn, &user, None, mail.as_ref())
            })
            .map_err(api)?;
            println!("removed every second factor of {}", user.email);
        }
        Command::Serve { .. } | Command::Migrate | Command::Openapi | Command::Webhooks { .. } => {
            return Ok(false)
        }
    }
    Ok(true)
}

fn find(conn: &mut crate::db::DbConn, email: &str) -> anyhow::Result<User> {
    let parsed = Email::parse("email", email).map_err(field)?;
    User::find_by_email(conn, parsed.as_str())?
        .with_context(|| format!("no account with email {}", parsed.as_str()))
}

/// A rule broken by a value given on the command line, as one line.
fn field(e: crate::error::FieldError) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", e.field, e.message)
}

/// An API error as one line a person can act on.
fn api(e: ApiError) -> anyhow::Error {
    match e {
        ApiError::EmailTaken => anyhow::anyhow!("an account with this email already exists"),
        ApiError::LastAdmin => {
            anyhow::anyhow!("this is the last active admin; make another admin first")
        }
        ApiError::Unexpected(e) => e,
        other => anyhow::anyhow!("{}", other.problem().detail),
    }
}

fn prompt(question: &str) -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "missing value and not on a terminal to ask: {}",
            question.trim_end_matches([':', ' '])
        );
    }
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

/// The password from the flag, standard input, or a hidden prompt (asked twice).
fn read_password(
    flag: Option<&str>,
    from_stdin: bool,
    settings: &Settings,
) -> anyhow::Result<Password> {
    let raw = match (flag, from_stdin) {
        (Some(p), _) => p.to_string(),
        (None, true) => {
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input)?;
            let input = input.strip_suffix('\n').unwrap_or(&input);
            input.strip_suffix('\r').unwrap_or(input).to_string()
        }
        (None, false) => {
            if !std::io::stdin().is_terminal() {
                bail!("no password: use --password or --password-stdin when not on a terminal");
            }
            let first = rpassword::prompt_password("Password: ")?;
            let again = rpassword::prompt_password("Password again: ")?;
            if first != again {
                bail!("the passwords do not match");
            }
            first
        }
    };
    Password::parse("password", &raw, settings.passwords).map_err(field)
}

fn print_users(users: &[User]) {
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                u.email.clone(),
                u.name.clone(),
                u.role.to_string(),
                if u.email_verified { "yes" } else { "no" }.into(),
                if u.disabled { "yes" } else { "no" }.into(),
                u.created_at.and_utc().format("%Y-%m-%d %H:%M").to_string(),
            ]
        })
        .collect();
    let header = ["EMAIL", "NAME", "ROLE", "VERIFIED", "DISABLED", "CREATED"];
    print_table(&header, &rows);
}

/// Columns padded to their widest cell.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}", w = *w))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    println!("{}", line(&header));
    for row in rows {
        println!("{}", line(row));
    }
}
