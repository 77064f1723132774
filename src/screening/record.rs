//! A screening as answered and as found later.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    decision::{ScreeningResult, SkipReason},
    oplux::{protocol::Reason, protocol_v2::ManualResult},
};
use crate::{
    core::{DomainError, FieldError},
    store::screenings::{self, ScreeningRow},
};

/// Buyer data that could not be used: left out of the O-PLUX event, the order still
/// screened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Warning {
    /// Path of the field in the request, e.g. `customer.tel` or `deliveries[0].address.zipcode`.
    pub field: String,
    /// A stable machine-readable code, e.g. `invalid_format`, `required`, `too_long`.
    pub code: String,
    /// What was expected, in English.
    pub message: String,
}

impl From<FieldError> for Warning {
    fn from(error: FieldError) -> Self {
        Warning {
            field: error.field,
            code: error.code,
            message: error.message,
        }
    }
}

/// What checkout does: create the order, or redirect the buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    CreateOrder,
    Redirect,
}

impl DecisionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::CreateOrder => "create_order",
            DecisionKind::Redirect => "redirect",
        }
    }
}

/// The screening of the order whose thanks-offer payment this is, which covers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ParentScreening {
    pub order_number: String,
    pub result: Option<ScreeningResult>,
    pub decision: DecisionKind,
}

/// O-PLUX's manual review (目視審査), set by the shop's staff after the automatic result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ManualReview {
    pub result: ManualResult,
    /// The staff's memo in O-PLUX (empty when none).
    pub memo: String,
    /// When renkei learned of this review (or sent it).
    pub reviewed_at: DateTime<Utc>,
}

/// Where the shop's review of a screening stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// Waiting for the shop's decision.
    Open,
    /// Decided, and O-PLUX told.
    Closed,
}

impl ReviewState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Open => screenings::REVIEW_OPEN,
            ReviewState::Closed => screenings::REVIEW_CLOSED,
        }
    }

    pub fn parse(text: &str) -> Option<ReviewState> {
        [ReviewState::Open, ReviewState::Closed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// The shop's decision on a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// Ship the order: O-PLUX is told manual result OK.
    Approved,
    /// Cancel the order: O-PLUX is told manual result NG and settlement `cancelled`.
    Cancelled,
}

impl ReviewDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::Approved => "approved",
            ReviewDecision::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<ReviewDecision> {
        [ReviewDecision::Approved, ReviewDecision::Cancelled]
            .into_iter()
            .find(|d| d.as_str() == text)
    }
}

/// The shop's own review of a screening that waits for a person: HOLD and REVIEW, and
/// NG when the shop's action for NG is `create_order`. O-PLUX's `manual_review` shows
/// beside it and does not close it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({
    "state": "closed", "decision": "approved", "memo": "電話で本人確認済み",
    "decided_by": "cli_admin_console", "decided_at": "2026-11-23T11:00:00Z",
    "opened_at": "2026-11-23T10:00:01Z"
}))]
pub struct Review {
    pub state: ReviewState,
    /// The decision, once closed; null while open.
    #[schema(required = true)]
    pub decision: Option<ReviewDecision>,
    /// The memo sent with the decision; null when none.
    #[schema(required = true)]
    pub memo: Option<String>,
    /// The API client that decided; null while open.
    #[schema(required = true)]
    pub decided_by: Option<String>,
    /// When the decision was accepted by O-PLUX and stored; null while open.
    #[schema(required = true)]
    pub decided_at: Option<DateTime<Utc>>,
    /// When the review opened: when the screening was stored.
    pub opened_at: DateTime<Utc>,
}

impl Review {
    /// The review of a row, when it has one.
    pub fn of_row(row: &ScreeningRow) -> Option<Review> {
        Some(Review {
            state: ReviewState::parse(row.review_state.as_deref()?)?,
            decision: row.review_decision.as_deref().and_then(ReviewDecision::parse),
            memo: row.review_memo.clone(),
            decided_by: row.review_decided_by.clone(),
            decided_at: row.review_decided_at,
            opened_at: row.review_opened_at.or(row.screened_at).unwrap_or(row.claimed_at),
        })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "order_number": "R0000123", "screened": true, "skip_reason": null, "result": "HOLD",
    "reasons": [{"code": "R001", "description": "同一電話番号で短時間に複数注文"}],
    "decision": "redirect", "redirect_url": "https://shop.example.jp/orders/hold",
    "forced_by_thanks_offer": false, "oplux_event_id": "0F1E2D3C4B5A69788796A5B4C3D2E1F00112233445566778",
    "warnings": [{"field": "deliveries[0].tel", "code": "invalid_format",
        "message": "deliveries[0].tel was left out of the O-PLUX event: expected a Japanese phone number of 10 or 11 digits"}],
    "parent_order_number": null, "parent_screening": null, "screened_at": "2026-11-23T10:00:01Z",
    "manual_review": {"result": "OK", "memo": "本人確認済み", "reviewed_at": "2026-11-23T12:30:00Z"},
    "review": {"state": "open", "decision": null, "memo": null, "decided_by": null,
        "decided_at": null, "opened_at": "2026-11-23T10:00:01Z"}
}))]
pub struct Screening {
    pub order_number: String,
    /// Whether O-PLUX was asked.
    pub screened: bool,
    /// Why not, when not screened.
    pub skip_reason: Option<SkipReason>,
    /// O-PLUX's result (`ERROR`: no answer); null when not screened.
    pub result: Option<ScreeningResult>,
    /// O-PLUX's reasons (判定理由); for an O-PLUX error answer, its error codes.
    pub reasons: Vec<Reason>,
    pub decision: DecisionKind,
    /// Where to send the buyer when the decision is `redirect`.
    pub redirect_url: Option<String>,
    /// A redirect was overridden because of a thanks offer (the order is created).
    pub forced_by_thanks_offer: bool,
    /// O-PLUX's event id.
    pub oplux_event_id: Option<String>,
    /// The buyer's data that could not be used and was left out of the O-PLUX event
    /// (the order was screened without it).
    pub warnings: Vec<Warning>,
    /// For a thanks-offer payment: the order whose screening covers it, as sent.
    pub parent_order_number: Option<String>,
    /// For a thanks-offer payment not screened again: the parent order's screening.
    pub parent_screening: Option<ParentScreening>,
    pub screened_at: DateTime<Utc>,
    /// O-PLUX's manual review, once known (`result` above stays what O-PLUX answered at
    /// checkout); null while nobody has reviewed the order.
    pub manual_review: Option<ManualReview>,
    /// The shop's own review (the review queue: `GET /api/v1/reviews`) for HOLD, REVIEW,
    /// and NG when the shop's action for NG is `create_order`; null for the others.
    pub review: Option<Review>,
}

impl Screening {
    /// The record of a finished row; stored JSON that cannot be read is an error.
    pub fn from_row(row: &ScreeningRow) -> Result<Self, DomainError> {
        Ok(Self {
            order_number: row.order_number.clone(),
            screened: row.screened,
            skip_reason: row.skip_reason.as_deref().and_then(SkipReason::parse),
            result: row.result.as_deref().and_then(ScreeningResult::parse),
            reasons: stored_json(row, "reasons", &row.reasons)?,
            decision: if row.decision.as_deref() == Some(DecisionKind::Redirect.as_str()) {
                DecisionKind::Redirect
            } else {
                DecisionKind::CreateOrder
            },
            redirect_url: row.redirect_url.clone(),
            forced_by_thanks_offer: row.forced_by_thanks_offer,
            oplux_event_id: row.oplux_event_id.clone(),
            warnings: stored_json(row, "warnings", &row.warnings)?,
            parent_order_number: row.parent_order_number.clone(),
            parent_screening: row
                .parent_screening
                .as_deref()
                .map(|text| stored_json(row, "parent_screening", text))
                .transpose()?,
            screened_at: row.screened_at.unwrap_or(row.claimed_at),
            manual_review: manual_review(row),
            review: Review::of_row(row),
        })
    }

    /// What a thanks-offer payment of this order answers.
    pub fn as_parent(&self) -> ParentScreening {
        ParentScreening {
            order_number: self.order_number.clone(),
            result: self.result,
            decision: self.decision,
        }
    }
}

fn manual_review(row: &ScreeningRow) -> Option<ManualReview> {
    Some(ManualReview {
        result: ManualResult::parse(row.manual_result.as_deref()?)?,
        memo: row.manual_memo.clone().unwrap_or_default(),
        reviewed_at: row.manual_reviewed_at.unwrap_or(row.claimed_at),
    })
}

fn stored_json<T: serde::de::DeserializeOwned>(row: &ScreeningRow, column: &str, text: &str) -> Result<T, DomainError> {
    serde_json::from_str(text).map_err(|err| {
        DomainError::Conflict(format!(
            "the stored {column} of the screening of order '{}' cannot be read ({err})",
            row.order_number
        ))
    })
}
