//! Payment methods: what a shop offers at checkout, on which provider, in which channels.

pub mod checkout;
pub mod rules;
pub mod service;
pub mod transaction_ids;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{core::DomainError, store::payment_methods::PaymentMethodRow};

pub use crate::core::PaymentKind as Kind;

/// The slugs of the providers a method of `kind` may use (none: it takes no provider).
pub fn providers_of(kind: Kind) -> Vec<&'static str> {
    crate::accounts::serving(kind).map(|p| p.slug).collect()
}

/// Where a method is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Landing pages.
    Lp,
    /// The shop front.
    Shop,
    /// Orders created in the admin.
    AdminOrder,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Lp, Channel::Shop, Channel::AdminOrder];
}

/// Carrier billing per carrier (sbps-carrier).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Carriers {
    pub docomo: bool,
    pub au: bool,
    pub softbank: bool,
}

impl Carriers {
    pub const ALL_ON: Carriers = Carriers {
        docomo: true,
        au: true,
        softbank: true,
    };
}

/// A payment method as written by POST, PUT and (merged) PATCH.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "code": "card", "kind": "credit_card", "provider": "gmo-pg", "display_name": "クレジットカード",
    "enabled": true, "available_in": ["lp", "shop", "admin_order"], "oplux_screening": true,
    "thanks_offer_immediate_settlement": false, "position": 1
}))]
pub struct PaymentMethodInput {
    /// Slug, unique in the shop: lower-case letters, digits, '-' and '_' (1–64). Required
    /// by POST; PUT takes it from the path.
    #[serde(default)]
    pub code: Option<String>,
    pub kind: Kind,
    /// The provider slug; must fit the kind; null for cash_on_delivery and bank_transfer.
    #[serde(default)]
    pub provider: Option<String>,
    /// 1–100 characters.
    pub display_name: String,
    /// Default true; enabling needs the provider's account configured and enabled.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Default: every channel.
    #[serde(default)]
    pub available_in: Option<Vec<Channel>>,
    /// O-PLUX の利用: screen orders paid with this method (default false).
    #[serde(default)]
    pub oplux_screening: Option<bool>,
    /// サンクスオファー即時決済 (default false).
    #[serde(default)]
    pub thanks_offer_immediate_settlement: Option<bool>,
    /// Order at checkout, 0–100000 (default: after the last).
    #[serde(default)]
    pub position: Option<i32>,
    /// Only for kind carrier (sbps-carrier); default all on.
    #[serde(default)]
    pub carriers: Option<Carriers>,
}

/// A payment method.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentMethod {
    pub code: String,
    pub kind: Kind,
    pub provider: Option<String>,
    pub display_name: String,
    pub enabled: bool,
    pub available_in: Vec<Channel>,
    pub oplux_screening: bool,
    pub thanks_offer_immediate_settlement: bool,
    pub position: i32,
    pub carriers: Option<Carriers>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PaymentMethod {
    pub fn from_row(row: &PaymentMethodRow) -> Result<Self, DomainError> {
        let unreadable = |what: &str| {
            DomainError::Conflict(format!(
                "the stored {what} of payment method '{}' cannot be read; PUT the method again",
                row.code
            ))
        };
        Ok(Self {
            code: row.code.clone(),
            kind: Kind::parse(&row.kind).ok_or_else(|| unreadable("kind"))?,
            provider: row.provider.clone(),
            display_name: row.display_name.clone(),
            enabled: row.enabled,
            available_in: serde_json::from_str(&row.available_in).map_err(|_| unreadable("available_in"))?,
            oplux_screening: row.oplux_screening,
            thanks_offer_immediate_settlement: row.thanks_offer_immediate_settlement,
            position: row.position,
            carriers: row
                .carriers
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|_| unreadable("carriers"))?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    /// The method as an input (for merging a PATCH into it).
    pub fn to_input(&self) -> PaymentMethodInput {
        PaymentMethodInput {
            code: Some(self.code.clone()),
            kind: self.kind,
            provider: self.provider.clone(),
            display_name: self.display_name.clone(),
            enabled: Some(self.enabled),
            available_in: Some(self.available_in.clone()),
            oplux_screening: Some(self.oplux_screening),
            thanks_offer_immediate_settlement: Some(self.thanks_offer_immediate_settlement),
            position: Some(self.position),
            carriers: self.carriers,
        }
    }
}

/// A strong entity tag of a stored method.
pub fn etag(row: &PaymentMethodRow) -> String {
    format!("\"{}-{}\"", row.id, row.version)
}
