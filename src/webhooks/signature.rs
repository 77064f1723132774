//! The two signatures of a delivery, each with every secret that signs (the current one
//! and those rotated out in the last 24 hours):
//! - `Renkei-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`,
//!   keyed with the secret's UTF-8 bytes;
//! - Standard Webhooks (standardwebhooks.com): `webhook-id`, `webhook-timestamp` and
//!   `webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<t>.<raw body>")> …`, keyed
//!   with the base64-decoded part after `whsec_`, so that the official libraries verify it.

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD},
};
use ring::hmac;

use crate::{core::Secret, crypto::random::hex};

pub const HEADER: &str = "Renkei-Signature";
pub const EVENT_ID_HEADER: &str = "Renkei-Event-Id";
pub const STANDARD_ID_HEADER: &str = "webhook-id";
pub const STANDARD_TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const STANDARD_SIGNATURE_HEADER: &str = "webhook-signature";

/// The `Renkei-Signature` value for `body` sent at `timestamp`, signed with each of `secrets`.
pub fn header(secrets: &[Secret<String>], timestamp: i64, body: &[u8]) -> String {
    let mut value = format!("t={timestamp}");
    for secret in secrets {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
        let mut context = hmac::Context::with_key(&key);
        context.update(timestamp.to_string().as_bytes());
        context.update(b".");
        context.update(body);
        value.push_str(",v1=");
        value.push_str(&hex(context.sign().as_ref()));
    }
    value
}

/// The `webhook-signature` value: one `v1,<base64>` per secret, separated by spaces.
pub fn standard_header(secrets: &[Secret<String>], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| standard_signature(secret.expose(), id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `v1,<base64 HMAC-SHA256>` over `"<id>.<timestamp>.<body>"`.
fn standard_signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &standard_key(secret));
    let mut context = hmac::Context::with_key(&key);
    context.update(id.as_bytes());
    context.update(b".");
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    format!("v1,{}", STANDARD.encode(context.sign().as_ref()))
}

/// The HMAC key of a `whsec_` secret: the base64 after the prefix, decoded. Secrets
/// issued before Standard Webhooks hold URL-safe base64 without padding; they decode
/// too (the libraries need a rotation to a new secret for those).
fn standard_key(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(encoded).ok())
        .unwrap_or_else(|| encoded.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_timestamp_dot_body_with_each_secret() {
        let one = Secret::new("whsec_a".to_string());
        let two = Secret::new("whsec_b".to_string());
        let value = header(&[one, two], 1_700_000_000, b"{}");
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"whsec_a");
        let expected = hex(hmac::sign(&key, b"1700000000.{}").as_ref());
        assert!(value.starts_with(&format!("t=1700000000,v1={expected},v1=")), "{value}");
        assert_eq!(value.matches("v1=").count(), 2);
    }

    /// The test vector the Standard Webhooks specification publishes.
    #[test]
    fn standard_signature_matches_the_published_test_vector() {
        let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string());
        let value = standard_header(
            &[secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(value, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn standard_signature_has_one_v1_per_secret_separated_by_spaces() {
        let secrets = [
            Secret::new(format!("whsec_{}", STANDARD.encode([1u8; 32]))),
            Secret::new(format!("whsec_{}", URL_SAFE_NO_PAD.encode([2u8; 32]))),
        ];
        let value = standard_header(&secrets, "evt_1", 1, b"{}");
        let parts: Vec<&str> = value.split(' ').collect();
        assert_eq!(parts.len(), 2);
        let key = hmac::Key::new(hmac::HMAC_SHA256, &[2u8; 32]);
        let expected = STANDARD.encode(hmac::sign(&key, b"evt_1.1.{}").as_ref());
        assert_eq!(parts[1], format!("v1,{expected}"));
    }
}
