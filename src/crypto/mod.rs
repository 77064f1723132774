//! Cryptographic building blocks, all from `ring`.

pub mod keys;
pub mod password;
pub mod random;
pub mod seal;

pub use random::{random_bytes, random_token};

/// Upper-case hex of the SHA-256 of `text` (UTF-8): O-PLUX's hashes, and a request's
/// fingerprint.
pub fn sha256_upper(text: &str) -> String {
    random::hex_upper(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref())
}

/// Makes `ring` the process-wide TLS crypto provider (for reqwest and sqlx). Idempotent.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
