//! Logging: `RUST_LOG` filters (default `info`); `LOG_FORMAT=json` for machine-read logs.

use tracing_subscriber::EnvFilter;

/// Starts logging with `RUST_LOG` and `LOG_FORMAT` as `env` gives them (the process
/// environment over `.env`).
pub fn init_from(env: &std::collections::HashMap<String, String>, default_filter: &str) {
    let filter = env
        .get("RUST_LOG")
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default_filter));
    let json = env
        .get("LOG_FORMAT")
        .is_some_and(|v| v.eq_ignore_ascii_case("json"));
    start(filter, json);
}

/// Starts logging with `RUST_LOG` and `LOG_FORMAT` from the process environment.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    start(filter, json);
}

fn start(filter: EnvFilter, json: bool) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
