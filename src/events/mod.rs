//! What happened in a shop, as events: appended to the shop's event log in the
//! transaction of the change they report (an outbox), listed by `GET /api/v1/events`,
//! and delivered to the shop's webhook endpoints.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::{
    auth::{Scope, ScopeSet},
    crypto::random_token,
    store::{
        events::{self, EventRow, NewEvent},
        webhooks::{self, EndpointRow, NewDelivery, NewEventDelivery},
    },
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
    /// A screening opened a review for the shop's decision (HOLD, REVIEW, or NG with the
    /// order created).
    #[serde(rename = "screening.review_opened")]
    ScreeningReviewOpened,
    /// The shop decided a review (`approved` or `cancelled`) and O-PLUX was told.
    #[serde(rename = "screening.review_closed")]
    ScreeningReviewClosed,
    /// A provider account changed (field names only).
    #[serde(rename = "provider_account.updated")]
    ProviderAccountUpdated,
    /// A certificate of a provider account expires within 30, 7 or 1 days.
    #[serde(rename = "provider_account.certificate_expiring")]
    ProviderAccountCertificateExpiring,
    /// A webhook endpoint was disabled (410 Gone, or failing for too long); `data.reason` says why.
    #[serde(rename = "webhook_endpoint.disabled")]
    WebhookEndpointDisabled,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        EventType::ScreeningCreated,
        EventType::ScreeningManualReviewUpdated,
        EventType::ScreeningReviewOpened,
        EventType::ScreeningReviewClosed,
        EventType::ProviderAccountUpdated,
        EventType::ProviderAccountCertificateExpiring,
        EventType::WebhookEndpointDisabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ScreeningCreated => "screening.created",
            EventType::ScreeningManualReviewUpdated => "screening.manual_review_updated",
            EventType::ScreeningReviewOpened => "screening.review_opened",
            EventType::ScreeningReviewClosed => "screening.review_closed",
            EventType::ProviderAccountUpdated => "provider_account.updated",
            EventType::ProviderAccountCertificateExpiring => "provider_account.certificate_expiring",
            EventType::WebhookEndpointDisabled => "webhook_endpoint.disabled",
        }
    }

    /// The scope a client needs, beside `webhooks:read`, to see events of this type
    ///: `screenings:read` for `screening.*`, `accounts:read` for
    /// `provider_account.*`.
    pub fn read_scope(self) -> Option<Scope> {
        let name = self.as_str();
        if name.starts_with("screening.") {
            Some(Scope::ScreeningsRead)
        } else if name.starts_with("provider_account.") {
            Some(Scope::AccountsRead)
        } else {
            None
        }
    }

    /// Whether a client holding `scopes` may see events of this type.
    pub fn readable_with(self, scopes: ScopeSet) -> bool {
        self.read_scope().is_none_or(|scope| scopes.contains(scope))
    }

    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// An event to append: what happened in which shop.
pub struct Emit<'a> {
    pub shop_id: &'a str,
    pub kind: EventType,
    pub data: &'a Value,
}

impl Emit<'_> {
    /// The event's row, with a new id, as written at `now`.
    pub fn new_event(&self, now: DateTime<Utc>) -> NewEvent {
        NewEvent {
            public_id: format!("evt_{}", random_token::<16>()),
            shop_id: self.shop_id.to_string(),
            event_type: self.kind.as_str(),
            data: self.data.to_string(),
            created_at: now,
        }
    }
}

/// The instant events are written at, in microseconds: what PostgreSQL keeps, so a
/// read-back is the same instant.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Appends an event to the shop's log, in the caller's transaction, with one delivery
/// per enabled webhook endpoint of the shop subscribed to its type (the outbox): the
/// event and its deliveries exist exactly when the change they report does.
pub async fn emit(db: &impl ConnectionTrait, shop_id: &str, kind: EventType, data: &Value) -> Result<EventRow, DbErr> {
    let endpoints = webhooks::enabled_endpoints(db, &[shop_id]).await?;
    let mut rows = emit_all(db, &[Emit { shop_id, kind, data }], &endpoints).await?;
    rows.pop().ok_or(DbErr::RecordNotInserted)
}

/// `emit` for many events at once: multi-row INSERTs of the events and of their
/// deliveries. `endpoints` are the enabled endpoints of the events' shops, read in the
/// same transaction. Returns the events' rows, in order.
pub async fn emit_all(
    db: &impl ConnectionTrait,
    emits: &[Emit<'_>],
    endpoints: &[EndpointRow],
) -> Result<Vec<EventRow>, DbErr> {
    if emits.is_empty() {
        return Ok(Vec::new());
    }
    let now = now();
    let new: Vec<NewEvent> = emits.iter().map(|emit| emit.new_event(now)).collect();
    let rows = events::insert(db, &new).await?;
    let subscribed = Subscribed::new(endpoints);
    let deliveries = rows
        .iter()
        .zip(emits)
        .flat_map(|(event, emit)| {
            subscribed
                .to(emit.shop_id, Some(emit.kind))
                .map(move |endpoint| delivery(event, endpoint, now))
        })
        .collect();
    webhooks::insert_deliveries(db, deliveries).await?;
    Ok(rows)
}

/// The deliveries `emit_all` queues, for events not written yet: to every endpoint of
/// `endpoints` (the enabled endpoints of their shops) of the event's shop subscribed to
/// its type, naming each event by its public id (`webhooks::insert_event_deliveries`).
pub fn deliveries_of_new(new: &[&NewEvent], endpoints: &[EndpointRow]) -> Vec<NewEventDelivery> {
    let subscribed = Subscribed::new(endpoints);
    new.iter()
        .flat_map(|event| {
            subscribed
                .to(&event.shop_id, EventType::parse(event.event_type))
                .map(move |endpoint| NewEventDelivery {
                    public_id: delivery_id(),
                    shop_id: event.shop_id.clone(),
                    endpoint_id: endpoint.id,
                    event_public_id: event.public_id.clone(),
                    at: event.created_at,
                })
        })
        .collect()
}

/// Endpoints with their subscriptions, read once rather than once per event.
struct Subscribed<'a>(Vec<(&'a EndpointRow, Vec<EventType>)>);

impl<'a> Subscribed<'a> {
    fn new(endpoints: &'a [EndpointRow]) -> Self {
        Self(endpoints.iter().map(|e| (e, subscriptions(e))).collect())
    }

    /// The endpoints that get an event of this shop and type (none for an unknown type).
    fn to<'s>(&'s self, shop_id: &'s str, kind: Option<EventType>) -> impl Iterator<Item = &'a EndpointRow> + 's {
        self.0
            .iter()
            .filter(move |(e, kinds)| e.shop_id == shop_id && kind.is_some_and(|k| kinds.contains(&k)))
            .map(|(endpoint, _)| *endpoint)
    }
}

/// Queues a delivery of `event` to each of `endpoints`; returns their ids.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    event: &EventRow,
    endpoints: &[&EndpointRow],
) -> Result<Vec<String>, DbErr> {
    let now = now();
    let deliveries: Vec<NewDelivery> = endpoints
        .iter()
        .map(|endpoint| delivery(event, endpoint, now))
        .collect();
    let ids = deliveries.iter().map(|d| d.public_id.clone()).collect();
    webhooks::insert_deliveries(db, deliveries).await?;
    Ok(ids)
}

/// A new delivery of `event` to `endpoint`, due at once.
fn delivery(event: &EventRow, endpoint: &EndpointRow, now: DateTime<Utc>) -> NewDelivery {
    NewDelivery {
        public_id: delivery_id(),
        shop_id: event.shop_id.clone(),
        endpoint_id: endpoint.id,
        event_id: event.id,
        at: now,
    }
}

/// A new delivery's public id.
fn delivery_id() -> String {
    format!("whd_{}", random_token::<16>())
}

/// The event types an endpoint subscribed to, as stored.
pub fn subscriptions(endpoint: &EndpointRow) -> Vec<EventType> {
    serde_json::from_str::<Vec<String>>(&endpoint.events)
        .unwrap_or_default()
        .iter()
        .filter_map(|name| EventType::parse(name))
        .collect()
}

/// Whether the endpoint wants events of this type.
pub fn subscribes(endpoint: &EndpointRow, kind: EventType) -> bool {
    subscriptions(endpoint).contains(&kind)
}

/// The event as it is listed and delivered: `{id, type, created_at, data}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "evt_3q2-XbU0gS6pDk1lR9wTzA",
    "type": "provider_account.updated",
    "created_at": "2026-11-23T10:00:00Z",
    "data": {"provider": "gmo-pg", "action": "update", "fields": ["shop_password"]}
}))]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub created_at: DateTime<Utc>,
    /// What happened; its shape depends on the type.
    #[schema(value_type = Object)]
    pub data: Value,
}

impl Event {
    /// The stored event; `None` when its row cannot be read (an unknown type or bad data).
    pub fn from_row(row: &EventRow) -> Option<Self> {
        Some(Self {
            id: row.public_id.clone(),
            kind: EventType::parse(&row.event_type)?,
            created_at: row.created_at,
            data: serde_json::from_str(&row.data).ok()?,
        })
    }
}
