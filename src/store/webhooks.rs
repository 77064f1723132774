//! Webhook endpoints, the outbox of deliveries, and the attempts to send them.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::{
        Alias, Expr, ExprTrait, InsertStatement, JoinType, LockBehavior, LockType, Query, SelectStatement, ValueTuple,
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
        .col_expr(webhook_endpoint::Column::Version, Expr::value(row.version + 1))
        .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(new.updated_at))
        .filter(webhook_endpoint::Column::Id.eq(row.id))
        .filter(webhook_endpoint::Column::Version.eq(row.version))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

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

/// Up to `limit` due deliveries, now claimed by the caller until `until`. Each row is
/// claimed by one caller: on PostgreSQL the candidates are locked with
/// `FOR UPDATE SKIP LOCKED`; everywhere the claim is a conditional UPDATE that only an
/// unclaimed (or expired) row passes.
pub async fn claim_due(
    db: &sea_orm::DatabaseConnection,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<DeliveryRow>, DbErr> {
    // Most passes find nothing due: a read says so without taking a write turn.
    let any_due = webhook_delivery::Entity::find().filter(due(now)).one(db).await?;
    if any_due.is_none() {
        return Ok(Vec::new());
    }
    let txn = super::begin_write(db).await?;
    let mut candidates = webhook_delivery::Entity::find()
        .filter(due(now))
        .order_by_asc(webhook_delivery::Column::NextAttemptAt)
        .limit(limit);
    if super::is_postgres(db) {
        candidates = candidates.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let mut claimed = Vec::new();
    for mut row in candidates.all(&txn).await? {
        let result = webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::ClaimedUntil, Expr::value(Some(until)))
            .filter(webhook_delivery::Column::Id.eq(row.id))
            .filter(due(now))
            .exec(&txn)
            .await?;
        if result.rows_affected == 1 {
            row.claimed_until = Some(until);
            claimed.push(row);
        }
    }
    txn.commit().await?;
    Ok(claimed)
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

/// Appends the attempt and moves the delivery on, releasing its claim.
pub async fn record_attempt(db: &impl ConnectionTrait, attempt: AttemptRecord<'_>) -> Result<(), DbErr> {
    let delivery = attempt.delivery;
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
    let status = if attempt.outcome == "retrying" {
        PENDING
    } else {
        attempt.outcome
    };
    webhook_delivery::Entity::update_many()
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
        .filter(webhook_delivery::Column::Id.eq(delivery.id))
        .exec(db)
        .await?;
    Ok(())
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
/// concurrent rotation wins).
pub async fn reseal_endpoint(
    db: &impl ConnectionTrait,
    row: &EndpointRow,
    secret: String,
    previous_secret: Option<String>,
) -> Result<bool, DbErr> {
    let mut update = webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::Secret, Expr::value(secret))
        .col_expr(webhook_endpoint::Column::PreviousSecret, Expr::value(previous_secret))
        .filter(webhook_endpoint::Column::Id.eq(row.id))
        .filter(webhook_endpoint::Column::Secret.eq(row.secret.as_str()));
    update = match &row.previous_secret {
        Some(previous) => update.filter(webhook_endpoint::Column::PreviousSecret.eq(previous.as_str())),
        None => update.filter(webhook_endpoint::Column::PreviousSecret.is_null()),
    };
    Ok(update.exec(db).await?.rows_affected == 1)
}
