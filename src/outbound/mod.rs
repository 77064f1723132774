//! Outbound HTTP: the one gate every call renkei makes to another server goes through
//! (O-PLUX today, webhooks next). See `policy` for what is allowed and why.

pub mod policy;

pub use policy::{Origin, OutboundPolicy, Refusal};
