//! After the decision (SPEC 8): the manual review kept beside a screening's automatic
//! result (`manual_result`, `manual_memo`, `manual_reviewed_at`, and `sync_checked_at`,
//! when the poller last asked O-PLUX), the append-only history of exchanges with O-PLUX
//! (`oplux_exchanges`, no personal data), and the leases that let one replica at a time
//! run a background job (`job_leases`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Screenings {
    Table,
    ManualResult,
    ManualMemo,
    ManualReviewedAt,
    SyncCheckedAt,
    ScreenedAt,
}

#[derive(DeriveIden)]
enum OpluxExchanges {
    Table,
    Id,
    ShopId,
    OrderNumber,
    Kind,
    At,
    LatencyMs,
    Outcome,
    HttpStatus,
    Codes,
}

#[derive(DeriveIden)]
enum JobLeases {
    Table,
    Name,
    Holder,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for column in [
            string_len_null(Screenings::ManualResult, 8),
            text_null(Screenings::ManualMemo),
            timestamp_with_time_zone_null(Screenings::ManualReviewedAt),
            timestamp_with_time_zone_null(Screenings::SyncCheckedAt),
        ] {
            manager
                .alter_table(Table::alter().table(Screenings::Table).add_column(column).to_owned())
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("screenings_manual_result")
                    .table(Screenings::Table)
                    .col(Screenings::ManualResult)
                    .col(Screenings::ScreenedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OpluxExchanges::Table)
                    .if_not_exists()
                    .col(big_pk_auto(OpluxExchanges::Id))
                    .col(string_len(OpluxExchanges::ShopId, 64))
                    .col(string_len(OpluxExchanges::OrderNumber, 64))
                    .col(string_len(OpluxExchanges::Kind, 16))
                    .col(timestamp_with_time_zone(OpluxExchanges::At))
                    .col(big_integer_null(OpluxExchanges::LatencyMs))
                    .col(string_len(OpluxExchanges::Outcome, 16))
                    .col(integer_null(OpluxExchanges::HttpStatus))
                    .col(text(OpluxExchanges::Codes))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("oplux_exchanges_order")
                    .table(OpluxExchanges::Table)
                    .col(OpluxExchanges::ShopId)
                    .col(OpluxExchanges::OrderNumber)
                    .col(OpluxExchanges::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(JobLeases::Table)
                    .if_not_exists()
                    .col(string_len(JobLeases::Name, 64).primary_key())
                    .col(string_len(JobLeases::Holder, 64))
                    .col(timestamp_with_time_zone(JobLeases::ExpiresAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(JobLeases::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(OpluxExchanges::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("screenings_manual_result")
                    .table(Screenings::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Screenings::SyncCheckedAt,
            Screenings::ManualReviewedAt,
            Screenings::ManualMemo,
            Screenings::ManualResult,
        ] {
            manager
                .alter_table(Table::alter().table(Screenings::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
