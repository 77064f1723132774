//! The review queue (SPEC 8): the shop's own decision on a screening that waits for a
//! person, kept on the screening's row. A review is opened by the write that finishes the
//! screening (`review_state` = `open`, `review_opened_at`), and closed with the decision
//! (`review_decision`, `review_memo`, `review_decided_by`, `review_decided_at`) once
//! O-PLUX accepted it. While a decision is being sent, `review_sending` holds it and
//! `review_claim` / `review_claimed_until` who sends it and until when, so that two
//! decisions at once do not both reach O-PLUX.
//!
//! Both indexes are partial (`WHERE review_state …`): a screening without a review, the
//! usual case, adds no index entry and its finish no work.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Screenings {
    Table,
    Id,
    ShopId,
    Result,
    ReviewState,
    ReviewDecision,
    ReviewMemo,
    ReviewDecidedBy,
    ReviewDecidedAt,
    ReviewOpenedAt,
    ReviewSending,
    ReviewClaim,
    ReviewClaimedUntil,
}

const QUEUE_INDEX: &str = "screenings_review_queue";
const OPEN_INDEX: &str = "screenings_reviews_open";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for column in [
            string_len_null(Screenings::ReviewState, 8),
            string_len_null(Screenings::ReviewDecision, 16),
            text_null(Screenings::ReviewMemo),
            string_len_null(Screenings::ReviewDecidedBy, 64),
            timestamp_with_time_zone_null(Screenings::ReviewDecidedAt),
            timestamp_with_time_zone_null(Screenings::ReviewOpenedAt),
            string_len_null(Screenings::ReviewSending, 16),
            string_len_null(Screenings::ReviewClaim, 64),
            timestamp_with_time_zone_null(Screenings::ReviewClaimedUntil),
        ] {
            manager
                .alter_table(Table::alter().table(Screenings::Table).add_column(column).to_owned())
                .await?;
        }
        // A shop's queue, by state, oldest opened first (`GET /api/v1/reviews`). A query's
        // `review_state = ?` implies the index's condition on both databases.
        manager
            .create_index(
                Index::create()
                    .name(QUEUE_INDEX)
                    .table(Screenings::Table)
                    .col(Screenings::ShopId)
                    .col(Screenings::ReviewState)
                    .col(Screenings::ReviewOpenedAt)
                    .col(Screenings::Id)
                    .and_where(Expr::col(Screenings::ReviewState).is_not_null())
                    .to_owned(),
            )
            .await?;
        // Every shop's open reviews per result, for /metrics: as many entries as open
        // reviews (queried with the literal condition).
        manager
            .create_index(
                Index::create()
                    .name(OPEN_INDEX)
                    .table(Screenings::Table)
                    .col(Screenings::Result)
                    .col(Screenings::ReviewOpenedAt)
                    .and_where(Expr::col(Screenings::ReviewState).eq("open"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for index in [OPEN_INDEX, QUEUE_INDEX] {
            manager
                .drop_index(Index::drop().name(index).table(Screenings::Table).to_owned())
                .await?;
        }
        for column in [
            Screenings::ReviewClaimedUntil,
            Screenings::ReviewClaim,
            Screenings::ReviewSending,
            Screenings::ReviewOpenedAt,
            Screenings::ReviewDecidedAt,
            Screenings::ReviewDecidedBy,
            Screenings::ReviewMemo,
            Screenings::ReviewDecision,
            Screenings::ReviewState,
        ] {
            manager
                .alter_table(Table::alter().table(Screenings::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
