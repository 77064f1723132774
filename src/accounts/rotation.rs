//! Master key rotation: re-seal every stored secret under the current (first) master key.
//! Safe while servers run: every value stays openable throughout (servers configured
//! with both keys open either), and each value is replaced only if no request changed it
//! meanwhile.

use sea_orm::DatabaseConnection;

use crate::{
    core::DomainError,
    crypto::seal::{MasterKeys, Owner, SealError},
    store::provider_accounts,
};

const BATCH: u64 = 200;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Values re-sealed under the current key.
    pub resealed: u64,
    /// Values changed by a request while rotating (already under the current key).
    pub skipped: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(
        "secret {field} of {provider} (shop {shop}) cannot be opened: {reason}; configure every key it may be sealed with"
    )]
    Unopenable {
        shop: String,
        provider: String,
        field: String,
        reason: String,
    },
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
}

pub async fn rotate(db: &DatabaseConnection, keys: &MasterKeys) -> Result<Rotation, RotationError> {
    let mut report = Rotation::default();
    let mut after_id = 0;
    loop {
        let rows = provider_accounts::secrets_not_under(db, keys.current_id(), after_id, BATCH).await?;
        let Some(last) = rows.last() else {
            break;
        };
        after_id = last.id;
        for row in rows {
            let owner = Owner {
                shop: &row.shop_id,
                provider: &row.provider,
                field: &row.field,
            };
            let value = keys
                .open(owner, &row.sealed)
                .map_err(|err: SealError| RotationError::Unopenable {
                    shop: row.shop_id.clone(),
                    provider: row.provider.clone(),
                    field: row.field.clone(),
                    reason: err.to_string(),
                })?;
            let sealed = keys.seal(owner, value.expose());
            if provider_accounts::reseal(db, row.id, &row.sealed, &sealed, keys.current_id()).await? {
                report.resealed += 1;
            } else {
                report.skipped += 1;
            }
        }
    }
    // Webhook endpoints' signing secrets are sealed with the same keys.
    let (resealed, skipped) =
        crate::webhooks::service::reseal_all(db, keys)
            .await
            .map_err(|(shop, endpoint, err)| match err {
                DomainError::Database(err) => RotationError::Database(err),
                DomainError::Sealed(reason) => RotationError::Unopenable {
                    shop,
                    provider: "webhook endpoint".into(),
                    field: endpoint,
                    reason,
                },
                other => RotationError::Database(sea_orm::DbErr::Custom(other.to_string())),
            })?;
    report.resealed += resealed;
    report.skipped += skipped;
    Ok(report)
}
