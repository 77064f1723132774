//! A per-shop version of what checkout sees (payment methods and provider accounts),
//! bumped by every change to them: caches of the checkout configuration compare it, so
//! they stay correct across replicas.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Shops {
    Table,
    ConfigVersion,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Shops::Table)
                    .add_column(big_integer(Shops::ConfigVersion).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Shops::Table)
                    .drop_column(Shops::ConfigVersion)
                    .to_owned(),
            )
            .await
    }
}
