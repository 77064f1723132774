//! PayPal: link the shop's seller merchant id, or unlink and forget it. A change of the
//! merchant id unlinks: the link was made for the old one.

use serde_json::{Map, Value};

use super::PAYPAL;
use crate::{
    accounts::{
        service::{Account, Accounts, Missing},
        spec::Derive,
    },
    core::{Actor, DomainError, FieldError},
};

/// Internal setting: the link status.
const LINK_STATUS: &str = "_link_status";
const MERCHANT_ID: &str = "seller_merchant_id";

/// `link_status`: `linked` or `unlinked`.
pub fn link_status(account: &Derive<'_>, out: &mut Map<String, Value>) {
    let status = account
        .settings
        .get(LINK_STATUS)
        .and_then(Value::as_str)
        .unwrap_or("unlinked");
    out.insert("link_status".into(), status.into());
}

/// A new merchant id is not linked, whatever the old one was.
pub fn unlink_on_new_merchant_id(before: Option<&Map<String, Value>>, after: &mut Map<String, Value>) {
    let old = before.and_then(|b| b.get(MERCHANT_ID)).filter(|v| !v.is_null());
    if old != after.get(MERCHANT_ID).filter(|v| !v.is_null()) {
        after.remove(LINK_STATUS);
    }
}

pub async fn link(accounts: &Accounts<'_>, actor: &Actor<'_>) -> Result<Account, DomainError> {
    accounts
        .act(actor, &PAYPAL, "link", Missing::Refuse, async |_, state| {
            if state.settings.get(MERCHANT_ID).is_none_or(Value::is_null) {
                return Err(DomainError::Invalid(vec![FieldError::new(
                    "seller_merchant_id",
                    "required",
                    "set seller_merchant_id (PUT or PATCH the account) before linking",
                )]));
            }
            if state.settings.get(LINK_STATUS).and_then(Value::as_str) != Some("linked") {
                state.settings.insert(LINK_STATUS.into(), "linked".into());
                state.changed.push("link_status");
            }
            Ok(())
        })
        .await
}

/// Unlinks and deletes the merchant id; the account is disabled, as it is incomplete.
pub async fn unlink(accounts: &Accounts<'_>, actor: &Actor<'_>) -> Result<Account, DomainError> {
    accounts
        .act(actor, &PAYPAL, "unlink", Missing::Refuse, async |_, state| {
            state.settings.insert(LINK_STATUS.into(), "unlinked".into());
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
