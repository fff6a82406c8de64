//! How the process asks glibc's allocator to hold on to less memory.

use std::time::Duration;

/// How often freed memory is handed back (see `trim_periodically`).
const TRIM_EVERY: Duration = Duration::from_secs(60);

/// glibc gives threads that allocate at once arenas of their own, up to eight per core,
/// and hands little of them back: under mixed traffic the resident memory of a server
/// crept up for the whole of a ten-minute soak (`make soak`: 142 MB to 174 MB), where
/// with two arenas it settled at about 68 MB within two minutes. An operator's own
/// `MALLOC_ARENA_MAX` is left to glibc.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; M_ARENA_MAX is one glibc knows.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_malloc_arenas() {}

/// Hands the free pages inside the allocator's heaps back to the system. glibc returns
/// only what is free at the top of a heap by itself; what start-up built and dropped
/// (migrations, the OpenAPI document) and what a burst of traffic left free in the
/// middle stays resident otherwise: about 3 MB of an idle server's 30 MB.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn return_freed_memory() {
    // SAFETY: malloc_trim only releases pages the allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_freed_memory() {}

/// Returns freed memory a second after start-up (the workers have built their apps by
/// then) and then every minute, on a blocking thread (a trim walks every heap while
/// holding its lock).
pub async fn trim_periodically() {
    let first = tokio::time::Instant::now() + Duration::from_secs(1);
    let mut every = tokio::time::interval_at(first, TRIM_EVERY);
    loop {
        every.tick().await;
        let _ = tokio::task::spawn_blocking(return_freed_memory).await;
    }
}
