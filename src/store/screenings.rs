//! Screening records: claimed (pending) before O-PLUX is called, then finished (done).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, Iterable, QueryFilter,
    QueryOrder, QueryResult, QuerySelect, QueryTrait, Statement, Value,
    sea_query::{
        Alias, CommonTableExpression, Expr, ExprTrait, InsertStatement, IntoIden, OnConflict, Query, SelectStatement,
        SubQueryStatement, TableRef, UnionType, UpdateStatement, ValueTuple, WithClause,
    },
};

use super::{
    entities::{event, screening},
    events::NewEvent,
    oplux_exchanges::NewExchange,
    webhooks::{self, NewEventDelivery},
};

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

/// The `INSERT … ON CONFLICT DO NOTHING RETURNING` of these claims: the inserted rows,
/// with every column of the entity, in its order (as `claim_and_finish`'s `held` part).
fn claim_statement(claims: &[NewClaim<'_>], at: DateTime<Utc>) -> InsertStatement {
    let mut insert = claim_insert(claims, at);
    insert.returning(Query::returning().columns(screening::Column::iter()));
    insert
}

/// The `INSERT … ON CONFLICT DO NOTHING` of these claims.
fn claim_insert(claims: &[NewClaim<'_>], at: DateTime<Utc>) -> InsertStatement {
    let models = claims.iter().map(|claim| screening::ActiveModel {
        shop_id: Set(claim.shop_id.to_string()),
        order_number: Set(claim.order_number.to_string()),
        state: Set(PENDING.to_string()),
        fingerprint: Set(claim.fingerprint.to_string()),
        claim_token: Set(claim.token.to_string()),
        claimed_at: Set(at),
        screened: Set(false),
        reasons: Set("[]".to_string()),
        warnings: Set("[]".to_string()),
        forced_by_thanks_offer: Set(false),
        ..Default::default()
    });
    screening::Entity::insert_many(models)
        .on_conflict(
            OnConflict::columns([screening::Column::ShopId, screening::Column::OrderNumber])
                .do_nothing()
                .to_owned(),
        )
        .into_query()
}

/// The claims' answers, in order: the rows inserted for them (by token), else the rows
/// that existed, read now.
async fn claims_of(
    db: &impl ConnectionTrait,
    claims: &[NewClaim<'_>],
    claimed: HashMap<String, ScreeningRow>,
) -> Result<Vec<Claim>, DbErr> {
    let existed: Vec<&NewClaim> = claims.iter().filter(|c| !claimed.contains_key(c.token)).collect();
    let mut existing = HashMap::new();
    for chunk in super::statement_chunks(&existed) {
        for row in screening::Entity::find()
            .filter(keys_of(chunk.iter().copied()))
            .all(db)
            .await?
        {
            existing.insert((row.shop_id.clone(), row.order_number.clone()), row);
        }
    }
    answers(claims, claimed, existing)
}

/// The rows of these claims' orders.
fn keys_of<'a, 'b: 'a>(claims: impl IntoIterator<Item = &'a NewClaim<'b>>) -> Condition {
    claims.into_iter().fold(Condition::any(), |any, claim| {
        any.add(
            Condition::all()
                .add(screening::Column::ShopId.eq(claim.shop_id))
                .add(screening::Column::OrderNumber.eq(claim.order_number)),
        )
    })
}

/// The claims' answers, in order: the rows inserted for them (by token), else the rows
/// of their orders that existed (by shop and order number).
fn answers(
    claims: &[NewClaim<'_>],
    mut claimed: HashMap<String, ScreeningRow>,
    existing: HashMap<(String, String), ScreeningRow>,
) -> Result<Vec<Claim>, DbErr> {
    claims
        .iter()
        .map(|claim| match claimed.remove(claim.token) {
            Some(row) => Ok(Claim::Claimed(row)),
            None => existing
                .get(&(claim.shop_id.to_string(), claim.order_number.to_string()))
                .cloned()
                .map(Claim::Exists)
                .ok_or_else(|| DbErr::RecordNotFound(format!("screening of order {}", claim.order_number))),
        })
        .collect()
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

impl Finished {
    /// The columns a finish writes, with their values.
    fn columns(&self) -> [(screening::Column, Value); 16] {
        use screening::Column::*;
        [
            (Screened, self.screened.into()),
            (SkipReason, self.skip_reason.clone().into()),
            (Result, self.result.clone().into()),
            (Reasons, self.reasons.clone().into()),
            (Decision, self.decision.clone().into()),
            (RedirectUrl, self.redirect_url.clone().into()),
            (ForcedByThanksOffer, self.forced_by_thanks_offer.into()),
            (OpluxEventId, self.oplux_event_id.clone().into()),
            (ParentOrderNumber, self.parent_order_number.clone().into()),
            (ErrorDetail, self.error_detail.clone().into()),
            (OpluxLatencyMs, self.oplux_latency_ms.into()),
            (ScreenedAt, self.screened_at.into()),
            (Warnings, self.warnings.clone().into()),
            (ParentScreening, self.parent_screening.clone().into()),
            (
                ReviewState,
                self.review_opened_at.map(|_| REVIEW_OPEN.to_string()).into(),
            ),
            (ReviewOpenedAt, self.review_opened_at.into()),
        ]
    }
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

/// The most claims, and the most finishes, `claim_and_finish` takes.
pub const MAX_CLAIM_AND_FINISH: usize = super::MAX_ROWS_PER_STATEMENT;

/// PostgreSQL: a batch's claims and its finishes with their reports (at most
/// `MAX_CLAIM_AND_FINISH` of each) in one `WITH` statement: one round trip, with no
/// BEGIN and COMMIT around it, as a statement is atomic by itself. Only claims whose order
/// existed cost a second statement, which reads those rows (a statement does not see
/// rows committed while it runs). Returns the claims and whether each finish's request
/// still held its row, in order.
pub async fn claim_and_finish(
    db: &impl ConnectionTrait,
    claims: &[NewClaim<'_>],
    reported: &[Reported<'_>],
    at: DateTime<Utc>,
) -> Result<(Vec<Claim>, Vec<bool>), DbErr> {
    if claims.len() > MAX_CLAIM_AND_FINISH || reported.len() > MAX_CLAIM_AND_FINISH {
        return Err(DbErr::Custom(format!(
            "a statement takes at most {MAX_CLAIM_AND_FINISH} claims and {MAX_CLAIM_AND_FINISH} finishes"
        )));
    }
    // Each part's rows, tagged with the part: the inserted claims, the rows finished.
    let tagged = |part: &str| {
        Query::select()
            .expr_as(Expr::cust(format!("'{part}'")), Alias::new("part"))
            .columns(screening::Column::iter())
            .from(Alias::new(part))
            .to_owned()
    };
    let mut with = WithClause::new();
    let mut parts = Vec::new();
    if !claims.is_empty() {
        with.cte(cte(CLAIMED, claim_statement(claims, at).into()));
        parts.push(tagged(CLAIMED));
    }
    if !reported.is_empty() {
        add_finish_reporting(&mut with, reported)?;
        parts.push(tagged(HELD));
    }
    let mut parts = parts.into_iter();
    let Some(mut query) = parts.next() else {
        return Ok((Vec::new(), Vec::new()));
    };
    for part in parts {
        query.union(UnionType::All, part);
    }
    let mut claimed = HashMap::new();
    let mut held = HashSet::new();
    for row in db.query_all(&with.query(query)).await? {
        let part: String = row.try_get("", "part")?;
        if part == CLAIMED {
            let row = ScreeningRow::from_query_result(&row, "")?;
            claimed.insert(row.claim_token.clone(), row);
        } else {
            held.insert(row.try_get::<i64>("", "id")?);
        }
    }
    let claims = claims_of(db, claims, claimed).await?;
    Ok((claims, reported.iter().map(|r| held.contains(&r.finish.id)).collect()))
}

/// The parts of a `WITH` statement, and the tags of a script's rows.
const CLAIMED: &str = "claimed";
const HELD: &str = "held";
const CLAIM: &str = "claim";

fn cte(name: &str, query: SubQueryStatement) -> CommonTableExpression {
    // Built in place: the builder's `to_owned()` would copy the whole statement, its
    // values included (a clone and a drop of every batch's rows: bench/RESULTS.md).
    let mut cte = CommonTableExpression::new();
    cte.table_name(Alias::new(name)).query(query);
    cte
}

/// Adds the finishes (at most 64) and their reports to a `WITH` statement: `held`, the
/// rows finished (every column), then the exchanges, `new_events` and their deliveries.
fn add_finish_reporting(with: &mut WithClause, reported: &[Reported<'_>]) -> Result<(), DbErr> {
    let new_events = Alias::new("new_events");
    let held_ids = Query::select()
        .column(screening::Column::Id)
        .from(Alias::new(HELD))
        .to_owned();
    let (exchanges, mut insert_events) = reports(reported, held_ids)?;
    insert_events.returning(Query::returning().columns([
        event::Column::Id,
        event::Column::ShopId,
        event::Column::EventType,
        event::Column::CreatedAt,
    ]));
    let finishes: Vec<Finish> = reported.iter().map(|r| r.finish).collect();
    let mut held = finish_statement(&finishes);
    held.returning(Query::returning().columns(screening::Column::iter()));
    with.cte(cte(HELD, held.into()))
        .cte(cte("exchanges", exchanges.into()))
        .cte(cte("new_events", insert_events.into()))
        .cte(cte("deliveries", webhooks::deliveries_of(new_events).into()));
    Ok(())
}

/// The inserts of the finishes' exchanges and events (at most 64 each), of those whose
/// row id the query `held_ids` returns (`super::insert_where_kept`).
fn reports(reported: &[Reported<'_>], held_ids: SelectStatement) -> Result<(InsertStatement, InsertStatement), DbErr> {
    let unbuilt = || DbErr::Custom("the finish statement could not be built".into());
    // A finish without an exchange gets a row without a key (`insert_where_kept`), so the
    // statement's text depends on its number of rows only.
    let exchanges: Vec<_> = reported
        .iter()
        .map(|r| match r.exchange {
            Some(exchange) => (Some(r.finish.id), exchange.clone().active_model()),
            None => (None, NewExchange::placeholder().active_model()),
        })
        .collect();
    // The reviews' events after every screening's own: rows only for the finishes that
    // open a review, so a batch without one writes what it wrote before reviews existed.
    let events: Vec<_> = reported
        .iter()
        .map(|r| (Some(r.finish.id), r.event.active_model()))
        .chain(
            reported
                .iter()
                .filter_map(|r| Some((Some(r.finish.id), r.opened.as_ref()?.active_model()))),
        )
        .collect();
    Ok((
        super::insert_where_kept(&exchanges, held_ids.clone()).ok_or_else(unbuilt)?,
        super::insert_where_kept(&events, held_ids).ok_or_else(unbuilt)?,
    ))
}

/// SQLite: a batch's claims and finishes with their reports, as the statements of one
/// write script (`write::WriterConnection::script_transaction`), any number of each: per
/// 64 claims, their `INSERT … ON CONFLICT DO NOTHING`; per 64 finishes, their `UPDATE …
/// RETURNING` of the rows still held, tagged `held`, and the exchanges and events of
/// those rows; then `deliveries`, the events' deliveries (`events::deliveries_of_new`);
/// last, per 64 claims, the rows of their orders, tagged `claim` (inserted or not), as
/// the script leaves them. `claim_and_finish_answers` reads the script's rows.
pub fn claim_and_finish_statements(
    claims: &[NewClaim<'_>],
    reported: &[Reported<'_>],
    deliveries: &[NewEventDelivery],
    at: DateTime<Utc>,
) -> Result<Vec<Statement>, DbErr> {
    let sqlite = DbBackend::Sqlite;
    let mut statements: Vec<Statement> = super::statement_chunks(claims)
        .map(|chunk| sqlite.build(&claim_insert(chunk, at)))
        .collect();
    for chunk in super::statement_chunks(reported) {
        let finishes: Vec<Finish> = chunk.iter().map(|r| r.finish).collect();
        let mut update = finish_statement(&finishes);
        update.returning(Query::returning().exprs([
            Expr::cust(format!("'{HELD}' AS part")),
            Expr::col(screening::Column::Id),
        ]));
        // After the update, a row its request held is done and still has its token.
        let tokens = finishes.iter().fold(Condition::any(), |any, finish| {
            any.add(
                Condition::all()
                    .add(screening::Column::Id.eq(finish.id))
                    .add(screening::Column::ClaimToken.eq(finish.token)),
            )
        });
        let held_ids = Query::select()
            .column(screening::Column::Id)
            .from(screening::Entity)
            .and_where(screening::Column::State.eq(DONE))
            .cond_where(tokens)
            .to_owned();
        let (exchanges, events) = reports(chunk, held_ids)?;
        statements.extend([sqlite.build(&update), sqlite.build(&exchanges), sqlite.build(&events)]);
    }
    for chunk in super::statement_chunks(deliveries) {
        statements.extend(webhooks::insert_event_deliveries(chunk).map(|insert| sqlite.build(&insert)));
    }
    // Read last, a claim's row is as the script leaves it (finished by it, perhaps).
    for chunk in super::statement_chunks(claims) {
        let rows = Query::select()
            .expr_as(Expr::cust(format!("'{CLAIM}'")), Alias::new("part"))
            .columns(screening::Column::iter().map(|c| (screening::Entity, c)))
            .from(screening::Entity)
            .cond_where(keys_of(chunk))
            .to_owned();
        statements.push(sqlite.build(&rows));
    }
    Ok(statements)
}

/// The claims and whether each finish's request still held its row, in order, from the
/// rows of `claim_and_finish_statements`' script.
pub fn claim_and_finish_answers(
    claims: &[NewClaim<'_>],
    reported: &[Reported<'_>],
    rows: &[QueryResult],
) -> Result<(Vec<Claim>, Vec<bool>), DbErr> {
    let tokens: HashSet<&str> = claims.iter().map(|claim| claim.token).collect();
    let mut claimed = HashMap::new();
    let mut existing = HashMap::new();
    let mut held = HashSet::new();
    for row in rows {
        let part: String = row.try_get("", "part")?;
        if part == HELD {
            held.insert(row.try_get::<i64>("", "id")?);
        } else {
            // A row inserted for one claim is the existing row of a duplicate claim of
            // the same order in the batch.
            let row = ScreeningRow::from_query_result(row, "")?;
            if tokens.contains(row.claim_token.as_str()) {
                claimed.insert(row.claim_token.clone(), row.clone());
            }
            existing.insert((row.shop_id.clone(), row.order_number.clone()), row);
        }
    }
    Ok((
        answers(claims, claimed, existing)?,
        reported.iter().map(|r| held.contains(&r.finish.id)).collect(),
    ))
}

/// The `UPDATE … FROM (VALUES …)` of these finishes (at least one): a row is written
/// only while it is pending and still holds the request's token. Callers add what it
/// returns.
fn finish_statement(finishes: &[Finish<'_>]) -> UpdateStatement {
    // The VALUES list's columns are named column1, column2, … on both databases:
    // the row id, the token, then the finished columns.
    let list = Alias::new("finished");
    let value = |n: usize| Expr::col((list.clone(), Alias::new(format!("column{n}"))));
    let rows = finishes.iter().map(|finish| {
        let mut values: Vec<Value> = vec![finish.id.into(), finish.token.into()];
        values.extend(finish.done.columns().into_iter().map(|(_, value)| value));
        ValueTuple::Many(values)
    });
    let mut update = Query::update();
    update
        .table(screening::Entity)
        .value(screening::Column::State, DONE)
        .from(TableRef::ValuesList(rows.collect(), list.clone().into_iden()))
        .and_where(Expr::col((screening::Entity, screening::Column::Id)).equals((list.clone(), Alias::new("column1"))))
        .and_where(Expr::col((screening::Entity, screening::Column::State)).eq(PENDING))
        .and_where(
            Expr::col((screening::Entity, screening::Column::ClaimToken)).equals((list.clone(), Alias::new("column2"))),
        );
    if let Some(first) = finishes.first() {
        for (n, (column, _)) in first.done.columns().into_iter().enumerate() {
            update.value(column, value(n + 3));
        }
    }
    update
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
