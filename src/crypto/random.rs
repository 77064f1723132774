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
    hex_in(bytes, b"0123456789abcdef")
}

/// Upper-case hex of `bytes`.
pub fn hex_upper(bytes: &[u8]) -> String {
    hex_in(bytes, b"0123456789ABCDEF")
}

fn hex_in(bytes: &[u8], digits: &[u8; 16]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(digits[usize::from(b >> 4)]));
        out.push(char::from(digits[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{hex, hex_upper};

    #[test]
    fn hex_is_two_digits_per_byte_in_either_case() {
        assert_eq!(hex(&[0x00, 0x0a, 0xff, 0x5c]), "000aff5c");
        assert_eq!(hex_upper(&[0x00, 0x0a, 0xff, 0x5c]), "000AFF5C");
        assert_eq!(hex(&[]), "");
    }
}
