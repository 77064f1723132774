//! Every provider, declared as in the seed's table of its fields. Adding a provider is
//! one declaration here and its entry in `ALL`.

mod gmo;

use super::spec::ProviderSpec;

/// Every provider, in the seed's order, then O-PLUX and 不正利用チェッカー.
pub static ALL: &[&ProviderSpec] = &[&gmo::GMO_PG, &gmo::GMO_ATOBARAI, &gmo::GMO_EPSILON];
