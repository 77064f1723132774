//! Actions on accounts beyond their settings: linking PayPal and Amazon Pay v2, the
//! GMO PG EPOS banner, and the product data feed.

pub mod amazon_pay;
pub mod epos_banner;
pub mod feed;
pub mod paypal;

use super::{ProviderSpec, find};

/// The declaration of a provider that actions refer to by slug.
pub(crate) fn spec(slug: &str) -> &'static ProviderSpec {
    find(slug).unwrap_or_else(|| panic!("provider {slug} is declared"))
}

/// Removes the public files of a provider's account (its capability URLs stop working),
/// when the account is deleted.
pub(crate) async fn remove_public_assets(
    txn: &impl sea_orm::ConnectionTrait,
    shop_id: &str,
    spec: &ProviderSpec,
) -> Result<(), sea_orm::DbErr> {
    use crate::store::public_assets::{EPOS_BANNER, FACEBOOK_FEED, delete};
    let kinds: &[&str] = match spec.slug {
        "gmo-pg" => &[EPOS_BANNER],
        "product-data-feed" => &[FACEBOOK_FEED],
        _ => &[],
    };
    for kind in kinds {
        delete(txn, shop_id, kind).await?;
    }
    Ok(())
}
