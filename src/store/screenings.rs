//! Screening records: claimed (pending) before O-PLUX is called, then finished (done).

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};

use super::{entities::screening, events::NewEvent, oplux_exchanges::NewExchange};

pub use screening::Model as ScreeningRow;

pub const PENDING: &str = "pending";
pub const DONE: &str = "done";
/// A review waiting for the shop's decision, and one decided.
pub const REVIEW_OPEN: &str = "open";
pub const REVIEW_CLOSED: &str = "closed";

pub enum Claim {
    /// This request holds the row and must screen.
    Claimed(ScreeningRow),
    /// Another request created the row first.
    Exists(ScreeningRow),
}

/// A claim of an order's row, to be written.
pub struct NewClaim<'a> {
    pub shop_id: &'a str,
    pub order_number: &'a str,
    pub fingerprint: &'a str,
    pub token: &'a str,
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
#[derive(Clone)]
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
    /// When the shop's review opened, for a screening that waits for a person's decision
    /// (`screening::review_queue`); `None` for the others.
    pub review_opened_at: Option<DateTime<Utc>>,
}

/// A finish of a row its request holds.
#[derive(Clone, Copy)]
pub struct Finish<'a> {
    pub id: i64,
    pub token: &'a str,
    pub done: &'a Finished,
}

/// A finish with what it writes beside the row while its request holds it: the exchange
/// with O-PLUX (when there was one) and the events, which bring their webhook
/// deliveries: `screening.created`, and `screening.review_opened` when it opens a review.
pub struct Reported<'a> {
    pub finish: Finish<'a>,
    pub exchange: Option<&'a NewExchange>,
    pub event: NewEvent,
    pub opened: Option<NewEvent>,
}

impl Reported<'_> {
    /// The events this finish writes.
    pub fn events(&self) -> impl Iterator<Item = &NewEvent> {
        std::iter::once(&self.event).chain(&self.opened)
    }
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
    /// Only screenings whose review is in this state (`open`, `closed`).
    pub review_state: Option<String>,
    /// Only screenings whose review was closed with this decision.
    pub review_decision: Option<String>,
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
        .filter(screening::Column::State.eq(DONE));
    if let Some(result) = &filter.result {
        query = query.filter(screening::Column::Result.eq(result));
    }
    if let Some(manual) = &filter.manual_result {
        query = query.filter(screening::Column::ManualResult.eq(manual));
    }
    if let Some(state) = &filter.review_state {
        query = query.filter(screening::Column::ReviewState.eq(state));
    }
    if let Some(decision) = &filter.review_decision {
        query = query.filter(screening::Column::ReviewDecision.eq(decision));
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
    super::newest_first(query, screening::Column::Id, before, limit)
        .all(db)
        .await
}
