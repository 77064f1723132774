//! The delivery worker. It claims due deliveries (each by one replica) endpoint by
//! endpoint, and sends each on its own task: a slow receiver holds only its own
//! deliveries, never a batch. At most `PER_ENDPOINT` deliveries of an endpoint
//! and `PER_SHOP` of a shop are in flight at once (across replicas: the claims count),
//! `MAX_IN_FLIGHT` on this replica. Each POST carries the event signed twice
//! (`Renkei-Signature` and Standard Webhooks), and its attempt is recorded by one
//! recorder task (attempts finished together share a transaction).
//!
//! The receiver steers: a 2xx is delivered; `410 Gone` disables the endpoint;
//! `429`/`503` with `Retry-After` put the next attempt no sooner than that (at most 1 h);
//! anything else is retried with exponential backoff and jitter for 3 days, then failed.
//! An endpoint whose attempts have all failed for `disable_after` is disabled; disabling
//! emits `webhook_endpoint.disabled`. Claims expire, so a crash or a stop loses nothing:
//! another pass (here or on another replica) picks the delivery up again.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use serde_json::json;
use tokio::{
    sync::{mpsc, watch},
    task::JoinSet,
};

use super::{service::signing_secrets, signature};
use crate::{
    crypto::{random_bytes, seal::MasterKeys},
    events::{self, Event, EventType},
    outbound::{OutboundPolicy, policy::Failure},
    store::{
        self,
        events::EventRow,
        webhooks::{self as rows, AttemptRecord, ClaimLimits, DeliveryRow, EndpointRow},
    },
};

/// How long an endpoint may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a delivery is retried before it is marked failed.
pub const RETRY_FOR: chrono::Duration = chrono::Duration::days(3);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// Deliveries in flight on this replica at most.
pub const MAX_IN_FLIGHT: u64 = 64;
/// Deliveries of one endpoint in flight at most (on every replica together).
pub const PER_ENDPOINT: u64 = 4;
/// Deliveries of one shop in flight at most (on every replica together).
pub const PER_SHOP: u64 = 16;
/// How long a claim holds: longer than an attempt and its recording take.
const CLAIM: chrono::Duration = chrono::Duration::seconds(60);
/// Attempts recorded in one transaction at most.
const RECORD_BATCH: usize = 64;

/// How the worker runs.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How often it looks for due deliveries when none finished meanwhile.
    pub poll_interval: Duration,
    /// The first retry's wait.
    pub retry_base: Duration,
    /// An endpoint failing this long is disabled.
    pub disable_after: Duration,
}

pub struct Worker {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    keys: Arc<MasterKeys>,
    policy: OutboundPolicy,
    http: reqwest::Client,
    settings: Settings,
}

/// A claimed delivery with what sending it needs.
struct Work {
    delivery: DeliveryRow,
    endpoint: Option<EndpointRow>,
    event: Option<EventRow>,
}

/// What became of one POST.
struct Sent {
    status_code: Option<u16>,
    error: Option<&'static str>,
    latency: Duration,
    retry_after: Option<Duration>,
}

/// What the attempt does to its endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Steer {
    Succeeded,
    Failed,
    Disable(DisableReason),
    /// Not attempted (the endpoint was disabled meanwhile): give the claim back.
    Release,
}

/// Why an endpoint is disabled: `reason` of `webhook_endpoint.disabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DisableReason {
    /// The receiver answered 410 Gone.
    Gone,
    /// Every attempt failed for `Settings::disable_after`.
    Failing,
}

impl DisableReason {
    fn code(self) -> &'static str {
        match self {
            DisableReason::Gone => "gone",
            DisableReason::Failing => "failing",
        }
    }

    fn message(self) -> &'static str {
        match self {
            DisableReason::Gone => "the receiver answered 410 Gone",
            DisableReason::Failing => {
                "every delivery to the endpoint failed for the configured time (RENKEI_WEBHOOK_DISABLE_AFTER_HOURS)"
            }
        }
    }
}

/// What comes after an attempt: the attempt's outcome (also the delivery's status),
/// when to try again, and what it does to the endpoint.
#[derive(Debug, PartialEq, Eq)]
struct Next {
    outcome: &'static str,
    at: Option<DateTime<Utc>>,
    steer: Steer,
}

/// A finished attempt, to record.
struct Done {
    delivery: DeliveryRow,
    endpoint: Option<EndpointRow>,
    at: DateTime<Utc>,
    sent: Sent,
    outcome: &'static str,
    next_attempt_at: Option<DateTime<Utc>>,
    steer: Steer,
}

impl Worker {
    pub fn new(db: DatabaseConnection, keys: Arc<MasterKeys>, policy: &OutboundPolicy, settings: Settings) -> Self {
        crate::crypto::install_tls_provider();
        let http = policy
            .client_builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("renkei-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client configuration is valid");
        Self {
            inner: Arc::new(Inner {
                db,
                keys,
                policy: policy.clone(),
                http,
                settings,
            }),
        }
    }

    /// Claims and sends until `stop` turns true; the attempts in flight are finished
    /// and recorded first.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let inner = self.inner;
        let (finished, to_record) = mpsc::unbounded_channel();
        let recorder = tokio::spawn(record_all(inner.clone(), to_record));
        let mut in_flight = JoinSet::new();
        loop {
            if *stop.borrow() {
                break;
            }
            let room = MAX_IN_FLIGHT.saturating_sub(in_flight.len() as u64);
            match inner.claim(room).await {
                Ok(work) => {
                    for work in work {
                        let inner = inner.clone();
                        let finished = finished.clone();
                        in_flight.spawn(async move {
                            let done = inner.attempt(work).await;
                            let _ = finished.send(done);
                        });
                    }
                }
                Err(err) => tracing::warn!(error = %err, "webhook deliveries could not be claimed; retrying later"),
            }
            tokio::select! {
                _ = tokio::time::sleep(inner.settings.poll_interval) => {}
                Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                    // An attempt ended: its room is free for another.
                    if let Err(err) = joined {
                        tracing::error!(error = %err, "a webhook attempt panicked; its claim expires and it is retried");
                    }
                    while in_flight.try_join_next().is_some() {}
                }
                _ = stop.changed() => break,
            }
        }
        while in_flight.join_next().await.is_some() {}
        drop(finished);
        let _ = recorder.await;
    }
}

impl Inner {
    /// Up to `room` due deliveries, fairly, with their endpoints and events.
    async fn claim(&self, room: u64) -> Result<Vec<Work>, DbErr> {
        let now = Utc::now().trunc_subsecs(6);
        let limits = ClaimLimits {
            total: room,
            per_endpoint: PER_ENDPOINT,
            per_shop: PER_SHOP,
        };
        let claimed = rows::claim_fair(&self.db, now, now + CLAIM, limits).await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let endpoints = rows::endpoints_by_id(&self.db, claimed.iter().map(|d| d.endpoint_id).collect()).await?;
        let events = store::events::by_ids(&self.db, claimed.iter().map(|d| d.event_id).collect()).await?;
        Ok(claimed
            .into_iter()
            .map(|delivery| Work {
                endpoint: endpoints.iter().find(|e| e.id == delivery.endpoint_id).cloned(),
                event: events.iter().find(|e| e.id == delivery.event_id).cloned(),
                delivery,
            })
            .collect())
    }

    /// Sends one delivery and decides what comes next.
    async fn attempt(&self, work: Work) -> Done {
        let Work {
            delivery,
            endpoint,
            event,
        } = work;
        let sent = match (&endpoint, &event) {
            (Some(endpoint), _) if !endpoint.enabled => {
                return Done {
                    delivery,
                    endpoint: None,
                    at: Utc::now().trunc_subsecs(6),
                    sent: Sent::refused("endpoint disabled"),
                    outcome: "retrying",
                    next_attempt_at: None,
                    steer: Steer::Release,
                };
            }
            (Some(endpoint), Some(event)) => self.send(endpoint, event).await,
            _ => Sent::refused("event unreadable"),
        };
        let at = Utc::now().trunc_subsecs(6);
        let backoff = retry_at(&delivery, at, self.settings.retry_base);
        let failing_for = endpoint
            .as_ref()
            .and_then(|e| e.failing_since)
            .and_then(|since| (at - since).to_std().ok());
        let Next {
            outcome,
            at: next_attempt_at,
            steer,
        } = next(&sent, &delivery, at, backoff, failing_for, self.settings.disable_after);
        tracing::info!(
            delivery = %delivery.public_id,
            attempt = delivery.attempts + 1,
            status = sent.status_code,
            error = sent.error,
            outcome,
            latency_ms = sent.latency.as_millis() as u64,
            "webhook attempt"
        );
        Done {
            delivery,
            endpoint,
            at,
            sent,
            outcome,
            next_attempt_at,
            steer,
        }
    }

    /// One POST of the event, signed with every secret that currently signs.
    async fn send(&self, endpoint: &EndpointRow, event: &EventRow) -> Sent {
        // The URL checked is the URL called: one parse, no second reading of the host.
        let Ok(url) = self.policy.check_delivery_url(&endpoint.url) else {
            tracing::warn!(endpoint = %endpoint.public_id, "webhook refused by the outbound policy");
            return Sent::refused("refused by the outbound policy");
        };
        let Some(body) = Event::from_row(event).and_then(|e| serde_json::to_vec(&e).ok()) else {
            return Sent::refused("event unreadable");
        };
        let now = Utc::now();
        let Ok(secrets) = signing_secrets(&self.keys, endpoint, now) else {
            tracing::error!(endpoint = %endpoint.public_id, "a webhook secret cannot be opened with the configured master keys");
            return Sent::refused("secret unavailable");
        };
        let timestamp = now.timestamp();
        let id = &event.public_id;
        let started = std::time::Instant::now();
        let result = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(signature::EVENT_ID_HEADER, id)
            .header(signature::HEADER, signature::header(&secrets, timestamp, &body))
            .header(signature::STANDARD_ID_HEADER, id)
            .header(signature::STANDARD_TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                signature::STANDARD_SIGNATURE_HEADER,
                signature::standard_header(&secrets, id, timestamp, &body),
            )
            .body(body)
            .send()
            .await;
        let latency = started.elapsed();
        match result {
            Ok(response) => Sent {
                status_code: Some(response.status().as_u16()),
                error: None,
                latency,
                retry_after: response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| retry_after(value, Utc::now())),
            },
            Err(err) => {
                let failure = Failure::of(&err);
                // Without the URL: its query string may hold the receiver's token.
                tracing::debug!(endpoint = %endpoint.public_id, error = %err.without_url(), "webhook call failed");
                Sent {
                    status_code: None,
                    error: Some(failure.as_str()),
                    latency,
                    retry_after: None,
                }
            }
        }
    }

    /// Records finished attempts in one transaction; if that fails, each on its own, so
    /// that one attempt's trouble never touches another's record.
    async fn record(&self, batch: &[Done]) {
        let together = async {
            let txn = store::begin_write(&self.db).await?;
            for done in batch {
                record_one(&txn, done).await?;
            }
            txn.commit().await
        };
        if together.await.is_ok() {
            return;
        }
        for done in batch {
            let alone = async {
                let txn = store::begin_write(&self.db).await?;
                record_one(&txn, done).await?;
                txn.commit().await
            };
            if let Err(err) = alone.await {
                tracing::warn!(delivery = %done.delivery.public_id, error = %err, "a webhook attempt could not be recorded; its claim expires and it is retried");
            }
        }
    }
}

impl Sent {
    fn refused(error: &'static str) -> Self {
        Self {
            status_code: None,
            error: Some(error),
            latency: Duration::ZERO,
            retry_after: None,
        }
    }
}

async fn record_all(inner: Arc<Inner>, mut finished: mpsc::UnboundedReceiver<Done>) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while finished.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        inner.record(&batch).await;
        batch.clear();
    }
}

/// One attempt's record: the attempt and its delivery, only while the delivery is still
/// this claim's (a deleted endpoint's is gone: nothing is written), then the endpoint's
/// state, and `webhook_endpoint.disabled` when this attempt disabled it.
async fn record_one(db: &impl ConnectionTrait, done: &Done) -> Result<(), DbErr> {
    if done.steer == Steer::Release {
        return rows::release(db, &done.delivery).await;
    }
    let recorded = rows::record_attempt(
        db,
        AttemptRecord {
            delivery: &done.delivery,
            at: done.at,
            latency_ms: done.sent.latency.as_millis() as i64,
            status_code: done.sent.status_code.map(i32::from),
            outcome: done.outcome,
            error: done.sent.error,
            next_attempt_at: done.next_attempt_at,
        },
    )
    .await?;
    let Some(endpoint) = done.endpoint.as_ref().filter(|_| recorded) else {
        return Ok(());
    };
    match done.steer {
        Steer::Succeeded => rows::endpoint_succeeded(db, endpoint.id).await,
        Steer::Failed => rows::endpoint_failed(db, endpoint.id, done.at).await,
        Steer::Disable(reason) => {
            if rows::disable_endpoint(db, endpoint.id, done.at).await? {
                tracing::warn!(endpoint = %endpoint.public_id, reason = reason.code(), "webhook endpoint disabled");
                let data = json!({
                    "endpoint_id": endpoint.public_id,
                    "reason": reason.code(),
                    "message": reason.message(),
                    "status_code": done.sent.status_code,
                });
                events::emit(db, &endpoint.shop_id, EventType::WebhookEndpointDisabled, &data).await?;
            }
            Ok(())
        }
        Steer::Release => Ok(()),
    }
}

/// What the receiver's answer steers: a 2xx is delivered; 410 fails the delivery
/// and disables the endpoint; 429/503 with `Retry-After` wait that long; anything else
/// waits `backoff` (`None`: retried for 3 days already, failed). An endpoint failing for
/// `disable_after` is disabled; its delivery stays pending for when it is enabled again.
fn next(
    sent: &Sent,
    delivery: &DeliveryRow,
    at: DateTime<Utc>,
    backoff: Option<DateTime<Utc>>,
    failing_for: Option<Duration>,
    disable_after: Duration,
) -> Next {
    let status = sent.status_code.unwrap_or(0);
    if (200..300).contains(&status) {
        return Next {
            outcome: rows::DELIVERED,
            at: None,
            steer: Steer::Succeeded,
        };
    }
    if status == 410 {
        return Next {
            outcome: rows::FAILED,
            at: None,
            steer: Steer::Disable(DisableReason::Gone),
        };
    }
    let next = match sent.retry_after.filter(|_| status == 429 || status == 503) {
        Some(wait) => chrono::Duration::from_std(wait)
            .ok()
            .map(|wait| at + wait)
            .filter(|next| *next <= delivery.created_at + RETRY_FOR),
        None => backoff,
    };
    let steer = if failing_for.is_some_and(|failing| failing >= disable_after) {
        Steer::Disable(DisableReason::Failing)
    } else {
        Steer::Failed
    };
    Next {
        outcome: if next.is_some() { "retrying" } else { rows::FAILED },
        at: next,
        steer,
    }
}

/// A `Retry-After` value: seconds or an HTTP date, at most an hour; `None` when it is
/// neither.
fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => {
            let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
            (at - now).to_std().unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// When to try again after attempt number `delivery.attempts + 1` failed at `at`:
/// `base · 2^(n-1)` (at most 6 hours), half of it random; `None` once that would be
/// more than 3 days after the delivery was queued.
fn retry_at(delivery: &DeliveryRow, at: DateTime<Utc>, base: Duration) -> Option<DateTime<Utc>> {
    let delay = backoff(delivery.attempts.max(0) as u32, base, jitter());
    let next = at + chrono::Duration::from_std(delay).ok()?;
    (next <= delivery.created_at + RETRY_FOR).then_some(next)
}

/// The wait after `failures_before + 1` failures; `jitter` in [0, 1) picks a point in
/// the upper half.
fn backoff(failures_before: u32, base: Duration, jitter: f64) -> Duration {
    let full = base.saturating_mul(1u32 << failures_before.min(20)).min(MAX_BACKOFF);
    full / 2 + full.mul_f64(jitter / 2.0)
}

fn jitter() -> f64 {
    let bytes = random_bytes::<4>();
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_in_the_upper_half_and_stops_at_six_hours() {
        let base = Duration::from_secs(30);
        assert_eq!(backoff(0, base, 0.0), Duration::from_secs(15));
        assert!(backoff(0, base, 0.999) < Duration::from_secs(30));
        assert_eq!(backoff(3, base, 0.0), Duration::from_secs(120));
        assert_eq!(backoff(30, base, 0.0), MAX_BACKOFF / 2);
    }

    fn answered(status: u16, retry_after: Option<u64>) -> Sent {
        Sent {
            status_code: Some(status),
            error: None,
            latency: Duration::ZERO,
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    fn queued_at(created_at: DateTime<Utc>) -> DeliveryRow {
        DeliveryRow {
            id: 1,
            public_id: "whd_1".into(),
            shop_id: "shop".into(),
            endpoint_id: 1,
            event_id: 1,
            status: rows::PENDING.into(),
            attempts: 0,
            next_attempt_at: created_at,
            claimed_until: None,
            last_status_code: None,
            created_at,
            updated_at: created_at,
        }
    }

    #[test]
    fn the_receivers_answer_steers_the_next_attempt() {
        let at = Utc::now().trunc_subsecs(6);
        let delivery = queued_at(at);
        let backoff = Some(at + chrono::Duration::seconds(30));
        let day = Duration::from_secs(86_400);
        let steer = |sent: Sent, failing_for: Option<Duration>| next(&sent, &delivery, at, backoff, failing_for, day);

        let delivered = steer(answered(204, None), None);
        assert_eq!(
            (delivered.outcome, delivered.steer),
            (rows::DELIVERED, Steer::Succeeded)
        );
        let gone = steer(answered(410, None), None);
        assert_eq!(
            (gone.outcome, gone.at, gone.steer),
            (rows::FAILED, None, Steer::Disable(DisableReason::Gone))
        );
        let busy = steer(answered(429, Some(3)), None);
        assert_eq!(busy.at, Some(at + chrono::Duration::seconds(3)));
        assert_eq!(
            steer(answered(503, Some(60)), None).at,
            Some(at + chrono::Duration::seconds(60))
        );
        // Retry-After steers 429 and 503 only; a redirect is a failure like any other.
        assert_eq!(steer(answered(500, Some(3)), None).at, backoff);
        let redirect = steer(answered(307, None), None);
        assert_eq!((redirect.outcome, redirect.at), ("retrying", backoff));
        let failing = steer(answered(500, None), Some(day));
        assert_eq!(
            (failing.outcome, failing.steer),
            ("retrying", Steer::Disable(DisableReason::Failing))
        );
        let expired = next(&answered(500, None), &delivery, at, None, None, day);
        assert_eq!((expired.outcome, expired.steer), (rows::FAILED, Steer::Failed));
    }

    #[test]
    fn retry_after_reads_seconds_or_an_http_date_capped_at_an_hour() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(" 7200 ", now), Some(MAX_RETRY_AFTER));
        assert_eq!(
            retry_after("Mon, 07 Dec 2026 00:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(retry_after("Sun, 06 Dec 2026 23:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now), None);
    }
}
