//! Shops, API clients and the audit log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Shops {
    Table,
    Id,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiClients {
    Table,
    Id,
    ShopId,
    Name,
    Scopes,
    SecretHash,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    ShopId,
    OccurredAt,
    Actor,
    RequestId,
    ResourceType,
    ResourceId,
    Action,
    Fields,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Shops::Table)
                    .col(string_len(Shops::Id, 64).primary_key())
                    .col(timestamp_with_time_zone(Shops::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiClients::Table)
                    .col(string_len(ApiClients::Id, 64).primary_key())
                    .col(string_len(ApiClients::ShopId, 64))
                    .col(string_len(ApiClients::Name, 200))
                    .col(string_len(ApiClients::Scopes, 500))
                    .col(string_len(ApiClients::SecretHash, 300))
                    .col(timestamp_with_time_zone(ApiClients::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiClients::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_clients_shop")
                            .from(ApiClients::Table, ApiClients::ShopId)
                            .to(Shops::Table, Shops::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_api_clients_shop")
                    .table(ApiClients::Table)
                    .col(ApiClients::ShopId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(big_pk_auto(AuditEvents::Id))
                    .col(string_len(AuditEvents::ShopId, 64))
                    .col(timestamp_with_time_zone(AuditEvents::OccurredAt))
                    .col(string_len(AuditEvents::Actor, 64))
                    .col(string_len_null(AuditEvents::RequestId, 128))
                    .col(string_len(AuditEvents::ResourceType, 64))
                    .col(string_len(AuditEvents::ResourceId, 200))
                    .col(string_len(AuditEvents::Action, 64))
                    .col(text(AuditEvents::Fields))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_audit_events_shop")
                            .from(AuditEvents::Table, AuditEvents::ShopId)
                            .to(Shops::Table, Shops::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The audit list is read newest first within one shop.
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_events_shop_id")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::ShopId)
                    .col(AuditEvents::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditEvents::Table.into_iden(),
            ApiClients::Table.into_iden(),
            Shops::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
