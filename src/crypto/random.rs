//! Random values from the operating system's CSPRNG.

use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};

/// `N` random bytes. The system generator does not fail on supported platforms; if it
/// ever does, continuing with weak randomness would be worse than stopping.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random generator failed");
    bytes
}

/// A URL-safe random string carrying `N` bytes of entropy.
pub fn random_token<const N: usize>() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
