//! What every handler can reach: the database, token service, limits and metrics.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::{
    accounts::service::Accounts,
    auth::{rate_limit::FailureLimiter, source::Cidr, tokens::TokenService},
    cache::{ClientCache, ShopVersions, Versioned},
    crypto::{password::Peppers, seal::MasterKeys},
    metrics::Metrics,
    outbound::OutboundPolicy,
    payment_methods::{checkout::CheckoutCache, service::PaymentMethods},
    screening::{
        oplux::client::OpluxClient,
        review::Reviews,
        service::{ScreeningContext, Screenings},
    },
    webhooks::Webhooks,
};

pub struct AppState {
    pub db: DatabaseConnection,
    pub tokens: TokenService,
    pub token_failures: FailureLimiter,
    pub metrics: Metrics,
    pub master_keys: Arc<MasterKeys>,
    /// Base of public links, without a trailing slash.
    pub public_url: String,
    pub oplux: OpluxClient,
    pub checkout_cache: CheckoutCache,
    /// Per-shop config versions (see `cache`).
    pub shop_versions: ShopVersions,
    pub clients: ClientCache,
    pub screening_contexts: Versioned<String, std::sync::Arc<ScreeningContext>>,
    /// The screening hot path's writes, grouped (see `screening::writes`).
    pub screening_writes: crate::screening::writes::ScreeningWrites,
    /// Client secrets are hashed with these (see `crypto::password`).
    pub peppers: Arc<Peppers>,
    /// Clients as the token endpoint last read them.
    pub credentials: crate::auth::clients::CredentialCache,
    /// How long a refusal past the failure limit waits before it is sent.
    pub token_failure_delay: std::time::Duration,
    /// Proxies whose `X-Forwarded-For` names a token request's source.
    pub trusted_proxies: Vec<Cidr>,
    /// Where tenant-configured URLs may point.
    pub outbound: OutboundPolicy,
    /// Required as a bearer token on `/metrics` when set.
    pub metrics_token: Option<crate::core::Secret<String>>,
    /// Whether `/metrics` is served at all: in production only with a token.
    pub metrics_served: bool,
    /// How long a request's body may take to arrive.
    pub body_read_timeout: std::time::Duration,
    /// Accounts warn of certificates expiring within this many days.
    pub cert_warning_days: i64,
    /// Redeliver and recover calls per shop.
    pub webhook_requests: crate::webhooks::limit::ShopLimiter,
}

impl AppState {
    /// Counts one redeliver or recover call of the shop: a 429 with `Retry-After` beyond
    /// its limit.
    pub fn take_webhook_request(&self, shop_id: &str) -> Result<(), crate::http::problem::ApiError> {
        self.webhook_requests
            .take(shop_id)
            .map_err(|retry_after| crate::http::problem::ApiError::Limited {
                message: "too many redeliveries and recoveries for this shop".into(),
                retry_after,
            })
    }

    pub fn screenings(&self) -> Screenings<'_> {
        Screenings {
            db: &self.db,
            keys: &self.master_keys,
            client: &self.oplux,
            metrics: &self.metrics,
            versions: &self.shop_versions,
            contexts: &self.screening_contexts,
            writes: &self.screening_writes,
        }
    }

    pub fn reviews(&self) -> Reviews<'_> {
        Reviews {
            db: &self.db,
            keys: &self.master_keys,
            client: &self.oplux,
        }
    }

    pub fn payment_methods(&self) -> PaymentMethods<'_> {
        PaymentMethods { db: &self.db }
    }

    pub fn webhooks(&self) -> Webhooks<'_> {
        Webhooks {
            db: &self.db,
            keys: &self.master_keys,
            outbound: &self.outbound,
        }
    }

    pub fn accounts(&self) -> Accounts<'_> {
        Accounts {
            db: &self.db,
            keys: &self.master_keys,
            outbound: &self.outbound,
        }
    }
}
