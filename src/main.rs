use std::process::ExitCode;

use clap::Parser;
use latch::cli::{Cli, Command, WebhooksCommand};
use latch::db::Db;
use latch::settings::{Settings, Sources};
use latch::startup::Application;

#[tokio::main]
async fn main() -> ExitCode {
    latch::init_process();
    let cli = Cli::parse();
    // `.env` is read before logging starts, so its RUST_LOG and LOG_FORMAT count too.
    let env = match latch::settings::sources::process_env() {
        Ok(env) => env,
        Err(e) => {
            eprintln!("latch: {e}");
            return ExitCode::FAILURE;
        }
    };
    latch::telemetry::init_from(&env, "info");
    match run(cli, env).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Exactly one line saying why (driver messages can span several).
            let why = format!("{e:#}");
            eprintln!(
                "latch: {}",
                why.split_whitespace().collect::<Vec<_>>().join(" ")
            );
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, env: std::collections::HashMap<String, String>) -> anyhow::Result<()> {
    if let Some(Command::Openapi) = cli.command {
        print!("{}", latch::openapi::spec_json());
        return Ok(());
    }
    if let Some(Command::Webhooks {
        command: WebhooksCommand::Secret,
    }) = cli.command
    {
        println!("{}", latch::settings::webhooks::new_secret());
        return Ok(());
    }
    let sources = Sources::from_env(&env, cli.config.clone(), cli.setting_flags());
    let settings = Settings::load(&sources)?;
    match cli.command {
        Some(Command::Migrate) => {
            let db = Db::new(&settings.database_url, 1)?;
            tokio::task::spawn_blocking(move || db.migrate_and(|_| Ok(()))).await??;
            eprintln!("latch: database is up to date");
            Ok(())
        }
        Some(
            command @ (Command::CreateUser { .. }
            | Command::DeleteUser { .. }
            | Command::ListUsers { .. }
            | Command::SetPassword { .. }
            | Command::Keys { .. }
            | Command::Bans { .. }
            | Command::Import { .. }
            | Command::Mfa { .. }),
        ) => {
            let db = Db::new(&settings.database_url, 1)?;
            tokio::task::spawn_blocking(move || {
                db.migrate_and(|_| Ok(()))?;
                latch::tools::run(&command, &settings, &db).map(|_| ())
            })
            .await?
        }
        Some(Command::Webhooks {
            command: WebhooksCommand::Test,
        }) => {
            let db = Db::new(&settings.database_url, 1)?;
            let delivered = latch::events::ping::ping_all(db, &settings.webhooks).await?;
            eprintln!("latch: the ping was delivered to {delivered} endpoint(s)");
            Ok(())
        }
        _ => {
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "latch is listening");
            app.run_until_stopped().await?;
            Ok(())
        }
    }
}
