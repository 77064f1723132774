//! Certificates and private keys uploaded as PEM text: parsed on upload so that a bad
//! PEM, an expired certificate or a key that does not belong to its certificate is
//! refused at once rather than at the first payment.

use chrono::{DateTime, Utc};
use ring::{
    rand::SystemRandom,
    signature::{self, KeyPair},
};
use serde_json::{Value, json};
use x509_parser::pem::Pem;

use crate::crypto::random::hex;

/// What a response shows of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    pub not_after: DateTime<Utc>,
    pub fingerprint_sha256: String,
    /// The subject public key (the BIT STRING's bytes), to match a private key.
    public_key: Vec<u8>,
}

impl CertificateInfo {
    pub fn to_json(&self) -> Value {
        json!({
            "subject": self.subject,
            "issuer": self.issuer,
            "not_after": self.not_after,
            "fingerprint_sha256": self.fingerprint_sha256,
        })
    }
}

pub struct PrivateKeyInfo {
    rsa: bool,
    public_key: Vec<u8>,
}

impl PrivateKeyInfo {
    pub fn is_rsa(&self) -> bool {
        self.rsa
    }

    /// Whether this key is the one of `certificate`.
    pub fn matches(&self, certificate: &CertificateInfo) -> bool {
        self.public_key == certificate.public_key
    }
}

fn blocks(text: &str) -> Result<Vec<Pem>, String> {
    let blocks: Vec<Pem> = Pem::iter_from_buffer(text.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|_| "is not valid PEM (-----BEGIN …----- base64 -----END …-----)".to_string())?;
    if blocks.is_empty() {
        return Err("is not valid PEM (-----BEGIN …----- base64 -----END …-----)".into());
    }
    Ok(blocks)
}

/// Parses every certificate in `text` (a certificate or a chain); returns the first.
/// Refuses anything that is not a certificate, and any expired certificate.
pub fn certificate(text: &str) -> Result<CertificateInfo, String> {
    parse_certificates(text, Some(Utc::now()))
}

/// The first certificate of a stored value, expired or not (what a response shows and
/// what expiry warnings look at).
pub fn stored_certificate(text: &str) -> Result<CertificateInfo, String> {
    parse_certificates(text, None)
}

/// Parses every certificate in `text`; with `now`, refuses one that has expired by then.
fn parse_certificates(text: &str, now: Option<DateTime<Utc>>) -> Result<CertificateInfo, String> {
    let mut first = None;
    for block in blocks(text)? {
        if block.label != "CERTIFICATE" {
            return Err(format!("expected a CERTIFICATE, found a PEM '{}' block", block.label));
        }
        let certificate = block
            .parse_x509()
            .map_err(|_| "holds a CERTIFICATE block that is not a valid X.509 certificate".to_string())?;
        let not_after = DateTime::<Utc>::from_timestamp(certificate.validity().not_after.timestamp(), 0)
            .ok_or("has an unreadable expiry date")?;
        if let Some(now) = now
            && not_after <= now
        {
            return Err(format!(
                "the certificate '{}' expired on {}",
                certificate.subject(),
                not_after.to_rfc3339()
            ));
        }
        if first.is_none() {
            first = Some(CertificateInfo {
                subject: certificate.subject().to_string(),
                issuer: certificate.issuer().to_string(),
                not_after,
                fingerprint_sha256: hex(ring::digest::digest(&ring::digest::SHA256, &block.contents).as_ref()),
                public_key: certificate.public_key().subject_public_key.data.to_vec(),
            });
        }
    }
    first.ok_or_else(|| "holds no certificate".into())
}

/// Parses one unencrypted private key: PKCS#8 (RSA, ECDSA P-256/P-384, Ed25519) or
/// PKCS#1 RSA.
pub fn private_key(text: &str) -> Result<PrivateKeyInfo, String> {
    let blocks = blocks(text)?;
    let [block] = blocks.as_slice() else {
        return Err("must hold exactly one private key".into());
    };
    let der = block.contents.as_slice();
    match block.label.as_str() {
        "PRIVATE KEY" => {
            if let Ok(key) = signature::RsaKeyPair::from_pkcs8(der) {
                return Ok(PrivateKeyInfo {
                    rsa: true,
                    public_key: key.public().as_ref().to_vec(),
                });
            }
            let rng = SystemRandom::new();
            for algorithm in [
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            ] {
                if let Ok(key) = signature::EcdsaKeyPair::from_pkcs8(algorithm, der, &rng) {
                    return Ok(PrivateKeyInfo {
                        rsa: false,
                        public_key: key.public_key().as_ref().to_vec(),
                    });
                }
            }
            if let Ok(key) = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
                return Ok(PrivateKeyInfo {
                    rsa: false,
                    public_key: key.public_key().as_ref().to_vec(),
                });
            }
            Err("is not a supported private key (RSA, ECDSA P-256/P-384 or Ed25519)".into())
        }
        "RSA PRIVATE KEY" => signature::RsaKeyPair::from_der(der)
            .map(|key| PrivateKeyInfo {
                rsa: true,
                public_key: key.public().as_ref().to_vec(),
            })
            .map_err(|_| "is not a valid RSA private key".into()),
        "ENCRYPTED PRIVATE KEY" => Err("must not be encrypted; upload the key without a passphrase".into()),
        "EC PRIVATE KEY" => Err("must be PKCS#8; convert it with: openssl pkcs8 -topk8 -nocrypt".into()),
        other => Err(format!("expected a PRIVATE KEY, found a PEM '{other}' block")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_pem() {
        assert!(certificate("hello").is_err());
        assert!(private_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_err());
    }
}
