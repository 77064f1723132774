//! API clients: their hashed secrets, scopes and revocation.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

use super::entities::api_client;

pub use api_client::Model as ApiClient;

pub struct NewClient<'a> {
    pub id: &'a str,
    pub shop_id: &'a str,
    pub name: &'a str,
    pub scopes: &'a str,
    pub secret_hash: &'a str,
}

pub async fn insert(db: &impl ConnectionTrait, client: NewClient<'_>) -> Result<ApiClient, DbErr> {
    api_client::ActiveModel {
        id: Set(client.id.to_string()),
        shop_id: Set(client.shop_id.to_string()),
        name: Set(client.name.to_string()),
        scopes: Set(client.scopes.to_string()),
        secret_hash: Set(client.secret_hash.to_string()),
        created_at: Set(Utc::now()),
        revoked_at: Set(None),
    }
    .insert(db)
    .await
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<ApiClient>, DbErr> {
    api_client::Entity::find_by_id(id.to_string()).one(db).await
}

pub async fn list(db: &impl ConnectionTrait, shop_id: Option<&str>) -> Result<Vec<ApiClient>, DbErr> {
    let mut query = api_client::Entity::find()
        .order_by_asc(api_client::Column::ShopId)
        .order_by_asc(api_client::Column::CreatedAt);
    if let Some(shop_id) = shop_id {
        query = query.filter(api_client::Column::ShopId.eq(shop_id));
    }
    query.all(db).await
}

/// Marks the client revoked. Returns the client as it now is, or `None` when unknown.
pub async fn revoke(db: &impl ConnectionTrait, id: &str, at: DateTime<Utc>) -> Result<Option<ApiClient>, DbErr> {
    let Some(client) = find(db, id).await? else {
        return Ok(None);
    };
    if client.revoked_at.is_some() {
        return Ok(Some(client));
    }
    let mut active: api_client::ActiveModel = client.into();
    active.revoked_at = Set(Some(at));
    active.update(db).await.map(Some)
}

/// Replaces a client's stored secret hash (a newer scheme or pepper, same secret).
pub async fn set_secret_hash(db: &impl ConnectionTrait, id: &str, secret_hash: &str) -> Result<(), DbErr> {
    api_client::Entity::update_many()
        .col_expr(
            api_client::Column::SecretHash,
            sea_orm::sea_query::Expr::value(secret_hash),
        )
        .filter(api_client::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}
