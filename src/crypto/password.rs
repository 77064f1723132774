//! Hashing of API client secrets: PBKDF2-HMAC-SHA256 with a random salt, verified in
//! constant time. The stored form names its parameters, so they can be raised later
//! without invalidating existing clients: `pbkdf2-sha256$<iterations>$<salt>$<hash>`.

use std::num::NonZeroU32;

use base64::{Engine, engine::general_purpose::STANDARD_NO_PAD as B64};
use ring::pbkdf2;

use super::random_bytes;

const ALGORITHM: pbkdf2::Algorithm = pbkdf2::PBKDF2_HMAC_SHA256;
const SCHEME: &str = "pbkdf2-sha256";
/// OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
pub const ITERATIONS: u32 = 600_000;
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;

pub fn hash(secret: &str) -> String {
    hash_with(secret, ITERATIONS)
}

fn hash_with(secret: &str, iterations: u32) -> String {
    let salt = random_bytes::<SALT_LEN>();
    let mut out = [0u8; HASH_LEN];
    let iterations_nz = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(ALGORITHM, iterations_nz, &salt, secret.as_bytes(), &mut out);
    format!("{SCHEME}${iterations}${}${}", B64.encode(salt), B64.encode(out))
}

/// Whether `secret` matches `stored`. A malformed stored hash never matches.
pub fn verify(secret: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some(SCHEME), Some(iterations), Some(salt), Some(hash), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Some(iterations), Ok(salt), Ok(hash)) = (
        iterations.parse::<u32>().ok().and_then(NonZeroU32::new),
        B64.decode(salt),
        B64.decode(hash),
    ) else {
        return false;
    };
    // ring compares in constant time.
    pbkdf2::verify(ALGORITHM, iterations, &salt, secret.as_bytes(), &hash).is_ok()
}

/// A hash in the stored format that matches nothing, for spending the same time on an
/// unknown client id as on a known one.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_with("decoy", ITERATIONS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_secret_only() {
        let stored = hash_with("s3cret", 1000);
        assert!(stored.starts_with("pbkdf2-sha256$1000$"));
        assert!(verify("s3cret", &stored));
        assert!(!verify("s3cret ", &stored));
        assert!(!verify("", &stored));
    }

    #[test]
    fn two_hashes_of_one_secret_differ_by_salt() {
        assert_ne!(hash_with("x", 1000), hash_with("x", 1000));
    }

    #[test]
    fn malformed_hashes_never_match() {
        for stored in [
            "",
            "plain",
            "pbkdf2-sha256$0$AAAA$AAAA",
            "sha1$1000$AAAA$AAAA",
            "pbkdf2-sha256$10$!!$AAAA",
        ] {
            assert!(!verify("x", stored), "{stored}");
        }
    }
}
