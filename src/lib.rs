//! Latch: a headless JSON authentication service. The binary and the tests share
//! everything here.

pub mod auth;
pub mod cli;
pub mod db;
pub mod domain;
pub mod error;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tools;
