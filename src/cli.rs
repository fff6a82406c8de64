//! The command line: `serve` (the default), `migrate`, `openapi`.

use std::collections::HashMap;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "latch",
    version,
    about = "A headless JSON authentication service"
)]
pub struct Cli {
    /// Settings file (default: config/latch.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://... (overrides DATABASE_URL).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve {
        /// Address to listen on (overrides HOST).
        #[arg(long)]
        host: Option<String>,
        /// Port to listen on (overrides PORT).
        #[arg(long)]
        port: Option<u16>,
        /// Password of the initial admin (overrides INITIAL_USER_PASSWORD).
        #[arg(long)]
        initial_user_password: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Create an account (works with registration switched off).
    CreateUser {
        #[arg(long)]
        email: Option<String>,
        /// Default: the email's local part.
        #[arg(long)]
        name: Option<String>,
        /// Prompted for (hidden) on a terminal when missing.
        #[arg(long, conflicts_with = "password_stdin")]
        password: Option<String>,
        /// Read the password from standard input (one trailing newline is stripped).
        #[arg(long)]
        password_stdin: bool,
        /// Make the account an admin.
        #[arg(long)]
        admin: bool,
    },
    /// Delete an account and its sessions.
    DeleteUser {
        email: String,
        /// Do not ask (required when not on a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// List the accounts.
    ListUsers {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Set an account's password; its sessions are signed out.
    SetPassword {
        email: String,
        #[arg(long, conflicts_with = "password_stdin")]
        password: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Manage the JWT signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Second factors.
    Mfa {
        #[command(subcommand)]
        command: MfaCommand,
    },
    /// List or lift bans.
    Bans {
        #[command(subcommand)]
        command: BansCommand,
    },
    /// Bring users over from another service.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Webhooks: make a secret, or send a test event.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum WebhooksCommand {
    /// Print a new secret for WEBHOOK_SECRET (`whsec_` and 32 random bytes in base64).
    Secret,
    /// Queue a `ping` to every configured endpoint and wait up to 10 s for its delivery;
    /// a failure exits non-zero, saying why.
    Test,
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// LibreChat's users, as `mongoexport --collection users` writes them (one document per
    /// line, or --jsonArray). With LibreChat's CREDS_KEY set, TOTP enrolments come along.
    Librechat {
        /// The export.
        file: std::path::PathBuf,
        /// Say what would happen, and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Import users with TOTP without it when CREDS_KEY is not set (they are listed).
        #[arg(long)]
        without_totp: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum MfaCommand {
    /// Remove an account's TOTP, backup codes and passkeys (a lost phone).
    Reset { email: String },
}

#[derive(Subcommand, Debug)]
pub enum BansCommand {
    /// The active bans.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Lift a ban by its id.
    Lift { id: String },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Make a new signing key, published at once and signing after JWT_KEY_PREPUBLISH; the
    /// old one stays published until its tokens expire.
    Rotate {
        /// Sign with the new key at once (the old key is compromised); verifiers holding a
        /// cached JWKS reject new tokens until they refetch it.
        #[arg(long)]
        now: bool,
    },
    /// Remove a key (a leaked one) from the JWKS and from verification: every token it
    /// signed stops working on every running server within SESSION_CACHE.
    Revoke {
        /// The key id (`kid`), as the JWKS lists it.
        kid: String,
    },
}

impl Cli {
    /// The flags that override settings, by setting name.
    pub fn setting_flags(&self) -> HashMap<String, String> {
        let mut flags = HashMap::new();
        if let Some(url) = &self.database_url {
            flags.insert("DATABASE_URL".into(), url.clone());
        }
        if let Some(Command::Serve {
            host,
            port,
            initial_user_password,
        }) = &self.command
        {
            if let Some(p) = initial_user_password {
                flags.insert("INITIAL_USER_PASSWORD".into(), p.clone());
            }
            if let Some(h) = host {
                flags.insert("HOST".into(), h.clone());
            }
            if let Some(p) = port {
                flags.insert("PORT".into(), p.to_string());
            }
        }
        flags
    }
}
