//! `Renkei-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`,
//! one `v1` per secret that signs (two while a rotated secret is still honoured).

use ring::hmac;

use crate::{core::Secret, crypto::random::hex};

pub const HEADER: &str = "Renkei-Signature";
pub const EVENT_ID_HEADER: &str = "Renkei-Event-Id";

/// The header value for `body` sent at `timestamp`, signed with each of `secrets`.
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
}
