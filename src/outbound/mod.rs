//! Outbound HTTP: the one gate every call renkei makes to another server goes through
//! (O-PLUX, webhooks). See `policy` for what is allowed and why, `body` for how much of an
//! answer is read.

pub mod body;
pub mod policy;

pub use policy::{Origin, OutboundPolicy, Refusal, Url, parse_url, redacted, redacted_text};
