//! The history of exchanges with O-PLUX per order: what was asked, when, how
//! long it took and what O-PLUX said — its codes, never personal data.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::oplux::{protocol::Answer, protocol_v2::V2Answer};
use crate::{
    core::DomainError,
    store::oplux_exchanges::{ExchangeRow, NewExchange},
};

/// What renkei asked O-PLUX.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExchangeKind {
    /// The event registration at checkout (v3).
    Register,
    /// A read of the manual review (v2 GET), on demand or by the poller.
    Sync,
    /// An update sent to O-PLUX (v2 PUT).
    Update,
    /// A test event with the stored credentials.
    Verify,
}

impl ExchangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeKind::Register => "register",
            ExchangeKind::Sync => "sync",
            ExchangeKind::Update => "update",
            ExchangeKind::Verify => "verify",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Register, Self::Sync, Self::Update, Self::Verify]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// How the exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExchangeOutcome {
    /// O-PLUX answered (`result` 10).
    Answered,
    /// O-PLUX refused (`result` 20 or a 4xx): see `codes`.
    Refused,
    /// No usable answer: unreachable, timed out, or an HTTP status without a result.
    Failed,
}

impl ExchangeOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeOutcome::Answered => "answered",
            ExchangeOutcome::Refused => "refused",
            ExchangeOutcome::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Answered, Self::Refused, Self::Failed]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// One exchange with O-PLUX.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"kind": "sync", "at": "2026-11-23T12:30:00Z", "latency_ms": 42,
    "outcome": "answered", "http_status": 200, "codes": ["BLK_COK"]}))]
pub struct Exchange {
    pub kind: ExchangeKind,
    /// When it was sent.
    pub at: DateTime<Utc>,
    pub latency_ms: Option<i64>,
    pub outcome: ExchangeOutcome,
    /// O-PLUX's HTTP status; null when it did not answer.
    pub http_status: Option<i32>,
    /// O-PLUX's codes: its error codes for a refusal, its rule codes for an answer, or
    /// `unreachable` / `timed out` when it did not answer.
    pub codes: Vec<String>,
}

impl Exchange {
    pub fn from_row(row: &ExchangeRow) -> Result<Self, DomainError> {
        let unreadable = || {
            DomainError::Conflict(format!(
                "a stored O-PLUX exchange of order '{}' cannot be read",
                row.order_number
            ))
        };
        Ok(Self {
            kind: ExchangeKind::parse(&row.kind).ok_or_else(unreadable)?,
            at: row.at,
            latency_ms: row.latency_ms,
            outcome: ExchangeOutcome::parse(&row.outcome).ok_or_else(unreadable)?,
            http_status: row.http_status,
            codes: serde_json::from_str(&row.codes).map_err(|_| unreadable())?,
        })
    }
}

/// What one call is recorded as: its outcome and codes.
pub fn outcome_of_v3(outcome: &Result<Answer, String>) -> (ExchangeOutcome, Vec<String>) {
    match outcome {
        Ok(Answer::Screened { reasons, .. }) => (
            ExchangeOutcome::Answered,
            reasons.iter().map(|r| r.code.clone()).collect(),
        ),
        Ok(Answer::Rejected { errors, .. }) => (
            ExchangeOutcome::Refused,
            errors.iter().map(|e| e.code.clone()).collect(),
        ),
        Err(reason) => (ExchangeOutcome::Failed, failure_codes(reason)),
    }
}

pub fn outcome_of_v2(outcome: &Result<V2Answer, String>) -> (ExchangeOutcome, Vec<String>) {
    match outcome {
        Ok(V2Answer::Event(event)) => (ExchangeOutcome::Answered, event.rules.clone()),
        Ok(V2Answer::Updated) => (ExchangeOutcome::Answered, Vec::new()),
        Ok(V2Answer::Rejected { errors, .. }) => (
            ExchangeOutcome::Refused,
            errors.iter().map(|e| e.code.clone()).collect(),
        ),
        Err(reason) => (ExchangeOutcome::Failed, failure_codes(reason)),
    }
}

/// A failure's code: what the tenant may see ("unreachable", "timed out"), else none
/// (the HTTP status tells the rest).
fn failure_codes(reason: &str) -> Vec<String> {
    match reason {
        "unreachable" | "timed out" => vec![reason.to_string()],
        _ => Vec::new(),
    }
}

/// The row of one exchange.
pub fn new_exchange(
    shop_id: &str,
    order_number: &str,
    kind: ExchangeKind,
    latency: std::time::Duration,
    http_status: Option<u16>,
    (outcome, codes): (ExchangeOutcome, Vec<String>),
) -> NewExchange {
    let now = Utc::now().trunc_subsecs(6);
    let latency_ms = latency.as_millis() as i64;
    NewExchange {
        shop_id: shop_id.to_string(),
        order_number: order_number.to_string(),
        kind: kind.as_str(),
        at: now - chrono::Duration::milliseconds(latency_ms),
        latency_ms: Some(latency_ms),
        outcome: outcome.as_str(),
        http_status: http_status.map(i32::from),
        codes: serde_json::to_string(&codes).unwrap_or_else(|_| "[]".into()),
    }
}
