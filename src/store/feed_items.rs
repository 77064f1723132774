//! The shop's product items for the product data feed.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::OnConflict,
};

use super::entities::feed_item;

pub use feed_item::Model as FeedItem;

/// Inserts the items, replacing those with the same item id.
pub async fn upsert(db: &impl ConnectionTrait, items: Vec<FeedItem>) -> Result<(), DbErr> {
    if items.is_empty() {
        return Ok(());
    }
    let models = items.into_iter().map(|item| feed_item::ActiveModel {
        shop_id: Set(item.shop_id),
        item_id: Set(item.item_id),
        title: Set(item.title),
        description: Set(item.description),
        availability: Set(item.availability),
        condition: Set(item.condition),
        price: Set(item.price),
        link: Set(item.link),
        image_link: Set(item.image_link),
        brand: Set(item.brand),
        updated_at: Set(item.updated_at),
        ..Default::default()
    });
    feed_item::Entity::insert_many(models)
        .on_conflict(
            OnConflict::columns([feed_item::Column::ShopId, feed_item::Column::ItemId])
                .update_columns([
                    feed_item::Column::Title,
                    feed_item::Column::Description,
                    feed_item::Column::Availability,
                    feed_item::Column::Condition,
                    feed_item::Column::Price,
                    feed_item::Column::Link,
                    feed_item::Column::ImageLink,
                    feed_item::Column::Brand,
                    feed_item::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The shop's items in item-id order, after `after` (exclusive) when given.
pub async fn list(
    db: &impl ConnectionTrait,
    shop_id: &str,
    after: Option<&str>,
    limit: Option<u64>,
) -> Result<Vec<FeedItem>, DbErr> {
    let mut query = feed_item::Entity::find()
        .filter(feed_item::Column::ShopId.eq(shop_id))
        .order_by_asc(feed_item::Column::ItemId);
    if let Some(after) = after {
        query = query.filter(feed_item::Column::ItemId.gt(after));
    }
    if let Some(limit) = limit {
        query = query.limit(limit);
    }
    query.all(db).await
}

/// Deletes one item. Returns whether it existed.
pub async fn delete(db: &impl ConnectionTrait, shop_id: &str, item_id: &str) -> Result<bool, DbErr> {
    let result = feed_item::Entity::delete_many()
        .filter(feed_item::Column::ShopId.eq(shop_id))
        .filter(feed_item::Column::ItemId.eq(item_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

pub fn new_item(shop_id: &str, at: DateTime<Utc>) -> FeedItem {
    FeedItem {
        id: 0,
        shop_id: shop_id.to_string(),
        item_id: String::new(),
        title: String::new(),
        description: String::new(),
        availability: String::new(),
        condition: String::new(),
        price: 0,
        link: String::new(),
        image_link: String::new(),
        brand: String::new(),
        updated_at: at,
    }
}
