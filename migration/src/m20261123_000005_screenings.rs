//! Fraud screenings: one row per (shop, order number), claimed before O-PLUX is called so
//! that concurrent duplicates — also on other replicas — wait for it instead of calling.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Shops {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Screenings {
    Table,
    Id,
    ShopId,
    OrderNumber,
    /// `pending` while being screened, then `done`.
    State,
    /// SHA-256 of the request: a replay must be the same request.
    Fingerprint,
    /// Who holds a pending row (random), so a stale claim can be taken over safely.
    ClaimToken,
    ClaimedAt,
    Screened,
    SkipReason,
    Result,
    /// JSON array of {code, description}.
    Reasons,
    Decision,
    RedirectUrl,
    ForcedByThanksOffer,
    OpluxEventId,
    ParentOrderNumber,
    /// Why the result is ERROR (no personal data).
    ErrorDetail,
    OpluxLatencyMs,
    ScreenedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Screenings::Table)
                    .col(big_pk_auto(Screenings::Id))
                    .col(string_len(Screenings::ShopId, 64))
                    .col(string_len(Screenings::OrderNumber, 64))
                    .col(string_len(Screenings::State, 16))
                    .col(string_len(Screenings::Fingerprint, 64))
                    .col(string_len(Screenings::ClaimToken, 64))
                    .col(timestamp_with_time_zone(Screenings::ClaimedAt))
                    .col(boolean(Screenings::Screened))
                    .col(string_len_null(Screenings::SkipReason, 64))
                    .col(string_len_null(Screenings::Result, 16))
                    .col(text(Screenings::Reasons))
                    .col(string_len_null(Screenings::Decision, 16))
                    .col(text_null(Screenings::RedirectUrl))
                    .col(boolean(Screenings::ForcedByThanksOffer))
                    .col(string_len_null(Screenings::OpluxEventId, 64))
                    .col(string_len_null(Screenings::ParentOrderNumber, 64))
                    .col(text_null(Screenings::ErrorDetail))
                    .col(big_integer_null(Screenings::OpluxLatencyMs))
                    .col(timestamp_with_time_zone_null(Screenings::ScreenedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_screenings_shop")
                            .from(Screenings::Table, Screenings::ShopId)
                            .to(Shops::Table, Shops::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_screenings_shop_order")
                    .table(Screenings::Table)
                    .col(Screenings::ShopId)
                    .col(Screenings::OrderNumber)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The search by result, newest first.
        manager
            .create_index(
                Index::create()
                    .name("ix_screenings_shop_result_id")
                    .table(Screenings::Table)
                    .col(Screenings::ShopId)
                    .col(Screenings::Result)
                    .col(Screenings::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_screenings_shop_id")
                    .table(Screenings::Table)
                    .col(Screenings::ShopId)
                    .col(Screenings::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Screenings::Table).to_owned())
            .await
    }
}
