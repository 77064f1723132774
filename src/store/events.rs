//! The shop's event log.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::entities::event;

pub use event::Model as EventRow;

/// One event to append.
pub struct NewEvent {
    pub public_id: String,
    pub shop_id: String,
    pub event_type: &'static str,
    pub data: String,
    pub created_at: DateTime<Utc>,
}

impl NewEvent {
    pub fn active_model(&self) -> event::ActiveModel {
        event::ActiveModel {
            public_id: Set(self.public_id.clone()),
            shop_id: Set(self.shop_id.clone()),
            event_type: Set(self.event_type.to_string()),
            data: Set(self.data.clone()),
            created_at: Set(self.created_at),
            ..Default::default()
        }
    }
}

/// Appends events with multi-row statements (`super::statement_sizes`); returns their
/// rows, in order.
pub async fn insert(db: &impl ConnectionTrait, new: &[NewEvent]) -> Result<Vec<EventRow>, DbErr> {
    let mut rows: HashMap<String, EventRow> = HashMap::new();
    for chunk in super::statement_chunks(new) {
        let models = chunk.iter().map(NewEvent::active_model);
        let inserted = event::Entity::insert_many(models).exec_with_returning(db).await?;
        rows.extend(inserted.into_iter().map(|row| (row.public_id.clone(), row)));
    }
    new.iter()
        .map(|new| rows.remove(&new.public_id).ok_or(DbErr::RecordNotInserted))
        .collect()
}

/// The shop's events, newest first, before the row id `before` (exclusive) when given.
pub async fn list(
    db: &impl ConnectionTrait,
    shop_id: &str,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<EventRow>, DbErr> {
    let query = event::Entity::find().filter(event::Column::ShopId.eq(shop_id));
    super::newest_first(query, event::Column::Id, before, limit)
        .all(db)
        .await
}

/// `list`, of these types only.
pub async fn list_of_types(
    db: &impl ConnectionTrait,
    shop_id: &str,
    types: &[&str],
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<EventRow>, DbErr> {
    let query = event::Entity::find()
        .filter(event::Column::ShopId.eq(shop_id))
        .filter(event::Column::EventType.is_in(types.iter().copied()));
    super::newest_first(query, event::Column::Id, before, limit)
        .all(db)
        .await
}

pub async fn find(db: &impl ConnectionTrait, shop_id: &str, public_id: &str) -> Result<Option<EventRow>, DbErr> {
    event::Entity::find()
        .filter(event::Column::ShopId.eq(shop_id))
        .filter(event::Column::PublicId.eq(public_id))
        .one(db)
        .await
}

pub async fn by_ids(db: &impl ConnectionTrait, ids: Vec<i64>) -> Result<Vec<EventRow>, DbErr> {
    event::Entity::find().filter(event::Column::Id.is_in(ids)).all(db).await
}
