//! Cryptographic building blocks, all from `ring`.

pub mod password;
pub mod random;
pub mod seal;

pub use random::{random_bytes, random_token};

/// Makes `ring` the process-wide TLS crypto provider (for reqwest and sqlx). Idempotent.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
