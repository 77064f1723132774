//! What every handler can reach: the database, token service, limits and metrics.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::{
    accounts::service::Accounts,
    auth::{rate_limit::FailureLimiter, tokens::TokenService},
    cache::{ClientCache, ShopVersions, Versioned},
    crypto::seal::MasterKeys,
    metrics::Metrics,
    payment_methods::{checkout::CheckoutCache, service::PaymentMethods},
    screening::{
        oplux::client::OpluxClient,
        service::{ScreeningContext, Screenings},
    },
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
}

impl AppState {
    pub fn screenings(&self) -> Screenings<'_> {
        Screenings {
            db: &self.db,
            keys: &self.master_keys,
            client: &self.oplux,
            metrics: &self.metrics,
            versions: &self.shop_versions,
            contexts: &self.screening_contexts,
        }
    }

    pub fn payment_methods(&self) -> PaymentMethods<'_> {
        PaymentMethods { db: &self.db }
    }

    pub fn accounts(&self) -> Accounts<'_> {
        Accounts {
            db: &self.db,
            keys: &self.master_keys,
        }
    }
}
