//! A screening as answered and as found later.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    decision::{ScreeningResult, SkipReason},
    oplux::protocol::Reason,
};
use crate::store::screenings::ScreeningRow;

/// What checkout does: create the order, or redirect the buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    CreateOrder,
    Redirect,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "order_number": "R0000123", "screened": true, "skip_reason": null, "result": "HOLD",
    "reasons": [{"code": "R001", "description": "同一電話番号で短時間に複数注文"}],
    "decision": "redirect", "redirect_url": "https://shop.example.jp/orders/hold",
    "forced_by_thanks_offer": false, "oplux_event_id": "0F1E2D3C4B5A69788796A5B4C3D2E1F00112233445566778",
    "parent_order_number": null, "screened_at": "2026-11-23T10:00:01Z"
}))]
pub struct Screening {
    pub order_number: String,
    /// Whether O-PLUX was asked.
    pub screened: bool,
    /// Why not, when not screened.
    pub skip_reason: Option<SkipReason>,
    /// O-PLUX's result (`ERROR`: no answer); null when not screened.
    pub result: Option<ScreeningResult>,
    /// O-PLUX's reasons (判定理由).
    pub reasons: Vec<Reason>,
    pub decision: DecisionKind,
    /// Where to send the buyer when the decision is `redirect`.
    pub redirect_url: Option<String>,
    /// A redirect was overridden because of a thanks offer (the order is created).
    pub forced_by_thanks_offer: bool,
    /// O-PLUX's event id.
    pub oplux_event_id: Option<String>,
    /// For a thanks-offer payment: the order whose screening covers it.
    pub parent_order_number: Option<String>,
    pub screened_at: DateTime<Utc>,
}

impl Screening {
    pub fn from_row(row: &ScreeningRow) -> Self {
        Self {
            order_number: row.order_number.clone(),
            screened: row.screened,
            skip_reason: row.skip_reason.as_deref().and_then(SkipReason::parse),
            result: row.result.as_deref().and_then(ScreeningResult::parse),
            reasons: serde_json::from_str(&row.reasons).unwrap_or_default(),
            decision: if row.decision.as_deref() == Some("redirect") {
                DecisionKind::Redirect
            } else {
                DecisionKind::CreateOrder
            },
            redirect_url: row.redirect_url.clone(),
            forced_by_thanks_offer: row.forced_by_thanks_offer,
            oplux_event_id: row.oplux_event_id.clone(),
            parent_order_number: row.parent_order_number.clone(),
            screened_at: row.screened_at.unwrap_or(row.claimed_at),
        }
    }
}
