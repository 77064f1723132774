//! Payment methods, and the 電算 (densan) transaction ids issued for them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Shops {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PaymentMethods {
    Table,
    Id,
    ShopId,
    Code,
    Kind,
    Provider,
    DisplayName,
    Enabled,
    /// JSON array of channels: lp, shop, admin_order.
    AvailableIn,
    OpluxScreening,
    ThanksOfferImmediateSettlement,
    Position,
    /// JSON object {docomo, au, softbank} for carrier billing, else null.
    Carriers,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TransactionIds {
    Table,
    Id,
    ShopId,
    PaymentMethod,
    TransactionId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PaymentMethods::Table)
                    .col(big_pk_auto(PaymentMethods::Id))
                    .col(string_len(PaymentMethods::ShopId, 64))
                    .col(string_len(PaymentMethods::Code, 64))
                    .col(string_len(PaymentMethods::Kind, 32))
                    .col(string_len_null(PaymentMethods::Provider, 64))
                    .col(string_len(PaymentMethods::DisplayName, 200))
                    .col(boolean(PaymentMethods::Enabled))
                    .col(text(PaymentMethods::AvailableIn))
                    .col(boolean(PaymentMethods::OpluxScreening))
                    .col(boolean(PaymentMethods::ThanksOfferImmediateSettlement))
                    .col(integer(PaymentMethods::Position))
                    .col(text_null(PaymentMethods::Carriers))
                    .col(big_integer(PaymentMethods::Version))
                    .col(timestamp_with_time_zone(PaymentMethods::CreatedAt))
                    .col(timestamp_with_time_zone(PaymentMethods::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_payment_methods_shop")
                            .from(PaymentMethods::Table, PaymentMethods::ShopId)
                            .to(Shops::Table, Shops::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_payment_methods_shop_code")
                    .table(PaymentMethods::Table)
                    .col(PaymentMethods::ShopId)
                    .col(PaymentMethods::Code)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_payment_methods_shop_position")
                    .table(PaymentMethods::Table)
                    .col(PaymentMethods::ShopId)
                    .col(PaymentMethods::Position)
                    .to_owned(),
            )
            .await?;
        // At most one enabled credit card method per shop, also under concurrent writes.
        // (A partial index: the same SQL on SQLite and PostgreSQL.)
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_payment_methods_one_enabled_card ON payment_methods (shop_id) \
                 WHERE kind = 'credit_card' AND enabled",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TransactionIds::Table)
                    .col(big_pk_auto(TransactionIds::Id))
                    .col(string_len(TransactionIds::ShopId, 64))
                    .col(string_len(TransactionIds::PaymentMethod, 64))
                    .col(string_len(TransactionIds::TransactionId, 17))
                    .col(timestamp_with_time_zone(TransactionIds::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_transaction_ids_shop")
                            .from(TransactionIds::Table, TransactionIds::ShopId)
                            .to(Shops::Table, Shops::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_transaction_ids_shop_id")
                    .table(TransactionIds::Table)
                    .col(TransactionIds::ShopId)
                    .col(TransactionIds::TransactionId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TransactionIds::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(PaymentMethods::Table).to_owned())
            .await
    }
}
