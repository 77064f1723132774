//! Webhooks: the shop's endpoints with their signing secrets (`service`), the
//! signature (`signature`), and the worker that sends the outbox of deliveries that
//! `events::emit` writes in the transaction of each change (`worker`).

pub mod limit;
pub mod retention;
pub mod service;
pub mod signature;
pub mod worker;

pub use service::{WebhookEndpoint, WebhookEndpointInput, WebhookEndpointPatch, Webhooks};
