//! After the decision: O-PLUX's manual review read on demand and by a
//! background poller, updates sent to O-PLUX, and the history of exchanges. The
//! automatic `result` is never changed; the manual review is kept beside it, and a change
//! of it is an event (`screening.manual_review_updated`) written in the same transaction.

use std::{collections::HashMap, time::Duration};

use chrono::{SubsecRound, Utc};
use sea_orm::DatabaseConnection;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{
    exchange::{Exchange, ExchangeKind, new_exchange, outcome_of_v2},
    oplux::{
        client::{OpluxClient, V2Call},
        protocol_v2::{ManualResult, SettlementStatus, Update, V2Answer},
    },
    record::Screening,
    service::OpluxAccount,
};
use crate::{
    accounts::{providers::fraud::OPLUX, service::Accounts},
    core::{DomainError, FieldError},
    crypto::seal::MasterKeys,
    events::{self, EventType},
    jobs::Pass,
    store::{
        self, oplux_exchanges,
        screenings::{self, DONE, ScreeningRow},
    },
};

/// The longest memo sent to O-PLUX.
pub const MEMO_MAX_CHARS: usize = 1000;

/// The fields of an [`UpdateRequest`], of which at least one must be set (not null); the
/// OpenAPI document states the rule from this list.
pub const UPDATE_FIELDS: [&str; 4] = ["settlement_status", "manual_result", "memo", "blacklisted"];

/// `POST /api/v1/fraud-screenings/{order_number}/updates`: what to tell O-PLUX about an
/// order after checkout; at least one field, not null.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1, example = json!({"settlement_status": "paid", "memo": "入金確認済み"}))]
pub struct UpdateRequest {
    /// How the payment stands (O-PLUX's codes 00…100), so that its model learns.
    pub settlement_status: Option<SettlementStatus>,
    /// The manual review result to set in O-PLUX.
    pub manual_result: Option<ManualResult>,
    /// A memo for O-PLUX's console (at most 1,000 characters).
    #[schema(max_length = 1000)]
    pub memo: Option<String>,
    /// `true` registers the buyer as fraudulent in O-PLUX; `false` undoes it.
    pub blacklisted: Option<bool>,
}

impl UpdateRequest {
    /// The update to send; 422 naming the fields when empty or too long.
    pub fn parse(self) -> Result<Update, DomainError> {
        let update = Update {
            settlement_status: self.settlement_status,
            manual_result: self.manual_result,
            memo: self.memo,
            blacklisted: self.blacklisted,
        };
        if update.is_empty() {
            let message = format!("send at least one of {}", UPDATE_FIELDS.join(", "));
            return Err(DomainError::Invalid(
                UPDATE_FIELDS
                    .into_iter()
                    .map(|field| FieldError::new(field, "required", message.clone()))
                    .collect(),
            ));
        }
        if update.memo.as_ref().is_some_and(|m| m.chars().count() > MEMO_MAX_CHARS) {
            return Err(DomainError::field(
                "memo",
                "too_long",
                format!("memo must be at most {MEMO_MAX_CHARS} characters"),
            ));
        }
        Ok(update)
    }
}

/// Automatic results a manual review follows.
pub const REVIEWED_RESULTS: [&str; 2] = ["HOLD", "REVIEW"];

/// The poller's settings.
#[derive(Debug, Clone, Copy)]
pub struct SyncSchedule {
    pub interval: Duration,
    /// Screenings older than this are no longer asked about.
    pub window: Duration,
    /// At most this many O-PLUX calls per pass.
    pub batch: u64,
}

pub struct Reviews<'a> {
    pub db: &'a DatabaseConnection,
    pub keys: &'a MasterKeys,
    pub client: &'a OpluxClient,
}

impl Reviews<'_> {
    fn accounts(&self) -> Accounts<'_> {
        Accounts {
            db: self.db,
            keys: self.keys,
            outbound: self.client.outbound(),
        }
    }

    /// The shop's finished screening of an order, registered with O-PLUX.
    pub(super) async fn registered(
        &self,
        shop_id: &str,
        order_number: &str,
    ) -> Result<(ScreeningRow, String), DomainError> {
        let row = match screenings::find(self.db, shop_id, order_number).await? {
            Some(row) if row.state == DONE => row,
            _ => {
                return Err(DomainError::NotFound(format!(
                    "order '{order_number}' has not been screened"
                )));
            }
        };
        let event_id = row.oplux_event_id.clone().ok_or_else(|| {
            DomainError::Conflict(format!(
                "order '{order_number}' has no O-PLUX event (it was not screened, or O-PLUX did not answer)"
            ))
        })?;
        Ok((row, event_id))
    }

    pub(super) async fn account(&self, shop_id: &str) -> Result<OpluxAccount, DomainError> {
        OpluxAccount::load(&self.accounts(), shop_id, true)
            .await?
            .ok_or_else(|| DomainError::NotFound(crate::accounts::service::not_configured(&OPLUX)))
    }

    /// `POST …/sync`: asks O-PLUX for the order's manual review now.
    pub async fn sync(&self, shop_id: &str, order_number: &str) -> Result<Screening, DomainError> {
        let (row, event_id) = self.registered(shop_id, order_number).await?;
        let account = self.account(shop_id).await?;
        self.sync_row(&account, &row, &event_id).await?;
        super::service::find(self.db, shop_id, order_number).await
    }

    /// One v2 GET for a screening; its exchange and any change of the manual review are
    /// stored together.
    async fn sync_row(&self, account: &OpluxAccount, row: &ScreeningRow, event_id: &str) -> Result<(), DomainError> {
        let credentials = account
            .credentials()
            .ok_or_else(|| DomainError::Conflict("the o-plux account has no secret_key".into()))?;
        let settings = &account.settings;
        let call = self
            .client
            .v2_get(
                &row.shop_id,
                &settings.endpoint,
                settings.timeout,
                &credentials,
                event_id,
            )
            .await;
        let review = match &call.outcome {
            Ok(V2Answer::Event(event)) => event.manual.as_ref().map(|m| (m.result, m.memo.clone())),
            _ => None,
        };
        let txn = store::begin_write(self.db).await?;
        record(&txn, row, ExchangeKind::Sync, &call).await?;
        if let Some((result, memo)) = review {
            record_review(&txn, row, result, &memo).await?;
        }
        txn.commit().await?;
        refused(call, "the manual review")
    }

    /// `POST …/updates`: sends an update to O-PLUX (v2 PUT). Only what O-PLUX accepted is
    /// recorded as sent; a manual result it accepted becomes the screening's manual review.
    pub async fn update(&self, shop_id: &str, order_number: &str, update: &Update) -> Result<Screening, DomainError> {
        let (row, event_id) = self.registered(shop_id, order_number).await?;
        let account = self.account(shop_id).await?;
        let call = self.put(&account, &event_id, update).await?;
        let accepted = matches!(call.outcome, Ok(V2Answer::Updated));
        let txn = store::begin_write(self.db).await?;
        record(&txn, &row, ExchangeKind::Update, &call).await?;
        if accepted && let Some(result) = update.manual_result {
            let memo = update.memo.clone().or(row.manual_memo.clone()).unwrap_or_default();
            record_review(&txn, &row, result, &memo).await?;
        }
        txn.commit().await?;
        refused(call, "the update")?;
        super::service::find(self.db, shop_id, order_number).await
    }

    /// One v2 PUT of an update about an O-PLUX event (the caller records its exchange).
    pub(super) async fn put(
        &self,
        account: &OpluxAccount,
        event_id: &str,
        update: &Update,
    ) -> Result<V2Call, DomainError> {
        let credentials = account
            .credentials()
            .ok_or_else(|| DomainError::Conflict("the o-plux account has no secret_key".into()))?;
        let settings = &account.settings;
        Ok(self
            .client
            .v2_put(
                &account.shop_id,
                &settings.endpoint,
                settings.timeout,
                &credentials,
                event_id,
                update,
            )
            .await)
    }

    /// `GET …/exchanges`: the order's exchanges with O-PLUX, oldest first.
    pub async fn exchanges(
        &self,
        shop_id: &str,
        order_number: &str,
        after: Option<i64>,
        limit: u64,
    ) -> Result<Vec<(i64, Exchange)>, DomainError> {
        super::service::find(self.db, shop_id, order_number).await?;
        oplux_exchanges::list(self.db, shop_id, order_number, after, limit)
            .await?
            .iter()
            .map(|row| Ok((row.id, Exchange::from_row(row)?)))
            .collect()
    }

    /// One pass of the poller: screenings waiting for a manual review, oldest first, at
    /// most `schedule.batch`, each asked about once per interval while the lease holds.
    pub async fn poll(&self, schedule: SyncSchedule, pass: &Pass) -> Result<usize, DomainError> {
        let now = Utc::now();
        let window = chrono::Duration::from_std(schedule.window).unwrap_or(chrono::Duration::hours(48));
        let interval = chrono::Duration::from_std(schedule.interval).unwrap_or(chrono::Duration::minutes(5));
        let due = screenings::awaiting_review(
            self.db,
            &REVIEWED_RESULTS,
            now - window,
            now - interval / 2,
            schedule.batch,
        )
        .await?;
        let mut accounts: HashMap<String, Option<OpluxAccount>> = HashMap::new();
        let mut asked = 0;
        for row in due {
            if !pass.renew_lease().await {
                break;
            }
            if !accounts.contains_key(&row.shop_id) {
                let account = OpluxAccount::load(&self.accounts(), &row.shop_id, true)
                    .await
                    .ok()
                    .flatten();
                accounts.insert(row.shop_id.clone(), account);
            }
            screenings::mark_checked(self.db, &[row.id], Utc::now()).await?;
            let (Some(Some(account)), Some(event_id)) = (accounts.get(&row.shop_id), row.oplux_event_id.as_deref())
            else {
                continue;
            };
            asked += 1;
            if let Err(err) = self.sync_row(account, &row, event_id).await {
                tracing::info!(order_number = %row.order_number, error = %err, "manual review not read this pass");
            }
        }
        Ok(asked)
    }
}

/// Appends a call's exchange, when the call left renkei.
pub(super) async fn record(
    db: &impl sea_orm::ConnectionTrait,
    row: &ScreeningRow,
    kind: ExchangeKind,
    call: &V2Call,
) -> Result<(), DomainError> {
    if call.sent {
        let exchange = new_exchange(
            &row.shop_id,
            &row.order_number,
            kind,
            call.latency,
            call.http_status,
            outcome_of_v2(&call.outcome),
        );
        oplux_exchanges::insert(db, exchange).await?;
    }
    Ok(())
}

/// Stores a manual review; a change is reported as an event in the same transaction.
pub(super) async fn record_review(
    db: &impl sea_orm::ConnectionTrait,
    row: &ScreeningRow,
    result: ManualResult,
    memo: &str,
) -> Result<(), DomainError> {
    let at = Utc::now().trunc_subsecs(6);
    if screenings::record_manual_review(db, row.id, result.as_str(), memo, at).await? {
        let data = json!({
            "order_number": row.order_number,
            "result": row.result,
            "manual_review": {"result": result.as_str(), "memo": memo, "reviewed_at": at},
        });
        events::emit(db, &row.shop_id, EventType::ScreeningManualReviewUpdated, &data).await?;
    }
    Ok(())
}

/// O-PLUX's refusal or absence as a 502 naming its codes (or unreachable / timed out).
pub(super) fn refused(call: V2Call, what: &str) -> Result<(), DomainError> {
    match call.outcome {
        Ok(V2Answer::Rejected { status, errors }) => {
            let codes: Vec<&str> = errors.iter().map(|e| e.code.as_str()).collect();
            Err(DomainError::BadGateway(format!(
                "O-PLUX refused {what}: HTTP {status} {}",
                codes.join(", ")
            )))
        }
        Err(reason) => Err(DomainError::BadGateway(format!(
            "O-PLUX did not answer {what}: {reason}"
        ))),
        Ok(_) => Ok(()),
    }
}
