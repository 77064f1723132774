//! Hashing of API client secrets. The secrets are 256-bit random values, so a slow
//! password hash adds nothing against guessing and only hands an attacker a CPU lever
//!: they are stored as HMAC-SHA256 keyed by a server-side pepper, which a copy
//! of the database alone does not hold.
//!
//! Stored form: `hmac-sha256$<pepper id>$<base64 mac>`. The pepper id names which pepper
//! made the hash, so peppers can change: a hash under an older pepper (or the earlier
//! `pbkdf2-sha256$<iterations>$<salt>$<hash>` form) still verifies while that pepper is
//! configured, and is replaced on the client's next successful token request.

use std::num::NonZeroU32;

use base64::{Engine, engine::general_purpose::STANDARD_NO_PAD as B64};
use ring::{hmac, pbkdf2};

use super::seal::MasterKeys;
use crate::core::Secret;

const HMAC_SCHEME: &str = "hmac-sha256";
const PBKDF2_SCHEME: &str = "pbkdf2-sha256";
/// What the peppers derived from the master keys are for (see `MasterKeys::derive`).
const PEPPER_PURPOSE: &str = "renkei/client-secret-pepper/v1";
/// The id of a pepper set with `RENKEI_CLIENT_SECRET_PEPPER`.
const CONFIGURED_PEPPER_ID: &str = "pepper";

/// The peppers client secrets are hashed with: the first hashes, all verify.
pub struct Peppers {
    keys: Vec<(String, hmac::Key)>,
}

impl std::fmt::Debug for Peppers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Peppers").field("ids", &ids).finish()
    }
}

/// The result of checking a secret against its stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// It matches, under an older pepper or scheme: store a new hash.
    YesRehash,
}

impl Verified {
    pub fn matches(self) -> bool {
        self != Self::No
    }
}

impl Peppers {
    /// `configured` (`RENKEI_CLIENT_SECRET_PEPPER`) hashes when set; otherwise a pepper
    /// derived from the current master key. Peppers derived from every master key verify,
    /// so that hashes made before a key rotation keep working while the old key is listed.
    pub fn new(configured: Option<&Secret<Vec<u8>>>, master_keys: &MasterKeys) -> Self {
        let configured = configured.map(|bytes| (CONFIGURED_PEPPER_ID.to_string(), bytes.expose().clone()));
        let derived = master_keys
            .derive(PEPPER_PURPOSE)
            .into_iter()
            .map(|(id, bytes)| (format!("mk-{id}"), bytes.expose().clone()));
        let keys = configured
            .into_iter()
            .chain(derived)
            .map(|(id, bytes)| (id, hmac::Key::new(hmac::HMAC_SHA256, &bytes)))
            .collect();
        Self { keys }
    }

    fn current(&self) -> &(String, hmac::Key) {
        &self.keys[0]
    }

    pub fn hash(&self, secret: &str) -> String {
        let (id, key) = self.current();
        format!("{HMAC_SCHEME}${id}${}", B64.encode(hmac::sign(key, secret.as_bytes())))
    }

    /// Whether `secret` matches `stored`. A malformed hash, or one under a pepper that is
    /// no longer configured, never matches.
    pub fn verify(&self, secret: &str, stored: &str) -> Verified {
        let mut parts = stored.split('$');
        match parts.next() {
            Some(HMAC_SCHEME) => {
                let (Some(id), Some(mac), None) = (parts.next(), parts.next(), parts.next()) else {
                    return Verified::No;
                };
                let (Some((_, key)), Ok(mac)) = (self.keys.iter().find(|(k, _)| k == id), B64.decode(mac)) else {
                    return Verified::No;
                };
                // ring compares in constant time.
                match hmac::verify(key, secret.as_bytes(), &mac) {
                    Ok(()) if id == self.current().0 => Verified::Yes,
                    Ok(()) => Verified::YesRehash,
                    Err(_) => Verified::No,
                }
            }
            Some(PBKDF2_SCHEME) if verify_pbkdf2(secret, stored) => Verified::YesRehash,
            _ => Verified::No,
        }
    }

    /// Whether verifying `stored` is slow (the earlier PBKDF2 form): run it off the async
    /// workers.
    pub fn is_slow(stored: &str) -> bool {
        stored.starts_with(PBKDF2_SCHEME)
    }

    /// A hash that matches nothing, for spending the same time on an unknown client id
    /// as on a known one.
    pub fn decoy(&self) -> String {
        self.hash("\0decoy: no client secret is empty")
    }
}

/// The earlier form, `pbkdf2-sha256$<iterations>$<salt>$<hash>`: verified until the
/// client's next successful token request replaces it.
fn verify_pbkdf2(secret: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some(PBKDF2_SCHEME), Some(iterations), Some(salt), Some(hash), None) =
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
    pbkdf2::verify(pbkdf2::PBKDF2_HMAC_SHA256, iterations, &salt, secret.as_bytes(), &hash).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master(ids: &[(&str, u8)]) -> MasterKeys {
        MasterKeys::new(
            ids.iter()
                .map(|(id, b)| (id.to_string(), Secret::new(vec![*b; 32])))
                .collect(),
        )
        .unwrap()
    }

    fn pbkdf2_hash(secret: &str, iterations: u32) -> String {
        let salt = [7u8; 16];
        let mut out = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            NonZeroU32::new(iterations).unwrap(),
            &salt,
            secret.as_bytes(),
            &mut out,
        );
        format!("{PBKDF2_SCHEME}${iterations}${}${}", B64.encode(salt), B64.encode(out))
    }

    #[test]
    fn a_hash_verifies_its_secret_only() {
        let peppers = Peppers::new(None, &master(&[("k1", 1)]));
        let stored = peppers.hash("s3cret");
        assert!(stored.starts_with("hmac-sha256$mk-k1$"));
        assert_eq!(peppers.verify("s3cret", &stored), Verified::Yes);
        assert_eq!(peppers.verify("s3cret ", &stored), Verified::No);
        assert_eq!(peppers.verify("", &stored), Verified::No);
        assert_eq!(peppers.verify("", &peppers.decoy()), Verified::No);
    }

    #[test]
    fn a_hash_does_not_verify_without_its_pepper() {
        let stored = Peppers::new(None, &master(&[("k1", 1)])).hash("s3cret");
        let other = Peppers::new(None, &master(&[("k1", 2)]));
        assert_eq!(other.verify("s3cret", &stored), Verified::No);
    }

    #[test]
    fn hashes_under_an_older_pepper_verify_and_ask_to_be_replaced() {
        let before = Peppers::new(None, &master(&[("k1", 1)])).hash("s3cret");
        let rotated = Peppers::new(None, &master(&[("k2", 2), ("k1", 1)]));
        assert_eq!(rotated.verify("s3cret", &before), Verified::YesRehash);
        let configured = Peppers::new(Some(&Secret::new(vec![9; 32])), &master(&[("k1", 1)]));
        assert_eq!(configured.verify("s3cret", &before), Verified::YesRehash);
        assert!(configured.hash("s3cret").starts_with("hmac-sha256$pepper$"));
    }

    #[test]
    fn earlier_pbkdf2_hashes_verify_and_ask_to_be_replaced() {
        let peppers = Peppers::new(None, &master(&[("k1", 1)]));
        let stored = pbkdf2_hash("s3cret", 1000);
        assert!(Peppers::is_slow(&stored));
        assert_eq!(peppers.verify("s3cret", &stored), Verified::YesRehash);
        assert_eq!(peppers.verify("wrong", &stored), Verified::No);
    }

    #[test]
    fn malformed_hashes_never_match() {
        let peppers = Peppers::new(None, &master(&[("k1", 1)]));
        for stored in [
            "",
            "plain",
            "pbkdf2-sha256$0$AAAA$AAAA",
            "sha1$1000$AAAA$AAAA",
            "pbkdf2-sha256$10$!!$AAAA",
            "hmac-sha256$mk-k1",
            "hmac-sha256$unknown$AAAA",
            "hmac-sha256$mk-k1$!!",
        ] {
            assert_eq!(peppers.verify("x", stored), Verified::No, "{stored}");
        }
    }
}
