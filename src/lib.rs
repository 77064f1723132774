//! renkei: integration accounts, payment methods and O-PLUX fraud screening for
//! Japanese e-commerce shops. See ARCHITECTURE.md for the map of modules.

pub mod accounts;
pub mod auth;
pub mod bootstrap;
pub mod cache;
pub mod cli;
pub mod config;
pub mod core;
pub mod crypto;
pub mod dev_keys;
pub mod events;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod outbound;
pub mod payment_methods;
pub mod screening;
pub mod standin;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod webhooks;
