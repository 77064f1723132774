//! Webhook endpoints against the database: create (the secret shown once), read, change,
//! delete, rotate the secret (the old one keeps signing for 24 hours), the per-endpoint
//! delivery log, and redelivery of an event.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::{
    auth::ScopeSet,
    core::{Actor, DomainError, FieldError, Precondition, Secret},
    crypto::{
        random_bytes, random_token,
        seal::{MasterKeys, Owner, SealError},
    },
    events::{self, EventType},
    outbound::OutboundPolicy,
    store::{
        self,
        events::EventRow,
        webhooks::{self as rows, AttemptRow, DeliveryRow, EndpointRow, NewDelivery, NewEndpoint},
    },
};

/// How long a rotated-out secret keeps signing beside the new one.
pub const ROTATION_OVERLAP: Duration = Duration::hours(24);
/// Secrets that sign at once at most (the current one included): a bound on the
/// signature headers however often a client rotates.
pub const MAX_SIGNING_SECRETS: usize = 32;
/// Events one recovery queues at most.
pub const MAX_RECOVER: u64 = 10_000;
const MAX_URL_LEN: usize = 2048;
const MAX_DESCRIPTION_LEN: usize = 500;

/// An endpoint as shown: never its secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "we_5Jx0c2mQ8lTqf1a9ZbWc3g",
    "url": "https://orders.example.jp/hooks/renkei",
    "events": ["screening.created", "provider_account.updated"],
    "description": "order system",
    "enabled": true,
    "previous_secret_expires_at": null,
    "created_at": "2026-11-23T10:00:00Z",
    "updated_at": "2026-11-23T10:00:00Z"
}))]
pub struct WebhookEndpoint {
    pub id: String,
    /// Where events are POSTed: https on a public address, or an allow-listed origin.
    pub url: String,
    /// The event types sent to it.
    pub events: Vec<EventType>,
    pub description: Option<String>,
    pub enabled: bool,
    /// While set, the secret before the last rotation signs too, until then.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An endpoint with its signing secret: the answer of create and rotate-secret, the
/// only times the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// `whsec_<base64 of 32 bytes>`. Standard Webhooks libraries take it as it is (the
    /// key of `webhook-signature` is the base64 after `whsec_`, decoded); the key of
    /// `Renkei-Signature` is the whole string's UTF-8 bytes. Shown only now.
    pub secret: String,
}

/// A new endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://orders.example.jp/hooks/renkei",
    "events": ["screening.created"],
    "description": "order system"
}))]
pub struct WebhookEndpointInput {
    /// https on a public address, or an origin in the operator's RENKEI_OUTBOUND_ALLOWLIST.
    #[schema(max_length = 2048)]
    pub url: String,
    /// At least one event type.
    #[schema(min_items = 1)]
    pub events: Vec<EventType>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// Changes to an endpoint (JSON Merge Patch: `description: null` clears it).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"enabled": false}))]
pub struct WebhookEndpointPatch {
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    #[schema(min_items = 1)]
    pub events: Option<Vec<EventType>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// A field that is present (possibly `null`) as `Some`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// One attempt to send a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryAttempt {
    pub attempted_at: DateTime<Utc>,
    /// How long the endpoint took to answer (or to fail).
    pub latency_ms: i64,
    /// The endpoint's HTTP status, when it answered.
    pub status_code: Option<i32>,
    pub outcome: WebhookAttemptOutcome,
    /// Why no answer counted: `unreachable`, `timed out`, `refused by the outbound policy`, …
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookAttemptOutcome {
    Delivered,
    Retrying,
    Failed,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookDeliveryStatus {
    /// Not yet delivered; tried again at `next_attempt_at`.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Retried for 3 days without a 2xx.
    Failed,
}

/// One event sent (or to be sent) to one endpoint, with every attempt.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "whd_Hc1bq0n5xqX3fJ2lQp0a9w",
    "endpoint_id": "we_5Jx0c2mQ8lTqf1a9ZbWc3g",
    "event_id": "evt_3q2-XbU0gS6pDk1lR9wTzA",
    "event_type": "provider_account.updated",
    "status": "delivered",
    "next_attempt_at": null,
    "last_status_code": 200,
    "created_at": "2026-11-23T10:00:00Z",
    "attempts": [{"attempted_at": "2026-11-23T10:00:01Z", "latency_ms": 84, "status_code": 200, "outcome": "delivered", "error": null}]
}))]
pub struct WebhookDelivery {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: Option<EventType>,
    pub status: WebhookDeliveryStatus,
    /// When it is tried next (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub created_at: DateTime<Utc>,
    /// Oldest first.
    pub attempts: Vec<WebhookDeliveryAttempt>,
}

pub struct Webhooks<'a> {
    pub db: &'a DatabaseConnection,
    pub keys: &'a MasterKeys,
    pub outbound: &'a OutboundPolicy,
}

/// The sealing owner of an endpoint's secret: the shop and the endpoint.
pub fn owner<'a>(shop_id: &'a str, endpoint_id: &'a str) -> Owner<'a> {
    Owner {
        shop: shop_id,
        provider: "webhook-endpoint",
        field: endpoint_id,
    }
}

pub fn not_found(id: &str) -> DomainError {
    DomainError::NotFound(format!("there is no webhook endpoint '{id}' in this shop"))
}

/// A strong entity tag: the row id and its version.
pub fn etag(row: &EndpointRow) -> String {
    format!("\"{}-{}\"", row.id, row.version)
}

impl WebhookEndpoint {
    pub fn from_row(row: &EndpointRow) -> Self {
        let overlap = row.previous_secret_until.filter(|until| *until > Utc::now());
        Self {
            id: row.public_id.clone(),
            url: row.url.clone(),
            events: events::subscriptions(row),
            description: row.description.clone(),
            enabled: row.enabled,
            previous_secret_expires_at: overlap,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// `whsec_` and the base64 of 32 random bytes: what the Standard Webhooks libraries
/// take as it is. (Secrets issued before held URL-safe base64 without padding; they
/// keep signing both headers, see `signature`.)
fn new_secret() -> String {
    use base64::Engine;
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(random_bytes::<32>())
    )
}

/// A secret rotated out before the previous one, signing until `until`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OlderSecret {
    /// Sealed.
    secret: String,
    until: DateTime<Utc>,
}

/// The secrets rotated out before the previous one, as stored (none when unreadable,
/// which is logged: they stop signing, the current and previous ones go on).
fn older_secrets(row: &EndpointRow) -> Vec<OlderSecret> {
    let Some(text) = row.older_secrets.as_deref() else {
        return Vec::new();
    };
    serde_json::from_str(text).unwrap_or_else(|err| {
        tracing::error!(endpoint = %row.public_id, error = %err, "an endpoint's older secrets are unreadable");
        Vec::new()
    })
}

/// Every secret that signs at `now`: the current one and each rotated out within the
/// last 24 hours, however many rotations there were (at most `MAX_SIGNING_SECRETS`).
pub fn signing_secrets(
    keys: &MasterKeys,
    row: &EndpointRow,
    now: DateTime<Utc>,
) -> Result<Vec<Secret<String>>, SealError> {
    let owner = owner(&row.shop_id, &row.public_id);
    let mut sealed = vec![row.secret.clone()];
    if let (Some(previous), Some(until)) = (&row.previous_secret, row.previous_secret_until)
        && until > now
    {
        sealed.push(previous.clone());
    }
    sealed.extend(
        older_secrets(row)
            .into_iter()
            .filter(|older| older.until > now)
            .map(|older| older.secret),
    );
    sealed.truncate(MAX_SIGNING_SECRETS);
    sealed.iter().map(|s| keys.open(owner, s)).collect()
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl Webhooks<'_> {
    fn check_url(&self, url: &str, errors: &mut Vec<FieldError>) {
        if url.len() > MAX_URL_LEN {
            errors.push(FieldError::new(
                "url",
                "too_long",
                format!("url must be at most {MAX_URL_LEN} characters"),
            ));
        } else if let Err(refusal) = self.outbound.check_delivery_url(url) {
            errors.push(FieldError::new("url", "not_allowed", refusal.to_string()));
        }
    }

    fn check(
        &self,
        url: Option<&str>,
        events: Option<&[EventType]>,
        description: Option<&str>,
    ) -> Result<(), DomainError> {
        let mut errors = Vec::new();
        if let Some(url) = url {
            self.check_url(url, &mut errors);
        }
        if events.is_some_and(<[EventType]>::is_empty) {
            errors.push(FieldError::new(
                "events",
                "required",
                "events must list at least one event type",
            ));
        }
        if description.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_LEN) {
            errors.push(FieldError::new(
                "description",
                "too_long",
                format!("description must be at most {MAX_DESCRIPTION_LEN} characters"),
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(errors))
        }
    }

    pub async fn create(
        &self,
        actor: &Actor<'_>,
        input: WebhookEndpointInput,
    ) -> Result<(EndpointRow, Secret<String>), DomainError> {
        let url = input.url.trim().to_string();
        let description = input.description.map(|d| d.trim().to_string());
        self.check(Some(&url), Some(&input.events), description.as_deref())?;
        let public_id = format!("we_{}", random_token::<16>());
        let secret = Secret::new(new_secret());
        let sealed = self.keys.seal(owner(actor.shop_id, &public_id), secret.expose());
        let events = event_names(&input.events);
        let txn = store::begin_write(self.db).await?;
        store::shops::ensure(&txn, actor.shop_id).await?;
        let row = rows::insert_endpoint(
            &txn,
            NewEndpoint {
                public_id: &public_id,
                shop_id: actor.shop_id,
                url: &url,
                description: description.as_deref(),
                events: &events,
                enabled: input.enabled.unwrap_or(true),
                sealed_secret: &sealed,
                at: now(),
            },
        )
        .await?;
        actor
            .record_change(
                &txn,
                "webhook_endpoint",
                &public_id,
                "create",
                &["url", "events", "description", "enabled", "secret"],
            )
            .await?;
        txn.commit().await?;
        Ok((row, secret))
    }

    pub async fn get(&self, shop_id: &str, id: &str) -> Result<EndpointRow, DomainError> {
        rows::find_endpoint(self.db, shop_id, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    pub async fn list(&self, shop_id: &str, after: Option<i64>, limit: u64) -> Result<Vec<EndpointRow>, DomainError> {
        Ok(rows::list_endpoints(self.db, shop_id, after, limit).await?)
    }

    pub async fn patch(
        &self,
        actor: &Actor<'_>,
        id: &str,
        patch: WebhookEndpointPatch,
        precondition: &Precondition,
    ) -> Result<EndpointRow, DomainError> {
        let txn = store::begin_write(self.db).await?;
        let row = rows::find_endpoint(&txn, actor.shop_id, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        precondition.check(Some(&etag(&row)))?;
        let url = patch.url.map(|u| u.trim().to_string());
        let description = patch.description.map(|d| d.map(|d| d.trim().to_string()));
        self.check(
            url.as_deref(),
            patch.events.as_deref(),
            description.as_ref().and_then(|d| d.as_deref()),
        )?;
        let mut new = row.clone();
        let mut changed = Vec::new();
        if let Some(url) = url.filter(|u| *u != row.url) {
            new.url = url;
            changed.push("url");
        }
        if let Some(events) = patch.events.map(|e| event_names(&e)).filter(|e| *e != row.events) {
            new.events = events;
            changed.push("events");
        }
        if let Some(description) = description.filter(|d| *d != row.description) {
            new.description = description;
            changed.push("description");
        }
        if let Some(enabled) = patch.enabled.filter(|e| *e != row.enabled) {
            new.enabled = enabled;
            new.failing_since = None;
            changed.push("enabled");
        }
        if changed.is_empty() {
            return Ok(row);
        }
        new.updated_at = now();
        let enabled_again = new.enabled && !row.enabled;
        if !rows::update_endpoint(&txn, &row, new).await? {
            return Err(precondition.lost_race("webhook endpoint"));
        }
        if enabled_again {
            // Its pending deliveries go out now, not at the end of their backoff.
            rows::release_pending(&txn, row.id, now()).await?;
        }
        actor
            .record_change(&txn, "webhook_endpoint", id, "update", &changed)
            .await?;
        let row = rows::find_endpoint(&txn, actor.shop_id, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        txn.commit().await?;
        Ok(row)
    }

    pub async fn delete(&self, actor: &Actor<'_>, id: &str, precondition: &Precondition) -> Result<(), DomainError> {
        let txn = store::begin_write(self.db).await?;
        let row = rows::find_endpoint(&txn, actor.shop_id, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        precondition.check(Some(&etag(&row)))?;
        if !rows::delete_endpoint(&txn, &row).await? {
            return Err(precondition.lost_race("webhook endpoint"));
        }
        actor.record_change(&txn, "webhook_endpoint", id, "delete", &[]).await?;
        txn.commit().await?;
        Ok(())
    }

    /// A new secret (shown once); the current one keeps signing beside it for 24 hours.
    pub async fn rotate_secret(
        &self,
        actor: &Actor<'_>,
        id: &str,
        precondition: &Precondition,
    ) -> Result<(EndpointRow, Secret<String>), DomainError> {
        let txn = store::begin_write(self.db).await?;
        let row = rows::find_endpoint(&txn, actor.shop_id, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        precondition.check(Some(&etag(&row)))?;
        let secret = Secret::new(new_secret());
        let at = now();
        let mut new = row.clone();
        // The previous secret joins the older ones; all of them sign until their time.
        let mut older: Vec<OlderSecret> = older_secrets(&row).into_iter().filter(|o| o.until > at).collect();
        if let (Some(previous), Some(until)) = (&row.previous_secret, row.previous_secret_until)
            && until > at
        {
            older.insert(
                0,
                OlderSecret {
                    secret: previous.clone(),
                    until,
                },
            );
        }
        older.truncate(MAX_SIGNING_SECRETS - 2);
        new.older_secrets = if older.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&older).unwrap_or_else(|_| "[]".into()))
        };
        new.previous_secret = Some(row.secret.clone());
        new.previous_secret_until = Some(at + ROTATION_OVERLAP);
        new.secret = self.keys.seal(owner(actor.shop_id, id), secret.expose());
        new.updated_at = at;
        if !rows::update_endpoint(&txn, &row, new).await? {
            return Err(precondition.lost_race("webhook endpoint"));
        }
        actor
            .record_change(&txn, "webhook_endpoint", id, "rotate_secret", &["secret"])
            .await?;
        let row = rows::find_endpoint(&txn, actor.shop_id, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        txn.commit().await?;
        Ok((row, secret))
    }

    /// The endpoint's deliveries, newest first, each with its attempts.
    pub async fn deliveries(
        &self,
        shop_id: &str,
        id: &str,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<(i64, WebhookDelivery)>, DomainError> {
        let endpoint = self.get(shop_id, id).await?;
        let deliveries = rows::list_deliveries(self.db, endpoint.id, before, limit).await?;
        let events = store::events::by_ids(self.db, deliveries.iter().map(|d| d.event_id).collect()).await?;
        let attempts = rows::attempts_of(self.db, deliveries.iter().map(|d| d.id).collect()).await?;
        Ok(deliveries
            .into_iter()
            .map(|row| {
                let event = events.iter().find(|e| e.id == row.event_id);
                let view = delivery_view(&row, &endpoint, event, &attempts);
                (row.id, view)
            })
            .collect())
    }

    /// Sends an event again: a new delivery to every enabled endpoint subscribed to its
    /// type, or to the one endpoint named. Returns the new deliveries' ids.
    pub async fn redeliver(
        &self,
        actor: &Actor<'_>,
        event_id: &str,
        endpoint_id: Option<&str>,
        scopes: ScopeSet,
    ) -> Result<Vec<String>, DomainError> {
        let txn = store::begin_write(self.db).await?;
        let missing = || DomainError::NotFound(format!("there is no event '{event_id}' in this shop"));
        let event = store::events::find(&txn, actor.shop_id, event_id)
            .await?
            .ok_or_else(missing)?;
        let kind = EventType::parse(&event.event_type).ok_or_else(|| {
            DomainError::Conflict(format!("event '{event_id}' has a type this version does not send"))
        })?;
        // An event the client may not read does not exist for it.
        if !kind.readable_with(scopes) {
            return Err(missing());
        }
        let endpoints = match endpoint_id {
            Some(id) => vec![
                rows::find_endpoint(&txn, actor.shop_id, id)
                    .await?
                    .ok_or_else(|| not_found(id))?,
            ],
            None => rows::enabled_endpoints(&txn, &[actor.shop_id])
                .await?
                .into_iter()
                .filter(|e| events::subscribes(e, kind))
                .collect(),
        };
        if endpoints.is_empty() {
            return Err(DomainError::Conflict(format!(
                "no enabled webhook endpoint is subscribed to {}; name one with endpoint_id",
                kind.as_str()
            )));
        }
        let targets: Vec<&EndpointRow> = endpoints.iter().collect();
        let ids = events::enqueue(&txn, &event, &targets).await?;
        let names: Vec<&str> = endpoints.iter().map(|e| e.public_id.as_str()).collect();
        actor
            .record_change(&txn, "event", event_id, "redeliver", &names)
            .await?;
        txn.commit().await?;
        Ok(ids)
    }
}

impl Webhooks<'_> {
    /// Queues one new delivery to the endpoint of every event created since `since`
    /// that failed to reach it (at most `MAX_RECOVER`, oldest first). Returns how many.
    pub async fn recover(&self, actor: &Actor<'_>, id: &str, since: DateTime<Utc>) -> Result<u64, DomainError> {
        let txn = store::begin_write(self.db).await?;
        let endpoint = rows::find_endpoint(&txn, actor.shop_id, id)
            .await?
            .ok_or_else(|| not_found(id))?;
        let events = rows::failed_event_ids(&txn, actor.shop_id, endpoint.id, since, MAX_RECOVER).await?;
        let at = now();
        let count = events.len() as u64;
        let deliveries = events
            .into_iter()
            .map(|event_id| NewDelivery {
                public_id: format!("whd_{}", random_token::<16>()),
                shop_id: actor.shop_id.to_string(),
                endpoint_id: endpoint.id,
                event_id,
                at,
            })
            .collect();
        rows::insert_deliveries(&txn, deliveries).await?;
        actor
            .record_change(&txn, "webhook_endpoint", id, "recover", &[])
            .await?;
        txn.commit().await?;
        Ok(count)
    }
}

fn event_names(events: &[EventType]) -> String {
    let mut names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    serde_json::to_string(&names).unwrap_or_else(|_| "[]".into())
}

fn delivery_view(
    row: &DeliveryRow,
    endpoint: &EndpointRow,
    event: Option<&EventRow>,
    attempts: &[AttemptRow],
) -> WebhookDelivery {
    let status = match row.status.as_str() {
        rows::DELIVERED => WebhookDeliveryStatus::Delivered,
        rows::FAILED => WebhookDeliveryStatus::Failed,
        _ => WebhookDeliveryStatus::Pending,
    };
    WebhookDelivery {
        id: row.public_id.clone(),
        endpoint_id: endpoint.public_id.clone(),
        event_id: event.map(|e| e.public_id.clone()).unwrap_or_default(),
        event_type: event.and_then(|e| EventType::parse(&e.event_type)),
        status,
        next_attempt_at: matches!(status, WebhookDeliveryStatus::Pending).then_some(row.next_attempt_at),
        last_status_code: row.last_status_code,
        created_at: row.created_at,
        attempts: attempts
            .iter()
            .filter(|a| a.delivery_id == row.id)
            .map(|a| WebhookDeliveryAttempt {
                attempted_at: a.attempted_at,
                latency_ms: a.latency_ms,
                status_code: a.status_code,
                outcome: match a.outcome.as_str() {
                    rows::DELIVERED => WebhookAttemptOutcome::Delivered,
                    rows::FAILED => WebhookAttemptOutcome::Failed,
                    _ => WebhookAttemptOutcome::Retrying,
                },
                error: a.error.clone(),
            })
            .collect(),
    }
}

/// Re-seals every endpoint's secrets that another key sealed under the current master
/// key (`renkei keys rotate`). Returns (re-sealed, skipped because changed meanwhile);
/// an error names the endpoint whose secret does not open.
pub async fn reseal_all(
    db: &DatabaseConnection,
    keys: &MasterKeys,
) -> Result<(u64, u64), (String, String, DomainError)> {
    let current = format!("v1.{}.", keys.current_id());
    let (mut resealed, mut skipped, mut after) = (0, 0, 0);
    loop {
        let endpoints = rows::endpoints_after(db, after, 200)
            .await
            .map_err(|err| (String::new(), String::new(), err.into()))?;
        let Some(last) = endpoints.last() else {
            return Ok((resealed, skipped));
        };
        after = last.id;
        for row in endpoints {
            let stale = |sealed: &str| !sealed.starts_with(&current);
            let older = older_secrets(&row);
            if !stale(&row.secret)
                && !row.previous_secret.as_deref().is_some_and(stale)
                && !older.iter().any(|o| stale(&o.secret))
            {
                continue;
            }
            let owner = owner(&row.shop_id, &row.public_id);
            let failed = |err: DomainError| (row.shop_id.clone(), row.public_id.clone(), err);
            let reseal = |sealed: &str| -> Result<String, DomainError> {
                Ok(keys.seal(owner, keys.open(owner, sealed)?.expose()))
            };
            let secret = reseal(&row.secret).map_err(failed)?;
            let previous = row.previous_secret.as_deref().map(reseal).transpose().map_err(failed)?;
            let older = if row.older_secrets.is_some() {
                let resealed = older
                    .into_iter()
                    .map(|o| {
                        Ok(OlderSecret {
                            secret: reseal(&o.secret)?,
                            until: o.until,
                        })
                    })
                    .collect::<Result<Vec<_>, DomainError>>()
                    .map_err(failed)?;
                Some(serde_json::to_string(&resealed).unwrap_or_else(|_| "[]".into()))
            } else {
                None
            };
            if rows::reseal_endpoint(db, &row, secret, previous, older)
                .await
                .map_err(|err| failed(err.into()))?
            {
                resealed += 1;
            } else {
                skipped += 1;
            }
        }
    }
}
