//! The O-PLUX HTTP client: one shared connection pool, the account's timeout, a circuit
//! breaker per endpoint, and logs without personal data or secrets.

use std::time::{Duration, Instant};

use super::{
    breaker::{Breaker, Permit},
    protocol::{self, Answer, Credentials},
};
use crate::{accounts::providers::fraud::OpluxEndpoint, screening::request::ScreenedOrder};
use chrono::Utc;

pub struct OpluxClient {
    http: reqwest::Client,
    pub breaker: Breaker,
    test_url: String,
    production_url: Option<String>,
}

/// A call's outcome and how long it took.
pub struct Call {
    pub outcome: Result<Answer, String>,
    pub latency: Duration,
    /// Whether the request left renkei (false when the breaker refused it).
    pub sent: bool,
}

impl OpluxClient {
    /// `breaker`: consecutive failures that open a circuit, and how long it stays open.
    pub fn new(test_url: String, production_url: Option<String>, breaker: (u32, Duration)) -> Self {
        crate::crypto::install_tls_provider();
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("renkei/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client configuration is valid");
        Self {
            http,
            breaker: Breaker::new(breaker.0, breaker.1),
            test_url,
            production_url,
        }
    }

    /// The base URL of an account's `endpoint` setting.
    pub fn base_url(&self, endpoint: &OpluxEndpoint) -> Result<String, String> {
        match endpoint {
            OpluxEndpoint::Test => Ok(self.test_url.clone()),
            OpluxEndpoint::Production => self
                .production_url
                .clone()
                .ok_or_else(|| "the O-PLUX production URL is not configured (RENKEI_OPLUX_PRODUCTION_URL)".into()),
            OpluxEndpoint::Url(url) => Ok(url.trim_end_matches('/').to_string()),
        }
    }

    /// Registers an order event. Never retried once it may have reached O-PLUX; a refused
    /// connection (nothing sent) is tried once more within the time left.
    pub async fn register(
        &self,
        endpoint: &OpluxEndpoint,
        timeout: Duration,
        credentials: &Credentials<'_>,
        order: &ScreenedOrder<'_>,
    ) -> Call {
        let started = Instant::now();
        let base = match self.base_url(endpoint) {
            Ok(base) => base,
            Err(message) => {
                return Call {
                    outcome: Err(message),
                    latency: started.elapsed(),
                    sent: false,
                };
            }
        };
        if self.breaker.permit(&base) == Permit::Refuse {
            tracing::debug!(endpoint = %base, "O-PLUX circuit open: not calling");
            return Call {
                outcome: Err("O-PLUX has failed repeatedly; not called during the cool-down".into()),
                latency: started.elapsed(),
                sent: false,
            };
        }
        let body = protocol::event_request(credentials, order, Utc::now());
        let url = format!("{base}{}", protocol::EVENT_PATH);
        let deadline = started + timeout;
        tracing::debug!(
            order_number = %order.request.order_number,
            amount = order.request.amount,
            method = %body["telegram"]["event"]["ec"]["settle"]["method"],
            endpoint = %base,
            "O-PLUX request (personal data and signature not logged)"
        );
        let mut attempt = 0;
        let outcome = loop {
            attempt += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Err(format!("no answer within {} ms", timeout.as_millis()));
            }
            let sent = self
                .http
                .post(&url)
                .header("content-type", "application/json; charset=UTF-8")
                .timeout(left)
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(remaining, response.bytes()).await {
                        Ok(Ok(bytes)) => break protocol::parse_answer(status, &bytes),
                        Ok(Err(err)) => break Err(format!("reading the answer failed: {}", describe(&err))),
                        Err(_) => break Err(format!("no answer within {} ms", timeout.as_millis())),
                    }
                }
                // Nothing reached O-PLUX: safe to try once more.
                Err(err) if err.is_connect() && attempt == 1 => continue,
                Err(err) if err.is_timeout() => break Err(format!("no answer within {} ms", timeout.as_millis())),
                Err(err) => break Err(format!("the request failed: {}", describe(&err))),
            }
        };
        let answered = matches!(&outcome, Ok(Answer::Screened { .. }) | Ok(Answer::Rejected { .. }));
        self.breaker.record(&base, answered);
        let latency = started.elapsed();
        match &outcome {
            Ok(Answer::Screened { verdict, event_id, .. }) => tracing::debug!(
                order_number = %order.request.order_number, result = verdict.as_str(), event_id = %event_id,
                latency_ms = latency.as_millis() as u64, "O-PLUX answer"
            ),
            Ok(Answer::Rejected { status, errors }) => tracing::warn!(
                order_number = %order.request.order_number, status,
                codes = %errors.iter().map(|e| e.code.as_str()).collect::<Vec<_>>().join(","),
                "O-PLUX refused the event"
            ),
            Err(reason) => tracing::warn!(
                order_number = %order.request.order_number, reason = %reason, "O-PLUX gave no answer"
            ),
        }
        Call {
            outcome,
            latency,
            sent: true,
        }
    }
}

/// An error's kind without its URL (which is fine) or anything from the body.
fn describe(err: &reqwest::Error) -> String {
    if err.is_connect() {
        "cannot connect".into()
    } else if err.is_timeout() {
        "timed out".into()
    } else if err.is_body() || err.is_decode() {
        "malformed answer".into()
    } else {
        "transport error".into()
    }
}
