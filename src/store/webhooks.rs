//! Webhook endpoints, the outbox of deliveries, and the attempts to send them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::{
        Alias, Expr, ExprTrait, InsertStatement, JoinType, LockBehavior, LockType, Query, SelectStatement, SimpleExpr,
        ValueTuple,
    },
};

use super::entities::{event, webhook_attempt, webhook_delivery, webhook_endpoint};

pub use webhook_attempt::Model as AttemptRow;
pub use webhook_delivery::Model as DeliveryRow;
pub use webhook_endpoint::Model as EndpointRow;

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

/// A new endpoint, its secret already sealed.
pub struct NewEndpoint<'a> {
    pub public_id: &'a str,
    pub shop_id: &'a str,
    pub url: &'a str,
    pub description: Option<&'a str>,
    pub events: &'a str,
    pub enabled: bool,
    pub sealed_secret: &'a str,
    pub at: DateTime<Utc>,
}

pub async fn insert_endpoint(db: &impl ConnectionTrait, new: NewEndpoint<'_>) -> Result<EndpointRow, DbErr> {
    webhook_endpoint::ActiveModel {
        public_id: Set(new.public_id.to_string()),
        shop_id: Set(new.shop_id.to_string()),
        url: Set(new.url.to_string()),
        description: Set(new.description.map(str::to_string)),
        events: Set(new.events.to_string()),
        enabled: Set(new.enabled),
        secret: Set(new.sealed_secret.to_string()),
        previous_secret: Set(None),
        previous_secret_until: Set(None),
        older_secrets: Set(None),
        failing_since: Set(None),
        version: Set(1),
        created_at: Set(new.at),
        updated_at: Set(new.at),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn find_endpoint(
    db: &impl ConnectionTrait,
    shop_id: &str,
    public_id: &str,
) -> Result<Option<EndpointRow>, DbErr> {
    webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::ShopId.eq(shop_id))
        .filter(webhook_endpoint::Column::PublicId.eq(public_id))
        .one(db)
        .await
}

/// The shop's endpoints, oldest first, after the row id `after` when given.
pub async fn list_endpoints(
    db: &impl ConnectionTrait,
    shop_id: &str,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<EndpointRow>, DbErr> {
    let query = webhook_endpoint::Entity::find().filter(webhook_endpoint::Column::ShopId.eq(shop_id));
    super::oldest_first(query, webhook_endpoint::Column::Id, after, limit)
        .all(db)
        .await
}

/// The shop's enabled endpoints (the caller filters by event type).
/// The enabled endpoints of these shops, oldest first.
pub async fn enabled_endpoints(db: &impl ConnectionTrait, shop_ids: &[&str]) -> Result<Vec<EndpointRow>, DbErr> {
    enabled_endpoints_query(shop_ids).all(db).await
}

/// The query of `enabled_endpoints`.
pub fn enabled_endpoints_query(shop_ids: &[&str]) -> Select<webhook_endpoint::Entity> {
    webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::ShopId.is_in(shop_ids.iter().copied()))
        .filter(webhook_endpoint::Column::Enabled.eq(true))
        .order_by_asc(webhook_endpoint::Column::Id)
}

pub async fn endpoints_by_id(db: &impl ConnectionTrait, ids: Vec<i64>) -> Result<Vec<EndpointRow>, DbErr> {
    webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Id.is_in(ids))
        .all(db)
        .await
}

/// Writes the endpoint's new state when it is still at its version. Returns whether it was.
pub async fn update_endpoint(db: &impl ConnectionTrait, row: &EndpointRow, new: EndpointRow) -> Result<bool, DbErr> {
    let result = webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::Url, Expr::value(new.url))
        .col_expr(webhook_endpoint::Column::Description, Expr::value(new.description))
        .col_expr(webhook_endpoint::Column::Events, Expr::value(new.events))
        .col_expr(webhook_endpoint::Column::Enabled, Expr::value(new.enabled))
        .col_expr(webhook_endpoint::Column::Secret, Expr::value(new.secret))
        .col_expr(
            webhook_endpoint::Column::PreviousSecret,
            Expr::value(new.previous_secret),
        )
        .col_expr(
            webhook_endpoint::Column::PreviousSecretUntil,
            Expr::value(new.previous_secret_until),
        )
        .col_expr(webhook_endpoint::Column::OlderSecrets, Expr::value(new.older_secrets))
        .col_expr(webhook_endpoint::Column::FailingSince, Expr::value(new.failing_since))
        .col_expr(webhook_endpoint::Column::Version, Expr::value(row.version + 1))
        .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(new.updated_at))
        .filter(webhook_endpoint::Column::Id.eq(row.id))
        .filter(webhook_endpoint::Column::Version.eq(row.version))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes the endpoint with its deliveries (the pending ones are cancelled) and their
/// attempts. An attempt in flight meanwhile finds its delivery gone and records nothing
/// (`record_attempt`).
pub async fn delete_endpoint(db: &impl ConnectionTrait, row: &EndpointRow) -> Result<bool, DbErr> {
    // Its deliveries and their attempts go with it (foreign keys cascade on PostgreSQL;
    // SQLite's are not enforced by every connection, so delete them explicitly).
    let deliveries: Vec<i64> = webhook_delivery::Entity::find()
        .select_only()
        .column(webhook_delivery::Column::Id)
        .filter(webhook_delivery::Column::EndpointId.eq(row.id))
        .into_tuple()
        .all(db)
        .await?;
    for chunk in deliveries.chunks(500) {
        webhook_attempt::Entity::delete_many()
            .filter(webhook_attempt::Column::DeliveryId.is_in(chunk.to_vec()))
            .exec(db)
            .await?;
    }
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::EndpointId.eq(row.id))
        .exec(db)
        .await?;
    let result = webhook_endpoint::Entity::delete_many()
        .filter(webhook_endpoint::Column::Id.eq(row.id))
        .filter(webhook_endpoint::Column::Version.eq(row.version))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// One delivery to queue.
pub struct NewDelivery {
    pub public_id: String,
    pub shop_id: String,
    pub endpoint_id: i64,
    pub event_id: i64,
    pub at: DateTime<Utc>,
}

/// A delivery, due at once, of an event written earlier in the same script, which it
/// names by the event's public id.
pub struct NewEventDelivery {
    pub public_id: String,
    pub shop_id: String,
    pub endpoint_id: i64,
    pub event_public_id: String,
    pub at: DateTime<Utc>,
}

/// SQLite, in a write script (`write::WriterConnection::script_transaction`):
/// `INSERT INTO webhook_deliveries … SELECT … FROM (VALUES …) JOIN events`, the deliveries whose event
/// was written (an event its script did not write, as its finish was lost, gets none).
/// At most 64 rows (`super::statement_chunks`); `None` without any.
pub fn insert_event_deliveries(new: &[NewEventDelivery]) -> Option<InsertStatement> {
    if new.is_empty() {
        return None;
    }
    let list = Alias::new("due");
    let value = |n: usize| Expr::col((list.clone(), Alias::new(format!("column{n}"))));
    let rows = new.iter().map(|d| {
        ValueTuple::Many(vec![
            d.public_id.clone().into(),
            d.shop_id.clone().into(),
            d.endpoint_id.into(),
            d.event_public_id.clone().into(),
            d.at.into(),
        ])
    });
    let mut select = Query::select();
    select
        .exprs([value(1), value(2), value(3)])
        .expr(Expr::col((event::Entity, event::Column::Id)))
        .expr(Expr::val(PENDING))
        .expr(Expr::val(0))
        .exprs([value(5), value(5), value(5)])
        .from_values(rows, list.clone())
        .inner_join(
            event::Entity,
            Expr::col((event::Entity, event::Column::PublicId)).equals((list, Alias::new("column4"))),
        );
    Some(insert_selected(select))
}

/// PostgreSQL, in a `WITH` statement: the deliveries, due at once, of the events of
/// `events` (a part of the statement returning the events' `id`, `shop_id`,
/// `event_type` and `created_at`) to every enabled endpoint of their shop subscribed to
/// their type. On SQLite `events::emit_all` and `events::deliveries_of_new` do the same
/// in Rust; the subscription test is `events::subscribes`'s: the endpoint's JSON list
/// holds the type's name.
pub fn deliveries_of(events: Alias) -> InsertStatement {
    use webhook_endpoint::Column as E;
    let endpoint = Alias::new("endpoint");
    let event = |column: &str| Expr::col((events.clone(), Alias::new(column)));
    let mut select = Query::select();
    select
        // `whd_` and 16 random bytes in URL-safe base64 without padding, as
        // `crypto::random_token::<16>` writes them.
        .expr(Expr::cust(
            "'whd_' || rtrim(translate(encode(uuid_send(gen_random_uuid()), 'base64'), '+/', '-_'), '=')",
        ))
        .expr(event("shop_id"))
        .expr(Expr::col((endpoint.clone(), E::Id)))
        .expr(event("id"))
        .expr(Expr::val(PENDING))
        .expr(Expr::val(0))
        .exprs([event("created_at"), event("created_at"), event("created_at")])
        .from(events.clone())
        .join_as(
            JoinType::InnerJoin,
            webhook_endpoint::Entity,
            endpoint.clone(),
            Condition::all()
                .add(Expr::col((endpoint.clone(), E::ShopId)).equals((events.clone(), Alias::new("shop_id"))))
                .add(Expr::col((endpoint.clone(), E::Enabled)).eq(true))
                .add(Expr::cust_with_exprs(
                    "$1::jsonb @> jsonb_build_array($2)",
                    [Expr::col((endpoint, E::Events)), event("event_type")],
                )),
        );
    insert_selected(select)
}

/// `INSERT INTO webhook_deliveries … SELECT`: `select` gives the public id, shop, endpoint
/// and event ids, status, attempts, and the due, created and updated instants.
fn insert_selected(select: SelectStatement) -> InsertStatement {
    use webhook_delivery::Column as D;
    let mut insert = Query::insert();
    insert
        .into_table(webhook_delivery::Entity)
        .columns([
            D::PublicId,
            D::ShopId,
            D::EndpointId,
            D::EventId,
            D::Status,
            D::Attempts,
            D::NextAttemptAt,
            D::CreatedAt,
            D::UpdatedAt,
        ])
        .select_from(select)
        .expect("nine columns selected for nine");
    insert
}

pub async fn insert_deliveries(db: &impl ConnectionTrait, new: Vec<NewDelivery>) -> Result<(), DbErr> {
    let rows = new.len();
    let mut models = new.into_iter().map(|d| webhook_delivery::ActiveModel {
        public_id: Set(d.public_id),
        shop_id: Set(d.shop_id),
        endpoint_id: Set(d.endpoint_id),
        event_id: Set(d.event_id),
        status: Set(PENDING.to_string()),
        attempts: Set(0),
        next_attempt_at: Set(d.at),
        claimed_until: Set(None),
        last_status_code: Set(None),
        created_at: Set(d.at),
        updated_at: Set(d.at),
        ..Default::default()
    });
    for size in super::statement_sizes(rows) {
        webhook_delivery::Entity::insert_many(models.by_ref().take(size))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

fn due(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(webhook_delivery::Column::Status.eq(PENDING))
        .add(webhook_delivery::Column::NextAttemptAt.lte(now))
        .add(
            Condition::any()
                .add(webhook_delivery::Column::ClaimedUntil.is_null())
                .add(webhook_delivery::Column::ClaimedUntil.lt(now)),
        )
}

/// How many deliveries one claim may take, and how many may be in flight (claimed and
/// not yet recorded, on any replica) per endpoint and per shop.
#[derive(Debug, Clone, Copy)]
pub struct ClaimLimits {
    pub total: u64,
    pub per_endpoint: u64,
    pub per_shop: u64,
}

/// Due deliveries, now claimed by the caller until `until`, taken endpoint by endpoint
/// so that no endpoint's backlog fills the claim: each endpoint (of an enabled
/// endpoint; a disabled one's deliveries wait) gets at most `per_endpoint` in flight
/// and each shop `per_shop`, counting the claims other passes and replicas hold. Each
/// row is claimed by one caller: on PostgreSQL the candidates are locked with
/// `FOR UPDATE SKIP LOCKED`; everywhere the claim is a conditional UPDATE that only an
/// unclaimed (or expired) row passes.
pub async fn claim_fair(
    db: &sea_orm::DatabaseConnection,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limits: ClaimLimits,
) -> Result<Vec<DeliveryRow>, DbErr> {
    use webhook_delivery::Column as D;
    if limits.total == 0 {
        return Ok(Vec::new());
    }
    // Most passes find nothing due: reads say so without taking a write turn.
    let waiting = waiting_endpoints(db, now).await?;
    if waiting.is_empty() {
        return Ok(Vec::new());
    }
    let (by_endpoint, mut by_shop) = in_flight(db, now).await?;
    let has_room = |endpoint: &i64, shop: &String| {
        by_endpoint.get(endpoint).copied().unwrap_or(0) < limits.per_endpoint
            && by_shop.get(shop).copied().unwrap_or(0) < limits.per_shop
    };
    let waiting: Vec<(i64, String)> = waiting.into_iter().filter(|(e, s)| has_room(e, s)).collect();
    if waiting.is_empty() {
        // Only endpoints at their bound wait (a stalled receiver's backlog): no write turn.
        return Ok(Vec::new());
    }
    let txn = super::begin_write(db).await?;
    let mut claimed = Vec::new();
    let mut left = limits.total;
    for (endpoint, shop) in waiting {
        if left == 0 {
            break;
        }
        let endpoint_busy = by_endpoint.get(&endpoint).copied().unwrap_or(0);
        let shop_busy = by_shop.get(&shop).copied().unwrap_or(0);
        let room = Ord::min(
            left,
            Ord::min(
                limits.per_endpoint.saturating_sub(endpoint_busy),
                limits.per_shop.saturating_sub(shop_busy),
            ),
        );
        if room == 0 {
            continue;
        }
        let mut candidates = webhook_delivery::Entity::find()
            .filter(due(now))
            .filter(D::EndpointId.eq(endpoint))
            .order_by_asc(D::NextAttemptAt)
            .limit(room);
        if super::is_postgres(db) {
            candidates = candidates.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        for mut row in candidates.all(&txn).await? {
            let result = webhook_delivery::Entity::update_many()
                .col_expr(D::ClaimedUntil, Expr::value(Some(until)))
                .filter(D::Id.eq(row.id))
                .filter(due(now))
                .exec(&txn)
                .await?;
            if result.rows_affected == 1 {
                row.claimed_until = Some(until);
                claimed.push(row);
                left -= 1;
                *by_shop.entry(shop.clone()).or_default() += 1;
            }
        }
    }
    txn.commit().await?;
    Ok(claimed)
}

/// The enabled endpoints with due deliveries, with their shop, the longest waiting first.
async fn waiting_endpoints(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Vec<(i64, String)>, DbErr> {
    use webhook_delivery::Column as D;
    let enabled = Query::select()
        .column(webhook_endpoint::Column::Id)
        .from(webhook_endpoint::Entity)
        .and_where(Expr::col(webhook_endpoint::Column::Enabled).eq(true))
        .to_owned();
    webhook_delivery::Entity::find()
        .select_only()
        .columns([D::EndpointId, D::ShopId])
        .filter(due(now))
        .filter(Expr::col(D::EndpointId).in_subquery(enabled))
        .group_by(D::EndpointId)
        .group_by(D::ShopId)
        .order_by(Expr::col(D::NextAttemptAt).min(), Order::Asc)
        .limit(1000)
        .into_tuple()
        .all(db)
        .await
}

/// Deliveries claimed and not yet recorded (by any replica), per endpoint and per shop.
async fn in_flight(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<(HashMap<i64, u64>, HashMap<String, u64>), DbErr> {
    use webhook_delivery::Column as D;
    let busy: Vec<(i64, String, i64)> = webhook_delivery::Entity::find()
        .select_only()
        .columns([D::EndpointId, D::ShopId])
        .expr(Expr::col(D::Id).count())
        .filter(D::Status.eq(PENDING))
        .filter(D::ClaimedUntil.gte(now))
        .group_by(D::EndpointId)
        .group_by(D::ShopId)
        .into_tuple()
        .all(db)
        .await?;
    let mut by_endpoint: HashMap<i64, u64> = HashMap::new();
    let mut by_shop: HashMap<String, u64> = HashMap::new();
    for (endpoint, shop, count) in busy {
        let count = u64::try_from(count).unwrap_or(0);
        *by_endpoint.entry(endpoint).or_default() += count;
        *by_shop.entry(shop).or_default() += count;
    }
    Ok((by_endpoint, by_shop))
}

/// What one attempt came to.
pub struct AttemptRecord<'a> {
    pub delivery: &'a DeliveryRow,
    pub at: DateTime<Utc>,
    pub latency_ms: i64,
    pub status_code: Option<i32>,
    /// `delivered`, `retrying` or `failed`: also the delivery's new status.
    pub outcome: &'a str,
    pub error: Option<&'a str>,
    /// When to try again (`retrying` only).
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Appends the attempt and moves the delivery on, releasing its claim, if the delivery
/// is still pending under this claim. A delivery deleted meanwhile (its endpoint was)
/// or claimed by another since is left alone: nothing is written, `false` is returned.
pub async fn record_attempt(db: &impl ConnectionTrait, attempt: AttemptRecord<'_>) -> Result<bool, DbErr> {
    let delivery = attempt.delivery;
    let status = if attempt.outcome == "retrying" {
        PENDING
    } else {
        attempt.outcome
    };
    let moved = webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(status))
        .col_expr(webhook_delivery::Column::Attempts, Expr::value(delivery.attempts + 1))
        .col_expr(
            webhook_delivery::Column::NextAttemptAt,
            Expr::value(attempt.next_attempt_at.unwrap_or(delivery.next_attempt_at)),
        )
        .col_expr(
            webhook_delivery::Column::ClaimedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            webhook_delivery::Column::LastStatusCode,
            Expr::value(attempt.status_code),
        )
        .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(attempt.at))
        .filter(held(delivery))
        .exec(db)
        .await?;
    if moved.rows_affected != 1 {
        return Ok(false);
    }
    webhook_attempt::ActiveModel {
        delivery_id: Set(delivery.id),
        endpoint_id: Set(delivery.endpoint_id),
        attempted_at: Set(attempt.at),
        latency_ms: Set(attempt.latency_ms),
        status_code: Set(attempt.status_code),
        outcome: Set(attempt.outcome.to_string()),
        error: Set(attempt.error.map(str::to_string)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(true)
}

/// The delivery, still pending under the claim its row was read with.
fn held(delivery: &DeliveryRow) -> Condition {
    let claim = match delivery.claimed_until {
        Some(until) => webhook_delivery::Column::ClaimedUntil.eq(until),
        None => webhook_delivery::Column::ClaimedUntil.is_null(),
    };
    Condition::all()
        .add(webhook_delivery::Column::Id.eq(delivery.id))
        .add(webhook_delivery::Column::Status.eq(PENDING))
        .add(claim)
}

/// Gives a claimed delivery back without an attempt (its endpoint was disabled meanwhile).
pub async fn release(db: &impl ConnectionTrait, delivery: &DeliveryRow) -> Result<(), DbErr> {
    webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::ClaimedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(held(delivery))
        .exec(db)
        .await?;
    Ok(())
}

/// The endpoint answered 2xx: it is failing no more.
pub async fn endpoint_succeeded(db: &impl ConnectionTrait, endpoint_id: i64) -> Result<(), DbErr> {
    webhook_endpoint::Entity::update_many()
        .col_expr(
            webhook_endpoint::Column::FailingSince,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(webhook_endpoint::Column::Id.eq(endpoint_id))
        .filter(webhook_endpoint::Column::FailingSince.is_not_null())
        .exec(db)
        .await?;
    Ok(())
}

/// An attempt failed at `at`: the endpoint is failing since then, unless since earlier.
pub async fn endpoint_failed(db: &impl ConnectionTrait, endpoint_id: i64, at: DateTime<Utc>) -> Result<(), DbErr> {
    webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::FailingSince, Expr::value(Some(at)))
        .filter(webhook_endpoint::Column::Id.eq(endpoint_id))
        .filter(webhook_endpoint::Column::FailingSince.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Disables an enabled endpoint (a new version). Returns whether this call disabled it.
pub async fn disable_endpoint(db: &impl ConnectionTrait, endpoint_id: i64, at: DateTime<Utc>) -> Result<bool, DbErr> {
    let result = webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::Enabled, Expr::value(false))
        .col_expr(
            webhook_endpoint::Column::FailingSince,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            webhook_endpoint::Column::Version,
            Expr::col(webhook_endpoint::Column::Version).add(1),
        )
        .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(at))
        .filter(webhook_endpoint::Column::Id.eq(endpoint_id))
        .filter(webhook_endpoint::Column::Enabled.eq(true))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Makes the endpoint's pending deliveries due at once (it was enabled again).
pub async fn release_pending(db: &impl ConnectionTrait, endpoint_id: i64, at: DateTime<Utc>) -> Result<(), DbErr> {
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(at))
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id))
        .filter(webhook_delivery::Column::Status.eq(PENDING))
        .filter(webhook_delivery::Column::NextAttemptAt.gt(at))
        .exec(db)
        .await?;
    Ok(())
}

/// Deliveries that failed to reach an endpoint for good: a failed delivery of the event
/// to the endpoint, and none delivered or pending to it since. `endpoint` restricts it
/// to one endpoint (row id).
fn failed_condition(endpoint: Option<i64>) -> SimpleExpr {
    let mut failed = Query::select()
        .expr(Expr::val(1))
        .from_as(webhook_delivery::Entity, Alias::new("f"))
        .and_where(
            Expr::col((Alias::new("f"), webhook_delivery::Column::EventId)).equals((event::Entity, event::Column::Id)),
        )
        .and_where(Expr::col((Alias::new("f"), webhook_delivery::Column::Status)).eq(FAILED))
        .and_where(
            Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from_as(webhook_delivery::Entity, Alias::new("o"))
                    .and_where(
                        Expr::col((Alias::new("o"), webhook_delivery::Column::EventId))
                            .equals((Alias::new("f"), webhook_delivery::Column::EventId)),
                    )
                    .and_where(
                        Expr::col((Alias::new("o"), webhook_delivery::Column::EndpointId))
                            .equals((Alias::new("f"), webhook_delivery::Column::EndpointId)),
                    )
                    .and_where(
                        Expr::col((Alias::new("o"), webhook_delivery::Column::Status)).is_in([DELIVERED, PENDING]),
                    )
                    .to_owned(),
            )
            .not(),
        )
        .to_owned();
    if let Some(endpoint) = endpoint {
        failed.and_where(Expr::col((Alias::new("f"), webhook_delivery::Column::EndpointId)).eq(endpoint));
    }
    Expr::exists(failed)
}

/// The shop's events whose delivery failed (to `endpoint` when given), newest first,
/// before the row id `before` when given.
pub async fn failed_events(
    db: &impl ConnectionTrait,
    shop_id: &str,
    endpoint: Option<i64>,
    types: &[&str],
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<event::Model>, DbErr> {
    let query = event::Entity::find()
        .filter(event::Column::ShopId.eq(shop_id))
        .filter(event::Column::EventType.is_in(types.iter().copied()))
        .filter(failed_condition(endpoint));
    super::newest_first(query, event::Column::Id, before, limit)
        .all(db)
        .await
}

/// The events created at or after `since` that failed to reach the endpoint (row id),
/// oldest first, at most `limit`.
pub async fn failed_event_ids(
    db: &impl ConnectionTrait,
    shop_id: &str,
    endpoint: i64,
    since: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<i64>, DbErr> {
    event::Entity::find()
        .select_only()
        .column(event::Column::Id)
        .filter(event::Column::ShopId.eq(shop_id))
        .filter(event::Column::CreatedAt.gte(since))
        .filter(failed_condition(Some(endpoint)))
        .order_by_asc(event::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// Retention: deletes up to `batch` events created before `cutoff` that no pending
/// delivery carries, with their deliveries and attempts, and attempts before `cutoff`
/// of deliveries that are not pending. Returns how many rows went.
pub async fn delete_expired(db: &impl ConnectionTrait, cutoff: DateTime<Utc>, batch: u64) -> Result<u64, DbErr> {
    use webhook_delivery::Column as D;
    let pending = Query::select()
        .column(D::EventId)
        .from(webhook_delivery::Entity)
        .and_where(Expr::col(D::Status).eq(PENDING))
        .to_owned();
    let events: Vec<i64> = event::Entity::find()
        .select_only()
        .column(event::Column::Id)
        .filter(event::Column::CreatedAt.lt(cutoff))
        .filter(Expr::col(event::Column::Id).not_in_subquery(pending))
        .order_by_asc(event::Column::Id)
        .limit(batch)
        .into_tuple()
        .all(db)
        .await?;
    let mut deleted = 0;
    if !events.is_empty() {
        let deliveries: Vec<i64> = webhook_delivery::Entity::find()
            .select_only()
            .column(D::Id)
            .filter(D::EventId.is_in(events.clone()))
            .filter(D::Status.ne(PENDING))
            .into_tuple()
            .all(db)
            .await?;
        if !deliveries.is_empty() {
            deleted += webhook_attempt::Entity::delete_many()
                .filter(webhook_attempt::Column::DeliveryId.is_in(deliveries.clone()))
                .exec(db)
                .await?
                .rows_affected;
            deleted += webhook_delivery::Entity::delete_many()
                .filter(D::Id.is_in(deliveries))
                .filter(D::Status.ne(PENDING))
                .exec(db)
                .await?
                .rows_affected;
        }
        deleted += event::Entity::delete_many()
            .filter(event::Column::Id.is_in(events))
            .exec(db)
            .await?
            .rows_affected;
    }
    // Old attempts of deliveries that go on (a redelivery of a recent event keeps its
    // event; an old attempt of a settled delivery goes).
    let settled = Query::select()
        .column(D::Id)
        .from(webhook_delivery::Entity)
        .and_where(Expr::col(D::Status).ne(PENDING))
        .to_owned();
    let attempts: Vec<i64> = webhook_attempt::Entity::find()
        .select_only()
        .column(webhook_attempt::Column::Id)
        .filter(webhook_attempt::Column::AttemptedAt.lt(cutoff))
        .filter(Expr::col(webhook_attempt::Column::DeliveryId).in_subquery(settled))
        .limit(batch)
        .into_tuple()
        .all(db)
        .await?;
    if !attempts.is_empty() {
        deleted += webhook_attempt::Entity::delete_many()
            .filter(webhook_attempt::Column::Id.is_in(attempts))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(deleted)
}

/// The endpoint's deliveries, newest first, before the row id `before` when given.
pub async fn list_deliveries(
    db: &impl ConnectionTrait,
    endpoint_id: i64,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<DeliveryRow>, DbErr> {
    let query = webhook_delivery::Entity::find().filter(webhook_delivery::Column::EndpointId.eq(endpoint_id));
    super::newest_first(query, webhook_delivery::Column::Id, before, limit)
        .all(db)
        .await
}

/// The attempts of these deliveries, oldest first.
pub async fn attempts_of(db: &impl ConnectionTrait, delivery_ids: Vec<i64>) -> Result<Vec<AttemptRow>, DbErr> {
    if delivery_ids.is_empty() {
        return Ok(Vec::new());
    }
    webhook_attempt::Entity::find()
        .filter(webhook_attempt::Column::DeliveryId.is_in(delivery_ids))
        .order_by_asc(webhook_attempt::Column::Id)
        .all(db)
        .await
}

/// Endpoints after the row id `after`, oldest first (for re-sealing every secret).
pub async fn endpoints_after(db: &impl ConnectionTrait, after: i64, limit: u64) -> Result<Vec<EndpointRow>, DbErr> {
    webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Id.gt(after))
        .order_by_asc(webhook_endpoint::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Replaces an endpoint's sealed secrets only if they are still those of `row` (a
/// concurrent rotation, a new version, wins).
pub async fn reseal_endpoint(
    db: &impl ConnectionTrait,
    row: &EndpointRow,
    secret: String,
    previous_secret: Option<String>,
    older_secrets: Option<String>,
) -> Result<bool, DbErr> {
    let update = webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::Secret, Expr::value(secret))
        .col_expr(webhook_endpoint::Column::PreviousSecret, Expr::value(previous_secret))
        .col_expr(webhook_endpoint::Column::OlderSecrets, Expr::value(older_secrets))
        .filter(webhook_endpoint::Column::Id.eq(row.id))
        .filter(webhook_endpoint::Column::Version.eq(row.version))
        .filter(webhook_endpoint::Column::Secret.eq(row.secret.as_str()));
    Ok(update.exec(db).await?.rows_affected == 1)
}
