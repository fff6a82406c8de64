//! One integration binary: every test talks HTTP to a real server on a fresh database,
//! once on SQLite and once on PostgreSQL.

mod helpers;

mod account;
mod admin;
mod attacks;
mod browser;
mod cli;
mod clients;
mod directory;
mod errors;
mod faults;
mod health;
mod instances;
mod introspect;
mod keys;
mod librechat;
mod login;
mod logout;
mod mail;
mod mail_delivery;
mod moderation;
mod openapi;
mod operators;
mod protection;
mod providers;
mod readme;
mod readme_snippet;
mod receiver;
mod refresh;
mod register;
mod saml;
mod schemathesis;
mod second_factor;
mod self_service;
mod sessions;
mod slapd;
mod smtp;
mod social;
mod soft_authenticator;
mod tokens;
mod webhooks;
