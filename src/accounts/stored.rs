//! Reading an account's stored settings: the one place both the account service and the
//! certificate check read them from.

use serde_json::{Map, Value};

use crate::{core::DomainError, store::provider_accounts::AccountRow};

/// The stored settings of an account.
pub fn stored_settings(row: &AccountRow) -> Result<Map<String, Value>, DomainError> {
    serde_json::from_str(&row.settings).map_err(|err| {
        DomainError::Conflict(format!(
            "the stored settings of {} cannot be read ({err}); PUT the account again",
            row.provider
        ))
    })
}
