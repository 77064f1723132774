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
