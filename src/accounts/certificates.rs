//! Certificates that expire: the `warnings` of an account, and the
//! periodic check that emits `provider_account.certificate_expiring` once per
//! certificate at 30, 7 and 1 days before it expires.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::{
    ProviderSpec, pem,
    spec::{Field, Kind},
};
use crate::{
    core::DomainError,
    events::{self, EventType},
    store::{
        self,
        certificate_notices::{self, Notice},
    },
};

/// The days before expiry at which `provider_account.certificate_expiring` is emitted.
pub const NOTICE_DAYS: [i64; 3] = [1, 7, 30];

/// Something about an account that needs the operator's attention soon.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
#[schema(example = json!({
    "code": "certificate_expiring",
    "field": "ac_certificate",
    "message": "the certificate expires in 9 days (2026-12-02T00:00:00Z); upload its successor",
    "not_after": "2026-12-02T00:00:00Z",
    "days_left": 9
}))]
pub struct AccountWarning {
    pub code: WarningCode,
    /// The account's field the warning is about.
    pub field: String,
    pub message: String,
    /// When the certificate expires.
    pub not_after: DateTime<Utc>,
    /// Whole days until then (negative once expired).
    pub days_left: i64,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// Expires within `RENKEI_CERT_WARNING_DAYS`.
    CertificateExpiring,
    /// Has expired: calls with it fail.
    CertificateExpired,
}

/// The certificates an account holds: (field, certificate), as stored.
fn certificates<'a>(
    spec: &'a ProviderSpec,
    settings: &'a Map<String, Value>,
) -> impl Iterator<Item = (&'a Field, pem::CertificateInfo)> + 'a {
    spec.fields
        .iter()
        .filter(|field| matches!(field.kind, Kind::Certificate))
        .filter_map(|field| match settings.get(field.name) {
            Some(Value::String(text)) => pem::stored_certificate(text).ok().map(|info| (field, info)),
            _ => None,
        })
}

/// Whole days from `now` until `not_after` (negative once past).
fn days_left(not_after: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (not_after - now).num_days()
}

/// The warnings of an account's certificates: expired, or expiring within `within_days`.
pub fn warnings(
    spec: &ProviderSpec,
    settings: &Map<String, Value>,
    within_days: i64,
    now: DateTime<Utc>,
) -> Vec<AccountWarning> {
    certificates(spec, settings)
        .filter_map(|(field, info)| {
            let days = days_left(info.not_after, now);
            let when = info.not_after.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let (code, message) = if info.not_after <= now {
                (
                    WarningCode::CertificateExpired,
                    format!("the certificate expired on {when}; upload a valid one"),
                )
            } else if days < within_days {
                (
                    WarningCode::CertificateExpiring,
                    format!("the certificate expires in {days} days ({when}); upload its successor"),
                )
            } else {
                return None;
            };
            Some(AccountWarning {
                code,
                field: field.name.to_string(),
                message,
                not_after: info.not_after,
                days_left: days,
            })
        })
        .collect()
}

/// The notice due for a certificate with `days` left: the smallest threshold it is
/// within (an expired certificate gets none).
fn due_notice(days: i64) -> Option<i64> {
    if days < 0 {
        return None;
    }
    NOTICE_DAYS.into_iter().find(|threshold| days < *threshold)
}

/// One pass over every account with certificates: emits each notice that is due and
/// was not emitted before. Returns how many were emitted.
pub async fn check_expiring(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize, DomainError> {
    let with_certificates: Vec<&str> = super::ALL
        .iter()
        .filter(|spec| spec.fields.iter().any(|f| matches!(f.kind, Kind::Certificate)))
        .map(|spec| spec.slug)
        .collect();
    let mut emitted = 0;
    for row in certificate_notices::accounts_of(db, &with_certificates).await? {
        let Some(spec) = super::find(&row.provider) else {
            continue;
        };
        let Ok(settings) = super::stored::stored_settings(&row) else {
            continue;
        };
        for (field, info) in certificates(spec, &settings) {
            let days = days_left(info.not_after, now);
            let Some(threshold) = due_notice(days) else {
                continue;
            };
            let txn = store::begin_write(db).await?;
            let first = certificate_notices::record_once(
                &txn,
                Notice {
                    shop_id: &row.shop_id,
                    provider: spec.slug,
                    field: field.name,
                    fingerprint: &info.fingerprint_sha256,
                    threshold: threshold as i32,
                    at: now,
                },
            )
            .await?;
            if first {
                let data = json!({
                    "provider": spec.slug,
                    "field": field.name,
                    "threshold_days": threshold,
                    "days_left": days,
                    "not_after": info.not_after,
                    "fingerprint_sha256": info.fingerprint_sha256,
                });
                events::emit(&txn, &row.shop_id, EventType::ProviderAccountCertificateExpiring, &data).await?;
                emitted += 1;
            }
            txn.commit().await?;
        }
    }
    Ok(emitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_threshold_is_due_from_its_day_on() {
        assert_eq!(due_notice(45), None);
        assert_eq!(due_notice(29), Some(30));
        assert_eq!(due_notice(9), Some(30));
        assert_eq!(due_notice(6), Some(7));
        assert_eq!(due_notice(0), Some(1));
        assert_eq!(due_notice(-1), None);
    }
}
