//! Latch: a headless JSON authentication service. The binary and the tests share
//! everything here.

pub mod auth;
pub mod cli;
pub mod crypto;
pub mod db;
pub mod directory;
pub mod domain;
pub mod error;
pub mod error_codes;
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
pub mod import;
pub mod mail;
mod memory;
pub mod metrics;
pub mod mfa;
pub mod moderation;
pub mod openapi;
pub mod queue;
pub mod routes;
pub mod settings;
pub mod social;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tools;

/// Process-wide set-up, before any database connection. libpq initialises OpenSSL on its
/// first connection (it tries TLS by default) and with that registers OpenSSL's exit-time
/// cleanup, which can free state that threads still shutting down use. Initialising it
/// here first, through the `openssl` crate, registers no such cleanup.
pub fn init_process() {
    openssl::init();
    memory::limit_malloc_arenas();
    social::xml_logs::capture();
}
