//! Keys as an operator configures them: `id:base64[,id:base64]`, each key with its id.

use base64::Engine;

use crate::core::Secret;

/// A key with its id (`kid`), as configured: `id:base64`.
#[derive(Debug, Clone)]
pub struct NamedKey {
    pub id: String,
    pub secret: Secret<Vec<u8>>,
}

/// Parses `id:base64[,id:base64]` (standard or URL-safe base64, padding optional). A
/// single entry without an id gets the id `default`.
pub fn parse_named_keys(value: &str) -> Result<Vec<NamedKey>, String> {
    let mut keys = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, encoded) = part.split_once(':').unwrap_or(("default", part));
        let id = id.trim();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(format!("key id '{id}' must be letters, digits, '-' or '_'"));
        }
        let secret = decode_base64(encoded.trim()).ok_or_else(|| format!("key '{id}' is not valid base64"))?;
        keys.push(NamedKey {
            id: id.to_string(),
            secret: Secret::new(secret),
        });
    }
    if keys.is_empty() {
        return Err("expected at least one id:base64key entry".into());
    }
    Ok(keys)
}

pub fn decode_base64(value: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(value).ok())
}
