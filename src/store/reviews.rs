//! The shop's reviews of screenings (the review queue), kept on the screenings' rows:
//! opened by the finish (`screenings::Finished::review_opened_at`), listed here, and
//! closed by a decision that one request at a time sends to O-PLUX (a conditional claim).

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    Statement, sea_query::Expr,
};

use super::{
    entities::screening,
    screenings::{REVIEW_CLOSED, REVIEW_OPEN, ScreeningRow},
};

/// Where a page of the queue ended: the last review's opening time and row id.
pub type Position = (DateTime<Utc>, i64);

/// The shop's reviews in `state` (`open`: oldest opened first; `closed`: newest opened
/// first), after `after` when given, at most `limit`. Reads the partial index
/// `screenings_review_queue`.
pub async fn queue(
    db: &impl ConnectionTrait,
    shop_id: &str,
    state: &str,
    after: Option<Position>,
    limit: u64,
) -> Result<Vec<ScreeningRow>, DbErr> {
    let opened = screening::Column::ReviewOpenedAt;
    let id = screening::Column::Id;
    let oldest_first = state == REVIEW_OPEN;
    let mut query = screening::Entity::find()
        .filter(screening::Column::ShopId.eq(shop_id))
        .filter(screening::Column::ReviewState.eq(state));
    if let Some((at, last)) = after {
        let beyond = if oldest_first {
            Condition::any()
                .add(opened.gt(at))
                .add(Condition::all().add(opened.eq(at)).add(id.gt(last)))
        } else {
            Condition::any()
                .add(opened.lt(at))
                .add(Condition::all().add(opened.eq(at)).add(id.lt(last)))
        };
        query = query.filter(beyond);
    }
    query = if oldest_first {
        query.order_by_asc(opened).order_by_asc(id)
    } else {
        query.order_by_desc(opened).order_by_desc(id)
    };
    query.limit(limit).all(db).await
}

/// When the shop's oldest open review opened; `None` without one.
pub async fn oldest_open(db: &impl ConnectionTrait, shop_id: &str) -> Result<Option<DateTime<Utc>>, DbErr> {
    let oldest: Option<Option<DateTime<Utc>>> = screening::Entity::find()
        .select_only()
        .column(screening::Column::ReviewOpenedAt)
        .filter(screening::Column::ShopId.eq(shop_id))
        .filter(screening::Column::ReviewState.eq(REVIEW_OPEN))
        .order_by_asc(screening::Column::ReviewOpenedAt)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    Ok(oldest.flatten())
}

/// Every shop's open reviews of one automatic result.
#[derive(Debug, Clone, FromQueryResult)]
pub struct OpenReviews {
    pub result: Option<String>,
    pub reviews: i64,
    pub oldest: Option<DateTime<Utc>>,
}

/// Every shop's open reviews per automatic result, with the oldest's opening time: one
/// query over the partial index `screenings_reviews_open` (as many entries as open
/// reviews, whatever the number of screenings), for /metrics.
pub async fn open_per_result(db: &impl ConnectionTrait) -> Result<Vec<OpenReviews>, DbErr> {
    // The state is written literally so that PostgreSQL's generic plans use the partial
    // index (a parameter cannot prove its condition).
    let sql = format!(
        "SELECT result, COUNT(*) AS reviews, MIN(review_opened_at) AS oldest FROM screenings \
         WHERE review_state = '{REVIEW_OPEN}' GROUP BY result"
    );
    let statement = Statement::from_string(db.get_database_backend(), sql);
    OpenReviews::find_by_statement(statement).all(db).await
}

/// Claims the sending of a decision on an open review: no other request holds a claim
/// (or its claim expired). Returns whether this request now holds it.
pub async fn claim_decision(
    db: &impl ConnectionTrait,
    id: i64,
    decision: &str,
    token: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let free = Condition::any()
        .add(screening::Column::ReviewClaim.is_null())
        .add(screening::Column::ReviewClaimedUntil.is_null())
        .add(screening::Column::ReviewClaimedUntil.lt(now));
    let claimed = screening::Entity::update_many()
        .col_expr(screening::Column::ReviewSending, Expr::value(decision))
        .col_expr(screening::Column::ReviewClaim, Expr::value(token))
        .col_expr(screening::Column::ReviewClaimedUntil, Expr::value(until))
        .filter(screening::Column::Id.eq(id))
        .filter(screening::Column::ReviewState.eq(REVIEW_OPEN))
        .filter(free)
        .exec(db)
        .await?;
    Ok(claimed.rows_affected == 1)
}

/// Gives a claim up (O-PLUX did not accept the decision): the review stays open.
pub async fn release_decision(db: &impl ConnectionTrait, id: i64, token: &str) -> Result<(), DbErr> {
    screening::Entity::update_many()
        .col_expr(screening::Column::ReviewSending, Expr::value(Option::<String>::None))
        .col_expr(screening::Column::ReviewClaim, Expr::value(Option::<String>::None))
        .col_expr(
            screening::Column::ReviewClaimedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(screening::Column::Id.eq(id))
        .filter(screening::Column::ReviewClaim.eq(token))
        .exec(db)
        .await?;
    Ok(())
}

/// A decision O-PLUX accepted.
pub struct Closing<'a> {
    pub decision: &'a str,
    pub memo: Option<&'a str>,
    pub decided_by: &'a str,
    pub at: DateTime<Utc>,
}

/// Closes an open review with the decision its claim sent. Returns whether this request
/// still held the claim (and so closed it).
pub async fn close(db: &impl ConnectionTrait, id: i64, token: &str, closing: &Closing<'_>) -> Result<bool, DbErr> {
    let closed = screening::Entity::update_many()
        .col_expr(screening::Column::ReviewState, Expr::value(REVIEW_CLOSED))
        .col_expr(screening::Column::ReviewDecision, Expr::value(closing.decision))
        .col_expr(
            screening::Column::ReviewMemo,
            Expr::value(closing.memo.map(str::to_string)),
        )
        .col_expr(screening::Column::ReviewDecidedBy, Expr::value(closing.decided_by))
        .col_expr(screening::Column::ReviewDecidedAt, Expr::value(closing.at))
        .col_expr(screening::Column::ReviewSending, Expr::value(Option::<String>::None))
        .col_expr(screening::Column::ReviewClaim, Expr::value(Option::<String>::None))
        .col_expr(
            screening::Column::ReviewClaimedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(screening::Column::Id.eq(id))
        .filter(screening::Column::ReviewState.eq(REVIEW_OPEN))
        .filter(screening::Column::ReviewClaim.eq(token))
        .exec(db)
        .await?;
    Ok(closed.rows_affected == 1)
}
