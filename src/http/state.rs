//! What every handler can reach: the database, token service, limits and metrics.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::{
    accounts::service::Accounts,
    auth::{rate_limit::FailureLimiter, tokens::TokenService},
    crypto::seal::MasterKeys,
    metrics::Metrics,
};

pub struct AppState {
    pub db: DatabaseConnection,
    pub tokens: TokenService,
    pub token_failures: FailureLimiter,
    pub metrics: Metrics,
    pub master_keys: Arc<MasterKeys>,
    /// Base of public links, without a trailing slash.
    pub public_url: String,
}

impl AppState {
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts {
            db: &self.db,
            keys: &self.master_keys,
        }
    }
}
