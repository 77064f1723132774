//! Certificate-expiry notices already emitted: one row per (shop, provider, field,
//! certificate, threshold), so each is emitted once across replicas and restarts.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, TryInsertResult};

use super::entities::certificate_notice;

pub struct Notice<'a> {
    pub shop_id: &'a str,
    pub provider: &'a str,
    pub field: &'a str,
    pub fingerprint: &'a str,
    pub threshold: i32,
    pub at: DateTime<Utc>,
}

/// Records the notice; false when it was recorded before (by this or another replica).
pub async fn record_once(db: &impl ConnectionTrait, notice: Notice<'_>) -> Result<bool, DbErr> {
    use certificate_notice::Column;
    let model = certificate_notice::ActiveModel {
        shop_id: Set(notice.shop_id.to_string()),
        provider: Set(notice.provider.to_string()),
        field: Set(notice.field.to_string()),
        fingerprint: Set(notice.fingerprint.to_string()),
        threshold: Set(notice.threshold),
        created_at: Set(notice.at),
        ..Default::default()
    };
    let result = certificate_notice::Entity::insert(model)
        .on_conflict_do_nothing_on([
            Column::ShopId,
            Column::Provider,
            Column::Field,
            Column::Fingerprint,
            Column::Threshold,
        ])
        .exec_without_returning(db)
        .await?;
    Ok(matches!(result, TryInsertResult::Inserted(n) if n > 0))
}

/// Every shop's accounts with these providers (the ones that hold certificates).
pub async fn accounts_of(
    db: &impl ConnectionTrait,
    providers: &[&str],
) -> Result<Vec<super::provider_accounts::AccountRow>, DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};

    use super::entities::provider_account;
    provider_account::Entity::find()
        .filter(provider_account::Column::Provider.is_in(providers.iter().copied()))
        .order_by_asc(provider_account::Column::Id)
        .all(db)
        .await
}
