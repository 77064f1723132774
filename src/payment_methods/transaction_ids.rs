//! 電算システム (densan) transaction ids for convenience-store postpay: the shop's 7-digit
//! unique code followed by 10 random digits (17 digits), never repeated within the shop.

use chrono::Utc;
use sea_orm::DatabaseConnection;
use serde_json::Value;

use crate::{
    accounts::{self, stored::stored_settings},
    core::DomainError,
    store::{self, payment_methods, provider_accounts},
};

const ATTEMPTS: usize = 8;

/// 10 uniformly random decimal digits from the operating system's CSPRNG.
pub fn random_digits() -> String {
    const RANGE: u64 = 10_000_000_000;
    // Rejection sampling: values at or above the largest multiple of RANGE would bias.
    let limit = u64::MAX - u64::MAX % RANGE;
    loop {
        let value = u64::from_be_bytes(crate::crypto::random_bytes::<8>());
        if value < limit {
            return format!("{:010}", value % RANGE);
        }
    }
}

pub async fn issue(db: &DatabaseConnection, shop_id: &str, code: &str) -> Result<String, DomainError> {
    let method = payment_methods::find(db, shop_id, code)
        .await?
        .ok_or_else(|| DomainError::NotFound(format!("there is no payment method '{code}' in this shop")))?;
    let issuer = method
        .provider
        .as_deref()
        .and_then(accounts::find)
        .filter(|spec| spec.serves.iter().any(|k| k.as_str() == method.kind))
        .and_then(|spec| Some((spec, spec.transaction_id_prefix?)));
    let Some((spec, prefix_field)) = issuer else {
        return Err(DomainError::Conflict(format!(
            "'{code}' is not a method whose provider issues transaction ids (a convenience_postpay method on densan)"
        )));
    };
    if !method.enabled {
        return Err(DomainError::Conflict(format!("'{code}' is disabled; enable it first")));
    }
    let account = provider_accounts::find(db, shop_id, spec.slug)
        .await?
        .filter(|a| a.enabled)
        .ok_or_else(|| DomainError::Conflict(format!("the {} account is not configured or disabled", spec.slug)))?;
    let unique_code = stored_settings(&account)?
        .get(prefix_field)
        .and_then(Value::as_str)
        .ok_or_else(|| {
            DomainError::field(
                prefix_field,
                "required",
                format!("the {} account has no {prefix_field}", spec.slug),
            )
        })?
        .to_string();
    for _ in 0..ATTEMPTS {
        let id = format!("{unique_code}{}", random_digits());
        match payment_methods::insert_transaction_id(db, shop_id, code, &id, Utc::now()).await {
            Ok(()) => return Ok(id),
            // A collision (one in 10^10 per issued id): draw again.
            Err(err) if store::is_unique_violation(&err) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(DomainError::Conflict(
        "could not find an unused transaction id; retry".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_digits_are_ten_digits() {
        for _ in 0..1000 {
            let digits = random_digits();
            assert_eq!(digits.len(), 10);
            assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
