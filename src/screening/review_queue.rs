//! The review queue: the shop's own decision on a screening that waits for a
//! person. The review opens with the screening's finish (`decision::opens_review`,
//! `writes`); here the shop lists its reviews and decides one. A decision is sent to
//! O-PLUX (the v2 PUT of `/updates`) by one request at a time — a conditional claim on the
//! row — and the review closes, with `screening.review_closed`, only once O-PLUX accepted
//! it. O-PLUX's own manual review (sync) is kept beside the review and never closes it.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{
    decision::ScreeningResult,
    exchange::ExchangeKind,
    oplux::{
        protocol::Reason,
        protocol_v2::{ManualResult, SettlementStatus, Update, V2Answer},
    },
    record::{ManualReview, Review, ReviewDecision, ReviewState, Screening},
    review::{MEMO_MAX_CHARS, Reviews, record, record_review, refused},
    service::OpluxAccount,
};
use crate::{
    core::DomainError,
    crypto::random_token,
    events::{self, EventType},
    store::{
        self,
        reviews::{self, Closing, Position},
        screenings::{self, DONE, REVIEW_CLOSED, REVIEW_OPEN, ScreeningRow},
    },
};

/// How often a request waits for another's decision being sent.
const WAIT_STEP: Duration = Duration::from_millis(100);
/// Beyond O-PLUX's timeout (twice: the client retries once what was never sent), how long
/// a claim to send a decision lasts before another request may take it over.
const CLAIM_GRACE: Duration = Duration::from_secs(10);

/// `POST /api/v1/fraud-screenings/{order_number}/review`: the shop's decision.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"decision": "approved", "memo": "電話で本人確認済み"}))]
pub struct DecisionRequest {
    /// `approved` tells O-PLUX manual result OK; `cancelled` tells it manual result NG
    /// and settlement status `cancelled`.
    pub decision: ReviewDecision,
    /// Kept with the review and sent to O-PLUX as its memo (at most 1,000 characters).
    #[schema(max_length = 1000)]
    pub memo: Option<String>,
}

impl DecisionRequest {
    /// The decision and its memo; 422 naming `memo` when too long.
    pub fn parse(self) -> Result<(ReviewDecision, Option<String>), DomainError> {
        if self.memo.as_ref().is_some_and(|m| m.chars().count() > MEMO_MAX_CHARS) {
            return Err(DomainError::field(
                "memo",
                "too_long",
                format!("memo must be at most {MEMO_MAX_CHARS} characters"),
            ));
        }
        Ok((self.decision, self.memo))
    }
}

impl ReviewDecision {
    /// What O-PLUX is told of this decision (v2 PUT).
    fn update(self, memo: Option<&str>) -> Update {
        let (manual_result, settlement_status) = match self {
            ReviewDecision::Approved => (ManualResult::Ok, None),
            ReviewDecision::Cancelled => (ManualResult::Ng, Some(SettlementStatus::Cancelled)),
        };
        Update {
            settlement_status,
            manual_result: Some(manual_result),
            memo: memo.map(str::to_string),
            blacklisted: None,
        }
    }
}

/// One review in the queue, with what staff decide on.
#[derive(Debug, Clone, serde::Serialize, ToSchema)]
#[schema(example = json!({
    "order_number": "R0000123", "result": "HOLD",
    "reasons": [{"code": "R001", "description": "同一電話番号で短時間に複数注文"}],
    "manual_review": null, "screened_at": "2026-11-23T10:00:01Z",
    "review": {"state": "open", "decision": null, "memo": null, "decided_by": null,
        "decided_at": null, "opened_at": "2026-11-23T10:00:01Z"}
}))]
pub struct ReviewItem {
    pub order_number: String,
    /// O-PLUX's automatic result at checkout.
    #[schema(required = true)]
    pub result: Option<ScreeningResult>,
    /// O-PLUX's reasons (判定理由).
    pub reasons: Vec<Reason>,
    /// O-PLUX's own manual review, when known (shown beside the shop's review, which it
    /// does not close).
    #[schema(required = true)]
    pub manual_review: Option<ManualReview>,
    pub screened_at: DateTime<Utc>,
    /// The shop's review.
    pub review: Review,
}

impl ReviewItem {
    fn from_row(row: &ScreeningRow) -> Result<Self, DomainError> {
        let screening = Screening::from_row(row)?;
        let review = screening.review.ok_or_else(|| {
            DomainError::Conflict(format!(
                "the stored review of order '{}' cannot be read",
                row.order_number
            ))
        })?;
        Ok(ReviewItem {
            order_number: screening.order_number,
            result: screening.result,
            reasons: screening.reasons,
            manual_review: screening.manual_review,
            screened_at: screening.screened_at,
            review,
        })
    }
}

/// A page of the queue.
pub struct QueuePage {
    /// Each review with where it is in the queue (for the next page's cursor).
    pub items: Vec<(Position, ReviewItem)>,
    /// When the shop's oldest open review opened, whatever the page.
    pub oldest_open: Option<DateTime<Utc>>,
}

/// A decision's claim: the review closed with it already, or this request's to send.
enum Claimed {
    Decided(ScreeningRow),
    Held(ScreeningRow, Box<OpluxAccount>),
}

/// What to do about a decision, given the review as stored.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// The review was closed with this decision: nothing to send.
    Decided,
    /// Another request is sending this decision: wait for it.
    Wait,
    /// Open and nobody sending: claim the sending.
    Claim,
}

/// The step of a decision on a stored review; a conflict when there is no review, it was
/// decided otherwise, or another decision is being sent.
fn step(row: &ScreeningRow, decision: ReviewDecision, now: DateTime<Utc>) -> Result<Step, DomainError> {
    let order = &row.order_number;
    match row.review_state.as_deref() {
        Some(REVIEW_CLOSED) if row.review_decision.as_deref() == Some(decision.as_str()) => Ok(Step::Decided),
        Some(REVIEW_CLOSED) => Err(DomainError::Conflict(format!(
            "the review of order '{order}' was closed as '{}'; another decision cannot replace it",
            row.review_decision.as_deref().unwrap_or_default()
        ))),
        Some(REVIEW_OPEN) => {
            let sending = row.review_claimed_until.is_some_and(|until| until > now) && row.review_claim.is_some();
            match row.review_sending.as_deref() {
                Some(other) if sending && other != decision.as_str() => Err(DomainError::Conflict(format!(
                    "the decision '{other}' on the review of order '{order}' is being sent to O-PLUX; \
                     read the review again once it is decided"
                ))),
                Some(_) if sending => Ok(Step::Wait),
                _ => Ok(Step::Claim),
            }
        }
        _ => Err(DomainError::Conflict(format!(
            "order '{order}' has no review: only HOLD and REVIEW screenings, and NG ones whose order is \
             created (the o-plux account's on_ng is create_order), wait for a decision"
        ))),
    }
}

impl Reviews<'_> {
    /// `GET /api/v1/reviews`: the shop's reviews in `state` (open: oldest first), after
    /// `after`, at most `limit`; with the shop's oldest open review.
    pub async fn queue(
        &self,
        shop_id: &str,
        state: ReviewState,
        after: Option<Position>,
        limit: u64,
    ) -> Result<QueuePage, DomainError> {
        let rows = reviews::queue(self.db, shop_id, state.as_str(), after, limit).await?;
        let items = rows
            .iter()
            .map(|row| {
                let item = ReviewItem::from_row(row)?;
                Ok(((item.review.opened_at, row.id), item))
            })
            .collect::<Result<_, DomainError>>()?;
        Ok(QueuePage {
            items,
            oldest_open: reviews::oldest_open(self.db, shop_id).await?,
        })
    }

    /// `POST …/review`: closes the order's open review with the shop's decision, once
    /// O-PLUX accepted it (v2 PUT, recorded in the exchanges). The same decision again
    /// answers the screening without sending anything; another decision is a conflict.
    pub async fn decide(
        &self,
        shop_id: &str,
        client_id: &str,
        order_number: &str,
        decision: ReviewDecision,
        memo: Option<String>,
    ) -> Result<Screening, DomainError> {
        let token = random_token::<16>();
        let (row, account) = match self.claim(shop_id, order_number, decision, &token).await? {
            Claimed::Decided(row) => return Screening::from_row(&row),
            Claimed::Held(row, account) => (row, account),
        };
        let sent = self.send(&row, &token, &account, client_id, decision, memo).await;
        if let Err(err) = &sent {
            // Whatever failed before O-PLUX's answer was stored leaves the review open.
            let _ = reviews::release_decision(self.db, row.id, &token).await;
            if !matches!(err, DomainError::BadGateway(_)) {
                tracing::warn!(order_number, error = %err, "a review decision was not stored");
            }
        }
        sent?;
        let row = self.screened(shop_id, order_number).await?;
        match step(&row, decision, Utc::now())? {
            Step::Decided => Screening::from_row(&row),
            _ => Err(DomainError::Conflict(format!(
                "the review of order '{order_number}' changed while the decision was sent; read it again"
            ))),
        }
    }

    /// The order's finished screening (404 when not screened in this shop).
    async fn screened(&self, shop_id: &str, order_number: &str) -> Result<ScreeningRow, DomainError> {
        match screenings::find(self.db, shop_id, order_number).await? {
            Some(row) if row.state == DONE => Ok(row),
            _ => Err(DomainError::NotFound(format!(
                "order '{order_number}' has not been screened"
            ))),
        }
    }

    /// Claims the sending of `decision` on the order's open review, waiting while another
    /// request sends the same decision; or finds the review closed with it already.
    async fn claim(
        &self,
        shop_id: &str,
        order_number: &str,
        decision: ReviewDecision,
        token: &str,
    ) -> Result<Claimed, DomainError> {
        let mut account = None;
        // Bounded: a claim lasts at most twice the longest O-PLUX timeout and the grace.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60) + CLAIM_GRACE * 2;
        loop {
            let row = self.screened(shop_id, order_number).await?;
            match step(&row, decision, Utc::now())? {
                Step::Decided => return Ok(Claimed::Decided(row)),
                Step::Wait if tokio::time::Instant::now() < deadline => tokio::time::sleep(WAIT_STEP).await,
                Step::Wait => {
                    return Err(DomainError::Conflict(format!(
                        "the decision on the review of order '{order_number}' is still being sent to O-PLUX; retry"
                    )));
                }
                Step::Claim => {
                    let loaded = match account.take() {
                        Some(loaded) => loaded,
                        None => self.account(shop_id).await?,
                    };
                    let now = Utc::now();
                    let lasts = loaded.settings.timeout * 2 + CLAIM_GRACE;
                    let until = now + chrono::Duration::from_std(lasts).unwrap_or(chrono::Duration::minutes(1));
                    if reviews::claim_decision(self.db, row.id, decision.as_str(), token, until, now).await? {
                        return Ok(Claimed::Held(row, Box::new(loaded)));
                    }
                    account = Some(loaded);
                }
            }
        }
    }

    /// Sends a claimed decision to O-PLUX and stores the outcome in one transaction: the
    /// exchange; when accepted, the closed review, O-PLUX's manual result and
    /// `screening.review_closed`; when not, the claim given up (a 502).
    async fn send(
        &self,
        row: &ScreeningRow,
        token: &str,
        account: &OpluxAccount,
        client_id: &str,
        decision: ReviewDecision,
        memo: Option<String>,
    ) -> Result<(), DomainError> {
        let event_id = row.oplux_event_id.as_deref().ok_or_else(|| {
            DomainError::Conflict(format!(
                "order '{}' has no O-PLUX event to tell of the decision",
                row.order_number
            ))
        })?;
        let update = decision.update(memo.as_deref());
        let call = self.put(account, event_id, &update).await?;
        let accepted = matches!(call.outcome, Ok(V2Answer::Updated));
        let txn = store::begin_write(self.db).await?;
        record(&txn, row, ExchangeKind::Update, &call).await?;
        if accepted {
            let closing = Closing {
                decision: decision.as_str(),
                memo: memo.as_deref(),
                decided_by: client_id,
                at: Utc::now().trunc_subsecs(6),
            };
            if reviews::close(&txn, row.id, token, &closing).await? {
                let closed = closed_row(row, &closing);
                if let Some(result) = update.manual_result {
                    let memo = memo.clone().or(row.manual_memo.clone()).unwrap_or_default();
                    record_review(&txn, row, result, &memo).await?;
                }
                let data = json!({
                    "order_number": row.order_number,
                    "result": row.result,
                    "review": Review::of_row(&closed),
                });
                events::emit(&txn, &row.shop_id, EventType::ScreeningReviewClosed, &data).await?;
            }
        } else {
            reviews::release_decision(&txn, row.id, token).await?;
        }
        txn.commit().await?;
        refused(call, "the decision")
    }
}

/// The row as `reviews::close` leaves it.
fn closed_row(row: &ScreeningRow, closing: &Closing<'_>) -> ScreeningRow {
    ScreeningRow {
        review_state: Some(REVIEW_CLOSED.to_string()),
        review_decision: Some(closing.decision.to_string()),
        review_memo: closing.memo.map(str::to_string),
        review_decided_by: Some(closing.decided_by.to_string()),
        review_decided_at: Some(closing.at),
        review_sending: None,
        review_claim: None,
        review_claimed_until: None,
        ..row.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: Option<&str>, decision: Option<&str>) -> ScreeningRow {
        let now = Utc::now();
        ScreeningRow {
            id: 1,
            shop_id: "shop".into(),
            order_number: "R1".into(),
            state: DONE.into(),
            fingerprint: String::new(),
            claim_token: String::new(),
            claimed_at: now,
            screened: true,
            skip_reason: None,
            result: Some("HOLD".into()),
            reasons: "[]".into(),
            decision: Some("create_order".into()),
            redirect_url: None,
            forced_by_thanks_offer: false,
            oplux_event_id: Some("E1".into()),
            parent_order_number: None,
            error_detail: None,
            oplux_latency_ms: None,
            screened_at: Some(now),
            warnings: "[]".into(),
            parent_screening: None,
            manual_result: None,
            manual_memo: None,
            manual_reviewed_at: None,
            sync_checked_at: None,
            review_state: state.map(str::to_string),
            review_decision: decision.map(str::to_string),
            review_memo: None,
            review_decided_by: None,
            review_decided_at: None,
            review_opened_at: Some(now),
            review_sending: None,
            review_claim: None,
            review_claimed_until: None,
        }
    }

    fn sending(decision: &str, until: DateTime<Utc>) -> ScreeningRow {
        ScreeningRow {
            review_sending: Some(decision.into()),
            review_claim: Some("token".into()),
            review_claimed_until: Some(until),
            ..row(Some(REVIEW_OPEN), None)
        }
    }

    #[test]
    fn a_decision_on_a_stored_review() {
        let now = Utc::now();
        let later = now + chrono::Duration::seconds(10);
        let earlier = now - chrono::Duration::seconds(10);
        let approve = |row: &ScreeningRow| step(row, ReviewDecision::Approved, now);
        assert_eq!(approve(&row(Some(REVIEW_OPEN), None)).unwrap(), Step::Claim);
        assert_eq!(
            approve(&row(Some(REVIEW_CLOSED), Some("approved"))).unwrap(),
            Step::Decided
        );
        assert!(matches!(
            approve(&row(Some(REVIEW_CLOSED), Some("cancelled"))),
            Err(DomainError::Conflict(_))
        ));
        assert!(matches!(approve(&row(None, None)), Err(DomainError::Conflict(_))));
        assert_eq!(approve(&sending("approved", later)).unwrap(), Step::Wait);
        assert!(matches!(
            approve(&sending("cancelled", later)),
            Err(DomainError::Conflict(_))
        ));
        assert_eq!(
            approve(&sending("cancelled", earlier)).unwrap(),
            Step::Claim,
            "an expired claim is taken over"
        );
    }

    #[test]
    fn each_decision_tells_o_plux_its_manual_result() {
        let approved = ReviewDecision::Approved.update(None);
        assert_eq!(approved.manual_result, Some(ManualResult::Ok));
        assert_eq!(approved.settlement_status, None);
        let cancelled = ReviewDecision::Cancelled.update(Some("在庫なし"));
        assert_eq!(cancelled.manual_result, Some(ManualResult::Ng));
        assert_eq!(cancelled.settlement_status, Some(SettlementStatus::Cancelled));
        assert_eq!(cancelled.memo.as_deref(), Some("在庫なし"));
    }
}
