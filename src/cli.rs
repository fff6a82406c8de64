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
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
}

impl Cli {
    /// The flags that override settings, by setting name.
    pub fn setting_flags(&self) -> HashMap<String, String> {
        let mut flags = HashMap::new();
        if let Some(url) = &self.database_url {
            flags.insert("DATABASE_URL".into(), url.clone());
        }
        if let Some(Command::Serve { host, port }) = &self.command {
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
