//! The history of exchanges with O-PLUX per order: appended, never changed.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::entities::oplux_exchange;

pub use oplux_exchange::Model as ExchangeRow;

/// One exchange to append.
#[derive(Debug, Clone)]
pub struct NewExchange {
    pub shop_id: String,
    pub order_number: String,
    pub kind: &'static str,
    pub at: DateTime<Utc>,
    pub latency_ms: Option<i64>,
    pub outcome: &'static str,
    pub http_status: Option<i32>,
    /// JSON array of codes.
    pub codes: String,
}

impl NewExchange {
    pub fn active_model(self) -> oplux_exchange::ActiveModel {
        oplux_exchange::ActiveModel {
            shop_id: Set(self.shop_id),
            order_number: Set(self.order_number),
            kind: Set(self.kind.to_string()),
            at: Set(self.at),
            latency_ms: Set(self.latency_ms),
            outcome: Set(self.outcome.to_string()),
            http_status: Set(self.http_status),
            codes: Set(self.codes),
            ..Default::default()
        }
    }
}

impl NewExchange {
    /// An exchange that is never written: it stands in a multi-row statement's VALUES
    /// list for a row that has none, with the same types.
    pub fn placeholder() -> Self {
        Self {
            shop_id: String::new(),
            order_number: String::new(),
            kind: "",
            at: DateTime::UNIX_EPOCH,
            latency_ms: None,
            outcome: "",
            http_status: None,
            codes: String::new(),
        }
    }
}

pub async fn insert(db: &impl ConnectionTrait, new: NewExchange) -> Result<(), DbErr> {
    insert_many(db, vec![new]).await
}

/// Appends exchanges with multi-row statements (`super::statement_sizes`).
pub async fn insert_many(db: &impl ConnectionTrait, new: Vec<NewExchange>) -> Result<(), DbErr> {
    let rows = new.len();
    let mut models = new.into_iter().map(NewExchange::active_model);
    for size in super::statement_sizes(rows) {
        oplux_exchange::Entity::insert_many(models.by_ref().take(size))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// An order's exchanges, oldest first, after the row id `after` when given.
pub async fn list(
    db: &impl ConnectionTrait,
    shop_id: &str,
    order_number: &str,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<ExchangeRow>, DbErr> {
    let query = oplux_exchange::Entity::find()
        .filter(oplux_exchange::Column::ShopId.eq(shop_id))
        .filter(oplux_exchange::Column::OrderNumber.eq(order_number));
    super::oldest_first(query, oplux_exchange::Column::Id, after, limit)
        .all(db)
        .await
}
