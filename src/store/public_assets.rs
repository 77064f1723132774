//! Files served without a token at unguessable URLs: EPOS banners and generated feeds.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, sea_query::OnConflict};

use super::entities::public_asset;

pub use public_asset::Model as PublicAsset;

pub const EPOS_BANNER: &str = "epos_banner";
pub const FACEBOOK_FEED: &str = "facebook_feed";

/// Stores the shop's asset of `kind`, replacing the previous one.
pub async fn put(
    db: &impl ConnectionTrait,
    shop_id: &str,
    kind: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(), DbErr> {
    public_asset::Entity::insert(public_asset::ActiveModel {
        shop_id: Set(shop_id.to_string()),
        kind: Set(kind.to_string()),
        token: Set(token.to_string()),
        content_type: Set(content_type.to_string()),
        body: Set(body),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([public_asset::Column::ShopId, public_asset::Column::Kind])
            .update_columns([
                public_asset::Column::Token,
                public_asset::Column::ContentType,
                public_asset::Column::Body,
                public_asset::Column::CreatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn find_by_token(db: &impl ConnectionTrait, kind: &str, token: &str) -> Result<Option<PublicAsset>, DbErr> {
    public_asset::Entity::find()
        .filter(public_asset::Column::Kind.eq(kind))
        .filter(public_asset::Column::Token.eq(token))
        .one(db)
        .await
}

pub async fn delete(db: &impl ConnectionTrait, shop_id: &str, kind: &str) -> Result<(), DbErr> {
    public_asset::Entity::delete_many()
        .filter(public_asset::Column::ShopId.eq(shop_id))
        .filter(public_asset::Column::Kind.eq(kind))
        .exec(db)
        .await?;
    Ok(())
}

/// Moves the shop's asset of `kind` to a new token (its old URL stops working).
pub async fn set_token(db: &impl ConnectionTrait, shop_id: &str, kind: &str, token: &str) -> Result<(), DbErr> {
    public_asset::Entity::update_many()
        .col_expr(public_asset::Column::Token, sea_orm::sea_query::Expr::value(token))
        .filter(public_asset::Column::ShopId.eq(shop_id))
        .filter(public_asset::Column::Kind.eq(kind))
        .exec(db)
        .await?;
    Ok(())
}
