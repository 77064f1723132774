//! The HTTP API as a specification: every test starts the real application and talks to
//! it over loopback, once on SQLite and once on PostgreSQL.

#[path = "../support/mod.rs"]
mod support;

mod account_actions;
mod audit_events;
mod certificates;
mod cli;
mod consistency;
mod contract;
mod deploy;
mod errors;
mod faults;
mod hardening;
mod hostile_peers;
mod layout;
mod manual_review;
mod openapi;
mod operations;
mod outbound;
mod payment_methods;
mod preconditions;
mod provider_accounts;
mod providers;
mod public_urls;
mod reviews;
mod screenings;
mod security;
mod token_abuse;
mod tokens;
mod webhook_delivery;
mod webhooks;
