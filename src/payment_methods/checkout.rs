//! `GET /api/v1/checkout-config`: what a checkout page needs — the enabled methods of a
//! channel in order, with the public parameters of their providers. Only fields declared
//! `public` are ever read here, and a secret never is.

use std::collections::HashMap;

use bytes::Bytes;

use sea_orm::{DatabaseConnection, DbErr};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{Channel, Kind, PaymentMethod};
use crate::{
    accounts::{self, derived, spec::Access},
    cache::{ShopVersions, Versioned},
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
    ) -> Result<Bytes, DbErr> {
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
) -> Result<CheckoutConfig, DbErr> {
    let methods = payment_methods::list(db, shop_id, None, None).await?;
    let accounts: HashMap<String, provider_accounts::AccountRow> = provider_accounts::list(db, shop_id)
        .await?
        .into_iter()
        .filter(|a| a.enabled)
        .map(|a| (a.provider.clone(), a))
        .collect();
    let settings_of = |slug: &str| -> Option<Map<String, Value>> {
        accounts
            .get(slug)
            .map(|a| serde_json::from_str(&a.settings).unwrap_or_default())
    };
    let remise = settings_of("remise-tenkey").map(|settings| public_params("remise-tenkey", &settings, public_url));

    let mut out = Vec::new();
    for row in methods.iter().filter(|m| m.enabled) {
        let method = PaymentMethod::from_row(row);
        if !method.available_in.contains(&channel) {
            continue;
        }
        // Paidy's modal cannot open when the confirmation page is skipped.
        if confirm_skip && method.provider.as_deref() == Some("paidy") {
            continue;
        }
        let mut params = Map::new();
        if let Some(provider) = &method.provider {
            let Some(settings) = settings_of(provider) else {
                continue; // the provider account is missing or disabled: not offered
            };
            params = public_params(provider, &settings, public_url);
        }
        if method.kind == Kind::CreditCard
            && let Some(remise) = &remise
        {
            params.insert("remise_tenkey".into(), Value::Object(remise.clone()));
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

/// The provider's public fields with a value: stored settings and computed links.
fn public_params(slug: &str, settings: &Map<String, Value>, public_url: &str) -> Map<String, Value> {
    let Some(spec) = accounts::find(slug) else {
        return Map::new();
    };
    let computed = derived::computed(spec, settings, public_url);
    spec.fields
        .iter()
        .filter(|f| f.public && !f.secret)
        .filter_map(|f| {
            let value = match f.access {
                Access::Computed => computed.get(f.name),
                _ => settings.get(f.name),
            }?;
            (!value.is_null()).then(|| (f.name.to_string(), value.clone()))
        })
        .collect()
}
