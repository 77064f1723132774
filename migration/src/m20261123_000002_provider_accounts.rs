//! Provider accounts: settings per shop and provider, and their sealed secrets.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Shops {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ProviderAccounts {
    Table,
    Id,
    ShopId,
    Provider,
    Enabled,
    /// JSON object of the non-secret settings.
    Settings,
    /// Bumped on every change; part of the ETag and the optimistic lock.
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ProviderSecrets {
    Table,
    Id,
    ShopId,
    Provider,
    Field,
    /// `v1.<key id>.<nonce>.<ciphertext>`: AES-256-GCM, never the value in clear.
    Sealed,
    KeyId,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProviderAccounts::Table)
                    .col(big_pk_auto(ProviderAccounts::Id))
                    .col(string_len(ProviderAccounts::ShopId, 64))
                    .col(string_len(ProviderAccounts::Provider, 64))
                    .col(boolean(ProviderAccounts::Enabled))
                    .col(text(ProviderAccounts::Settings))
                    .col(big_integer(ProviderAccounts::Version))
                    .col(timestamp_with_time_zone(ProviderAccounts::CreatedAt))
                    .col(timestamp_with_time_zone(ProviderAccounts::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_provider_accounts_shop")
                            .from(ProviderAccounts::Table, ProviderAccounts::ShopId)
                            .to(Shops::Table, Shops::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_provider_accounts_shop_provider")
                    .table(ProviderAccounts::Table)
                    .col(ProviderAccounts::ShopId)
                    .col(ProviderAccounts::Provider)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProviderSecrets::Table)
                    .col(big_pk_auto(ProviderSecrets::Id))
                    .col(string_len(ProviderSecrets::ShopId, 64))
                    .col(string_len(ProviderSecrets::Provider, 64))
                    .col(string_len(ProviderSecrets::Field, 64))
                    .col(text(ProviderSecrets::Sealed))
                    .col(string_len(ProviderSecrets::KeyId, 64))
                    .col(timestamp_with_time_zone(ProviderSecrets::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_provider_secrets_shop")
                            .from(ProviderSecrets::Table, ProviderSecrets::ShopId)
                            .to(Shops::Table, Shops::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_provider_secrets_owner")
                    .table(ProviderSecrets::Table)
                    .col(ProviderSecrets::ShopId)
                    .col(ProviderSecrets::Provider)
                    .col(ProviderSecrets::Field)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Key rotation looks for values sealed under other keys.
        manager
            .create_index(
                Index::create()
                    .name("ix_provider_secrets_key_id")
                    .table(ProviderSecrets::Table)
                    .col(ProviderSecrets::KeyId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ProviderSecrets::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ProviderAccounts::Table).to_owned())
            .await
    }
}
