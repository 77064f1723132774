//! PayPal: link the shop's seller merchant id, or unlink and forget it.

use serde_json::Value;

use super::spec;
use crate::domain::DomainError;
use crate::{
    accounts::{
        derived::PAYPAL_LINK_STATUS,
        service::{Account, Accounts, Actor, Missing},
    },
    http::problem::FieldError,
};

pub async fn link(accounts: &Accounts<'_>, actor: &Actor<'_>) -> Result<Account, DomainError> {
    accounts
        .act(actor, spec("paypal"), "link", Missing::Refuse, async |_, state| {
            if state.settings.get("seller_merchant_id").is_none_or(Value::is_null) {
                return Err(DomainError::Invalid(vec![FieldError::new(
                    "seller_merchant_id",
                    "required",
                    "set seller_merchant_id (PUT or PATCH the account) before linking",
                )]));
            }
            if state.settings.get(PAYPAL_LINK_STATUS).and_then(Value::as_str) != Some("linked") {
                state.settings.insert(PAYPAL_LINK_STATUS.into(), "linked".into());
                state.changed.push("link_status");
            }
            Ok(())
        })
        .await
}

/// Unlinks and deletes the merchant id; the account is disabled, as it is incomplete.
pub async fn unlink(accounts: &Accounts<'_>, actor: &Actor<'_>) -> Result<Account, DomainError> {
    accounts
        .act(actor, spec("paypal"), "unlink", Missing::Refuse, async |_, state| {
            state.settings.insert(PAYPAL_LINK_STATUS.into(), "unlinked".into());
            state.changed.push("link_status");
            if state.settings.remove("seller_merchant_id").is_some() {
                state.changed.push("seller_merchant_id");
            }
            if state.enabled {
                state.enabled = false;
                state.changed.push("enabled");
            }
            Ok(())
        })
        .await
}
