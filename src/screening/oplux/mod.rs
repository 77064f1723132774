//! O-PLUX: the protocol (one module to correct), the HTTP client and its breaker.

pub mod breaker;
pub mod client;
pub mod protocol;
pub mod protocol_v2;
