//! The delivery worker: claims due deliveries (each by one replica), POSTs the event
//! signed to its endpoint through the outbound policy, and records the attempt: a 2xx is
//! delivered; anything else is retried with exponential backoff and jitter for 3 days,
//! then failed. Claims expire, so a crash or a stop loses nothing: another pass (here or
//! on another replica) picks the delivery up again.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, SubsecRound, Utc};
use futures_util::future::join_all;
use sea_orm::DatabaseConnection;
use tokio::sync::watch;

use super::{service::owner, signature};
use crate::{
    core::Secret,
    crypto::{random_bytes, seal::MasterKeys},
    events::Event,
    outbound::{OutboundPolicy, policy::Failure},
    store::{
        self,
        events::{self, EventRow},
        webhooks::{self as rows, AttemptRecord, DeliveryRow, EndpointRow},
    },
};

/// How long an endpoint may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a delivery is retried before it is marked failed.
pub const RETRY_FOR: chrono::Duration = chrono::Duration::days(3);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// Deliveries claimed per pass (sent concurrently).
const BATCH: u64 = 32;
/// How long a claim holds: longer than a pass can take.
const CLAIM: chrono::Duration = chrono::Duration::seconds(60);

pub struct Worker {
    db: DatabaseConnection,
    keys: Arc<MasterKeys>,
    policy: OutboundPolicy,
    http: reqwest::Client,
    poll_interval: Duration,
    retry_base: Duration,
}

/// What became of one attempt.
struct Sent {
    status_code: Option<u16>,
    error: Option<&'static str>,
    latency: Duration,
}

impl Worker {
    pub fn new(
        db: DatabaseConnection,
        keys: Arc<MasterKeys>,
        policy: &OutboundPolicy,
        poll_interval: Duration,
        retry_base: Duration,
    ) -> Self {
        crate::crypto::install_tls_provider();
        let http = policy
            .client_builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("renkei-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client configuration is valid");
        Self {
            db,
            keys,
            policy: policy.clone(),
            http,
            poll_interval,
            retry_base,
        }
    }

    /// Runs passes until `stop` turns true; a pass under way is finished first.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let full = match self.pass().await {
                Ok(sent) => sent as u64 == BATCH,
                Err(err) => {
                    tracing::warn!(error = %err, "webhook delivery pass failed; retrying later");
                    false
                }
            };
            if full {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.poll_interval) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Claims the due deliveries and sends them. Returns how many were claimed.
    pub async fn pass(&self) -> Result<usize, sea_orm::DbErr> {
        let now = Utc::now();
        let claimed = rows::claim_due(&self.db, now, now + CLAIM, BATCH).await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let endpoints = rows::endpoints_by_id(&self.db, claimed.iter().map(|d| d.endpoint_id).collect()).await?;
        let events = events::by_ids(&self.db, claimed.iter().map(|d| d.event_id).collect()).await?;
        let sends = claimed.iter().map(|delivery| {
            let endpoint = endpoints.iter().find(|e| e.id == delivery.endpoint_id);
            let event = events.iter().find(|e| e.id == delivery.event_id);
            self.deliver(delivery, endpoint, event)
        });
        let attempts = join_all(sends).await;
        // One commit for the whole pass: the worker's writes do not queue one by one
        // beside the requests' (SQLite has one writer; PostgreSQL waits for each commit).
        let recorded = async {
            let txn = store::begin_write(&self.db).await?;
            for attempt in attempts {
                rows::record_attempt(&txn, attempt).await?;
            }
            txn.commit().await
        };
        if let Err(err) = recorded.await {
            tracing::warn!(error = %err, "webhook attempts could not be recorded; their claims expire and they are retried");
        }
        Ok(claimed.len())
    }

    async fn deliver<'a>(
        &self,
        delivery: &'a DeliveryRow,
        endpoint: Option<&EndpointRow>,
        event: Option<&EventRow>,
    ) -> AttemptRecord<'a> {
        let sent = match (endpoint, event) {
            (Some(endpoint), Some(event)) if endpoint.enabled => self.send(endpoint, event).await,
            (Some(_), Some(_)) => Sent {
                status_code: None,
                error: Some("endpoint disabled"),
                latency: Duration::ZERO,
            },
            _ => Sent {
                status_code: None,
                error: Some("event unreadable"),
                latency: Duration::ZERO,
            },
        };
        let at = Utc::now().trunc_subsecs(6);
        let delivered = sent.status_code.is_some_and(|s| (200..300).contains(&s));
        let next = (!delivered && sent.error != Some("endpoint disabled"))
            .then(|| retry_at(delivery, at, self.retry_base))
            .flatten();
        let outcome = match (delivered, next) {
            (true, _) => rows::DELIVERED,
            (false, Some(_)) => "retrying",
            (false, None) => rows::FAILED,
        };
        tracing::info!(
            delivery = %delivery.public_id,
            attempt = delivery.attempts + 1,
            status = sent.status_code,
            error = sent.error,
            outcome,
            latency_ms = sent.latency.as_millis() as u64,
            "webhook attempt"
        );
        AttemptRecord {
            delivery,
            at,
            latency_ms: sent.latency.as_millis() as i64,
            status_code: sent.status_code.map(i32::from),
            outcome,
            error: sent.error,
            next_attempt_at: next,
        }
    }

    /// One POST of the event, signed with every secret that currently signs.
    async fn send(&self, endpoint: &EndpointRow, event: &EventRow) -> Sent {
        let refused = |error| Sent {
            status_code: None,
            error: Some(error),
            latency: Duration::ZERO,
        };
        if self.policy.check_delivery_url(&endpoint.url).is_err() {
            tracing::warn!(endpoint = %endpoint.public_id, "webhook refused by the outbound policy");
            return refused("refused by the outbound policy");
        }
        let Some(body) = Event::from_row(event).and_then(|e| serde_json::to_vec(&e).ok()) else {
            return refused("event unreadable");
        };
        let Ok(secrets) = self.secrets(endpoint) else {
            tracing::error!(endpoint = %endpoint.public_id, "a webhook secret cannot be opened with the configured master keys");
            return refused("secret unavailable");
        };
        let timestamp = Utc::now().timestamp();
        let started = std::time::Instant::now();
        let result = self
            .http
            .post(&endpoint.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(signature::EVENT_ID_HEADER, &event.public_id)
            .header(signature::HEADER, signature::header(&secrets, timestamp, &body))
            .body(body)
            .send()
            .await;
        let latency = started.elapsed();
        match result {
            Ok(response) => Sent {
                status_code: Some(response.status().as_u16()),
                error: None,
                latency,
            },
            Err(err) => {
                tracing::debug!(endpoint = %endpoint.public_id, error = %err, "webhook call failed");
                Sent {
                    status_code: None,
                    error: Some(Failure::of(&err).as_str()),
                    latency,
                }
            }
        }
    }

    /// The current secret, and the previous one while its overlap lasts.
    fn secrets(&self, endpoint: &EndpointRow) -> Result<Vec<Secret<String>>, crate::crypto::seal::SealError> {
        let owner = owner(&endpoint.shop_id, &endpoint.public_id);
        let mut secrets = vec![self.keys.open(owner, &endpoint.secret)?];
        if let (Some(previous), Some(until)) = (&endpoint.previous_secret, endpoint.previous_secret_until)
            && until > Utc::now()
        {
            secrets.push(self.keys.open(owner, previous)?);
        }
        Ok(secrets)
    }
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
}
