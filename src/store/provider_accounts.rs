//! Provider account rows and their sealed secrets.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};

use super::entities::{provider_account, provider_secret};

pub use provider_account::Model as AccountRow;
pub use provider_secret::Model as SecretRow;

pub async fn find(db: &impl ConnectionTrait, shop_id: &str, provider: &str) -> Result<Option<AccountRow>, DbErr> {
    provider_account::Entity::find()
        .filter(provider_account::Column::ShopId.eq(shop_id))
        .filter(provider_account::Column::Provider.eq(provider))
        .one(db)
        .await
}

pub async fn list(db: &impl ConnectionTrait, shop_id: &str) -> Result<Vec<AccountRow>, DbErr> {
    provider_account::Entity::find()
        .filter(provider_account::Column::ShopId.eq(shop_id))
        .all(db)
        .await
}

pub async fn insert(
    db: &impl ConnectionTrait,
    shop_id: &str,
    provider: &str,
    enabled: bool,
    settings: &str,
    at: DateTime<Utc>,
) -> Result<AccountRow, DbErr> {
    provider_account::ActiveModel {
        shop_id: Set(shop_id.to_string()),
        provider: Set(provider.to_string()),
        enabled: Set(enabled),
        settings: Set(settings.to_string()),
        version: Set(1),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Writes new settings when the row is still at `version`. Returns whether it was.
pub async fn update(
    db: &impl ConnectionTrait,
    id: i64,
    version: i64,
    enabled: bool,
    settings: &str,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = provider_account::Entity::update_many()
        .col_expr(provider_account::Column::Enabled, Expr::value(enabled))
        .col_expr(provider_account::Column::Settings, Expr::value(settings))
        .col_expr(provider_account::Column::Version, Expr::value(version + 1))
        .col_expr(provider_account::Column::UpdatedAt, Expr::value(at))
        .filter(provider_account::Column::Id.eq(id))
        .filter(provider_account::Column::Version.eq(version))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes the row (and its secrets) when still at `version`. Returns whether it was.
pub async fn delete(db: &impl ConnectionTrait, row: &AccountRow) -> Result<bool, DbErr> {
    let result = provider_account::Entity::delete_many()
        .filter(provider_account::Column::Id.eq(row.id))
        .filter(provider_account::Column::Version.eq(row.version))
        .exec(db)
        .await?;
    if result.rows_affected == 1 {
        provider_secret::Entity::delete_many()
            .filter(provider_secret::Column::ShopId.eq(&row.shop_id))
            .filter(provider_secret::Column::Provider.eq(&row.provider))
            .exec(db)
            .await?;
    }
    Ok(result.rows_affected == 1)
}

pub async fn secrets(db: &impl ConnectionTrait, shop_id: &str, provider: &str) -> Result<Vec<SecretRow>, DbErr> {
    provider_secret::Entity::find()
        .filter(provider_secret::Column::ShopId.eq(shop_id))
        .filter(provider_secret::Column::Provider.eq(provider))
        .all(db)
        .await
}

pub struct SealedValue<'a> {
    pub shop_id: &'a str,
    pub provider: &'a str,
    pub field: &'a str,
    pub sealed: &'a str,
    pub key_id: &'a str,
}

pub async fn put_secret(db: &impl ConnectionTrait, value: SealedValue<'_>, at: DateTime<Utc>) -> Result<(), DbErr> {
    let existing = provider_secret::Entity::find()
        .filter(provider_secret::Column::ShopId.eq(value.shop_id))
        .filter(provider_secret::Column::Provider.eq(value.provider))
        .filter(provider_secret::Column::Field.eq(value.field))
        .one(db)
        .await?;
    match existing {
        Some(row) => {
            let mut active: provider_secret::ActiveModel = row.into();
            active.sealed = Set(value.sealed.to_string());
            active.key_id = Set(value.key_id.to_string());
            active.updated_at = Set(at);
            active.update(db).await?;
        }
        None => {
            provider_secret::ActiveModel {
                shop_id: Set(value.shop_id.to_string()),
                provider: Set(value.provider.to_string()),
                field: Set(value.field.to_string()),
                sealed: Set(value.sealed.to_string()),
                key_id: Set(value.key_id.to_string()),
                updated_at: Set(at),
                ..Default::default()
            }
            .insert(db)
            .await?;
        }
    }
    Ok(())
}

pub async fn delete_secret(db: &impl ConnectionTrait, shop_id: &str, provider: &str, field: &str) -> Result<(), DbErr> {
    provider_secret::Entity::delete_many()
        .filter(provider_secret::Column::ShopId.eq(shop_id))
        .filter(provider_secret::Column::Provider.eq(provider))
        .filter(provider_secret::Column::Field.eq(field))
        .exec(db)
        .await?;
    Ok(())
}

/// Up to `limit` secrets with an id above `after_id` sealed under a key other than
/// `key_id`, in id order.
pub async fn secrets_not_under(
    db: &impl ConnectionTrait,
    key_id: &str,
    after_id: i64,
    limit: u64,
) -> Result<Vec<SecretRow>, DbErr> {
    provider_secret::Entity::find()
        .filter(provider_secret::Column::KeyId.ne(key_id))
        .filter(provider_secret::Column::Id.gt(after_id))
        .order_by_asc(provider_secret::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Replaces a sealed value only if it is still `old` (a concurrent write wins).
pub async fn reseal(db: &impl ConnectionTrait, id: i64, old: &str, new: &str, key_id: &str) -> Result<bool, DbErr> {
    let result = provider_secret::Entity::update_many()
        .col_expr(provider_secret::Column::Sealed, Expr::value(new))
        .col_expr(provider_secret::Column::KeyId, Expr::value(key_id))
        .filter(provider_secret::Column::Id.eq(id))
        .filter(provider_secret::Column::Sealed.eq(old))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}
