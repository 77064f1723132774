//! Payment method rows and the transaction ids issued for them.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr,
};

use super::entities::{payment_method, transaction_id};

pub use payment_method::Model as PaymentMethodRow;

/// The stored fields of a payment method (everything but ids, version and times).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMethodData {
    pub code: String,
    pub kind: String,
    pub provider: Option<String>,
    pub display_name: String,
    pub enabled: bool,
    pub available_in: String,
    pub oplux_screening: bool,
    pub thanks_offer_immediate_settlement: bool,
    pub position: i32,
    pub carriers: Option<String>,
}

pub async fn find(db: &impl ConnectionTrait, shop_id: &str, code: &str) -> Result<Option<PaymentMethodRow>, DbErr> {
    payment_method::Entity::find()
        .filter(payment_method::Column::ShopId.eq(shop_id))
        .filter(payment_method::Column::Code.eq(code))
        .one(db)
        .await
}

/// The shop's methods by position then code, after (`position`, `code`) when given.
pub async fn list(
    db: &impl ConnectionTrait,
    shop_id: &str,
    after: Option<(i32, String)>,
    limit: Option<u64>,
) -> Result<Vec<PaymentMethodRow>, DbErr> {
    let mut query = payment_method::Entity::find()
        .filter(payment_method::Column::ShopId.eq(shop_id))
        .order_by_asc(payment_method::Column::Position)
        .order_by_asc(payment_method::Column::Code);
    if let Some((position, code)) = after {
        query = query.filter(
            Condition::any().add(payment_method::Column::Position.gt(position)).add(
                Condition::all()
                    .add(payment_method::Column::Position.eq(position))
                    .add(payment_method::Column::Code.gt(code)),
            ),
        );
    }
    if let Some(limit) = limit {
        query = query.limit(limit);
    }
    query.all(db).await
}

/// Codes of the shop's enabled methods on `provider`.
pub async fn enabled_on_provider(
    db: &impl ConnectionTrait,
    shop_id: &str,
    provider: &str,
) -> Result<Vec<String>, DbErr> {
    Ok(payment_method::Entity::find()
        .filter(payment_method::Column::ShopId.eq(shop_id))
        .filter(payment_method::Column::Provider.eq(provider))
        .filter(payment_method::Column::Enabled.eq(true))
        .order_by_asc(payment_method::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.code)
        .collect())
}

/// The shop's enabled method of `kind`, if any (there is at most one credit card).
pub async fn enabled_of_kind(
    db: &impl ConnectionTrait,
    shop_id: &str,
    kind: &str,
) -> Result<Vec<PaymentMethodRow>, DbErr> {
    payment_method::Entity::find()
        .filter(payment_method::Column::ShopId.eq(shop_id))
        .filter(payment_method::Column::Kind.eq(kind))
        .filter(payment_method::Column::Enabled.eq(true))
        .all(db)
        .await
}

pub async fn max_position(db: &impl ConnectionTrait, shop_id: &str) -> Result<Option<i32>, DbErr> {
    Ok(payment_method::Entity::find()
        .filter(payment_method::Column::ShopId.eq(shop_id))
        .order_by_desc(payment_method::Column::Position)
        .one(db)
        .await?
        .map(|m| m.position))
}

pub async fn insert(
    db: &impl ConnectionTrait,
    shop_id: &str,
    data: PaymentMethodData,
    at: DateTime<Utc>,
) -> Result<PaymentMethodRow, DbErr> {
    payment_method::ActiveModel {
        shop_id: Set(shop_id.to_string()),
        code: Set(data.code),
        kind: Set(data.kind),
        provider: Set(data.provider),
        display_name: Set(data.display_name),
        enabled: Set(data.enabled),
        available_in: Set(data.available_in),
        oplux_screening: Set(data.oplux_screening),
        thanks_offer_immediate_settlement: Set(data.thanks_offer_immediate_settlement),
        position: Set(data.position),
        carriers: Set(data.carriers),
        version: Set(1),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Writes `data` when the row is still at `version`. Returns whether it was.
pub async fn update(
    db: &impl ConnectionTrait,
    row: &PaymentMethodRow,
    data: PaymentMethodData,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = payment_method::Entity::update_many()
        .col_expr(payment_method::Column::Kind, Expr::value(data.kind))
        .col_expr(payment_method::Column::Provider, Expr::value(data.provider))
        .col_expr(payment_method::Column::DisplayName, Expr::value(data.display_name))
        .col_expr(payment_method::Column::Enabled, Expr::value(data.enabled))
        .col_expr(payment_method::Column::AvailableIn, Expr::value(data.available_in))
        .col_expr(
            payment_method::Column::OpluxScreening,
            Expr::value(data.oplux_screening),
        )
        .col_expr(
            payment_method::Column::ThanksOfferImmediateSettlement,
            Expr::value(data.thanks_offer_immediate_settlement),
        )
        .col_expr(payment_method::Column::Position, Expr::value(data.position))
        .col_expr(payment_method::Column::Carriers, Expr::value(data.carriers))
        .col_expr(payment_method::Column::Version, Expr::value(row.version + 1))
        .col_expr(payment_method::Column::UpdatedAt, Expr::value(at))
        .filter(payment_method::Column::Id.eq(row.id))
        .filter(payment_method::Column::Version.eq(row.version))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn delete(db: &impl ConnectionTrait, row: &PaymentMethodRow) -> Result<bool, DbErr> {
    let result = payment_method::Entity::delete_many()
        .filter(payment_method::Column::Id.eq(row.id))
        .filter(payment_method::Column::Version.eq(row.version))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Stores an issued transaction id; a duplicate within the shop is a unique violation.
pub async fn insert_transaction_id(
    db: &impl ConnectionTrait,
    shop_id: &str,
    payment_method: &str,
    id: &str,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    transaction_id::ActiveModel {
        shop_id: Set(shop_id.to_string()),
        payment_method: Set(payment_method.to_string()),
        transaction_id: Set(id.to_string()),
        created_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await
    .map(|_| ())
}
