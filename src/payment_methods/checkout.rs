//! `GET /api/v1/checkout-config`: what a checkout page needs — the enabled methods of a
//! channel in order, with the public parameters of their providers. Only fields declared
//! `public` are ever read here, and a secret never is.

use std::collections::BTreeMap;

use bytes::Bytes;

use sea_orm::DatabaseConnection;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{Channel, Kind, PaymentMethod};
use crate::{
    accounts::{self, ProviderSpec, service::computed, spec::Access, stored::stored_settings},
    cache::{ShopVersions, Versioned},
    core::DomainError,
    store::{payment_methods, provider_accounts},
};

/// Serialized checkout configurations, each valid for the shop's config version it was
/// built at. Every change to payment methods or provider accounts bumps the version in
/// the database, so a cache on any replica sees the change at its next request.
#[derive(Default)]
pub struct CheckoutCache {
    entries: Versioned<(String, Channel, bool), Bytes>,
}

impl CheckoutCache {
    /// The configuration as JSON, from the cache when the shop has not changed.
    pub async fn get(
        &self,
        versions: &ShopVersions,
        db: &DatabaseConnection,
        shop_id: &str,
        channel: Channel,
        confirm_skip: bool,
        public_url: &str,
    ) -> Result<Bytes, DomainError> {
        let version = versions.current(db, shop_id).await?;
        let key = (shop_id.to_string(), channel, confirm_skip);
        if let Some(body) = self.entries.get(&key, version) {
            return Ok(body);
        }
        let config = build(db, shop_id, channel, confirm_skip, public_url).await?;
        let body = Bytes::from(serde_json::to_vec(&config).unwrap_or_default());
        self.entries.put(key, version, body.clone());
        Ok(body)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutConfig {
    pub channel: Channel,
    /// The enabled methods of the channel, in `position` order.
    pub payment_methods: Vec<CheckoutPaymentMethod>,
}

/// A method as a checkout page sees it. Besides these fields it carries its provider's
/// public parameters (see the schema).
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutPaymentMethod {
    pub code: String,
    pub kind: Kind,
    pub provider: Option<String>,
    pub display_name: String,
    #[serde(flatten)]
    #[schema(ignore)]
    pub params: Map<String, Value>,
}

pub async fn build(
    db: &DatabaseConnection,
    shop_id: &str,
    channel: Channel,
    confirm_skip: bool,
    public_url: &str,
) -> Result<CheckoutConfig, DomainError> {
    let methods = payment_methods::list(db, shop_id, None, None).await?;
    let accounts = enabled_accounts(db, shop_id).await?;
    let mut out = Vec::new();
    for row in methods.iter().filter(|m| m.enabled) {
        let method = PaymentMethod::from_row(row)?;
        if !method.available_in.contains(&channel) {
            continue;
        }
        let mut params = Map::new();
        if let Some(provider) = &method.provider {
            let Some((spec, settings)) = accounts.get(provider.as_str()) else {
                continue; // the provider account is missing or disabled: not offered
            };
            if confirm_skip && spec.checkout.needs_confirmation_page {
                continue;
            }
            params = public_params(spec, settings, method.kind, public_url);
        }
        // Accounts that join the methods of a kind (the ten-key pad joins the card method).
        for (spec, settings) in accounts.values() {
            if let Some((kind, name)) = spec.checkout.joins
                && kind == method.kind
            {
                params.insert(
                    name.into(),
                    Value::Object(public_params(spec, settings, kind, public_url)),
                );
            }
        }
        if let Some(carriers) = method.carriers {
            params.insert("carriers".into(), serde_json::to_value(carriers).unwrap_or_default());
        }
        out.push(CheckoutPaymentMethod {
            code: method.code,
            kind: method.kind,
            provider: method.provider,
            display_name: method.display_name,
            params,
        });
    }
    Ok(CheckoutConfig {
        channel,
        payment_methods: out,
    })
}

/// The shop's enabled provider accounts, by slug, with their stored settings.
async fn enabled_accounts(
    db: &DatabaseConnection,
    shop_id: &str,
) -> Result<BTreeMap<String, (&'static ProviderSpec, Map<String, Value>)>, DomainError> {
    let mut accounts = BTreeMap::new();
    for row in provider_accounts::list(db, shop_id).await?.iter().filter(|a| a.enabled) {
        if let Some(spec) = accounts::find(&row.provider) {
            accounts.insert(row.provider.clone(), (spec, stored_settings(row)?));
        }
    }
    Ok(accounts)
}

/// The provider's public fields for a method of `kind` that have a value: stored
/// settings and derived links.
fn public_params(
    spec: &ProviderSpec,
    settings: &Map<String, Value>,
    kind: Kind,
    public_url: &str,
) -> Map<String, Value> {
    let derived = computed(spec, settings, true, public_url);
    spec.fields
        .iter()
        .filter(|f| f.is_public_for(kind))
        .filter_map(|f| {
            let value = match f.access {
                Access::Computed => derived.get(f.name),
                _ => settings.get(f.name),
            }?;
            (!value.is_null()).then(|| (f.name.to_string(), value.clone()))
        })
        .collect()
}
