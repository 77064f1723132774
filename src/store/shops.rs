//! Shops: the tenants. Every other row belongs to one.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, sea_query::OnConflict};

use super::entities::shop;

/// Creates the shop when it does not exist yet. Returns whether it was created.
pub async fn ensure(db: &impl ConnectionTrait, shop_id: &str) -> Result<bool, DbErr> {
    let inserted = shop::Entity::insert(shop::ActiveModel {
        id: Set(shop_id.to_string()),
        created_at: Set(Utc::now()),
    })
    .on_conflict(OnConflict::column(shop::Column::Id).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    Ok(inserted > 0)
}

pub async fn count(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    shop::Entity::find().count(db).await
}
