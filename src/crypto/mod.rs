//! Cryptographic building blocks, all from `ring`.

pub mod password;
pub mod random;

pub use random::{random_bytes, random_token};
