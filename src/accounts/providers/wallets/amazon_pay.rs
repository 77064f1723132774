//! Amazon Pay v2: its credentials come from the Amazon account registration ("link"),
//! never from PUT or PATCH.

use serde::Deserialize;
use serde_json::Value;

use super::AMAZON_PAY_V2;
use crate::{
    accounts::{
        engine::SecretChange,
        formats,
        service::{Account, Accounts, Missing},
    },
    core::{Actor, DomainError, Secret},
};

const SETTINGS: [&str; 3] = ["merchant_id", "store_id", "public_key_id"];

/// The credentials Amazon hands over when the shop registers or links its account.
/// (Documented as `AmazonPayLink` in `accounts::schema`.)
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmazonPayLink {
    pub merchant_id: String,
    pub store_id: String,
    /// `SANDBOX-…` or `LIVE-…`.
    pub public_key_id: String,
    /// The RSA private key (PEM) of the public key id; write-only.
    pub private_key: Secret<String>,
}

/// Stores the linked credentials (creating the account when new, enabled).
pub async fn link(accounts: &Accounts<'_>, actor: &Actor<'_>, input: AmazonPayLink) -> Result<Account, DomainError> {
    let spec = &AMAZON_PAY_V2;
    let mut errors = Vec::new();
    let mut values = Vec::new();
    for (name, raw) in [
        ("merchant_id", &input.merchant_id),
        ("store_id", &input.store_id),
        ("public_key_id", &input.public_key_id),
        ("private_key", input.private_key.expose()),
    ] {
        let field = spec.field(name).expect("declared field");
        match formats::parse(field, name, &Value::from(raw.as_str())) {
            Ok(Value::String(value)) => values.push((field.name, value)),
            Ok(_) => {}
            Err(error) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        return Err(DomainError::Invalid(errors));
    }
    accounts
        .act(actor, spec, "link", Missing::Create, async move |_, state| {
            for (name, value) in values {
                if name == "private_key" {
                    state.secret_changes.insert(name, SecretChange::Set(Secret::new(value)));
                } else {
                    state.settings.insert(name.into(), value.into());
                }
                state.changed.push(name);
            }
            Ok(())
        })
        .await
}

/// Removes the linked credentials; the account stays, disabled.
pub async fn unlink(accounts: &Accounts<'_>, actor: &Actor<'_>) -> Result<Account, DomainError> {
    accounts
        .act(actor, &AMAZON_PAY_V2, "unlink", Missing::Refuse, async |_, state| {
            for name in SETTINGS {
                if state.settings.remove(name).is_some() {
                    state.changed.push(name);
                }
            }
            state.secret_changes.insert("private_key", SecretChange::Clear);
            state.changed.push("private_key");
            if state.enabled {
                state.enabled = false;
                state.changed.push("enabled");
            }
            Ok(())
        })
        .await
}
