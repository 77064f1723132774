//! What happened in a shop, as events: appended to the shop's event log in the
//! transaction of the change they report (an outbox), listed by `GET /api/v1/events`,
//! and delivered to the shop's webhook endpoints.

use chrono::{SubsecRound, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::{
    crypto::random_token,
    store::events::{self, EventRow, NewEvent},
};

/// The kinds of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, ToSchema)]
pub enum EventType {
    /// An order was screened (a new screening record).
    #[serde(rename = "screening.created")]
    ScreeningCreated,
    /// O-PLUX's manual review of a screened order changed.
    #[serde(rename = "screening.manual_review_updated")]
    ScreeningManualReviewUpdated,
    /// A provider account changed (field names only).
    #[serde(rename = "provider_account.updated")]
    ProviderAccountUpdated,
    /// A certificate of a provider account expires within 30, 7 or 1 days.
    #[serde(rename = "provider_account.certificate_expiring")]
    ProviderAccountCertificateExpiring,
}

impl EventType {
    pub const ALL: [EventType; 4] = [
        EventType::ScreeningCreated,
        EventType::ScreeningManualReviewUpdated,
        EventType::ProviderAccountUpdated,
        EventType::ProviderAccountCertificateExpiring,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ScreeningCreated => "screening.created",
            EventType::ScreeningManualReviewUpdated => "screening.manual_review_updated",
            EventType::ProviderAccountUpdated => "provider_account.updated",
            EventType::ProviderAccountCertificateExpiring => "provider_account.certificate_expiring",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// Appends an event to the shop's log, in the caller's transaction: the event exists
/// exactly when the change it reports does.
pub async fn emit(db: &impl ConnectionTrait, shop_id: &str, kind: EventType, data: &Value) -> Result<EventRow, DbErr> {
    let public_id = format!("evt_{}", random_token::<16>());
    let data = data.to_string();
    events::insert(
        db,
        NewEvent {
            public_id: &public_id,
            shop_id,
            event_type: kind.as_str(),
            data: &data,
            // Microseconds: what PostgreSQL keeps, so a read-back is the same instant.
            created_at: Utc::now().trunc_subsecs(6),
        },
    )
    .await
}
