//! Webhooks: the shop's endpoints (secrets sealed), the outbox of deliveries written in
//! the transaction of the event they carry, every attempt to send one, and the record of
//! certificate-expiry events already emitted (a unique row makes "once" hold across
//! replicas and restarts).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    /// The id callers see (`we_…`).
    PublicId,
    ShopId,
    Url,
    Description,
    /// JSON array of event types.
    Events,
    Enabled,
    /// The signing secret, sealed with the master keys.
    Secret,
    /// The secret before the last rotation, still signing until `PreviousSecretUntil`.
    PreviousSecret,
    PreviousSecretUntil,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    PublicId,
    ShopId,
    EndpointId,
    EventId,
    /// `pending`, `delivered` or `failed`.
    Status,
    Attempts,
    NextAttemptAt,
    /// A replica sending it holds it until then; an expired claim is free again.
    ClaimedUntil,
    LastStatusCode,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    DeliveryId,
    EndpointId,
    AttemptedAt,
    LatencyMs,
    /// The answer's HTTP status, when there was one.
    StatusCode,
    /// `delivered`, `retrying` or `failed`.
    Outcome,
    /// What a tenant may see of a failure: unreachable, timed out, refused.
    Error,
}

#[derive(DeriveIden)]
enum CertificateNotices {
    Table,
    Id,
    ShopId,
    Provider,
    Field,
    Fingerprint,
    /// Days before expiry: 30, 7 or 1.
    Threshold,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoints::Table)
                    .col(big_pk_auto(WebhookEndpoints::Id))
                    .col(string_len_uniq(WebhookEndpoints::PublicId, 40))
                    .col(string_len(WebhookEndpoints::ShopId, 64))
                    .col(text(WebhookEndpoints::Url))
                    .col(text_null(WebhookEndpoints::Description))
                    .col(text(WebhookEndpoints::Events))
                    .col(boolean(WebhookEndpoints::Enabled))
                    .col(text(WebhookEndpoints::Secret))
                    .col(text_null(WebhookEndpoints::PreviousSecret))
                    .col(timestamp_with_time_zone_null(WebhookEndpoints::PreviousSecretUntil))
                    .col(big_integer(WebhookEndpoints::Version))
                    .col(timestamp_with_time_zone(WebhookEndpoints::CreatedAt))
                    .col(timestamp_with_time_zone(WebhookEndpoints::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_endpoints_shop_id")
                    .table(WebhookEndpoints::Table)
                    .col(WebhookEndpoints::ShopId)
                    .col(WebhookEndpoints::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(big_pk_auto(WebhookDeliveries::Id))
                    .col(string_len_uniq(WebhookDeliveries::PublicId, 40))
                    .col(string_len(WebhookDeliveries::ShopId, 64))
                    .col(big_integer(WebhookDeliveries::EndpointId))
                    .col(big_integer(WebhookDeliveries::EventId))
                    .col(string_len(WebhookDeliveries::Status, 16))
                    .col(integer(WebhookDeliveries::Attempts))
                    .col(timestamp_with_time_zone(WebhookDeliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::ClaimedUntil))
                    .col(integer_null(WebhookDeliveries::LastStatusCode))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .col(timestamp_with_time_zone(WebhookDeliveries::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_deliveries_endpoint")
                            .from(WebhookDeliveries::Table, WebhookDeliveries::EndpointId)
                            .to(WebhookEndpoints::Table, WebhookEndpoints::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // What the worker looks for: pending deliveries that are due.
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_deliveries_due")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::Status)
                    .col(WebhookDeliveries::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_deliveries_endpoint_id")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::EndpointId)
                    .col(WebhookDeliveries::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(big_pk_auto(WebhookAttempts::Id))
                    .col(big_integer(WebhookAttempts::DeliveryId))
                    .col(big_integer(WebhookAttempts::EndpointId))
                    .col(timestamp_with_time_zone(WebhookAttempts::AttemptedAt))
                    .col(big_integer(WebhookAttempts::LatencyMs))
                    .col(integer_null(WebhookAttempts::StatusCode))
                    .col(string_len(WebhookAttempts::Outcome, 16))
                    .col(string_len_null(WebhookAttempts::Error, 64))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_attempts_delivery")
                            .from(WebhookAttempts::Table, WebhookAttempts::DeliveryId)
                            .to(WebhookDeliveries::Table, WebhookDeliveries::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_attempts_delivery")
                    .table(WebhookAttempts::Table)
                    .col(WebhookAttempts::DeliveryId)
                    .col(WebhookAttempts::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CertificateNotices::Table)
                    .col(big_pk_auto(CertificateNotices::Id))
                    .col(string_len(CertificateNotices::ShopId, 64))
                    .col(string_len(CertificateNotices::Provider, 64))
                    .col(string_len(CertificateNotices::Field, 64))
                    .col(string_len(CertificateNotices::Fingerprint, 64))
                    .col(integer(CertificateNotices::Threshold))
                    .col(timestamp_with_time_zone(CertificateNotices::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_certificate_notices_once")
                    .table(CertificateNotices::Table)
                    .col(CertificateNotices::ShopId)
                    .col(CertificateNotices::Provider)
                    .col(CertificateNotices::Field)
                    .col(CertificateNotices::Fingerprint)
                    .col(CertificateNotices::Threshold)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CertificateNotices::Table.into_iden(),
            WebhookAttempts::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            WebhookEndpoints::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
