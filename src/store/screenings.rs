//! Screening records: claimed (pending) before O-PLUX is called, then finished (done).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, OnConflict},
};

use super::entities::screening;

pub use screening::Model as ScreeningRow;

pub const PENDING: &str = "pending";
pub const DONE: &str = "done";

pub enum Claim {
    /// This request holds the row and must screen.
    Claimed(ScreeningRow),
    /// Another request created the row first.
    Exists(ScreeningRow),
}

pub async fn claim(
    db: &impl ConnectionTrait,
    shop_id: &str,
    order_number: &str,
    fingerprint: &str,
    token: &str,
    at: DateTime<Utc>,
) -> Result<Claim, DbErr> {
    let inserted = screening::ActiveModel {
        shop_id: Set(shop_id.to_string()),
        order_number: Set(order_number.to_string()),
        state: Set(PENDING.to_string()),
        fingerprint: Set(fingerprint.to_string()),
        claim_token: Set(token.to_string()),
        claimed_at: Set(at),
        screened: Set(false),
        reasons: Set("[]".to_string()),
        warnings: Set("[]".to_string()),
        forced_by_thanks_offer: Set(false),
        ..Default::default()
    };
    // ON CONFLICT DO NOTHING: an existing order is not an error, so the claim can share a
    // transaction with others (a failed statement would abort it on PostgreSQL).
    let inserted = screening::Entity::insert(inserted)
        .on_conflict(
            OnConflict::columns([screening::Column::ShopId, screening::Column::OrderNumber])
                .do_nothing()
                .to_owned(),
        )
        .exec_with_returning(db)
        .await;
    match inserted {
        Ok(row) => Ok(Claim::Claimed(row)),
        // Nothing inserted (sea-orm reports a RETURNING without a row as not found).
        Err(DbErr::RecordNotInserted | DbErr::RecordNotFound(_)) => find(db, shop_id, order_number)
            .await?
            .map(Claim::Exists)
            .ok_or(DbErr::RecordNotFound(format!("screening of order {order_number}"))),
        Err(err) => Err(err),
    }
}

pub async fn find(db: &impl ConnectionTrait, shop_id: &str, order_number: &str) -> Result<Option<ScreeningRow>, DbErr> {
    screening::Entity::find()
        .filter(screening::Column::ShopId.eq(shop_id))
        .filter(screening::Column::OrderNumber.eq(order_number))
        .one(db)
        .await
}

/// Takes over a pending row whose holder is gone. Returns whether this request now holds it.
pub async fn take_over(
    db: &impl ConnectionTrait,
    row: &ScreeningRow,
    token: &str,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = screening::Entity::update_many()
        .col_expr(screening::Column::ClaimToken, Expr::value(token))
        .col_expr(screening::Column::ClaimedAt, Expr::value(at))
        .filter(screening::Column::Id.eq(row.id))
        .filter(screening::Column::State.eq(PENDING))
        .filter(screening::Column::ClaimToken.eq(&row.claim_token))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The outcome of a screening, written once.
#[derive(Debug, Clone)]
pub struct Finished {
    pub screened: bool,
    pub skip_reason: Option<String>,
    pub result: Option<String>,
    pub reasons: String,
    pub decision: String,
    pub redirect_url: Option<String>,
    pub forced_by_thanks_offer: bool,
    pub oplux_event_id: Option<String>,
    pub parent_order_number: Option<String>,
    pub error_detail: Option<String>,
    pub oplux_latency_ms: Option<i64>,
    pub screened_at: DateTime<Utc>,
    pub warnings: String,
    pub parent_screening: Option<String>,
}

/// Finishes a row this request holds. Returns whether it still held it.
pub async fn finish(db: &impl ConnectionTrait, id: i64, token: &str, done: Finished) -> Result<bool, DbErr> {
    let result = screening::Entity::update_many()
        .col_expr(screening::Column::State, Expr::value(DONE))
        .col_expr(screening::Column::Screened, Expr::value(done.screened))
        .col_expr(screening::Column::SkipReason, Expr::value(done.skip_reason))
        .col_expr(screening::Column::Result, Expr::value(done.result))
        .col_expr(screening::Column::Reasons, Expr::value(done.reasons))
        .col_expr(screening::Column::Decision, Expr::value(done.decision))
        .col_expr(screening::Column::RedirectUrl, Expr::value(done.redirect_url))
        .col_expr(
            screening::Column::ForcedByThanksOffer,
            Expr::value(done.forced_by_thanks_offer),
        )
        .col_expr(screening::Column::OpluxEventId, Expr::value(done.oplux_event_id))
        .col_expr(
            screening::Column::ParentOrderNumber,
            Expr::value(done.parent_order_number),
        )
        .col_expr(screening::Column::ErrorDetail, Expr::value(done.error_detail))
        .col_expr(screening::Column::OpluxLatencyMs, Expr::value(done.oplux_latency_ms))
        .col_expr(screening::Column::ScreenedAt, Expr::value(done.screened_at))
        .col_expr(screening::Column::Warnings, Expr::value(done.warnings))
        .col_expr(screening::Column::ParentScreening, Expr::value(done.parent_screening))
        .filter(screening::Column::Id.eq(id))
        .filter(screening::Column::State.eq(PENDING))
        .filter(screening::Column::ClaimToken.eq(token))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Releases a claim that could not be finished (so a retry can screen at once).
pub async fn release(db: &impl ConnectionTrait, id: i64, token: &str) -> Result<(), DbErr> {
    screening::Entity::delete_many()
        .filter(screening::Column::Id.eq(id))
        .filter(screening::Column::State.eq(PENDING))
        .filter(screening::Column::ClaimToken.eq(token))
        .exec(db)
        .await?;
    Ok(())
}

/// Stores a manual review when it differs from the stored one. Returns whether it changed
/// (so that only a change is reported, even when two replicas sync at once).
pub async fn record_manual_review(
    db: &impl ConnectionTrait,
    id: i64,
    result: &str,
    memo: &str,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let differs = Condition::any()
        .add(screening::Column::ManualResult.is_null())
        .add(screening::Column::ManualResult.ne(result))
        .add(screening::Column::ManualMemo.is_null())
        .add(screening::Column::ManualMemo.ne(memo));
    let updated = screening::Entity::update_many()
        .col_expr(screening::Column::ManualResult, Expr::value(result))
        .col_expr(screening::Column::ManualMemo, Expr::value(memo))
        .col_expr(screening::Column::ManualReviewedAt, Expr::value(at))
        .filter(screening::Column::Id.eq(id))
        .filter(differs)
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Notes when the poller asked O-PLUX about these screenings.
pub async fn mark_checked(db: &impl ConnectionTrait, ids: &[i64], at: DateTime<Utc>) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    screening::Entity::update_many()
        .col_expr(screening::Column::SyncCheckedAt, Expr::value(at))
        .filter(screening::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// Screenings of every shop that wait for a manual review: answered `results` by O-PLUX
/// since `since`, no manual result yet, not asked about since `checked_before`; oldest
/// first, at most `limit`.
pub async fn awaiting_review(
    db: &impl ConnectionTrait,
    results: &[&str],
    since: DateTime<Utc>,
    checked_before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<ScreeningRow>, DbErr> {
    screening::Entity::find()
        .filter(screening::Column::State.eq(DONE))
        .filter(screening::Column::Result.is_in(results.iter().copied()))
        .filter(screening::Column::ManualResult.is_null())
        .filter(screening::Column::OpluxEventId.is_not_null())
        .filter(screening::Column::ScreenedAt.gte(since))
        .filter(
            Condition::any()
                .add(screening::Column::SyncCheckedAt.is_null())
                .add(screening::Column::SyncCheckedAt.lt(checked_before)),
        )
        .order_by_asc(screening::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub result: Option<String>,
    /// Only this manual review result.
    pub manual_result: Option<String>,
    pub screened: Option<bool>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Finished screenings of the shop, newest first, before the row id `before`.
pub async fn search(
    db: &impl ConnectionTrait,
    shop_id: &str,
    filter: &Filter,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<ScreeningRow>, DbErr> {
    let mut query = screening::Entity::find()
        .filter(screening::Column::ShopId.eq(shop_id))
        .filter(screening::Column::State.eq(DONE))
        .order_by_desc(screening::Column::Id)
        .limit(limit);
    if let Some(result) = &filter.result {
        query = query.filter(screening::Column::Result.eq(result));
    }
    if let Some(manual) = &filter.manual_result {
        query = query.filter(screening::Column::ManualResult.eq(manual));
    }
    if let Some(screened) = filter.screened {
        query = query.filter(screening::Column::Screened.eq(screened));
    }
    if let Some(from) = filter.from {
        query = query.filter(screening::Column::ScreenedAt.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(screening::Column::ScreenedAt.lt(to));
    }
    if let Some(before) = before {
        query = query.filter(screening::Column::Id.lt(before));
    }
    query.all(db).await
}
