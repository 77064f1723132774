//! Webhooks steered by the receiver (issue 29): every secret issued in the last 24 h
//! signs (`older_secrets`), an endpoint failing for too long is disabled
//! (`failing_since`), and the indexes retention and recovery read by.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    /// JSON array of `{"secret": <sealed>, "until": <RFC 3339>}`: the secrets rotated out
    /// before `previous_secret`, each signing until its `until`.
    OlderSecrets,
    /// Since when every attempt to this endpoint has failed (none: the last one worked).
    FailingSince,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    EventId,
    Status,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookEndpoints::Table)
                    .add_column(text_null(WebhookEndpoints::OlderSecrets))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookEndpoints::Table)
                    .add_column(timestamp_with_time_zone_null(WebhookEndpoints::FailingSince))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_deliveries_event")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::EventId)
                    .col(WebhookDeliveries::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_events_created_at")
                    .table(Events::Table)
                    .col(Events::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_events_created_at")
                    .table(Events::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_webhook_deliveries_event")
                    .table(WebhookDeliveries::Table)
                    .to_owned(),
            )
            .await?;
        for column in [WebhookEndpoints::FailingSince, WebhookEndpoints::OlderSecrets] {
            manager
                .alter_table(
                    Table::alter()
                        .table(WebhookEndpoints::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
