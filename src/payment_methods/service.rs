//! Payment methods against the database: list, read, create, replace, merge-patch and
//! delete, with the rules of `rules`, ETag/If-Match and the audit log.

use chrono::Utc;
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};
use serde_json::{Map, Value};

use super::{
    Kind, PaymentMethod, PaymentMethodInput,
    rules::{self, Context},
};
use crate::{
    accounts::{
        self,
        engine::merge_patch,
        service::method_ref,
        spec::{MethodChange, MethodRef},
        stored::stored_settings,
    },
    core::{Actor, DomainError, FieldError, Precondition},
    store::{
        self,
        payment_methods::{self, PaymentMethodData, PaymentMethodRow},
        provider_accounts,
    },
};

/// Reads a merged PATCH document as an input, naming the field of a shape error (the
/// HTTP layer's strict JSON rules).
pub type ParseInput = fn(Value) -> Result<PaymentMethodInput, Vec<FieldError>>;

pub struct PaymentMethods<'a> {
    pub db: &'a DatabaseConnection,
}

fn not_found(code: &str) -> DomainError {
    DomainError::NotFound(format!("there is no payment method '{code}' in this shop"))
}

impl PaymentMethods<'_> {
    pub async fn get(&self, shop_id: &str, code: &str) -> Result<PaymentMethodRow, DomainError> {
        payment_methods::find(self.db, shop_id, code)
            .await?
            .ok_or_else(|| not_found(code))
    }

    pub async fn list(
        &self,
        shop_id: &str,
        after: Option<(i32, String)>,
        limit: u64,
    ) -> Result<Vec<PaymentMethodRow>, DomainError> {
        Ok(payment_methods::list(self.db, shop_id, after, Some(limit)).await?)
    }

    /// POST: a new method; its code must be free.
    pub async fn create(&self, actor: &Actor<'_>, input: PaymentMethodInput) -> Result<PaymentMethodRow, DomainError> {
        let Some(code) = input.code.clone() else {
            return Err(DomainError::field("code", "required", "code is required"));
        };
        let txn = store::begin_write(self.db).await?;
        if payment_methods::find(&txn, actor.shop_id, &code).await?.is_some() {
            return Err(DomainError::Conflict(format!(
                "a payment method '{code}' exists already; PUT or PATCH /api/v1/payment-methods/{code} changes it"
            )));
        }
        let row = self.store(&txn, actor, &code, None, input).await?;
        txn.commit().await?;
        Ok(row)
    }

    /// PUT: create or replace. Returns the method and whether it was created.
    pub async fn put(
        &self,
        actor: &Actor<'_>,
        code: &str,
        input: PaymentMethodInput,
        precondition: &Precondition,
    ) -> Result<(PaymentMethodRow, bool), DomainError> {
        if input.code.as_deref().is_some_and(|c| c != code) {
            return Err(code_mismatch());
        }
        let txn = store::begin_write(self.db).await?;
        let current = payment_methods::find(&txn, actor.shop_id, code).await?;
        precondition.check(current.as_ref().map(super::etag).as_deref())?;
        let created = current.is_none();
        let row = self.store(&txn, actor, code, current, input).await?;
        txn.commit().await?;
        Ok((row, created))
    }

    /// PATCH: JSON Merge Patch of the method.
    pub async fn patch(
        &self,
        actor: &Actor<'_>,
        code: &str,
        patch: Map<String, Value>,
        parse: ParseInput,
        precondition: &Precondition,
    ) -> Result<PaymentMethodRow, DomainError> {
        let txn = store::begin_write(self.db).await?;
        let current = payment_methods::find(&txn, actor.shop_id, code)
            .await?
            .ok_or_else(|| not_found(code))?;
        precondition.check(Some(&super::etag(&current)))?;
        let base = serde_json::to_value(PaymentMethod::from_row(&current)?.to_input())
            .map_err(|e| DomainError::Conflict(e.to_string()))?;
        // The input shows every field (null when unset): a patch key it lacks is unknown,
        // also when its value is null (which the merge would otherwise drop unseen).
        let unknown: Vec<FieldError> = patch
            .keys()
            .filter(|key| base.get(key.as_str()).is_none())
            .map(|key| {
                FieldError::new(
                    key.as_str(),
                    "unknown_field",
                    format!("unknown field '{key}'; a payment method takes no such field"),
                )
            })
            .collect();
        if !unknown.is_empty() {
            return Err(DomainError::Invalid(unknown));
        }
        let merged = merge_patch(base, Value::Object(patch));
        let input = parse(merged).map_err(DomainError::Invalid)?;
        if input.code.as_deref() != Some(code) {
            return Err(code_mismatch());
        }
        let row = self.store(&txn, actor, code, Some(current), input).await?;
        txn.commit().await?;
        Ok(row)
    }

    pub async fn delete(&self, actor: &Actor<'_>, code: &str, precondition: &Precondition) -> Result<(), DomainError> {
        let txn = store::begin_write(self.db).await?;
        let current = payment_methods::find(&txn, actor.shop_id, code)
            .await?
            .ok_or_else(|| not_found(code))?;
        precondition.check(Some(&super::etag(&current)))?;
        check_accounts_agree(&txn, actor.shop_id, Some(&current), None).await?;
        if !payment_methods::delete(&txn, &current).await? {
            return Err(precondition.lost_race("payment method"));
        }
        actor.record_change(&txn, "payment_method", code, "delete", &[]).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Validates `input` against the shop and writes it (insert or update).
    async fn store(
        &self,
        txn: &DatabaseTransaction,
        actor: &Actor<'_>,
        code: &str,
        current: Option<PaymentMethodRow>,
        input: PaymentMethodInput,
    ) -> Result<PaymentMethodRow, DomainError> {
        let ctx = context(txn, actor.shop_id, code, &input).await?;
        let data = rules::validate(input, code, &ctx).map_err(DomainError::Invalid)?;
        check_accounts_agree(txn, actor.shop_id, current.as_ref(), Some(&data)).await?;
        let now = Utc::now();
        match current {
            None => {
                store::shops::ensure(txn, actor.shop_id).await?;
                payment_methods::insert(txn, actor.shop_id, data.clone(), now)
                    .await
                    .map_err(unique_conflict)?;
                let fields = changed_fields(None, &data);
                actor
                    .record_change(txn, "payment_method", code, "create", &fields)
                    .await?;
            }
            Some(row) => {
                let before = data_of(&row);
                let fields = changed_fields(Some(&before), &data);
                if !fields.is_empty() {
                    if !payment_methods::update(txn, &row, data, now)
                        .await
                        .map_err(unique_conflict)?
                    {
                        return Err(Precondition::None.lost_race("payment method"));
                    }
                    actor
                        .record_change(txn, "payment_method", code, "update", &fields)
                        .await?;
                }
            }
        }
        payment_methods::find(txn, actor.shop_id, code)
            .await?
            .ok_or_else(|| not_found(code))
    }
}

async fn context(
    txn: &DatabaseTransaction,
    shop_id: &str,
    code: &str,
    input: &PaymentMethodInput,
) -> Result<Context, DbErr> {
    let provider_account_enabled = match input.provider.as_deref() {
        Some(provider) => provider_accounts::find(txn, shop_id, provider)
            .await?
            .map(|a| a.enabled),
        None => None,
    };
    let other_enabled_card = payment_methods::enabled_of_kind(txn, shop_id, Kind::CreditCard.as_str())
        .await?
        .into_iter()
        .map(|m| m.code)
        .find(|other| other != code);
    let next_position = payment_methods::max_position(txn, shop_id)
        .await?
        .map_or(1, |p| p.saturating_add(1));
    Ok(Context {
        provider_account_enabled,
        other_enabled_card,
        next_position,
    })
}

/// Every configured account of the shop agrees with the change of a method (`before`
/// → `after`; None: created or deleted), by its provider's own rules.
async fn check_accounts_agree(
    txn: &DatabaseTransaction,
    shop_id: &str,
    before: Option<&PaymentMethodRow>,
    after: Option<&PaymentMethodData>,
) -> Result<(), DomainError> {
    let before = before.map(method_ref).transpose()?;
    let after = after.map(data_ref).transpose()?;
    for row in provider_accounts::list(txn, shop_id).await? {
        let Some(spec) = accounts::find(&row.provider) else {
            continue;
        };
        let settings = stored_settings(&row)?;
        (spec.hooks.on_method_change)(&MethodChange {
            account: &settings,
            account_enabled: row.enabled,
            before: before.as_ref(),
            after: after.as_ref(),
        })?;
    }
    Ok(())
}

fn data_ref(data: &PaymentMethodData) -> Result<MethodRef, DomainError> {
    Ok(MethodRef {
        code: data.code.clone(),
        kind: Kind::parse(&data.kind).ok_or_else(|| DomainError::field("kind", "invalid", "unknown kind"))?,
        provider: data.provider.clone(),
        enabled: data.enabled,
    })
}

fn data_of(row: &PaymentMethodRow) -> PaymentMethodData {
    PaymentMethodData {
        code: row.code.clone(),
        kind: row.kind.clone(),
        provider: row.provider.clone(),
        display_name: row.display_name.clone(),
        enabled: row.enabled,
        available_in: row.available_in.clone(),
        oplux_screening: row.oplux_screening,
        thanks_offer_immediate_settlement: row.thanks_offer_immediate_settlement,
        position: row.position,
        carriers: row.carriers.clone(),
    }
}

fn changed_fields(before: Option<&PaymentMethodData>, after: &PaymentMethodData) -> Vec<&'static str> {
    let differs = |name: &'static str, changed: bool| (before.is_none() || changed).then_some(name);
    let b = before;
    [
        differs("kind", b.is_some_and(|b| b.kind != after.kind)),
        differs("provider", b.is_some_and(|b| b.provider != after.provider)),
        differs("display_name", b.is_some_and(|b| b.display_name != after.display_name)),
        differs("enabled", b.is_some_and(|b| b.enabled != after.enabled)),
        differs("available_in", b.is_some_and(|b| b.available_in != after.available_in)),
        differs(
            "oplux_screening",
            b.is_some_and(|b| b.oplux_screening != after.oplux_screening),
        ),
        differs(
            "thanks_offer_immediate_settlement",
            b.is_some_and(|b| b.thanks_offer_immediate_settlement != after.thanks_offer_immediate_settlement),
        ),
        differs("position", b.is_some_and(|b| b.position != after.position)),
        differs("carriers", b.is_some_and(|b| b.carriers != after.carriers)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn code_mismatch() -> DomainError {
    DomainError::field("code", "read_only", "code cannot be changed: it must match the path")
}

/// A unique violation while writing: a second enabled credit card (concurrent writes), or
/// a code taken meanwhile.
fn unique_conflict(err: DbErr) -> DomainError {
    if !store::is_unique_violation(&err) {
        return err.into();
    }
    if err.to_string().contains("one_enabled_card") || err.to_string().contains("payment_methods.shop_id") {
        DomainError::field(
            "enabled",
            "one_credit_card",
            "only one credit card method can be enabled; another was enabled at the same time",
        )
    } else {
        DomainError::Conflict("the payment method was created by another request at the same time; retry".into())
    }
}
