//! Shops: the tenants. Every other row belongs to one.

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use super::entities::shop;

/// Creates the shop when it does not exist yet. Returns whether it was created.
pub async fn ensure(db: &impl ConnectionTrait, shop_id: &str) -> Result<bool, DbErr> {
    let inserted = shop::Entity::insert(shop::ActiveModel {
        id: Set(shop_id.to_string()),
        created_at: Set(Utc::now()),
        config_version: Set(0),
    })
    .on_conflict(OnConflict::column(shop::Column::Id).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    Ok(inserted > 0)
}

pub async fn count(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    shop::Entity::find().count(db).await
}

/// Marks a change to what checkout sees (payment methods, provider accounts).
pub async fn bump_config_version(db: &impl ConnectionTrait, shop_id: &str) -> Result<(), DbErr> {
    shop::Entity::update_many()
        .col_expr(
            shop::Column::ConfigVersion,
            Expr::col(shop::Column::ConfigVersion).add(1),
        )
        .filter(shop::Column::Id.eq(shop_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The shop's checkout configuration version (0 for an unknown shop).
pub async fn config_version(db: &impl ConnectionTrait, shop_id: &str) -> Result<i64, DbErr> {
    Ok(shop::Entity::find_by_id(shop_id.to_string())
        .select_only()
        .column(shop::Column::ConfigVersion)
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or(0))
}
