//! Database migrations of renkei. Every table is created here, never from entities,
//! so SQLite and PostgreSQL get the same schema from the same code.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_foundation;
mod m20261123_000002_provider_accounts;
mod m20261123_000003_feeds_and_assets;
mod m20261123_000004_payment_methods;
mod m20261123_000005_screenings;
mod m20261123_000006_shop_config_version;
mod m20261123_000007_screening_warnings;
mod m20261123_000010_events;
mod m20261123_000011_manual_review;
mod m20261123_000012_webhooks;
mod m20261207_000029_webhook_steering;
mod m20261207_000032_review_queue;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_foundation::Migration),
            Box::new(m20261123_000002_provider_accounts::Migration),
            Box::new(m20261123_000003_feeds_and_assets::Migration),
            Box::new(m20261123_000004_payment_methods::Migration),
            Box::new(m20261123_000005_screenings::Migration),
            Box::new(m20261123_000006_shop_config_version::Migration),
            Box::new(m20261123_000007_screening_warnings::Migration),
            Box::new(m20261123_000010_events::Migration),
            Box::new(m20261123_000011_manual_review::Migration),
            Box::new(m20261123_000012_webhooks::Migration),
            Box::new(m20261207_000029_webhook_steering::Migration),
            Box::new(m20261207_000032_review_queue::Migration),
        ]
    }
}
