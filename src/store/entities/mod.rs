//! sea-orm entities: one module per table. The schema itself comes from `migration/`.

pub mod api_client;
pub mod audit_event;
pub mod certificate_notice;
pub mod event;
pub mod feed_item;
pub mod job_lease;
pub mod oplux_exchange;
pub mod payment_method;
pub mod provider_account;
pub mod provider_secret;
pub mod public_asset;
pub mod screening;
pub mod shop;
pub mod transaction_id;
pub mod webhook_attempt;
pub mod webhook_delivery;
pub mod webhook_endpoint;
