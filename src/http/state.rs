//! What every handler can reach: the database, token service, limits and metrics.

use sea_orm::DatabaseConnection;

use crate::{
    auth::{rate_limit::FailureLimiter, tokens::TokenService},
    metrics::Metrics,
};

pub struct AppState {
    pub db: DatabaseConnection,
    pub tokens: TokenService,
    pub token_failures: FailureLimiter,
    pub metrics: Metrics,
}
