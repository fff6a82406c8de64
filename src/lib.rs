//! Latch: a headless JSON authentication service. The binary and the tests share
//! everything here.

pub mod auth;
pub mod cli;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod mail;
pub mod metrics;
pub mod mfa;
pub mod moderation;
pub mod openapi;
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
    limit_malloc_arenas();
}

/// glibc gives threads that allocate at once arenas of their own, up to eight per core,
/// and hands little of them back: under mixed traffic the resident memory of a server
/// crept up for the whole of a ten-minute soak (`make soak`: 142 MB to 174 MB), where
/// with two arenas it settled at about 68 MB within two minutes. An operator's own
/// `MALLOC_ARENA_MAX` is left to glibc.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; M_ARENA_MAX is one glibc knows.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
