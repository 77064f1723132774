//! Sealing of stored secrets with AES-256-GCM: a random nonce per value, the value's
//! owner (shop, provider, field) bound as associated data — a sealed value copied to
//! another row does not open — and the id of the master key that sealed it, so keys
//! can be rotated: the first configured key seals, every configured key opens.
//!
//! Sealed form: `v1.<key id>.<base64url nonce>.<base64url ciphertext+tag>`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use super::random_bytes;
use crate::core::Secret;

pub const KEY_LEN: usize = 32;
const VERSION: &str = "v1";

/// The master keys: the first seals, all open.
pub struct MasterKeys {
    keys: Vec<(String, LessSafeKey)>,
    /// The same keys for deriving other keys from (see `derive`), in the same order.
    derivers: Vec<ring::hmac::Key>,
}

/// Who a sealed value belongs to; bound into the ciphertext.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    pub shop: &'a str,
    pub provider: &'a str,
    pub field: &'a str,
}

impl Owner<'_> {
    fn aad(&self) -> String {
        format!("renkei/{}/{}/{}", self.shop, self.provider, self.field)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value needs master key '{0}', which is not configured")]
    UnknownKey(String),
    #[error("the sealed value does not open: wrong key, wrong owner or tampered")]
    Unopenable,
}

impl From<SealError> for crate::core::DomainError {
    fn from(err: SealError) -> Self {
        crate::core::DomainError::Sealed(err.to_string())
    }
}

impl std::fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("MasterKeys").field("ids", &ids).finish()
    }
}

impl MasterKeys {
    /// Keys as `(id, 32 bytes)`, the sealing key first.
    pub fn new(keys: Vec<(String, Secret<Vec<u8>>)>) -> Result<Self, String> {
        if keys.is_empty() {
            return Err("expected at least one key".into());
        }
        let derivers = keys
            .iter()
            .map(|(_, bytes)| ring::hmac::Key::new(ring::hmac::HMAC_SHA256, bytes.expose()))
            .collect();
        let keys = keys
            .into_iter()
            .map(|(id, bytes)| {
                if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                    return Err(format!("key id '{id}' must be letters, digits, '-' or '_'"));
                }
                let key = UnboundKey::new(&AES_256_GCM, bytes.expose())
                    .map_err(|_| format!("key '{id}' must be exactly {KEY_LEN} bytes (base64-encoded)"))?;
                Ok((id, LessSafeKey::new(key)))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self { keys, derivers })
    }

    /// A 32-byte key for `purpose` derived from each master key (HMAC-SHA256 of the
    /// purpose), with the master key's id; the current key's first.
    pub fn derive(&self, purpose: &str) -> Vec<(String, Secret<Vec<u8>>)> {
        self.keys
            .iter()
            .zip(&self.derivers)
            .map(|((id, _), key)| {
                let tag = ring::hmac::sign(key, purpose.as_bytes());
                (id.clone(), Secret::new(tag.as_ref().to_vec()))
            })
            .collect()
    }

    /// The id of the key that seals new values.
    pub fn current_id(&self) -> &str {
        &self.keys[0].0
    }

    pub fn seal(&self, owner: Owner<'_>, plaintext: &str) -> String {
        let (id, key) = &self.keys[0];
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut buffer = plaintext.as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(owner.aad().as_bytes()),
            &mut buffer,
        )
        .expect("AES-GCM sealing of an in-memory buffer does not fail");
        format!("{VERSION}.{id}.{}.{}", B64.encode(nonce_bytes), B64.encode(buffer))
    }

    pub fn open(&self, owner: Owner<'_>, sealed: &str) -> Result<Secret<String>, SealError> {
        let parts: Vec<&str> = sealed.split('.').collect();
        let [VERSION, id, nonce, ciphertext] = parts.as_slice() else {
            return Err(SealError::Malformed);
        };
        let (_, key) = self
            .keys
            .iter()
            .find(|(key_id, _)| key_id == id)
            .ok_or_else(|| SealError::UnknownKey(id.to_string()))?;
        let nonce: [u8; NONCE_LEN] = B64
            .decode(nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or(SealError::Malformed)?;
        let mut buffer = B64.decode(ciphertext).map_err(|_| SealError::Malformed)?;
        let plaintext = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(owner.aad().as_bytes()),
                &mut buffer,
            )
            .map_err(|_| SealError::Unopenable)?;
        String::from_utf8(plaintext.to_vec())
            .map(Secret::new)
            .map_err(|_| SealError::Unopenable)
    }

    /// The id of the key a sealed value was sealed with.
    pub fn key_id_of(sealed: &str) -> Option<&str> {
        let mut parts = sealed.split('.');
        (parts.next() == Some(VERSION)).then(|| parts.next()).flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[(&str, u8)]) -> MasterKeys {
        MasterKeys::new(
            list.iter()
                .map(|(id, byte)| (id.to_string(), Secret::new(vec![*byte; KEY_LEN])))
                .collect(),
        )
        .unwrap()
    }

    const OWNER: Owner<'static> = Owner {
        shop: "demo",
        provider: "a-provider",
        field: "shop_password",
    };

    #[test]
    fn a_sealed_value_opens_for_its_owner_only() {
        let keys = keys(&[("k1", 1)]);
        let sealed = keys.seal(OWNER, "p@ss");
        assert!(!sealed.contains("p@ss"));
        assert_eq!(keys.open(OWNER, &sealed).unwrap().expose(), "p@ss");
        let elsewhere = Owner { shop: "other", ..OWNER };
        assert_eq!(keys.open(elsewhere, &sealed).unwrap_err(), SealError::Unopenable);
        let other_field = Owner {
            field: "site_password",
            ..OWNER
        };
        assert_eq!(keys.open(other_field, &sealed).unwrap_err(), SealError::Unopenable);
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let keys = keys(&[("k1", 1)]);
        assert_ne!(keys.seal(OWNER, "same"), keys.seal(OWNER, "same"));
    }

    #[test]
    fn older_keys_still_open_after_rotation() {
        let old = keys(&[("k1", 1)]);
        let sealed = old.seal(OWNER, "v");
        let rotated = keys(&[("k2", 2), ("k1", 1)]);
        assert_eq!(rotated.open(OWNER, &sealed).unwrap().expose(), "v");
        assert_eq!(MasterKeys::key_id_of(&rotated.seal(OWNER, "v")), Some("k2"));
        let without_old = keys(&[("k2", 2)]);
        assert_eq!(
            without_old.open(OWNER, &sealed).unwrap_err(),
            SealError::UnknownKey("k1".into())
        );
    }

    #[test]
    fn tampering_is_detected() {
        let keys = keys(&[("k1", 1)]);
        let sealed = keys.seal(OWNER, "value");
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(keys.open(OWNER, &String::from_utf8(tampered).unwrap()).is_err());
        assert_eq!(keys.open(OWNER, "plain").unwrap_err(), SealError::Malformed);
    }

    #[test]
    fn keys_of_the_wrong_length_are_refused() {
        assert!(MasterKeys::new(vec![("k".into(), Secret::new(vec![0; 16]))]).is_err());
    }
}
