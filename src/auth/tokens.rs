//! Access tokens: HS256 JWTs with a key id, so that keys can be rotated with two active.

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode};
use serde::{Deserialize, Serialize};

use super::ScopeSet;
use crate::{
    auth::settings::{AuthConfig, JwtKeys},
    crypto::random_token,
};

/// Seconds of clock skew tolerated on `exp` (and `iat`).
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The client id.
    pub sub: String,
    pub shop: String,
    /// Space-separated scopes.
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: u64,
}

/// Why a token was refused. The detail goes to the caller; it never holds the token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token must be signed with HS256 and name its key (kid)")]
    Algorithm,
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid for this service")]
    Invalid,
}

pub struct TokenService {
    keys: JwtKeys,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl TokenService {
    pub fn new(config: &AuthConfig, keys: JwtKeys) -> Self {
        Self {
            keys,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            ttl: config.token_ttl,
        }
    }

    pub fn issue(
        &self,
        client_id: &str,
        shop_id: &str,
        scopes: ScopeSet,
    ) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        let now = Utc::now().timestamp();
        let key = self.keys.signing();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: client_id.to_string(),
            shop: shop_id.to_string(),
            scope: scopes.to_string(),
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
            jti: random_token::<16>(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.id.clone());
        let access_token = encode(&header, &claims, &EncodingKey::from_secret(key.secret.expose()))?;
        Ok(IssuedToken {
            access_token,
            expires_in: self.ttl.as_secs(),
        })
    }

    /// Checks signature, algorithm, key id, `exp`, `aud` and `iss`. Revocation is checked
    /// by the caller against the database.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Algorithm);
        }
        let kid = header.kid.ok_or(TokenError::Algorithm)?;
        let key = self.keys.find(&kid).ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        decode::<Claims>(token, &DecodingKey::from_secret(key.secret.expose()), &validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}
