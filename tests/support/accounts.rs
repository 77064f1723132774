//! Provider-account helpers: valid and invalid values for every declared field, and
//! certificates made on the spot.

use renkei::accounts::{
    ProviderSpec,
    spec::{Access, Field, Kind},
};
use serde_json::{Map, Value, json};

pub const RSA_KEY: &str = include_str!("../fixtures/rsa-test-key.pem");

/// A private key and a certificate for it, valid for a year.
pub struct Pki {
    pub key_pem: String,
    pub cert_pem: String,
}

pub fn certificate(key: &rcgen::KeyPair, common_name: &str, not_after: (i32, u8, u8)) -> String {
    let mut params = rcgen::CertificateParams::new(vec!["renkei.test".to_string()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
    params.self_signed(key).unwrap().pem()
}

impl Pki {
    pub fn new(common_name: &str) -> Self {
        let key = rcgen::KeyPair::generate().unwrap();
        Self {
            cert_pem: certificate(&key, common_name, (2099, 12, 31)),
            key_pem: key.serialize_pem(),
        }
    }

    pub fn rsa(common_name: &str) -> Self {
        let key = rcgen::KeyPair::from_pem(RSA_KEY).unwrap();
        Self {
            cert_pem: certificate(&key, common_name, (2099, 12, 31)),
            key_pem: RSA_KEY.to_string(),
        }
    }
}

/// A valid value for a field: its declared example, or a PEM from `pki`.
pub fn valid_value(field: &Field, pki: &Pki) -> Value {
    match field.kind {
        Kind::Certificate => Value::from(pki.cert_pem.clone()),
        Kind::PrivateKey { .. } => Value::from(pki.key_pem.clone()),
        _ => serde_json::from_str(
            field
                .example
                .unwrap_or_else(|| panic!("{} declares no example", field.name)),
        )
        .unwrap(),
    }
}

pub fn writable(spec: &ProviderSpec) -> impl Iterator<Item = &'static Field> {
    spec.fields.iter().filter(|f| f.access == Access::Writable)
}

/// Every writable field with a valid value: a complete, enabled account (a draft when
/// the provider has fields only its link action writes).
pub fn valid_body(spec: &ProviderSpec, pki: &Pki) -> Map<String, Value> {
    let mut body: Map<String, Value> = writable(spec)
        .map(|f| (f.name.to_string(), valid_value(f, pki)))
        .collect();
    let needs_link = spec.fields.iter().any(|f| f.access == Access::Linked && !f.optional);
    body.insert("enabled".into(), Value::Bool(!needs_link));
    body
}

/// A value of the right JSON type that breaks the field's format, when it has one.
pub fn invalid_value(field: &Field) -> Option<Value> {
    Some(match field.kind {
        Kind::Text { max } => Value::from("x".repeat(max + 1)),
        Kind::Pattern { .. } => Value::from("!! not this format !!"),
        Kind::Bool => Value::from("yes"),
        Kind::Integer { min, .. } => Value::from(min - 1),
        Kind::IpAddress => Value::from("999.10.10.10"),
        Kind::Hostname => Value::from("https://not a host/"),
        Kind::Url { .. } => Value::from("ftp://example.jp/x"),
        Kind::Uuid => Value::from("not-a-uuid"),
        Kind::DnsLabel => Value::from("-bad-label-"),
        Kind::OneOf(_) => Value::from("none-of-these"),
        Kind::Certificate | Kind::PrivateKey { .. } => Value::from("-----BEGIN CERTIFICATE-----\nnot base64\n"),
        Kind::ResultAction => json!({"action": "redirect"}),
        Kind::OpluxEndpoint => Value::from("staging"),
    })
}

/// The plain-text values of every secret in `body`.
pub fn secret_values(spec: &ProviderSpec, body: &Map<String, Value>) -> Vec<String> {
    spec.fields
        .iter()
        .filter(|f| f.secret)
        .filter_map(|f| body.get(f.name).and_then(Value::as_str).map(str::to_string))
        .collect()
}
