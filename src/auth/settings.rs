//! How token issuing and checking is set up: the JWT signing keys and the limits of the
//! token endpoint (read from the environment by `config`).

use std::time::Duration;

use super::source::Cidr;
use crate::{
    core::Secret,
    crypto::keys::{NamedKey, parse_named_keys},
};

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `RENKEI_JWT_ISSUER`.
    pub issuer: String,
    /// `RENKEI_JWT_AUDIENCE`.
    pub audience: String,
    /// `RENKEI_TOKEN_TTL_SECS`.
    pub token_ttl: Duration,
    /// `RENKEI_JWT_KEYS`: `kid:base64key[,kid:base64key]`; the first signs, all verify.
    /// `None`: a development key is generated and kept beside the database.
    pub jwt_keys: Option<JwtKeys>,
    /// `RENKEI_TOKEN_FAILURE_LIMIT`: failed token requests allowed per window.
    pub failure_limit: u32,
    /// `RENKEI_TOKEN_FAILURE_WINDOW_SECS`.
    pub failure_window: Duration,
    /// `RENKEI_TOKEN_FAILURE_DELAY_MS`: how long a wrong secret from a source past its
    /// limit waits for its 429, so that one source cannot make renkei refuse at speed.
    pub failure_delay: Duration,
    /// `RENKEI_TRUSTED_PROXIES`: CIDRs of proxies whose `X-Forwarded-For` names the source
    /// address of a token request.
    pub trusted_proxies: Vec<Cidr>,
    /// `RENKEI_CLIENT_SECRET_PEPPER`: base64 (≥ 32 bytes), the key client secrets are
    /// hashed with. `None`: one derived from the master key (see `crypto::password`).
    pub client_secret_pepper: Option<Secret<Vec<u8>>>,
}

/// HMAC-SHA256 signing keys for access tokens: the first signs, all verify.
#[derive(Debug, Clone)]
pub struct JwtKeys(Vec<NamedKey>);

pub const MIN_JWT_KEY_BYTES: usize = 32;

impl JwtKeys {
    pub fn new(keys: Vec<NamedKey>) -> Result<Self, String> {
        if keys.is_empty() {
            return Err("expected at least one key".into());
        }
        if let Some(short) = keys.iter().find(|k| k.secret.expose().len() < MIN_JWT_KEY_BYTES) {
            return Err(format!(
                "key '{}' must be at least {MIN_JWT_KEY_BYTES} bytes (base64-encoded)",
                short.id
            ));
        }
        Ok(Self(keys))
    }

    pub fn parse(value: &str) -> Result<Self, String> {
        Self::new(parse_named_keys(value)?)
    }

    /// The key that signs new tokens.
    pub fn signing(&self) -> &NamedKey {
        &self.0[0]
    }

    pub fn find(&self, kid: &str) -> Option<&NamedKey> {
        self.0.iter().find(|k| k.id == kid)
    }
}
