//! Passwords, tokens and sessions: the rules of signing in, callable without HTTP.

pub mod accounts;
pub mod audit;
pub mod client;
pub mod devices;
pub mod email;
pub mod email_change;
pub mod extractor;
pub mod fresh;
mod hash_threads;
pub mod keys;
pub mod links;
pub mod opaque_token;
pub mod password;
pub mod secrets;
pub mod session_cache;
pub mod sessions;
pub mod signin;
pub mod tokens;

#[cfg(test)]
mod rules_tests;
